/// Streaming (issue 9, throughput): a line whose verdict is known from its start is passed on as
/// it arrives instead of held whole, up to the byte that would close its JSON object. Its bytes
/// are scanned as they arrive (`IncrementalScan`, which finds what `MessageScan` finds in the
/// whole line) and not kept. What is held back (that byte, what follows it, the newline) is
/// queued only once the line's scan is complete, decided as a held line is (the same decision,
/// the same audit record), and that decision is still to pass it unchanged. When it is not (a later
/// duplicate `method`, `id` or `name`, a `result` in a request, JSON that breaks off, a response
/// id reused meanwhile), the rest is withheld and the session ends: the peer is left with an
/// unfinished JSON value, never a message mcpbox would have refused or changed, even when it acts
/// on an unterminated last line at EOF (the Python SDK's server does). Holding back the newline
/// alone is not enough: a late duplicate `params.name` is the one Python's json keeps.
///
/// How far it is passed on is the scan's own (`IncrementalScan.passable`), so each byte is read
/// once: it stops at the byte that would close the object, at the first raw CR (some clients end a
/// line there, `MCPFilter.line` refuses it), and before the piece in which the scan found the line
/// invalid (any other control byte, a non-ASCII byte outside strings, bad UTF-8...): all of them
/// make the line something other than one plain JSON object, so they wait for the verdict too.
///
/// Only lines whose verdict depends on a few members near their start are forecast: client
/// requests other than `initialize`, the list methods, `resources/*` and `prompts/get` (a
/// `tools/call` once its id and a permitted `params.name` are seen), server requests and
/// notifications, and server responses to requests mcpbox does not filter. Everything else is
/// held whole as before: `[tools] pin` or `confirm`, a `[client]` gate that changes anything,
/// `[audit] payloads` other than `none`, and the lines whose audit record needs the whole message
/// (`initialize`, the answers to `initialize` and `server/discover`). A streamed response whose
/// request changed meanwhile (its id reused for a request mcpbox filters) is refused: its scan
/// alone cannot decide it. A key or member value the scan builds longer than 64 KiB
/// (`IncrementalScan.captureLimit`) ends the session too.
extension MCPFilter {
    /// Scans the held start of `dir`'s current line; when its verdict is known, starts streaming.
    /// Tried from `forecastFrom` held bytes, again each time they double, up to `forecastLimit`.
    func forecast(_ dir: Int) {
        let q = queues[dir]
        guard q.held <= forecastLimit else { forecastAt[dir] = Int.max; return }
        forecastAt[dir] = max(q.held * 2, 64)
        let scan = MessageScan(prefix: q.heldBytes)
        guard scan.error == nil || scan.truncated, scan.isObject, forecastPasses(dir, scan) else { return }
        streamScan[dir] = IncrementalScan()
        streamScan[dir].feed(q.heldBytes)
        streamLength[dir] = q.held
        q.commit(streamScan[dir].passable())
        streaming[dir] = true
    }

    /// Whether a line that starts as `scan` read will pass unchanged, whatever follows, unless
    /// what follows makes it invalid (which `finishStream` refuses).
    func forecastPasses(_ dir: Int, _ scan: MessageScan) -> Bool {
        guard pins == nil, confirm == nil, policy.client?.restricts != true, audit?.readsWhole(dir, scan) != true else { return false }
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
        return outstanding[id.key] == .other
    }

    /// The newline of `dir`'s streamed line has arrived (or its source ended before one):
    /// the whole line is decided as a held one is, and its held-back end queued when it passes
    /// unchanged. False: the session ends.
    func finishStream(_ dir: Int) -> Bool {
        streaming[dir] = false
        let q = queues[dir]
        var scan = streamScan[dir].finish()
        let overflow = streamScan[dir].overflow
        if scan.error == nil, let cr = streamScan[dir].firstCR { scan.refuse(.lineBreak(cr)) }
        // The scan found what `line` finds in the whole line; the line starts with `{` (forecast).
        let action: Action = overflow ? .drop : decide(dir, scan, body: nil, count: streamScan[dir].count, first: UInt8(ascii: "{"))
        streamScan[dir] = IncrementalScan()
        if let spooled = spooling[dir] {
            // The held-back end is in the spool.
            spooling[dir] = nil
            if case .pass = action { passSpooled(dir, spooled) }
        } else if case .pass = action {
            q.commit()
        } else {
            q.dropHeld()
        }
        guard case .pass = action else {
            failed = true
            let what = overflow ? "to hold a key or member value mcpbox reads (id, method, name...) longer than \(IncrementalScan.captureLimit) bytes"
                : lastError.map { why($0) } ?? "refused or changed by mcpbox's policy"
            say("mcpbox: the \(dir == 0 ? "client" : "server") sent a message mcpbox had begun passing on "
                + "(its verdict known from its start) whose whole turned out \(what): its end was held back "
                + "and the session ended")
            return false
        }
        return true
    }
}
