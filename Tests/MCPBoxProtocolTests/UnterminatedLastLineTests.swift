@testable import MCPBoxProtocol
import Testing

/// A last line without a newline is still a message to a peer that reads it at the end of its
/// input: Python's file iteration yields it, so the Python SDK's stdio server runs a final
/// unterminated `tools/call`. Found by a red-team pass: before the fix mcpbox passed such a
/// line on unjudged (and unaudited) when its source ended.
@Suite("MCP filter: an unterminated last line is policed like any line")
struct UnterminatedLastLineTests {
    func end(_ d: FilterDriver, _ dir: Int) {
        _ = d.filter.input(dir, UnsafeRawBufferPointer(start: nil, count: 0))
    }

    @Test("a denied tools/call the client sends without a newline before closing stdin never reaches the server",
          arguments: [0, 1 << 20])
    func deniedCallAtEnd(_ padding: Int) throws {
        let d = FilterDriver(MCPPolicy(tools: NamePolicy(allow: nil, deny: ["secret_*"])))
        d.filter.spoolThreshold = 4096
        let pad = String(repeating: "a", count: padding)
        d.feed(0, #"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"secret_x","arguments":{"p":"\#(pad)"}}}"#, chunk: 1 << 16)
        end(d, 0)
        let forwarded = d.takeBytes(0).count
        #expect(forwarded == 0, "the denied call reached the server")
        let answer = try JSON.parse(d.take(1))
        #expect(answer["id"] == .number("7") && answer["error"]?["code"] == .number("-32602"))
    }

    @Test("a denied sampling request the server sends without a newline before exiting never reaches the client")
    func deniedSamplingAtEnd() {
        let d = FilterDriver(MCPPolicy(client: ClientGate(sampling: false)))
        d.feed(1, #"{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{"messages":[],"maxTokens":5}}"#)
        end(d, 1)
        #expect(d.take(1) == "", "the server's sampling request reached the client")
    }

    @Test("an allowed unterminated last line still goes on byte for byte, unterminated")
    func allowedAtEnd() {
        let d = FilterDriver(MCPPolicy(tools: NamePolicy(allow: nil, deny: ["secret_*"])))
        let call = #"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"ok","arguments":{}}}"#
        d.feed(0, call)
        end(d, 0)
        #expect(d.take(0) == call)
        d.feed(1, "bye")
        end(d, 1)
        #expect(d.take(1) == "bye")
    }
}
