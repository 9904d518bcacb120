import CSandbox
import MCPBoxEvents
import MCPBoxNetwork
#if canImport(Glibc)
import Glibc
#endif

/// What `network.mode = "allow"` adds to a plan: the decided rules and what the sandbox sees.
public struct EgressPlan: Sendable, Equatable {
    public var policy: EgressPolicy
    /// The proxy's URL inside the sandbox.
    public var proxyURL: String
    /// Names of the variables set to point at the proxy (values in the environment).
    public var variables: [String]
    /// `[network] hosts` in profile order, with the file and key each came from.
    public var hosts: [(name: String, addresses: [IPAddress], origin: String)] = []

    public static func == (a: EgressPlan, b: EgressPlan) -> Bool {
        a.policy == b.policy && a.proxyURL == b.proxyURL && a.variables == b.variables
            && a.hosts.map(\.name) == b.hosts.map(\.name) && a.hosts.map(\.addresses) == b.hosts.map(\.addresses)
    }

    /// Allow rules naming an address or range inside a class refused by default.
    public var explicitlyAllowed: [(rule: EgressRule, classes: [IPAddress.Restricted])] {
        policy.allow.compactMap { r in
            guard case .range(let net, let prefix) = r.host else { return nil }
            // A range meeting the NAT64 prefix also names the IPv4 addresses it carries.
            let (n64, p64) = IPAddress.nat64
            var ranges = [(net, prefix)]
            if prefix >= p64, let v4 = net.nat64IPv4 { ranges.append((v4, prefix - p64)) }
            if prefix < p64, n64.within(net, prefix: prefix) { ranges.append((IPAddress("0.0.0.0")!, 0)) }
            let classes = IPAddress.Restricted.allCases.filter { c in
                c.ranges.contains { text in
                    guard let (cnet, cprefix) = IPAddress.parseRange(text) else { return false }
                    // Overlap: one range contains the other's network.
                    return ranges.contains { net, prefix in
                        cnet.isV4 == net.isV4 && (net.within(cnet, prefix: cprefix) || cnet.within(net, prefix: prefix))
                    }
                }
            }
            return classes.isEmpty ? nil : (r, classes)
        }
    }
}

/// Builds the egress part of a plan and runs its enforcement point.
public enum EgressPlanner {
    /// The network log's rotation: the audit log's defaults (10 MiB, 5 rotated files), so the
    /// log never holds more than 60 MiB on the host.
    public static let logRotation = LogRotation(maxSize: AuditPlan.defaultMaxSize, keep: AuditPlan.defaultKeep)

    static var proxyURL: String { "http://127.0.0.1:\(EgressPolicy.proxyPort)" }

    /// Loopback inside the sandbox is the sandbox's own: never sent to the proxy.
    static let noProxy = "localhost,127.0.0.1,::1"

    /// Proxy variables: the conventional ones in both cases, and the tool-specific ones
    /// (npm, yarn, pip; git and uv read the conventional ones; Node's fetch needs
    /// NODE_USE_ENV_PROXY).
    static var environment: [EnvVar] {
        let url = proxyURL
        let pairs: [(String, String)] = [
            ("HTTP_PROXY", url), ("HTTPS_PROXY", url), ("ALL_PROXY", url), ("NO_PROXY", noProxy),
            ("http_proxy", url), ("https_proxy", url), ("all_proxy", url), ("no_proxy", noProxy),
            ("npm_config_proxy", url), ("npm_config_https_proxy", url), ("npm_config_noproxy", noProxy),
            ("YARN_HTTP_PROXY", url), ("YARN_HTTPS_PROXY", url),
            ("PIP_PROXY", url), ("NODE_USE_ENV_PROXY", "1"),
        ]
        return pairs.map { EnvVar(name: $0.0, value: $0.1, origin: "egress") }
    }

