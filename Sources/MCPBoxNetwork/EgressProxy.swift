import MCPBoxEvents
#if canImport(Glibc)
import Glibc
#endif

/// The enforcement point of `mode = "allow"`: an HTTP proxy (CONNECT and absolute-URI
/// requests) serving the listening socket made inside the sandbox's network namespace. It
/// runs in mcpbox, outside the sandbox, as the user who started mcpbox; every connection it
/// makes leaves from mcpbox's own network namespace, after the rules and the address checks.
public final class EgressProxy: @unchecked Sendable {
    public let policy: EgressPolicy
    let profile: String
    let sink: EventSink
    /// Concurrent connections served; more are answered 503 at once.
    public let maxConnections: Int
    /// The most kernel memory one tunnel's buffers can hold (sockets and pipes, `Sockets`).
    public static let tunnelBufferBound = Sockets.tunnelBufferBound
    /// The most concurrent connections by default (no memory limit): 128 × 4.5 MiB of buffers.
    public static let defaultMaxConnections = 128

    /// Connections for a sandbox with `memoryLimit`: as many as keep the proxy's buffers for it
    /// within that limit (its tunnels' buffers are mcpbox's, outside the sandbox's cgroup), at
    /// least 16 and at most `defaultMaxConnections`.
    public static func maxConnections(memoryLimit: UInt64?) -> Int {
        guard let memoryLimit else { return defaultMaxConnections }
        return Int(min(UInt64(defaultMaxConnections), max(16, memoryLimit / tunnelBufferBound)))
    }
    /// Seconds a client has to send a complete request head (and a ClientHello).
    public static let headTimeout = 10.0
    public static let connectTimeout = 10.0

    private var lock = pthread_mutex_t()
    private var active = 0

    /// A refused destination, told once per session (see `notice`).
    public struct Refusal: Sendable {
        /// The name asked for, else nil (an address alone).
        public var host: String?
        public var port: UInt16?
        public var address: IPAddress?
        public var reason: String
        /// The last one told: later refused destinations are not.
        public var last: Bool

        public init(host: String?, port: UInt16?, address: IPAddress?, reason: String, last: Bool) {
            (self.host, self.port, self.address, self.reason, self.last) = (host, port, address, reason, last)
        }
    }

    /// Distinct refused destinations told to `onRefusal` per session.
    public static let maxNotices = 8
    /// Called for the first refusal of each destination (name, else address) of the session,
    /// up to `maxNotices` of them; nil: none. Without it a refusal was seen only in the log or
    /// with --verbose: a server's "403 Forbidden" was all the user had to go on.
    let onRefusal: (@Sendable (Refusal) -> Void)?
    private var noticed = OnceTold<String>(limit: EgressProxy.maxNotices)

    public init(policy: EgressPolicy, profile: String, sink: EventSink, maxConnections: Int = EgressProxy.defaultMaxConnections,
                fakes: FakeAddresses = FakeAddresses(), onRefusal: (@Sendable (Refusal) -> Void)? = nil) {
        self.onRefusal = onRefusal
        self.fakes = fakes
        self.policy = policy
        self.profile = profile
        self.sink = sink
        self.maxConnections = maxConnections
        pthread_mutex_init(&lock, nil)
        pthread_mutex_init(&budgetLock, nil)
    }

    /// Serves `listener` (an accepting TCP socket) on a thread of its own until it fails
    /// (the sandbox's namespace is gone). Returns false with errno when no thread could start.
    public func serve(listener: Int32) -> Bool {
        Thread.start(stackSize: 256 << 10) { [self] in acceptLoop(listener, via: "proxy", handle) }
    }

    /// Serves a transparent-capture listener (a TCP port on every address inside the sandbox):
    /// connections to fake addresses the DNS stub handed out reach their name's host.
    public func serveCapture(listener: Int32) -> Bool {
        Thread.start(stackSize: 256 << 10) { [self] in acceptLoop(listener, via: "capture", captured) }
    }

