/// The decided egress rules of one sandbox (`[network] mode = "allow"`): what the plan
/// carries and the enforcement point applies.
public struct EgressPolicy: Sendable, Equatable {
    public var allow: [EgressRule]
    public var deny: [EgressRule]
    /// `[network] hosts`: names answered with these addresses instead of the host resolver.
    public var hosts: [String: [IPAddress]]
    /// `[network] log`, or nil.
    public var logPath: String?

    /// Where the proxy listens inside the sandbox (127.0.0.1).
    public static let proxyPort: UInt16 = 3128

    public init(allow: [EgressRule], deny: [EgressRule], hosts: [String: [IPAddress]] = [:], logPath: String? = nil) {
        self.allow = allow
        // "Never this host": a deny rule without a port takes the host back on every port, also
        // where an allow rule names another port than 80 or 443 (`*.w.test:8080` with `bad.w.test`).
        self.deny = deny.map { r in
            var r = r
            if r.ports.isEmpty { r.everyPort = true }
            return r
        }
        self.hosts = hosts
        self.logPath = logPath
    }

    /// A decision and the rule or reason behind it.
    public struct Decision: Sendable, Equatable {
        public var allowed: Bool
        /// The rule text (`allow api.github.com:443`) or the reason (`no allow rule`).
        public var reason: String
    }

    /// Lower case, without a trailing dot or IPv6 brackets; nil when it is neither a host name
    /// nor an IP literal. ASCII only (names on the wire are, IDNs in their xn-- form): Unicode
    /// lower-casing folds U+212A KELVIN SIGN to "k", so a name judged as allowed would have gone
    /// upstream (a Host header, say) with other bytes.
    public static func normalize(_ host: String) -> String? {
        guard host.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        var h = host.lowercased()
        if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if let a = IPAddress(h) { return a.description }
        if h.hasSuffix(".") { h.removeLast() }
        return EgressRule.isHostName(h) ? h : nil
    }

    /// Judges a name (or literal) and port by the rules alone; deny wins.
    public func decide(host: String, port: UInt16) -> Decision {
        guard let h = EgressPolicy.normalize(host) else { return Decision(allowed: false, reason: "invalid host name") }
        if let r = deny.first(where: { $0.matches(host: h, port: port) }) {
            return Decision(allowed: false, reason: "deny \(r.text)")
        }
        if let r = allow.first(where: { $0.matches(host: h, port: port) }) {
            return Decision(allowed: true, reason: "allow \(r.text)")
        }
        return Decision(allowed: false, reason: allow.isEmpty ? "allow list is empty" : "no allow rule for \(h):\(port)")
    }

    /// Judges one resolved address at connect time: a deny range refuses it; a restricted
    /// class (`IPAddress.Restricted`) is refused unless an allow rule names the address or a
    /// range holding it. A NAT64 address is judged by the IPv4 address it carries. So is an
    /// address of one of this host's own interfaces, or in a range the kernel routes as local
    /// (`isLocal`): the proxy connects from the host, so a name rebound to the host's public or
    /// bridge address reached services the host binds to all interfaces (and firewalls trust as
    /// local traffic).
    public func check(address: IPAddress, port: UInt16, isLocal: (IPAddress) -> Bool = { _ in false }) -> Decision {
        if let r = deny.first(where: { $0.covers(address: address, port: port) }) {
            return Decision(allowed: false, reason: "deny \(r.text)")
        }
        if address.restrictedClass == nil, isLocal(address) || (address.nat64IPv4.map(isLocal) ?? false) {
            if let r = allow.first(where: { $0.covers(address: address, port: port) }) {
                return Decision(allowed: true, reason: "allow \(r.text)")
            }
            return Decision(allowed: false, reason: "address \(address) of this host's own interfaces or local routes")
        }
        guard let c = address.restrictedClass else { return Decision(allowed: true, reason: "public address") }
        if let r = allow.first(where: { $0.covers(address: address, port: port) }) {
            return Decision(allowed: true, reason: "allow \(r.text)")
        }
        let carried = address.nat64IPv4.map { " (NAT64 of \($0))" } ?? ""
        return Decision(allowed: false, reason: "\(c.rawValue) address \(address)\(carried)")
    }

