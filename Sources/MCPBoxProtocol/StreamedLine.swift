/// Streaming (issue 9, throughput): a line whose verdict is known from its start is passed on as
/// it arrives instead of held whole, all but its newline. A JSON-RPC peer acts on nothing before
/// the newline, so the newline is the commit point: it is queued only once the whole line has
/// been scanned again (the same `MessageScan` and the same decision as a held line, so the audit
/// record is today's) and that decision is still to pass it unchanged. When it is not (a later
/// duplicate `method`, `id` or `name`, a `result` in a request, JSON that breaks off, a response
/// id reused meanwhile), the newline is withheld and the session ends: the peer is left with an
/// unterminated fragment, never a finished message mcpbox would have refused or changed.
///
/// Only lines whose verdict depends on a few members near their start are forecast: client
/// requests other than `initialize`, the list methods, `resources/*` and `prompts/get` (a
/// `tools/call` once its id and a permitted `params.name` are seen), server requests and
/// notifications, and server responses to requests mcpbox does not filter. Everything else is
/// held whole as before: `[tools] pin` or `confirm`, a `[client]` gate that changes anything,
/// `[audit] payloads` other than `none`.
extension MCPFilter {
    /// Scans the held start of `dir`'s current line; when its verdict is known, starts streaming.
    /// Tried from `forecastFrom` held bytes, again each time they double, up to `forecastLimit`.
    func forecast(_ dir: Int) {
        let q = queues[dir]
        guard q.held <= forecastLimit else { forecastAt[dir] = Int.max; return }
        forecastAt[dir] = max(q.held * 2, 64)
        let scan = MessageScan(prefix: q.heldBytes)
        guard scan.error == nil || scan.truncated, scan.isObject, forecastPasses(dir, scan) else { return }
        q.keepHeld()
        streaming[dir] = true
    }

    /// Whether a line that starts as `scan` read will pass unchanged, whatever follows, unless
    /// what follows makes it invalid (which `finishStream` refuses).
    func forecastPasses(_ dir: Int, _ scan: MessageScan) -> Bool {
        guard pins == nil, confirm == nil, policy.client?.restricts != true, (audit?.payloads ?? AuditPayloads.none) == AuditPayloads.none else { return false }
        if dir == 0 {
            guard let method = scan.methodName else { return false }
            switch method {
            case "tools/call":
                guard let tools = policy.tools else { return true }
                switch scan.id {
                case .string?, .number?: break
                default: return false
                }
                guard case .string(let name)? = scan.name else { return false }
                return tools.permits(name)
            case "initialize", "tools/list", "prompts/list", "prompts/get", "resources/list",
                 "resources/templates/list", "resources/read", "resources/subscribe":
                return false
            default:
                return true
            }
        }
        if scan.method != nil { return scan.methodName != nil && !scan.hasResult && !scan.hasError }
        guard scan.hasResult || scan.hasError, let id = scan.id, id != .null else { return false }
        return outstanding[id.serialized] == .other
    }

    /// The newline of `dir`'s streamed line has arrived: the whole line is decided as a held
    /// one is, and its newline queued when it passes unchanged. False: the session ends.
    func finishStream(_ dir: Int) -> Bool {
        streaming[dir] = false
        let q = queues[dir]
        let action: Action
        if let spooled = spooling[dir] {
            spooling[dir] = nil
            guard let raw = spooled.map() else { return cannotSpool(dir) }
            action = line(dir, raw, mapped: true)
            spooled.unmap()
            if case .pass = action { q.append([0x0a]) }
        } else {
            // The kept line and its newline, held.
            action = line(dir, q.kept)
            if case .pass = action { q.commit() } else { q.dropHeld() }
            q.release()
        }
        guard case .pass = action else {
            failed = true
            let what = lastError.map { why($0) } ?? "refused or changed by mcpbox's policy"
            say("mcpbox: the \(dir == 0 ? "client" : "server") sent a message mcpbox had begun passing on "
                + "(its verdict known from its start) whose whole turned out \(what): its end was held back "
                + "and the session ended")
            return false
        }
        return true
    }

    /// The source ended inside a streamed line: what came of it is on its way, as an unterminated
    /// last line is passed on when held.
    func endStream(_ dir: Int) {
        streaming[dir] = false
        spooling[dir] = nil
        queues[dir].release()
    }
}
