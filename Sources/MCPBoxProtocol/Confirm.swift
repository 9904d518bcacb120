/// `[tools] confirm`: a `tools/call` whose name matches waits for the user's answer, asked by
/// mcpbox through the client's own elicitation UI (`elicitation/create`). mcpbox's requests use
/// ids `mcpbox-confirm-NONCE-N` (NONCE random per session, a string no server-chosen id can
/// match: server requests with that prefix are refused), and their answers never reach the server.
/// A question left unanswered for `timeout` seconds is withdrawn (`notifications/cancelled`) and
/// its call refused; a late answer to it is swallowed.
final class ConfirmGate {
    let patterns: [String]
    let nonce: String
    /// `[tools] confirm_timeout`, in milliseconds.
    let timeoutMs: Int64
    private var next = 0
    /// Whether the client declared form elicitation in `initialize`.
    var clientCanElicit = false
    /// Calls waiting for the user: mcpbox's request id → the call.
    private var held: [String: Held] = [:]
    /// Ids of questions that timed out, oldest first (at most `maxExpired`): their late answers
    /// are expected, and swallowed quietly.
    private var expired: [String] = []
    static let maxExpired = 256

    struct Held {
        var line: [UInt8]
        var id: JSON
        var name: String
        /// CLOCK_MONOTONIC milliseconds after which the call is refused.
        var deadline: Int64
    }

    static let prefix = "mcpbox-confirm-"

    /// Whether `id` is in mcpbox's id space: its bytes begin with `prefix`, as a client compares
    /// them (`String.hasPrefix` compares characters: `mcpbox-confirm-` followed by a combining
    /// mark does not begin with `-` to Swift).
    static func isOwn(_ id: String) -> Bool { id.utf8.starts(with: prefix.utf8) }

    init(patterns: [String], timeout: Double = MCPPolicy.defaultConfirmTimeout) {
        self.patterns = patterns
        timeoutMs = Int64((timeout * 1000).rounded(.up))
        nonce = String(UInt64.random(in: 0..<UInt64.max), radix: 16) + String(UInt64.random(in: 0..<UInt64.max), radix: 16)
    }

    func matches(_ name: String) -> Bool { patterns.contains { NamePolicy.matches($0, name) } }

    /// Whether a call held for the user's answer has the client's request id `id`: until it is
    /// answered, that id is in use (a second request under it would take over how the answer is
    /// judged once the call goes on).
    func isHolding(_ id: JSON) -> Bool {
        let key = id.key
        return held.values.contains { $0.id.key == key }
    }

    /// Whether an `initialize` request's `params.capabilities.elicitation` offers form mode
    /// (`{}` means form, as before modes existed; `{"url": {}}` alone does not).
    static func offersForm(_ elicitation: JSON?) -> Bool {
        guard case .object(let pairs)? = elicitation else { return false }
        return pairs.isEmpty || pairs.contains { $0.0 == "form" }
    }

    /// Holds the call and returns mcpbox's `elicitation/create` request for the client.
    func ask(line: [UInt8], id: JSON, name: String, arguments: JSON?, now: Int64) -> [UInt8] {
        let requestId = newId()
        held[requestId] = Held(line: line, id: id, name: name, deadline: now + timeoutMs)
        var s = "{\"jsonrpc\":\"2.0\",\"id\":"
        JSON.quote(requestId, into: &s)
        s += ",\"method\":\"elicitation/create\",\"params\":"
        s += Self.question(name: name, arguments: arguments)
        s += "}\n"
        return Array(s.utf8)
    }

    private func newId() -> String {
        next += 1
        return "\(Self.prefix)\(nonce)-\(next)"
    }

    /// The `elicitation/create` params that ask the user about one call (form mode, no fields).
    /// `mode` is named only where the protocol has modes (earlier clients may not know the field).
    static func question(name: String, arguments: JSON?, mode: Bool = false) -> String {
        var args = shown(arguments.map(\.serialized) ?? "{}")
        if args.count > 4000 {
            let total = args.utf8.count
            args = String(args.prefix(4000)) + "… (only the first 4000 characters of \(total) bytes are shown: decline unless you expected arguments this long)"
        }
        let message = "mcpbox: the MCP server's tool \(JSON.quoted(shown(name))) is about to run with these arguments:\n\(args)\nAllow this call? (Accept runs it; decline or cancel refuses it.)"
        var s = mode ? "{\"mode\":\"form\",\"message\":" : "{\"message\":"
        JSON.quote(message, into: &s)
        s += ",\"requestedSchema\":{\"type\":\"object\",\"properties\":{}}}"
        return s
    }

