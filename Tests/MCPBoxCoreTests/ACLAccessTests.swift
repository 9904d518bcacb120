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

    @Test func aclEntryMakesABindUsable() throws {
        let s = Scratch()
        s.write("base.toml", "")
        let h = Scratch()
        let closed = h.mkdir("closed")
        chmod(closed, 0o700)
        s.write("p.toml", "[filesystem]\nread_write = [\"\(closed)\"]\n")
        func access() throws -> [String] {
            let plan = try #require(Fixture.plan("p", dirs: [s.path], host: Fixture.host(uid: 0, gid: 0)).plan)
            return plan.warnings.filter { $0.hasPrefix(PlanBuilder.accessWarningPrefix) }
        }
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
}
