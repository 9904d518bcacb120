#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are held as the
/// IPv4 address they carry; NAT64 addresses (`64:ff9b::a.b.c.d`) are kept but judged by it.
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

    /// The address classes refused by default: every block of IANA's IPv4 and IPv6
    /// special-purpose registries that is not globally reachable (whole, with the few reachable
    /// anycast entries inside `192.0.0.0/24` and `2001::/23`), plus multicast, site-local and
    /// IPv4-compatible IPv6; except the documentation (`192.0.2.0/24`, `198.51.100.0/24`,
    /// `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`) and IPv4 benchmarking (`198.18.0.0/15`)
    /// ranges, judged by the rules like public addresses: test networks and
    /// fake-IP resolvers hand them out for real hosts (IPv6 benchmarking,
    /// `2001:2::/48`, lies in `2001::/23` and is refused with it). Only these, nothing else.
    public enum Restricted: String, Sendable, CaseIterable {
        case loopback, `private` = "private", shared, linkLocal = "link-local", multicast, unspecified
        case protocolAssignments = "protocol-assignments", translation, reserved

        /// The ranges of each class, as documented.
        public var ranges: [String] {
            switch self {
            case .loopback: ["127.0.0.0/8", "::1/128"]
            case .private: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10"]
            case .shared: ["100.64.0.0/10"]
            case .linkLocal: ["169.254.0.0/16", "fe80::/10"]
            case .multicast: ["224.0.0.0/4", "ff00::/8"]
            case .unspecified: ["0.0.0.0/8", "::/128"]
            case .protocolAssignments: ["192.0.0.0/24", "2001::/23"]
            case .translation: ["64:ff9b:1::/48", "2002::/16"]
            case .reserved: ["240.0.0.0/4", "::/96", "100::/64", "100:0:0:1::/64", "5f00::/16"]
            }
        }

        /// The parsed ranges of every class, in order (the first holding an address names it).
        static let table: [(Restricted, IPAddress, Int)] = allCases.flatMap { c in
            c.ranges.compactMap { IPAddress.parseRange($0).map { (c, $0.0, $0.1) } }
        }
    }

    /// The well-known NAT64 prefix (RFC 6052): `64:ff9b::a.b.c.d` reaches IPv4 `a.b.c.d`.
    public static let nat64 = (IPAddress("64:ff9b::")!, 96)

    /// The IPv4 address a NAT64 address (`64:ff9b::/96`) carries, or nil.
    public var nat64IPv4: IPAddress? {
        guard !isV4, within(IPAddress.nat64.0, prefix: IPAddress.nat64.1) else { return nil }
        return IPAddress(bytes: Array(bytes[12..<16]))
    }

    /// The NAT64 form of an IPv4 range (`10.0.0.0/8` → `64:ff9b::a00:0/104`); other ranges unchanged.
    public static func nat64Range(_ range: (IPAddress, Int)) -> (IPAddress, Int) {
        guard range.0.isV4, let a = IPAddress(bytes: Array(nat64.0.bytes[0..<12]) + range.0.bytes) else { return range }
        return (a, range.1 + nat64.1)
    }

    /// The address judged for classes and address rules: the IPv4 address a NAT64 address
    /// carries, else the address itself (IPv4-mapped addresses are IPv4 already).
    public var judged: IPAddress { nat64IPv4 ?? self }

    /// The restricted class this address falls in (a NAT64 address: the class of the IPv4
    /// address it carries), or nil for an ordinary public address, judged by the name rules alone.
    public var restrictedClass: Restricted? {
        let a = judged
        return Restricted.table.first { $0.1.bytes.count == a.bytes.count && a.within($0.1, prefix: $0.2) }?.0
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
