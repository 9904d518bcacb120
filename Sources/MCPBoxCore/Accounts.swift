/// Host account databases (/etc/passwd, /etc/group, /etc/subuid, /etc/subgid) and identity resolution.
public struct Accounts: Sendable {
    public struct User: Sendable, Equatable {
        public var name: String
        public var uid: UInt32
        public var gid: UInt32
        public var home: String
        public var shell: String
    }
    public struct SubordinateRange: Sendable, Equatable {
        public var owner: String
        public var start: UInt32
        public var count: UInt32
        func contains(_ id: UInt32) -> Bool { id >= start && UInt64(id) < UInt64(start) + UInt64(count) }
    }

    /// Each database is read and parsed on first use: most launches need only the passwd entry
    /// of one account, and never the subordinate ranges.
    public var users: [User] { storage.users }
    public var groups: [(name: String, gid: UInt32)] { storage.groups }
    public var subuid: [SubordinateRange] { storage.subuid }
    public var subgid: [SubordinateRange] { storage.subgid }
    /// File names used in messages.
    public let subuidPath: String
    public let subgidPath: String
    private let storage: Storage

    /// Reads the databases under `root` ("/" for the host; tests pass a directory with their own files).
    public init(root: String = "/") {
        let etc = Paths.join(root, "etc")
        subuidPath = etc + "/subuid"
        subgidPath = etc + "/subgid"
        storage = Storage(etc: etc)
    }

    private final class Storage: @unchecked Sendable {
        let etc: String
        init(etc: String) { self.etc = etc }
        lazy var users: [User] = Accounts.fields(HostFS.readFile(etc + "/passwd")).compactMap { f in
            guard f.count >= 7, let uid = UInt32(f[2]), let gid = UInt32(f[3]) else { return nil }
            return User(name: f[0], uid: uid, gid: gid, home: f[5], shell: f[6])
        }
        lazy var groups: [(name: String, gid: UInt32)] = Accounts.fields(HostFS.readFile(etc + "/group")).compactMap { f in
            guard f.count >= 3, let gid = UInt32(f[2]) else { return nil }
            return (f[0], gid)
        }
        lazy var subuid: [SubordinateRange] = Accounts.ranges(HostFS.readFile(etc + "/subuid"))
        lazy var subgid: [SubordinateRange] = Accounts.ranges(HostFS.readFile(etc + "/subgid"))
    }

