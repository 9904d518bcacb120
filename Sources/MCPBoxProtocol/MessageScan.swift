/// What the MCP layer reads of one JSON-RPC line, found in a single pass shared by the filter
/// and the audit trail. The members below are built (as `JSON.parse` builds them); every other
/// value is validated with the parser's limits and skipped without being materialized: strings
/// 32 bytes at a time, containers by depth. `params.arguments` yields its key names only.
///
/// Validity: the same grammar, depth limit and UTF-8 rules as `JSON.parse`; a duplicate key is
/// refused in the objects the scan reads (the message, `params`, `params.arguments`,
/// `params.capabilities`, `result`, `error`) and in the members it builds, not inside skipped
/// values. So whatever `JSON.parse` accepts, the scan accepts, with the same members.
public struct MessageScan {
    /// Why the line is not JSON the scan accepts (nil: it is).
    public internal(set) var error: JSONError?
    /// The line is one JSON object (a JSON-RPC message, not a batch or a scalar).
    public internal(set) var isObject = false
    public internal(set) var id: JSON?
    public internal(set) var method: JSON?
    public internal(set) var hasParams = false
    public internal(set) var hasResult = false
    public internal(set) var hasError = false
    /// `params.name`, `params.cursor`, `params.uri`, `params.capabilities.elicitation`.
    public internal(set) var name: JSON?
    public internal(set) var cursor: JSON?
    public internal(set) var uri: JSON?
    public internal(set) var elicitation: JSON?
    /// `params.mode` (an elicitation's form or url).
    public internal(set) var mode: JSON?
    /// `params` holds `url` or `elicitationId`: the keys of a URL-mode elicitation, which a
    /// client reads as one even without `mode` (the Python SDK tries URL mode first).
    public internal(set) var hasURLElicitationKeys = false
    /// The key names of `params.arguments` in order, when it is an object.
    public internal(set) var argumentKeys: [String]?
    /// Byte ranges of `params.arguments` and `params._meta` in the line.
    public internal(set) var arguments: Range<Int>?
    public internal(set) var meta: Range<Int>?
    /// `result.action`, `result.isError`, `result.resultType`, `error.code`.
    public internal(set) var action: JSON?
    public internal(set) var resultType: JSON?
    public internal(set) var isError: JSON?
    public internal(set) var errorCode: JSON?

    public var methodName: String? { method?.stringValue }

    /// Scans one line (without its newline). `mapped`: the line is mapped from a spool file
    /// (`SpooledLine`), whose pages the scan gives back behind it (`Parser.releasing`).
    public init(_ line: UnsafeRawBufferPointer, mapped: Bool = false) {
        self.init(line, mapped: mapped, prefix: false)
    }

    /// Scans the start of a line still arriving (`MCPFilter`'s early verdict): the members seen
    /// whole before the bytes ran out are kept (not a number that reaches their end: `"id":1`
    /// may go on as `"id":12`), `error` is set (the line is not complete) and
    /// `truncated` tells whether the scan stopped at the end of `line` rather than at an error
    /// inside it. What it reads is only a forecast: the whole line is scanned again at its end.
    public init(prefix line: UnsafeRawBufferPointer) {
        self.init(line, mapped: false, prefix: true)
    }

    /// With `prefix`: the scan stopped at the end of the bytes given, not at an error before it.
    public internal(set) var truncated = false
    /// A scan of a line's start (`init(prefix:)`).
    private var isPrefix = false

    private init(_ line: UnsafeRawBufferPointer, mapped: Bool, prefix: Bool) {
        isPrefix = prefix
        var p = Parser(b: line, maxDepth: JSON.maxDepth)
        if mapped { p.releasing() }
        do throws(JSONError) {
            p.skipSpace()
            if p.i < line.count, line[p.i] == UInt8(ascii: "{") {
                isObject = true
                try object(&p, .message, depth: 0)
            } else {
                try p.skip(depth: 0)
            }
            p.skipSpace()
            guard p.i == line.count else { throw .syntax(p.i) }
        } catch {
            if prefix, case .syntax(let at) = error, at >= line.count {
                truncated = true
            } else {
                self = MessageScan()
            }
            self.error = error
        }
    }

    public init(_ line: [UInt8]) {
        self = line.withUnsafeBytes { MessageScan($0) }
    }

    init() {}

    /// Refuses a line the grammar accepts (`JSONError.lineBreak`): no member is kept.
    mutating func refuse(_ error: JSONError) {
        self = MessageScan()
        self.error = error
    }

    /// The objects the scan reads.
    private enum Level { case message, params, capabilities, arguments, result, error }

