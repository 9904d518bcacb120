/// A TOML reader that keeps byte spans, for Codex's `config.toml`: it records every key/value
/// pair with its full key path and the span of its value, so the editor can rewrite the
/// `command`/`args` values of one `[mcp_servers.NAME]` table and leave every other byte alone.
///
/// It reads the structure TOML 1.0 defines (tables, array tables, dotted and quoted keys, every
/// string form, arrays and inline tables across lines, comments); scalars other than strings are
/// skipped to the end of their token, not validated. Same limits as the JSON reader.
public struct TOMLNode: Sendable {
    public enum Kind: Sendable {
        /// A one-line basic or literal string, decoded.
        case string(String)
        case array([TOMLNode])
        /// An inline table: the first part of each of its keys.
        case table([String])
        /// Anything else: numbers, booleans, dates, multi-line strings.
        case other
    }
    public var kind: Kind
    public var start: Int
    public var end: Int

    public var stringValue: String? {
        if case .string(let s) = kind { return s }
        return nil
    }
}

/// One `key = value` line: `path` is the table header's path followed by the (dotted) key.
public struct TOMLPair: Sendable {
    public var path: [String]
    /// Offset of the first byte of the key.
    public var keyStart: Int
    public var value: TOMLNode
    /// Offset of the end of the line holding the value's end (its newline, or the end of the file).
    public var lineEnd: Int
    /// Index into `TOMLDocument.headers` of the table this pair belongs to (nil: the root table).
    public var header: Int?
}

public struct TOMLHeader: Sendable {
    public var path: [String]
    public var isArray: Bool
    public var start: Int
}

public struct TOMLDocument: Sendable {
    public var headers: [TOMLHeader] = []
    public var pairs: [TOMLPair] = []

    public static func parse(_ bytes: [UInt8]) throws(ConfigSyntaxError) -> TOMLDocument {
        guard bytes.count <= ConfigLimits.maxFileSize else {
            throw ConfigSyntaxError("file larger than \(ConfigLimits.maxFileSize >> 20) MiB", offset: 0, in: [])
        }
        var p = TOMLParser(b: bytes)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { p.i = 3 }
        return try p.document()
    }
}

struct TOMLParser {
    let b: [UInt8]
    var i = 0

    func error(_ message: String) -> ConfigSyntaxError { ConfigSyntaxError(message, offset: i, in: b) }

    var atEnd: Bool { i >= b.count }
    func peek(_ c: Character) -> Bool { i < b.count && b[i] == c.asciiValue! }

    mutating func skipSpaces() { while i < b.count && (b[i] == 0x20 || b[i] == 0x09) { i += 1 } }

    mutating func skipComment() throws(ConfigSyntaxError) {
        guard peek("#") else { return }
        while i < b.count && b[i] != 0x0A {
            // A CR before the LF ends the line: left for `endOfLine`, so the line's end is the
            // CR and an inserted line keeps the file's CRLF.
            if b[i] == 0x0D && i + 1 < b.count && b[i + 1] == 0x0A { return }
            if b[i] < 0x20 && b[i] != 0x09 { throw error("control character in a comment") }
            i += 1
        }
    }

    /// Skips spaces, then an optional comment, then requires the end of the line (or file).
    mutating func endOfLine() throws(ConfigSyntaxError) -> Int {
        skipSpaces()
        try skipComment()
        if atEnd { return i }
        if b[i] == 0x0D, i + 1 < b.count, b[i + 1] == 0x0A { let end = i; i += 2; return end }
        guard b[i] == 0x0A else { throw error("expected the end of the line") }
        let end = i
        i += 1
        return end
    }

    /// Inside arrays: whitespace, newlines and comments.
    mutating func skipArrayTrivia() throws(ConfigSyntaxError) {
        while i < b.count {
            switch b[i] {
            case 0x20, 0x09, 0x0A: i += 1
            case 0x0D where i + 1 < b.count && b[i + 1] == 0x0A: i += 2
            case UInt8(ascii: "#"): try skipComment()
            default: return
            }
        }
    }

    mutating func document() throws(ConfigSyntaxError) -> TOMLDocument {
        var doc = TOMLDocument()
        var table: [String] = []
        var header: Int?
        while true {
            skipSpaces()
            if atEnd { break }
            if b[i] == 0x0A || b[i] == 0x0D || b[i] == UInt8(ascii: "#") {
                _ = try endOfLine()
                continue
            }
            if b[i] == UInt8(ascii: "[") {
                let start = i
                let isArray = i + 1 < b.count && b[i + 1] == UInt8(ascii: "[")
                i += isArray ? 2 : 1
                skipSpaces()
                table = try key()
                skipSpaces()
                guard peek("]") else { throw error("expected ] after the table name") }
                i += 1
                if isArray {
                    guard peek("]") else { throw error("expected ]] after the table name") }
                    i += 1
                }
                doc.headers.append(TOMLHeader(path: table, isArray: isArray, start: start))
                header = doc.headers.count - 1
                _ = try endOfLine()
                continue
            }
            let keyStart = i
            let k = try key()
            skipSpaces()
            guard peek("=") else { throw error("expected = after the key") }
            i += 1
            skipSpaces()
            let v = try value(depth: 0)
            let lineEnd = try endOfLine()
            doc.pairs.append(TOMLPair(path: table + k, keyStart: keyStart, value: v, lineEnd: lineEnd, header: header))
        }
        return doc
    }