    /// The egress plan for `mode = "allow"` (nil for other modes); errors for keys that need
    /// that mode, and for a log file the server could write.
    static func build(_ profile: Profile, network: NetworkMode, mounts: [Mount], sink: inout DiagnosticSink,
                      warnings: inout [String]) -> EgressPlan? {
        guard network == .allow else {
            let stray: [(String, String?, Int?)] =
                profile.networkAllow.map { ("network.allow", $0.file, $0.line) } + profile.networkDeny.map { ("network.deny", $0.file, $0.line) }
                + profile.networkHosts.map { ("network.hosts", $0.file, $0.line) } + (profile.networkLog.map { [("network.log", $0.file, $0.line)] } ?? [])
            if let (key, file, line) = stray.first {
                sink.add(Diagnostic(file: file, line: line, key: key, "\(key) needs network.mode = \"allow\" (the mode is \"\(network.rawValue)\")",
                                    hint: "set mode = \"allow\", or remove the network rules"))
            }
            return nil
        }
        var hosts: [String: [IPAddress]] = [:]
        for h in profile.networkHosts { hosts[h.value.name] = h.value.addresses }
        var logPath: String?
        if let log = profile.networkLog {
            for m in mounts {
                guard case .bind(let source, false) = m.kind else { continue }
                if Paths.isWithin(log.value, source) || Paths.isWithin(log.value, m.target) {
                    sink.add(log.diagnostic("refused: the log \(log.value) lies inside \(m.target), which the server may write (\(m.origin))",
                                            hint: "keep the log outside the directories the server may write"))
                }
            }
            // The same through another name: a symlink on the way, or a host bind mount.
            let writable = mounts.compactMap { m -> (source: String, target: String)? in
                if case .bind(let source, false) = m.kind, !Paths.isWithin(log.value, source), !Paths.isWithin(log.value, m.target) { (source, m.target) } else { nil }
            }
            if let alias = LogPaths.writableAlias(log.value, writable: writable) {
                let origin = mounts.first { $0.target == alias.target }?.origin ?? "filesystem.read_write"
                sink.add(log.diagnostic("refused: the log \(log.value) lies inside \(alias.target), which the server may write (\(origin)): \(alias.via) is \(alias.source) or lies inside it",
                                        hint: "keep the log outside the directories the server may write, under every name"))
            }
            if let (message, hint) = LogPaths.problem(log.value, makesParents: false) {
                sink.add(log.diagnostic(message, hint: hint))
            } else if HostFS.info(Paths.dirname(log.value))?.isDirectory != true {
                sink.add(log.diagnostic("the directory of \(log.value) does not exist", hint: "create it (mcpbox creates only the file)"))
            }
            logPath = log.value
        }
        let policy = EgressPolicy(allow: profile.networkAllow.map(\.value), deny: profile.networkDeny.map(\.value),
                                  hosts: hosts, logPath: logPath)
        if policy.capturePorts.count > EgressPolicy.maxCapturePorts {
            sink.add(Diagnostic(file: profile.networkAllow.last?.file, key: "network.allow",
                                "the allow rules name \(policy.capturePorts.count) ports; at most \(EgressPolicy.maxCapturePorts) can be captured",
                                hint: "name fewer distinct ports"))
        }
        warnings += policy.warnings
        var plan = EgressPlan(policy: policy, proxyURL: proxyURL, variables: environment.map(\.name))
        plan.hosts = profile.networkHosts.map { ($0.value.name, $0.value.addresses, $0.origin) }
        return plan
    }

    /// The sandbox's /etc/resolv.conf: the DNS stub only.
    static let resolvConf = "nameserver 127.0.0.1\noptions attempts:1 timeout:2\n"

    /// `explain`'s words for the rules.
    public static func summary(_ e: EgressPlan) -> String {
        e.policy.allow.isEmpty
            ? "allow: nothing is reachable (the allow list is empty); own network namespace, loopback only"
            : "allow: only the hosts below, through mcpbox's proxy at \(e.proxyURL); own network namespace, no route out"
    }
}

/// The running enforcement point of one sandbox.
public final class EgressSession: @unchecked Sendable {
    let parentFD: Int32
    /// The child's end, handed to the launch (closed here once the sandbox is started).
    public let childFD: Int32
    let proxy: EgressProxy

