import MCPBoxEvents
#if canImport(Glibc)
import Glibc
#endif

/// `[audit] payloads`: what of a message's parameters and results the audit log keeps.
public enum AuditPayloads: String, Sendable, CaseIterable {
    /// Method, id, tool name and argument keys only.
    case none
    /// Params and results too, with values under secret-looking keys and secret-looking strings masked.
    case redacted
    /// Params and results as sent.
    case full
}

/// The audit trail of one MCP session: one record per exchange (a request joined with its
/// response by id, in either direction), one per notification, one per protocol violation,
/// plus session start and end. Records are `Event`s of the shared log format (kinds `mcp.*`,
/// `session.*`), written through an `EventSink` (hash chain, rotation).
///
/// What the server alone sends (its notifications, its requests to the client, its lines that
/// are no message) gets individual records up to `serverBudget` bytes per session; past that
/// each is counted instead, and `finish` writes one `mcp.summary` per method. Size rotation
/// drops the oldest file, so without the budget a server writing small notifications fast
/// pushed `session.start`, the refused calls before it and earlier sessions out of the log.
/// What the client drives (its requests and their answers, refusals) is always written.
///
/// The MCP layer calls `observe` for every whole line before deciding on it, `refused` when
/// mcpbox answers a request itself, and `lineDone` once the line is decided.
public final class AuditTrail {
    let sink: EventSink
    let profile: String
    let profileHash: String
    let payloads: AuditPayloads
    /// A write that fails ends the session (true) or is warned about once (false).
    public let required: Bool
    let say: (String) -> Void
    /// Set when a record could not be written.
    public private(set) var failed = false
    /// Records written.
    public private(set) var records = 0
    /// Lines that were not a JSON-RPC message mcpbox could read, or answered no request.
    public private(set) var violations = 0
    /// Bytes of individual records the server's own traffic may take in this session (records
    /// as written, `prev` included); past them its messages are counted, not written one by one.
    public let serverBudget: Int
    /// Bytes of the server's own traffic written as individual records so far.
    public private(set) var serverBytes = 0
    /// Messages of the server's own traffic counted instead of written (budget spent).
    public private(set) var summarized = 0
    /// Set once a record of the server's own traffic did not fit `serverBudget`.
    public private(set) var budgetSpent = false
    /// The counts `finish` writes as `mcp.summary` records, in the order first met.
    private var summaries: [Summary] = []
    private var summaryIndex: [SummaryKey: Int] = [:]
    /// Distinct methods summarized so far (at most `maxSummarizedMethods`).
    private var summarizedMethods = 0

    /// A request seen and not yet answered, or the line being decided.
    struct Exchange {
        var dir: Int
        var method: String
        var id: JSON?
        var tool: String?
        var argumentKeys: [String]?
        var start: UInt64
        var requestBytes: Int
        var params: String?
        var extra: [(String, Event.Value)] = []
        var rule: String?
    }

    /// Most requests awaiting a response at once (both directions).
    public static let maxPending = 4096
    /// The default `serverBudget`: a quarter of the log's `max_size` (10 MiB when the sink does
    /// not rotate), so a flooding session writes at most that much plus its summaries, and a
    /// log of `max_size` × `keep` keeps what came before it.
    public static func serverBudget(maxSize: UInt64) -> Int { Int(clamping: maxSize / 4) }
    /// Most methods given their own `mcp.summary` (a method sent both as a notification and as
    /// a request counts twice); the messages of further methods are counted together, so a
    /// server making up method names cannot make the summaries long.
    public static let maxSummarizedMethods = 64
    /// Most bytes of a method name a summary keeps (longer ones are cut, and counted as the cut name).
    public static let maxSummarizedMethodBytes = 128
    /// Most bytes the requests awaiting a response may hold at once (their ids, methods, tool
    /// names, argument keys and kept params): a peer's huge ids or methods on requests never
    /// answered cannot grow mcpbox's memory past this; the first pending request is always kept.
    public static let maxPendingBytes = 16 << 20
    /// Records are held while set, and written by `writeHeld`: the relay passes on the line that
    /// completes an exchange first and writes its record right after, before it reads or acts on
    /// anything else (so a failed write still ends the session before anything further is relayed).
    public var holding = false
    /// Records made while `holding`, not yet written: events, or exchanges whose record is built
    /// when it is written (off the path of the line that completed them).
    private var held: [Held] = []

