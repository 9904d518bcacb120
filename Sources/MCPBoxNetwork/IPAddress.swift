#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are judged as the
/// IPv4 address they carry.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 or 16 bytes, network order.
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            self.bytes = Array(bytes[12..<16])
        } else {
            self.bytes = bytes
        }
    }

    /// Parses a literal (inet_pton(3)): dotted quad or IPv6 text, without brackets.
    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        var v4 = in_addr()
        if text.withCString({ inet_pton(AF_INET, $0, &v4) }) == 1 {
            self.init(bytes: withUnsafeBytes(of: &v4) { Array($0) })
            return
        }
        var v6 = in6_addr()
        if text.withCString({ inet_pton(AF_INET6, $0, &v6) }) == 1 {
            self.init(bytes: withUnsafeBytes(of: &v6) { Array($0) })
            return
        }
        return nil
    }

    public var isV4: Bool { bytes.count == 4 }

    /// inet_ntop(3) text (IPv6 without brackets).
    public var description: String {
        var buf = [CChar](repeating: 0, count: 64)
        let family = isV4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buf, socklen_t(buf.count)) }
        let end = buf.firstIndex(of: 0) ?? buf.count
        return String(decoding: buf[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether the first `prefix` bits equal those of `network` (same family).
    public func within(_ network: IPAddress, prefix: Int) -> Bool {
        guard network.bytes.count == bytes.count, prefix >= 0, prefix <= bytes.count * 8 else { return false }
        var bits = prefix
        for i in 0..<bytes.count where bits > 0 {
            let take = min(8, bits)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - take))
            if bytes[i] & mask != network.bytes[i] & mask { return false }
            bits -= take
        }
        return true
    }

    /// The address classes refused by default: only these, nothing else.
    public enum Restricted: String, Sendable, CaseIterable {
        case loopback, `private` = "private", linkLocal = "link-local", multicast, unspecified

        /// The ranges of each class, as documented.
        public var ranges: [String] {
            switch self {
            case .loopback: ["127.0.0.0/8", "::1/128"]
            case .private: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
            case .linkLocal: ["169.254.0.0/16", "fe80::/10"]
            case .multicast: ["224.0.0.0/4", "ff00::/8"]
            case .unspecified: ["0.0.0.0/8", "::/128"]
            }
        }
    }

    /// The restricted class this address falls in, or nil for an ordinary (public or
    /// documentation) address, which is judged by the name rules alone.
    public var restrictedClass: Restricted? {
        for c in Restricted.allCases {
            for r in c.ranges {
                if let (net, prefix) = IPAddress.parseRange(r), within(net, prefix: prefix) { return c }
            }
        }
        return nil
    }

    /// `ADDR/PREFIX` (or a bare address: a full-length prefix).
    public static func parseRange(_ text: String) -> (IPAddress, Int)? {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let a = IPAddress(String(parts[0])) else { return nil }
        if parts.count == 1 { return (a, a.bytes.count * 8) }
        guard let p = Int(parts[1]), p >= 0, p <= a.bytes.count * 8, parts[1].allSatisfy(\.isNumber) else { return nil }
        return (a, p)
    }
}
