import Glibc

/// One `[network] allow` or `deny` entry: `host[:port]`, `*.suffix[:port]`, an IP literal
/// (`10.1.2.3`, `[fd00::1]`) or range (`10.0.0.0/8`, `[fd00::/8]`), with an optional port.
/// Without a port a rule covers 80 and 443.
public struct EgressRule: Sendable, Hashable, CustomStringConvertible {
    public enum Host: Sendable, Hashable {
        /// An exact name, lower case, without a trailing dot.
        case name(String)
        /// `*.suffix`: strict subdomains of `suffix` (not `suffix` itself).
        case subdomains(of: String)
        /// An address or range, named explicitly: it also lifts the default refusal of
        /// restricted address classes inside it.
        case range(IPAddress, prefix: Int)
    }

    public var host: Host
    /// Empty = 80 and 443.
    public var ports: [UInt16]
    /// The text as written.
    public var text: String
    /// Where it came from ("fetch.toml: network.allow").
    public var origin: String

    public static let defaultPorts: [UInt16] = [80, 443]
    /// A deny rule without a port: the host on every port (set by `EgressPolicy`; an allow
    /// rule without one means 80 and 443).
    public var everyPort = false

    public var description: String { text }

    public var effectivePorts: [UInt16] { ports.isEmpty ? EgressRule.defaultPorts : ports }

    /// Parses a rule; the error message says what is wrong and how to write it.
    public static func parse(_ raw: String, origin: String) -> Result<EgressRule, RuleError> {
        let text = raw
        guard !raw.isEmpty, raw.utf8.count <= 300 else { return .failure(RuleError("empty or overlong rule")) }
        var hostPart = Substring(raw)
        var port: UInt16?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { return .failure(RuleError("unclosed `[` in \"\(raw)\"")) }
            let inner = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
            let rest = hostPart[hostPart.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let p = parsePort(rest.dropFirst()) else {
                    return .failure(RuleError("invalid port in \"\(raw)\"", hint: "write [ADDRESS]:PORT with PORT from 1 to 65535"))
                }
                port = p
            }
            guard inner.contains(":"), let (a, prefix) = IPAddress.parseRange(String(inner)), !a.isV4 || inner.contains(":") else {
                return .failure(RuleError("\"\(raw)\" is not a bracketed IPv6 address or range"))
            }
            return .success(EgressRule(host: .range(a, prefix: prefix), ports: port.map { [$0] } ?? [], text: text, origin: origin))
        }
        let colons = hostPart.filter { $0 == ":" }.count
        if colons > 1 {
            return .failure(RuleError("IPv6 address \"\(raw)\" must be bracketed", hint: "write [\(raw)] or [\(raw)]:PORT"))
        }
        if colons == 1, let c = hostPart.lastIndex(of: ":") {
            guard let p = parsePort(hostPart[hostPart.index(after: c)...]) else {
                return .failure(RuleError("invalid port in \"\(raw)\"", hint: "write HOST:PORT with PORT from 1 to 65535"))
            }
            port = p
            hostPart = hostPart[..<c]
        }
        let ports = port.map { [$0] } ?? []
        if let (a, prefix) = IPAddress.parseRange(String(hostPart)), a.isV4 {
            return .success(EgressRule(host: .range(a, prefix: prefix), ports: ports, text: text, origin: origin))
        }
        var name = hostPart.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        if name == "*" {
            return .failure(RuleError("\"*\" would allow every host", hint: "name the hosts the server needs, or use mode = \"host\""))
        }
        if name.hasPrefix("*.") {
            let suffix = String(name.dropFirst(2))
            guard isHostName(suffix) else { return .failure(RuleError("invalid host name in \"\(raw)\"")) }
            if PublicSuffix.isPublicSuffix(suffix) {
                return .failure(RuleError("\"\(raw)\" matches every name under the public suffix `\(suffix)`",
                                          hint: "name a registrable domain, e.g. *.example.\(suffix)"))
            }
            return .success(EgressRule(host: .subdomains(of: suffix), ports: ports, text: text, origin: origin))
        }
        if let a = numericAddress(name) {
            return .failure(RuleError("\"\(raw)\" is not a host name: the resolver reads it as the IPv4 address \(a) (octal, hexadecimal or short form)",
                                      hint: "write the address as four decimal numbers without leading zeros: \(a)"))
        }
        guard isHostName(name) else {
            return .failure(RuleError("invalid host name in \"\(raw)\"",
                                      hint: "letters, digits, - and . only; `*.` only as the first label"))
        }
        return .success(EgressRule(host: .name(name), ports: ports, text: text, origin: origin))
    }

    static func parsePort(_ s: Substring) -> UInt16? {
        guard !s.isEmpty, s.count <= 5, s.allSatisfy({ $0.isASCII && $0.isNumber }), let v = Int(s), v >= 1, v <= 65535 else { return nil }
        return UInt16(v)
    }

    /// The IPv4 address `s` is to the resolver (`inet_aton`, which glibc's `getaddrinfo` uses for
    /// numeric hosts: `0313.0.113.10`, `203.0.113.010`, `0xcb007110`, `203.113.10`), in dotted
    /// decimal; nil when it is not one. Such a text is never a host name: a rule or a request
    /// naming it would be judged as a name and connected as an address (red-team pass,
    /// 2026-12-03: a deny of `0313.0.113.10` did not hold against `203.0.113.10`).
    public static func numericAddress(_ s: String) -> String? {
        guard let first = s.utf8.first, first >= 48 && first <= 57 else { return nil }
        var a = in_addr()
        guard inet_aton(s, &a) != 0 else { return nil }
        let v = UInt32(bigEndian: a.s_addr)
        return "\(v >> 24).\(v >> 16 & 255).\(v >> 8 & 255).\(v & 255)"
    }

    /// A DNS host name: labels of 1-63 letters, digits, `-` or `_` (not at either end),
    /// 253 characters at most.
    public static func isHostName(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 253, numericAddress(s) == nil else { return false }
        for label in s.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.utf8.count <= 63, label.first != "-", label.last != "-" else { return false }
            guard label.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 }) else { return false }
        }
        return true
    }

    /// Whether this rule names `host` (already normalized: lower case, no trailing dot).
    public func matches(host: String, port: UInt16) -> Bool {
        guard everyPort || effectivePorts.contains(port) else { return false }
        switch self.host {
        case .name(let n): return n == host
        case .subdomains(let suffix): return host.hasSuffix("." + suffix) && host.utf8.count > suffix.utf8.count + 1
        case .range(let net, let prefix):
            guard let a = IPAddress(host) else { return false }
            return a.within(net, prefix: prefix) || a.judged.within(net, prefix: prefix)
        }
    }

    /// Whether this rule names `address` explicitly (an address or range rule containing it, or
    /// the IPv4 address a NAT64 address carries).
    public func covers(address: IPAddress, port: UInt16) -> Bool {
        guard everyPort || effectivePorts.contains(port), case .range(let net, let prefix) = host else { return false }
        return address.within(net, prefix: prefix) || address.judged.within(net, prefix: prefix)
    }
}