    enum Held {
        case event(Event)
        /// A record of the server's own traffic (a protocol violation), charged to the budget when written.
        case server(Event, Counted)
        /// `write`'s arguments, with the time the exchange ended (realtime, monotonic).
        case exchange(Exchange, outcome: String?, response: Response?, responseBytes: Int, time: Double, end: UInt64)
    }
    /// Whether records are waiting for `writeHeld`.
    public var hasHeld: Bool { !held.isEmpty }

    /// Requests awaiting a response, by direction and id.
    private var pending: [Key: Exchange] = [:]
    /// What `pending` holds, as `cost` counts it.
    private var pendingBytes = 0
    /// The request or notification of the line being decided (`observe` … `lineDone`).
    private var current: Exchange?

    /// `serverBudget` nil: `serverBudget(maxSize:)` of the sink's rotation.
    public init(sink: EventSink, profile: String, profileHash: String, payloads: AuditPayloads = .none,
                required: Bool = true, serverBudget: Int? = nil, say: @escaping (String) -> Void) {
        self.sink = sink
        self.profile = profile
        self.profileHash = profileHash
        self.payloads = payloads
        self.required = required
        self.serverBudget = serverBudget ?? Self.serverBudget(maxSize: sink.rotation?.maxSize ?? 10 << 20)
        self.say = say
    }

    /// Whether the session must end now (a write failed and the log is required).
    public var mustStop: Bool { failed && required }

    // MARK: Records

    /// Writes one record of `kind` (e.g. `mcp.pin`), `profile_hash` first among its fields.
    /// Other parts of the MCP layer (pinning, confirmation) record their decisions with it.
    @discardableResult
    public func record(kind: String, fields: [(String, Event.Value)]) -> Bool {
        var all: [(String, Event.Value)] = []
        all.reserveCapacity(fields.count + 1)
        all.append(("profile_hash", .string(profileHash)))
        all += fields
        return emit(kind: kind, fields: all)
    }

    /// Does the log's deferred work (the hash of the record just written); the MCP layer calls
    /// it once a message is passed on, so the next record does not wait for it.
    public func settle() { sink.settle() }

    /// Writes the records held (in order), then the hash of the last one; false when one could
    /// not be written and the log is required (the session must end).
    @discardableResult
    public func writeHeld() -> Bool {
        guard !held.isEmpty else { return !mustStop }
        // The buffer is taken and given back emptied (no allocation per call).
        var records: [Held] = []
        swap(&records, &held)
        defer {
            records.removeAll(keepingCapacity: true)
            if held.isEmpty { swap(&records, &held) }
        }
        for r in records {
            let ok: Bool
            switch r {
            case .event(let e): ok = put(e)
            case let .server(e, counted): ok = putServer(counted) { e }
            case let .exchange(e, outcome, response, bytes, time, end):
                ok = putExchange(e, outcome: outcome, response: response, responseBytes: bytes, time: time, end: end)
            }
            if !ok && required { return false }
        }
        sink.settle()
        return true
    }

    /// Writes one record whose fields begin with `profile_hash` (holds it while `holding`).
    @discardableResult
    private func emit(kind: String, fields: [(String, Event.Value)]) -> Bool {
        if failed && required { return false }
        let event = Event(profile: profile, kind: kind, fields: fields)
        if holding {
            held.append(.event(event))
            return true
        }
        if !held.isEmpty, !writeHeld() { return false }
        return put(event)
    }

    /// Writes one record now.
    @discardableResult
    private func put(_ event: Event) -> Bool {
        if failed && required { return false }
        guard sink.write(event) else {
            let first = !failed
            failed = true
            if first {
                let why = String(cString: strerror(sink.lastError))
                    + (sink.lastError == ENOLCK ? ": its .lock file stayed held by another process for \(Int(EventSink.lockWait)) s (a sandboxed server that can see the log's directory?)" : "")
                say(required
                    ? "mcpbox: audit log: cannot write (\(why)): session ended ([audit] required = true; free space or fix the log's permissions, and keep the log's directory out of every bind)"
                    : "mcpbox: warning: audit log: cannot write (\(why)); the session continues with records missing ([audit] required = false)")
            }
            return false
        }
        records += 1
        return true
    }

