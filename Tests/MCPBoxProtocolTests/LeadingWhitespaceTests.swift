import Foundation
@testable import MCPBoxProtocol
import Testing

/// A client's JSON parser skips all of JSON's whitespace before a message, CR included (the
/// Python SDK's `model_validate_json`, the TypeScript SDK's `JSON.parse`), so a server line
/// `\r{…}` is a message to the client and must be policed like one, never passed on as a stray
/// log line. Found by a red-team pass: before the fix both lines below reached the client.
@Suite("MCP filter: a server message behind leading JSON whitespace is policed")
struct LeadingWhitespaceTests {
    static let prefixes = ["\r", " \r", "\r\t ", "\r\r"]

    @Test("a denied sampling request behind a CR never reaches the client", arguments: prefixes)
    func samplingBehindCR(_ prefix: String) throws {
        let d = FilterDriver(MCPPolicy(client: ClientGate(sampling: false)))
        d.feed(1, prefix + #"{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{"messages":[],"maxTokens":5}}"# + "\n")
        #expect(d.take(1) == "", "the server's sampling request reached the client")
        let answer = try JSON.parse(d.take(0))
        #expect(answer["id"] == .string("s1") && answer["error"]?["code"] == .number("-32601"))
    }

    @Test("a forged, unfiltered tools/list answer behind a CR never reaches the client", arguments: prefixes)
    func toolListBehindCR(_ prefix: String) throws {
        let d = FilterDriver(MCPPolicy(tools: NamePolicy(allow: nil, deny: ["secret_*"])))
        d.feed(0, #"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"# + "\n")
        _ = d.take(0)
        d.feed(1, prefix + #"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"secret_x"},{"name":"ok"}]}}"# + "\n")
        let list = try JSON.parse(d.take(1))
        #expect(list["result"]?["tools"] == .array([.object([("name", .string("ok"))])]), "\(list.serialized)")
        // And one for no forwarded request is dropped, not passed on as text.
        d.feed(1, prefix + #"{"jsonrpc":"2.0","id":9,"result":{"tools":[{"name":"secret_x"}]}}"# + "\n")
        #expect(d.take(1) == "")
        d.feed(1, prefix + #"[{"jsonrpc":"2.0","id":9,"result":{}}]"# + "\n")
        #expect(d.take(1) == "")
    }

    @Test("stray text and blank lines still pass as they are")
    func strayTextPasses() {
        let d = FilterDriver(MCPPolicy(client: ClientGate(sampling: false)))
        d.feed(1, "\rstarting server...\n")
        #expect(d.take(1) == "\rstarting server...\n")
        d.feed(1, " \r\t\n")
        #expect(d.take(1) == " \r\t\n")
    }
}