    /// One object at `p.i` (its `{`), read member by member.
    private mutating func object(_ p: inout Parser, _ level: Level, depth: Int) throws(JSONError) {
        guard depth < p.maxDepth else { throw .tooDeep }
        p.i += 1
        p.skipSpace()
        if p.i < p.b.count, p.b[p.i] == UInt8(ascii: "}") {
            p.i += 1
            if level == .arguments { argumentKeys = [] }
            return
        }
        var keys = KeyList(judged: level != .arguments)
        while true {
            p.skipSpace()
            guard p.i < p.b.count, p.b[p.i] == UInt8(ascii: "\"") else { throw .syntax(p.i) }
            let at = p.i
            let key = try p.string()
            guard keys.insert(key) else { throw .syntax(at) }
            p.skipSpace()
            guard p.i < p.b.count, p.b[p.i] == UInt8(ascii: ":") else { throw .syntax(p.i) }
            p.i += 1
            p.skipSpace()
            try member(&p, level, key, depth: depth + 1)
            p.skipSpace()
            guard p.i < p.b.count else { throw .syntax(p.i) }
            if p.b[p.i] == UInt8(ascii: ",") { p.i += 1; continue }
            if p.b[p.i] == UInt8(ascii: "}") {
                p.i += 1
                if level == .arguments { argumentKeys = keys.keys }
                return
            }
            throw .syntax(p.i)
        }
    }

    /// A member's value at `p.i`, built. In a prefix, a number that reaches its end is cut there.
    private func built(_ p: inout Parser, depth: Int) throws(JSONError) -> JSON {
        let value = try p.value(depth: depth)
        if isPrefix, p.i == p.b.count, case .number = value { throw .syntax(p.i) }
        return value
    }

    /// The value of `key` in an object of `level`, at `p.i`: built, read or skipped.
    private mutating func member(_ p: inout Parser, _ level: Level, _ key: String, depth: Int) throws(JSONError) {
        guard p.i < p.b.count else { throw .syntax(p.i) }
        let opens = p.b[p.i] == UInt8(ascii: "{")
        switch (level, key) {
        case (.message, "id"): id = try built(&p, depth: depth)
        case (.message, "method"): method = try built(&p, depth: depth)
        case (.message, "params"):
            hasParams = true
            if opens { try object(&p, .params, depth: depth) } else { try p.skip(depth: depth) }
        case (.message, "result"):
            hasResult = true
            if opens { try object(&p, .result, depth: depth) } else { try p.skip(depth: depth) }
        case (.message, "error"):
            hasError = true
            if opens { try object(&p, .error, depth: depth) } else { try p.skip(depth: depth) }
        case (.params, "name"): name = try built(&p, depth: depth)
        case (.params, "cursor"): cursor = try built(&p, depth: depth)
        case (.params, "uri"): uri = try built(&p, depth: depth)
        case (.params, "mode"): mode = try built(&p, depth: depth)
        case (.params, "url"), (.params, "elicitationId"):
            hasURLElicitationKeys = true
            try p.skip(depth: depth)
        case (.params, "arguments"):
            let start = p.i
            if opens { try object(&p, .arguments, depth: depth) } else { try p.skip(depth: depth) }
            arguments = start..<p.i
        case (.params, "capabilities"):
            if opens { try object(&p, .capabilities, depth: depth) } else { try p.skip(depth: depth) }
        case (.params, "_meta"):
            let start = p.i
            try p.skip(depth: depth)
            meta = start..<p.i
        case (.capabilities, "elicitation"):
            let at = p.i
            elicitation = try built(&p, depth: depth)
            if ConfusableKeys.anyIn(elicitation!) { throw .syntax(at) }
        case (.result, "action"): action = try built(&p, depth: depth)
        case (.result, "isError"): isError = try built(&p, depth: depth)
        case (.result, "resultType"): resultType = try built(&p, depth: depth)
        case (.error, "code"): errorCode = try built(&p, depth: depth)
        default: try p.skip(depth: depth)
        }
    }
}

