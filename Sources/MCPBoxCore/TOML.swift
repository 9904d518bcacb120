/// A TOML 1.0 parser that keeps the 1-based line of every key and value.
///
/// Our own, rather than a package: it starts in microseconds and gives the line numbers
/// that profile errors need. Date-times are kept as their source text.
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

    public init(_ kind: Kind, line: Int) {
        self.kind = kind
        self.line = line
    }

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

    public subscript(key: String) -> TOMLEntry? {
        entries.first { $0.key == key }
    }
    public var keys: [String] { entries.map(\.key) }
}

/// A TOML syntax error.
public struct TOMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { "\(file):\(line): \(message)" }
}

/// Parses TOML text.
public enum TOML {
    /// Parses `text`; `file` names the source in errors.
    public static func parse(_ text: String, file: String = "<input>") throws(TOMLError) -> TOMLTable {
        var parser = TOMLParser(bytes: Array(text.utf8), file: file)
        return try parser.parseDocument()
    }
}

/// Mutable tree used while parsing; frozen into `TOMLTable` at the end.
private final class Node {
    enum State { case explicit, implicitHeader, dotted, inline }
    var keys: [String] = []
    var keyLines: [String: Int] = [:]
    var children: [String: Slot] = [:]
    var state: State
    var line: Int
    init(state: State, line: Int) {
        self.state = state
        self.line = line
    }
}

private enum Slot {
    case value(TOMLValue)
    case table(Node)
    case arrayOfTables([Node], line: Int)
}

private struct TOMLParser {
    let bytes: [UInt8]
    let file: String
    var pos = 0
    var line = 1

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    // MARK: Scanning helpers

    var atEnd: Bool { pos >= bytes.count }
    var peek: UInt8? { pos < bytes.count ? bytes[pos] : nil }
    func peek(_ offset: Int) -> UInt8? { pos + offset < bytes.count ? bytes[pos + offset] : nil }

    func fail(_ message: String, line: Int? = nil) -> TOMLError {
        TOMLError(file: file, line: line ?? self.line, message: message)
    }

