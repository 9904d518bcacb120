import CSandbox
#if canImport(Glibc)
import Glibc
#endif

/// Small wrappers over the socket calls the proxy makes; EINTR is retried here.
enum Sockets {
    /// Monotonic seconds.
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// poll(2) on one fd until `deadline` (monotonic seconds); true when ready.
    static func wait(_ fd: Int32, events: Int16, until deadline: Double) -> Bool {
        while true {
            let left = deadline - now()
            if left <= 0 { return false }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let rc = poll(&p, 1, Int32(min(left * 1000 + 1, 60_000)))
            if rc < 0 && errno == EINTR { continue }
            if rc < 0 { return false }
            if rc > 0 { return true }
        }
    }

    /// Whether a connection to `address` from this host stays on this host: the address is
    /// assigned to one of its interfaces (getifaddrs), or the kernel's route to it is of type
    /// `local` (`routeIsLocal`: a whole range can be, `ip route add local 203.0.113.0/24 dev lo`
    /// or a prefix on `lo`, and services bound to all interfaces answer on every address in it).
    /// Asked at each call: addresses and routes come and go. When either cannot be asked, every
    /// address counts as local (refused unless an address rule names it), never the reverse.
    /// `port`: the TCP port the proxy connects to (rules may choose tables by protocol and port).
    static func isLocalAddress(_ address: IPAddress, port: UInt16 = 0) -> Bool {
        isInterfaceAddress(address) || (routeIsLocal(address, port: port) ?? true)
    }

