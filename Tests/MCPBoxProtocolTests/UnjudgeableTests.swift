import Foundation
@testable import MCPBoxProtocol
import Testing

/// Requests the policy cannot judge as written are refused, never forwarded: found by a red-team
/// pass (each test fails on the build before the fix).
@Suite("MCP filter: requests mcpbox cannot judge are refused")
struct UnjudgeableTests {
    @Test("a confirm-matching tools/call with a null id, or none, never reaches the server", arguments: [#""id":null,"#, ""])
    func confirmCallWithoutId(_ idPart: String) {
        let d = FilterDriver(MCPPolicy(confirm: ["*delete*"]))
        d.feed(0, #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{}}}}"# + "\n")
        _ = d.take(0)
        d.feed(0, #"{"jsonrpc":"2.0",\#(idPart)"method":"tools/call","params":{"name":"rm_delete","arguments":{"path":"/important"}}}"# + "\n")
        #expect(d.take(0) == "", "the call reached the server unasked")
        let answer = d.take(1)
        if idPart.isEmpty {
            #expect(answer == "", "a notification gets no answer")
        } else {
            #expect(answer.contains("-32600") && answer.contains("needs a string or integer id"), "\(answer)")
        }
    }

    @Test("a tools/call whose name is not a string skips no rule", arguments: [#"["git_commit"]"#, #"{"x":"git_commit"}"#, "null", "7"])
    func nonStringToolName(_ name: String) throws {
        let d = FilterDriver(MCPPolicy(tools: NamePolicy(allow: ["git_status"], deny: ["*commit*"])))
        d.feed(0, #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":\#(name)}}"# + "\n")
        #expect(d.take(0) == "", "forwarded to the server")
        let e = try JSON.parse(d.take(1))
        #expect(e["id"] == .number("3") && e["error"]?["code"] == .number("-32602"))
        #expect(e["error"]?["message"] == .string("Invalid params: the tool name must be a string"))
        // And a call without any name.
        d.feed(0, #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{}}"# + "\n")
        #expect(d.take(0) == "")
    }

    @Test func nonStringPromptNameAndResourceURI() throws {
        var p = MCPPolicy(prompts: NamePolicy(allow: ["ok"], deny: []))
        p.resources = NamePolicy(allow: ["file:///ok"], deny: [])
        let d = FilterDriver(p)
        d.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":["secret"]}}"# + "\n")
        #expect(d.take(0) == "")
        #expect(try JSON.parse(d.take(1))["error"]?["message"] == .string("Invalid params: the prompt name must be a string"))
        d.feed(0, #"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":{"u":"file:///etc/shadow"}}}"# + "\n")
        #expect(d.take(0) == "")
        #expect(try JSON.parse(d.take(1))["error"]?["message"] == .string("Invalid params: the resource uri must be a string"))
        // Allowed, well-formed requests still pass byte-identical.
        let ok = #"{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///ok"}}"# + "\n"
        d.feed(0, ok)
        #expect(d.take(0) == ok)
    }

    @Test("form only: any elicitation mode but none or exactly \"form\" is refused", arguments: [#""URL""#, #"["url"]"#, "null", #""Form""#])
    func oddModes(_ mode: String) {
        let d = FilterDriver(MCPPolicy(client: ClientGate(elicitationURL: false)))
        d.feed(1, #"{"jsonrpc":"2.0","id":"u1","method":"elicitation/create","params":{"mode":\#(mode),"message":"go","url":"https://e/","elicitationId":"e"}}"# + "\n")
        #expect(d.take(1) == "", "reached the client")
        #expect(d.take(0).contains("-32602"))
    }

    @Test("2026-07-28: a continuation of an approved call cannot carry other arguments")
    func continuationBoundToTheApprovedCall() throws {
        var p = MCPPolicy(confirm: ["deploy"])
        p.confirmTimeout = 60
        let d = FilterDriver(p)
        d.feed(0, InputRequiredTests.call(1))
        let state = try #require(try JSON.parse(d.take(1))["result"]?["requestState"]?.stringValue)
        d.feed(0, InputRequiredTests.call(2, #","inputResponses":{"\#(state)":{"action":"accept"}},"requestState":"\#(state)""#))
        _ = d.take(0)
        d.feed(1, #"{"jsonrpc":"2.0","id":2,"result":{"resultType":"input_required","inputRequests":{\#(InputRequiredTests.form)},"requestState":"srv"}}"# + "\n")
        _ = d.take(1)
        // The server's state, with arguments the user never saw: asked about, not forwarded.
        let other = InputRequiredTests.call(3, #","requestState":"srv""#).replacingOccurrences(of: #"{"to":"prod"}"#, with: #"{"to":"everywhere"}"#)
        d.feed(0, other)
        #expect(d.take(0) == "", "a call the user did not approve went on")
        let asked = try JSON.parse(d.take(1))
        #expect(asked["result"]?["resultType"] == .string("input_required"))
        #expect(asked["result"]?["requestState"]?.stringValue?.hasPrefix("mcpbox-confirm-") == true)
        // The approved call's own continuation still goes on.
        let same = InputRequiredTests.call(4, #","requestState":"srv""#)
        d.feed(0, same)
        #expect(d.take(0) == same)
    }
}