    mutating func advance() {
        if bytes[pos] == UInt8(ascii: "\n") { line += 1 }
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
        throw fail("expected end of line, found \(describe(c))")
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

    func describe(_ c: UInt8) -> String {
        if c == UInt8(ascii: "\n") { return "end of line" }
        if c >= 0x21 && c < 0x7F { return "`\(Character(Unicode.Scalar(c)))`" }
        return "byte 0x\(String(c, radix: 16))"
    }

    // MARK: Document

    mutating func parseDocument() throws(TOMLError) -> TOMLTable {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { pos = 3 }
        let root = Node(state: .explicit, line: 1)
        var current = root
        while true {
            try skipBlank()
            guard let c = peek else { break }
            if c == UInt8(ascii: "[") {
                let headerLine = line
                if peek(1) == UInt8(ascii: "[") {
                    pos += 2
                    skipSpaces()
                    let key = try parseKey()
                    skipSpaces()
                    guard peek == UInt8(ascii: "]"), peek(1) == UInt8(ascii: "]") else {
                        throw fail("expected `]]` to close the array-of-tables header")
                    }
                    pos += 2
                    current = try openArrayTable(root, key, line: headerLine)
                } else {
                    pos += 1
                    skipSpaces()
                    let key = try parseKey()
                    skipSpaces()
                    guard peek == UInt8(ascii: "]") else { throw fail("expected `]` to close the table header") }
                    pos += 1
                    current = try openTable(root, key, line: headerLine)
                }
                try expectLineEnd()
            } else {
                try parseKeyValue(into: current)
                try expectLineEnd()
            }
        }
        return freeze(root)
    }

    func freeze(_ node: Node) -> TOMLTable {
        var table = TOMLTable()
        for key in node.keys {
            let keyLine = node.keyLines[key] ?? node.line
            switch node.children[key]! {
            case .value(let v):
                table.entries.append(TOMLEntry(key: key, keyLine: keyLine, value: v))
            case .table(let child):
                table.entries.append(TOMLEntry(key: key, keyLine: keyLine,
                                               value: TOMLValue(.table(freeze(child)), line: child.line)))
            case .arrayOfTables(let nodes, let line):
                let values = nodes.map { TOMLValue(.table(freeze($0)), line: $0.line) }
                table.entries.append(TOMLEntry(key: key, keyLine: keyLine, value: TOMLValue(.array(values), line: line)))
            }
        }
        return table
    }

    // MARK: Tables

    /// Walks `path` (all but the last component) from `root` for a header, creating implicit tables.
    func descend(_ root: Node, _ path: ArraySlice<String>, line: Int) throws(TOMLError) -> Node {
        var node = root
        for part in path {
            switch node.children[part] {
            case nil:
                let child = Node(state: .implicitHeader, line: line)
                node.keys.append(part)
                node.keyLines[part] = line
                node.children[part] = .table(child)
                node = child
            case .table(let child):
                if child.state == .inline { throw fail("cannot extend inline table `\(part)`", line: line) }
                node = child
            case .arrayOfTables(let nodes, _):
                node = nodes[nodes.count - 1]
            case .value:
                throw fail("key `\(part)` is already defined as a value", line: line)
            }
        }
        return node
    }

    func openTable(_ root: Node, _ key: [String], line: Int) throws(TOMLError) -> Node {
        let parent = try descend(root, key.dropLast(), line: line)
        let name = key[key.count - 1]
        switch parent.children[name] {
        case nil:
            let child = Node(state: .explicit, line: line)
            parent.keys.append(name)
            parent.keyLines[name] = line
            parent.children[name] = .table(child)
            return child
        case .table(let child):
            switch child.state {
            case .implicitHeader:
                child.state = .explicit
                child.line = line
                return child
            case .explicit:
                throw fail("table `[\(key.joined(separator: "."))]` defined twice (first on line \(child.line))", line: line)
            case .dotted, .inline:
                throw fail("table `\(key.joined(separator: "."))` was already defined on line \(child.line)", line: line)
            }
        case .arrayOfTables:
            throw fail("`\(key.joined(separator: "."))` is an array of tables, not a table", line: line)
        case .value:
            throw fail("key `\(key.joined(separator: "."))` is already defined as a value", line: line)
        }
    }

    func openArrayTable(_ root: Node, _ key: [String], line: Int) throws(TOMLError) -> Node {
        let parent = try descend(root, key.dropLast(), line: line)
        let name = key[key.count - 1]
        let child = Node(state: .explicit, line: line)
        switch parent.children[name] {
        case nil:
            parent.keys.append(name)
            parent.keyLines[name] = line
            parent.children[name] = .arrayOfTables([child], line: line)
        case .arrayOfTables(var nodes, let first):
            nodes.append(child)
            parent.children[name] = .arrayOfTables(nodes, line: first)
        default:
            throw fail("`\(key.joined(separator: "."))` is already defined and is not an array of tables", line: line)
        }
        return child
    }

    // MARK: Key/value

    mutating func parseKeyValue(into table: Node) throws(TOMLError) {
        let keyLine = line
        let key = try parseKey()
        skipSpaces()
        guard peek == UInt8(ascii: "=") else {
            if let c = peek { throw fail("expected `=` after key `\(key.joined(separator: "."))`, found \(describe(c))") }
            throw fail("expected `=` after key `\(key.joined(separator: "."))`")
        }
        pos += 1
        skipSpaces()
        let value = try parseValue()
        var node = table
        for part in key.dropLast() {
            switch node.children[part] {
            case nil:
                let child = Node(state: .dotted, line: keyLine)
                node.keys.append(part)
                node.keyLines[part] = keyLine
                node.children[part] = .table(child)
                node = child
            case .table(let child) where child.state == .dotted:
                node = child
            case .table(let child):
                throw fail("cannot add to table `\(part)` with a dotted key (defined on line \(child.line))", line: keyLine)
            default:
                throw fail("key `\(part)` is already defined on line \(node.keyLines[part] ?? 0)", line: keyLine)
            }
        }
        let name = key[key.count - 1]
        if node.children[name] != nil {
            throw fail("duplicate key `\(key.joined(separator: "."))` (first defined on line \(node.keyLines[name] ?? 0))", line: keyLine)
        }
        node.keys.append(name)
        node.keyLines[name] = keyLine
        if case .table(let inner) = value.kind {
            let child = Node(state: .inline, line: value.line)
            child.keys = inner.keys
            for e in inner.entries {
                child.keyLines[e.key] = e.keyLine
                child.children[e.key] = .value(e.value)
            }
            node.children[name] = .table(child)
        } else {
            node.children[name] = .value(value)
        }
    }

    static func isBareKeyChar(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D
    }

    /// A possibly dotted key.
    mutating func parseKey() throws(TOMLError) -> [String] {
        var parts: [String] = []
        while true {
            skipSpaces()
            guard let c = peek else { throw fail("expected a key") }
            if c == UInt8(ascii: "\"") {
                if peek(1) == UInt8(ascii: "\""), peek(2) == UInt8(ascii: "\"") { throw fail("multi-line strings cannot be keys") }
                parts.append(try parseBasicString())
            } else if c == UInt8(ascii: "'") {
                if peek(1) == UInt8(ascii: "'"), peek(2) == UInt8(ascii: "'") { throw fail("multi-line strings cannot be keys") }
                parts.append(try parseLiteralString())
            } else if Self.isBareKeyChar(c) {
                let start = pos
                while let d = peek, Self.isBareKeyChar(d) { pos += 1 }
                parts.append(String(decoding: bytes[start..<pos], as: UTF8.self))
            } else {
                throw fail("expected a key, found \(describe(c))")
            }
            skipSpaces()
            if peek == UInt8(ascii: ".") { pos += 1; continue }
            return parts
        }
    }

    // MARK: Values

    mutating func parseValue() throws(TOMLError) -> TOMLValue {
        let startLine = line
        guard let c = peek else { throw fail("expected a value") }
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
            return try parseArray()
        case UInt8(ascii: "{"):
            return try parseInlineTable()
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            if match("true") { return TOMLValue(.bool(true), line: startLine) }
            if match("false") { return TOMLValue(.bool(false), line: startLine) }
            throw fail("invalid value (strings need quotes)")
        default:
            return try parseNumberOrDate()
        }
    }