/// The member names mcpbox reads in the objects it judges, and the keys that a peer's JSON
/// decoder could take for one of them although mcpbox does not.
///
/// mcpbox reads keys by their exact bytes, as the MCP schema spells them. Some SDKs do not: the
/// .NET SDK binds `result`, `params` and `error` case-insensitively (`OrdinalIgnoreCase`, which
/// also takes `ſ` for `s` and `ı` for `i`), and Go's encoding/json before the SDK's v1.3.1 folded
/// case (`K` for `k`, `ſ` for `s`). A server's `"Tools"` beside (or instead of) the `"tools"`
/// mcpbox filtered, a `"Mode":"url"` elicitation, an `"Instructions"` the pin removed would reach
/// such a client as the real member (red-team pass, 2026-12-03). So in every object mcpbox judges
/// (the message, `params`, `params.capabilities` and its `elicitation`, `result`, `error`, list
/// items, input requests) a key that folds to one of these names without being it is refused, as
/// a duplicate key is: the server's line is dropped, the client's answered -32700.
public enum ConfusableKeys {
    public static let names = [
        "jsonrpc", "id", "method", "params", "result", "error", "code", "message", "data",
        "name", "cursor", "nextCursor", "uri", "uriTemplate", "mode", "url", "elicitationId", "arguments",
        "capabilities", "_meta", "sampling", "elicitation", "roots", "form", "tools", "prompts",
        "resources", "resourceTemplates", "instructions", "action", "content", "isError",
        "structuredContent", "resultType", "inputRequests", "inputResponses", "requestState",
        "protocolVersion", "clientInfo", "serverInfo", "requestedSchema", "listChanged",
    ]

    static let byFold: [[UInt8]: [UInt8]] = {
        var out: [[UInt8]: [UInt8]] = [:]
        for n in names { out[fold(n)!] = Array(n.utf8) }
        return out
    }()

    /// ASCII letters lowercased, and the four non-ASCII letters case-insensitive decoders match
    /// to ASCII ones (U+017F, U+0131, U+0130, U+212A); nil when the key holds any other
    /// non-ASCII character (it cannot match an ASCII name) or is longer than any name.
    static func fold(_ key: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(20)
        for u in key.unicodeScalars {
            guard out.count < 20 else { return nil }
            switch u.value {
            case 0x41...0x5A: out.append(UInt8(u.value) | 0x20)
            case 0...0x7F: out.append(UInt8(u.value))
            case 0x17F: out.append(UInt8(ascii: "s"))
            case 0x131, 0x130: out.append(UInt8(ascii: "i"))
            case 0x212A: out.append(UInt8(ascii: "k"))
            default: return nil
            }
        }
        return out
    }

    /// Every scalar folded as `fold` folds it, any length, other characters kept, and `_`
    /// dropped: how a case-insensitive peer, or the Python SDK's models (which also take a field
    /// by its snake_case name), match a member name (`MCPFilter.judgeNamedObjects`).
    static func looseFold(_ key: String) -> [UInt32] {
        key.unicodeScalars.compactMap { u in
            switch u.value {
            case 0x5F: nil
            case 0x41...0x5A: u.value | 0x20
            case 0x17F: 0x73
            case 0x131, 0x130: 0x69
            case 0x212A: 0x6B
            default: u.value
            }
        }
    }

    /// `names` folded, by length in bytes (an ASCII key is compared with those of its length
    /// only, byte by byte: this runs for every key of every judged object).
    static let byLength: [[[UInt8]]] = {
        var out = [[[UInt8]]](repeating: [], count: 21)
        for f in byFold.keys { out[f.count].append(f) }
        return out
    }()

    /// Whether `key` is not one of `names` but a peer could read it as one.
    public static func isConfusable(_ key: String) -> Bool {
        var copy = key
        let ascii = copy.withUTF8 { b -> Bool? in
            for c in b where c >= 0x80 { return nil }
            guard b.count < byLength.count else { return false }
            for folded in byLength[b.count] {
                var same = true
                for i in 0..<b.count {
                    let c = b[i]
                    if (c >= 0x41 && c <= 0x5A ? c | 0x20 : c) != folded[i] { same = false; break }
                }
                // Folds to this name: confusable unless it is the name itself.
                if same { return !b.elementsEqual(byFold[folded]!) }
            }
            return false
        }
        if let ascii { return ascii }
        guard let f = fold(key), let exact = byFold[f] else { return false }
        return !key.utf8.elementsEqual(exact)
    }

    /// Whether an object (a built value) holds such a key, at its top level.
    public static func anyIn(_ value: JSON) -> Bool {
        guard case .object(let pairs) = value else { return false }
        return pairs.contains { isConfusable($0.0) }
    }
}

/// The keys of one object, for the duplicate check: a list while short, a set past that. In a
/// judged object, a confusable key (`ConfusableKeys`) is refused as a duplicate is.
struct KeyList {
    var keys: [String] = []
    var set: Set<String>?
    var judged = false

    init(judged: Bool = false) { self.judged = judged }

    mutating func insert(_ key: String) -> Bool {
        if judged, ConfusableKeys.isConfusable(key) { return false }
        if set == nil, keys.count >= 16 { set = Set(keys) }
        if set != nil {
            guard set!.insert(key).inserted else { return false }
        } else if keys.contains(key) {
            return false
        }
        keys.append(key)
        return true
    }
}
