/// A JSON/JSONC reader that keeps the byte span of every value, so an editor can change a few
/// values and leave every other byte (comments, key order, spacing) as it was.
///
/// Accepts what VS Code's JSONC accepts: `//` and `/* */` comments and trailing commas in objects
/// and arrays, plus a leading UTF-8 byte-order mark. Strict JSON is a subset. Untrusted input:
/// at most `ConfigLimits.maxFileSize` bytes and `ConfigLimits.maxDepth` nested containers.
public indirect enum JSONValue: Sendable {
    case object([JSONMember])
    case array([JSONNode])
    case string(String)
    /// A number, `true`, `false` or `null` (validated, not interpreted).
    case scalar
}

/// A value and where it lies: `start..<end` are byte offsets into the document.
public struct JSONNode: Sendable {
    public var value: JSONValue
    public var start: Int
    public var end: Int

    /// The member named `key`, when this is an object holding exactly one such member.
    public func member(_ key: String) -> JSONMember? {
        guard case .object(let members) = value else { return nil }
        let found = members.filter { $0.key == key }
        return found.count == 1 ? found[0] : nil
    }

    /// Whether this is an object with more than one member named `key`.
    public func hasDuplicate(_ key: String) -> Bool {
        guard case .object(let members) = value else { return false }
        return members.filter { $0.key == key }.count > 1
    }

    public var stringValue: String? {
        if case .string(let s) = value { return s }
        return nil
    }
}

/// One `"key": value` pair; `keyStart` is the offset of the key's opening quote.
public struct JSONMember: Sendable {
    public var key: String
    public var keyStart: Int
    public var node: JSONNode
}

/// Hard limits for client configuration files (untrusted input).
public enum ConfigLimits {
    /// Largest configuration file read (Claude Code's `~/.claude.json` holds history: be generous).
    public static let maxFileSize = 8 << 20
    /// Deepest nesting of objects/arrays (JSON) or arrays/inline tables (TOML).
    public static let maxDepth = 64
}

/// Why a configuration file could not be read; `offset` is a byte offset into the file.
public struct ConfigSyntaxError: Error, Equatable, CustomStringConvertible, Sendable {
    public var message: String
    public var line: Int
    public var column: Int

    public var description: String { "line \(line), column \(column): \(message)" }

    init(_ message: String, offset: Int, in bytes: [UInt8]) {
        self.message = message
        var line = 1, col = 1
        for b in bytes[..<min(offset, bytes.count)] {
            if b == 0x0A { line += 1; col = 1 } else if b & 0xC0 != 0x80 { col += 1 }
        }
        self.line = line
        self.column = col
    }
}

public enum JSONC {
    /// Parses a whole document (one value, surrounded by whitespace and comments only).
    public static func parse(_ bytes: [UInt8]) throws(ConfigSyntaxError) -> JSONNode {
        guard bytes.count <= ConfigLimits.maxFileSize else {
            throw ConfigSyntaxError("file larger than \(ConfigLimits.maxFileSize >> 20) MiB", offset: 0, in: [])
        }
        var p = Parser(b: bytes)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { p.i = 3 }
        try p.skipTrivia()
        let root = try p.value(depth: 0)
        try p.skipTrivia()
        guard p.i == bytes.count else { throw p.error("unexpected text after the document") }
        return root
    }

    struct Parser {
        let b: [UInt8]
        var i = 0

        func error(_ message: String) -> ConfigSyntaxError { ConfigSyntaxError(message, offset: i, in: b) }

