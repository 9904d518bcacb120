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

    /// Compact JSON text (no whitespace); strings escaped as `Event.quote` does.
    public var serialized: String {
        var out = ""
        JSON.write(self, into: &out)
        return out
    }

    static func write(_ v: JSON, into out: inout String) {
        switch v {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n
        case .string(let s): JSON.quote(s, into: &out)
        case .array(let a):
            out += "["
            for (i, e) in a.enumerated() {
                if i > 0 { out += "," }
                write(e, into: &out)
            }
            out += "]"
        case .object(let pairs):
            out += "{"
            for (i, (k, e)) in pairs.enumerated() {
                if i > 0 { out += "," }
                JSON.quote(k, into: &out)
                out += ":"
                write(e, into: &out)
            }
            out += "}"
        }
    }

    /// A JSON string literal: quote, backslash and control characters escaped.
    public static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
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

private struct Parser {
    let b: UnsafeRawBufferPointer
    let maxDepth: Int
    var i = 0

    init(b: UnsafeRawBufferPointer, maxDepth: Int) {
        self.b = b
        self.maxDepth = maxDepth
    }

    mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0a || b[i] == 0x0d || b[i] == 0x09 { i += 1 }
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

    /// Validates one value without building it. Iterative: a stack of open containers
    /// (bounded by `maxDepth`).
    mutating func skip(depth: Int) throws(JSONError) {
        var stack: [UInt8] = []   // "{" or "["
        func openAllowed(_ n: Int) -> Bool { depth + n < maxDepth }
        while true {
            skipSpace()
            guard i < b.count else { throw .syntax(i) }
            let c = b[i]
            if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                guard openAllowed(stack.count) else { throw .tooDeep }
                i += 1
                skipSpace()
                let close = c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                if i < b.count, b[i] == close { i += 1 } else {
                    stack.append(c)
                    if c == UInt8(ascii: "{") { try skipKey() }
                    continue
                }
            } else if c == UInt8(ascii: "\"") {
                try skipString()
            } else {
                _ = try value(depth: depth + stack.count)
            }
            // After a value: a separator or closers.
            while true {
                guard let top = stack.last else { return }
                skipSpace()
                guard i < b.count else { throw .syntax(i) }
                if b[i] == UInt8(ascii: ",") {
                    i += 1
                    if top == UInt8(ascii: "{") { try skipKey() }
                    break
                }
                if b[i] == (top == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    i += 1
                    stack.removeLast()
                    continue
                }
                throw .syntax(i)
            }
        }
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

    /// A string validated without building it (escapes checked; UTF-8 validated only when it
    /// holds non-ASCII bytes).
    mutating func skipString() throws(JSONError) {
        let start = i
        i += 1
        var ascii = true
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") { break }
            if c < 0x20 { throw .syntax(i) }
            if c >= 0x80 { ascii = false }
            if c == UInt8(ascii: "\\") {
                // Escapes: let the full decoder judge this string.
                i = start
                _ = try string()
                return
            }
            i += 1
        }
        guard i < b.count else { throw .syntax(i) }
        if !ascii, String(validating: UnsafeRawBufferPointer(rebasing: b[(start + 1)..<i]), as: UTF8.self) == nil {
            throw .syntax(start)
        }
        i += 1
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
        func digit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        if i < b.count, b[i] == UInt8(ascii: "-") {
            i += 1
            if literal("Infinity") { return .number("-Infinity") }
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
        while i < b.count, b[i] != UInt8(ascii: "\""), b[i] != UInt8(ascii: "\\"), b[i] >= 0x20 { i += 1 }
        guard i < b.count else { throw .syntax(i) }
        if b[i] == UInt8(ascii: "\"") {
            let raw = UnsafeRawBufferPointer(rebasing: b[start..<i])
            guard let s = String(validating: raw, as: UTF8.self) else { throw .syntax(start) }
            i += 1
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