    /// An id as a record holds it: a string, or an integer of at most 15 digits, as written;
    /// anything else (`NaN`, `Infinity`, `1e400`, a 1 MiB number, which strict JSON readers
    /// refuse or read inexactly; an id of another type) as a string of its JSON text, at most
    /// 1024 bytes.
    static func recordedID(_ id: JSON) -> Event.Value {
        switch id {
        case .string: return .json(id.serialized)
        case .number(let n) where Self.isPlainInteger(n): return .json(n)
        default:
            let text = id.serialized
            guard text.utf8.count > 1024 else { return .string(text) }
            return .string(Self.cut(text) + "…")
        }
    }

    /// An integer of at most 15 digits, as JSON writes it (`-` and digits): exact in every JSON
    /// reader (`1e400`, `1.5` or a long number is not: one reads infinity, another refuses it).
    static func isPlainInteger(_ n: String) -> Bool {
        let digits = n.utf8.drop { $0 == UInt8(ascii: "-") }
        return !digits.isEmpty && digits.count <= 15 && n.utf8.count - digits.count <= 1 && digits.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// A record of a decision mcpbox took on its own, with the rule that took it (pinning,
    /// confirmation): kind `mcp.decision`.
    @discardableResult
    public func recordDecision(direction dir: Int, method: String, id: JSON?, tool: String?, outcome: String, rule: String) -> Bool {
        var f: [(String, Event.Value)] = [("direction", .string(Self.direction(dir))), ("method", .string(method))]
        f.append(("id", id.map(Self.recordedID) ?? .null))
        if let tool { f.append(("tool", .string(tool))) }
        f += [("outcome", .string(outcome)), ("rule", .string(rule))]
        return record(kind: "mcp.decision", fields: f)
    }

    /// `session.start`, with what the caller knows of the session (profile files, pid...).
    @discardableResult
    public func start(fields: [(String, Event.Value)]) -> Bool {
        record(kind: "session.start", fields: [("payloads", .string(payloads.rawValue))] + fields)
    }

    /// Records the requests never answered (outcome `no response`), the `mcp.summary` records
    /// of what the server sent past its budget, then `session.end`.
    @discardableResult
    public func finish(fields: [(String, Event.Value)]) -> Bool {
        holding = false
        writeHeld()
        let open = pending.values.sorted { $0.start < $1.start }
        pending = [:]
        pendingBytes = 0
        for e in open { write(e, outcome: "no response", response: nil, responseBytes: 0) }
        for s in summaries { record(kind: "mcp.summary", fields: s.fields) }
        return record(kind: "session.end", fields: [("records", .int(Int64(records))), ("protocol_violations", .int(Int64(violations))),
                                                    ("unanswered", .int(Int64(open.count))), ("summarized", .int(Int64(summarized)))]
                      + fields)
    }

    static func direction(_ dir: Int) -> String { dir == 0 ? "client_to_server" : "server_to_client" }

    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    // MARK: Lines

    /// One whole line of `dir` (newline and CR removed), before the MCP layer decides on it,
    /// with the scan the MCP layer made of it (the line is not parsed again, except an
    /// `initialize` exchange's and, with `payloads`, the parameters and results kept).
    public func observe(_ dir: Int, _ body: UnsafeRawBufferPointer, _ head: MessageScan) {
        observe(dir, count: body.count, first: MCPFilter.firstSignificantByte(body), head, full: { try? JSON.parse(body) })
    }

    /// Whether `observe` reads more of a line than its scan (the whole message, parsed): an
    /// `initialize` and the answers to `initialize` and `server/discover`, or any line with
    /// `payloads`. A line passed on before its end is never kept for it (`StreamedLine.swift`).
    func readsWhole(_ dir: Int, _ head: MessageScan) -> Bool {
        if payloads != .none { return true }
        if let method = head.methodName { return method == "initialize" }
        guard let id = head.id, let request = pending[Self.key(1 - dir, id)] else { return false }
        return request.method == "initialize" || request.method == "server/discover"
    }

    /// `observe` for a line of `count` bytes (without its newline) starting with `first`, its
    /// whole message parsed by `full` when `readsWhole` (nil: not at hand).
    /// `unsolicited`: the line answers no request the filter forwarded (a server's answer to a
    /// call mcpbox holds for confirmation, or refused): never joined to the request the audit
    /// awaits, so a forged answer cannot become its recorded outcome.
    func observe(_ dir: Int, count: Int, first: UInt8?, _ head: MessageScan, unsolicited: Bool = false, full: () -> JSON?) {
        current = nil
        let bytes = count + 1
        guard first == UInt8(ascii: "{") else {
            violation(dir, bytes, first == UInt8(ascii: "[")
                ? "a batch (JSON array), which MCP no longer has" : "not a JSON object")
            return
        }
        if let error = head.error {
            if case .lineBreak = error {
                violation(dir, bytes, "a raw CR inside the line, where some clients end a line")
            } else {
                violation(dir, bytes, "not valid JSON")
            }
            return
        }
        if let method = head.methodName {
            var e = Exchange(dir: dir, method: method, id: head.id, start: Self.monotonicNanoseconds(), requestBytes: bytes)
            if method == "tools/call" {
                e.tool = head.name?.stringValue
                e.argumentKeys = head.argumentKeys
            } else if method == "prompts/get" {
                e.tool = head.name?.stringValue
            } else if dir == 0, method == "resources/read" || method == "resources/subscribe" {
                e.extra.append(("uri", Self.cutField(head.uri)))
            } else if dir == 0, method == "completion/complete", let ref = full()?["params"]?["ref"] {
                // What the completion is for: a prompt by name, a resource template by uri
                // (red-team pass, 2026-12-03: the record named neither). The client's request
                // only, each cut to 1024 bytes.
                e.extra.append(("ref_type", Self.cutField(ref["type"])))
                if let name = ref["name"] { e.extra.append(("prompt", Self.cutField(name))) }
                if let uri = ref["uri"] { e.extra.append(("uri", Self.cutField(uri))) }
            }
            // Past the budget the server's message is only counted: nothing of it is kept.
            if method == "initialize" || (payloads != .none && !(dir == 1 && budgetSpent)), let full = full() {
                if method == "initialize", let params = full["params"] {
                    if let info = params["clientInfo"] {
                        e.extra.append(("client_name", Self.stringField(info["name"])))
                        e.extra.append(("client_version", Self.stringField(info["version"])))
                    }
                    e.extra.append(("protocol_version_requested", Self.stringField(params["protocolVersion"])))
                    if let caps = params["capabilities"] { e.extra.append(("client_capabilities", .json(caps.strictSerialized))) }
                }
                if payloads != .none, let params = full["params"] { e.params = payload(params) }
            }
            current = e
            return
        }
        guard let id = head.id, id != .null else {
            violation(dir, bytes, head.hasError ? "an error response without id" : "neither a request nor a response")
            return
        }
        // A response: it answers a request of the other direction.
        guard !unsolicited, let request = takePending(Self.key(1 - dir, id)) else {
            // The client's answer to mcpbox's own request (a confirmation): recorded by its decision.
            if dir == 0, let prefix = ownIdPrefix, case .string(let s) = id, s.utf8.starts(with: prefix.utf8) { return }
            violation(dir, bytes, "a response to id \(id.serialized.prefix(40)), which no request has",
                      reason: "a response to an id which no request has")
            return
        }
        var response = Response(hasError: head.hasError, errorCode: head.errorCode, isError: Self.truthy(head.isError), full: nil)
        if request.method == "initialize" || request.method == "server/discover" || payloads != .none {
            response.full = full()
        }
        write(request, outcome: nil, response: response, responseBytes: bytes)
    }

    /// Ids of mcpbox's own requests to the client (`[tools] confirm`): their answers are not
    /// protocol violations.
    public var ownIdPrefix: String?

    /// A request of `dir` that was held or forwarded and then answered by mcpbox itself (a
    /// declined confirmation): closed as `denied` with `rule`.
    public func answeredLocally(_ dir: Int, id: JSON, rule: String) {
        guard var e = takePending(Self.key(dir, id)) else { return }
        e.rule = rule
        write(e, outcome: "denied", response: nil, responseBytes: 0)
    }

    /// mcpbox answered the line being decided itself (or dropped it): recorded as `denied` with
    /// `rule` (e.g. `tools.deny "*commit*"`), never awaiting the peer's response.
    public func refused(rule: String) {
        current?.rule = rule
    }

    /// The line is decided: a request is now awaited, a notification or refusal recorded.
    public func lineDone() {
        guard let e = current else { return }
        current = nil
        if e.rule != nil {
            write(e, outcome: "denied", response: nil, responseBytes: 0)
        } else if let id = e.id, id != .null {
            let key = Self.key(e.dir, id)
            if let earlier = takePending(key) {
                // The id is reused while its request is pending: the earlier request is closed.
                write(earlier, outcome: "no response (id reused)", response: nil, responseBytes: 0)
            } else if pending.count >= Self.maxPending {
                // Memory stays bounded whatever a peer sends: past the limit, requests are recorded at once.
                write(e, outcome: "not tracked (\(Self.maxPending) requests pending)", response: nil, responseBytes: 0)
                return
            }
            let cost = Self.cost(key, e)
            if !pending.isEmpty, pendingBytes + cost > Self.maxPendingBytes {
                // Likewise by size: huge ids or methods on requests left unanswered.
                write(e, outcome: "not tracked (pending requests hold more than \(Self.maxPendingBytes >> 20) MiB)",
                      response: nil, responseBytes: 0)
                return
            }
            pending[key] = e
            pendingBytes += cost
        } else {
            write(e, outcome: nil, response: nil, responseBytes: 0)
        }
    }

    /// A pending request's key: its direction and serialized id (a number's text as written).
    struct Key: Hashable {
        var dir: Int
        var id: String
    }

    /// Removes and returns the pending request under `key`.
    private func takePending(_ key: Key) -> Exchange? {
        guard let e = pending.removeValue(forKey: key) else { return nil }
        pendingBytes -= Self.cost(key, e)
        return e
    }

    /// The bytes a pending request holds, about: its id twice (key and record), method, tool,
    /// argument keys, kept params, and a fixed share for the entry itself.
    static func cost(_ key: Key, _ e: Exchange) -> Int {
        2 * key.id.utf8.count + e.method.utf8.count + (e.tool?.utf8.count ?? 0) + (e.params?.utf8.count ?? 0)
            + (e.argumentKeys?.reduce(0) { $0 + $1.utf8.count + 16 } ?? 0) + 128
    }

    static func key(_ dir: Int, _ id: JSON) -> Key {
        if case .number(let n) = id { return Key(dir: dir, id: n) }
        return Key(dir: dir, id: id.key)
    }

    static func stringField(_ v: JSON?) -> Event.Value { v?.stringValue.map { .string($0) } ?? .null }

    /// `stringField`, at most 1024 bytes (`cut`).
    static func cutField(_ v: JSON?) -> Event.Value { v?.stringValue.map { .string(cut($0)) } ?? .null }

    /// `text` cut to at most `limit` bytes, at a character boundary.
    static func cut(_ text: String, limit: Int = 1024) -> String {
        let b = Array(text.utf8)
        guard b.count > limit else { return text }
        var end = limit
        while end > 0 && b[end] & 0xC0 == 0x80 { end -= 1 }
        return String(decoding: b[..<end], as: UTF8.self)
    }

    /// A line of `dir` that is no message mcpbox can read; `reason`: what a summary counts it
    /// as (`why` without the line's own bytes), when it is the server's.
    private func violation(_ dir: Int, _ bytes: Int, _ why: String, reason: String? = nil) {
        violations += 1
        let fields: [(String, Event.Value)] = [("direction", .string(Self.direction(dir))), ("why", .string(why)),
                                               ("bytes", .int(Int64(bytes))), ("count", .int(Int64(violations)))]
        guard dir == 1 else {
            record(kind: "mcp.violation", fields: fields)
            return
        }
        if failed && required { return }
        let counted = Counted(of: "mcp.violation", method: nil, label: reason ?? why, bytes: bytes, time: Event.now())
        if budgetSpent {
            count(counted)
            return
        }
        let event = Event(time: counted.time, profile: profile, kind: "mcp.violation",
                          fields: [("profile_hash", .string(profileHash))] + fields)
        if holding {
            held.append(.server(event, counted))
            return
        }
        if !held.isEmpty, !writeHeld() { return }
        putServer(counted) { event }
    }

    /// `isError` as a lax client reads it (the Python SDK's pydantic model): true, a string such
    /// as "true" or "1", a non-zero number. The audit said `ok` for `"isError":"true"` before.
    static func truthy(_ value: JSON?) -> Bool {
        switch value {
        case .bool(let b)?: return b
        case .number(let n)?: return Double(n).map { $0 != 0 } ?? false
        case .string(let s)?:
            let word = String(s.unicodeScalars.filter { !$0.properties.isWhitespace }).lowercased()
            return ["true", "1", "yes", "on", "t", "y"].contains(word)
        default: return false
        }
    }

    /// What a record keeps of a response.
    struct Response {
        var hasError: Bool
        var errorCode: JSON?
        var isError: Bool
        var full: JSON?
    }

    /// An exchange's record: kind `mcp.request` (with `response` or an outcome given) or
    /// `mcp.notification`.
    private func write(_ e: Exchange, outcome given: String?, response: Response?, responseBytes: Int) {
        if failed && required { return }
        let time = Event.now(), end = Self.monotonicNanoseconds()
        if e.dir == 1, budgetSpent {
            count(counted(e, outcome: given, response: response, responseBytes: responseBytes, time: time))
            return
        }
        if holding {
            held.append(.exchange(e, outcome: given, response: response, responseBytes: responseBytes, time: time, end: end))
            return
        }
        if !held.isEmpty, !writeHeld() { return }
        putExchange(e, outcome: given, response: response, responseBytes: responseBytes, time: time, end: end)
    }

    /// Writes an exchange's record now: the server's (`dir` 1) within its budget, or counted.
    @discardableResult
    private func putExchange(_ e: Exchange, outcome given: String?, response: Response?, responseBytes: Int,
                             time: Double, end: UInt64) -> Bool {
        guard e.dir == 1 else {
            return put(exchangeEvent(e, outcome: given, response: response, responseBytes: responseBytes, time: time, end: end))
        }
        return putServer(counted(e, outcome: given, response: response, responseBytes: responseBytes, time: time)) {
            exchangeEvent(e, outcome: given, response: response, responseBytes: responseBytes, time: time, end: end)
        }
    }

    // MARK: The server's budget

    /// What a summary counts of one message: the kind its record would have had, its method
    /// (nil: a protocol violation), its outcome or (a violation) its reason, its bytes, when.
    struct Counted {
        var of: String
        var method: String?
        var label: String
        var bytes: Int
        var time: Double
    }

    struct SummaryKey: Hashable {
        var of: String
        /// nil: a violation, or a method past `maxSummarizedMethods`.
        var method: String?
    }

    /// The messages of one kind and method counted past the budget.
    struct Summary {
        var key: SummaryKey
        var count = 0
        var bytes = 0
        /// Counts by outcome (reason, for violations), in the order first met; outcomes and
        /// reasons are mcpbox's own words, a few at most.
        var labels: [(String, Int)] = []
        var first: Double
        var last: Double

        /// The `mcp.summary` record's fields after `profile_hash`.
        var fields: [(String, Event.Value)] {
            var f: [(String, Event.Value)] = [("direction", .string(AuditTrail.direction(1))), ("of", .string(key.of))]
            if key.of != "mcp.violation" {
                f.append(("method", key.method.map { .string($0) } ?? .null))
                if key.method == nil { f.append(("other_methods", .bool(true))) }
            }
            f += [("count", .int(Int64(count))), ("bytes", .int(Int64(bytes)))]
            var object = "{"
            for (i, (label, n)) in labels.enumerated() {
                if i > 0 { object += "," }
                JSON.quote(label, into: &object)
                object += ":\(n)"
            }
            f.append((key.of == "mcp.violation" ? "reasons" : "outcomes", .json(object + "}")))
            f += [("first_time", .string(Event.timestamp(first))), ("last_time", .string(Event.timestamp(last)))]
            return f
        }
    }

    /// `Counted` for an exchange of the server's, its outcome as its record would say it.
    private func counted(_ e: Exchange, outcome given: String?, response: Response?, responseBytes: Int, time: Double) -> Counted {
        let isNotification = e.id == nil || e.id == .null
        var outcome = given ?? (isNotification ? "sent" : "ok")
        if let response {
            if response.hasError { outcome = "error" } else if response.isError { outcome = "isError" }
        }
        // "not tracked (…)" has a few spellings, all mcpbox's; the rule of a refusal is left out.
        return Counted(of: isNotification ? "mcp.notification" : "mcp.request", method: e.method, label: outcome,
                       bytes: e.requestBytes + responseBytes, time: time)
    }

    /// The bytes `,"prev":"HEX"` adds to a record as the log writes it.
    static let prevFieldBytes = #","prev":""#.utf8.count + 64 + 1

    /// Writes a record of the server's own traffic if it fits what is left of the budget; the
    /// first that does not is preceded by an `mcp.budget` record, and it and every later one are
    /// counted instead (`event` is then never built).
    @discardableResult
    private func putServer(_ counted: Counted, _ event: () -> Event) -> Bool {
        if failed && required { return false }
        if !budgetSpent {
            let e = event()
            let size = e.bytes(prev: nil).count + Self.prevFieldBytes
            if serverBytes + size <= serverBudget {
                serverBytes += size
                return put(e)
            }
            budgetSpent = true
            let spent = Event(time: counted.time, profile: profile, kind: "mcp.budget", fields: [
                ("profile_hash", .string(profileHash)), ("direction", .string(Self.direction(1))),
                ("budget_bytes", .int(Int64(serverBudget))), ("written_bytes", .int(Int64(serverBytes))),
            ])
            if !put(spent) && required { return false }
        }
        count(counted)
        return true
    }

    /// Adds a message to its summary (a new method while fewer than `maxSummarizedMethods` have one).
    private func count(_ c: Counted) {
        summarized += 1
        var key = SummaryKey(of: c.of, method: c.method.map {
            $0.utf8.count <= Self.maxSummarizedMethodBytes ? $0
                : String(decoding: $0.utf8.prefix(Self.maxSummarizedMethodBytes), as: UTF8.self)
        })
        var index = summaryIndex[key]
        if index == nil, key.method != nil {
            if summarizedMethods < Self.maxSummarizedMethods {
                summarizedMethods += 1
            } else {
                key.method = nil
                index = summaryIndex[key]
            }
        }
        let i: Int
        if let index {
            i = index
        } else {
            i = summaries.count
            summaries.append(Summary(key: key, first: c.time, last: c.time))
            summaryIndex[key] = i
        }
        summaries[i].count += 1
        summaries[i].bytes += c.bytes
        // A held record is counted after one counted at once: the times need not come in order.
        summaries[i].first = min(summaries[i].first, c.time)
        summaries[i].last = max(summaries[i].last, c.time)
        if let j = summaries[i].labels.firstIndex(where: { $0.0 == c.label }) {
            summaries[i].labels[j].1 += 1
        } else {
            summaries[i].labels.append((c.label, 1))
        }
    }

    /// The record of an exchange that ended at `time` (`end` on the monotonic clock).
    private func exchangeEvent(_ e: Exchange, outcome given: String?, response: Response?, responseBytes: Int,
                               time: Double, end: UInt64) -> Event {
        let isNotification = e.id == nil || e.id == .null
        var f: [(String, Event.Value)] = []
        f.reserveCapacity(16 + e.extra.count)
        f.append(("profile_hash", .string(profileHash)))
        f.append(("direction", .string(Self.direction(e.dir))))
        f.append(("method", .string(e.method)))
        if !isNotification {
            f.append(("id", Self.recordedID(e.id!)))
        }
        if let tool = e.tool { f.append((e.method == "prompts/get" ? "prompt" : "tool", .string(tool))) }
        if let keys = e.argumentKeys {
            var list = "["
            for (i, k) in keys.enumerated() {
                if i > 0 { list += "," }
                JSON.quote(k, into: &list)
            }
            f.append(("argument_keys", .json(list + "]")))
        }
        var outcome = given ?? (isNotification ? "sent" : "ok")
        if let response {
            if response.hasError {
                outcome = "error"
                f.append(("outcome", .string(outcome)))
                // As a lax client reads it: a number, or a string spelling one (`"-32602"`).
                if let code = response.errorCode?.laxNumber, code == code.rounded(), abs(code) < 9e15 {
                    f.append(("error_code", .int(Int64(code))))
                } else {
                    f.append(("error_code", .null))
                }
            } else {
                if response.isError { outcome = "isError" }
                f.append(("outcome", .string(outcome)))
            }
        } else {
            f.append(("outcome", .string(outcome)))
        }
        if let rule = e.rule { f.append(("rule", .string(rule))) }
        if !isNotification {
            let us = given == nil ? Int64((end &- e.start) / 1000) : nil
            f.append(("duration_us", us.map { .int($0) } ?? .null))
        }
        f.append(("request_bytes", .int(Int64(e.requestBytes))))
        if !isNotification { f.append(("response_bytes", .int(Int64(responseBytes)))) }
        f += e.extra
        if let full = response?.full, let result = full["result"], e.method == "initialize" || e.method == "server/discover" {
            if let info = result["serverInfo"] {
                f.append(("server_name", Self.stringField(info["name"])))
                f.append(("server_version", Self.stringField(info["version"])))
            }
            f.append(("protocol_version", Self.stringField(result["protocolVersion"])))
            if let caps = result["capabilities"] { f.append(("server_capabilities", .json(caps.strictSerialized))) }
        }
        if let params = e.params { f.append(("params", .json(params))) }
        if payloads != .none, let full = response?.full {
            if let result = full["result"] { f.append(("result", .json(payload(result)))) }
            if let error = full["error"] { f.append(("error", .json(payload(error)))) }
        }
        return Event(time: time, profile: profile, kind: isNotification ? "mcp.notification" : "mcp.request", fields: f)
    }

    private func payload(_ v: JSON) -> String {
        (payloads == .redacted ? Redactor.redact(v) : v).strictSerialized
    }
}

/// `payloads = "redacted"`: masks values under keys that name secrets, and strings (or words
/// of strings) that look like secrets, with `"[redacted]"`.
public enum Redactor {
    public static let mask = "[redacted]"