    /// The DNS stub's test: the rule text allowing `name` on at least one port no deny rule
    /// takes back, or nil. IP literals are never answered.
    public func nameAllowed(_ name: String) -> String? {
        guard let h = EgressPolicy.normalize(name), IPAddress(h) == nil else { return nil }
        let ports = Set(allow.flatMap(\.effectivePorts))
        for p in ports.sorted() {
            let d = decide(host: h, port: p)
            if d.allowed { return d.reason }
        }
        return nil
    }

    /// Why the DNS stub refuses `name`: the deny rule that names it on a port an allow rule
    /// would have given it (red-team pass, 2026-12-03: logged as "no allow rule" although an
    /// allow rule matched), else that no allow rule names it.
    public func nameRefusal(_ name: String) -> String {
        if let h = EgressPolicy.normalize(name), IPAddress(h) == nil {
            for p in Set(allow.flatMap(\.effectivePorts)).sorted() {
                let d = decide(host: h, port: p)
                if !d.allowed && d.reason.hasPrefix("deny ") { return d.reason }
            }
        }
        return "no allow rule for \(name)"
    }

    /// Ports captured transparently inside the sandbox: every port of a name rule, but the
    /// proxy's own and DNS's (the sandbox's resolver listens on 127.0.0.1:53, TCP too, so a
    /// listener on 0.0.0.0:53 could not be made: `run` failed where `explain` promised a
    /// capture). A name rule on port 53 is reached through the proxy (CONNECT).
    public var capturePorts: [UInt16] {
        var ports = Set<UInt16>()
        for r in allow {
            if case .range = r.host { continue }
            ports.formUnion(r.effectivePorts)
        }
        ports.remove(EgressPolicy.proxyPort)
        ports.remove(53)
        return ports.sorted()
    }

    /// Most capture ports (one listener each inside the sandbox).
    public static let maxCapturePorts = 32

    /// `check`/`explain` warnings about over-broad rules.
    public var warnings: [String] {
        var out: [String] = []
        for r in allow {
            switch r.host {
            case .subdomains(let suffix) where PublicSuffix.sharedHosting.contains(suffix):
                out.append("network.allow: \"\(r.text)\" matches every customer of the shared host `\(suffix)`; name the exact hosts (\(r.origin))")
            case .range(let a, let prefix) where prefix < (a.isV4 ? 16 : 48):
                out.append("network.allow: \"\(r.text)\" is a wide address range (/\(prefix)); name the addresses the server needs (\(r.origin))")
            default: break
            }
        }
        // A name rule reaches a `hosts` address of a restricted class only with an address rule
        // beside it (`check(address:)`): `hosts = { "db.test" = "127.0.0.1" }` with only
        // "db.test:5432" allowed was refused at every connection, and nothing said so before.
        let ports = Set(allow.flatMap(\.effectivePorts)).sorted()
        for (name, addresses) in hosts.sorted(by: { $0.key < $1.key }) {
            let named = ports.filter { decide(host: name, port: $0).allowed }
            for a in addresses {
                guard let c = a.restrictedClass else { continue }
                let refused = named.filter { !check(address: a, port: $0).allowed }
                guard !refused.isEmpty else { continue }
                let host = a.isV4 ? a.description : "[\(a.description)]"
                let rules = refused.prefix(3).map { "\"\(host):\($0)\"" }.joined(separator: ", ")
                out.append("network.hosts: \"\(name)\" is \(a), a \(c.rawValue) address, and no allow rule names it: "
                           + "every connection to \(name) on port \(refused.map(String.init).prefix(3).joined(separator: ", "))\(refused.count > 3 ? ", …" : "") is refused; "
                           + "add \(rules)\(refused.count > 3 ? ", …" : "") to network.allow to reach it")
            }
        }
        return out
    }
}
