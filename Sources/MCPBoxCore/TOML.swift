/// A TOML 1.0 parser that keeps the 1-based line of every key and value.
///
/// Our own, rather than a package: it starts in microseconds and gives the line numbers
/// that profile errors need. Date-times are kept as their source text (validated).
/// Hostile input cannot crash or stall it: nesting is bounded by `TOML.maxDepth`, every
/// construct is parsed in linear time, and the input must be valid UTF-8.
public struct TOMLValue: Sendable, Equatable {
    public indirect enum Kind: Sendable, Equatable {
        case string(String)
        case integer(Int64)
        case float(Double)
        case bool(Bool)
        /// Offset/local date-time, local date or local time, as written.
        case datetime(String)
        case array([TOMLValue])
        case table(TOMLTable)
    }
    public var kind: Kind
    /// 1-based line where the value starts.
    public var line: Int
    /// A float as written (underscores kept): its decimal digits, which the `Double` loses
    /// (`0.010000000000000001` is the `Double` of `0.01`). Not part of equality.
    public var floatText: String?

    public init(_ kind: Kind, line: Int) {
        self.kind = kind
        self.line = line
    }

    public static func == (a: TOMLValue, b: TOMLValue) -> Bool { a.kind == b.kind && a.line == b.line }

    /// The TOML type name, for error messages ("string", "array", ...).
    public var typeName: String {
        switch kind {
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .bool: "boolean"
        case .datetime: "date-time"
        case .array: "array"
        case .table: "table"
        }
    }
}

/// One key of a table, with the line where the key was written.
public struct TOMLEntry: Sendable, Equatable {
    public var key: String
    public var keyLine: Int
    public var value: TOMLValue
}

/// A table: entries in source order.
public struct TOMLTable: Sendable, Equatable {
    public var entries: [TOMLEntry] = []
    public init() {}

    /// The entry whose key has exactly these bytes (TOML's comparison, not `String ==`).
    public subscript(key: String) -> TOMLEntry? {
        entries.first { Self.sameKey($0.key, key) }
    }

    /// Byte equality. Equal bytes are equal strings, so `String ==` (fast, and false for most
    /// pairs) goes first; the bytes only for canonical equivalents.
    static func sameKey(_ a: String, _ b: String) -> Bool {
        a == b && a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8)
    }
    public var keys: [String] { entries.map(\.key) }
}

/// A TOML syntax error.
public struct TOMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    /// 1-based column, in characters.
    public var column: Int
    public var message: String
    public var description: String { "\(file):\(line):\(column): \(message)" }
}

/// Parses TOML text.
public enum TOML {
    /// Deepest nesting accepted: every table, array and key component on the way from the root
    /// to a value counts as one level (`a.b = [[1]]` reaches depth 4).
    public static let maxDepth = 128

    /// `s` as a TOML basic string, quotes included: `"` and `\` escaped, control characters
    /// as `\u00XX`, everything else as is. Also a valid JSON string. The one writer of TOML
    /// strings mcpbox uses.
    public static func string(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where ch.value < 0x20 || ch.value == 0x7F:
                let hex = Array("0123456789abcdef".unicodeScalars)
                out += "\\u00"
                out.unicodeScalars.append(hex[Int(ch.value >> 4)])
                out.unicodeScalars.append(hex[Int(ch.value & 15)])
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "\""
    }

    /// One component of a dotted key as TOML writes it: bare when it can be, else quoted
    /// (`"a.test"`), so a key path in a message reads back as the same key.
    public static func keySegment(_ s: String) -> String {
        if !s.isEmpty, s.utf8.allSatisfy(TOMLParser.isBareKeyChar) { return s }
        return string(s)
    }

    /// Parses `text`; `file` names the source in errors.
    public static func parse(_ text: String, file: String = "<input>") throws(TOMLError) -> TOMLTable {
        try parse(bytes: Array(text.utf8), file: file)
    }

    /// Parses raw bytes, which must be valid UTF-8; `file` names the source in errors.
    public static func parse(bytes: [UInt8], file: String = "<input>") throws(TOMLError) -> TOMLTable {
        var parser = TOMLParser(bytes: bytes, file: file)
        if let bad = firstInvalidUTF8(bytes) {
            throw parser.fail("invalid UTF-8 at byte offset \(bad) (byte 0x\(String(bytes[bad], radix: 16)))",
                              at: parser.mark(of: bad))
        }
        return try parser.parseDocument()
    }