    mutating func match(_ word: String) -> Bool {
        let w = Array(word.utf8)
        guard pos + w.count <= bytes.count, Array(bytes[pos..<pos + w.count]) == w else { return false }
        if let next = pos + w.count < bytes.count ? bytes[pos + w.count] : nil, Self.isBareKeyChar(next) { return false }
        pos += w.count
        return true
    }

    mutating func parseArray() throws(TOMLError) -> TOMLValue {
        let startLine = line
        pos += 1
        var items: [TOMLValue] = []
        while true {
            try skipBlank()
            guard let c = peek else { throw fail("unterminated array (opened on line \(startLine))") }
            if c == UInt8(ascii: "]") { pos += 1; break }
            items.append(try parseValue())
            try skipBlank()
            guard let d = peek else { throw fail("unterminated array (opened on line \(startLine))") }
            if d == UInt8(ascii: ",") { pos += 1; continue }
            if d == UInt8(ascii: "]") { pos += 1; break }
            throw fail("expected `,` or `]` in array, found \(describe(d))")
        }
        return TOMLValue(.array(items), line: startLine)
    }

    mutating func parseInlineTable() throws(TOMLError) -> TOMLValue {
        let startLine = line
        pos += 1
        let node = Node(state: .explicit, line: startLine)
        skipSpaces()
        if peek == UInt8(ascii: "}") {
            pos += 1
            return TOMLValue(.table(freeze(node)), line: startLine)
        }
        while true {
            skipSpaces()
            if peek == UInt8(ascii: "\n") || peek == UInt8(ascii: "\r") { throw fail("newline inside inline table") }
            try parseKeyValue(into: node)
            skipSpaces()
            guard let c = peek else { throw fail("unterminated inline table") }
            if c == UInt8(ascii: ",") {
                pos += 1
                skipSpaces()
                if peek == UInt8(ascii: "}") { throw fail("trailing comma in inline table") }
                continue
            }
            if c == UInt8(ascii: "}") { pos += 1; break }
            throw fail("expected `,` or `}` in inline table, found \(describe(c))")
        }
        return TOMLValue(.table(freeze(node)), line: startLine)
    }

