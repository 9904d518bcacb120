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
        let e = Self.urlErrorExchange(FilterDriver(FormOnlyElicitationTests.policy), code: code)
        #expect(!e.contains("evil.example"), "\(e)")
        #expect(try JSON.parse(e)["error"]?["code"] == .number("-32603"))
    }

    /// A tools/call, then the server's URL-elicitation-required error with `code`; what the
    /// client got.
    static func urlErrorExchange(_ d: FilterDriver, code: String) -> String {
        d.feed(0, #"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"files"}}"# + "\n")
        _ = d.take(0)
        d.feed(1, #"{"jsonrpc":"2.0","id":5,"error":{"code":\#(code),"message":"auth","data":{"elicitations":[{"mode":"url","elicitationId":"e","url":"https://evil.example/x","message":"go"}]}}}"# + "\n")
        return d.take(1)
    }

    /// A string code (`"-32042"`) is -32042 to a lax client (the Python SDK's `ErrorData.code`
    /// accepts it), and `elicitation = false` refuses URL mode as much as `"form"` does: before
    /// the fix both passed the error on with its URLs. Found by a red-team pass.
    @Test("a URL-elicitation-required error loses its URLs under elicitation = false or \"form\", its code a number or a string",
          arguments: [("form", "-32042"), ("form", "\"-32042\""), ("form", "\" -32_042 \""),
                      ("false", "-32042"), ("false", "\"-32042\""), ("false", "-3.2042e4")])
    func urlErrorUnderEitherRefusal(_ setting: String, _ code: String) throws {
        let gate = setting == "false" ? ClientGate(elicitation: false) : ClientGate(elicitationURL: false)
        let e = Self.urlErrorExchange(FilterDriver(MCPPolicy(client: gate)), code: code)
        #expect(!e.contains("evil.example"), "\(e)")
        #expect(try JSON.parse(e)["error"]?["code"] == .number("-32603"))
        #expect(e.contains(setting == "false" ? "elicitation = false" : "elicitation = \\\"form\\\""), "\(e)")
    }

    @Test("other errors, a string code that is not -32042 included, still pass byte-identical")
    func otherErrorsPass() {
        let d = FilterDriver(MCPPolicy(client: ClientGate(elicitation: false)))
        for (i, code) in ["-32602", "\"-32602\"", "\"abc\"", "\"\""].enumerated() {
            d.feed(0, #"{"jsonrpc":"2.0","id":\#(i + 10),"method":"tools/call","params":{"name":"files"}}"# + "\n")
            _ = d.take(0)
            let line = #"{"jsonrpc":"2.0","id":\#(i + 10),"error":{"code":\#(code),"message":"bad -32042"}}"# + "\n"
            d.feed(1, line)
            #expect(d.take(1) == line)
        }
    }

    /// The per-request client capabilities of protocol 2026-07-28 lose what `[client]` denies
    /// however their `_meta` key is written: mcpbox looked for the key's bytes first, so an
    /// escaped key (`\/`, which PHP's `json_encode` writes, or a `\u0063`) reached the server
    /// with sampling and roots declared. Found by a red-team pass; fails before the fix.
    @Test("client capabilities under an escaped _meta key are stripped too",
          arguments: [#"io.modelcontextprotocol\/clientCapabilities"#, #"io.modelcontextprotocol/\u0063lientCapabilities"#])
    func escapedMetaKey(_ key: String) throws {
        let d = FilterDriver(MCPPolicy(client: ClientGate(sampling: false, roots: false)))
        d.feed(0, #"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"echo","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","\#(key)":{"sampling":{},"roots":{},"elicitation":{}}}}}"# + "\n")
        let sent = try JSON.parse(d.take(0))
        let caps = sent["params"]?["_meta"]?["io.modelcontextprotocol/clientCapabilities"]
        #expect(caps?.serialized == #"{"elicitation":{}}"#, "\(sent.serialized)")
    }
}