    /// Key names (lower-cased, `-` as `_`) containing one of these are secret.
    static let secretKeyParts = ["token", "secret", "passw", "passphrase", "apikey", "api_key", "private_key", "privatekey",
                                 "access_key", "authorization", "cookie", "credential", "session_id", "sessionid", "signature",
                                 "client_secret", "bearer"]
    /// Key names that are secret exactly.
    static let secretKeys: Set<String> = ["key", "auth", "pwd", "pin", "otp", "jwt", "set_cookie", "x_api_key"]
    /// Prefixes of well-known token formats.
    static let secretPrefixes = ["sk-", "sk_live_", "sk_test_", "rk_live_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
                                 "glpat-", "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "AKIA", "ASIA", "AIza", "hf_", "npm_", "pypi-"]

    public static func isSecretKey(_ key: String) -> Bool {
        let k = String(key.lowercased().map { $0 == "-" ? "_" : $0 })
        return secretKeys.contains(k) || secretKeyParts.contains { k.contains($0) }
    }

    /// A value with secrets masked (depth is bounded by the parser that made it).
    public static func redact(_ v: JSON) -> JSON {
        switch v {
        case .object(let pairs): return .object(pairs.map { ($0.0, isSecretKey($0.0) ? .string(mask) : redact($0.1)) })
        case .array(let items): return .array(items.map(redact))
        case .string(let s): return .string(redact(string: s))
        default: return v
        }
    }

    /// A string with every secret-looking word masked (and the word after `Bearer` / `Basic`).
    public static func redact(string s: String) -> String {
        if looksSecret(s) { return mask }
        guard s.contains(where: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "=" || $0 == ":" }) else { return s }
        var out = ""
        var word = ""
        var afterScheme = false
        func flush() {
            let w = word
            word = ""
            guard !w.isEmpty else { return }
            if afterScheme || looksSecret(w) { out += mask } else { out += w }
            afterScheme = ["bearer", "basic", "token"].contains(w.lowercased())
        }
        for c in s {
            if c == " " || c == "\n" || c == "\t" || c == "=" || c == ":" || c == "\"" || c == "'" || c == "," {
                flush()
                out.append(c)
            } else {
                word.append(c)
            }
        }
        flush()
        return out
    }