    /// `text` with every character a user would not see as itself written `\u{XXXX}`: controls,
    /// format characters (the bidirectional overrides and isolates, which can show an argument
    /// reversed, and the zero-width ones), line and paragraph separators. What the user is asked
    /// to approve reads as what the server gets.
    static func shown(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if JSON.isInvisible(scalar.value) {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
                continue
            }
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            default:
                out.append(scalar)
            }
        }
        return String(out)
    }

    // MARK: Protocol 2026-07-28 (multi round-trip requests)

    /// Questions asked in an input-required result: mcpbox's key (also its `requestState`) → the
    /// original call, forwarded on an accepted retry. At most `maxIssued`, oldest dropped.
    private var issued: [String: Held] = [:]
    static let maxIssued = 256
    /// The server's own `requestState`s of approved calls' input-required rounds: a retry carrying
    /// one continues the approved call without asking again (single use, at most `maxIssued`).
    private var continuations: [(state: String, call: String)] = []

    /// What an approval covers: the tool's name and its arguments (JCS text), so that a
    /// continuation cannot carry another call than the one the user approved.
    static func fingerprint(name: String, arguments: JSON?) -> String {
        name + "\u{0}" + (arguments.map { Canonical.serialize($0) ?? $0.serialized } ?? "")
    }

    /// Records the call and returns mcpbox's input-required result for the client.
    func askInResult(line: [UInt8], id: JSON, name: String, arguments: JSON?, now: Int64) -> [UInt8] {
        let key = newId()
        if issued.count >= Self.maxIssued, let oldest = issued.min(by: { $0.value.deadline < $1.value.deadline })?.key {
            issued.removeValue(forKey: oldest)
        }
        issued[key] = Held(line: line, id: id, name: name, deadline: now + timeoutMs)
        var s = "{\"jsonrpc\":\"2.0\",\"id\":"
        JSON.write(id, into: &s)
        s += ",\"result\":{\"resultType\":\"input_required\",\"inputRequests\":{"
        JSON.quote(key, into: &s)
        s += ":{\"method\":\"elicitation/create\",\"params\":" + Self.question(name: name, arguments: arguments, mode: true) + "}},\"requestState\":"
        JSON.quote(key, into: &s)
        s += "}}\n"
        return Array(s.utf8)
    }

    /// The call asked about under `key` (a retry's `requestState`), removed: each answer is used once.
    func redeem(_ key: String) -> Held? { issued.removeValue(forKey: key) }

    /// An approved call's round ended with the server's own `requestState`.
    func continued(_ state: String, call: String) {
        continuations.append((state, call))
        if continuations.count > Self.maxIssued { continuations.removeFirst() }
    }

    /// Whether `state` continues the approved call `call` (consumed when it does).
    func isContinuation(_ state: String, call: String) -> Bool {
        // By bytes: arguments only canonically equivalent (`caf\u{E9}` and `cafe\u{301}`, `K` and
        // KELVIN SIGN) name other files, and were taken for the call the user approved.
        guard let i = continuations.firstIndex(where: { $0.state.utf8.elementsEqual(state.utf8) && $0.call.utf8.elementsEqual(call.utf8) }) else { return false }
        continuations.remove(at: i)
        return true
    }

    /// The refusal for an elicitation result's `action` (nil: accepted).
    static func refusal(action: String?) -> String? {
        switch action {
        case "accept": return nil
        case "decline": return "the user declined it"
        case "cancel": return "the user cancelled the confirmation"
        case nil: return "the client's retry carried no answer to the confirmation"
        default: return "the client's answer to the confirmation was not understood"
        }
    }

    /// The held call answered by the client's response to `requestId`, with the refusal reason
    /// (nil: accepted); nil when no call waits under that id.
    func answer(_ requestId: String, action: String?, isError: Bool) -> (Held, String?)? {
        guard let call = held.removeValue(forKey: requestId) else { return nil }
        if isError { return (call, "the client could not ask the user (it answered the confirmation request with an error)") }
        return (call, action == nil ? "the client's answer to the confirmation was not understood" : Self.refusal(action: action))
    }

    /// The timeout as said to the user: "120 s", "0.5 s".
    var timeoutText: String {
        timeoutMs % 1000 == 0 ? "\(timeoutMs / 1000) s" : "\(Double(timeoutMs) / 1000) s"
    }

    /// The earliest deadline of a held call (nil: none waits).
    var nextDeadline: Int64? { held.values.map(\.deadline).min() }

    /// Removes and returns the held calls whose deadline passed, oldest question first; their
    /// ids are remembered as expired.
    func expire(now: Int64) -> [(requestId: String, call: Held)] {
        let due = held.filter { $0.value.deadline <= now }.sorted { $0.value.deadline < $1.value.deadline }
        for (requestId, _) in due {
            held.removeValue(forKey: requestId)
            expired.append(requestId)
        }
        if expired.count > Self.maxExpired { expired.removeFirst(expired.count - Self.maxExpired) }
        return due.map { ($0.key, $0.value) }
    }

    /// Whether `requestId` is a question that timed out (its answer comes too late).
    func timedOut(_ requestId: String) -> Bool { expired.contains(requestId) }

    /// `notifications/cancelled` for mcpbox's own question: the client may close its dialog.
    static func cancelled(_ requestId: String, reason: String) -> [UInt8] {
        var s = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":"
        JSON.quote(requestId, into: &s)
        s += ",\"reason\":"
        JSON.quote(reason, into: &s)
        s += "}}\n"
        return Array(s.utf8)
    }

    /// A `tools/call` result with `isError: true` and mcpbox's reason, for the client; `complete`
    /// adds `"resultType": "complete"`, which results must carry from protocol 2026-07-28 on.
    static func toolError(id: JSON, _ text: String, complete: Bool = false) -> [UInt8] {
        var s = "{\"jsonrpc\":\"2.0\",\"id\":"
        JSON.write(id, into: &s)
        s += complete ? ",\"result\":{\"resultType\":\"complete\",\"content\":[{\"type\":\"text\",\"text\":"
            : ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":"
        JSON.quote(text, into: &s)
        s += "}],\"isError\":true}}\n"
        return Array(s.utf8)
    }
}
