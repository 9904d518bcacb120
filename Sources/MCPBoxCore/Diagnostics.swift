/// One problem found in a profile: where, which key, what, and how to fix it.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public var file: String?
    public var line: Int?
    /// 1-based column, when known (TOML syntax errors).
    public var column: Int?
    public var key: String?
    public var message: String
    public var hint: String?

    public init(file: String? = nil, line: Int? = nil, column: Int? = nil, key: String? = nil, _ message: String, hint: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
        self.hint = hint
    }

    /// `FILE:LINE[:COLUMN]: key: message (hint)`, parts omitted when unknown.
    public var description: String {
        var s = ""
        if let file {
            s += file
            if let line {
                s += ":\(line)"
                if let column { s += ":\(column)" }
            }
            s += ": "
        }
        if let key { s += "\(key): " }
        s += message
        if let hint { s += " (\(hint))" }
        return s
    }
}

/// Every error found while resolving a profile; nothing of it is used.
public struct ProfileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    /// Errors found but not kept past `DiagnosticSink.limit` (the last diagnostic says how many).
    public var notShown = 0
    /// Every error found, those not shown included.
    public var count: Int { diagnostics.count - (notShown > 0 ? 1 : 0) + notShown }
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public init(_ diagnostic: Diagnostic) { self.diagnostics = [diagnostic] }
    /// One `mcpbox: ...` line per diagnostic.
    public var description: String {
        diagnostics.map { "mcpbox: \($0)" }.joined(separator: "\n")
    }
}

/// Collects diagnostics while validation goes on, so every error is reported at once.
struct DiagnosticSink {
    /// The most diagnostics kept: a file of 100,000 unknown keys (under 1 MiB) printed 24 MB.
    static let limit = 1000
    var items: [Diagnostic] = []
    /// Diagnostics past `limit`, counted, not kept.
    private(set) var dropped = 0
    /// The same diagnostics, to drop repeats in constant time.
    private var seen: Set<Diagnostic> = []
    mutating func add(_ d: Diagnostic) {
        // Every distinct one counted, repeats past the limit too (its input bounds the set).
        guard seen.insert(d).inserted else { return }
        guard items.count < Self.limit else { dropped += 1; return }
        items.append(d)
    }
    /// Every diagnostic of `other`, its uncounted ones included.
    mutating func merge(_ other: DiagnosticSink) {
        for d in other.items { add(d) }
        dropped += other.dropped
    }
    var isEmpty: Bool { items.isEmpty }
    func throwIfAny() throws(ProfileError) {
        guard !items.isEmpty else { return }
        if dropped > 0 {
            var e = ProfileError(items + [Diagnostic("\(dropped) more \(dropped == 1 ? "error" : "errors") not shown (the first \(Self.limit) are)",
                                                     hint: "fix these first")])
            e.notShown = dropped
            throw e
        }
        throw ProfileError(items)
    }
}
