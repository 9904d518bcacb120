import Foundation

/// Where the tests find gVisor's runsc (the Debian package installs /usr/bin/runsc).
public enum GVisorSupport {
    public static var runsc: String? {
        ["/usr/bin/runsc", "/usr/local/bin/runsc"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Gives `account` a random range of 65536 subordinate uids and gids (usermod takes shadow's
    /// lock on /etc/subuid and /etc/subgid; `TestAccount.delete`'s userdel drops the range).
    /// Returns the two ids mcpbox hands runsc: (root's, nobody's), the top of the range.
    @discardableResult
    public static func grantSubordinateIds(to account: TestAccount) throws -> (root: UInt32, nobody: UInt32) {
        let low = 1_000_000_000 + UInt32.random(in: 0..<1000) * 65536
        let range = "\(low)-\(low + 65535)"
        let r = try runProcess(["/usr/sbin/usermod", "--add-subuids", range, "--add-subgids", range, account.name])
        guard r.status == 0 else { throw SupportError("usermod --add-subuids \(range) \(account.name): \(r.stderr)") }
        return (low + 65535, low + 65534)
    }
}