    // MARK: Strings

    mutating func appendScalar(_ v: UInt32, to out: inout [UInt8]) throws(TOMLError) {
        guard let scalar = Unicode.Scalar(v) else { throw fail("invalid Unicode scalar in escape") }
        out.append(contentsOf: Array(String(Character(scalar)).utf8))
    }

    mutating func parseEscape(into out: inout [UInt8]) throws(TOMLError) {
        pos += 1
        guard let e = peek else { throw fail("unterminated escape") }
        pos += 1
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
            guard pos + n <= bytes.count,
                  let v = UInt32(String(decoding: bytes[pos..<pos + n], as: UTF8.self), radix: 16) else {
                throw fail("invalid \\\(Character(Unicode.Scalar(e))) escape")
            }
            pos += n
            try appendScalar(v, to: &out)
        default:
            throw fail("invalid escape `\\\(Character(Unicode.Scalar(e)))`")
        }
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

    /// Counts a closing run of quotes (TOML allows up to two extra quotes before the delimiter).
    mutating func closingQuotes(_ q: UInt8, into out: inout [UInt8]) -> Bool {
        guard peek == q, peek(1) == q, peek(2) == q else { return false }
        var run = 3
        while peek(run) == q { run += 1 }
        if run > 5 { return false }
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
                if closingQuotes(c, into: &out) { break }
                out.append(c)
                pos += 1
                continue
            }
            if c == UInt8(ascii: "\\") {
                // Line-ending backslash: trim it and all whitespace up to the next non-blank.
                var look = pos + 1
                while look < bytes.count, bytes[look] == 0x20 || bytes[look] == 0x09 { look += 1 }
                if look < bytes.count, bytes[look] == UInt8(ascii: "\n") || (bytes[look] == UInt8(ascii: "\r") && look + 1 < bytes.count && bytes[look + 1] == UInt8(ascii: "\n")) {
                    pos = look
                    while let d = peek, d == 0x20 || d == 0x09 || d == UInt8(ascii: "\n") || d == UInt8(ascii: "\r") { advance() }
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
                if closingQuotes(c, into: &out) { break }
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
        // Date-times: 1979-05-27..., 07:32:00...
        if pos + 4 < bytes.count, (0..<4).allSatisfy({ Self.isDigit(bytes[pos + $0]) }), bytes[pos + 4] == UInt8(ascii: "-") {
            return TOMLValue(.datetime(try scanDatetime()), line: startLine)
        }
        if pos + 2 < bytes.count, Self.isDigit(bytes[pos]), Self.isDigit(bytes[pos + 1]), bytes[pos + 2] == UInt8(ascii: ":") {
            return TOMLValue(.datetime(try scanDatetime()), line: startLine)
        }
        let start = pos
        while let c = peek, Self.isBareKeyChar(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") { pos += 1 }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if text.isEmpty {
            if let c = peek { throw fail("expected a value, found \(describe(c))") }
            throw fail("expected a value")
        }
        if let v = Self.integer(text) { return TOMLValue(.integer(v), line: startLine) }
        if let v = Self.float(text) { return TOMLValue(.float(v), line: startLine) }
        throw fail("invalid value `\(text)` (strings need quotes)")
    }

    mutating func scanDatetime() throws(TOMLError) -> String {
        let start = pos
        while let c = peek {
            if Self.isDigit(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: ":") || c == UInt8(ascii: ".")
                || c == UInt8(ascii: "T") || c == UInt8(ascii: "t") || c == UInt8(ascii: "Z") || c == UInt8(ascii: "z")
                || c == UInt8(ascii: "+") {
                pos += 1
            } else if c == 0x20, let d = peek(1), Self.isDigit(d), pos - start == 10 {
                pos += 1
            } else {
                break
            }
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        guard Self.validDatetime(text) else { throw fail("invalid date-time `\(text)`") }
        return text
    }

    static func validDatetime(_ s: String) -> Bool {
        let b = Array(s.utf8)
        func digits(_ at: Int, _ n: Int) -> Bool { at + n <= b.count && (at..<at + n).allSatisfy { isDigit(b[$0]) } }
        func time(_ at: Int) -> Int? {
            guard digits(at, 2), at + 2 < b.count, b[at + 2] == UInt8(ascii: ":"), digits(at + 3, 2),
                  at + 5 < b.count, b[at + 5] == UInt8(ascii: ":"), digits(at + 6, 2) else { return nil }
            var i = at + 8
            if i < b.count, b[i] == UInt8(ascii: ".") {
                i += 1
                let f = i
                while i < b.count, isDigit(b[i]) { i += 1 }
                if i == f { return nil }
            }
            return i
        }
        var i = 0
        if digits(0, 4), b.count > 4, b[4] == UInt8(ascii: "-") {
            guard digits(5, 2), b.count > 7, b[7] == UInt8(ascii: "-"), digits(8, 2) else { return false }
            i = 10
            if i == b.count { return true }
            guard b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == 0x20 else { return false }
            i += 1
        }
        guard let end = time(i) else { return false }
        i = end
        if i == b.count { return true }
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") { return i + 1 == b.count }
        if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            return digits(i + 1, 2) && i + 3 < b.count && b[i + 3] == UInt8(ascii: ":") && digits(i + 4, 2) && i + 6 == b.count
        }
        return false
    }

    /// Digits with single underscores between them; nil if malformed.
    static func stripUnderscores(_ s: Substring, isDigit: (Character) -> Bool) -> String? {
        guard let first = s.first, let last = s.last, isDigit(first), isDigit(last) else { return nil }
        var out = ""
        var prevUnderscore = false
        for ch in s {
            if ch == "_" {
                if prevUnderscore { return nil }
                prevUnderscore = true
                continue
            }
            guard isDigit(ch) else { return nil }
            prevUnderscore = false
            out.append(ch)
        }
        return out
    }

    static func integer(_ text: String) -> Int64? {
        if text.hasPrefix("0x") || text.hasPrefix("0o") || text.hasPrefix("0b") {
            let radix = text.hasPrefix("0x") ? 16 : text.hasPrefix("0o") ? 8 : 2
            let body = text.dropFirst(2)
            guard let digits = stripUnderscores(body, isDigit: { $0.isHexDigit && Int(String($0), radix: radix) != nil }) else { return nil }
            return Int64(digits, radix: radix)
        }
        var body = Substring(text)
        var sign = ""
        if let f = body.first, f == "+" || f == "-" {
            sign = f == "-" ? "-" : ""
            body = body.dropFirst()
        }
        guard let digits = stripUnderscores(body, isDigit: { $0.isASCII && $0.isNumber }) else { return nil }
        if digits.count > 1, digits.hasPrefix("0") { return nil }
        return Int64(sign + digits)
    }

    static func float(_ text: String) -> Double? {
        var body = Substring(text)
        var negative = false
        if let f = body.first, f == "+" || f == "-" {
            negative = f == "-"
            body = body.dropFirst()
        }
        if body == "inf" { return negative ? -Double.infinity : Double.infinity }
        if body == "nan" { return Double.nan }
        // int part, optional .frac, optional e[+-]exp
        var intPart = body
        var frac: Substring? = nil
        var exp: Substring? = nil
        if let e = body.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exp = body[body.index(after: e)...]
            intPart = body[..<e]
        }
        if let dot = intPart.firstIndex(of: ".") {
            frac = intPart[intPart.index(after: dot)...]
            intPart = intPart[..<dot]
        }
        guard frac != nil || exp != nil else { return nil }
        let isDec: (Character) -> Bool = { $0.isASCII && $0.isNumber }
        guard let i = stripUnderscores(intPart, isDigit: isDec) else { return nil }
        if i.count > 1, i.hasPrefix("0") { return nil }
        var literal = (negative ? "-" : "") + i
        if let frac {
            guard let f = stripUnderscores(frac, isDigit: isDec) else { return nil }
            literal += "." + f
        }
        if var exp {
            var esign = ""
            if let f = exp.first, f == "+" || f == "-" {
                esign = String(f)
                exp = exp.dropFirst()
            }
            guard let e = stripUnderscores(exp, isDigit: isDec) else { return nil }
            literal += "e" + esign + e
        }
        return Double(literal)
    }
}