    /// Offset of the first byte that does not belong to well-formed UTF-8 (no overlong forms,
    /// no surrogates, nothing above U+10FFFF); nil when all of `b` is valid.
    static func firstInvalidUTF8(_ b: [UInt8]) -> Int? {
        var i = 0
        let n = b.count
        while i < n {
            let c = b[i]
            if c < 0x80 { i += 1; continue }
            var need = 0
            var lo: UInt8 = 0x80
            var hi: UInt8 = 0xBF
            switch c {
            case 0xC2...0xDF: need = 1
            case 0xE0: need = 2; lo = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: need = 2
            case 0xED: need = 2; hi = 0x9F
            case 0xF0: need = 3; lo = 0x90
            case 0xF1...0xF3: need = 3
            case 0xF4: need = 3; hi = 0x8F
            default: return i
            }
            guard i + need < n, b[i + 1] >= lo, b[i + 1] <= hi else { return i }
            var k = 2
            while k <= need {
                guard b[i + k] & 0xC0 == 0x80 else { return i }
                k += 1
            }
            i += need + 1
        }
        return nil
    }
}

/// A key as TOML compares keys: by its bytes. (Swift's `String ==` compares canonical
/// equivalents equal: `"é"` written precomposed and decomposed, `K` and the Kelvin sign, were
/// refused as one key defined twice.)
struct ExactKey: Hashable {
    let text: String
    init(_ text: String) { self.text = text }
    static func == (a: ExactKey, b: ExactKey) -> Bool { TOMLTable.sameKey(a.text, b.text) }
    /// String's own hash: equal bytes are equal strings, so equal keys hash alike (canonical
    /// equivalents only share a bucket).
    func hash(into hasher: inout Hasher) { hasher.combine(text) }
}

/// Mutable tree used while parsing; frozen into `TOMLTable` at the end.
private final class Node {
    enum State { case explicit, implicitHeader, dotted }
    var keys: [String] = []
    var keyLines: [ExactKey: Int] = [:]
    var children: [ExactKey: Slot] = [:]
    var state: State
    var line: Int
    /// Levels from the root: a table is one deeper than its parent, an array-of-tables element two.
    let depth: Int
    init(state: State, line: Int, depth: Int) {
        self.state = state
        self.line = line
        self.depth = depth
    }
}

/// An array of tables, shared by reference so that `[[x]]` appends in place.
private final class TableArray {
    var tables: [Node]
    let line: Int
    init(_ first: Node, line: Int) {
        tables = [first]
        self.line = line
    }
}

private enum Slot {
    /// A plain value; inline tables and static arrays are sealed values too.
    case value(TOMLValue)
    case table(Node)
    case arrayOfTables(TableArray)
}

/// A position in the input, for error messages.
private struct Mark {
    var offset: Int
    var line: Int
    var lineStart: Int
}

private struct TOMLParser {
    let bytes: [UInt8]
    let file: String
    var pos = 0
    var line = 1
    /// Offset of the first byte of the current line.
    var lineStart = 0

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    // MARK: Scanning helpers

    var peek: UInt8? { pos < bytes.count ? bytes[pos] : nil }
    func peek(_ offset: Int) -> UInt8? { pos + offset < bytes.count ? bytes[pos + offset] : nil }

    var mark: Mark { Mark(offset: pos, line: line, lineStart: lineStart) }

    /// The mark of an arbitrary offset (counts lines from the start; only for errors).
    func mark(of offset: Int) -> Mark {
        var m = Mark(offset: offset, line: 1, lineStart: 0)
        for i in 0..<min(offset, bytes.count) where bytes[i] == UInt8(ascii: "\n") {
            m.line += 1
            m.lineStart = i + 1
        }
        return m
    }

    func fail(_ message: String, at m: Mark? = nil) -> TOMLError {
        let m = m ?? mark
        var column = 1
        for i in m.lineStart..<min(m.offset, bytes.count) where bytes[i] & 0xC0 != 0x80 { column += 1 }
        return TOMLError(file: file, line: m.line, column: column, message: message)
    }

    func tooDeep(at m: Mark? = nil) -> TOMLError {
        fail("nested too deeply: more than \(TOML.maxDepth) levels of tables, arrays and dotted keys", at: m)
    }

    /// Consumes a newline byte.
    mutating func advance() {
        if bytes[pos] == UInt8(ascii: "\n") {
            line += 1
            lineStart = pos + 1
        }
        pos += 1
    }

    mutating func skipSpaces() {
        while let c = peek, c == 0x20 || c == 0x09 { pos += 1 }
    }

    mutating func skipComment() throws(TOMLError) {
        guard peek == UInt8(ascii: "#") else { return }
        while let c = peek, c != UInt8(ascii: "\n") {
            if c == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { break }
            if (c < 0x20 && c != 0x09) || c == 0x7F { throw fail("control character in comment") }
            pos += 1
        }
    }

