#if canImport(Glibc)
import Glibc
#endif

/// A JSON value as the MCP layer sees it: numbers keep their source text (re-serialized exactly),
/// objects keep their key order. Produced only by `JSON.parse`, which bounds size and depth.
public indirect enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's text as written (strict JSON grammar, or NaN / Infinity / -Infinity).
    case number(String)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value under `key` of an object (nil for other kinds or a missing key).
    public subscript(key: String) -> JSON? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first(where: { $0.0 == key })?.1
    }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }

    /// Replaces the value of `key` in an object (no-op for other kinds or a missing key).
    public mutating func set(_ key: String, _ value: JSON) {
        guard case .object(var pairs) = self, let i = pairs.firstIndex(where: { $0.0 == key }) else { return }
        pairs[i].1 = value
        self = .object(pairs)
    }

    /// `serialized` with every character outside ASCII written as `\u{HEX}`: a dictionary key that
    /// compares byte for byte. Swift's `String` equality is canonical equivalence, so the ids
    /// `"é"` (U+00E9) and `"é"` (e, U+0301), or `"K"` and `"\u{212A}"` (KELVIN SIGN), would be one
    /// key, while every client tells them apart. (`serialized` never writes `\u{`: injective.)
    public var key: String {
        let s = serialized
        if s.utf8.allSatisfy({ $0 < 0x80 }) { return s }
        var out = ""
        for u in s.unicodeScalars {
            if u.isASCII { out.unicodeScalars.append(u) } else { out += "\\u{" + String(u.value, radix: 16) + "}" }
        }
        return out
    }

    /// Compact JSON text (no whitespace); strings escaped as `Event.quote` does.
    public var serialized: String {
        var out = ""
        JSON.write(self, into: &out)
        return out
    }

    /// `serialized`, strict JSON whatever the peer wrote: the NaN, Infinity and -Infinity tokens
    /// some peers accept become strings (`"NaN"`), as audit and event records must stay JSON
    /// that every reader reads alike (a server's `NaN` made its own records unreadable to
    /// `JSON.parse`, so it chose which of them a log pipeline dropped).
    public var strictSerialized: String {
        var out = ""
        JSON.write(self, into: &out, strict: true)
        return out
    }

    static func write(_ v: JSON, into out: inout String, strict: Bool = false) {
        switch v {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n) where strict && (n == "NaN" || n == "Infinity" || n == "-Infinity"): out += "\"" + n + "\""
        case .number(let n): out += n
        case .string(let s): JSON.quote(s, into: &out)
        case .array(let a):
            out += "["
            for (i, e) in a.enumerated() {
                if i > 0 { out += "," }
                write(e, into: &out, strict: strict)
            }
            out += "]"
        case .object(let pairs):
            out += "{"
            for (i, (k, e)) in pairs.enumerated() {
                if i > 0 { out += "," }
                JSON.quote(k, into: &out)
                out += ":"
                write(e, into: &out, strict: strict)
            }
            out += "}"
        }
    }

    /// A JSON string literal: quote, backslash and control characters escaped.
    public static func quote(_ s: String, into out: inout String) {
        out += "\""
        // Printable ASCII without a quote or backslash goes in as it is.
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f && $0 != 0x22 && $0 != 0x5c }) {
            out += s
            out += "\""
            return
        }
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                // Controls, and the line breaks readers that split text at them see inside a
                // string (NEL, U+2028, U+2029: Python's `str.splitlines`), as escapes.
                if u.value < 0x20 || u.value == 0x85 || u.value == 0x2028 || u.value == 0x2029 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}

/// Why a line is not a JSON value mcpbox accepts.
public enum JSONError: Error, Equatable, Sendable {
    /// Not JSON (or invalid UTF-8, or a duplicate key), at this byte offset.
    case syntax(Int)
    /// Nested deeper than the limit.
    case tooDeep
    /// Valid JSON with a raw CR at this byte offset (not the one before the newline): some clients
    /// end a line there (`MCPFilter.line`).
    case lineBreak(Int)
}