    /// A token format, a JWT, or a long high-entropy string without spaces.
    public static func looksSecret(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count >= 8 else { return false }
        if secretPrefixes.contains(where: { s.hasPrefix($0) }) && u.count >= 16 { return true }
        if s.hasPrefix("eyJ") && u.split(separator: UInt8(ascii: ".")).count == 3 && u.count >= 20 { return true }
        guard u.count >= 20, u.allSatisfy({ isTokenByte($0) }) else { return false }
        var counts = [Int](repeating: 0, count: 256)
        var classes = (upper: false, lower: false, digit: false)
        for b in u {
            counts[Int(b)] += 1
            switch b {
            case 0x41...0x5a: classes.upper = true
            case 0x61...0x7a: classes.lower = true
            case 0x30...0x39: classes.digit = true
            default: break
            }
        }
        var entropy = 0.0
        let n = Double(u.count)
        for c in counts where c > 0 {
            let p = Double(c) / n
            entropy -= p * log2(p)
        }
        let mixed = [classes.upper, classes.lower, classes.digit].filter { $0 }.count
        return (entropy >= 4.0 && mixed >= 3) || (u.count >= 32 && entropy >= 3.5 && classes.digit && (classes.lower || classes.upper))
    }

    static func isTokenByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
            || b == UInt8(ascii: "+") || b == UInt8(ascii: "/") || b == UInt8(ascii: "=") || b == UInt8(ascii: "_")
            || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
    }
}