    /// Serves the DNS stub's UDP socket (127.0.0.1:53 inside the sandbox).
    public func serveDNS(socket: Int32) -> Bool {
        Thread.start(stackSize: 256 << 10) { [self] in dnsLoop(socket) }
    }

    /// Fake addresses the DNS stub answered with, mapped back by the capture listeners.
    public let fakes: FakeAddresses

    /// Serves a Unix listener of captures forwarded from inside a gVisor sandbox: each
    /// connection starts with the address and port it was made to (4 + 2 bytes, network
    /// order), then carries the bytes. The header is untrusted (the server can connect here
    /// itself): only fake addresses the stub handed out, on captured ports, get through, and
    /// then the same checks as a capture.
    public func serveForwardedCapture(listener: Int32) -> Bool {
        Thread.start(stackSize: 256 << 10) { [self] in
            acceptLoop(listener, via: "capture") { [self] fd in
                var head: [UInt8] = []
                let deadline = Sockets.now() + EgressProxy.headTimeout
                while head.count < 6 {
                    if Sockets.receive(fd, into: &head, max: 6 - head.count, until: deadline) <= 0 {
                        var rec = Record()
                        rec.via = "capture"
                        rec.reason = "forwarded capture without its destination"
                        log(rec)
                        return
                    }
                }
                let port = UInt16(head[4]) << 8 | UInt16(head[5])
                captured(fd, local: IPAddress(bytes: Array(head[0..<4])), port: port,
                         onCapturedPort: policy.capturePorts.contains(port))
            }
        }
    }

