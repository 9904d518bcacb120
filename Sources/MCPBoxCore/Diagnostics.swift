/// One problem found in a profile: where, which key, what, and how to fix it.
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    public var file: String?
    public var line: Int?
    public var key: String?
    public var message: String
    public var hint: String?

    public init(file: String? = nil, line: Int? = nil, key: String? = nil, _ message: String, hint: String? = nil) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
        self.hint = hint
    }

    /// `FILE:LINE: key: message (hint)`, parts omitted when unknown.
    public var description: String {
        var s = ""
        if let file {
            s += file
            if let line { s += ":\(line)" }
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
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public init(_ diagnostic: Diagnostic) { self.diagnostics = [diagnostic] }
    /// One `mcpbox: ...` line per diagnostic.
    public var description: String {
        diagnostics.map { "mcpbox: \($0)" }.joined(separator: "\n")
    }
}

/// Collects diagnostics while validation goes on, so every error is reported at once.
struct DiagnosticSink {
    var items: [Diagnostic] = []
    mutating func add(_ d: Diagnostic) {
        if !items.contains(d) { items.append(d) }
    }
    var isEmpty: Bool { items.isEmpty }
    func throwIfAny() throws(ProfileError) {
        if !items.isEmpty { throw ProfileError(items) }
    }
}
