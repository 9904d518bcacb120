import Foundation
import MCPBoxEvents
import MCPBoxProtocol
import Testing

/// Pinning and confirmation decisions reach the audit log, not only stderr.
@Suite("Audit trail: pin and confirm decisions")
struct AuditDecisionTests {
    @Test("a pin refusal is a denied exchange with its rule; hidden definitions are mcp.pin records")
    func pinDecisions() throws {
        let pins = try PinFixture()
        let policy = MCPPolicy(pins: PinConfig(mode: .block, firstUse: false, profile: "demo", path: pins.path))
        let s = try AuditedSession(policy)
        #expect(try s.driver.listTools(id: 1, [PinFixture.greet("hello")]) == [])
        #expect(try s.driver.call(id: 2, "greet") == -32602)
        let r = try s.records()
        let pin = try #require(r.first { $0["kind"] as? String == "mcp.pin" })
        #expect((pin["message"] as? String)?.contains("greet") == true)
        let call = try #require(r.first { $0["method"] as? String == "tools/call" })
        #expect(call["outcome"] as? String == "denied" && call["tool"] as? String == "greet")
        #expect((call["rule"] as? String)?.hasPrefix("[tools] pin: ") == true, "\(call)")
    }

    @Test(arguments: ["accept", "decline"])
    func confirmDecisions(_ action: String) throws {
        let s = try AuditedSession(MCPPolicy(confirm: ["git_commit"]))
        s.initializeOfferingElicitation()
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"git_commit","arguments":{"message":"m"}}}"# + "\n")
        let ask = try JSON.parse(s.driver.take(1))
        let id = try #require(ask["id"]?.stringValue)
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":"\#(id)","result":{"action":"\#(action)","content":{}}}"# + "\n")
        if action == "accept" {
            _ = s.driver.take(0)
            s.driver.feed(1, #"{"jsonrpc":"2.0","id":7,"result":{"content":[]}}"# + "\n")
        }
        let r = try s.records()
        #expect(!r.contains { $0["kind"] as? String == "mcp.violation" }, "the answer to mcpbox's own question is no violation: \(r)")
        let decisions = r.filter { $0["kind"] as? String == "mcp.decision" }.compactMap { $0["outcome"] as? String }
        #expect(decisions == (action == "accept" ? ["asked", "accepted"] : ["asked"]))
        let call = try #require(r.first { $0["kind"] as? String == "mcp.request" && $0["method"] as? String == "tools/call" })
        if action == "accept" {
            #expect(call["outcome"] as? String == "ok")
        } else {
            #expect(call["outcome"] as? String == "denied")
            #expect((call["rule"] as? String)?.hasPrefix("[tools] confirm: ") == true, "\(call)")
        }
    }
}
