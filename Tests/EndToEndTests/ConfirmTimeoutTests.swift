import Foundation
import MCPBoxTestSupport
import Testing

/// `[tools] confirm_timeout`, `[client] elicitation = "form"` and `[tools] confirm` under protocol
/// 2026-07-28, end to end: the built binary between the real Python SDK client (or a raw
/// JSON-RPC client where the SDK cannot misbehave as needed) and servers of our own.
@Suite("MCP layer: confirm timeout, form-only elicitation, 2026-07-28 confirm", .enabled(if: TestSupport.isRoot, "runs sandboxes: run as root (CI does)"))
struct ConfirmTimeoutEndToEndTests {
    static var add: [String: Any] { ["call": "add", "arguments": ["a": 1, "b": 1]] }

    /// The audit records of the session (one JSON object per line).
    func audit(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    func auditSection(_ s: PinningTests.Setup) -> String {
        "\n[audit]\nlog = \(tomlString(s.tmp.path + "/audit.jsonl"))"
    }

    @Test("a client that never answers the confirmation: mcpbox refuses the call after confirm_timeout, audits it, and the session goes on")
    func timeoutRefusal() throws {
        let s = try PinningTests.Setup()
        try s.profile("confirm = [\"gre*\"]\nconfirm_timeout = 1" + auditSection(s))
        let r = try s.session("honest", [PinningTests.greet, Self.add], elicit: "never")
        #expect(r.error == nil, "\(r.error ?? "") \(r.stderr.suffix(1500))")
        try #require(r.steps.count == 2, "\(r.steps) \(r.stderr.suffix(1500))")
        #expect(r.steps[0].is_error == true && r.steps[0].text?.contains("did not answer within 1 s (timed out") == true, "\(r.steps[0])")
        #expect(r.elicitations.count == 1, "the user was asked once: \(r.elicitations)")
        #expect(r.steps[1].is_error == false && r.steps[1].text == "2", "\(r.steps[1])")
        #expect(s.serverCalls == ["add"], "the refused call reached the server: \(s.serverCalls)")
        #expect(r.stderr.contains("mcpbox: confirm: refused tools/call \"greet\": the user did not answer within 1 s"), "\(r.stderr.suffix(1500))")
        let records = try audit(s.tmp.path + "/audit.jsonl")
        #expect(records.contains { $0["kind"] as? String == "mcp.decision" && $0["outcome"] as? String == "timeout" && $0["tool"] as? String == "greet" },
                "\(records.filter { ($0["kind"] as? String)?.hasPrefix("mcp.") == true })")
        #expect(records.contains { $0["kind"] as? String == "mcp.request" && $0["tool"] as? String == "greet" && $0["outcome"] as? String == "denied" })
    }

