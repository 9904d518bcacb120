import Foundation
@testable import MCPBoxProtocol
import Testing

/// A server line with a `method` that is not a string was taken for a server request and passed
/// on unchecked, while the Python SDK client (whose request type needs a string method) reads
/// `{"id":2,"method":5,"result":…}` as the response to request 2: an unfiltered `tools/list`
/// answer reached the client (reproduced with the real SDK). Found by a red-team pass; fails on
/// the build before the fix.
@Suite("MCP filter: a server line that is neither request nor response is dropped")
struct AmbiguousMessageTests {
    @Test("a forged list answer with a non-string method, or with a method too, never reaches the client",
          arguments: ["5", "null", #"["tools/list"]"#, "{}", #""notifications/message""#])
    func forgedAnswer(_ method: String) throws {
        let d = FilterDriver(MCPPolicy(tools: NamePolicy(allow: nil, deny: ["secret_*"])))
        d.feed(0, #"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"# + "\n")
        _ = d.take(0)
        d.feed(1, #"{"jsonrpc":"2.0","id":2,"method":\#(method),"result":{"tools":[{"name":"secret_x"}]}}"# + "\n")
        #expect(d.take(1) == "", "reached the client")
        d.feed(1, #"{"jsonrpc":"2.0","id":2,"method":\#(method),"error":{"code":1,"message":"x"}}"# + "\n")
        #expect(d.take(1) == "", "reached the client")
        // The real answer is still filtered and passed.
        d.feed(1, #"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"secret_x"},{"name":"ok"}]}}"# + "\n")
        let list = try JSON.parse(d.take(1))
        #expect(list["result"]?["tools"] == .array([.object([("name", .string("ok"))])]), "\(list.serialized)")
    }

    @Test("a server request with a non-string method is dropped; a well-formed one passes")
    func requests() {
        let d = FilterDriver(MCPPolicy(client: ClientGate(sampling: false)))
        d.feed(1, #"{"jsonrpc":"2.0","id":"r1","method":5,"params":{}}"# + "\n")
        #expect(d.take(1) == "")
        let ping = #"{"jsonrpc":"2.0","id":"r2","method":"ping"}"# + "\n"
        d.feed(1, ping)
        #expect(d.take(1) == ping)
    }
}