    /// Consumes a newline (LF or CRLF) or end of input; anything else is an error.
    mutating func expectLineEnd() throws(TOMLError) {
        skipSpaces()
        try skipComment()
        guard let c = peek else { return }
        if c == UInt8(ascii: "\n") { advance(); return }
        if c == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { pos += 1; advance(); return }
        throw fail("expected end of line, found \(describeHere())")
    }

    /// Skips whitespace, newlines and comments (inside arrays).
    mutating func skipBlank() throws(TOMLError) {
        while let c = peek {
            if c == 0x20 || c == 0x09 { pos += 1 }
            else if c == UInt8(ascii: "\n") { advance() }
            else if c == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { pos += 1 }
            else if c == UInt8(ascii: "#") { try skipComment() }
            else { return }
        }
    }

    /// The character at the current position, for error messages.
    func describeHere() -> String {
        guard let c = peek else { return "end of input" }
        if c == UInt8(ascii: "\n") { return "end of line" }
        if c >= 0x21 && c < 0x7F { return "`\(Character(Unicode.Scalar(c)))`" }
        if c >= 0x80 {
            var end = pos + 1
            while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
            return "`\(String(decoding: bytes[pos..<end], as: UTF8.self))`"
        }
        return "byte 0x\(String(c, radix: 16))"
    }

    /// `s` shortened for an error message.
    static func excerpt(_ s: String) -> String {
        s.count <= 60 ? s : String(s.prefix(60)) + "…"
    }

    static func keyName(_ key: [String]) -> String { excerpt(key.joined(separator: ".")) }

    // MARK: Document

    mutating func parseDocument() throws(TOMLError) -> TOMLTable {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { pos = 3; lineStart = 3 }
        let root = Node(state: .explicit, line: 1, depth: 0)
        var current = root
        while true {
            try skipBlank()
            guard let c = peek else { break }
            if c == UInt8(ascii: "[") {
                let header = mark
                if peek(1) == UInt8(ascii: "[") {
                    pos += 2
                    skipSpaces()
                    let key = try parseKey()
                    skipSpaces()
                    guard peek == UInt8(ascii: "]"), peek(1) == UInt8(ascii: "]") else {
                        throw fail("expected `]]` to close the array-of-tables header")
                    }
                    pos += 2
                    current = try openArrayTable(root, key, at: header)
                } else {
                    pos += 1
                    skipSpaces()
                    let key = try parseKey()
                    skipSpaces()
                    guard peek == UInt8(ascii: "]") else { throw fail("expected `]` to close the table header") }
                    pos += 1
                    current = try openTable(root, key, at: header)
                }
                try expectLineEnd()
            } else {
                try parseKeyValue(into: current)
                try expectLineEnd()
            }
        }
        return Self.freeze(root)
    }

    /// Recursion is bounded by `TOML.maxDepth`, checked while parsing.
    static func freeze(_ node: Node) -> TOMLTable {
        var table = TOMLTable()
        table.entries.reserveCapacity(node.keys.count)
        for key in node.keys {
            let keyLine = node.keyLines[ExactKey(key)] ?? node.line
            switch node.children[ExactKey(key)]! {
            case .value(let v):
                table.entries.append(TOMLEntry(key: key, keyLine: keyLine, value: v))
            case .table(let child):
                table.entries.append(TOMLEntry(key: key, keyLine: keyLine,
                                               value: TOMLValue(.table(freeze(child)), line: child.line)))
            case .arrayOfTables(let array):
                let values = array.tables.map { TOMLValue(.table(freeze($0)), line: $0.line) }
                table.entries.append(TOMLEntry(key: key, keyLine: keyLine, value: TOMLValue(.array(values), line: array.line)))
            }
        }
        return table
    }

    // MARK: Tables

    func sealed(_ v: TOMLValue, _ name: String, at m: Mark) -> TOMLError {
        if case .table = v.kind {
            return fail("cannot extend inline table `\(Self.excerpt(name))` (defined on line \(v.line))", at: m)
        }
        return fail("key `\(Self.excerpt(name))` is already defined as a value (line \(v.line))", at: m)
    }

    /// Walks `path` (all but the last component) from `root` for a header, creating implicit tables.
    func descend(_ root: Node, _ path: ArraySlice<String>, at m: Mark) throws(TOMLError) -> Node {
        var node = root
        for part in path {
            switch node.children[ExactKey(part)] {
            case nil:
                let child = Node(state: .implicitHeader, line: m.line, depth: node.depth + 1)
                node.keys.append(part)
                node.keyLines[ExactKey(part)] = m.line
                node.children[ExactKey(part)] = .table(child)
                node = child
            case .table(let child):
                node = child
            case .arrayOfTables(let array):
                node = array.tables[array.tables.count - 1]
            case .value(let v):
                throw sealed(v, part, at: m)
            }
            if node.depth >= TOML.maxDepth { throw tooDeep(at: m) }
        }
        return node
    }