    /// Opens the log and the socketpair; a message when either fails (mcpbox then refuses
    /// to start).
    public static func prepare(_ plan: SandboxPlan, verbose: Bool) -> Result<EgressSession, EgressStartError> {
        guard let e = plan.egress else { return .failure(EgressStartError(message: "no egress plan")) }
        var sink = verbose ? EventSink.stderr() : EventSink.discard
        if let path = e.policy.logPath {
            // Size-rotated like the audit log: mcpbox writes it outside the sandbox, as the
            // invoking user, one record per decision, so a server asking for refused names as
            // fast as it can (36 MB/s here) would otherwise fill the host's disk.
            guard let s = EventSink.file(path, rotation: EgressPlanner.logRotation) else {
                return .failure(EgressStartError(message: "network.log \(path): \(String(cString: strerror(errno))) (create its directory, or fix its permissions)"))
            }
            sink = s
        }
        var fds: [Int32] = [-1, -1]
        guard mcpbox_egress_socketpair(&fds) == 0 else {
            return .failure(EgressStartError(message: "egress socketpair: \(String(cString: strerror(errno)))"))
        }
        // gVisor's loopback holds 127.0.0.0/8 and no address can be added to it: fake
        // addresses come from there (see GVisorEgress).
        // Each refused destination is told on stderr once, unless every decision goes there already.
        let file = plan.profileFiles.last ?? plan.profileName
        var tell: (@Sendable (EgressProxy.Refusal) -> Void)?
        if !verbose || e.policy.logPath != nil {
            tell = { (r: EgressProxy.Refusal) -> Void in
                let bytes = Array(EgressSession.refusalNotice(r, profileFile: file).utf8)
                _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            }
        }
        let proxy = EgressProxy(policy: e.policy, profile: plan.profileName, sink: sink,
                                maxConnections: EgressProxy.maxConnections(memoryLimit: plan.limits.memoryBytes),
                                fakes: plan.isolation.runtime == .gvisor ? .loopback() : FakeAddresses(), onRefusal: tell)
        return .success(EgressSession(parentFD: fds[0], childFD: fds[1], proxy: proxy, expectedCaptures: e.policy.capturePorts.count,
                                      forwarded: plan.isolation.runtime == .gvisor))
    }

    /// The stderr line for a refused destination; every byte the server chose (a name it asked
    /// for) is shown escaped, so it cannot pass for a line of mcpbox's own.
    static func refusalNotice(_ r: EgressProxy.Refusal, profileFile: String) -> String {
        let name = r.host ?? r.address.map { $0.isV4 ? $0.description : "[\($0.description)]" } ?? "?"
        let dest = Explain.visible(name) + (r.port.map { ":\($0)" } ?? "")
        var line = "mcpbox: network: refused \(dest): \(Explain.visible(r.reason)) "
            + "(network.allow of \(Explain.visible(profileFile)) names what may be reached; --verbose shows every decision)\n"
        if r.last {
            line += "mcpbox: network: further refused destinations of this session are not shown here (--verbose or network.log shows them)\n"
        }
        return line
    }

    let expectedCaptures: Int
    /// gVisor: the listeners are Unix sockets an in-sandbox forwarder reaches (`GVisorEgress`).
    let forwarded: Bool

    init(parentFD: Int32, childFD: Int32, proxy: EgressProxy, expectedCaptures: Int, forwarded: Bool = false) {
        self.parentFD = parentFD
        self.childFD = childFD
        self.proxy = proxy
        self.expectedCaptures = expectedCaptures
        self.forwarded = forwarded
    }

    /// At the session's end: the egress log's counts of what its budget left out.
    public func finish() { proxy.finish() }

    /// Closes both ends (launch failed before `start`).
    public func abandon() {
        close(parentFD)
        close(childFD)
    }