    /// Whether `address` is assigned to one of this host's interfaces (true when they cannot be listed).
    static func isInterfaceAddress(_ address: IPAddress) -> Bool {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return true }
        defer { freeifaddrs(list) }
        var at = list
        while let entry = at {
            defer { at = entry.pointee.ifa_next }
            guard let sa = entry.pointee.ifa_addr else { continue }
            if Int32(sa.pointee.sa_family) == AF_INET, address.isV4 {
                let bytes = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in withUnsafeBytes(of: p.pointee.sin_addr) { Array($0) } }
                if bytes == address.bytes { return true }
            } else if Int32(sa.pointee.sa_family) == AF_INET6, !address.isV4 {
                let bytes = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in withUnsafeBytes(of: p.pointee.sin6_addr) { Array($0) } }
                if bytes == address.bytes { return true }
            }
        }
        return false
    }

    /// Whether the kernel routes `address` as local (what `ip route get ADDR` prints as `local`):
    /// one RTM_GETROUTE request on a netlink socket of its own, for this process's uid.
    /// false when the route is of another type or there is none (unreachable: the connection
    /// fails anyway), nil when the kernel could not be asked or its answer not read.
    static func routeIsLocal(_ address: IPAddress, port: UInt16 = 0) -> Bool? {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0 /* NETLINK_ROUTE */)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // The kernel answers before `send` returns; a timeout all the same, never a hang.
        var limit = timeval(tv_sec: 2, tv_usec: 0)
        guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size)) == 0 else { return nil }
        // nlmsghdr (16 bytes), rtmsg (12), rtattr RTA_DST (4 + the address), RTA_UID (4 + 4),
        // RTA_IP_PROTO (4 + 1, padded to 8) and RTA_DPORT (4 + 2, padded to 8): the route this
        // process's TCP connection to the port takes (`ip route get ADDR uid UID ipproto tcp
        // dport PORT`; rules may choose tables by uid, protocol or port: red-team pass, 2026-12-03).
        let family: UInt8 = address.isV4 ? UInt8(AF_INET) : UInt8(AF_INET6)
        let length = 16 + 12 + 4 + address.bytes.count + 8 + 8 + (port != 0 ? 8 : 0)
        var request = [UInt8](repeating: 0, count: length)
        func put32(_ v: UInt32, at i: Int) { withUnsafeBytes(of: v) { for (k, b) in $0.enumerated() { request[i + k] = b } } }
        func put16(_ v: UInt16, at i: Int) { withUnsafeBytes(of: v) { for (k, b) in $0.enumerated() { request[i + k] = b } } }
        put32(UInt32(length), at: 0)
        put16(26 /* RTM_GETROUTE */, at: 4)
        put16(1 /* NLM_F_REQUEST */, at: 6)
        put32(1, at: 8)                                   // sequence
        request[16] = family                              // rtm_family
        request[17] = UInt8(address.bytes.count * 8)      // rtm_dst_len
        put16(UInt16(4 + address.bytes.count), at: 28)    // rta_len
        put16(1 /* RTA_DST */, at: 30)
        for (k, b) in address.bytes.enumerated() { request[32 + k] = b }
        let uidAt = 32 + address.bytes.count
        put16(8, at: uidAt)
        put16(25 /* RTA_UID */, at: uidAt + 2)
        put32(UInt32(geteuid()), at: uidAt + 4)
        put16(5, at: uidAt + 8)
        put16(27 /* RTA_IP_PROTO */, at: uidAt + 10)
        request[uidAt + 12] = UInt8(IPPROTO_TCP)
        if port != 0 {
            put16(6, at: uidAt + 16)
            put16(29 /* RTA_DPORT */, at: uidAt + 18)
            put16(port.bigEndian, at: uidAt + 20)
        }
        // An unconnected netlink socket sends to the kernel (port id 0).
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == length else { return nil }
        var reply = [UInt8](repeating: 0, count: 8192)
        var n = -1
        repeat {
            n = reply.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        } while n < 0 && errno == EINTR
        guard n >= 16 + 12 else { return nil }
        func get32(_ i: Int) -> UInt32 { reply.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i, as: UInt32.self) } }
        func get16(_ i: Int) -> UInt16 { reply.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i, as: UInt16.self) } }
        guard Int(get32(0)) <= n, get32(8) == 1 else { return nil }
        switch get16(4) {
        case 2: // NLMSG_ERROR: a negative errno (0 would be an acknowledgement, not asked for).
            let error = -Int32(bitPattern: get32(16))
            return error == ENETUNREACH || error == EHOSTUNREACH ? false : nil
        case 24: // RTM_NEWROUTE: the route taken; rtm_type is the rtmsg's eighth byte.
            return reply[16 + 7] == 2 /* RTN_LOCAL */
        default:
            return nil
        }
    }

    /// Which of `a` and `b` becomes readable first (or reaches its end) before the deadline; `a`
    /// when both are; nil at the deadline.
    static func firstReadable(_ a: Int32, _ b: Int32, until deadline: Double) -> Int32? {
        while true {
            let left = deadline - now()
            if left <= 0 { return nil }
            var p = [pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0)]
            let rc = poll(&p, 2, Int32(min(left * 1000 + 1, 60_000)))
            if rc < 0 && errno == EINTR { continue }
            if rc < 0 { return nil }
            if p[0].revents != 0 { return a }
            if p[1].revents != 0 { return b }
        }
    }

    /// recv(2) into `buffer` (appending up to `max` bytes) once the fd is readable before the
    /// deadline: >0 bytes read, 0 on EOF, -1 on error or timeout.
    static func receive(_ fd: Int32, into buffer: inout [UInt8], max: Int, until deadline: Double) -> Int {
        guard max > 0 else { return -1 }
        var chunk = [UInt8](repeating: 0, count: max)
        while true {
            guard wait(fd, events: Int16(POLLIN), until: deadline) else { return -1 }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, Int32(MSG_DONTWAIT)) }
            if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            if n > 0 { buffer += chunk[0..<n] }
            return n
        }
    }

    /// Serves the datagram socket `fd` until `recvfrom` fails for good (EINTR, ENOMEM and
    /// ENOBUFS are retried): each datagram (at most 4,096 bytes) goes to `answer`, whose reply,
    /// if any, is sent back to its sender without blocking.
    static func serveDatagrams(_ fd: Int32, answer: (ArraySlice<UInt8>) -> [UInt8]?) {
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            var from = sockaddr_storage()
            var fromLen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = buf.withUnsafeMutableBytes { b in
                withUnsafeMutablePointer(to: &from) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, 0, $0, &fromLen) }
                }
            }
            if n < 0 {
                if errno == EINTR || errno == ENOMEM || errno == ENOBUFS { continue }
                return
            }
            guard let reply = answer(buf[0..<n]) else { continue }
            _ = reply.withUnsafeBytes { b in
                withUnsafePointer(to: &from) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT), $0, fromLen) }
                }
            }
        }
    }

    /// Writes all of `bytes` (blocking socket); false on error.
    @discardableResult
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && (errno == EINTR) { continue }
            if n < 0 && errno == EAGAIN {
                if !wait(fd, events: Int16(POLLOUT), until: now() + 30) { return false }
                continue
            }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// A TCP connection to `address:port` within `timeout` seconds; the fd (blocking again,
    /// close-on-exec) or nil with errno.
    static func connect(_ address: IPAddress, port: UInt16, timeout: Double) -> Int32? {
        let family = address.isV4 ? AF_INET : AF_INET6
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return nil }
        // Fixed buffers, set before the handshake (the window scale is agreed there): left to
        // autotuning, one upstream that streams to a sandbox that never reads held up to
        // tcp_rmem's maximum (32 MiB here) of kernel memory, charged to mcpbox, not the sandbox.
        var receive = Self.upstreamReceiveBuffer, send = Self.upstreamSendBuffer
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send, socklen_t(MemoryLayout<Int32>.size))
        var rc: Int32
        if address.isV4 {
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sa.sin_addr) { $0.copyBytes(from: address.bytes) }
            rc = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        } else {
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sa.sin6_addr) { $0.copyBytes(from: address.bytes) }
            rc = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
        if rc < 0 && errno != EINPROGRESS {
            let e = errno
            close(fd)
            errno = e
            return nil
        }
        if rc < 0 {
            guard wait(fd, events: Int16(POLLOUT), until: now() + timeout) else {
                close(fd)
                errno = ETIMEDOUT
                return nil
            }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err != 0 {
                close(fd)
                errno = err
                return nil
            }
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    /// Bytes each direction's pipe holds (and one splice asks for).
    static let pipeSize: Int32 = 256 << 10

    /// The upstream leg's buffers (the kernel doubles them): 1 MiB of receive window keeps
    /// 20 MB/s at 50 ms round trip.
    static let upstreamReceiveBuffer: Int32 = 512 << 10
    static let upstreamSendBuffer: Int32 = 256 << 10
    /// The sandbox side's receive buffer (loopback: a small one costs no throughput).
    static let clientReceiveBuffer: Int32 = 256 << 10

    /// The most kernel memory one tunnel can hold, whatever its two ends do: both sockets'
    /// buffers (doubled by the kernel, the client's send buffer at its maximum) and two pipes.
    public static let tunnelBufferBound: UInt64 = 2 * UInt64(upstreamReceiveBuffer + upstreamSendBuffer + clientReceiveBuffer + clientSendBufferMax)
        + 2 * UInt64(pipeSize)

    /// Send buffer of the sandbox-side leg at the start (loopback, so a small one costs no
    /// throughput; the kernel doubles it). Left to autotuning it grows to MiBs, and the bytes the
    /// client then reads went through two socket buffers and a pipe and are out of the CPU
    /// caches: the client spent ~30% more CPU per byte than with a direct connection.
    static let clientSendBuffer: Int32 = 256 << 10
    /// The most it grows to. Each time the relay is woken to refill it: doubled when it is
    /// already empty (the relay was scheduled late, on a busy machine: the client may starve),
    /// halved again (not below `clientSendBuffer`) when it is still a quarter full (on time).
    static let clientSendBufferMax: Int32 = 1 << 20

    /// Moves bytes both ways between `a` (the sandbox side) and `b` (upstream) until both
    /// directions have ended (splice(2) through a pipe per direction: no copy into mcpbox's
    /// memory). Returns the bytes moved a→b and b→a.
    static func relay(_ a: Int32, _ b: Int32) -> (Int64, Int64) {
        var pipes: [[Int32]] = [[-1, -1], [-1, -1]]
        defer { for p in pipes { for fd in p where fd >= 0 { close(fd) } } }
        for i in 0..<2 {
            guard pipe(&pipes[i]) == 0 else { return (0, 0) }
            for fd in pipes[i] {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, O_NONBLOCK)
            }
            // A larger pipe moves more per wake-up (fewer polls and splices per MiB); the
            // kernel may give less (pipe-max-size, the user's pipe budget), which only costs speed.
            _ = fcntl(pipes[i][0], 1031 /* F_SETPIPE_SZ */, Self.pipeSize)
        }
        var sendBuffer = Self.clientSendBuffer, receiveBuffer = Self.clientReceiveBuffer
        setsockopt(a, SOL_SOCKET, SO_SNDBUF, &sendBuffer, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(a, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, socklen_t(MemoryLayout<Int32>.size))
        _ = fcntl(a, F_SETFL, fcntl(a, F_GETFL) | O_NONBLOCK)
        _ = fcntl(b, F_SETFL, fcntl(b, F_GETFL) | O_NONBLOCK)
        let src = [a, b], dst = [b, a]
        var pending = [0, 0]
        var eof = [false, false]
        var moved: [Int64] = [0, 0]
        while !(eof[0] && pending[0] == 0 && eof[1] && pending[1] == 0) {
            var fds: [pollfd] = []
            var dirs: [Int] = []
            for d in 0..<2 {
                if pending[d] > 0 { fds.append(pollfd(fd: dst[d], events: Int16(POLLOUT), revents: 0)); dirs.append(d) }
                else if !eof[d] { fds.append(pollfd(fd: src[d], events: Int16(POLLIN), revents: 0)); dirs.append(d) }
            }
            if fds.isEmpty { break }
            let rc = poll(&fds, nfds_t(fds.count), -1)
            if rc < 0 && errno == EINTR { continue }
            if rc < 0 { break }
            var failed = false
            for (i, d) in dirs.enumerated() where fds[i].revents != 0 {
                if d == 1 && pending[1] > 0 {
                    let queued = mcpbox_egress_unsent(a)
                    let size = queued == 0 ? min(sendBuffer * 2, Self.clientSendBufferMax)
                        : queued >= Int(sendBuffer) / 2 ? max(sendBuffer / 2, Self.clientSendBuffer) : sendBuffer
                    if size != sendBuffer {
                        sendBuffer = size
                        setsockopt(a, SOL_SOCKET, SO_SNDBUF, &sendBuffer, socklen_t(MemoryLayout<Int32>.size))
                    }
                }
                if pending[d] == 0 {
                    let n = mcpbox_egress_splice(src[d], pipes[d][1], UInt(Self.pipeSize))
                    if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) {
                        eof[d] = true
                        shutdown(dst[d], Int32(SHUT_WR))
                        if n < 0 { failed = fds[i].revents & Int16(POLLERR) != 0 }
                        continue
                    }
                    if n > 0 { pending[d] += n }
                }
                while pending[d] > 0 {
                    let m = mcpbox_egress_splice(pipes[d][0], dst[d], UInt(pending[d]))
                    if m > 0 { pending[d] -= m; moved[d] += Int64(m); continue }
                    if m < 0 && (errno == EAGAIN || errno == EINTR) { break }
                    failed = true
                    break
                }
            }
            if failed { break }
        }
        return (moved[0], moved[1])
    }
}