        /// Skips whitespace and comments.
        mutating func skipTrivia() throws(ConfigSyntaxError) {
            while i < b.count {
                switch b[i] {
                case 0x20, 0x09, 0x0A, 0x0D: i += 1
                case UInt8(ascii: "/") where i + 1 < b.count && b[i + 1] == UInt8(ascii: "/"):
                    while i < b.count && b[i] != 0x0A { i += 1 }
                case UInt8(ascii: "/") where i + 1 < b.count && b[i + 1] == UInt8(ascii: "*"):
                    let open = i
                    i += 2
                    while i + 1 < b.count && !(b[i] == UInt8(ascii: "*") && b[i + 1] == UInt8(ascii: "/")) { i += 1 }
                    guard i + 1 < b.count else { i = open; throw error("unterminated /* comment") }
                    i += 2
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws(ConfigSyntaxError) -> JSONNode {
            guard i < b.count else { throw error("unexpected end of file, expected a value") }
            let start = i
            switch b[i] {
            case UInt8(ascii: "{"):
                guard depth < ConfigLimits.maxDepth else { throw error("nested deeper than \(ConfigLimits.maxDepth) levels") }
                i += 1
                var members: [JSONMember] = []
                try skipTrivia()
                while i < b.count && b[i] != UInt8(ascii: "}") {
                    guard b[i] == UInt8(ascii: "\"") else { throw error("expected a \"key\" or }") }
                    let keyStart = i
                    let key = try string()
                    try skipTrivia()
                    guard i < b.count && b[i] == UInt8(ascii: ":") else { throw error("expected : after the key") }
                    i += 1
                    try skipTrivia()
                    let v = try value(depth: depth + 1)
                    members.append(JSONMember(key: key, keyStart: keyStart, node: v))
                    try skipTrivia()
                    guard i < b.count else { break }
                    if b[i] == UInt8(ascii: ",") {
                        i += 1
                        try skipTrivia()
                    } else if b[i] != UInt8(ascii: "}") {
                        throw error("expected , or }")
                    }
                }
                guard i < b.count else { throw error("unterminated object") }
                i += 1
                return JSONNode(value: .object(members), start: start, end: i)
            case UInt8(ascii: "["):
                guard depth < ConfigLimits.maxDepth else { throw error("nested deeper than \(ConfigLimits.maxDepth) levels") }
                i += 1
                var items: [JSONNode] = []
                try skipTrivia()
                while i < b.count && b[i] != UInt8(ascii: "]") {
                    items.append(try value(depth: depth + 1))
                    try skipTrivia()
                    guard i < b.count else { break }
                    if b[i] == UInt8(ascii: ",") {
                        i += 1
                        try skipTrivia()
                    } else if b[i] != UInt8(ascii: "]") {
                        throw error("expected , or ]")
                    }
                }
                guard i < b.count else { throw error("unterminated array") }
                i += 1
                return JSONNode(value: .array(items), start: start, end: i)
            case UInt8(ascii: "\""):
                let s = try string()
                return JSONNode(value: .string(s), start: start, end: i)
            default:
                try scalar()
                return JSONNode(value: .scalar, start: start, end: i)
            }
        }

        /// `true`, `false`, `null` or a JSON number.
        mutating func scalar() throws(ConfigSyntaxError) {
            for word in ["true", "false", "null"] where b[i...].starts(with: word.utf8) {
                i += word.utf8.count
                return
            }
            let start = i
            func digits(_ p: inout Parser) -> Int {
                let s = p.i
                while p.i < p.b.count, p.b[p.i] >= 0x30, p.b[p.i] <= 0x39 { p.i += 1 }
                return p.i - s
            }
            if b[i] == UInt8(ascii: "-") { i += 1 }
            guard digits(&self) > 0 else { i = start; throw error("expected a value") }
            if i < b.count, b[i] == UInt8(ascii: ".") {
                i += 1
                guard digits(&self) > 0 else { throw error("expected digits after .") }
            }
            if i < b.count, b[i] | 0x20 == UInt8(ascii: "e") {
                i += 1
                if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
                guard digits(&self) > 0 else { throw error("expected digits in the exponent") }
            }
        }

        /// A string token starting at `"`; returns its decoded value.
        mutating func string() throws(ConfigSyntaxError) -> String {
            let open = i
            i += 1
            var out: [UInt8] = []
            while true {
                guard i < b.count else { i = open; throw error("unterminated string") }
                let c = b[i]
                if c == UInt8(ascii: "\"") { i += 1; break }
                guard c >= 0x20 else { throw error("control character in a string (write it as \\u00XX)") }
                if c != UInt8(ascii: "\\") {
                    out.append(c)
                    i += 1
                    continue
                }
                guard i + 1 < b.count else { throw error("unterminated escape") }
                let e = b[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard b[i...].starts(with: [UInt8(ascii: "\\"), UInt8(ascii: "u")]) else { throw error("lone surrogate in \\u escape") }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("lone surrogate in \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw error("lone surrogate in \\u escape")
                    }
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
                default: throw error("invalid escape \\\(Character(Unicode.Scalar(e)))")
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else { i = open; throw error("string is not valid UTF-8") }
            return s
        }

        mutating func hex4() throws(ConfigSyntaxError) -> UInt32 {
            guard i + 4 <= b.count else { throw error("short \\u escape") }
            var v: UInt32 = 0
            for k in 0..<4 {
                let c = b[i + k]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw error("invalid \\u escape")
                }
                v = v << 4 | d
            }
            i += 4
            return v
        }
    }
}
