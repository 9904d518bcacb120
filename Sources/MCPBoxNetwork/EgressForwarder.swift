#if canImport(Glibc)
import Glibc
#endif

/// The in-sandbox half of `mode = "allow"` under gVisor, where no socket can be handed into the
/// sandbox: mcpbox's static binary, bound read-only into it, run by runsc as the server's own
/// process (same uid, same seccomp filter, no capability). It makes the sandbox's listeners
/// (the proxy, the DNS stub, one capture per port), forks a copy that forwards each connection
/// to mcpbox's Unix sockets in a directory bound into the sandbox, then execs the server.
///
/// It can reach nothing the server cannot: its only ways out are those same Unix sockets,
/// behind which mcpbox applies every rule.
public enum EgressForwarder {
    /// The hidden subcommand: `__gvisor-egress-forward DIR PORTS -- ARGV...` (PORTS: the
    /// captured ports, comma-separated, or `-`; ARGV[0] the server's path).
    public static let subcommand = "__gvisor-egress-forward"
    public static let proxySocket = "proxy.sock"
    public static let dnsSocket = "dns.sock"
    public static let captureSocket = "capture.sock"

    /// Runs the forwarder and execs the server; returns only on failure, with the exit status
    /// (125: a listener could not be made; 126/127: the server cannot be executed).
    public static func main(_ args: [String]) -> Int32 {
        guard args.count >= 5, args[0] == subcommand, args[3] == "--" else {
            return fail("usage: \(subcommand) DIR PORTS -- ARGV...")
        }
        let dir = args[1]
        var ports: [UInt16] = []
        for p in args[2].split(separator: ",") where args[2] != "-" {
            guard let port = UInt16(p), port > 0 else { return fail("bad port \(p)") }
            ports.append(port)
        }
        let argv = Array(args[4...])
        var made: [Int32] = []
        func bound(_ type: Int32, _ any: Bool, _ port: UInt16) -> Int32? {
            let fd = listener(type, any: any, port: port)
            if fd >= 0 { made.append(fd) }
            return fd >= 0 ? fd : nil
        }
        guard let proxy = bound(Int32(SOCK_STREAM.rawValue), false, EgressPolicy.proxyPort),
              let dnsUDP = bound(Int32(SOCK_DGRAM.rawValue), false, 53),
              let dnsTCP = bound(Int32(SOCK_STREAM.rawValue), false, 53) else {
            let e = errno
            for fd in made { close(fd) }
            return fail("cannot listen inside the sandbox (127.0.0.1:\(EgressPolicy.proxyPort) and :53): \(String(cString: strerror(e)))")
        }
        var captures: [(Int32, UInt16)] = []
        for port in ports {
            guard let fd = bound(Int32(SOCK_STREAM.rawValue), true, port) else {
                let e = errno
                for fd in made { close(fd) }
                return fail("cannot listen on 0.0.0.0:\(port) inside the sandbox: \(String(cString: strerror(e)))")
            }
            captures.append((fd, port))
        }
        // The listeners exist before the server runs: its first connection waits in the
        // backlog until the forwarder accepts it.
        let pid = fork()
        if pid < 0 {
            let e = errno
            for fd in made { close(fd) }
            return fail("fork: \(String(cString: strerror(e)))")
        }
        if pid == 0 {
            let null = open("/dev/null", O_RDWR | O_CLOEXEC)
            if null >= 0 { for fd: Int32 in 0...2 { dup2(null, fd) } }
            serve(dir: dir, proxy: proxy, dnsUDP: dnsUDP, dnsTCP: dnsTCP, captures: captures.map(\.0))
            _exit(0)
        }
        for fd in made { close(fd) }
        let cArgv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        execv(argv[0], cArgv)
        let e = errno
        for p in cArgv { free(p) }
        _ = fail("cannot execute \(argv[0]): \(String(cString: strerror(e)))")
        return e == ENOENT ? 127 : 126
    }

