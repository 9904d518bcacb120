#if canImport(Glibc)
import Glibc
#endif

/// A DNS query from the sandbox (untrusted bytes) and the stub's answer. Only what a stub
/// resolver sends is accepted: one question, class IN, no answer or authority records, at most
/// one additional record (EDNS OPT), 512 bytes at most.
public struct DNSQuery: Sendable, Equatable {
    public var id: UInt16
    /// Recursion desired, echoed.
    public var flags: UInt16
    /// Lower case, dot-separated, without the trailing dot.
    public var name: String
    public var type: UInt16
    /// The question section as received (echoed in the answer).
    public var question: [UInt8]

    public static let maxBytes = 512

    public enum ParseError: Error, Equatable, Sendable {
        /// Not even a header: drop it.
        case tooShort
        /// A header with an id: answer FORMERR.
        case malformed(id: UInt16, flags: UInt16)
    }

    public static func parse(_ b: [UInt8]) -> Result<DNSQuery, ParseError> {
        guard b.count >= 12 else { return .failure(.tooShort) }
        let id = UInt16(b[0]) << 8 | UInt16(b[1])
        let flags = UInt16(b[2]) << 8 | UInt16(b[3])
        let bad = ParseError.malformed(id: id, flags: flags)
        guard b.count <= maxBytes else { return .failure(bad) }
        let qd = UInt16(b[4]) << 8 | UInt16(b[5]), an = UInt16(b[6]) << 8 | UInt16(b[7])
        let ns = UInt16(b[8]) << 8 | UInt16(b[9]), ar = UInt16(b[10]) << 8 | UInt16(b[11])
        // QR = 0 (a query), opcode 0 (QUERY), one question.
        guard flags & 0x8000 == 0, (flags >> 11) & 0xF == 0, qd == 1, an == 0, ns == 0, ar <= 1 else { return .failure(bad) }
        var i = 12
        var labels: [String] = []
        var total = 0
        while true {
            guard i < b.count else { return .failure(bad) }
            let len = Int(b[i])
            i += 1
            if len == 0 { break }
            // No compression pointers in a question; labels of 1-63 bytes; names of 255 at most.
            guard len <= 63, i + len <= b.count else { return .failure(bad) }
            total += len + 1
            guard total <= 254 else { return .failure(bad) }
            let label = b[i..<(i + len)]
            guard label.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ".") }) else { return .failure(bad) }
            labels.append(String(decoding: label, as: UTF8.self).lowercased())
            i += len
        }
        guard i + 4 <= b.count else { return .failure(bad) }
        let type = UInt16(b[i]) << 8 | UInt16(b[i + 1])
        let cls = UInt16(b[i + 2]) << 8 | UInt16(b[i + 3])
        guard cls == 1 else { return .failure(bad) }
        let question = Array(b[12..<(i + 4)])
        return .success(DNSQuery(id: id, flags: flags, name: labels.joined(separator: "."), type: type, question: question))
    }

    public enum Rcode: UInt16, Sendable {
        case noError = 0, formErr = 1, servFail = 2, nxDomain = 3, refused = 5
    }

    /// An answer: the question echoed, and an A record for `address` when given.
    public func answer(_ rcode: Rcode, address: [UInt8]? = nil, ttl: UInt32 = 60) -> [UInt8] {
        var out: [UInt8] = []
        let f: UInt16 = 0x8000 | 0x0400 * 0 | (flags & 0x0100) | 0x0080 | rcode.rawValue  // QR, RD echoed, RA
        out += [UInt8(id >> 8), UInt8(id & 0xff), UInt8(f >> 8), UInt8(f & 0xff), 0, 1, 0, address == nil ? 0 : 1, 0, 0, 0, 0]
        out += question
        if let address, address.count == 4 {
            out += [0xC0, 12, 0, 1, 0, 1]
            out += [UInt8(ttl >> 24), UInt8((ttl >> 16) & 0xff), UInt8((ttl >> 8) & 0xff), UInt8(ttl & 0xff), 0, 4]
            out += address
        }
        return out
    }

    /// FORMERR for a query whose header could be read.
    public static func formErr(id: UInt16, flags: UInt16) -> [UInt8] {
        let f: UInt16 = 0x8000 | (flags & 0x0100) | 0x0080 | Rcode.formErr.rawValue
        return [UInt8(id >> 8), UInt8(id & 0xff), UInt8(f >> 8), UInt8(f & 0xff), 0, 0, 0, 0, 0, 0, 0, 0]
    }
}

/// Names the DNS stub answered, each with a fake address in 198.18.0.0/15 that routes to the
/// capture listeners inside the sandbox; the listener maps the address back to the name.
public final class FakeAddresses: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var byName: [String: UInt32] = [:]
    private var byAddress: [UInt32: String] = [:]
    private var next: UInt32 = 2
    /// The first address of the range and how many it holds.
    public let base: UInt32
    public let size: UInt32
    /// The most names one session's stub gives addresses (past it: SERVFAIL): the table is
    /// mcpbox's memory, outside the sandbox's limit (a few hundred bytes a name).
    public static let maxNames: UInt32 = 4096

    /// 198.18.0.0/15 by default (assigned to the sandbox's `lo` by the native launch).
    public init(base: UInt32 = 0xC612_0000, size: UInt32 = 1 << 17) {
        self.base = base
        self.size = size
        pthread_mutex_init(&lock, nil)
    }

    /// 127.198.0.0/16: under gVisor, whose loopback already holds all of 127.0.0.0/8 and
    /// which lets no unprivileged process add an address to `lo`.
    public static func loopback() -> FakeAddresses { FakeAddresses(base: 0x7FC6_0000, size: 1 << 16) }

    /// The range as text (`198.18.0.0/15`).
    public var range: String {
        "\(base >> 24).\((base >> 16) & 0xff).\((base >> 8) & 0xff).\(base & 0xff)/\(32 - size.trailingZeroBitCount)"
    }

    /// The address for `name` (allocated on first use); nil once the range is exhausted.
    public func address(for name: String) -> IPAddress? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        let v: UInt32
        if let known = byName[name] { v = known } else {
            guard next < size - 1, next - 2 < Self.maxNames else { return nil }
            v = base | next
            next += 1
            byName[name] = v
            byAddress[v] = name
        }
        return IPAddress(bytes: [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)])
    }

    /// The name a fake address was given to, or nil.
    public func name(for address: IPAddress) -> String? {
        guard address.isV4 else { return nil }
        let v = address.bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return byAddress[v]
    }
}
