import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Files the host trusts later, reached by names the path checks did not compare (a red-team
/// pass planted code through each; each case passed `explain` on the build before its fix).
@Suite("later escapes: places mcpbox or the host trusts, by every name",
       .enabled(if: TestSupport.isRoot, "runs sandboxes: run as root (CI does)"))
struct LaterEscapeTests {
    let tmp: TempDir
    let mcpbox: String

    init() throws {
        tmp = try TempDir(prefix: "mcpbox-later")
        chmod(tmp.path, 0o755)
        mcpbox = try TestSupport.mcpboxBinary()
    }

    @Test("an installed mcpbox with no shipped profiles directory yet: a read-write bind holding where it would be is refused (the server would plant base.toml)")
    func shippedProfilesPlaceThatDoesNotExistYet() throws {
        defer { tmp.remove() }
        _ = try tmp.makeDir("inst/bin")
        _ = try tmp.makeDir("inst/share")
        _ = try tmp.makeDir("profiles")
        let exe = tmp.path + "/inst/bin/mcpbox"
        try #require(copyfile(mcpbox, exe), "copy the binary")
        let p = try tmp.write("profiles/w.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\nread_write = [\"\(tmp.path)/inst/share\"]\n")
        let env = ["PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"]
        let r = try runProcess([exe, "explain", p, "--", "/bin/true"], environment: env)
        #expect(r.status == 125 && r.stderr.contains("contains \(tmp.path)/inst/share/mcpbox/profiles, a directory mcpbox searches for shipped profiles"),
                "exit \(r.status): \(r.stderr.suffix(500))")
        // And one above the executable, where the walk up from it would look.
        let q = try tmp.write("profiles/v.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\nread_write = [\"\(tmp.path)/inst\"]\n")
        let s = try runProcess([exe, "explain", q, "--", "/bin/true"], environment: env)
        #expect(s.status == 125 && s.stderr.contains("contains \(tmp.path)/inst/profiles, a directory mcpbox searches for shipped profiles"),
                "exit \(s.status): \(s.stderr.suffix(500))")
    }

    func copyfile(_ from: String, _ to: String) -> Bool {
        (try? FileManager.default.copyItem(atPath: from, toPath: to)) != nil && chmod(to, 0o755) == 0
    }
}
