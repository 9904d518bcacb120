#if canImport(Glibc)
import Glibc
#endif

/// `pidfd_open(2)` and `posix_spawn_file_actions_addclosefrom_np(3)` from the C library (their
/// declarations are not part of the Glibc module).
@_silgen_name("pidfd_open")
private func c_pidfd_open(_ pid: pid_t, _ flags: UInt32) -> Int32
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func c_addclosefrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32

/// The after-session git sweep (`GitProtection.sweep`), made to survive mcpbox's death.
///
/// A client that kills mcpbox (the Python SDK sends SIGKILL 4 s after closing stdin) would skip
/// the sweep, and host git would later run what the server left. So `run` first starts a guard:
/// mcpbox's own executable with a hidden subcommand, in a session of its own (the client's
/// signals to mcpbox do not reach it), stdio on /dev/null, as the same user. It gets the sweep
/// lists, then the sandbox's pid 1 (a pidfd), over a socket. mcpbox still sweeps itself (its
/// messages reach the client's stderr) and then says "done"; if mcpbox's end closes without
/// that, the guard waits for pid 1 to be gone, sweeps, and appends its findings to `logPath()`.
public enum SweepGuard {
    /// The hidden subcommand that runs the guard.
    public static let subcommand = "__sweep-guard"
    /// Bytes of sweep lists the guard accepts.
    static let transferLimit = 64 << 20
    /// glibc's `POSIX_SPAWN_SETSID` (a GNU extension the Glibc module does not show).
    static let spawnSetsid: Int32 = 0x80
    /// Where the guard's socket is in the guard.
    static let socketFD: Int32 = 3

    /// Protocol fields (NUL-terminated): log path, mcpbox's pid, watched paths, trees and their
    /// known directories, end of lists; then single bytes: pidfd attached, done.
    enum Tag {
        static let log = "L", mcpbox = "M", watched = "W", tree = "T", known = "K", end = "E"
        /// A known client configuration entry; an identity recorded at launch (`DEV:INO:CTIME:PATH`).
        static let knownConfig = "C", identity = "I"
        static let ready: UInt8 = 0x52 /* R */, pidfd: UInt8 = 0x50 /* P */, done: UInt8 = 0x44 /* D */
    }

    /// The quarantine log: `$XDG_STATE_HOME/mcpbox/quarantine.log` (an absolute
    /// `XDG_STATE_HOME`), else `~/.local/state/mcpbox/quarantine.log` (`$HOME`, else the
    /// account's home); nil when there is no home.
    public static func logPath() -> String? {
        if let x = getenv("XDG_STATE_HOME").map({ String(cString: $0) }), x.isAbsolutePath {
            return Paths.join(x, "mcpbox/quarantine.log")
        }
        var home = getenv("HOME").map { String(cString: $0) }
        if home?.isAbsolutePath != true, let pw = getpwuid(geteuid()), let dir = pw.pointee.pw_dir {
            home = String(cString: dir)
        }
        guard let home, home.isAbsolutePath else { return nil }
        return Paths.join(home, ".local/state/mcpbox/quarantine.log")
    }

    /// mcpbox's side of a started guard.
    public struct Handle: Sendable {
        let fd: Int32
        let pid: pid_t

        /// Hands the guard the sandbox's pid 1; nil, or why it could not.
        public func watch(_ sandboxPid: pid_t) -> String? {
            let pidfd = c_pidfd_open(sandboxPid, 0)
            guard pidfd >= 0 else { return "git sweep guard: pidfd_open: \(String(cString: strerror(errno)))" }
            defer { close(pidfd) }
            var byte = Tag.pidfd
            var control = [UInt64](repeating: 0, count: 3)  // CMSG_SPACE(sizeof(int)), aligned
            let sent = withUnsafeMutableBytes(of: &byte) { b in
                control.withUnsafeMutableBytes { c in
                    let header = c.baseAddress!.assumingMemoryBound(to: cmsghdr.self)
                    header.pointee.cmsg_len = MemoryLayout<cmsghdr>.size + 4
                    header.pointee.cmsg_level = SOL_SOCKET
                    header.pointee.cmsg_type = Int32(SCM_RIGHTS)
                    c.storeBytes(of: pidfd, toByteOffset: MemoryLayout<cmsghdr>.size, as: Int32.self)
                    var iov = iovec(iov_base: b.baseAddress, iov_len: 1)
                    return withUnsafeMutablePointer(to: &iov) { iovp in
                        var msg = msghdr(msg_name: nil, msg_namelen: 0, msg_iov: iovp, msg_iovlen: 1,
                                         msg_control: c.baseAddress, msg_controllen: c.count, msg_flags: 0)
                        var n: Int
                        repeat { n = sendmsg(fd, &msg, Int32(MSG_NOSIGNAL)) } while n < 0 && errno == EINTR
                        return n == 1
                    }
                }
            }
            return sent ? nil : "git sweep guard: it exited before the sandbox started"
        }

