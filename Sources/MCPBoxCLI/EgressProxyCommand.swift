import ArgumentParser
import MCPBoxCore
import MCPBoxEvents
import MCPBoxNetwork
#if canImport(Glibc)
import Glibc
#endif

/// `mcpbox egress-proxy`: the enforcement point of `mode = "allow"` on a listening address of
/// its own, for a sandbox mcpbox does not launch (the Kubernetes export's proxy Deployment).
/// The same `EgressProxy` as `run`'s: rule matching, address-class refusal, TLS server-name
/// check, 403 with `X-Mcpbox-Refused`, the egress event log.
struct EgressProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "egress-proxy",
        abstract: "Serve egress rules as an HTTP proxy on ADDR:PORT (the enforcement point of `mcpbox export --format kubernetes`).",
        discussion: "RULES is the file the Kubernetes export ships in its ConfigMap: `allow RULE`, `deny RULE`, `host NAME ADDR...` lines, rules as in [network] allow/deny. Events (JSON Lines) go to --log or stderr. Runs until SIGTERM, SIGINT or SIGHUP (exit 0); exits 125 when it cannot start.")

    @Option(help: ArgumentHelp("The rules file.", valueName: "FILE"))
    var rules: String

    @Option(help: ArgumentHelp("Address and port to listen on: 0.0.0.0:3128, [::]:3128, 127.0.0.1:0 (0: any free port).", valueName: "ADDR:PORT"))
    var listen: String

    @Option(help: ArgumentHelp("Append egress events to FILE instead of stderr.", valueName: "FILE"))
    var log: String?

    @Option(help: ArgumentHelp("The profile name events carry.", valueName: "NAME"))
    var profile = "egress-proxy"

    func run() throws {
        guard let (address, port) = Self.parseListen(listen) else {
            Stderr.write("mcpbox: egress-proxy: --listen \(Explain.visible(listen)): expected ADDR:PORT (IPv6 in brackets)")
            throw ExitCode(125)
        }
        let policy: EgressPolicy
        switch EgressRulesFile.load(rules) {
        case .success(let p): policy = p
        case .failure(let e):
            Stderr.write(e.message.split(separator: "\n").map { Explain.visible("mcpbox: egress-proxy: " + $0) }.joined(separator: "\n"))
            throw ExitCode(125)
        }
        // The over-broad rules `check` warns about, said here too (the rules file has no check).
        for w in policy.warnings { Stderr.write(Explain.visible("mcpbox: egress-proxy: warning: " + w)) }
        var sink = EventSink.stderr()
        if let log {
            // Size-rotated as `run`'s network log is (a client flooding refused requests wrote
            // 111 MB in 20 s to a log that never rotated; red-team finding).
            guard let s = EventSink.file(log, rotation: EgressPlanner.logRotation) else {
                Stderr.write("mcpbox: egress-proxy: --log \(Explain.visible(log)): \(String(cString: strerror(errno)))")
                throw ExitCode(125)
            }
            sink = s
        }
        guard let (fd, bound) = EgressProxy.listen(address, port: port) else {
            Stderr.write("mcpbox: egress-proxy: listen on \(Explain.visible(listen)): \(String(cString: strerror(errno)))")
            throw ExitCode(125)
        }
        var rl = rlimit()
        if getrlimit(RLIMIT_NOFILE_RESOURCE, &rl) == 0, rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max
            _ = setrlimit(RLIMIT_NOFILE_RESOURCE, &rl)
        }
        // SIGTERM/SIGINT/SIGHUP end it with status 0 whatever mask it inherited: blocked here
        // (the serving threads inherit the mask) and taken with sigwait below.
        var stop = sigset_t()
        sigemptyset(&stop)
        for sig in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&stop, sig) }
        pthread_sigmask(SIG_BLOCK, &stop, nil)
        let proxy = EgressProxy(policy: policy, profile: profile, sink: sink)
        guard proxy.serve(listener: fd) else {
            Stderr.write("mcpbox: egress-proxy: starting the proxy thread: \(String(cString: strerror(errno)))")
            throw ExitCode(125)
        }
        let shown = address.isV4 ? address.description : "[\(address)]"
        print("mcpbox egress-proxy listening on \(shown):\(bound) (\(policy.allow.count) allow, \(policy.deny.count) deny, \(policy.hosts.count) host rules)")
        fflush(nil)
        var received: Int32 = 0
        while sigwait(&stop, &received) != 0 {}
        throw ExitCode(0)
    }

    /// `A.B.C.D:PORT` or `[V6]:PORT`.
    static func parseListen(_ text: String) -> (IPAddress, UInt16)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            return nil
        }
        guard let address = IPAddress(host), !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let p = Int(portText), p <= 65535 else { return nil }
        return (address, UInt16(p))
    }
}

private let RLIMIT_NOFILE_RESOURCE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
