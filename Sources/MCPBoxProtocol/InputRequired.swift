/// Protocol 2026-07-28's multi round-trip requests (MRTR): a `tools/call`, `prompts/get` or
/// `resources/read` may end in an input-required result (`resultType: "input_required"`) whose
/// `inputRequests` ask the client for sampling, elicitation or roots, answered in the client's
/// retry (`inputResponses`, `requestState`). mcpbox removes the entries `[client]` denies, and
/// asks `[tools] confirm`'s question the same way.
extension MCPFilter {
    static let protocolVersionMetaKey = "io.modelcontextprotocol/protocolVersion"

    /// A response to an input-capable request: the denied `inputRequests` removed and audited;
    /// when none is left, the client gets the spec's missing-capability error (-32021) rather
    /// than a result its retry could never satisfy.
    /// `isInputRequired`: the scan found `result.resultType` to be `"input_required"`.
    func inputRequired(_ body: UnsafeRawBufferPointer, id: JSON, confirmed: Bool, isInputRequired: Bool) -> Action {
        let approved = confirmed ? approvedCalls.removeValue(forKey: id.key) : nil
        guard isInputRequired else { return .pass }
        let parsed: JSON
        do {
            parsed = try JSON.parse(body)
        } catch {
            // Valid to the scan, which does not look inside `inputRequests`, but not to the
            // parser (a duplicate key there): a client keeping the last of duplicate keys would
            // read requests mcpbox cannot filter. Fail closed: the client gets an error.
            guard policy.client?.restricts == true else { return .pass }
            return unreadableAnswer(id: id, why(error))
        }
        var message = parsed
        guard var result = message["result"], result["resultType"] == .string("input_required") else { return .pass }
        if let approved, let state = result["requestState"]?.stringValue { confirm?.continued(state, call: approved) }
        guard let gate = policy.client, gate.restricts, case .object(let requests)? = result["inputRequests"] else { return .pass }
        // A request with a key a client could read as its `method`, `mode` or `url` (`"Mode"`)
        // cannot be judged: the client gets an error (`ConfusableKeys`).
        if requests.contains(where: { ConfusableKeys.anyIn($0.1) || ($0.1["params"].map(ConfusableKeys.anyIn) ?? false) }) {
            return unreadableAnswer(id: id, "an input request holds a key that a client could read as another (a member name in another case)")
        }
        var kept: [(String, JSON)] = []
        var required: [(String, JSON)] = []
        for (key, request) in requests {
            let method = request["method"]?.stringValue ?? ""
            let params = request["params"]
            guard let rule = gate.refusal(method: method, mode: params?["mode"],
                                          urlKeys: params?["url"] != nil || params?["elicitationId"] != nil) else {
                kept.append((key, request))
                continue
            }
            say("mcpbox: removed the server's \(method) (\(JSON.quoted(key))) from an input-required result: \(rule)")
            audit?.recordDecision(direction: 1, method: method, id: id, tool: nil, outcome: "removed from input-required result", rule: rule)
            let capability = gate.deniedCapability(forMethod: method) ?? "elicitation"
            let value: JSON = gate.deniedCapability(forMethod: method) == nil ? .object([("url", .object([]))]) : .object([])
            if !required.contains(where: { $0.0 == capability }) { required.append((capability, value)) }
        }
        if kept.count == requests.count { return .pass }
        if kept.isEmpty {
            var s = "{\"jsonrpc\":\"2.0\",\"id\":"
            JSON.write(id, into: &s)
            s += ",\"error\":{\"code\":-32021,\"message\":"
            JSON.quote("Missing required client capability: the server needs " + required.map(\.0).joined(separator: ", ")
                       + ", which mcpbox does not offer it ([client])", into: &s)
            s += ",\"data\":{\"requiredCapabilities\":" + JSON.object(required).serialized + "}}}\n"
            return .replace(Array(s.utf8))
        }
        result = result.setting("inputRequests", .object(kept))
        message.set("result", result)
        return .replace(Array((message.serialized + "\n").utf8))
    }

    /// An error for the client in place of a server answer mcpbox must filter and cannot parse.
    func unreadableAnswer(id: JSON, _ why: String) -> Action {
        say("mcpbox: refused the server's answer to id \(id.serialized.prefix(40)): \(why); the client gets an error")
        audit?.recordDecision(direction: 1, method: "response", id: id, tool: nil, outcome: "replaced", rule: "[client]: " + why)
        var s = "{\"jsonrpc\":\"2.0\",\"id\":"
        JSON.write(id, into: &s)
        s += ",\"error\":{\"code\":-32603,\"message\":"
        JSON.quote("Internal error: mcpbox could not read the server's answer (\(why))", into: &s)
        s += "}}\n"
        return .replace(Array(s.utf8))
    }

    static let urlElicitationRequiredCode = -32042.0

    /// Whether a JSON value has the number `code`, however it is written: a number (`-32042`,
    /// `-32042.0`, `-3.2042e4`) or a string spelling one (`"-32042"`, `" -32_042 "`), which a
    /// lax client reads as that code too (the Python SDK's pydantic model does). Before, a string
    /// code slipped past the check while the client still saw -32042.
    static func isCode(_ value: JSON?, _ code: Double) -> Bool {
        value?.laxNumber == code
    }