    /// After the sandbox is cloned: closes the child's end, receives the listeners the
    /// sandbox's network helper made, and serves them. A message when that fails.
    public func start() -> EgressStartError? {
        close(childFD)
        defer { close(parentFD) }
        let max = Int(MCPBOX_EGRESS_MAX_FDS)
        var fds = [Int32](repeating: -1, count: max)
        var kinds = [CChar](repeating: 0, count: max)
        let n = mcpbox_egress_receive(parentFD, &fds, &kinds, Int32(max))
        if n <= 0 {
            return EgressStartError(message: n == 0 ? "the sandbox's network helper sent no listener"
                                    : "receiving the egress listeners: \(String(cString: strerror(errno)))")
        }
        var proxyFD: Int32 = -1, dnsFD: Int32 = -1, dnsTCP: Int32 = -1, forwarded: Int32 = -1
        var captures: [Int32] = []
        for i in 0..<Int(n) {
            switch UInt8(bitPattern: kinds[i]) {
            case UInt8(ascii: "P") where proxyFD < 0: proxyFD = fds[i]
            case UInt8(ascii: "D") where dnsFD < 0: dnsFD = fds[i]
            case UInt8(ascii: "T") where dnsTCP < 0: dnsTCP = fds[i]
            case UInt8(ascii: "C"): captures.append(fds[i])
            case UInt8(ascii: "U") where forwarded < 0: forwarded = fds[i]
            default: close(fds[i])
            }
        }
        // Either the native set (proxy, DNS over UDP and TCP, one capture per port) or, under
        // gVisor, Unix listeners its in-sandbox forwarder reaches: proxy, DNS stream, captures.
        if self.forwarded {
            let all = [proxyFD, dnsTCP, forwarded]
            guard proxyFD >= 0, dnsTCP >= 0, forwarded >= 0, dnsFD < 0, captures.isEmpty else {
                for fd in all + [dnsFD] + captures where fd >= 0 { close(fd) }
                return EgressStartError(message: "gVisor's egress listeners: \(n) received, expected proxy, DNS and capture")
            }
            raiseOpenFileLimit()
            return serve(all) { i, fd in
                switch i {
                case 0: proxy.serve(listener: fd)
                case 1: proxy.serveDNSStream(listener: fd)
                default: proxy.serveForwardedCapture(listener: fd)
                }
            }
        }
        let all = [proxyFD, dnsFD, dnsTCP] + captures
        guard proxyFD >= 0, dnsFD >= 0, dnsTCP >= 0, captures.count == expectedCaptures, forwarded < 0 else {
            for fd in all + [forwarded] where fd >= 0 { close(fd) }
            return EgressStartError(message: "the sandbox's network helper sent \(n) of \(3 + expectedCaptures) listeners")
        }
        raiseOpenFileLimit()
        return serve(all) { i, fd in
            switch i {
            case 0: proxy.serve(listener: fd)
            case 1: proxy.serveDNS(socket: fd)
            case 2: proxy.serveDNSStream(listener: fd)
            default: proxy.serveCapture(listener: fd)
            }
        }
    }

    /// Starts a thread per socket; once a thread serves a socket it owns it, the rest are
    /// closed on failure.
    func serve(_ all: [Int32], _ start: (Int, Int32) -> Bool) -> EgressStartError? {
        for (i, fd) in all.enumerated() {
            if !start(i, fd) {
                let e = errno
                for rest in all[i...] { close(rest) }
                return EgressStartError(message: "starting the proxy threads: \(String(cString: strerror(e)))")
            }
        }
        return nil
    }

    /// Each proxied connection holds six descriptors (two sockets, two pipes): raise mcpbox's
    /// own soft RLIMIT_NOFILE to its hard limit (never above it).
    func raiseOpenFileLimit() {
        var rl = rlimit()
        if getrlimit(RLIMIT_NOFILE_VALUE, &rl) == 0, rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max
            _ = setrlimit(RLIMIT_NOFILE_VALUE, &rl)
        }
    }
}

private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)

/// Why the enforcement point could not start (mcpbox exits 125).
public struct EgressStartError: Error, Sendable {
    public var message: String
}
