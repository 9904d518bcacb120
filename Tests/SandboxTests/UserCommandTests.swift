import Foundation
import MCPBoxTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `mcpbox user add|list|remove` through the built binary, on the host's real account databases,
/// which every test leaves byte for byte as it found them.
@Suite(.serialized, .enabled(if: geteuid() == 0, "needs root to create accounts"))
struct UserCommandTests {
    static let databases = ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/subuid", "/etc/subgid"]

    static func snapshot() -> [String: Data] {
        var out: [String: Data] = [:]
        for f in databases { out[f] = FileManager.default.contents(atPath: f) }
        return out
    }

    static func mcpbox(_ args: [String]) throws -> ProcessResult {
        try runProcess([try TestSupport.mcpboxBinary()] + args, environment: ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin"], timeout: 60)
    }

    static func text(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }

    @Test func addForALoginThenRemoveRestoresEverything() throws {
        let login = try TestAccount.create(prefix: "mcplogin")
        defer { login.delete() }
        let before = Self.snapshot()
        let name = "mcpsrv-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        let added = try Self.mcpbox(["user", "add", name, "--for", login.name])
        defer { if getpwnam(name) != nil { _ = try? Self.mcpbox(["user", "remove", name]) } }
        #expect(added.status == 0, "\(added.stderr)")
        let pw = try #require(getpwnam(name))
        let (uid, gid) = (pw.pointee.pw_uid, pw.pointee.pw_gid)
        #expect(String(cString: pw.pointee.pw_shell) == "/usr/sbin/nologin")
        #expect(String(cString: pw.pointee.pw_dir) == "/nonexistent")
        #expect(String(cString: pw.pointee.pw_gecos) == "mcpbox server account for \(login.name)")
        #expect(!FileManager.default.fileExists(atPath: "/home/\(name)"))
        #expect(uid < 1000 && uid != 0)
        #expect(getgrgid(gid).map { String(cString: $0.pointee.gr_name) } == name)
        // Locked: no password can ever match.
        let shadow = Self.text("/etc/shadow").split(separator: "\n").first { $0.hasPrefix(name + ":") }
        #expect(shadow?.split(separator: ":", omittingEmptySubsequences: false)[1].hasPrefix("!") == true, "\(String(describing: shadow))")
        // The subordinate files gained exactly one line each, appended; nothing else changed.
        let oldSubuid = String(decoding: before["/etc/subuid"] ?? Data(), as: UTF8.self)
        let oldSubgid = String(decoding: before["/etc/subgid"] ?? Data(), as: UTF8.self)
        #expect(Self.text("/etc/subuid") == oldSubuid + (oldSubuid.isEmpty || oldSubuid.hasSuffix("\n") ? "" : "\n") + "\(login.name):\(uid):1\n")
        #expect(Self.text("/etc/subgid") == oldSubgid + (oldSubgid.isEmpty || oldSubgid.hasSuffix("\n") ? "" : "\n") + "\(login.name):\(gid):1\n")

        let list = try Self.mcpbox(["user", "list"])
        #expect(list.status == 0)
        #expect(list.stdoutText.split(separator: "\n").contains { $0.hasPrefix(name + " ") && $0.hasSuffix(login.name) && $0.contains(" \(uid) ") },
                "\(list.stdoutText)")

        // The login can now run a server as the account (newuidmap/newgidmap with those lines).
        let dir = try TempDir(prefix: "mcpbox-user")
        defer { dir.remove() }
        let profile = try dir.write("p.toml", "extends = \"base\"\n[user]\nname = \"\(name)\"\n")
        let run = try runProcess(["/usr/bin/setpriv", "--reuid=\(login.uid)", "--regid=\(login.gid)", "--clear-groups", "--",
                                  try TestSupport.mcpboxBinary(), "run", profile, "--", "/bin/sh", "-c", "cat /proc/self/uid_map; id -u"],
                                 environment: ["PATH": "/usr/bin:/bin", "HOME": "/nonexistent"], currentDirectory: "/", timeout: 60)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdoutText.split(separator: "\n").last.map(String.init) == "\(uid)", "\(run.stdoutText)")
        #expect(run.stdoutText.contains(" \(uid) "), "the account's host uid is mapped: \(run.stdoutText)")