    /// Under `elicitation = "form"` or `false`: a `URLElicitationRequiredError` (-32042,
    /// 2025-11-25), which hands the client URLs to send the user to, replaced by an error without
    /// them. Judged from the scan's `error.code` alone: a line the parser refuses (a duplicate key
    /// in `error.data`, which the scan skips) is replaced all the same.
    func urlElicitationRequired(id: JSON) -> [UInt8] {
        let rule = policy.client?.elicitation == false ? "[client] elicitation = false" : "[client] elicitation = \"form\""
        say("mcpbox: replaced the server's URL elicitation required error (-32042) to id \(id.serialized.prefix(40)): \(rule)")
        audit?.recordDecision(direction: 1, method: "error -32042", id: id, tool: nil, outcome: "replaced", rule: rule)
        var s = "{\"jsonrpc\":\"2.0\",\"id\":"
        JSON.write(id, into: &s)
        s += ",\"error\":{\"code\":-32603,\"message\":"
        JSON.quote("Internal error: the server requires a URL-mode elicitation, which mcpbox does not offer it (\(rule))", into: &s)
        s += "}}\n"
        return Array(s.utf8)
    }

    /// Whether a request speaks protocol 2026-07-28 or later (its `_meta` names the version).
    static func isMultiRoundTrip(_ params: JSON?) -> Bool {
        guard let v = params?["_meta"]?[protocolVersionMetaKey]?.stringValue else { return false }
        return v >= "2026-07-28"
    }

    /// `[tools] confirm` under 2026-07-28, where mcpbox cannot send the client a request of its
    /// own: the call is answered with an input-required result whose one `inputRequests` entry
    /// is mcpbox's question and whose `requestState` is its key. The client's retry carries the
    /// user's answer; on accept, the original call (exactly what the user was shown) goes to the
    /// server under the retry's id. nil: a retry continuing an approved call's own rounds (passed).
    func confirmInResult(_ confirm: ConfirmGate, _ body: UnsafeRawBufferPointer, message: JSON, id: JSON, name: String) -> Action? {
        let params = message["params"]
        let state = params?["requestState"]?.stringValue
        if let state, ConfirmGate.isOwn(state) {
            guard let call = confirm.redeem(state) else {
                return refuseRetry(id: id, name: name, "this confirmation is unknown or was already answered (call the tool again)")
            }
            if call.deadline < clock() {
                audit?.recordDecision(direction: 0, method: "tools/call", id: id, tool: name, outcome: "timeout", rule: "[tools] confirm_timeout")
                return refuseRetry(id: id, name: name, "the user did not answer within \(confirm.timeoutText) (timed out; [tools] confirm_timeout)")
            }
            if let why = ConfirmGate.refusal(action: params?["inputResponses"]?[state]?["action"]?.stringValue) {
                return refuseRetry(id: id, name: name, why)
            }
            guard var original = try? JSON.parse(call.line.dropLast()) else {
                return refuseRetry(id: id, name: name, "the held call could not be read again")
            }
            original.set("id", id)
            audit?.recordDecision(direction: 0, method: "tools/call", id: id, tool: name, outcome: "accepted", rule: "[tools] confirm")
            say("mcpbox: confirm: the user accepted tools/call \(JSON.quoted(call.name))")
            outstanding[id.key] = .confirmedCall
            approvedCalls[id.key] = ConfirmGate.fingerprint(name: call.name, arguments: original["params"]?["arguments"])
            let line = Array((original.serialized + "\n").utf8)
            if let gate = policy.client, gate.restricts,
               let stripped = line.dropLast().withUnsafeBytes({ (try? stripCapabilities($0, gate: gate, initialize: false)) ?? nil }) {
                return .replace(stripped)
            }
            return .replace(line)
        }
        if let state {
            let call = ConfirmGate.fingerprint(name: name, arguments: params?["arguments"])
            if confirm.isContinuation(state, call: call) {
                approvedCalls[id.key] = call
                return nil
            }
        }
        let caps = params?["_meta"]?[Self.clientCapabilitiesMetaKey]
        guard ConfirmGate.offersForm(caps?["elicitation"]) else {
            return refuseRetry(id: id, name: name, "this client cannot ask (it did not declare the elicitation capability in this request's _meta)")
        }
        replies[1].append(confirm.askInResult(line: Array(body) + [0x0a], id: id, name: name,
                                              arguments: params?["arguments"], now: clock()))
        say("mcpbox: confirm: asked the user about tools/call \(JSON.quoted(name)) (input-required result)")
        audit?.recordDecision(direction: 0, method: "tools/call", id: id, tool: name, outcome: "asked", rule: "[tools] confirm")
        audit?.refused(rule: "[tools] confirm: answered by mcpbox with an input-required result (the user's answer comes in the retry)")
        return .drop
    }

    private func refuseRetry(id: JSON, name: String, _ why: String) -> Action {
        say("mcpbox: confirm: refused tools/call \(JSON.quoted(name)): \(why)")
        audit?.refused(rule: "[tools] confirm: " + why)
        replies[1].append(ConfirmGate.toolError(id: id, "mcpbox refused this call: \(why) ([tools] confirm)", complete: true))
        return .drop
    }
}

extension JSON {
    /// The number a lax client reads in this value: a number, or a string spelling one
    /// (`"-32042"`, `" -32_042 "`: the Python SDK's pydantic models accept both); nil otherwise.
    var laxNumber: Double? {
        switch self {
        case .number(let text): return Double(text)
        case .string(let text): return Double(String(text.unicodeScalars.filter { !$0.properties.isWhitespace && $0 != "_" }))
        default: return nil
        }
    }

    /// The object with `key` set to `value` (replaced where it is, else added last).
    func setting(_ key: String, _ value: JSON) -> JSON {
        guard case .object(var pairs) = self else { return self }
        if let i = pairs.firstIndex(where: { $0.0 == key }) { pairs[i].1 = value } else { pairs.append((key, value)) }
        return .object(pairs)
    }
}
