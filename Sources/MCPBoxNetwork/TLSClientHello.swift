/// The server name (SNI) of a TLS ClientHello read from the sandbox (untrusted bytes), with
/// hard limits: at most `maxBytes` of handshake records are ever buffered.
public enum TLSClientHello {
    public static let maxBytes = 16 * 1024 + 5 * 4

    public enum Result: Sendable, Equatable {
        /// Need more bytes.
        case incomplete
        /// The first bytes are not a TLS handshake record.
        case notTLS
        case malformed(String)
        /// A well-formed ClientHello without a host_name.
        case noServerName
        case serverName(String)

        /// A well-formed ClientHello, with or without a server name.
        public var isClientHello: Bool {
            switch self {
            case .noServerName, .serverName: return true
            default: return false
            }
        }
    }

    /// Parses the ClientHello at the start of `data` (one or more handshake records).
    ///
    /// What a TLS server could take for TLS is judged as TLS: a first record of any TLS content
    /// type (20-25) and any version. Only a handshake record carrying a ClientHello passes, so
    /// a warning alert or a change-cipher-spec record first (which Go's crypto/tls skips before
    /// the ClientHello), or a record version other than 3.x (Go accepts any below 0x1000), can no
    /// longer make the ClientHello after it unjudged. An SSLv2-format ClientHello (no extensions,
    /// so no server name) is refused. Any other first byte is not TLS, judged from that byte.
    public static func serverName(_ data: [UInt8]) -> Result { parse(data).result }

    /// `serverName`'s verdict with where the ClientHello's records end in `data` (0 unless the
    /// verdict is a ClientHello): what follows is the client's next flight, which a TLS client
    /// sends only after the server's reply.
    public static func parse(_ data: [UInt8]) -> (result: Result, end: Int) {
        let (result, end) = parseRecords(data)
        return (result, result.isClientHello ? end : 0)
    }

    static func parseRecords(_ data: [UInt8]) -> (Result, Int) {
        guard let first = data.first else { return (.incomplete, 0) }
        if first & 0x80 != 0 {
            // SSLv2 record header (2 bytes, high bit set), then message type 1: CLIENT-HELLO.
            guard data.count >= 3 else { return (.incomplete, 0) }
            return (data[2] == 1 ? .malformed("an SSLv2-format ClientHello (it cannot name a server)") : .notTLS, 0)
        }
        guard (20...25).contains(first) else { return (.notTLS, 0) }
        guard first == 22 else { return (.malformed("a TLS record of type \(first) before the ClientHello"), 0) }
        // Reassemble the handshake message from consecutive records.
        var message: [UInt8] = []
        var i = 0
        var need: Int?
        while true {
            if let need, message.count >= need { break }
            guard i + 5 <= data.count else { return (data.count >= maxBytes ? .malformed("too large") : .incomplete, 0) }
            guard data[i] == 22 else { return (.malformed("record type"), 0) }
            let len = Int(data[i + 3]) << 8 | Int(data[i + 4])
            guard len > 0, len <= 16384 else { return (.malformed("record length"), 0) }
            guard i + 5 + len <= data.count else { return (data.count >= maxBytes ? .malformed("too large") : .incomplete, 0) }
            message += data[(i + 5)..<(i + 5 + len)]
            i += 5 + len
            if need == nil, message.count >= 4 {
                guard message[0] == 1 else { return (.malformed("not a ClientHello"), 0) }
                let hlen = Int(message[1]) << 16 | Int(message[2]) << 8 | Int(message[3])
                guard hlen <= 16384 else { return (.malformed("ClientHello too large"), 0) }
                need = 4 + hlen
            }
            if i >= maxBytes { return (.malformed("too large"), 0) }
        }
        guard let need else { return (.incomplete, 0) }
        // Another handshake message in the ClientHello's last record (a second ClientHello a
        // server would take after its HelloRetryRequest) would reach the server unjudged.
        guard message.count == need else { return (.malformed("another handshake message after the ClientHello in its record"), 0) }
        var r = Reader(bytes: Array(message[4..<need]))
        guard r.skip(2 + 32), let sid = r.u8(), r.skip(Int(sid)),
              let cs = r.u16(), r.skip(Int(cs)), let comp = r.u8(), r.skip(Int(comp)) else {
            return (.malformed("ClientHello body"), 0)
        }
        if r.remaining == 0 { return (.noServerName, i) }
        guard let extLen = r.u16(), extLen == r.remaining else { return (.malformed("extensions length"), 0) }
        var found: String?
        var seen = Set<UInt16>()
        while r.remaining > 0 {
            guard let type = r.u16(), let len = r.u16(), let body = r.take(Int(len)) else { return (.malformed("extension"), 0) }
            guard seen.insert(type).inserted else { return (.malformed("duplicate extension"), 0) }
            guard type == 0 else { continue }
            var s = Reader(bytes: body)
            guard let listLen = s.u16(), listLen == s.remaining else { return (.malformed("server_name list"), 0) }
            while s.remaining > 0 {
                guard let kind = s.u8(), let nlen = s.u16(), let name = s.take(Int(nlen)) else { return (.malformed("server_name entry"), 0) }
                guard kind == 0 else { continue }
                guard found == nil else { return (.malformed("several host names"), 0) }
                guard !name.isEmpty, name.count <= 253, name.allSatisfy({ $0 > 32 && $0 < 127 }) else {
                    return (.malformed("host name bytes"), 0)
                }
                found = String(decoding: name, as: UTF8.self)
            }
        }
        return (found.map { .serverName($0) } ?? .noServerName, i)
    }

    struct Reader {
        let bytes: [UInt8]
        var at = 0
        var remaining: Int { bytes.count - at }
        mutating func u8() -> UInt8? {
            guard remaining >= 1 else { return nil }
            defer { at += 1 }
            return bytes[at]
        }
        mutating func u16() -> UInt16? {
            guard remaining >= 2 else { return nil }
            defer { at += 2 }
            return UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])
        }
        mutating func skip(_ n: Int) -> Bool {
            guard n >= 0, remaining >= n else { return false }
            at += n
            return true
        }
        mutating func take(_ n: Int) -> [UInt8]? {
            guard n >= 0, remaining >= n else { return nil }
            defer { at += n }
            return Array(bytes[at..<(at + n)])
        }
    }
}