extension JSON {
    /// Nesting limit for arrays and objects together.
    public static let maxDepth = 128

    /// Parses one JSON text (surrounding whitespace allowed). Strict RFC 8259 plus the NaN,
    /// Infinity and -Infinity tokens some peers (Python's json) accept; a duplicate key in an
    /// object is a syntax error, because peers disagree on which one wins. Iterative bounds:
    /// depth ≤ `maxDepth`; the caller bounds the size.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = JSON.maxDepth) throws(JSONError) -> JSON {
        var p = Parser(b: bytes, maxDepth: maxDepth)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.count else { throw .syntax(p.i) }
        return v
    }

    public static func parse(_ bytes: [UInt8], maxDepth: Int = JSON.maxDepth) throws(JSONError) -> JSON {
        let r: Result<JSON, JSONError> = bytes.withUnsafeBytes { b in
            do throws(JSONError) { return .success(try parse(b, maxDepth: maxDepth)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    public static func parse(_ text: String) throws(JSONError) -> JSON { try parse(Array(text.utf8)) }

    public static func parse(_ bytes: [UInt8], keeping keep: JSONProjection) throws(JSONError) -> JSON {
        let r: Result<JSON, JSONError> = bytes.withUnsafeBytes { b in
            do throws(JSONError) { return .success(try parse(b, keeping: keep)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    /// Parses like `parse`, but builds only the members `keep` names (dotted paths into
    /// objects, e.g. `params.name`); every other value is validated with the same limits and
    /// left as `.null`, without allocating. A member's presence is kept.
    public static func parse(_ bytes: UnsafeRawBufferPointer, keeping keep: JSONProjection,
                             maxDepth: Int = JSON.maxDepth) throws(JSONError) -> JSON {
        var p = Parser(b: bytes, maxDepth: maxDepth)
        p.skipSpace()
        let v = try p.value(depth: 0, keep: keep.root)
        p.skipSpace()
        guard p.i == bytes.count else { throw .syntax(p.i) }
        return v
    }
}

/// Which members of a message `JSON.parse(_:keeping:)` builds.
public struct JSONProjection: Sendable {
    final class Node: Sendable {
        let all: Bool
        let children: [String: Node]
        init(all: Bool, children: [String: Node]) {
            self.all = all
            self.children = children
        }
    }

    let root: Node

    /// `paths` such as `["method", "id", "params.name"]`: each names a member built whole.
    public init(_ paths: [String]) {
        func build(_ paths: [[Substring]]) -> Node {
            if paths.contains(where: \.isEmpty) { return Node(all: true, children: [:]) }
            var groups: [String: [[Substring]]] = [:]
            for p in paths { groups[String(p[0]), default: []].append(Array(p.dropFirst())) }
            return Node(all: false, children: groups.mapValues(build))
        }
        root = build(paths.map { $0.split(separator: ".") })
    }
}

struct Parser {
    let b: UnsafeRawBufferPointer
    let maxDepth: Int
    var i = 0
    /// Where the pages behind `i` are next given back (`releaseBehind`); Int.max: never.
    var releaseAt = Int.max
    private var released = 0

    init(b: UnsafeRawBufferPointer, maxDepth: Int) {
        self.b = b
        self.maxDepth = maxDepth
    }

    /// How far apart the skipping loops give back pages, once `releasing()` is on.
    static let releaseStep = 256 << 10

    /// For `b` mapped from a file (MAP_SHARED, page-aligned) only: while values are skipped, the
    /// pages more than 64 KiB behind `i` are dropped from the process (MADV_DONTNEED), every
    /// `releaseStep` bytes, so a scan of a spooled line keeps only a window of it resident. The
    /// file keeps its contents: what is read again later faults back in. Never for anonymous
    /// memory, whose dropped pages would read back as zeros.
    mutating func releasing() { releaseAt = Self.releaseStep }

    @inline(never)
    mutating func releaseBehind() {
        releaseAt = i + Self.releaseStep
        let keep = (i - (64 << 10)) & ~4095
        guard keep > released, let base = b.baseAddress else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + released), keep - released, MADV_DONTNEED)
        released = keep
    }

    mutating func skipSpace() {
        while true {
            let n = min(b.count, releaseAt)
            while i < n, b[i] == 0x20 || b[i] == 0x0a || b[i] == 0x0d || b[i] == 0x09 { i += 1 }
            guard i == n, n < b.count else { return }
            releaseBehind()
        }
    }

    mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { return false }
        for k in 0..<n where b[i + k] != word.utf8Start[k] { return false }
        i += n
        return true
    }

    /// A value built where `keep` says so (nil: validated and skipped, `.null` returned).
    mutating func value(depth: Int, keep: JSONProjection.Node?) throws(JSONError) -> JSON {
        guard let keep else { try skip(depth: depth); return .null }
        if keep.all { return try value(depth: depth) }
        guard i < b.count, b[i] == UInt8(ascii: "{") else { try skip(depth: depth); return .null }
        guard depth < maxDepth else { throw .tooDeep }
        i += 1
        var pairs: [(String, JSON)] = []
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
        var keys = Set<String>()
        while true {
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw .syntax(i) }
            let at = i
            let k = try string()
            guard keys.insert(k).inserted else { throw .syntax(at) }
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { throw .syntax(i) }
            i += 1
            skipSpace()
            pairs.append((k, try value(depth: depth + 1, keep: keep.children[k])))
            skipSpace()
            guard i < b.count else { throw .syntax(i) }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
            throw .syntax(i)
        }
    }

    /// Validates one value without building it (`depth`: its nesting level). Iterative: the
    /// open containers are bits of a stack, bounded by `maxDepth`; nothing is allocated.
    mutating func skip(depth: Int) throws(JSONError) {
        var stack = ContainerStack()
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}"), openArray = UInt8(ascii: "["), closeArray = UInt8(ascii: "]")
        while true {
            if i >= releaseAt { releaseBehind() }
            skipSpace()
            guard i < b.count else { throw .syntax(i) }
            let c = b[i]
            if c == open || c == openArray {
                guard depth + stack.count < maxDepth else { throw .tooDeep }
                i += 1
                skipSpace()
                if i < b.count, b[i] == (c == open ? close : closeArray) { i += 1 } else {
                    stack.push(object: c == open)
                    if c == open { try skipKey() }
                    continue
                }
            } else if c == UInt8(ascii: "\"") {
                try skipString()
            } else {
                try skipScalar()
            }
            // After a value: a separator or closers.
            while true {
                guard let object = stack.top else { return }
                skipSpace()
                guard i < b.count else { throw .syntax(i) }
                if b[i] == UInt8(ascii: ",") {
                    i += 1
                    if object { try skipKey() }
                    break
                }
                if b[i] == (object ? close : closeArray) {
                    i += 1
                    stack.pop()
                    continue
                }
                throw .syntax(i)
            }
        }
    }

    /// A number or literal validated without building it (as `value` would accept it).
    mutating func skipScalar() throws(JSONError) {
        switch b[i] {
        case UInt8(ascii: "t"): if literal("true") { return }
        case UInt8(ascii: "f"): if literal("false") { return }
        case UInt8(ascii: "n"): if literal("null") { return }
        case UInt8(ascii: "N"): if literal("NaN") { return }
        case UInt8(ascii: "I"): if literal("Infinity") { return }
        default: try skipNumber(); return
        }
        throw .syntax(i)
    }

    /// `"key" :` inside a skipped object.
    mutating func skipKey() throws(JSONError) {
        skipSpace()
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw .syntax(i) }
        try skipString()
        skipSpace()
        guard i < b.count, b[i] == UInt8(ascii: ":") else { throw .syntax(i) }
        i += 1
    }

    /// Nonzero when any of the 8 bytes of `w` is a quote, a backslash, a control character or
    /// not ASCII (SWAR: the bytes a string scan must stop at).
    @inline(__always)
    static func specialBits(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101, high: UInt64 = 0x8080_8080_8080_8080
        let q = w ^ (ones &* 0x22), s = w ^ (ones &* 0x5c)
        let quote = (q &- ones) & ~q, backslash = (s &- ones) & ~s, control = (w &- ones &* 0x20) & ~w
        return (quote | backslash | control | w) & high
    }

    /// The bytes of `a` that are a quote, a backslash, a control character or not ASCII. A control
    /// (< 0x20) or non-ASCII (>= 0x80) byte c is one where c + 0xe0 (mod 256) >= 0x60.
    @inline(__always)
    static func special16(_ a: SIMD16<UInt8>) -> SIMDMask<SIMD16<Int8>> {
        let quote = SIMD16<UInt8>(repeating: 0x22), backslash = SIMD16<UInt8>(repeating: 0x5c)
        let bias = SIMD16<UInt8>(repeating: 0xe0), top = SIMD16<UInt8>(repeating: 0x60)
        return (a .== quote) .| (a .== backslash) .| ((a &+ bias) .>= top)
    }

    /// Whether any of the 32 bytes at `p` is a quote, a backslash, a control character or not
    /// ASCII (vector compares: about three times the word-at-a-time test's speed).
    @inline(__always)
    static func anySpecial32(_ p: UnsafeRawPointer) -> Bool {
        any(special16(p.loadUnaligned(as: SIMD16<UInt8>.self)) .| special16((p + 16).loadUnaligned(as: SIMD16<UInt8>.self)))
    }

    /// The same over 64 bytes: one test of four vectors' masks (about 1.5 to 2 times the 32-byte
    /// loop's speed on long strings here).
    @inline(__always)
    static func anySpecial64(_ p: UnsafeRawPointer) -> Bool {
        any(special16(p.loadUnaligned(as: SIMD16<UInt8>.self)) .| special16((p + 16).loadUnaligned(as: SIMD16<UInt8>.self))
            .| special16((p + 32).loadUnaligned(as: SIMD16<UInt8>.self)) .| special16((p + 48).loadUnaligned(as: SIMD16<UInt8>.self)))
    }

    /// The first index from `i` (up to `stop`) that may be a quote, a backslash, a control or a
    /// non-ASCII byte: 64 bytes at a time (four vectors), then 32, then 8; the last few are left
    /// to the caller.
    @inline(__always)
    static func plainRun(_ base: UnsafeRawPointer, from i: Int, to stop: Int) -> Int {
        var i = i
        while i + 64 <= stop, !anySpecial64(base + i) { i += 64 }
        while i + 32 <= stop, !anySpecial32(base + i) { i += 32 }
        while i + 8 <= stop, specialBits((base + i).loadUnaligned(as: UInt64.self)) == 0 { i += 8 }
        return i
    }

    /// A string validated without building it: 32 or 8 bytes at a time up to the next quote,
    /// backslash, control or non-ASCII byte; escapes and UTF-8 checked as `string()` does.
    /// Returns whether it held an escape.
    @discardableResult
    mutating func skipString() throws(JSONError) -> Bool {
        let start = i
        guard let base = b.baseAddress else { throw .syntax(i) }
        let n = b.count
        i += 1
        var escaped = false
        while true {
            if i >= releaseAt { releaseBehind() }
            let stop = min(n, releaseAt)
            i = Self.plainRun(base, from: i, to: stop)
            guard i < n else { throw .syntax(i) }
            let c = b[i]
            if c == UInt8(ascii: "\"") { break }
            if c < 0x20 { throw .syntax(i) }
            if c == UInt8(ascii: "\\") {
                escaped = true
                try skipEscape()
            } else if c >= 0x80 {
                guard utf8Sequence() else { throw .syntax(start) }
            } else {
                i += 1
            }
        }
        i += 1
        return escaped
    }

    /// One escape at `i` (the backslash), validated: surrogates must pair.
    mutating func skipEscape() throws(JSONError) {
        i += 1
        guard i < b.count else { throw .syntax(i) }
        let e = b[i]
        i += 1
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return
        case UInt8(ascii: "u"):
            let v = try hex4()
            if v >= 0xd800 && v < 0xdc00 {
                guard i + 2 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else { throw .syntax(i) }
                i += 2
                let lo = try hex4()
                guard lo >= 0xdc00 && lo < 0xe000 else { throw .syntax(i) }
            } else if v >= 0xdc00 && v < 0xe000 {
                throw .syntax(i)
            }
        default: throw .syntax(i - 1)
        }
    }

    /// One well-formed UTF-8 sequence of two to four bytes at `i` (Unicode table 3-7: no
    /// overlong forms, surrogates or values past U+10FFFF), stepped over.
    @inline(__always)
    mutating func utf8Sequence() -> Bool {
        let n = b.count
        func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xbf) -> Bool { i + k < n && b[i + k] >= lo && b[i + k] <= hi }
        let length: Int
        switch b[i] {
        case 0xc2...0xdf: guard cont(1) else { return false }; length = 2
        case 0xe0: guard cont(1, 0xa0), cont(2) else { return false }; length = 3
        case 0xe1...0xec, 0xee...0xef: guard cont(1), cont(2) else { return false }; length = 3
        case 0xed: guard cont(1, 0x80, 0x9f), cont(2) else { return false }; length = 3
        case 0xf0: guard cont(1, 0x90), cont(2), cont(3) else { return false }; length = 4
        case 0xf1...0xf3: guard cont(1), cont(2), cont(3) else { return false }; length = 4
        case 0xf4: guard cont(1, 0x80, 0x8f), cont(2), cont(3) else { return false }; length = 4
        default: return false
        }
        i += length
        return true
    }

    /// A number validated without building it.
    mutating func skipNumber() throws(JSONError) {
        func digit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        defer { if i >= releaseAt { releaseBehind() } }
        if i < b.count, b[i] == UInt8(ascii: "-") {
            i += 1
            if literal("Infinity") { return }
        }
        guard i < b.count, digit(b[i]) else { throw .syntax(i) }
        if b[i] == 0x30 { i += 1 } else { while i < b.count, digit(b[i]) { i += 1 } }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            guard i < b.count, digit(b[i]) else { throw .syntax(i) }
            while i < b.count, digit(b[i]) { i += 1 }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < b.count, digit(b[i]) else { throw .syntax(i) }
            while i < b.count, digit(b[i]) { i += 1 }
        }
    }

    /// Recursion is bounded by `maxDepth` (checked before each descent).
    mutating func value(depth: Int) throws(JSONError) -> JSON {
        guard i < b.count else { throw .syntax(i) }
        switch b[i] {
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { throw .tooDeep }
            i += 1
            var pairs: [(String, JSON)] = []
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
            var keys = Set<String>()
            while true {
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw .syntax(i) }
                let at = i
                let k = try string()
                guard keys.insert(k).inserted else { throw .syntax(at) }
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw .syntax(i) }
                i += 1
                skipSpace()
                pairs.append((k, try value(depth: depth + 1)))
                skipSpace()
                guard i < b.count else { throw .syntax(i) }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
                throw .syntax(i)
            }
        case UInt8(ascii: "["):
            guard depth < maxDepth else { throw .tooDeep }
            i += 1
            var items: [JSON] = []
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < b.count else { throw .syntax(i) }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw .syntax(i)
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): if literal("true") { return .bool(true) }
        case UInt8(ascii: "f"): if literal("false") { return .bool(false) }
        case UInt8(ascii: "n"): if literal("null") { return .null }
        case UInt8(ascii: "N"): if literal("NaN") { return .number("NaN") }
        case UInt8(ascii: "I"): if literal("Infinity") { return .number("Infinity") }
        default: return try number()
        }
        throw .syntax(i)
    }

    mutating func number() throws(JSONError) -> JSON {
        let start = i
        try skipNumber()
        return .number(String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<i]), as: UTF8.self))
    }

    mutating func hex4() throws(JSONError) -> UInt32 {
        guard i + 4 <= b.count else { throw .syntax(i) }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            default: throw .syntax(i)
            }
            v = v * 16 + d
            i += 1
        }
        return v
    }

    /// A string token at `i` (the opening quote); UTF-8 validated, escapes decoded, lone
    /// surrogates refused.
    mutating func string() throws(JSONError) -> String {
        i += 1
        let start = i
        // Fast path: no escapes.
        var high: UInt8 = 0
        while i < b.count, b[i] != UInt8(ascii: "\""), b[i] != UInt8(ascii: "\\"), b[i] >= 0x20 { high |= b[i]; i += 1 }
        guard i < b.count else { throw .syntax(i) }
        if b[i] == UInt8(ascii: "\"") {
            let raw = UnsafeRawBufferPointer(rebasing: b[start..<i])
            i += 1
            if high < 0x80 {
                // ASCII is valid UTF-8 as it is: copied without the generic validation.
                return String(unsafeUninitializedCapacity: raw.count) { out in
                    UnsafeMutableRawBufferPointer(out).copyMemory(from: raw)
                    return raw.count
                }
            }
            guard let s = String(validating: raw, as: UTF8.self) else { throw .syntax(start) }
            return s
        }
        var bytes = [UInt8](UnsafeRawBufferPointer(rebasing: b[start..<i]))
        while true {
            guard i < b.count else { throw .syntax(i) }
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw .syntax(i) }
            if c != UInt8(ascii: "\\") { bytes.append(c); i += 1; continue }
            i += 1
            guard i < b.count else { throw .syntax(i) }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): bytes.append(0x22)
            case UInt8(ascii: "\\"): bytes.append(0x5c)
            case UInt8(ascii: "/"): bytes.append(0x2f)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0c)
            case UInt8(ascii: "n"): bytes.append(0x0a)
            case UInt8(ascii: "r"): bytes.append(0x0d)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                var v = try hex4()
                if v >= 0xd800 && v < 0xdc00 {
                    guard i + 2 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else { throw .syntax(i) }
                    i += 2
                    let lo = try hex4()
                    guard lo >= 0xdc00 && lo < 0xe000 else { throw .syntax(i) }
                    v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00)
                } else if v >= 0xdc00 && v < 0xe000 {
                    throw .syntax(i)
                }
                guard let scalar = Unicode.Scalar(v) else { throw .syntax(i) }
                bytes.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: throw .syntax(i - 1)
            }
        }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw .syntax(start) }
        return s
    }
}


/// The open containers of a skipped value: one bit per level (object or array), in two words
/// up to 128 levels and an array past them (only for a caller's `maxDepth` above 128).
struct ContainerStack {
    private var low: UInt64 = 0
    private var high: UInt64 = 0
    private var more: [Bool] = []
    private(set) var count = 0

    mutating func push(object: Bool) {
        if count < 128 {
            let bit: UInt64 = object ? 1 << UInt64(count & 63) : 0
            if count < 64 { low |= bit } else { high |= bit }
        } else {
            more.append(object)
        }
        count += 1
    }

    /// Whether the innermost open container is an object (nil: none is open).
    var top: Bool? {
        guard count > 0 else { return nil }
        let k = count - 1
        if k >= 128 { return more[k - 128] }
        return (k < 64 ? low : high) >> UInt64(k & 63) & 1 == 1
    }

    mutating func pop() {
        count -= 1
        if count >= 128 { more.removeLast(); return }
        let mask = ~(UInt64(1) << UInt64(count & 63))
        if count < 64 { low &= mask } else { high &= mask }
    }
}
