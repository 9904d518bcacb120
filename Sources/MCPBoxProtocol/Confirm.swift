/// `[tools] confirm`: a `tools/call` whose name matches waits for the user's answer, asked by
/// mcpbox through the client's own elicitation UI (`elicitation/create`). mcpbox's requests use
/// ids `mcpbox-confirm-NONCE-N` (NONCE random per session, a string no server-chosen id can
/// match: server requests with that prefix are refused), and their answers never reach the server.
final class ConfirmGate {
    let patterns: [String]
    let nonce: String
    private var next = 0
    /// Whether the client declared form elicitation in `initialize`.
    var clientCanElicit = false
    /// Calls waiting for the user: mcpbox's request id → the call.
    private var held: [String: Held] = [:]

    struct Held {
        var line: [UInt8]
        var id: JSON
        var name: String
    }

    static let prefix = "mcpbox-confirm-"

    init(patterns: [String]) {
        self.patterns = patterns
        nonce = String(UInt64.random(in: 0..<UInt64.max), radix: 16) + String(UInt64.random(in: 0..<UInt64.max), radix: 16)
    }

    func matches(_ name: String) -> Bool { patterns.contains { NamePolicy.matches($0, name) } }

    /// Whether an `initialize` request's `params.capabilities.elicitation` offers form mode
    /// (`{}` means form, as before modes existed; `{"url": {}}` alone does not).
    static func offersForm(_ elicitation: JSON?) -> Bool {
        guard case .object(let pairs)? = elicitation else { return false }
        return pairs.isEmpty || pairs.contains { $0.0 == "form" }
    }

    /// Holds the call and returns mcpbox's `elicitation/create` request for the client.
    func ask(line: [UInt8], id: JSON, name: String, arguments: JSON?) -> [UInt8] {
        next += 1
        let requestId = "\(Self.prefix)\(nonce)-\(next)"
        held[requestId] = Held(line: line, id: id, name: name)
        var args = arguments.map(\.serialized) ?? "{}"
        if args.count > 4000 { args = String(args.prefix(4000)) + "… (\(args.utf8.count) bytes)" }
        let message = "mcpbox: the MCP server's tool \"\(name)\" is about to run with these arguments:\n\(args)\nAllow this call? (Accept runs it; decline or cancel refuses it.)"
        var s = "{\"jsonrpc\":\"2.0\",\"id\":"
        JSON.quote(requestId, into: &s)
        s += ",\"method\":\"elicitation/create\",\"params\":{\"message\":"
        JSON.quote(message, into: &s)
        s += ",\"requestedSchema\":{\"type\":\"object\",\"properties\":{}}}}\n"
        return Array(s.utf8)
    }

    /// The held call answered by the client's response to `requestId`, with the refusal reason
    /// (nil: accepted); nil when no call waits under that id.
    func answer(_ requestId: String, action: String?, isError: Bool) -> (Held, String?)? {
        guard let call = held.removeValue(forKey: requestId) else { return nil }
        if isError { return (call, "the client could not ask the user (it answered the confirmation request with an error)") }
        switch action {
        case "accept": return (call, nil)
        case "decline": return (call, "the user declined it")
        case "cancel": return (call, "the user cancelled the confirmation")
        default: return (call, "the client's answer to the confirmation was not understood")
        }
    }

    /// A `tools/call` result with `isError: true` and mcpbox's reason, for the client.
    static func toolError(id: JSON, _ text: String) -> [UInt8] {
        var s = "{\"jsonrpc\":\"2.0\",\"id\":"
        JSON.write(id, into: &s)
        s += ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":"
        JSON.quote(text, into: &s)
        s += "}],\"isError\":true}}\n"
        return Array(s.utf8)
    }
}