    @Test("an answer after the timeout is swallowed: the held call never runs, nothing is answered twice, no protocol violation")
    func lateAnswerSwallowed() throws {
        let s = try PinningTests.Setup()
        try s.profile("confirm = [\"gre*\"]\nconfirm_timeout = 1" + auditSection(s))
        let config: [String: Any] = [
            "command": [s.mcpbox, "run", "rug"] + s.selection + ["--", s.venv + "/bin/python", s.fixtures + "/mcp_rugpull.py", "honest"],
            "env": s.environment, "call": ["name": "greet", "arguments": ["who": "late"]], "after": ["name": "add", "arguments": ["a": 2, "b": 2]],
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
        let run = try runProcess([s.venv + "/bin/python", s.fixtures + "/mcp_late_client.py", json], environment: s.environment, timeout: 180)
        let out = try #require(try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any], "\(run.stdoutText) \(run.stderr.suffix(1500))")
        #expect(out["error"] is NSNull, "\(out["error"] ?? "") \(run.stderr.suffix(1500))")
        let result = (out["result"] as? [String: Any])?["result"] as? [String: Any]
        #expect(result?["isError"] as? Bool == true, "\(out)")
        #expect(out["cancelled"] as? Bool == true, "mcpbox withdraws its question (notifications/cancelled)")
        let after = (out["after"] as? [String: Any])?["result"] as? [String: Any]
        #expect(((after?["content"] as? [[String: Any]])?.first?["text"] as? String) == "4", "\(out)")
        #expect(s.serverCalls == ["add"], "the late accept ran the call: \(s.serverCalls)")
        #expect(run.stderr.contains("ignored a late answer to a confirmation that had timed out"), "\(run.stderr.suffix(1500))")
        let records = try audit(s.tmp.path + "/audit.jsonl")
        #expect(records.contains { $0["kind"] as? String == "mcp.decision" && $0["outcome"] as? String == "late answer ignored" })
        #expect(!records.contains { $0["kind"] as? String == "mcp.violation" }, "\(records.filter { $0["kind"] as? String == "mcp.violation" })")
    }

    struct ModesReport: Decodable {
        struct Answer: Decodable {
            struct Failure: Decodable { var code: Int; var message: String }
            struct Outcome: Decodable { var action: String? }
            var error: Failure?
            var result: Outcome?
        }
        var elicitation: [String: [String: String]]?
        var answers: [String: Answer]
    }

    func modes(client: String) throws -> (ClientOutput, ModesReport?) {
        let out = try MCPClientGatingTests.asker(client: client, args: ["modes"])
        return (out, out.calls.first.flatMap { try? JSONDecoder().decode(ModesReport.self, from: Data($0.text.utf8)) })
    }

    @Test("elicitation = \"form\": URL mode is not declared to the server, its URL elicitation is refused with -32602 and never reaches the client; form mode does")
    func formOnly() throws {
        let (out, report) = try modes(client: "[client]\nelicitation = \"form\"")
        out.expectCleanSession(server: "mcp-asker")
        let r = try #require(report, "tool result: \(out.calls)")
        #expect(r.elicitation == ["form": [:]], "what the server saw declared: \(String(describing: r.elicitation))")
        #expect(r.answers["url"]?.error?.code == -32602, "\(String(describing: r.answers["url"]))")
        // URL mode's keys without `mode`: the SDK's client takes it as URL mode (red team).
        #expect(r.answers["nomode"]?.error?.code == -32602, "\(String(describing: r.answers["nomode"]))")
        #expect(r.answers["form"]?.error == nil && r.answers["form"]?.result?.action == "accept", "\(String(describing: r.answers["form"]))")
        #expect(out.client_requests == ["elicitation/create"], "the client was asked: \(out.client_requests ?? [])")
        #expect(out.stderr.contains("refused the server's elicitation/create (mode \"url\"): [client] elicitation = \"form\""), "\(out.stderr.suffix(800))")
        #expect(out.stderr.contains("refused the server's elicitation/create (mode none, with URL-mode keys): [client] elicitation = \"form\""), "\(out.stderr.suffix(800))")

        // Without the key both modes reach the client (the same client and server).
        let (open, openReport) = try modes(client: "")
        open.expectCleanSession(server: "mcp-asker")
        let o = try #require(openReport, "tool result: \(open.calls)")
        #expect(o.elicitation == ["form": [:], "url": [:]], "\(String(describing: o.elicitation))")
        #expect(o.answers["url"]?.error == nil && o.answers["form"]?.error == nil)
        #expect(open.client_requests == ["elicitation/create", "elicitation/create", "elicitation/create"])
    }

    @Test("protocol 2026-07-28 (the SDK's high-level client): confirm asks through an input-required result; accept runs the call, decline refuses it")
    func confirmByInputRequired() throws {
        let s = try PinningTests.Setup()
        try s.profile("confirm = [\"gre*\"]")
        let accepted = try s.session("honest", [PinningTests.greet, Self.add], elicit: "accept", modern: true)
        #expect(accepted.error == nil, "\(accepted.error ?? "") \(accepted.stderr.suffix(1500))")
        #expect(accepted.protocol == "2026-07-28", "negotiated \(accepted.protocol ?? "nil")")
        try #require(accepted.steps.count == 2, "\(accepted.steps) \(accepted.stderr.suffix(1500))")
        #expect(accepted.steps[0].is_error == false && accepted.steps[0].text == "hello pinned", "\(accepted.steps[0]) \(accepted.stderr.suffix(1500))")
        #expect(accepted.elicitations.count == 1 && accepted.elicitations[0].contains("\"greet\""), "\(accepted.elicitations)")
        #expect(accepted.stderr.contains("(input-required result)"), "\(accepted.stderr.suffix(1500))")
        #expect(accepted.steps[1].text == "2")
        #expect(s.serverCalls == ["greet", "add"], "\(s.serverCalls)")

        let declined = try s.session("honest", [PinningTests.greet], elicit: "decline", modern: true)
        #expect(declined.steps.count == 1 && declined.steps[0].is_error == true && declined.steps[0].text?.contains("declined") == true,
                "\(declined.steps) \(declined.stderr.suffix(1500))")
        #expect(s.serverCalls == ["greet", "add"], "a declined call reached the server: \(s.serverCalls)")
    }
}