    func openTable(_ root: Node, _ key: [String], at m: Mark) throws(TOMLError) -> Node {
        let parent = try descend(root, key.dropLast(), at: m)
        let name = key[key.count - 1]
        switch parent.children[ExactKey(name)] {
        case nil:
            let child = Node(state: .explicit, line: m.line, depth: parent.depth + 1)
            parent.keys.append(name)
            parent.keyLines[ExactKey(name)] = m.line
            parent.children[ExactKey(name)] = .table(child)
            return child
        case .table(let child):
            switch child.state {
            case .implicitHeader:
                child.state = .explicit
                child.line = m.line
                return child
            case .explicit:
                throw fail("table `[\(Self.keyName(key))]` defined twice (first on line \(child.line))", at: m)
            case .dotted:
                throw fail("table `\(Self.keyName(key))` was already defined by a dotted key on line \(child.line)", at: m)
            }
        case .arrayOfTables:
            throw fail("`\(Self.keyName(key))` is an array of tables, not a table", at: m)
        case .value(let v):
            throw sealed(v, Self.keyName(key), at: m)
        }
    }

    func openArrayTable(_ root: Node, _ key: [String], at m: Mark) throws(TOMLError) -> Node {
        let parent = try descend(root, key.dropLast(), at: m)
        let name = key[key.count - 1]
        let child = Node(state: .explicit, line: m.line, depth: parent.depth + 2)
        if child.depth > TOML.maxDepth { throw tooDeep(at: m) }
        switch parent.children[ExactKey(name)] {
        case nil:
            parent.keys.append(name)
            parent.keyLines[ExactKey(name)] = m.line
            parent.children[ExactKey(name)] = .arrayOfTables(TableArray(child, line: m.line))
        case .arrayOfTables(let array):
            array.tables.append(child)
        default:
            throw fail("`\(Self.keyName(key))` is already defined and is not an array of tables", at: m)
        }
        return child
    }

    // MARK: Key/value

    mutating func parseKeyValue(into table: Node) throws(TOMLError) {
        let keyMark = mark
        let key = try parseKey()
        if table.depth + key.count > TOML.maxDepth { throw tooDeep(at: keyMark) }
        skipSpaces()
        guard peek == UInt8(ascii: "=") else {
            throw fail("expected `=` after key `\(Self.keyName(key))`, found \(describeHere())")
        }
        pos += 1
        skipSpaces()
        let value = try parseValue(depth: table.depth + key.count)
        var node = table
        for part in key.dropLast() {
            switch node.children[ExactKey(part)] {
            case nil:
                let child = Node(state: .dotted, line: keyMark.line, depth: node.depth + 1)
                node.keys.append(part)
                node.keyLines[ExactKey(part)] = keyMark.line
                node.children[ExactKey(part)] = .table(child)
                node = child
            case .table(let child) where child.state == .dotted:
                node = child
            case .table(let child) where child.state == .implicitHeader:
                // Made only on the way to a header's table (`b` of `[a.b.c]`): dotted keys may
                // define it (as Python's tomllib does); a `[a.b]` header afterwards may not.
                child.state = .dotted
                child.line = keyMark.line
                node = child
            case .table(let child):
                throw fail("cannot add to table `\(Self.excerpt(part))` with a dotted key (defined on line \(child.line))", at: keyMark)
            case .value(let v):
                throw sealed(v, part, at: keyMark)
            case .arrayOfTables(let array):
                throw fail("key `\(Self.excerpt(part))` is an array of tables (line \(array.line))", at: keyMark)
            }
        }
        let name = key[key.count - 1]
        if node.children[ExactKey(name)] != nil {
            throw fail("duplicate key `\(Self.keyName(key))` (first defined on line \(node.keyLines[ExactKey(name)] ?? 0))", at: keyMark)
        }
        node.keys.append(name)
        node.keyLines[ExactKey(name)] = keyMark.line
        node.children[ExactKey(name)] = .value(value)
    }

    static func isBareKeyChar(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D
    }

