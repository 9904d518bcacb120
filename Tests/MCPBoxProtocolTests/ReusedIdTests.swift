@testable import MCPBoxProtocol
import Testing

/// mcpbox remembered how to judge each answer by the id of the request it answers, and a second
/// request under an id still awaiting its answer overwrote the first's entry: a `ping` reusing
/// the id of a `tools/list` let the server's unfiltered list (denied tools, a rug-pulled
/// definition) through, and a reused `tools/call` id let a 2026-07-28 input request the profile
/// denies reach the client. Found by a red-team pass (2026-12-02); fails before the fix.
@Suite("MCP filter: a request reusing the id of one still unanswered is refused")
struct ReusedIdTests {
    static let tools = #"{"tools":[{"name":"git_status","inputSchema":{"type":"object"}},{"name":"git_commit","inputSchema":{"type":"object"}}]}"#

    @Test("a ping under the id of a pending tools/list: refused with -32600; the list is still filtered",
          arguments: [#"5"#, #""five""#])
    func pingUnderListId(_ id: String) throws {
        let d = FilterDriver(MCPPolicy(tools: NamePolicy(allow: nil, deny: ["*commit*"])))
        d.feed(0, #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/list"}"# + "\n")
        #expect(d.take(0).contains("tools/list"))
        d.feed(0, #"{"jsonrpc":"2.0","id":\#(id),"method":"ping"}"# + "\n")
        #expect(d.take(0).isEmpty, "the second request under the same id reached the server")
        let refusal = try JSON.parse(d.take(1))
        #expect(refusal["id"]?.serialized == id && refusal["error"]?["code"] == .number("-32600"), "\(refusal.serialized)")
        #expect(d.box.lines.contains { $0.contains("\"ping\": its id is already in use") }, "\(d.box.lines)")
        d.feed(1, #"{"jsonrpc":"2.0","id":\#(id),"result":\#(Self.tools)}"# + "\n")
        let answer = d.take(1)
        #expect(answer.contains("git_status") && !answer.contains("git_commit"), "the list went through unfiltered: \(answer)")
        // Once answered, the id is free again (as a client that restarts its counter needs).
        d.feed(0, #"{"jsonrpc":"2.0","id":\#(id),"method":"ping"}"# + "\n")
        #expect(d.take(0).contains("ping"))
    }

    @Test("a filtered list under the id of a pending ping is refused too; two plain requests under one id pass as before")
    func otherOrders() throws {
        let d = FilterDriver(MCPPolicy(tools: NamePolicy(allow: nil, deny: ["*commit*"])))
        d.feed(0, #"{"jsonrpc":"2.0","id":9,"method":"ping"}"# + "\n")
        _ = d.take(0)
        d.feed(0, #"{"jsonrpc":"2.0","id":9,"method":"tools/list"}"# + "\n")
        #expect(d.take(0).isEmpty)
        #expect(try JSON.parse(d.take(1))["error"]?["code"] == .number("-32600"))
        // Neither answer judged (a ping, an allowed call): nothing to take over, both forwarded.
        d.feed(0, #"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"git_status"}}"# + "\n")
        #expect(d.take(0).contains("git_status"))
    }
}
