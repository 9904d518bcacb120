@testable import MCPBoxProtocol
import Testing

/// mcpbox kept its outstanding requests in a dictionary keyed by the id's JSON text as a Swift
/// `String`, whose equality is canonical equivalence: the ids `"é"` (U+00E9) and `"é"` (e then
/// U+0301), or `"K"` and `"\u{212A}"` (KELVIN SIGN), were one key, while every client (JSON.parse,
/// Python's `==`) tells them apart. A server could answer the client's tools/list with the other
/// spelling: mcpbox took that line for the answer (the client ignores it) and then dropped the
/// real one as a response nobody asked for. Fails before the fix.
@Suite("MCP filter: ids are told apart byte for byte, as clients do")
struct CanonicalIdTests {
    static let policy = MCPPolicy(tools: NamePolicy(allow: nil, deny: ["secret*"]))

    @Test("a response whose id is only canonically equivalent to a request's is not its answer",
          arguments: [("\u{E9}", "e\u{301}"), ("K", "\u{212A}"), ("\u{212B}", "\u{C5}"), (";", "\u{37E}")])
    func equivalentIdIsAnotherId(_ sent: String, _ forged: String) throws {
        let d = FilterDriver(Self.policy)
        d.feed(0, #"{"jsonrpc":"2.0","id":"\#(sent)","method":"tools/list"}"# + "\n")
        #expect(!d.take(0).isEmpty)
        let tools = #"{"tools":[{"name":"ok","inputSchema":{"type":"object"}},{"name":"secret_dump","inputSchema":{"type":"object"}}]}"#
        // The other spelling: no request of the client has this id.
        d.feed(1, #"{"jsonrpc":"2.0","id":"\#(forged)","result":\#(tools)}"# + "\n")
        #expect(d.take(1).isEmpty, "the line with the other id reached the client")
        // The real answer is still the answer, and is filtered.
        d.feed(1, #"{"jsonrpc":"2.0","id":"\#(sent)","result":\#(tools)}"# + "\n")
        let got = d.take(1)
        let answer = try JSON.parse(got)
        #expect(answer["id"] == .string(sent))
        #expect(answer["result"]?["tools"]?.serialized.contains("\"ok\"") == true, "\(got)")
        #expect(!got.contains("secret_dump"), "\(got)")
    }

    @Test("the key of a JSON value keeps ASCII as it is and spells every other character out")
    func keyIsASCII() {
        #expect(JSON.string("abc").key == "\"abc\"")
        #expect(JSON.string("\u{E9}").key == "\"\\u{e9}\"")
        #expect(JSON.string("e\u{301}").key == "\"e\\u{301}\"")
        #expect(JSON.string("\u{E9}").key != JSON.string("e\u{301}").key)
        #expect(JSON.number("7").key == "7")
        // A literal backslash-u in the id is escaped by `serialized` first, so keys stay distinct.
        #expect(JSON.string("\\u{e9}").key != JSON.string("\u{E9}").key)
    }
}

/// An approved call's continuation (protocol 2026-07-28 retry rounds) was matched by `String`
/// equality of its fingerprint: arguments only canonically equivalent to the approved ones
/// (another file: `caf\u{E9}` and `cafe\u{301}`) passed as the approved call. Found by review;
/// fails before the fix.
@Suite("Confirm: a continuation matches the approved call byte for byte")
struct ConfirmContinuationBytesTests {
    @Test func canonicallyEquivalentArgumentsAreAnotherCall() throws {
        let gate = ConfirmGate(patterns: ["write_file"])
        let approved = ConfirmGate.fingerprint(name: "write_file", arguments: try JSON.parse(Array(#"{"path":"/d/caf\u00e9"}"#.utf8)))
        let other = ConfirmGate.fingerprint(name: "write_file", arguments: try JSON.parse(Array(#"{"path":"/d/cafe\u0301"}"#.utf8)))
        gate.continued("state-1", call: approved)
        #expect(!gate.isContinuation("state-1", call: other))
        #expect(gate.isContinuation("state-1", call: approved))
    }
}