    /// A possibly dotted key (at most `TOML.maxDepth` components).
    mutating func parseKey() throws(TOMLError) -> [String] {
        let start = mark
        var parts: [String] = []
        while true {
            if parts.count == TOML.maxDepth { throw tooDeep(at: start) }
            skipSpaces()
            guard let c = peek else { throw fail("expected a key, found end of input") }
            if c == UInt8(ascii: "\"") {
                if peek(1) == UInt8(ascii: "\""), peek(2) == UInt8(ascii: "\"") { throw fail("multi-line strings cannot be keys") }
                parts.append(try parseBasicString())
            } else if c == UInt8(ascii: "'") {
                if peek(1) == UInt8(ascii: "'"), peek(2) == UInt8(ascii: "'") { throw fail("multi-line strings cannot be keys") }
                parts.append(try parseLiteralString())
            } else if Self.isBareKeyChar(c) {
                let s = pos
                while let d = peek, Self.isBareKeyChar(d) { pos += 1 }
                parts.append(String(decoding: bytes[s..<pos], as: UTF8.self))
            } else {
                throw fail("expected a key, found \(describeHere())")
            }
            skipSpaces()
            if peek == UInt8(ascii: ".") { pos += 1; continue }
            return parts
        }
    }

    // MARK: Values

    /// A value at `depth` levels from the root.
    mutating func parseValue(depth: Int) throws(TOMLError) -> TOMLValue {
        let startLine = line
        if depth > TOML.maxDepth { throw tooDeep() }
        guard let c = peek else { throw fail("expected a value, found end of input") }
        switch c {
        case UInt8(ascii: "\""):
            if peek(1) == UInt8(ascii: "\""), peek(2) == UInt8(ascii: "\"") {
                return TOMLValue(.string(try parseMultilineBasic()), line: startLine)
            }
            return TOMLValue(.string(try parseBasicString()), line: startLine)
        case UInt8(ascii: "'"):
            if peek(1) == UInt8(ascii: "'"), peek(2) == UInt8(ascii: "'") {
                return TOMLValue(.string(try parseMultilineLiteral()), line: startLine)
            }
            return TOMLValue(.string(try parseLiteralString()), line: startLine)
        case UInt8(ascii: "["):
            return try parseArray(depth: depth)
        case UInt8(ascii: "{"):
            return try parseInlineTable(depth: depth)
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            if match("true") { return TOMLValue(.bool(true), line: startLine) }
            if match("false") { return TOMLValue(.bool(false), line: startLine) }
            throw fail("invalid value (strings need quotes)")
        default:
            return try parseNumberOrDate()
        }
    }

    mutating func match(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard pos + n <= bytes.count else { return false }
        for i in 0..<n where bytes[pos + i] != word.utf8Start[i] { return false }
        if pos + n < bytes.count, Self.isBareKeyChar(bytes[pos + n]) { return false }
        pos += n
        return true
    }

    /// An array at `depth`; its items are one level deeper.
    mutating func parseArray(depth: Int) throws(TOMLError) -> TOMLValue {
        let startLine = line
        pos += 1
        var items: [TOMLValue] = []
        while true {
            try skipBlank()
            guard let c = peek else { throw fail("unterminated array (opened on line \(startLine))") }
            if c == UInt8(ascii: "]") { pos += 1; break }
            items.append(try parseValue(depth: depth + 1))
            try skipBlank()
            guard let d = peek else { throw fail("unterminated array (opened on line \(startLine))") }
            if d == UInt8(ascii: ",") { pos += 1; continue }
            if d == UInt8(ascii: "]") { pos += 1; break }
            throw fail("expected `,` or `]` in array, found \(describeHere())")
        }
        return TOMLValue(.array(items), line: startLine)
    }

    /// An inline table at `depth`; its keys count from there.
    mutating func parseInlineTable(depth: Int) throws(TOMLError) -> TOMLValue {
        let startLine = line
        pos += 1
        let node = Node(state: .explicit, line: startLine, depth: depth)
        skipSpaces()
        if peek == UInt8(ascii: "}") {
            pos += 1
            return TOMLValue(.table(TOMLTable()), line: startLine)
        }
        while true {
            skipSpaces()
            if peek == UInt8(ascii: "\n") || peek == UInt8(ascii: "\r") { throw fail("newline inside inline table") }
            try parseKeyValue(into: node)
            skipSpaces()
            guard let c = peek else { throw fail("unterminated inline table (opened on line \(startLine))") }
            if c == UInt8(ascii: ",") {
                pos += 1
                skipSpaces()
                if peek == UInt8(ascii: "}") { throw fail("trailing comma in inline table") }
                continue
            }
            if c == UInt8(ascii: "}") { pos += 1; break }
            throw fail("expected `,` or `}` in inline table, found \(describeHere())")
        }
        return TOMLValue(.table(Self.freeze(node)), line: startLine)
    }

    // MARK: Strings

