import Foundation
import MCPBoxTestSupport
import Testing

/// The dry run never lies: two exec failures `explain` did not predict while `run` hit them (exit
/// 126): a program on a host file system mounted noexec (a bind keeps the flag), and an executable
/// text file without a `#!` line (exec format error). Found by a red-team pass; both fail on the
/// build before the fix.
@Suite("explain predicts the exec failures run meets", .serialized,
       .enabled(if: TestSupport.isRoot, "mounts a noexec tmpfs: run as root (CI does)"))
struct ExecPredictionTests {
    @Test("a program on a noexec file system, and a text file without #!, are FAILS in explain and 126 in run")
    func predicted() throws {
        let tmp = try TempDir(prefix: "mcpbox-execpredict")
        chmod(tmp.path, 0o755)
        let ne = try tmp.makeDir("ne", mode: 0o755)
        let m = try runProcess(["/bin/mount", "-t", "tmpfs", "-o", "noexec,mode=755", "tmpfs", ne])
        try #require(m.status == 0, "mount: \(m.stderr)")
        defer {
            _ = try? runProcess(["/bin/umount", ne])
            tmp.remove()
        }
        try FileManager.default.copyItem(atPath: "/bin/true", toPath: ne + "/true")
        _ = try tmp.makeDir("ex", mode: 0o755)
        let script = try tmp.write("ex/plain.sh", "echo x\n")
        chmod(script, 0o755)
        let profile = try tmp.write("p.toml", "[filesystem]\nread_only = [\(tomlString(ne)), \(tomlString(tmp.sub("ex")))]\n")
        let env = ["PATH": "/usr/bin:/bin", "HOME": tmp.path]
        for (program, reason) in [(ne + "/true", "noexec"), (script, "exec format error")] {
            let explain = try runProcess([try TestSupport.mcpboxBinary(), "explain", profile, "--profile-path", TestSupport.profilesDir, "--", program],
                                         environment: env, currentDirectory: "/", timeout: 60)
            #expect(explain.stdoutText.contains("FAILS") && explain.stdoutText.contains(reason), "explain \(program): \(explain.stdoutText.suffix(1500))")
            let run = try runProcess([try TestSupport.mcpboxBinary(), "run", profile, "--profile-path", TestSupport.profilesDir, "--", program],
                                     environment: env, currentDirectory: "/", timeout: 60)
            #expect(run.status == 126 && run.stderr.contains(reason), "run \(program): exit \(run.status) \(run.stderr.suffix(1500))")
        }
    }
}
