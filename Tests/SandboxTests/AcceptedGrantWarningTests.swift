import Foundation
import MCPBoxTestSupport
import Testing

/// A profile file outside mcpbox's own directories can lie inside another server's read-write
/// grant, and that server can add a dangerous grant and its `accept` to it; the next `run` of the
/// profile was silent about it (only `explain` listed acceptances). Found by a red-team pass:
/// every accepted grant is now on stderr at every launch. Fails on the build before the change.
@Suite("run says every accepted grant", .enabled(if: TestSupport.isRoot, "binds a file under a home it makes: run as root (CI does)"))
struct AcceptedGrantWarningTests {
    @Test("an accepted read-write grant of a shell start-up file is named on stderr at launch")
    func acceptedGrantOnStderr() throws {
        let tmp = try TempDir(prefix: "mcpbox-accepted")
        defer { tmp.remove() }
        chmod(tmp.path, 0o755)
        let home = try tmp.makeDir("home")
        let rc = try tmp.write("home/.bashrc", "# rc\n")
        let profile = try tmp.write("p.toml", "[filesystem]\nread_write = [\(tomlString(rc))]\naccept = [\(tomlString(rc))]\n")
        let run = try runProcess([try TestSupport.mcpboxBinary(), "run", profile, "--profile-path", TestSupport.profilesDir, "--", "/bin/true"],
                                 environment: ["PATH": "/usr/bin:/bin", "HOME": home], currentDirectory: "/", timeout: 60)
        #expect(run.status == 0, "exit \(run.status): \(run.stderr.suffix(2000))")
        #expect(run.stderr.contains("mcpbox: warning: accepted: \(rc)") && run.stderr.contains("shell start-up file"),
                "stderr: \(run.stderr.suffix(2000))")
    }
}
