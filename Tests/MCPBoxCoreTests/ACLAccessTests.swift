import Foundation
import Testing
@testable import MCPBoxCore

/// The access warning (`explain`: "will get EACCES") judges POSIX ACLs as the kernel does.
@Suite(.serialized, .enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setfacl"), "needs root and setfacl"))
struct ACLAccessTests {
    func setfacl(_ args: [String]) throws {
        let r = try CLI.execute("/usr/bin/setfacl", args, environment: [:])
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// The access warnings of profile `p` in `s`, started by root (the server runs as nobody).
    func accessWarnings(_ s: Scratch) throws -> [String] {
        let plan = try #require(Fixture.plan("p", dirs: [s.path], host: Fixture.host(uid: 0, gid: 0)).plan)
        return plan.warnings.filter { $0.hasPrefix(PlanBuilder.accessWarningPrefix) }
    }

    @Test func aclEntryMakesABindUsable() throws {
        let s = Scratch()
        s.write("base.toml", "")
        let h = Scratch()
        let closed = h.mkdir("closed")
        chmod(closed, 0o700)
        s.write("p.toml", "[filesystem]\nread_write = [\"\(closed)\"]\n")
        func access() throws -> [String] { try accessWarnings(s) }
        let before = try access()
        #expect(before.count == 1)
        // An ACL entry for the server's account (nobody, 65534) grants what the mode bits deny.
        try setfacl(["-m", "u:65534:rwx", closed])
        let granted = try access()
        #expect(granted.isEmpty, "\(granted)")
        // The mask limits named entries: read-only through the mask is not writable.
        try setfacl(["-m", "m::rx", closed])
        let masked = try access()
        #expect(masked.count == 1)
        #expect(masked.first?.contains(" and its ACL; it will get EACCES") == true, "\(masked)")
        // Read-only binds need r and x only.
        s.write("p.toml", "[filesystem]\nread_only = [\"\(closed)\"]\n")
        let readOnly = try access()
        #expect(readOnly.isEmpty, "\(readOnly)")
    }

    /// Found running real servers: only a bind's top directory was judged, so a SQLite database
    /// file or a repository's .git/index the account may not write went unmentioned, and the
    /// server failed with EACCES. Fails before the fix.
    @Test func entriesInsideAWritableBindAreJudgedToo() throws {
        let s = Scratch()
        s.write("base.toml", "")
        let h = Scratch()
        let dir = h.mkdir("project")
        chmod(dir, 0o777)
        let db = h.write("project/app.db", "x", mode: 0o644)
        try Fixture.tool("/usr/bin/git", ["init", "-q", dir])
        for d in [".git", ".git/objects", ".git/refs"] { chmod(dir + "/" + d, 0o777) }
        let index = h.write("project/.git/index", "x", mode: 0o644)
        s.write("p.toml", "[filesystem]\nread_write = [\"\(dir)\"]\n")
        func access() throws -> [String] { try accessWarnings(s) }
        let before = try access()
        #expect(before.count == 1 && before.first?.contains("\(dir) is writable by the server's account (uid 65534), but not everything in it: ") == true, "\(before)")
        #expect(before.first.map { $0.contains("app.db") && $0.contains(".git/index") } == true, "\(before)")
        chmod(db, 0o666)
        chmod(index, 0o666)
        let after = try access()
        #expect(after.isEmpty, "\(after)")
        // Read-only binds are not judged inside.
        chmod(db, 0o600)
        s.write("p.toml", "[filesystem]\nread_only = [\"\(dir)\"]\n")
        #expect(try access().isEmpty)
    }
}
