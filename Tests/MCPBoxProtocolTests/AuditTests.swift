import Foundation
import MCPBoxEvents
import MCPBoxProtocol
import Testing

/// A filter with an audit trail writing to a scratch file.
final class AuditedSession {
    let dir: String
    let path: String
    let driver: FilterDriver
    let trail: AuditTrail

    init(_ policy: MCPPolicy, payloads: AuditPayloads = .none, path: String? = nil, required: Bool = true,
         rotation: LogRotation? = nil, serverBudget: Int? = nil) throws {
        dir = NSTemporaryDirectory() + "mcpbox-audit-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        self.path = path ?? dir + "/audit.jsonl"
        driver = FilterDriver(policy)
        let sink = try #require(EventSink.file(self.path, rotation: rotation))
        let box = driver.box
        trail = AuditTrail(sink: sink, profile: "test", profileHash: String(repeating: "a", count: 64), payloads: payloads,
                           required: required, serverBudget: serverBudget, say: { box.lines.append($0) })
        driver.filter.audit = trail
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    /// The initialize exchange, the client declaring elicitation (what `[tools] confirm` needs).
    func initializeOfferingElicitation() {
        driver.feed(0, #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{}}}}"# + "\n")
        _ = driver.take(0)
        driver.feed(1, #"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-11-25","capabilities":{}}}"# + "\n")
        _ = driver.take(1)
    }

    /// The records written so far, parsed.
    func records() throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }
}

@Suite("Audit trail: records")
struct AuditRecordTests {
    static let policy = MCPPolicy(tools: NamePolicy(allow: ["git_status", "git_log*"], deny: ["*commit*"]))

    @Test("a request and its response make one record: method, id, tool, argument keys, outcome, bytes; profile hash on every record")
    func exchanges() throws {
        let s = try AuditedSession(Self.policy)
        s.trail.start(fields: [])
        let initialize = #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"roots":{}},"clientInfo":{"name":"cli","version":"1.2"}}}"#
        s.driver.feed(0, initialize + "\n")
        s.driver.feed(1, #"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{"listChanged":true}},"serverInfo":{"name":"srv","version":"9"}}}"# + "\n")
        s.driver.feed(0, #"{"jsonrpc":"2.0","method":"notifications/initialized"}"# + "\n")
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"git_status","arguments":{"repo_path":"/r","secret":"x"}}}"# + "\n")
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"git_commit","arguments":{"message":"m"}}}"# + "\n")
        s.driver.feed(1, #"{"jsonrpc":"2.0","id":"a","result":{"content":[],"isError":true}}"# + "\n")
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":8,"method":"tools/list"}"# + "\n")
        s.driver.feed(1, #"{"jsonrpc":"2.0","id":8,"error":{"code":-32603,"message":"boom"}}"# + "\n")
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":9,"method":"ping"}"# + "\n")
        s.trail.finish(fields: [("exit_status", .int(0))])
        let r = try s.records()
        #expect(r.map { $0["kind"] as? String } == ["session.start", "mcp.request", "mcp.notification", "mcp.request", "mcp.request",
                                                    "mcp.request", "mcp.request", "session.end"])
        #expect(r.allSatisfy { $0["profile_hash"] as? String == String(repeating: "a", count: 64) && $0["profile"] as? String == "test" })
        let ini = r[1]
        #expect(ini["method"] as? String == "initialize" && ini["id"] as? Int == 0 && ini["outcome"] as? String == "ok")
        #expect(ini["client_name"] as? String == "cli" && ini["client_version"] as? String == "1.2")
        #expect(ini["server_name"] as? String == "srv" && ini["server_version"] as? String == "9" && ini["protocol_version"] as? String == "2025-06-18")
        #expect((ini["server_capabilities"] as? [String: Any])?["tools"] != nil && (ini["client_capabilities"] as? [String: Any])?["roots"] != nil)
        #expect(ini["direction"] as? String == "client_to_server" && ini["duration_us"] is Int)
        #expect(r[2]["method"] as? String == "notifications/initialized" && r[2]["id"] == nil)
        // The refusal is recorded when mcpbox answers, before the allowed call's response.
        let denied = r[3]
        #expect(denied["tool"] as? String == "git_commit" && denied["outcome"] as? String == "denied"
                && denied["rule"] as? String == "[tools] deny \"*commit*\"" && denied["argument_keys"] as? [String] == ["message"])
        let call = r[4]
        #expect(call["tool"] as? String == "git_status" && call["argument_keys"] as? [String] == ["repo_path", "secret"]
                && call["outcome"] as? String == "isError" && call["id"] as? String == "a")
        #expect((call["request_bytes"] as? Int ?? 0) > 50 && (call["response_bytes"] as? Int ?? 0) > 20)
        #expect(call["params"] == nil, "payloads = none keeps no values")
        #expect(r[5]["outcome"] as? String == "error" && r[5]["error_code"] as? Int == -32603)
        #expect(r[6]["method"] as? String == "ping" && r[6]["outcome"] as? String == "no response")
        #expect(r[7]["unanswered"] as? Int == 1 && r[7]["exit_status"] as? Int == 0)
        #expect(try ChainVerifier.verify(files: [s.path]).broken == nil)
    }

    /// The outcome as a lax client reads the response (the Python SDK's pydantic models):
    /// `"isError":"true"` or `1` is a tool error, `"code":"-32602"` is that code. Before, such a
    /// response was recorded `ok`, and the code as null. Found by a red-team pass.
    /// A server's NaN, Infinity and -Infinity (which Python's json writes and mcpbox's parser
    /// accepts) were copied into its records as written, so strict readers (`JSON.parse`,
    /// Foundation) refused exactly the records the server chose: its `initialize` record with
    /// `payloads = "none"`, any result with `"full"`. Red-team pass, 2026-12-02; fails before the fix.
    @Test("non-finite numbers a server sends are recorded as strings: every record stays strict JSON", arguments: [AuditPayloads.none, .full, .redacted])
    func nonFiniteNumbers(_ payloads: AuditPayloads) throws {
        let s = try AuditedSession(Self.policy, payloads: payloads)
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{}}}"# + "\n")
        s.driver.feed(1, #"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{},"experimental":{"n":NaN,"i":-Infinity,"j":[Infinity]}}}}"# + "\n")
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"git_status","arguments":{}}}"# + "\n")
        s.driver.feed(1, #"{"jsonrpc":"2.0","id":1,"result":{"content":[],"structuredContent":{"v":NaN}}}"# + "\n")
        let text = try String(contentsOfFile: s.path, encoding: .utf8)
        for token in [":NaN", ":-Infinity", "[Infinity"] { #expect(!text.contains(token), "\(token) in \(text)") }
        let r = try s.records()
        #expect(r.count == 2, "\(text)")
        let caps = try #require(r[0]["server_capabilities"] as? [String: Any])
        #expect((caps["experimental"] as? [String: Any])?["n"] as? String == "NaN", "\(caps)")
        if payloads == .full { #expect(text.contains(#""v":"NaN""#), "\(text)") }
    }

    @Test("isError and error codes spelled loosely are recorded as the client reads them")
    func looseOutcomes() throws {
        let s = try AuditedSession(Self.policy)
        s.trail.start(fields: [])
        let responses = [#""result":{"content":[],"isError":"true"}"#, #""result":{"content":[],"isError":1}"#,
                         #""result":{"content":[],"isError":false}"#, #""error":{"code":"-32602","message":"x"}"#,
                         #""error":{"code":-32602.0,"message":"x"}"#]
        for (i, response) in responses.enumerated() {
            s.driver.feed(0, #"{"jsonrpc":"2.0","id":\#(i + 1),"method":"tools/call","params":{"name":"git_status","arguments":{}}}"# + "\n")
            s.driver.feed(1, #"{"jsonrpc":"2.0","id":\#(i + 1),\#(response)}"# + "\n")
        }
        s.trail.finish(fields: [])
        let r = try s.records().filter { $0["kind"] as? String == "mcp.request" }
        #expect(r.map { $0["outcome"] as? String } == ["isError", "isError", "ok", "error", "error"], "\(r)")
        #expect(r[3]["error_code"] as? Int == -32602 && r[4]["error_code"] as? Int == -32602, "\(r)")
    }

    @Test("server→client requests: joined with the client's response; a denied one is recorded with its [client] rule")
    func serverToClient() throws {
        let s = try AuditedSession(MCPPolicy(client: ClientGate(sampling: false)))
        s.driver.feed(1, #"{"jsonrpc":"2.0","id":1,"method":"roots/list"}"# + "\n")
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":1,"result":{"roots":[]}}"# + "\n")
        s.driver.feed(1, #"{"jsonrpc":"2.0","id":2,"method":"sampling/createMessage","params":{}}"# + "\n")
        let r = try s.records()
        #expect(r.count == 2)
        #expect(r[0]["direction"] as? String == "server_to_client" && r[0]["method"] as? String == "roots/list" && r[0]["outcome"] as? String == "ok")
        #expect(r[1]["method"] as? String == "sampling/createMessage" && r[1]["outcome"] as? String == "denied"
                && r[1]["rule"] as? String == "[client] sampling = false")
    }

    @Test("lines that are not JSON-RPC are counted and recorded as protocol violations, never their bytes")
    func violations() throws {
        let s = try AuditedSession(Self.policy)
        s.driver.feed(1, "a log line on stdout SECRET\n")
        s.driver.feed(1, "{not json\n")
        s.driver.feed(1, #"{"jsonrpc":"2.0","id":42,"result":{}}"# + "\n")
        s.driver.feed(0, "[1]\n")
        let r = try s.records()
        #expect(r.map { $0["kind"] as? String } == Array(repeating: "mcp.violation", count: 4))
        #expect(r.map { $0["count"] as? Int } == [1, 2, 3, 4] && s.trail.violations == 4)
        #expect(r[2]["why"] as? String == "a response to id 42, which no request has")
        #expect(try !String(contentsOfFile: s.path, encoding: .utf8).contains("SECRET"))
    }

    @Test("memory stays bounded: a reused id closes the earlier request; past the pending limit requests are recorded at once")
    func pendingBounded() throws {
        let s = try AuditedSession(Self.policy)
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"ping"}"# + "\n")
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"ping"}"# + "\n")
        var r = try s.records()
        #expect(r.count == 1 && r[0]["outcome"] as? String == "no response (id reused)")
        // A reuse that would change how an answer is judged is refused instead (ReusedIdTests).
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"# + "\n" + #"{"jsonrpc":"2.0","id":2,"method":"ping"}"# + "\n")
        r = try s.records()
        #expect(r.count == 2 && r[1]["outcome"] as? String == "denied" && (r[1]["rule"] as? String)?.contains("already in use") == true, "\(r)")
        var flood = ""
        for i in 0..<AuditTrail.maxPending { flood += #"{"jsonrpc":"2.0","id":\#(i + 10),"method":"roots/list"}"# + "\n" }
        s.driver.feed(1, flood)
        r = try s.records()
        // (Two requests were pending before the flood, ids 1 and 2: its last two are not tracked.)
        #expect(r.count == 4 && r[2...].allSatisfy { ($0["outcome"] as? String)?.hasPrefix("not tracked") == true }
                && r[2]["id"] as? Int == AuditTrail.maxPending + 8 && r[3]["id"] as? Int == AuditTrail.maxPending + 9)
    }

    @Test("memory stays bounded by size: requests left unanswered whose huge ids pass maxPendingBytes are recorded at once, not kept")
    func pendingBoundedBySize() throws {
        // The records of these server requests hold their ids: a budget for the server's own
        // records that takes them all, so each is written (AuditFloodTests covers the budget).
        let s = try AuditedSession(Self.policy, serverBudget: 64 << 20)
        let big = String(repeating: "i", count: 1 << 20)
        // Each server request holds its 1 MiB id twice: the budget takes seven or eight of them.
        var flood = ""
        for i in 0..<12 { flood += #"{"jsonrpc":"2.0","id":"\#(big)\#(i)","method":"roots/list"}"# + "\n" }
        s.driver.feed(1, flood)
        let r = try s.records()
        let untracked = r.filter { ($0["outcome"] as? String)?.hasPrefix("not tracked (pending requests hold more than") == true }
        #expect(!untracked.isEmpty && untracked.count < 12, "\(r.map { $0["outcome"] as? String ?? "-" })")
        // What is tracked still joins its answer.
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":"\#(big)0","result":{"roots":[]}}"# + "\n")
        let after = try s.records()
        #expect(after.count == r.count + 1 && after.last?["outcome"] as? String == "ok", "\(after.last ?? [:])")
    }

    @Test("payloads: full keeps params and results; redacted masks secret keys and secret-looking strings")
    func payloads() throws {
        let call = #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"git_log","arguments":{"repo_path":"/r","api_key":"plain","note":"use sk-abcdefghijklmnopqrstuvwx now"}}}"# + "\n"
        let answer = #"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"Authorization: Bearer abc.def"}]}}"# + "\n"
        let full = try AuditedSession(Self.policy, payloads: .full)
        full.driver.feed(0, call)
        full.driver.feed(1, answer)
        let f = try full.records()[0]
        #expect(((f["params"] as? [String: Any])?["arguments"] as? [String: Any])?["api_key"] as? String == "plain")
        #expect(f["result"] is [String: Any])
        let red = try AuditedSession(Self.policy, payloads: .redacted)
        red.driver.feed(0, call)
        red.driver.feed(1, answer)
        let r = try red.records()[0]
        let args = (r["params"] as? [String: Any])?["arguments"] as? [String: Any]
        #expect(args?["api_key"] as? String == "[redacted]" && args?["repo_path"] as? String == "/r")
        #expect(args?["note"] as? String == "use [redacted] now")
        let text = try String(contentsOfFile: red.path, encoding: .utf8)
        #expect(!text.contains("sk-abcdefghijklmnopqrstuvwx") && !text.contains("abc.def") && !text.contains("plain"))
    }

    @Test("a log that cannot be written ends the session when required, and only warns once when not")
    func writeFailure() throws {
        // /dev/full: every write fails with ENOSPC.
        let s = try AuditedSession(Self.policy, path: "/dev/full")
        #expect(!s.driver.feed(0, #"{"jsonrpc":"2.0","method":"notifications/initialized"}"# + "\n"))
        #expect(s.trail.mustStop && s.driver.box.lines.contains { $0.contains("audit log: cannot write") && $0.contains("session ended") })
        let relaxed = try AuditedSession(Self.policy, path: "/dev/full", required: false)
        for _ in 0..<3 { #expect(relaxed.driver.feed(0, #"{"jsonrpc":"2.0","method":"notifications/initialized"}"# + "\n")) }
        #expect(relaxed.driver.box.lines.filter { $0.contains("audit log") }.count == 1)
        #expect(relaxed.driver.take(0).count > 0, "the traffic still flows")
    }
}

@Suite("Audit trail: records held until their line is passed on")
struct AuditHeldTests {
    static let policy = AuditRecordTests.policy

    static func call(_ id: Int) -> String {
        #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"git_status","arguments":{"repo_path":"/r"}}}"# + "\n"
    }

    static func answer(_ id: Int) -> String { #"{"jsonrpc":"2.0","id":\#(id),"result":{"content":[]}}"# + "\n" }

    @Test("the line completing an exchange is passed on first and its record written by the next tick, before anything else is read; a line after it in the same read waits for it; the chain verifies")
    func order() throws {
        let s = try AuditedSession(Self.policy)
        s.trail.holding = true
        #expect(s.driver.filter.needsClock, "the relay calls tick, where held records are written")
        #expect(s.driver.feed(0, Self.call(1)) && s.driver.take(0) == Self.call(1))
        #expect(s.driver.feed(1, Self.answer(1)))
        #expect(try s.records().isEmpty, "not written before the answer is passed on")
        #expect(s.driver.take(1) == Self.answer(1))
        #expect(s.driver.filter.tick(now: 0) == -1)
        #expect(try s.records().map { $0["id"] as? Int } == [1])
        // Two answers in one read: the first one's record is written before the second is decided.
        #expect(s.driver.feed(0, Self.call(2) + Self.call(3)) && s.driver.take(0) == Self.call(2) + Self.call(3))
        #expect(s.driver.feed(1, Self.answer(2) + Self.answer(3)))
        #expect(try s.records().map { $0["id"] as? Int } == [1, 2])
        #expect(s.driver.take(1) == Self.answer(2) + Self.answer(3))
        // Held records are written before the next read is decided, tick or not.
        #expect(s.driver.feed(0, #"{"jsonrpc":"2.0","method":"notifications/initialized"}"# + "\n"))
        #expect(try s.records().map { $0["id"] as? Int } == [1, 2, 3])
        s.trail.finish(fields: [])
        #expect(try s.records().map { $0["kind"] as? String } == ["mcp.request", "mcp.request", "mcp.request", "mcp.notification", "session.end"])
        #expect(try s.records().last?["records"] as? Int == 4)
        #expect(try ChainVerifier.verify(files: [s.path]).broken == nil)
    }

    @Test("the log can no longer be written mid-session: the answer already passed on is the last line relayed; tick ends the session with the message, and nothing read after it is passed on")
    func failure() throws {
        let s = try AuditedSession(Self.policy)
        s.trail.holding = true
        #expect(s.driver.feed(0, Self.call(1)) && s.driver.take(0) == Self.call(1))
        #expect(s.driver.feed(1, Self.answer(1)) && s.driver.take(1) == Self.answer(1))
        #expect(s.driver.filter.tick(now: 0) == -1)
        // The log is renamed away (made read-only, as a rotation does) and a directory takes its name.
        #expect(chmod(s.path, 0o400) == 0)
        try FileManager.default.moveItem(atPath: s.path, toPath: s.path + ".away")
        try FileManager.default.createDirectory(atPath: s.path, withIntermediateDirectories: false)
        #expect(s.driver.feed(0, Self.call(2)) && s.driver.take(0) == Self.call(2))
        #expect(s.driver.feed(1, Self.answer(2)))
        #expect(s.driver.take(1) == Self.answer(2))
        #expect(s.driver.filter.tick(now: 0) == MCPFilter.stopSession)
        #expect(s.trail.mustStop && s.driver.box.lines.contains { $0.contains("audit log: cannot write") && $0.contains("session ended") })
        #expect(!s.driver.feed(0, Self.call(3)), "the session is over")
        #expect(!s.driver.feed(1, Self.answer(3)))
        #expect(s.driver.take(0).isEmpty && s.driver.take(1).isEmpty, "nothing after the failed record is passed on")
        #expect(s.driver.filter.tick(now: 0) == MCPFilter.stopSession)
    }
}

@Suite("Audit trail: redaction")
struct RedactionTests {
    @Test(arguments: ["token", "access_token", "X-Api-Key", "password", "client_secret", "Authorization", "cookie", "credentials", "key", "privateKey"])
    func secretKeys(_ key: String) { #expect(Redactor.isSecretKey(key)) }

    @Test(arguments: ["name", "path", "repo_path", "author", "keyboard_layout", "message", "monkey"])
    func ordinaryKeys(_ key: String) { #expect(!Redactor.isSecretKey(key)) }

    @Test(arguments: ["sk-proj-abcdefghijklmnop1234", "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
                      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                      "AKIAIOSFODNN7EXAMPLE12", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRg"])
    func secretStrings(_ s: String) { #expect(Redactor.looksSecret(s)) }

    @Test(arguments: ["/home/user/projects/repository", "hello world", "git_status", "2026-11-29T10:00:00Z", "README.md", "initial commit"])
    func ordinaryStrings(_ s: String) { #expect(Redactor.redact(string: s) == s) }

    @Test func bearerWordAndNesting() {
        #expect(Redactor.redact(string: "Authorization: Bearer abc") == "Authorization: Bearer [redacted]")
        let v = Redactor.redact(.object([("a", .array([.object([("password", .number("1"))])]))]))
        #expect(v.serialized == #"{"a":[{"password":"[redacted]"}]}"#)
    }
}
