import Foundation
import MCPBoxTestSupport
import Testing

/// `[filesystem] hide` masks the hidden host object wherever a bind shows it. A hide whose path
/// was not bound as written was dropped as "invisible anyway", while a bind reached through a
/// symlink (its source is the real path), or a host bind mount of a directory on the way, showed
/// the object under another name; and a hide written through a symlink missed the real path.
/// Found by a red-team pass; each case fails on the build before the fix.
@Suite("hide masks the hidden object under every name a bind shows it", .serialized,
       .enabled(if: TestSupport.isRoot, "makes a host bind mount: run as root (CI does)"))
struct HideAliasTests {
    enum Case: String, CaseIterable, CustomTestStringConvertible {
        case boundThroughSymlink = "the bind's path is a symlink to the directory"
        case hiddenThroughSymlink = "the hide's path goes through a symlink"
        case hostBindMount = "the bind is a host bind mount of the directory"
        var testDescription: String { rawValue }
    }

    @Test("the secret cannot be read in the sandbox", arguments: Case.allCases)
    func secretHidden(_ c: Case) throws {
        let tmp = try TempDir(prefix: "mcpbox-hidealias")
        chmod(tmp.path, 0o755)
        let data = try tmp.makeDir("data", mode: 0o755)
        _ = try tmp.write("data/secret", "canary-secret\n")
        _ = try tmp.write("data/public", "public\n")
        #expect(symlink(data, tmp.sub("link")) == 0)
        var mounted = false
        defer {
            if mounted { _ = try? runProcess(["/bin/umount", tmp.sub("bm")]) }
            tmp.remove()
        }
        let bound: String, hidden: String
        switch c {
        case .boundThroughSymlink: (bound, hidden) = (tmp.sub("link"), data + "/secret")
        case .hiddenThroughSymlink: (bound, hidden) = (data, tmp.sub("link") + "/secret")
        case .hostBindMount:
            _ = try tmp.makeDir("bm", mode: 0o755)
            let m = try runProcess(["/bin/mount", "--bind", data, tmp.sub("bm")])
            try #require(m.status == 0, "mount --bind: \(m.stderr)")
            mounted = true
            (bound, hidden) = (tmp.sub("bm"), data + "/secret")
        }
        let profile = try tmp.write("p.toml", "[filesystem]\nread_only = [\(tomlString(bound))]\nhide = [\(tomlString(hidden))]\n")
        let shown = c == .boundThroughSymlink ? tmp.sub("link") : bound
        let run = try runProcess([try TestSupport.mcpboxBinary(), "run", profile, "--profile-path", TestSupport.profilesDir, "--",
                                  "/bin/sh", "-c", "cat \(shown)/public; cat \(shown)/secret"],
                                 environment: ["PATH": "/usr/bin:/bin", "HOME": tmp.path], currentDirectory: "/", timeout: 60)
        #expect(run.stdoutText.contains("public"), "the bind itself did not work: \(run.stdoutText) \(run.stderr.suffix(1500))")
        #expect(!run.stdoutText.contains("canary-secret"), "the hidden file was readable: \(run.stderr.suffix(1500))")
        let explain = try runProcess([try TestSupport.mcpboxBinary(), "explain", profile, "--profile-path", TestSupport.profilesDir],
                                     environment: ["PATH": "/usr/bin:/bin", "HOME": tmp.path], currentDirectory: "/", timeout: 60)
        #expect(!explain.stdoutText.contains("invisible anyway") && !explain.stderr.contains("invisible anyway"), "\(explain.stdoutText)")
    }
}