public struct RuleError: Error, Sendable, Equatable {
    public var message: String
    public var hint: String?
    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }
}

/// Public suffixes a wildcard may not span. Not the whole Public Suffix List: every
/// single-label suffix (top-level domains) plus the common multi-label registry suffixes.
public enum PublicSuffix {
    static let multiLabel: Set<String> = [
        "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "ltd.uk", "plc.uk", "net.uk",
        "com.au", "net.au", "org.au", "edu.au", "gov.au", "co.nz", "org.nz", "net.nz",
        "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp", "co.kr", "or.kr", "com.cn", "net.cn", "org.cn",
        "com.br", "net.br", "org.br", "com.mx", "com.ar", "com.tr", "com.tw", "com.hk", "com.sg",
        "co.in", "net.in", "org.in", "co.za", "co.il", "com.ua", "com.pl", "co.id", "com.my",
    ]

    /// True for a top-level domain alone or a listed registry/hosting suffix.
    public static func isPublicSuffix(_ s: String) -> Bool {
        !s.contains(".") || multiLabel.contains(s)
    }

    /// Shared-hosting domains whose subdomains belong to many unrelated customers: a wildcard
    /// directly beneath one is allowed, and warned about.
    public static let sharedHosting: Set<String> = [
        "amazonaws.com", "cloudfront.net", "azurewebsites.net", "blob.core.windows.net", "googleapis.com",
        "appspot.com", "herokuapp.com", "github.io", "vercel.app", "netlify.app",
        "pages.dev", "workers.dev", "firebaseapp.com", "web.app", "r2.dev", "ngrok.io", "ngrok-free.app",
    ]
}