    static func fail(_ message: String) -> Int32 {
        let bytes = Array("mcpbox: egress forwarder: \(message)\n".utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        return 125
    }

    /// A socket of `type` bound to 127.0.0.1 (or every address) and `port`, listening when
    /// TCP; -1 with errno.
    static func listener(_ type: Int32, any: Bool, port: UInt16) -> Int32 {
        let fd = socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        sa.sin_addr.s_addr = (any ? INADDR_ANY : INADDR_LOOPBACK).bigEndian
        let ok = withUnsafePointer(to: &sa) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard ok, type != Int32(SOCK_STREAM.rawValue) || listen(fd, 4096) == 0 else {
            let e = errno
            close(fd)
            errno = e
            return -1
        }
        return fd
    }

    static func serve(dir: String, proxy: Int32, dnsUDP: Int32, dnsTCP: Int32, captures: [Int32]) {
        _ = Thread.start(stackSize: 128 << 10) { acceptLoop(proxy, dir + "/" + proxySocket, header: false) }
        _ = Thread.start(stackSize: 128 << 10) { acceptLoop(dnsTCP, dir + "/" + dnsSocket, header: false) }
        for fd in captures {
            _ = Thread.start(stackSize: 128 << 10) { acceptLoop(fd, dir + "/" + captureSocket, header: true) }
        }
        dnsLoop(dnsUDP, dir + "/" + dnsSocket)
    }

    /// Accepts on `listener` and forwards each connection to the Unix socket `path` on a
    /// thread of its own; with `header`, first the address and port the connection was made
    /// to (4 + 2 bytes, network order).
    static func acceptLoop(_ listener: Int32, _ path: String, header: Bool) {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM { usleep(10_000); continue }
                return
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            let started = Thread.start(stackSize: 128 << 10) {
                defer { close(client) }
                let up = connectUnix(path)
                guard up >= 0 else { return }
                defer { close(up) }
                if header {
                    var sa = sockaddr_in()
                    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
                    let ok = withUnsafeMutablePointer(to: &sa) { p in
                        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(client, $0, &len) == 0 }
                    }
                    guard ok, Int32(sa.sin_family) == AF_INET else { return }
                    var addr = sa.sin_addr
                    var port = sa.sin_port
                    let head = withUnsafeBytes(of: &addr) { Array($0) } + withUnsafeBytes(of: &port) { Array($0) }
                    guard writeAll(up, head[...]) else { return }
                }
                pump(client, up)
            }
            if !started { close(client) }
        }
    }

    /// DNS over UDP: each query goes to the stub over a stream (length-prefixed, as DNS over
    /// TCP), its answer back to the sender.
    static func dnsLoop(_ fd: Int32, _ path: String) {
        Sockets.serveDatagrams(fd) { query in
            let n = query.count
            guard n >= 12, n <= 512 else { return nil }
            let up = connectUnix(path)
            guard up >= 0 else { return nil }
            defer { close(up) }
            guard writeAll(up, ([UInt8(n >> 8), UInt8(n & 0xff)] + query)[...]),
                  let lengthBytes = readExactly(up, 2) else { return nil }
            let length = Int(lengthBytes[0]) << 8 | Int(lengthBytes[1])
            return readExactly(up, length)
        }
    }

    /// A stream connection to the Unix socket `path`; -1 with errno.
    static func connectUnix(_ path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: sa.sun_path) else {
            close(fd)
            errno = ENAMETOOLONG
            return -1
        }
        withUnsafeMutableBytes(of: &sa.sun_path) { p in for (i, b) in bytes.enumerated() { p[i] = b } }
        let ok = withUnsafePointer(to: &sa) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
        guard ok else {
            let e = errno
            close(fd)
            errno = e
            return -1
        }
        return fd
    }

    @discardableResult
    static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
        var rest = bytes
        while !rest.isEmpty {
            let n = rest.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            rest = rest.dropFirst(n)
        }
        return true
    }

    /// `count` bytes from `fd` within 10 seconds, or nil.
    static func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var out: [UInt8] = []
        let deadline = Sockets.now() + 10
        while out.count < count {
            if Sockets.receive(fd, into: &out, max: count - out.count, until: deadline) <= 0 { return nil }
        }
        return out
    }

    /// Moves bytes both ways until both directions have ended (a read's end half-closes the
    /// other side's writing).
    static func pump(_ a: Int32, _ b: Int32) {
        var buf = [UInt8](repeating: 0, count: 64 << 10)
        var open = [true, true]
        let ends = [a, b]
        while open[0] || open[1] {
            var fds = (0..<2).map { pollfd(fd: open[$0] ? ends[$0] : -1, events: Int16(POLLIN), revents: 0) }
            let rc = poll(&fds, 2, -1)
            if rc < 0 {
                if errno == EINTR { continue }
                return
            }
            for i in 0..<2 where open[i] && fds[i].revents != 0 {
                let n = buf.withUnsafeMutableBytes { read(ends[i], $0.baseAddress, $0.count) }
                if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                if n <= 0 {
                    open[i] = false
                    shutdown(ends[1 - i], Int32(SHUT_WR))
                    if n < 0 { return }
                    continue
                }
                guard writeAll(ends[1 - i], buf[0..<n]) else { return }
            }
        }
    }
}
