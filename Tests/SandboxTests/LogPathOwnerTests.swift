import Foundation
import MCPBoxTestSupport
import Testing

/// `O_NOFOLLOW` guards only a log's last name: root's mcpbox followed a directory symlink that
/// another account had put on the way (in a directory it owned) and created, rotated or removed
/// log files wherever it pointed. Found by a red-team pass. A log under a directory another
/// account (not root) owns, or that every account may write without the sticky bit, is now
/// refused by explain and run alike. Fails on the build before the change (explain exits 0).
@Suite("a log path nobody else can redirect", .enabled(if: TestSupport.isRoot, "chowns to a test account: run as root (CI does)"))
struct LogPathOwnerTests {
    static func explain(_ profile: String) throws -> ProcessResult {
        try runProcess([try TestSupport.mcpboxBinary(), "explain", profile, "--profile-path", TestSupport.profilesDir, "--", "/bin/true"],
                       environment: ["PATH": "/usr/bin:/bin", "HOME": "/root"], currentDirectory: "/", timeout: 60)
    }

    @Test("an audit log under another account's directory, through its symlink or not, is refused; under root's own it is not")
    func foreignDirectoryRefused() throws {
        let account = try TestAccount.create(prefix: "mcpbox-logown")
        defer { account.delete() }
        let tmp = try TempDir(prefix: "mcpbox-logown")
        defer { tmp.remove() }
        let shared = try tmp.makeDir("shared")
        #expect(chown(shared, account.uid, account.gid) == 0)
        let rootOnly = try tmp.makeDir("rootonly", mode: 0o700)
        #expect(symlink(rootOnly, shared + "/sub") == 0)
        lchown(shared + "/sub", account.uid, account.gid)

        for log in [shared + "/sub/a.jsonl", shared + "/a.jsonl"] {
            let profile = try tmp.write("p.toml", "extends = \"base\"\n[audit]\nlog = \(tomlString(log))\n")
            let r = try Self.explain(profile)
            #expect(r.status == 125, "\(log): explain \(r.status) \(r.stderr.suffix(1500))")
            #expect(r.stderr.contains("lies under \(shared), which account \(account.uid) owns"), "\(r.stderr.suffix(1500))")
        }
        #expect(!FileManager.default.fileExists(atPath: rootOnly + "/a.jsonl"))

        let world = try tmp.makeDir("world", mode: 0o777)
        let w = try Self.explain(try tmp.write("w.toml", "extends = \"base\"\n[audit]\nlog = \(tomlString(world + "/a.jsonl"))\n"))
        #expect(w.status == 125 && w.stderr.contains("every account may write (mode 777, no sticky bit)"), "\(w.stderr.suffix(1500))")

        let mine = try tmp.makeDir("mine", mode: 0o700)
        let ok = try Self.explain(try tmp.write("ok.toml", "extends = \"base\"\n[audit]\nlog = \(tomlString(mine + "/a.jsonl"))\n"))
        #expect(ok.status == 0, "\(ok.stderr.suffix(1500))")
    }
}