        let removed = try Self.mcpbox(["user", "remove", name])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(getpwnam(name) == nil && getgrnam(name) == nil)
        let after = Self.snapshot()
        for f in Self.databases { #expect(after[f] == before[f], "\(f) differs after user remove") }
    }

    @Test func addWithoutLoginAndRefusals() throws {
        let before = Self.snapshot()
        let name = "mcpsrv-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        let added = try Self.mcpbox(["user", "add", name])
        defer { if getpwnam(name) != nil { _ = try? Self.mcpbox(["user", "remove", name]) } }
        #expect(added.status == 0, "\(added.stderr)")
        #expect(Self.text("/etc/subuid") == String(decoding: before["/etc/subuid"] ?? Data(), as: UTF8.self))
        let again = try Self.mcpbox(["user", "add", name])
        #expect(again.status == 125)
        #expect(again.stderr.contains("already exists"), "\(again.stderr)")
        for bad in ["Root", "1abc", "a:b", "../x", String(repeating: "a", count: 40)] {
            let r = try Self.mcpbox(["user", "add", bad])
            #expect(r.status == 125 && r.stderr.contains("invalid account name"), "\(bad): \(r.stderr)")
        }
        let noLogin = try Self.mcpbox(["user", "add", name + "x", "--for", "no-such-login-xyz"])
        #expect(noLogin.status == 125 && noLogin.stderr.contains("no account `no-such-login-xyz`"), "\(noLogin.stderr)")
        #expect(getpwnam(name + "x") == nil)
        // An account mcpbox did not make is never removed.
        let other = try TestAccount.create(prefix: "mcpother")
        defer { other.delete() }
        let refused = try Self.mcpbox(["user", "remove", other.name])
        #expect(refused.status == 125 && refused.stderr.contains("is not an account mcpbox made"), "\(refused.stderr)")
        #expect(getpwnam(other.name) != nil)
        // Only root adds accounts.
        let asUser = try runProcess(["/usr/bin/setpriv", "--reuid=\(other.uid)", "--regid=\(other.gid)", "--clear-groups", "--",
                                     try TestSupport.mcpboxBinary(), "user", "add", name + "y"],
                                    environment: ["PATH": "/usr/bin:/bin"], currentDirectory: "/", timeout: 60)
        #expect(asUser.status == 125 && asUser.stderr.contains("needs root"), "\(asUser.stderr)")

        let removed = try Self.mcpbox(["user", "remove", name])
        #expect(removed.status == 0, "\(removed.stderr)")
        other.delete()
        let after = Self.snapshot()
        for f in Self.databases { #expect(after[f] == before[f], "\(f) differs") }
    }

    static func aclSnapshot(_ dir: String) throws -> String {
        let r = try runProcess(["/usr/bin/getfacl", "-R", "-p", dir])
        let modes = try runProcess(["/usr/bin/find", dir, "-printf", "%m %u %g %p\n"])
        return r.stdoutText + modes.stdoutText
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/setfacl"), "needs the acl package"))
    func grantThenRevokeRestoresEveryACL() throws {
        let before = Self.snapshot()
        let name = "mcpgr-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        let added = try Self.mcpbox(["user", "add", name])
        #expect(added.status == 0, "\(added.stderr)")
        defer { _ = try? Self.mcpbox(["user", "remove", name]) }
        let dir = try TempDir(prefix: "mcpbox-grant")
        defer { dir.remove() }
        let repo = try dir.makeDir("repo")
        try dir.makeDir("repo/sub")
        let mine = try dir.write("repo/a.txt", "a\n")
        try dir.write("repo/sub/b.txt", "b\n", mode: 0o600)
        // An ACL that was there before grant stays exactly as it was after revoke.
        #expect(try runProcess(["/usr/bin/setfacl", "-m", "u:daemon:r", mine]).status == 0)
        try dir.makeDir("closed", mode: 0o700)
        try dir.makeDir("closed/data")
        try dir.write("closed/data/readme", "for reading\n")
        let profile = try dir.write("p.toml", """
            extends = "base"
            [user]
            name = "\(name)"
            [filesystem]
            read_write = ["\(repo)"]
            read_only = ["\(dir.path)/closed/data"]

            """)
        let untouched = try Self.aclSnapshot(dir.path)

        let refused = try Self.mcpbox(["explain", profile])
        #expect(refused.status == 125 && refused.stderr.contains("cannot traverse on the host"), "\(refused.stderr)")

        let grant = try Self.mcpbox(["grant", profile])
        #expect(grant.status == 0, "\(grant.stderr)")
        #expect(grant.stdoutText.contains("granted \(name) --x on \(dir.path)/closed\n"), "\(grant.stdoutText)")
        #expect(grant.stdoutText.contains("granted \(name) rwX on \(repo) (the whole tree"), "\(grant.stdoutText)")
        #expect(!grant.stdoutText.contains("/usr"))
        let again = try Self.mcpbox(["grant", profile])
        #expect(again.status == 125 && again.stderr.contains("already granted"), "\(again.stderr)")

        let explain = try Self.mcpbox(["explain", profile])
        #expect(explain.status == 0, "\(explain.stderr)")
        #expect(!explain.stdoutText.contains("by the server's account"), "\(explain.stdoutText)")
        let run = try Self.mcpbox(["run", profile, "--", "/bin/sh", "-c",
                                   "cat \(dir.path)/closed/data/readme && cat \(repo)/sub/b.txt && echo new > \(repo)/sub/new.txt && id -u"])
        #expect(run.status == 0, "\(run.stderr)")
        let uid = try #require(getpwnam(name)).pointee.pw_uid
        #expect(run.stdoutText == "for reading\nb\n\(uid)\n", "\(run.stdoutText)")

        let revoke = try Self.mcpbox(["revoke", profile])
        #expect(revoke.status == 0, "\(revoke.stderr)")
        // The file the server made inherited the default ACL; revoke took it off as well.
        let created = try runProcess(["/usr/bin/getfacl", "-s", "-p", repo + "/sub/new.txt"])
        #expect(created.stdoutText.isEmpty, "\(created.stdoutText)")
        unlink(repo + "/sub/new.txt")
        #expect(try Self.aclSnapshot(dir.path) == untouched)
        let twice = try Self.mcpbox(["revoke", profile])
        #expect(twice.status == 125 && twice.stderr.contains("nothing granted"), "\(twice.stderr)")

        // A profile without a dedicated account has nobody to grant to.
        let shared = try dir.write("shared.toml", "extends = \"base\"\n[filesystem]\nread_write = [\"\(repo)\"]\n")
        let none = try Self.mcpbox(["grant", shared])
        #expect(none.status == 125 && none.stderr.contains("no dedicated account"), "\(none.stderr)")

        #expect(try Self.mcpbox(["user", "remove", name]).status == 0)
        let after = Self.snapshot()
        for f in Self.databases { #expect(after[f] == before[f], "\(f) differs") }
    }

    /// A name with a newline and tabs in a granted tree, carrying an ACL of its own (a server
    /// can set one on its files), was written raw into the grant record, which revoke reads line
    /// by line: it injected a granted tree of its choosing (red-team pass, 2026-12-03). Fails
    /// before the fix: the grant went through and the record held the injected line.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/setfacl"), "needs the acl package"))
    func grantRefusesANameThatWouldForgeARecordLine() throws {
        let before = Self.snapshot()
        let name = "mcpgi-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        #expect(try Self.mcpbox(["user", "add", name]).status == 0)
        defer { _ = try? Self.mcpbox(["user", "remove", name]) }
        let dir = try TempDir(prefix: "mcpbox-grant-inject")
        defer { dir.remove() }
        let repo = try dir.makeDir("repo")
        let forged = try dir.write("repo/x\ntree\trwx@1:2\tinjected", "x\n")
        #expect(try runProcess(["/usr/bin/setfacl", "-m", "u:daemon:r", forged]).status == 0)
        let profile = try dir.write("p.toml", "extends = \"base\"\n[user]\nname = \"\(name)\"\n[filesystem]\nread_write = [\"\(repo)\"]\n")
        let grant = try Self.mcpbox(["grant", profile])
        #expect(grant.status == 125 && grant.stderr.contains("which the grant record cannot hold"), "\(grant.status) \(grant.stderr)")
        let acl = try runProcess(["/usr/bin/getfacl", "-p", repo])
        #expect(!acl.stdoutText.contains("user:\(name):"), "granted anyway: \(acl.stdoutText)")
        #expect(try Self.mcpbox(["user", "remove", name]).status == 0)
        let after = Self.snapshot()
        for f in Self.databases { #expect(after[f] == before[f], "\(f) differs") }
    }

    /// Red team: grant followed a bind written through a symlink into a root-only tree, and
    /// revoke changed whatever a recorded path named by then (a symlink planted in its place,
    /// a new directory after a rename). Each part fails on the build before the fix.
    @Test("grant refuses a bind reached through a symlink; revoke touches nothing once a granted path was replaced, and keeps the record")
    func grantSymlinkAndRevokeReplaced() throws {
        let before = Self.snapshot()
        let name = "mcpgs-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        let added = try Self.mcpbox(["user", "add", name])
        #expect(added.status == 0, "\(added.stderr)")
        defer { _ = try? Self.mcpbox(["user", "remove", name]) }
        let dir = try TempDir(prefix: "mcpbox-grant-link")
        defer { dir.remove() }
        let secret = try dir.makeDir("secret", mode: 0o700)
        _ = try dir.write("secret/canary", "canary\n", mode: 0o600)
        let alice = try dir.makeDir("alice")
        #expect(symlink(secret, alice + "/proj") == 0)
        let linked = try dir.write("linked.toml", "extends = \"base\"\n[user]\nname = \"\(name)\"\n[filesystem]\nread_write = [\"\(alice)/proj\"]\n")
        let refused = try Self.mcpbox(["grant", linked])
        #expect(refused.status == 125 && refused.stderr.contains("is reached through a symlink"), "\(refused.stdoutText) \(refused.stderr)")
        let acl = try runProcess(["/usr/bin/getfacl", "-s", "-p", secret])
        #expect(!acl.stdoutText.contains(name), "\(acl.stdoutText)")

        // Granted, then the path is renamed away and a symlink to another directory put in its place.
        let work = try dir.makeDir("work", mode: 0o700)
        let other = try dir.makeDir("other", mode: 0o700)
        #expect(try runProcess(["/usr/bin/setfacl", "-m", "u:daemon:r", other]).status == 0)
        let profile = try dir.write("p.toml", "extends = \"base\"\n[user]\nname = \"\(name)\"\n[filesystem]\nread_write = [\"\(work)\"]\n")
        let grant = try Self.mcpbox(["grant", profile])
        #expect(grant.status == 0, "\(grant.stderr)")
        #expect(rename(work, work + ".old") == 0 && symlink(other, work) == 0)
        let revoke = try Self.mcpbox(["revoke", profile])
        #expect(revoke.status == 125 && revoke.stderr.contains("no longer names what was granted"), "\(revoke.stdoutText) \(revoke.stderr)")
        let otherACL = try runProcess(["/usr/bin/getfacl", "-s", "-p", other])
        #expect(otherACL.stdoutText.contains("user:daemon:r--"), "the other directory's ACL changed: \(otherACL.stdoutText)")
        // Put back, revoke works and the record is gone.
        #expect(unlink(work) == 0 && rename(work + ".old", work) == 0)
        let again = try Self.mcpbox(["revoke", profile])
        #expect(again.status == 0, "\(again.stderr)")
        let workACL = try runProcess(["/usr/bin/getfacl", "-s", "-p", work])
        #expect(workACL.stdoutText.isEmpty, "\(workACL.stdoutText)")
        // A file from outside, with an ACL of its own, hard-linked into the granted tree: revoke
        // takes the account's entries off and leaves the file's own.
        let outside = try dir.write("outside", "o\n", mode: 0o666)
        #expect(try runProcess(["/usr/bin/setfacl", "-m", "u:daemon:r", outside]).status == 0)
        let regrant = try Self.mcpbox(["grant", profile])
        #expect(regrant.status == 0, "\(regrant.stderr)")
        #expect(link(outside, work + "/hl") == 0)
        let revokeLinked = try Self.mcpbox(["revoke", profile])
        #expect(revokeLinked.status == 0, "\(revokeLinked.stderr)")
        let outsideACL = try runProcess(["/usr/bin/getfacl", "-s", "-p", outside])
        #expect(outsideACL.stdoutText.contains("user:daemon:r--") && !outsideACL.stdoutText.contains(name), "\(outsideACL.stdoutText)")
        #expect(try runProcess(["/usr/bin/getfacl", "-s", "-p", work]).stdoutText.isEmpty)
        #expect(try Self.mcpbox(["user", "remove", name]).status == 0)
        let after = Self.snapshot()
        for f in Self.databases { #expect(after[f] == before[f], "\(f) differs") }
    }
}
