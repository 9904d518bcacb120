#if canImport(Glibc)
import Glibc
#endif

/// Name resolution outside the sandbox: `[network] hosts` first, then the host's own
/// resolver (getaddrinfo(3): /etc/hosts, then DNS, as nsswitch.conf says).
public enum Resolver {
    public enum Failure: Error, Equatable, Sendable {
        case notFound(String)
    }

    /// The addresses of `host` (an IP literal is its own address), in resolver order,
    /// de-duplicated.
    public static func resolve(_ host: String, hosts: [String: [IPAddress]]) -> Result<[IPAddress], Failure> {
        if let a = IPAddress(host) { return .success([a]) }
        if let mapped = hosts[host] { return .success(mapped) }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_ADDRCONFIG
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &res)
        guard rc == 0, let first = res else {
            return .failure(.notFound(String(cString: gai_strerror(rc))))
        }
        defer { freeaddrinfo(first) }
        var out: [IPAddress] = []
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let ai = p {
            if let sa = ai.pointee.ai_addr, let a = address(of: sa), !out.contains(a) { out.append(a) }
            p = ai.pointee.ai_next
        }
        return out.isEmpty ? .failure(.notFound("no address")) : .success(out)
    }

    /// The address in a sockaddr_in / sockaddr_in6.
    static func address(of sa: UnsafePointer<sockaddr>) -> IPAddress? {
        switch Int32(sa.pointee.sa_family) {
        case AF_INET:
            return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { s in
                var a = s.pointee.sin_addr
                return IPAddress(bytes: withUnsafeBytes(of: &a) { Array($0) })
            }
        case AF_INET6:
            return sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { s in
                var a = s.pointee.sin6_addr
                return IPAddress(bytes: withUnsafeBytes(of: &a) { Array($0) })
            }
        default: return nil
        }
    }
}