    mutating func parseEscape(into out: inout [UInt8]) throws(TOMLError) {
        let start = mark
        pos += 1
        guard let e = peek else { throw fail("unterminated escape") }
        switch e {
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let n = e == UInt8(ascii: "u") ? 4 : 8
            var v: UInt32 = 0
            for i in 1...n {
                guard let h = peek(i).flatMap(Self.digitValue) else {
                    throw fail("invalid \\\(e == UInt8(ascii: "u") ? "u" : "U") escape: needs exactly \(n) hexadecimal digits", at: start)
                }
                v = v << 4 | UInt32(h)
            }
            guard let scalar = Unicode.Scalar(v) else {
                throw fail("\\\(e == UInt8(ascii: "u") ? "u" : "U") escape is not a Unicode scalar value (U+\(String(v, radix: 16, uppercase: true)))", at: start)
            }
            UTF8.encode(scalar) { out.append($0) }
            pos += n
        default:
            throw fail("invalid escape `\\` followed by \(describeHere())", at: start)
        }
        pos += 1
    }

    func checkControl(_ c: UInt8) throws(TOMLError) {
        if (c < 0x20 && c != 0x09) || c == 0x7F { throw fail("control character in string (use an escape)") }
    }

    mutating func parseBasicString() throws(TOMLError) -> String {
        pos += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek, c != UInt8(ascii: "\n") else { throw fail("unterminated string") }
            if c == UInt8(ascii: "\"") { pos += 1; break }
            if c == UInt8(ascii: "\\") { try parseEscape(into: &out); continue }
            try checkControl(c)
            out.append(c)
            pos += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func parseLiteralString() throws(TOMLError) -> String {
        pos += 1
        let start = pos
        while true {
            guard let c = peek, c != UInt8(ascii: "\n") else { throw fail("unterminated literal string") }
            if c == UInt8(ascii: "'") { break }
            try checkControl(c)
            pos += 1
        }
        let s = String(decoding: bytes[start..<pos], as: UTF8.self)
        pos += 1
        return s
    }

    /// Skips the newline right after an opening `"""` or `'''`.
    mutating func trimLeadingNewline() {
        if peek == UInt8(ascii: "\n") { advance() }
        else if peek == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { pos += 1; advance() }
    }

    /// At a run of three or more quotes: the closing delimiter, with up to two quotes of content
    /// before it. Six or more quotes in a row are an error.
    mutating func closingQuotes(_ q: UInt8, into out: inout [UInt8]) throws(TOMLError) -> Bool {
        guard peek == q, peek(1) == q, peek(2) == q else { return false }
        var run = 3
        while peek(run) == q, run < 6 { run += 1 }
        if run > 5 { throw fail("too many quotes in a row: a multi-line string ends with at most five") }
        for _ in 0..<(run - 3) { out.append(q) }
        pos += run
        return true
    }

    mutating func parseMultilineBasic() throws(TOMLError) -> String {
        let startLine = line
        pos += 3
        trimLeadingNewline()
        var out: [UInt8] = []
        while true {
            guard let c = peek else { throw fail("unterminated multi-line string (opened on line \(startLine))") }
            if c == UInt8(ascii: "\"") {
                if try closingQuotes(c, into: &out) { break }
                out.append(c)
                pos += 1
                continue
            }
            if c == UInt8(ascii: "\\") {
                // Line-ending backslash: trim it and all whitespace and newlines up to the next non-blank.
                var look = pos + 1
                while look < bytes.count, bytes[look] == 0x20 || bytes[look] == 0x09 { look += 1 }
                if look < bytes.count, bytes[look] == UInt8(ascii: "\n") || (bytes[look] == UInt8(ascii: "\r") && look + 1 < bytes.count && bytes[look + 1] == UInt8(ascii: "\n")) {
                    pos = look
                    while let d = peek {
                        if d == 0x20 || d == 0x09 { pos += 1 }
                        else if d == UInt8(ascii: "\n") { advance() }
                        else if d == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { pos += 1 }
                        else { break }
                    }
                    continue
                }
                try parseEscape(into: &out)
                continue
            }
            if c == UInt8(ascii: "\n") { out.append(c); advance(); continue }
            if c == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { out.append(0x0A); pos += 1; advance(); continue }
            try checkControl(c)
            out.append(c)
            pos += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func parseMultilineLiteral() throws(TOMLError) -> String {
        let startLine = line
        pos += 3
        trimLeadingNewline()
        var out: [UInt8] = []
        while true {
            guard let c = peek else { throw fail("unterminated multi-line literal string (opened on line \(startLine))") }
            if c == UInt8(ascii: "'") {
                if try closingQuotes(c, into: &out) { break }
                out.append(c)
                pos += 1
                continue
            }
            if c == UInt8(ascii: "\n") { out.append(c); advance(); continue }
            if c == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { out.append(0x0A); pos += 1; advance(); continue }
            try checkControl(c)
            out.append(c)
            pos += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Numbers and dates

    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    mutating func parseNumberOrDate() throws(TOMLError) -> TOMLValue {
        let startLine = line
        let start = mark
        // Date-times: 1979-05-27..., 07:32:00...
        if pos + 4 < bytes.count, (0..<4).allSatisfy({ Self.isDigit(bytes[pos + $0]) }), bytes[pos + 4] == UInt8(ascii: "-") {
            return TOMLValue(.datetime(try scanDatetime()), line: startLine)
        }
        if pos + 2 < bytes.count, Self.isDigit(bytes[pos]), Self.isDigit(bytes[pos + 1]), bytes[pos + 2] == UInt8(ascii: ":") {
            return TOMLValue(.datetime(try scanDatetime()), line: startLine)
        }
        while let c = peek, Self.isBareKeyChar(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") { pos += 1 }
        let raw = bytes[start.offset..<pos]
        if raw.isEmpty { throw fail("expected a value, found \(describeHere())") }
        let integer = Self.integer(raw)
        if case .value(let v) = integer { return TOMLValue(.integer(v), line: startLine) }
        if let v = Self.float(raw) {
            var value = TOMLValue(.float(v), line: startLine)
            value.floatText = String(decoding: raw, as: UTF8.self)
            return value
        }
        let text = Self.excerpt(String(decoding: raw.prefix(100), as: UTF8.self))
        if integer == .overflow { throw fail("integer `\(text)` does not fit in 64 bits", at: start) }
        throw fail("invalid value `\(text)` (strings need quotes)", at: start)
    }

    mutating func scanDatetime() throws(TOMLError) -> String {
        let start = mark
        while let c = peek {
            if Self.isDigit(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: ":") || c == UInt8(ascii: ".")
                || c == UInt8(ascii: "T") || c == UInt8(ascii: "t") || c == UInt8(ascii: "Z") || c == UInt8(ascii: "z")
                || c == UInt8(ascii: "+") {
                pos += 1
            } else if c == 0x20, let d = peek(1), Self.isDigit(d), pos - start.offset == 10 {
                pos += 1
            } else {
                break
            }
        }
        let raw = bytes[start.offset..<pos]
        let text = String(decoding: raw, as: UTF8.self)
        if let problem = Self.datetimeProblem(Array(raw)) {
            throw fail("invalid date-time `\(Self.excerpt(text))`: \(problem)", at: start)
        }
        return text
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Why `b` is not an RFC 3339 date-time, local date-time, local date or local time
    /// (TOML 1.0: seconds required, second 60 allowed for leap seconds); nil when valid.
    static func datetimeProblem(_ b: [UInt8]) -> String? {
        func number(_ at: Int, _ n: Int) -> Int? {
            guard at + n <= b.count else { return nil }
            var v = 0
            for i in at..<at + n {
                guard isDigit(b[i]) else { return nil }
                v = v * 10 + Int(b[i] - 0x30)
            }
            return v
        }
        func byte(_ at: Int) -> UInt8? { at < b.count ? b[at] : nil }
        var i = 0
        var hasDate = false
        if byte(4) == UInt8(ascii: "-") {
            guard let year = number(0, 4), let month = number(5, 2), byte(7) == UInt8(ascii: "-"), let day = number(8, 2) else {
                return "expected YYYY-MM-DD"
            }
            if month < 1 || month > 12 { return "month \(month) does not exist" }
            if day < 1 || day > daysIn(month: month, year: year) { return "day \(day) is out of range for month \(month) of \(year)" }
            i = 10
            if i == b.count { return nil }
            guard b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == 0x20 else {
                return "expected `T` or a space between date and time"
            }
            i += 1
            hasDate = true
        }
        guard let hour = number(i, 2), byte(i + 2) == UInt8(ascii: ":"), let minute = number(i + 3, 2),
              byte(i + 5) == UInt8(ascii: ":"), let second = number(i + 6, 2) else {
            return "expected HH:MM:SS"
        }
        if hour > 23 { return "hour \(hour) does not exist" }
        if minute > 59 { return "minute \(minute) does not exist" }
        if second > 60 { return "second \(second) does not exist" }
        i += 8
        if byte(i) == UInt8(ascii: ".") {
            i += 1
            let f = i
            while let c = byte(i), isDigit(c) { i += 1 }
            if i == f { return "expected digits after `.`" }
        }
        if i == b.count { return nil }
        guard hasDate else { return "a local time cannot have an offset" }
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            return i + 1 == b.count ? nil : "unexpected text after the offset"
        }
        guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") else { return "expected an offset (`Z` or ±HH:MM)" }
        guard let oh = number(i + 1, 2), byte(i + 3) == UInt8(ascii: ":"), let om = number(i + 4, 2), i + 6 == b.count else {
            return "expected an offset (`Z` or ±HH:MM)"
        }
        if oh > 23 || om > 59 { return "offset out of range" }
        return nil
    }

    /// Digits with single underscores between them (at least one digit, none at either end);
    /// each digit is passed to `digit`. False if malformed.
    static func scanDigits(_ s: ArraySlice<UInt8>, radix: UInt8, _ digit: (UInt8) -> Void) -> Bool {
        guard let first = s.first, let last = s.last, first != UInt8(ascii: "_"), last != UInt8(ascii: "_") else { return false }
        var previousUnderscore = false
        for c in s {
            if c == UInt8(ascii: "_") {
                if previousUnderscore { return false }
                previousUnderscore = true
                continue
            }
            guard let d = digitValue(c), d < radix else { return false }
            previousUnderscore = false
            digit(c)
        }
        return true
    }

    static func digitValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }

    enum IntegerLiteral: Equatable {
        case value(Int64)
        case overflow
        case invalid
    }

    /// A TOML integer: decimal with optional sign and no leading zero, or 0x/0o/0b without sign.
    static func integer(_ text: ArraySlice<UInt8>) -> IntegerLiteral {
        var s = text
        var radix: UInt8 = 10
        var negative = false
        if s.count > 2, s.first == UInt8(ascii: "0"), let p = s.dropFirst().first,
           p == UInt8(ascii: "x") || p == UInt8(ascii: "o") || p == UInt8(ascii: "b") {
            radix = p == UInt8(ascii: "x") ? 16 : p == UInt8(ascii: "o") ? 8 : 2
            s = s.dropFirst(2)
        } else if let f = s.first, f == UInt8(ascii: "+") || f == UInt8(ascii: "-") {
            negative = f == UInt8(ascii: "-")
            s = s.dropFirst()
        }
        if radix == 10, s.count > 1, s.first == UInt8(ascii: "0") { return .invalid }
        var magnitude: UInt64 = 0
        var overflow = false
        let ok = scanDigits(s, radix: radix) { c in
            let (m, o1) = magnitude.multipliedReportingOverflow(by: UInt64(radix))
            let (a, o2) = m.addingReportingOverflow(UInt64(digitValue(c)!))
            magnitude = a
            overflow = overflow || o1 || o2
        }
        guard ok else { return .invalid }
        if overflow { return .overflow }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return .value(.min) }
            return magnitude <= UInt64(Int64.max) ? .value(-Int64(magnitude)) : .overflow
        }
        return magnitude <= UInt64(Int64.max) ? .value(Int64(magnitude)) : .overflow
    }

    /// A TOML float: decimal integer part, then a fraction, an exponent or both; or inf/nan with optional sign.
    static func float(_ text: ArraySlice<UInt8>) -> Double? {
        var s = text
        var literal: [UInt8] = []
        if let f = s.first, f == UInt8(ascii: "+") || f == UInt8(ascii: "-") {
            if f == UInt8(ascii: "-") { literal.append(f) }
            s = s.dropFirst()
        }
        if s.elementsEqual("inf".utf8) { return literal.isEmpty ? .infinity : -.infinity }
        if s.elementsEqual("nan".utf8) { return .nan }
        let e = s.firstIndex { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
        let mantissa = s[..<(e ?? s.endIndex)]
        let dot = mantissa.firstIndex(of: UInt8(ascii: "."))
        guard dot != nil || e != nil else { return nil }
        let intPart = mantissa[..<(dot ?? mantissa.endIndex)]
        if intPart.count > 1, intPart.first == UInt8(ascii: "0") { return nil }
        guard scanDigits(intPart, radix: 10, { literal.append($0) }) else { return nil }
        if let dot {
            literal.append(UInt8(ascii: "."))
            guard scanDigits(mantissa[(dot + 1)...], radix: 10, { literal.append($0) }) else { return nil }
        }
        if let e {
            literal.append(UInt8(ascii: "e"))
            var exp = s[(e + 1)...]
            if let f = exp.first, f == UInt8(ascii: "+") || f == UInt8(ascii: "-") {
                literal.append(f)
                exp = exp.dropFirst()
            }
            guard scanDigits(exp, radix: 10, { literal.append($0) }) else { return nil }
        }
        return Double(String(decoding: literal, as: UTF8.self))
    }
}
