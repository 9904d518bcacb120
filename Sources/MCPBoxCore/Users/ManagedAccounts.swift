#if canImport(Glibc)
import Glibc
#endif

/// `mcpbox user add|remove|list`: dedicated system accounts for servers, made and removed by
/// root. An account mcpbox made carries the comment `mcpbox server account` (plus
/// ` for LOGIN` when its ids were added to LOGIN's subordinate ranges); `remove` touches only
/// such accounts and undoes exactly what `add` did.
public struct ManagedAccounts: Sendable {
    public static let marker = "mcpbox server account"

    public struct Managed: Sendable, Equatable {
        public var name: String
        public var uid: UInt32
        public var gid: UInt32
        /// The login whose /etc/subuid and /etc/subgid got the account's ids, if any.
        public var forLogin: String?
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = d }
    }

    /// The databases (the host's `/etc` unless tests say otherwise) and the tools used.
    public var etc = "/etc"
    public var useradd = "/usr/sbin/useradd"
    public var userdel = "/usr/sbin/userdel"

    public init() {}

    /// Valid account names: what useradd accepts on Debian without --badname, at most 32 bytes.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 32 else { return false }
        guard (first >= "a" && first <= "z") || first == "_" else { return false }
        return name.unicodeScalars.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "_" || $0 == "-" }
    }

    /// The accounts mcpbox manages, from /etc/passwd.
    public func list() -> [Managed] {
        (HostFS.readFile(etc + "/passwd") ?? "").split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 7, f[4].hasPrefix(Self.marker), let uid = UInt32(f[2]), let gid = UInt32(f[3]) else { return nil }
            let rest = f[4].dropFirst(Self.marker.count)
            let login = rest.hasPrefix(" for ") ? String(rest.dropFirst(5)) : nil
            return Managed(name: f[0], uid: uid, gid: gid, forLogin: login)
        }
    }

    /// Creates NAME: a locked system account with its own group, no home directory (home
    /// `/nonexistent`), shell `/usr/sbin/nologin`; with `forLogin`, appends `LOGIN:UID:1` to
    /// /etc/subuid and `LOGIN:GID:1` to /etc/subgid (other lines untouched).
    public func add(_ name: String, forLogin: String?) throws(Failure) -> Managed {
        guard getuid() == 0 else { throw Failure("user add needs root (it edits /etc/passwd, /etc/group, /etc/subuid and /etc/subgid)") }
        guard Self.isValidName(name) else { throw Failure("invalid account name `\(name)`: lower-case letters, digits, `_` and `-`, starting with a letter or `_`, at most 32 characters") }
        let accounts = Accounts(root: Paths.dirname(etc))
        if accounts.user(named: name) != nil { throw Failure("an account named `\(name)` already exists") }
        if accounts.groups.contains(where: { $0.name == name }) { throw Failure("a group named `\(name)` already exists") }
        if let login = forLogin {
            guard let owner = accounts.user(named: login) else { throw Failure("no account `\(login)` to add the ids to (--for LOGIN)") }
            guard owner.uid != 0 else { throw Failure("--for root is not needed: root maps [user] accounts itself") }
        }
        let comment = Self.marker + (forLogin.map { " for \($0)" } ?? "")
        let made = Self.run([useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                             "--shell", "/usr/sbin/nologin", "--comment", comment, name])
        guard made.status == 0 else { throw Failure("useradd failed: \(made.output)") }
        guard let user = Accounts(root: Paths.dirname(etc)).user(named: name) else { throw Failure("useradd made no `\(name)`") }
        let managed = Managed(name: name, uid: user.uid, gid: user.gid, forLogin: forLogin)
        if let login = forLogin {
            do throws(Failure) {
                try Self.appendLine(etc + "/subuid", "\(login):\(user.uid):1")
                try Self.appendLine(etc + "/subgid", "\(login):\(user.gid):1")
            } catch {
                _ = try? remove(name)
                throw error
            }
        }
        return managed
    }

    /// Removes an account `add` made: its subordinate-id lines (exactly those), then the account and its group.
    @discardableResult
    public func remove(_ name: String) throws(Failure) -> Managed {
        guard getuid() == 0 else { throw Failure("user remove needs root") }
        guard let m = list().first(where: { $0.name == name }) else {
            throw Failure("`\(name)` is not an account mcpbox made (its comment is not \"\(Self.marker)…\"); remove it with userdel yourself")
        }
        if let login = m.forLogin {
            try Self.removeLine(etc + "/subuid", "\(login):\(m.uid):1")
            try Self.removeLine(etc + "/subgid", "\(login):\(m.gid):1")
        }
        let r = Self.run([userdel, name])
        guard r.status == 0 else { throw Failure("userdel failed: \(r.output)") }
        return m
    }

    // MARK: File edits

    /// Appends `line` (adding a newline first when the file does not end with one); creates the file (0644) if absent.
    static func appendLine(_ path: String, _ line: String) throws(Failure) {
        let old = HostFS.readFile(path) ?? ""
        if old.split(separator: "\n").contains(Substring(line)) { return }
        let text = (old.isEmpty || old.hasSuffix("\n") ? "" : "\n") + line + "\n"
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw Failure("cannot write \(path): \(String(cString: strerror(errno)))") }
    }

    /// Removes the one line equal to `line` (the first), keeping every other byte; atomic
    /// (a temporary file renamed over it, with the same owner and mode).
    static func removeLine(_ path: String, _ line: String) throws(Failure) {
        guard let old = HostFS.readFile(path), let info = HostFS.info(path) else { return }
        var lines = old.split(separator: "\n", omittingEmptySubsequences: false)
        guard let i = lines.firstIndex(of: Substring(line)) else { return }
        lines.remove(at: i)
        let text = lines.joined(separator: "\n")
        let tmp = path + ".mcpbox-tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode_t(info.mode & 0o7777))
        guard fd >= 0 else { throw Failure("cannot write \(tmp): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let ok = write(fd, bytes, bytes.count) == bytes.count && fchown(fd, info.uid, info.gid) == 0
            && fchmod(fd, mode_t(info.mode & 0o7777)) == 0 && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw Failure("cannot rewrite \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Runs a tool with its output captured (posix_spawn, no shell).
    static func run(_ argv: [String]) -> (status: Int32, output: String) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return (-1, "pipe: \(String(cString: strerror(errno)))") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var cargs = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var env: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), strdup("LC_ALL=C"), nil]
        defer { for p in env { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cargs, &env)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            return (-1, "\(argv[0]): \(String(cString: strerror(rc)))")
        }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buf, buf.count)
            if n > 0 { out += buf[0..<n]; continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        close(fds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, String(decoding: out, as: UTF8.self).split(separator: "\n").joined(separator: "; "))
    }
}
