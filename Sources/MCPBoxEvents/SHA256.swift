#if canImport(Glibc)
import Glibc
#endif

/// SHA-256 (FIPS 180-4), streaming, Foundation-free: the event log's hash chain and the
/// audit log's profile hash. Whole blocks are compressed straight from the caller's buffer and
/// a partial one is kept inline, so hashing allocates nothing (the audit log hashes every record).
public struct SHA256: Sendable {
    private var h: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)
    /// The partial block (64 bytes).
    private var block: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var used = 0
    private var length: UInt64 = 0

    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var p = bytes.baseAddress, bytes.count > 0 else { return }
        var n = bytes.count
        length &+= UInt64(n)
        if used > 0 {
            let take = min(64 - used, n)
            let at = used
            withUnsafeMutableBytes(of: &block) { _ = memcpy($0.baseAddress! + at, p, take) }
            used += take
            p += take
            n -= take
            guard used == 64 else { return }
            var copy = block
            withUnsafeBytes(of: &copy) { compress($0.baseAddress!, blocks: 1) }
            used = 0
        }
        if n >= 64 {
            compress(p, blocks: n / 64)
            p += n & ~63
            n &= 63
        }
        if n > 0 {
            withUnsafeMutableBytes(of: &block) { _ = memcpy($0.baseAddress!, p, n) }
            used = n
        }
    }

    public mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        if let done: Void = bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) { return done }
        let a = Array(bytes)
        a.withUnsafeBytes { update($0) }
    }

    /// The 32-byte digest (the hasher is spent afterwards).
    public mutating func finalize() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { out, count in
            finish(into: UnsafeMutableRawPointer(out.baseAddress!))
            count = 32
        }
    }

    /// Pads, compresses the last block(s) and writes the 32-byte digest at `out`.
    private mutating func finish(into out: UnsafeMutableRawPointer) {
        let bits = length &* 8
        var tail: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                   UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let used = self.used
        let blocks = used < 56 ? 1 : 2
        withUnsafeMutableBytes(of: &tail) { t in
            withUnsafeBytes(of: &block) { _ = memcpy(t.baseAddress!, $0.baseAddress!, used) }
            t[used] = 0x80
            t.storeBytes(of: bits.bigEndian, toByteOffset: blocks * 64 - 8, as: UInt64.self)
            compress(UnsafeRawPointer(t.baseAddress!), blocks: blocks)
        }
        withUnsafeBytes(of: h) { words in
            for i in 0..<8 {
                out.storeBytes(of: words.load(fromByteOffset: i * 4, as: UInt32.self).bigEndian, toByteOffset: i * 4, as: UInt32.self)
            }
        }
    }

    /// The 64 lower-case hex digits of the digest, written at `out`.
    public mutating func finalizeHex(into out: UnsafeMutablePointer<UInt8>) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { d in
            finish(into: UnsafeMutableRawPointer(d.baseAddress!))
            Self.hex(UnsafeBufferPointer(d), into: out)
        }
    }

    /// The digest of `bytes`.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var s = SHA256()
        s.update(bytes)
        return s.finalize()
    }

    public static func hash<S: Sequence>(_ bytes: S) -> [UInt8] where S.Element == UInt8 {
        var s = SHA256()
        s.update(bytes)
        return s.finalize()
    }

    /// The hex digest of `bytes`, written at `out` (64 bytes); allocates nothing.
    public static func hexDigest(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) {
        var s = SHA256()
        s.update(bytes)
        s.finalizeHex(into: out)
    }

    private static let hexDigits: StaticString = "0123456789abcdef"

    static func hex(_ digest: UnsafeBufferPointer<UInt8>, into out: UnsafeMutablePointer<UInt8>) {
        let digits = hexDigits.utf8Start
        for (i, b) in digest.enumerated() {
            out[2 * i] = digits[Int(b >> 4)]
            out[2 * i + 1] = digits[Int(b & 15)]
        }
    }

    /// Lower-case hex of `digest`.
    public static func hex(_ digest: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: digest.count * 2) { out in
            digest.withUnsafeBufferPointer { hex($0, into: out.baseAddress!) }
            return digest.count * 2
        }
    }

    @inline(__always) private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x &>> n) | (x &<< (32 &- n)) }

    /// One round; the caller rotates the roles of the eight working variables (8 rounds unrolled).
    @inline(__always) private static func round(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: inout UInt32,
                                                _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: inout UInt32, _ kw: UInt32) {
        // Σ1(e) = rotr(e ^ rotr(e, 14) ^ rotr(e, 20), 6), Σ0(a) likewise: fewer register copies;
        // Ch = g ^ (e & (f ^ g)), Maj = (a & b) | (c & (a | b)).
        let t1 = h &+ rotr(e ^ rotr(e ^ rotr(e, 14), 5), 6) &+ (g ^ (e & (f ^ g))) &+ kw
        let t2 = rotr(a ^ rotr(a ^ rotr(a, 9), 11), 2) &+ ((a & b) | (c & (a | b)))
        d &+= t1
        h = t1 &+ t2
    }

    /// Compresses `blocks` 64-byte blocks at `p` into the state.
    private mutating func compress(_ p: UnsafeRawPointer, blocks: Int) {
        var (a, b, c, d, e, f, g, h) = self.h
        SHA256.k.withUnsafeBufferPointer { kb in
            let k = kb.baseAddress!
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { wb in
                let w = wb.baseAddress!
                for block in 0..<blocks {
                    let m = p + block &* 64
                    for t in 0..<16 { w[t] = UInt32(bigEndian: m.loadUnaligned(fromByteOffset: t &* 4, as: UInt32.self)) }
                    for t in 16..<64 {
                        let x = w[t &- 15], y = w[t &- 2]
                        let s0 = Self.rotr(x, 7) ^ Self.rotr(x, 18) ^ (x &>> 3)
                        let s1 = Self.rotr(y, 17) ^ Self.rotr(y, 19) ^ (y &>> 10)
                        w[t] = w[t &- 16] &+ s0 &+ w[t &- 7] &+ s1
                    }
                    let (a0, b0, c0, d0, e0, f0, g0, h0) = (a, b, c, d, e, f, g, h)
                    var t = 0
                    while t < 64 {
                        Self.round(a, b, c, &d, e, f, g, &h, k[t] &+ w[t])
                        Self.round(h, a, b, &c, d, e, f, &g, k[t &+ 1] &+ w[t &+ 1])
                        Self.round(g, h, a, &b, c, d, e, &f, k[t &+ 2] &+ w[t &+ 2])
                        Self.round(f, g, h, &a, b, c, d, &e, k[t &+ 3] &+ w[t &+ 3])
                        Self.round(e, f, g, &h, a, b, c, &d, k[t &+ 4] &+ w[t &+ 4])
                        Self.round(d, e, f, &g, h, a, b, &c, k[t &+ 5] &+ w[t &+ 5])
                        Self.round(c, d, e, &f, g, h, a, &b, k[t &+ 6] &+ w[t &+ 6])
                        Self.round(b, c, d, &e, f, g, h, &a, k[t &+ 7] &+ w[t &+ 7])
                        t &+= 8
                    }
                    a &+= a0; b &+= b0; c &+= c0; d &+= d0; e &+= e0; f &+= f0; g &+= g0; h &+= h0
                }
            }
        }
        self.h = (a, b, c, d, e, f, g, h)
    }

    /// Hex of the digest of a string's UTF-8 bytes.
    public static func hex(_ text: String) -> String { hex(hash(Array(text.utf8))) }

    /// Lower-case hex of a digest.
    public static func hexString(_ digest: [UInt8]) -> String { hex(digest) }

    /// Same as `finalize()`.
    public mutating func finish() -> [UInt8] { finalize() }
}