        /// Tells the guard mcpbox swept (or nothing ran), and reaps it.
        public func finish() {
            _ = SweepGuard.send(fd, [Tag.done])
            close(fd)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
    }

    /// Starts the guard for these sweep lists; the handle, or why it could not start.
    public static func start(watched: [String], trees: [GitProtection.Tree]) -> Result<Handle, GuardError> {
        guard let log = logPath() else {
            return .failure(GuardError("git sweep guard: no home directory for its quarantine log (set HOME or XDG_STATE_HOME)"))
        }
        var message: [UInt8] = []
        func field(_ tag: String, _ value: String) {
            message += Array(tag.utf8) + [0] + Array(value.utf8) + [0]
        }
        field(Tag.log, log)
        field(Tag.mcpbox, String(getpid()))
        for w in watched { field(Tag.watched, w) }
        for t in trees {
            field(Tag.tree, t.root)
            for k in t.known { field(Tag.known, k) }
            for k in t.knownClientConfigs { field(Tag.knownConfig, k) }
            // DEV:INO:CTIME:PATH (CTIME -1 for a directory), the path last (it may hold colons).
            for (key, id) in t.identities {
                field(Tag.identity, "\(id.dev):\(id.ino):\(t.changeTimes[key] ?? -1):" + String(decoding: key.bytes, as: UTF8.self))
            }
        }
        field(Tag.end, "")
        guard message.count <= transferLimit else {
            return .failure(GuardError("git sweep guard: the sweep lists exceed \(transferLimit) bytes"))
        }
        var sv: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sv) == 0 else {
            return .failure(GuardError("git sweep guard: socketpair: \(String(cString: strerror(errno)))"))
        }
        // dup2 onto the same number would keep close-on-exec: make sure it differs.
        if sv[1] == socketFD {
            let moved = fcntl(sv[1], F_DUPFD_CLOEXEC, 10)
            close(sv[1])
            sv[1] = moved
        }
        var actions = posix_spawn_file_actions_t()
        var attr = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attr)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attr)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, sv[1], socketFD)
        _ = c_addclosefrom(&actions, socketFD + 1)
        var all = sigset_t(), none = sigset_t()
        sigfillset(&all)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setflags(&attr, Int16(spawnSetsid | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("mcpbox"), strdup(subcommand), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = [nil]
        defer { for a in argv { free(a) } }
        let rc = posix_spawn(&pid, "/proc/self/exe", &actions, &attr, argv, envp)
        close(sv[1])
        guard rc == 0 else {
            close(sv[0])
            return .failure(GuardError("git sweep guard: posix_spawn /proc/self/exe: \(String(cString: strerror(rc)))"))
        }
        let handle = Handle(fd: sv[0], pid: pid)
        var ack: UInt8 = 0
        var n: Int
        if send(sv[0], message) {
            repeat { n = read(sv[0], &ack, 1) } while n < 0 && errno == EINTR
        } else {
            n = -1
        }
        guard n == 1, ack == Tag.ready else {
            kill(pid, SIGKILL)
            handle.finish()
            return .failure(GuardError("git sweep guard: it did not start (exit before taking the sweep lists)"))
        }
        return .success(handle)
    }

    /// Why the guard could not start.
    public struct GuardError: Error, Sendable {
        public var message: String
        init(_ message: String) { self.message = message }
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// The guard itself (the hidden subcommand): reads the lists from fd 3 and acknowledges;
    /// on "done" exits; when mcpbox's end closes without it, waits for the sandbox's pid 1 to be
    /// gone, sweeps, and appends the findings to the quarantine log. Returns the exit status.
    public static func serve() -> Int32 {
        _ = chdir("/")
        var buffer: [UInt8] = []
        var fields: [String] = []
        var listsDone = false
        var done = false
        var pidfd: Int32 = -1
        var chunk = [UInt8](repeating: 0, count: 65536)
        var control = [UInt64](repeating: 0, count: 8)
        reading: while true {
            let n = chunk.withUnsafeMutableBytes { b in
                control.withUnsafeMutableBytes { c in
                    var iov = iovec(iov_base: b.baseAddress, iov_len: b.count)
                    return withUnsafeMutablePointer(to: &iov) { iovp in
                        var msg = msghdr(msg_name: nil, msg_namelen: 0, msg_iov: iovp, msg_iovlen: 1,
                                         msg_control: c.baseAddress, msg_controllen: c.count, msg_flags: 0)
                        let got = recvmsg(socketFD, &msg, Int32(MSG_CMSG_CLOEXEC))
                        if got > 0, msg.msg_controllen >= MemoryLayout<cmsghdr>.size + 4 {
                            let header = c.load(as: cmsghdr.self)
                            if header.cmsg_level == SOL_SOCKET && header.cmsg_type == Int32(SCM_RIGHTS) {
                                let fd = c.load(fromByteOffset: MemoryLayout<cmsghdr>.size, as: Int32.self)
                                if pidfd >= 0 { close(fd) } else { pidfd = fd }
                            }
                        }
                        return got
                    }
                }
            }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            if listsDone {
                if chunk[0..<n].contains(Tag.done) { done = true; break reading }
                continue
            }
            buffer += chunk[0..<n]
            guard buffer.count <= transferLimit + 1 else { return 1 }
            while let end = buffer.firstIndex(of: 0) {
                fields.append(String(decoding: buffer[..<end], as: UTF8.self))
                buffer.removeSubrange(...end)
                if fields.count % 2 == 1 && fields.last == Tag.end { listsDone = true; break }
            }
            if listsDone {
                guard send(socketFD, [Tag.ready]) else { return 1 }
                if buffer.contains(Tag.done) { done = true; break reading }
            }
        }
        // Done, or mcpbox died before the sandbox could start: nothing to sweep.
        guard listsDone, !done else { return 0 }
        if pidfd >= 0 {
            var p = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            while poll(&p, 1, -1) < 0 && errno == EINTR {}
        }
        var log = "", mcpbox = "?"
        var watched: [String] = []
        var trees: [GitProtection.Tree] = []
        var i = 0
        while i + 1 < fields.count {
            let (tag, value) = (fields[i], fields[i + 1])
            switch tag {
            case Tag.log: log = value
            case Tag.mcpbox: mcpbox = value
            case Tag.watched: watched.append(value)
            case Tag.tree:
                trees.append(GitProtection.Tree(root: value, known: [], knownClientConfigs: [], identities: [:]))
            case Tag.known where !trees.isEmpty: trees[trees.count - 1].known.append(value)
            case Tag.knownConfig where !trees.isEmpty: trees[trees.count - 1].knownClientConfigs.append(value)
            case Tag.identity where !trees.isEmpty:
                // The identities recorded at launch, never taken now: what is there now may be new.
                let parts = value.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
                if parts.count == 4, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]), let t = Int64(parts[2]) {
                    let key = PathKey(String(parts[3]))
                    trees[trees.count - 1].identities[key] = FileIdentity(dev: dev, ino: ino)
                    if t >= 0 { trees[trees.count - 1].changeTimes[key] = t }
                }
            default: break
            }
            i += 2
        }
        let messages = GitProtection.sweep(watched: watched, trees: trees)
        guard !messages.isEmpty, log.isAbsolutePath else { return 0 }
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var stamp = [CChar](repeating: 0, count: 32)
        strftime(&stamp, stamp.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        let prefix = String(cString: stamp) + " mcpbox \(mcpbox) ended before its after-session sweep; its guard (pid \(getpid())) swept: "
        let text = messages.map { prefix + $0 + "\n" }.joined()
        return appendLog(log, text) ? 0 : 1
    }

    /// Appends `text` to the log at `path`, creating its missing directories 0700 and the file 0600.
    static func appendLog(_ path: String, _ text: String) -> Bool {
        var prefix = ""
        for part in Paths.components(Paths.dirname(path)) {
            prefix += "/" + part
            _ = mkdir(prefix, 0o700)
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}