    static func fields(_ text: String?) -> [[String]] {
        guard let text else { return [] }
        if let rows = asciiFields(text) { return rows }
        return text.split(separator: "\n").compactMap { line in
            if line.hasPrefix("#") { return nil }
            return line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// `fields` byte by byte, the same split for ASCII text without `\r` (which the Character
    /// split would join to `\n`); nil for any other text.
    static func asciiFields(_ text: String) -> [[String]]? {
        var text = text
        return text.withUTF8 { buf -> [[String]]? in
            if buf.contains(where: { $0 >= 0x80 || $0 == UInt8(ascii: "\r") }) { return nil }
            func string(_ from: Int, _ to: Int) -> String {
                String(decoding: UnsafeBufferPointer(rebasing: buf[from..<to]), as: UTF8.self)
            }
            var rows: [[String]] = []
            var i = 0
            while i < buf.count {
                var end = i
                while end < buf.count && buf[end] != UInt8(ascii: "\n") { end += 1 }
                if end > i && buf[i] != UInt8(ascii: "#") {
                    var row: [String] = []
                    var start = i
                    for k in i..<end where buf[k] == UInt8(ascii: ":") {
                        row.append(string(start, k))
                        start = k + 1
                    }
                    row.append(string(start, end))
                    rows.append(row)
                }
                i = end + 1
            }
            return rows
        }
    }

    static func ranges(_ text: String?) -> [SubordinateRange] {
        fields(text).compactMap { f in
            guard f.count == 3, let start = UInt32(f[1]), let count = UInt32(f[2]) else { return nil }
            return SubordinateRange(owner: f[0], start: start, count: count)
        }
    }

    public func user(named name: String) -> User? { users.first { $0.name == name } }
    public func user(uid: UInt32) -> User? { users.first { $0.uid == uid } }
    public func groupName(gid: UInt32) -> String? { groups.first { $0.gid == gid }?.name }

    /// Whether `shell` forbids interactive login.
    public static func isNonLoginShell(_ shell: String) -> Bool {
        shell.hasSuffix("nologin") || shell.hasSuffix("/false")
    }

    /// The shared overflow account used when root starts mcpbox without `[user]`.
    public static let nobodyId: UInt32 = 65534

    /// Decides who the server runs as (see ARCHITECTURE "Identity").
    public func resolveIdentity(userName: Sourced<String>?, callerUid: UInt32, callerGid: UInt32) throws(ProfileError) -> Identity {
        let useradd = { (name: String) in "useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \(name)" }
        guard let userName else {
            if callerUid == 0 {
                let n = Self.nobodyId
                return Identity(mechanism: .rootNobody, userName: "nobody", groupName: "nogroup", insideUid: n, insideGid: n,
                                hostUid: n, hostGid: n, home: "/home/nobody", callerUid: callerUid, callerGid: callerGid)
            }
            let me = user(uid: callerUid)
            let name = me?.name ?? "user"
            let group = groupName(gid: callerGid) ?? name
            return Identity(mechanism: .callerRemap, userName: name, groupName: group, insideUid: callerUid, insideGid: callerGid,
                            hostUid: callerUid, hostGid: callerGid, home: "/home/\(name)", callerUid: callerUid, callerGid: callerGid)
        }
        let name = userName.value
        guard let account = user(named: name) else {
            throw ProfileError(userName.diagnostic("the account `\(name)` does not exist on this host",
                                                   hint: "create it: \(useradd(name))"))
        }
        if account.uid == 0 || account.gid == 0 {
            throw ProfileError(userName.diagnostic("refused: `\(name)` has uid/gid 0; the server never runs as root",
                                                   hint: "use a dedicated unprivileged account: \(useradd("mcp-" + name))"))
        }
        var problems: [Diagnostic] = []
        let group = groupName(gid: account.gid) ?? name
        if callerUid == 0 {
            if !Self.isNonLoginShell(account.shell) {
                problems.append(userName.diagnostic("refused: `\(name)` can log in (shell \(account.shell)); a sandbox account must not",
                                                    hint: "usermod --shell /usr/sbin/nologin \(name), or use a dedicated account: \(useradd("mcp-" + name))"))
            }
            if !problems.isEmpty { throw ProfileError(problems) }
            return Identity(mechanism: .rootAccount, userName: name, groupName: group, insideUid: account.uid, insideGid: account.gid,
                            hostUid: account.uid, hostGid: account.gid, home: "/home/\(name)", callerUid: callerUid, callerGid: callerGid)
        }
        let caller = user(uid: callerUid)
        let owners = Set([String(callerUid)] + (caller.map { [$0.name] } ?? []))
        let callerName = caller?.name ?? String(callerUid)
        if !subuid.contains(where: { owners.contains($0.owner) && $0.contains(account.uid) }) {
            problems.append(userName.diagnostic("uid \(account.uid) of `\(name)` is not in your subordinate uid ranges (\(subuidPath))",
                                                hint: "as root, add the line `\(callerName):\(account.uid):1` to \(subuidPath)"))
        }
        if !subgid.contains(where: { owners.contains($0.owner) && $0.contains(account.gid) }) {
            problems.append(userName.diagnostic("gid \(account.gid) of `\(name)` is not in your subordinate gid ranges (\(subgidPath))",
                                                hint: "as root, add the line `\(callerName):\(account.gid):1` to \(subgidPath)"))
        }
        if !problems.isEmpty { throw ProfileError(problems) }
        return Identity(mechanism: .subordinate, userName: name, groupName: group, insideUid: account.uid, insideGid: account.gid,
                        hostUid: account.uid, hostGid: account.gid, home: "/home/\(name)", callerUid: callerUid, callerGid: callerGid)
    }
}
