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

        // A group other than root's may write it (Debian's /var/local is root:staff 2775).
        let group = try tmp.makeDir("group", mode: 0o775)
        #expect(chown(group, 0, account.gid) == 0)
        let g = try Self.explain(try tmp.write("g.toml", "extends = \"base\"\n[audit]\nlog = \(tomlString(group + "/a.jsonl"))\n"))
        #expect(g.status == 125 && g.stderr.contains("group \(account.gid) may write"), "\(g.stderr.suffix(1500))")

        // The account's symlink in a sticky directory every account may write (a chain of two).
        let sticky = try tmp.makeDir("sticky", mode: 0o1777)
        let hop = try tmp.makeDir("hop")
        #expect(symlink(rootOnly, hop + "/next") == 0)
        #expect(symlink(hop + "/next", sticky + "/logs") == 0)
        lchown(sticky + "/logs", account.uid, account.gid)
        let st = try Self.explain(try tmp.write("s.toml", "extends = \"base\"\n[audit]\nlog = \(tomlString(sticky + "/logs/a.jsonl"))\n"))
        #expect(st.status == 125 && st.stderr.contains("holds the symlink \(sticky)/logs of account \(account.uid)"), "\(st.stderr.suffix(1500))")
        // The same chain, both links root's: followed, judged at every step, accepted.
        lchown(sticky + "/logs", 0, 0)
        let chain = try Self.explain(try tmp.write("c.toml", "extends = \"base\"\n[audit]\nlog = \(tomlString(sticky + "/logs/a.jsonl"))\n"))
        #expect(chain.status == 0, "\(chain.stderr.suffix(1500))")

        // A log file, or its lock file, the account owns or others may write.
        let own = try tmp.makeDir("own", mode: 0o700)
        let theirs = try tmp.write("own/a.jsonl", "", mode: 0o600)
        #expect(chown(theirs, account.uid, account.gid) == 0)
        let t = try Self.explain(try tmp.write("t.toml", "extends = \"base\"\n[audit]\nlog = \(tomlString(theirs))\n"))
        #expect(t.status == 125 && t.stderr.contains("belongs to account \(account.uid)"), "\(t.stderr.suffix(1500))")
        let open = try tmp.write("own/b.jsonl", "", mode: 0o666)
        chmod(open, 0o666)
        let o = try Self.explain(try tmp.write("o.toml", "extends = \"base\"\n[audit]\nlog = \(tomlString(open))\n"))
        #expect(o.status == 125 && o.stderr.contains("other accounts may write it"), "\(o.stderr.suffix(1500))")
        let lock = try tmp.write("own/c.jsonl.lock", "", mode: 0o600)
        #expect(chown(lock, account.uid, account.gid) == 0)
        let l = try Self.explain(try tmp.write("l.toml", "extends = \"base\"\n[audit]\nlog = \(tomlString(own + "/c.jsonl"))\n"))
        #expect(l.status == 125 && l.stderr.contains("its lock file \(lock) belongs to account \(account.uid)"), "\(l.stderr.suffix(1500))")

        // Another account that may read the log's directory holds a lock on it: the writers
        // take turns on FILE.lock (0600), not on the directory (a review found the stall).
        let pub = try tmp.makeDir("pub", mode: 0o755)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        holder.arguments = ["--reuid", String(account.uid), "--regid", String(account.gid), "--clear-groups", "--",
                            "/usr/bin/flock", "-x", pub, "/bin/sleep", "8"]
        try holder.run()
        defer { holder.terminate(); holder.waitUntilExit() }
        usleep(300_000)
        let held = try tmp.write("h.toml", "extends = \"base\"\n[audit]\nlog = \(tomlString(pub + "/a.jsonl"))\n")
        let run = try runProcess([try TestSupport.mcpboxBinary(), "run", held, "--profile-path", TestSupport.profilesDir, "--", "/bin/true"],
                                 environment: ["PATH": "/usr/bin:/bin", "HOME": "/root"], currentDirectory: "/", timeout: 20)
        #expect(run.status == 0 && !run.timedOut && run.seconds < 4, "run \(run.status) after \(run.seconds) s: \(run.stderr.suffix(1500))")

        let mine = try tmp.makeDir("mine", mode: 0o700)
        let ok = try Self.explain(try tmp.write("ok.toml", "extends = \"base\"\n[audit]\nlog = \(tomlString(mine + "/a.jsonl"))\n"))
        #expect(ok.status == 0, "\(ok.stderr.suffix(1500))")
    }
}