    /// A possibly dotted key: bare, "basic" or 'literal' parts separated by dots.
    mutating func key() throws(ConfigSyntaxError) -> [String] {
        var parts: [String] = []
        while true {
            skipSpaces()
            guard !atEnd else { throw error("expected a key") }
            if b[i] == UInt8(ascii: "\"") || b[i] == UInt8(ascii: "'") {
                guard !b[i...].starts(with: [b[i], b[i], b[i]]) else { throw error("a key cannot be a multi-line string") }
                parts.append(try oneLineString())
            } else {
                let s = i
                while i < b.count, isBare(b[i]) { i += 1 }
                guard i > s else { throw error("expected a key") }
                parts.append(String(decoding: b[s..<i], as: UTF8.self))
            }
            skipSpaces()
            guard peek(".") else { return parts }
            i += 1
        }
    }

    func isBare(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
    }

    mutating func value(depth: Int) throws(ConfigSyntaxError) -> TOMLNode {
        guard !atEnd else { throw error("expected a value") }
        let start = i
        let c = b[i]
        if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
            if b[i...].starts(with: [c, c, c]) {
                try multiLineString(quote: c)
                return TOMLNode(kind: .other, start: start, end: i)
            }
            let s = try oneLineString()
            return TOMLNode(kind: .string(s), start: start, end: i)
        }
        if c == UInt8(ascii: "[") {
            guard depth < ConfigLimits.maxDepth else { throw error("nested deeper than \(ConfigLimits.maxDepth) levels") }
            i += 1
            var items: [TOMLNode] = []
            try skipArrayTrivia()
            while !atEnd && !peek("]") {
                items.append(try value(depth: depth + 1))
                try skipArrayTrivia()
                if peek(",") {
                    i += 1
                    try skipArrayTrivia()
                } else if !peek("]") {
                    throw error("expected , or ] in the array")
                }
            }
            guard peek("]") else { throw error("unterminated array") }
            i += 1
            return TOMLNode(kind: .array(items), start: start, end: i)
        }
        if c == UInt8(ascii: "{") {
            guard depth < ConfigLimits.maxDepth else { throw error("nested deeper than \(ConfigLimits.maxDepth) levels") }
            i += 1
            skipSpaces()
            var keys: [String] = []
            while !atEnd && !peek("}") {
                keys += try key().prefix(1)
                skipSpaces()
                guard peek("=") else { throw error("expected = in the inline table") }
                i += 1
                skipSpaces()
                _ = try value(depth: depth + 1)
                skipSpaces()
                if peek(",") {
                    i += 1
                    skipSpaces()
                } else if !peek("}") {
                    throw error("expected , or } in the inline table")
                }
            }
            guard peek("}") else { throw error("unterminated inline table") }
            i += 1
            return TOMLNode(kind: .table(keys), start: start, end: i)
        }
        // Numbers, booleans, dates and times: up to the next delimiter. A date-time may hold one
        // space ("1979-05-27 07:32:00") when a digit follows it.
        var spaced = false
        while i < b.count {
            let d = b[i]
            if d == 0x20, !spaced, i + 1 < b.count, b[i + 1] >= 0x30, b[i + 1] <= 0x39, i > start, b[i - 1] >= 0x30, b[i - 1] <= 0x39,
               b[start..<i].contains(UInt8(ascii: "-")) {
                spaced = true
                i += 1
                continue
            }
            if d <= 0x20 || d == UInt8(ascii: ",") || d == UInt8(ascii: "]") || d == UInt8(ascii: "}") || d == UInt8(ascii: "#") { break }
            i += 1
        }
        guard i > start else { throw error("expected a value") }
        return TOMLNode(kind: .other, start: start, end: i)
    }

    /// A one-line "basic" (with escapes) or 'literal' string; returns its value.
    mutating func oneLineString() throws(ConfigSyntaxError) -> String {
        let open = i
        let q = b[i]
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < b.count, b[i] != 0x0A else { i = open; throw error("unterminated string") }
            let c = b[i]
            if c == q { i += 1; break }
            guard c >= 0x20 || c == 0x09, c != 0x7F else { throw error("control character in a string") }
            if q == UInt8(ascii: "'") || c != UInt8(ascii: "\\") {
                out.append(c)
                i += 1
                continue
            }
            guard i + 1 < b.count else { throw error("unterminated escape") }
            let e = b[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "e"): out.append(0x1B)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                let n = e == UInt8(ascii: "u") ? 4 : 8
                guard i + n <= b.count, let v = UInt32(String(decoding: b[i..<i + n], as: UTF8.self), radix: 16),
                      let scalar = Unicode.Scalar(v) else { throw error("invalid unicode escape") }
                i += n
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: throw error("invalid escape")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { i = open; throw error("string is not valid UTF-8") }
        return s
    }

    /// Skips a """ or ''' string (its value is not needed).
    mutating func multiLineString(quote q: UInt8) throws(ConfigSyntaxError) {
        let open = i
        i += 3
        while i < b.count {
            if q == UInt8(ascii: "\"") && b[i] == UInt8(ascii: "\\") {
                i += 2
                continue
            }
            if b[i...].starts(with: [q, q, q]) {
                i += 3
                // Up to two more quotes belong to the content ("""a""""" ends with two quotes).
                var extra = 0
                while extra < 2 && i < b.count && b[i] == q { i += 1; extra += 1 }
                return
            }
            i += 1
        }
        i = open
        throw error("unterminated multi-line string")
    }
}