    /// `via`: what the listener serves, for the log. When it is full, the proxy's clients (HTTP)
    /// get a `503`; the others' (DNS over TCP, captures: TLS or any protocol) are closed
    /// (red-team pass, 2026-12-03: a DNS client got an HTTP answer).
    func acceptLoop(_ listener: Int32, via: String, _ handler: @escaping (Int32) -> Void) {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM {
                    if errno != EINTR && errno != ECONNABORTED { usleep(10_000) }
                    continue
                }
                close(listener)
                return
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            pthread_mutex_lock(&lock)
            let admitted = active < maxConnections
            if admitted { active += 1 }
            pthread_mutex_unlock(&lock)
            guard admitted else {
                var rec = Record()
                rec.via = via
                rec.reason = "too many connections (at most \(maxConnections) at once)"
                log(rec)
                if via == "proxy" { refuse(fd, status: "503 Service Unavailable", reason: "too many connections", drain: false) }
                close(fd)
                continue
            }
            let started = Thread.start(stackSize: 256 << 10) { [self] in
                handler(fd)
                close(fd)
                pthread_mutex_lock(&lock)
                active -= 1
                pthread_mutex_unlock(&lock)
            }
            if !started {
                close(fd)
                pthread_mutex_lock(&lock)
                active -= 1
                pthread_mutex_unlock(&lock)
            }
        }
    }

    /// Writes a short error response naming the reason (`X-Mcpbox-Refused`).
    func refuse(_ fd: Int32, status: String, reason: String, drain: Bool = true) {
        let body = "mcpbox: \(reason)\n"
        let safe = String(reason.unicodeScalars.filter { $0.value >= 32 && $0.value < 127 }.map(Character.init))
        let text = "HTTP/1.1 \(status)\r\nX-Mcpbox-Refused: \(safe)\r\nContent-Type: text/plain\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
        Sockets.sendAll(fd, Array(text.utf8))
        guard drain else { return }
        // Closing with unread input would reset the connection and could destroy the answer
        // before the client reads it: half-close, then drain a bounded amount for a moment.
        shutdown(fd, Int32(SHUT_WR))
        var sink: [UInt8] = []
        let deadline = Sockets.now() + 1
        var drained = 0
        while drained < 1 << 20 {
            sink.removeAll(keepingCapacity: true)
            let n = Sockets.receive(fd, into: &sink, max: 16 << 10, until: deadline)
            if n <= 0 { break }
            drained += n
        }
    }

    /// One record of the egress log.
    struct Record {
        var via = "proxy"
        var method: String?
        var host: String?
        var port: UInt16?
        var address: IPAddress?
        var allowed = false
        var reason = ""
        var sent: Int64 = 0
        var received: Int64 = 0
        let start = Sockets.now()
        /// Set while its relay runs (`opened`): `finish` logs it if the session ends first.
        var token: Int?
    }

    /// Connections whose relay runs, as their records stood when it began: a connection the
    /// session's end cut (the process exits with its relay still waiting on the upstream) is
    /// logged by `finish`, never lost (red-team pass, 2026-12-03).
    private var openRecords: [Int: Record] = [:]
    private var nextToken = 0

    /// Registers `r` as open (as `shown` says, when given: what `finish` logs if the session ends
    /// first); the token its later `log` settles.
    func opened(_ r: inout Record, shown: Record? = nil) {
        pthread_mutex_lock(&budgetLock)
        nextToken += 1
        r.token = nextToken
        var copy = shown ?? r
        copy.token = nextToken
        openRecords[nextToken] = copy
        pthread_mutex_unlock(&budgetLock)
    }

    /// Replaces the registered copy of `r` (what `finish` logs if the session ends first).
    func update(_ r: Record) {
        guard let t = r.token else { return }
        pthread_mutex_lock(&budgetLock)
        if openRecords[t] != nil { openRecords[t] = r }
        pthread_mutex_unlock(&budgetLock)
    }

    /// Whether the record under `token` is still to be logged by its own thread (false: `finish`
    /// logged it).
    private func settle(_ token: Int) -> Bool {
        pthread_mutex_lock(&budgetLock)
        defer { pthread_mutex_unlock(&budgetLock) }
        return openRecords.removeValue(forKey: token) != nil
    }

    /// Bytes of records one session may write to a rotated log: a quarter of its `max_size`. The
    /// server decides how many records there are (every connection, every DNS query), and
    /// rotation drops the oldest file: without a budget a flood of refused queries pushed the
    /// session's own earlier records, and earlier sessions', out of the log. Past it, records
    /// are counted, and `finish` writes the counts.
    var budget: Int { sink.rotation.map { Int(clamping: $0.maxSize / 4) } ?? Int.max }
    private var budgetLock = pthread_mutex_t()
    private var logged = 0
    private var suppressed = (allowed: 0, denied: 0, bytesOut: Int64(0), bytesIn: Int64(0))

    /// Whether a record of about `size` bytes fits the session's budget (else it is counted).
    private func charge(_ size: Int, _ r: Record) -> (write: Bool, first: Bool) {
        pthread_mutex_lock(&budgetLock)
        defer { pthread_mutex_unlock(&budgetLock) }
        if logged + size <= budget {
            logged += size
            return (true, false)
        }
        let first = suppressed.allowed + suppressed.denied == 0
        if r.allowed { suppressed.allowed += 1 } else { suppressed.denied += 1 }
        suppressed.bytesOut += r.sent
        suppressed.bytesIn += r.received
        return (false, first)
    }

    /// At the session's end: the counts of the records past the budget, if any.
    public func finish() {
        pthread_mutex_lock(&budgetLock)
        let open = openRecords.sorted { $0.key < $1.key }.map(\.value)
        openRecords.removeAll()
        pthread_mutex_unlock(&budgetLock)
        for var r in open {
            r.token = nil
            r.reason += "; still open when the session ended (its bytes are not counted)"
            log(r)
        }
        pthread_mutex_lock(&budgetLock)
        let s = suppressed
        pthread_mutex_unlock(&budgetLock)
        guard sink.isEnabled, s.allowed + s.denied > 0 else { return }
        sink.write(Event(profile: profile, kind: "egress.suppressed", fields: [
            ("allowed", .int(Int64(s.allowed))), ("denied", .int(Int64(s.denied))),
            ("bytes_out", .int(s.bytesOut)), ("bytes_in", .int(s.bytesIn)), ("budget_bytes", .int(Int64(budget))),
        ]))
    }

    /// Tells `onRefusal` of `r` when it refuses a destination not told of before.
    func notice(_ r: Record) {
        guard let onRefusal, !r.allowed, let what = r.host ?? r.address?.description else { return }
        pthread_mutex_lock(&budgetLock)
        let (fresh, last) = noticed.admit(what)
        pthread_mutex_unlock(&budgetLock)
        guard fresh else { return }
        onRefusal(Refusal(host: r.host, port: r.port, address: r.address, reason: r.reason, last: last))
    }

    func log(_ r: Record) {
        if let t = r.token, !settle(t) { return }
        notice(r)
        guard sink.isEnabled else { return }
        // The record's size, near enough: its fields and the line's fixed part.
        let size = 320 + r.reason.utf8.count + (r.host?.utf8.count ?? 0) + (r.method?.utf8.count ?? 0) + profile.utf8.count
        let (write, first) = charge(size, r)
        guard write else {
            if first {
                sink.write(Event(profile: profile, kind: "egress.budget_spent", fields: [
                    ("budget_bytes", .int(Int64(budget))),
                    ("note", .string("this session's further egress records are counted, not written; egress.suppressed at its end gives the counts")),
                ]))
            }
            return
        }
        let ms = Int64(((Sockets.now() - r.start) * 1000).rounded())
        sink.write(Event(profile: profile, kind: "egress", fields: [
            ("via", .string(r.via)),
            ("method", r.method.map { .string($0) } ?? .null),
            ("host", r.host.map { .string($0) } ?? .null),
            ("port", r.port.map { .int(Int64($0)) } ?? .null),
            ("address", r.address.map { .string($0.description) } ?? .null),
            ("decision", .string(r.allowed ? "allowed" : "denied")),
            ("reason", .string(r.reason)),
            ("bytes_out", .int(r.sent)),
            ("bytes_in", .int(r.received)),
            ("duration_ms", .int(ms)),
        ]))
    }

    /// One client connection, start to end.
    func handle(_ client: Int32) {
        var rec = Record()
        defer { log(rec) }
        let deadline = rec.start + EgressProxy.headTimeout
        var buffer: [UInt8] = []
        var parsed: (HTTPRequestHead, Int)?
        while parsed == nil {
            switch HTTPRequestHead.parse(buffer) {
            case .success(let p): parsed = p
            case .failure(.incomplete):
                let n = Sockets.receive(client, into: &buffer, max: HTTPRequestHead.maxHeadBytes - buffer.count, until: deadline)
                if n <= 0 {
                    rec.reason = n == 0 ? "client closed before a complete request" : "request head not received in time"
                    if n < 0 { refuse(client, status: "408 Request Timeout", reason: rec.reason) }
                    return
                }
            case .failure(.tooLarge):
                rec.reason = "request head too large"
                refuse(client, status: "431 Request Header Fields Too Large", reason: rec.reason)
                return
            case .failure(.malformed(let why)):
                rec.reason = "malformed request: \(why)"
                refuse(client, status: "400 Bad Request", reason: rec.reason)
                return
            }
        }
        guard let (head, headLength) = parsed else { return }
        rec.method = head.method
        let authority: (host: String, port: UInt16)
        switch head.authority() {
        case .success(let a): authority = a
        case .failure(let e):
            if case .malformed(let why) = e { rec.reason = "malformed request: \(why)" } else { rec.reason = "malformed request" }
            refuse(client, status: "400 Bad Request", reason: rec.reason)
            return
        }
        let host = EgressPolicy.normalize(authority.host) ?? authority.host
        rec.host = host
        rec.port = authority.port
        let decision = policy.decide(host: host, port: authority.port)
        rec.reason = decision.reason
        guard decision.allowed else {
            refuse(client, status: "403 Forbidden", reason: decision.reason)
            return
        }
        guard let (upstream, address) = open(host: host, port: authority.port, record: &rec, client: client) else { return }
        defer { close(upstream) }
        rec.address = address
        var rest = Array(buffer[headLength...])
        if head.method == "CONNECT" {
            Sockets.sendAll(client, Array("HTTP/1.1 200 Connection established\r\n\r\n".utf8))
            rec.allowed = true
            tunnel(client, upstream, host: host, initial: rest, record: &rec)
            return
        } else {
            var out = "\(head.method) \(head.originForm) \(head.version)\r\n"
            var sawHost = false
            for h in head.headers {
                let n = h.name.lowercased()
                if n == "proxy-connection" || n == "proxy-authorization" || n == "connection" || n == "keep-alive" { continue }
                if n == "host" { sawHost = true }
                out += "\(h.name): \(h.value)\r\n"
            }
            if !sawHost {
                let hostText = authority.host.contains(":") && !authority.host.hasPrefix("[") ? "[\(authority.host)]" : authority.host
                out += "Host: \(hostText)\(authority.port == 80 ? "" : ":\(authority.port)")\r\n"
            }
            out += "Connection: close\r\n\r\n"
            rest = Array(out.utf8) + rest
        }
        rec.allowed = true
        opened(&rec)
        guard Sockets.sendAll(upstream, rest) else { return }
        let (up, down) = Sockets.relay(client, upstream)
        rec.sent = Int64(rest.count) + up
        rec.received = down
    }

    /// A tunnel (CONNECT, or a captured connection): the first bytes, when they are a TLS
    /// ClientHello, must name `host` (no domain fronting through an allowed name; no server
    /// name at all only for an IP literal); then bytes flow both ways.
    func tunnel(_ client: Int32, _ upstream: Int32, host: String, initial: [UInt8], record rec: inout Record) {
        // Open from here on; until its first message is judged, a session's end logs it as
        // undecided, not as allowed (it may yet be refused as domain fronting).
        if rec.allowed && rec.token == nil {
            var pending = rec
            pending.allowed = false
            pending.reason += "; its first message (a TLS ClientHello) not yet judged"
            opened(&rec, shown: pending)
        }
        var rest = initial
        let deadline = Sockets.now() + EgressProxy.headTimeout
        var (verdict, end) = TLSClientHello.parse(rest)
        while verdict == .incomplete {
            // A server that speaks first (SSH, SMTP, FTP banners) is not answering a TLS client
            // (a TLS client always speaks first): nothing to judge, the bytes flow. Waiting on the
            // client alone left such a tunnel idle for 10 s and then refused it.
            if rest.isEmpty, Sockets.firstReadable(client, upstream, until: deadline) == upstream {
                verdict = .notTLS
                break
            }
            let n = Sockets.receive(client, into: &rest, max: TLSClientHello.maxBytes - rest.count, until: deadline)
            if n <= 0 {
                if n == 0 && rest.isEmpty { return }  // closed without a byte: nothing to judge
                rec.allowed = false
                rec.reason = n == 0 ? "client closed the tunnel inside a partial TLS record" : "no complete first message on the tunnel in time"
                return
            }
            (verdict, end) = TLSClientHello.parse(rest)
        }
        guard judge(verdict, client: client, host: host, record: &rec) else { return }
        update(rec)
        // What the client sent after its ClientHello (early data, or a second ClientHello meant
        // for the server's HelloRetryRequest) waits until the server's reply is judged.
        var held: [UInt8] = []
        if verdict.isClientHello {
            if end > 0, end < rest.count {
                held = Array(rest[end...])
                rest.removeSubrange(end...)
            }
        }
        guard Sockets.sendAll(upstream, rest) else { return }
        var sent = Int64(rest.count), received: Int64 = 0
        if verdict.isClientHello {
            guard retryJudged(client, upstream, host: host, held: held, record: &rec, sent: &sent, received: &received) else {
                rec.sent = sent
                rec.received = received
                return
            }
        }
        // Judged: a session's end logs it as it stands now.
        update(rec)
        let (up, down) = Sockets.relay(client, upstream)
        rec.sent = sent + up
        rec.received = received + down
    }

    /// Whether a ClientHello's verdict lets the tunnel on (else the client gets an alert and
    /// `rec` says why).
    func judge(_ verdict: TLSClientHello.Result, client: Int32, host: String, record rec: inout Record) -> Bool {
        switch verdict {
        case .serverName(let sni):
            if EgressPolicy.normalize(sni) != host {
                rec.allowed = false
                rec.reason = "TLS server name \(sni) differs from the requested host \(host)"
                Sockets.sendAll(client, [21, 3, 3, 0, 2, 2, 49])  // fatal alert: access_denied
                return false
            }
        case .noServerName:
            if IPAddress(host) == nil {
                rec.allowed = false
                rec.reason = "TLS ClientHello without a server name for a named host"
                Sockets.sendAll(client, [21, 3, 3, 0, 2, 2, 49])
                return false
            }
        case .malformed(let why):
            rec.allowed = false
            rec.reason = "malformed TLS ClientHello: \(why)"
            Sockets.sendAll(client, [21, 3, 3, 0, 2, 2, 50])  // decode_error
            return false
        case .notTLS, .incomplete:
            break
        }
        return true
    }

    /// The random of a TLS 1.3 HelloRetryRequest (RFC 8446 4.1.3: SHA-256 of "HelloRetryRequest").
    static let helloRetryRandom: [UInt8] = [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ]

    /// After a judged ClientHello: the server's first record, passed on to the client. When it is
    /// a HelloRetryRequest, the client's second ClientHello (after any change-cipher-spec
    /// records) is judged like the first before it reaches the server: an OpenSSL server (nginx,
    /// Apache) chooses its virtual host again by the second one's name, so a second ClientHello
    /// naming another host fronted through the allowed one. False when the tunnel ends here.
    /// `held`: what the client sent after its first ClientHello, before any reply: it is the
    /// start of the second ClientHello after a HelloRetryRequest (judged with the rest of it),
    /// and otherwise goes to the server after the server's first record went to the client.
    func retryJudged(_ client: Int32, _ upstream: Int32, host: String, held: [UInt8], record rec: inout Record,
                     sent: inout Int64, received: inout Int64) -> Bool {
        let deadline = Sockets.now() + EgressProxy.headTimeout
        // Record header (5), handshake header (4), legacy_version (2), random (32).
        let helloPrefix = 43
        var server: [UInt8] = []
        var closed = false
        while server.count < helloPrefix && (server.first ?? 22) == 22 {
            let n = Sockets.receive(upstream, into: &server, max: 16384 + 5 - server.count, until: deadline)
            if n == 0 { closed = true; break }
            if n < 0 {
                rec.allowed = false
                rec.reason = "the TLS server sent no ServerHello in time"
                return false
            }
        }
        func passServer() -> Bool {
            guard Sockets.sendAll(client, server) else { return false }
            received += Int64(server.count)
            return true
        }
        /// No retry: the server's record to the client, then what the client sent after its ClientHello.
        func passBoth() -> Bool {
            guard passServer(), Sockets.sendAll(upstream, held) else { return false }
            sent += Int64(held.count)
            return true
        }
        // Not a handshake record (an alert ends the handshake), or the server closed: no retry.
        guard !closed, server.first == 22, server.count >= helloPrefix else { return passBoth() && !closed }
        let recordLength = Int(server[3]) << 8 | Int(server[4])
        guard server[5] == 2, recordLength >= helloPrefix - 5 else {
            rec.allowed = false
            rec.reason = "the TLS server's first record holds no whole start of a ServerHello"
            return false
        }
        guard Array(server[11..<helloPrefix]) == Self.helloRetryRandom else { return passBoth() }
        // A HelloRetryRequest: all of its record goes to the client, then its second ClientHello is judged.
        while server.count < 5 + recordLength {
            let n = Sockets.receive(upstream, into: &server, max: 5 + recordLength - server.count, until: deadline)
            if n <= 0 {
                rec.allowed = false
                rec.reason = "the TLS server's HelloRetryRequest was cut short"
                return false
            }
        }
        guard passServer() else { return false }
        var hello = held
        var skipped = 0   // change-cipher-spec records before it (TLS 1.3 middlebox compatibility)
        while true {
            while hello.count - skipped >= 6, hello[skipped] == 20, hello[skipped + 3] == 0, hello[skipped + 4] == 1 { skipped += 6 }
            let verdict = TLSClientHello.serverName(Array(hello[skipped...]))
            if verdict != .incomplete {
                if verdict == .notTLS {
                    rec.allowed = false
                    rec.reason = "no second ClientHello after the server's HelloRetryRequest"
                    Sockets.sendAll(client, [21, 3, 3, 0, 2, 2, 10])  // unexpected_message
                    return false
                }
                guard judge(verdict, client: client, host: host, record: &rec) else {
                    rec.reason += " (second ClientHello, after a HelloRetryRequest)"
                    return false
                }
                break
            }
            if skipped > 64 {
                rec.allowed = false
                rec.reason = "change-cipher-spec records instead of a second ClientHello"
                return false
            }
            let n = Sockets.receive(client, into: &hello, max: TLSClientHello.maxBytes + 64 - hello.count, until: deadline)
            if n <= 0 {
                rec.allowed = false
                rec.reason = n == 0 ? "client closed before its second ClientHello" : "no second ClientHello in time"
                return false
            }
        }
        guard Sockets.sendAll(upstream, hello) else { return false }
        sent += Int64(hello.count)
        return true
    }

    /// A connection caught by a capture listener: the fake address it was made to names the
    /// host (as the DNS stub answered it), the listener's port is the port.
    func captured(_ client: Int32) {
        var rec = Record()
        rec.via = "capture"
        defer { log(rec) }
        var sa = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &sa) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(client, $0, &len) == 0 }
        }
        guard ok, Int32(sa.sin_family) == AF_INET else { rec.reason = "not an IPv4 connection"; return }
        var raw = sa.sin_addr
        captured(client, local: IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) }), port: UInt16(bigEndian: sa.sin_port),
                 onCapturedPort: true, record: &rec)
    }

    /// A capture made to `local:port` (a fake address, when the stub answered it).
    func captured(_ client: Int32, local: IPAddress?, port: UInt16, onCapturedPort: Bool) {
        var rec = Record()
        rec.via = "capture"
        defer { log(rec) }
        self.captured(client, local: local, port: port, onCapturedPort: onCapturedPort, record: &rec)
    }

    func captured(_ client: Int32, local: IPAddress?, port: UInt16, onCapturedPort: Bool, record rec: inout Record) {
        rec.port = port
        guard onCapturedPort else {
            rec.reason = "port \(port) is not a captured port"
            return
        }
        guard let local, let name = fakes.name(for: local) else {
            rec.reason = "direct connection to \(local?.description ?? "?"):\(port) inside the sandbox (only names the DNS stub answered are captured)"
            return
        }
        rec.host = name
        let decision = policy.decide(host: name, port: port)
        rec.reason = decision.reason
        guard decision.allowed else { return }
        guard let (upstream, address) = open(host: name, port: port, record: &rec, client: client, answer: false) else { return }
        defer { close(upstream) }
        rec.address = address
        rec.allowed = true
        tunnel(client, upstream, host: name, initial: [], record: &rec)
    }

    /// Answers DNS queries from the sandbox: an allowed name gets a fake address (A) or an
    /// empty answer (other types: clients then use the A record); anything else REFUSED. Nothing
    /// is ever forwarded, so queries cannot carry data out.
    func dnsLoop(_ fd: Int32) {
        Sockets.serveDatagrams(fd) { [self] query in dnsAnswer(Array(query)) }
        close(fd)
    }

    /// DNS over TCP (127.0.0.1:53): length-prefixed queries on one connection, answered in
    /// turn, until the client closes or sends nothing for `headTimeout`.
    public func serveDNSStream(listener: Int32) -> Bool {
        Thread.start(stackSize: 256 << 10) { [self] in
            acceptLoop(listener, via: "dns") { [self] fd in
                while true {
                    var msg: [UInt8] = []
                    let deadline = Sockets.now() + EgressProxy.headTimeout
                    while msg.count < 2 {
                        if Sockets.receive(fd, into: &msg, max: 2 - msg.count, until: deadline) <= 0 { return }
                    }
                    let len = Int(msg[0]) << 8 | Int(msg[1])
                    guard len >= 12, len <= DNSQuery.maxBytes else { return }
                    msg.removeAll()
                    while msg.count < len {
                        if Sockets.receive(fd, into: &msg, max: len - msg.count, until: deadline) <= 0 { return }
                    }
                    guard let reply = dnsAnswer(msg) else { return }
                    guard Sockets.sendAll(fd, [UInt8(reply.count >> 8), UInt8(reply.count & 0xff)] + reply) else { return }
                }
            }
        }
    }

    /// The stub's answer to one query (nil: drop it), logged.
    func dnsAnswer(_ bytes: [UInt8]) -> [UInt8]? {
        let reply: [UInt8]
        var rec = Record()
        rec.via = "dns"
        switch DNSQuery.parse(bytes) {
        case .failure(.tooShort): return nil
        case .failure(.malformed(let id, let flags)):
            reply = DNSQuery.formErr(id: id, flags: flags)
            rec.reason = "malformed DNS query"
        case .success(let q):
            rec.host = q.name
            rec.method = q.type == 1 ? "A" : q.type == 28 ? "AAAA" : "type \(q.type)"
            if let rule = policy.nameAllowed(q.name) {
                rec.allowed = true
                rec.reason = rule
                if q.type == 1 {
                    if let a = fakes.address(for: q.name) {
                        rec.address = a
                        reply = q.answer(.noError, address: a.bytes)
                    } else {
                        rec.allowed = false
                        rec.reason = "more than \(FakeAddresses.maxNames) names in this session (fake addresses exhausted)"
                        reply = q.answer(.servFail)
                    }
                } else {
                    reply = q.answer(.noError)
                }
            } else {
                rec.reason = policy.nameRefusal(q.name)
                reply = q.answer(.refused)
            }
        }
        log(rec)
        return reply
    }

    /// Resolves `host` and connects to the first address the policy accepts; answers the
    /// client (unless `answer` is false) and returns nil when none can be used.
    func open(host: String, port: UInt16, record rec: inout Record, client: Int32, answer: Bool = true) -> (Int32, IPAddress)? {
        let addresses: [IPAddress]
        switch Resolver.resolve(host, hosts: policy.hosts) {
        case .success(let a): addresses = a
        case .failure(.notFound(let why)):
            rec.allowed = false
            rec.reason = "cannot resolve \(host): \(why)"
            if answer { refuse(client, status: "502 Bad Gateway", reason: rec.reason) }
            return nil
        }
        var refusal: String?
        var lastError: Int32 = 0
        for a in addresses {
            let check = policy.check(address: a, port: port, isLocal: { Sockets.isLocalAddress($0, port: port) })
            guard check.allowed else {
                if refusal == nil { refusal = check.reason }
                rec.address = a
                continue
            }
            if let fd = Sockets.connect(a, port: port, timeout: EgressProxy.connectTimeout) { return (fd, a) }
            lastError = errno
            rec.address = a
        }
        rec.allowed = false
        if lastError == 0, let refusal {
            rec.reason = refusal
            if answer { refuse(client, status: "403 Forbidden", reason: refusal) }
        } else {
            rec.reason = "connect to \(host):\(port) failed: \(String(cString: strerror(lastError)))"
            if answer { refuse(client, status: "502 Bad Gateway", reason: rec.reason) }
        }
        return nil
    }
}

/// A detached pthread running a closure.
enum Thread {
    final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts `body` on a new detached thread with the given stack size; false on failure.
    static func start(stackSize: Int, _ body: @escaping () -> Void) -> Bool {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attr, stackSize)
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, &attr, { arg in
            let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            b.body()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            errno = rc
            return false
        }
        return true
    }
}
