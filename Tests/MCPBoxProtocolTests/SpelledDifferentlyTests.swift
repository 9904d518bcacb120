import Foundation
@testable import MCPBoxProtocol
import Testing

/// mcpbox looked for the bytes `"input_required"` and `-32042` before judging a result or an
/// error, while a client decodes the JSON: `"input\u005frequired"` or `-3.2042e4` carried a
/// denied sampling request (or a URL elicitation's URLs) to the client unfiltered. Found by a
/// red-team pass; fails on the build before the fix.
@Suite("MCP filter: an input-required result or a -32042 error spelled another way is still judged")
struct SpelledDifferentlyTests {
    @Test("an input-required result with an escaped resultType loses its denied requests",
          arguments: [#""input\u005frequired""#, #""\u0069nput_required""#])
    func escapedResultType(_ resultType: String) throws {
        let d = FilterDriver(MCPPolicy(client: ClientGate(sampling: false, elicitationURL: false)))
        d.feed(0, InputRequiredTests.call(1))
        _ = d.take(0)
        d.feed(1, #"{"jsonrpc":"2.0","id":1,"result":{"resultType":\#(resultType),"inputRequests":{\#(InputRequiredTests.sample),\#(InputRequiredTests.form)},"requestState":"st"}}"# + "\n")
        let kept = try JSON.parse(d.take(1))
        #expect(kept["result"]?["inputRequests"]?.serialized == "{" + InputRequiredTests.form + "}", "\(kept.serialized)")
    }

    @Test("a URL-elicitation-required error with its code written another way loses its URLs",
          arguments: ["-32042.0", "-3.2042e4", "-32042E0", "-320420e-1"])
    func codeWrittenAnotherWay(_ code: String) throws {
        let d = FilterDriver(FormOnlyElicitationTests.policy)
        d.feed(0, #"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"files"}}"# + "\n")
        _ = d.take(0)
        d.feed(1, #"{"jsonrpc":"2.0","id":5,"error":{"code":\#(code),"message":"auth","data":{"elicitations":[{"mode":"url","elicitationId":"e","url":"https://evil.example/x","message":"go"}]}}}"# + "\n")
        let e = d.take(1)
        #expect(!e.contains("evil.example"), "\(e)")
        #expect(try JSON.parse(e)["error"]?["code"] == .number("-32603"))
    }
}
