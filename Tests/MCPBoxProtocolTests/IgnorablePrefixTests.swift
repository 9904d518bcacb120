@testable import MCPBoxProtocol
import Testing

/// mcpbox takes a server line for a message only when its first byte after JSON whitespace is
/// `{` or `[`; everything else is stray text, passed on unjudged. But Rust's SDK (rmcp) strips a
/// leading UTF-8 byte-order mark from every line before parsing it, and C#'s trims every Unicode
/// white space (`string.Trim`): a line that starts with one of those and then a message is a
/// message to such a client. Found by a red-team pass: before the fix mcpbox passed these lines
/// on, a denied sampling request and a forged, unfiltered tool list included.
@Suite("MCP filter: a server message behind a byte-order mark or Unicode space is policed")
struct IgnorablePrefixTests {
    static let prefixes = ["\u{FEFF}", "\u{A0}", "\u{3000}", "\u{2000}", "\u{200A}", "\u{202F}", "\u{1680}", "\u{205F}",
                           "\u{200B}", "\u{2060}", "\u{1F}", "\u{00}", "\u{7F}", " \u{FEFF}\t\u{A0} "]

    @Test("a denied sampling request behind the prefix never reaches the client", arguments: prefixes)
    func samplingBehindPrefix(_ prefix: String) {
        let d = FilterDriver(MCPPolicy(client: ClientGate(sampling: false)))
        d.feed(1, prefix + #"{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{"messages":[],"maxTokens":5}}"# + "\n")
        #expect(d.take(1) == "", "a line carrying the server's sampling request reached the client")
        #expect(d.filter.droppedLines == 1)
    }

    @Test("a forged, unfiltered tools/list answer behind the prefix never reaches the client", arguments: prefixes)
    func toolListBehindPrefix(_ prefix: String) throws {
        let d = FilterDriver(MCPPolicy(tools: NamePolicy(allow: nil, deny: ["secret_*"])))
        d.feed(0, #"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"# + "\n")
        _ = d.take(0)
        d.feed(1, prefix + #"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"secret_x"}]}}"# + "\n")
        d.feed(1, prefix + #"[{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"secret_x"}]}}]"# + "\n")
        #expect(d.take(1) == "", "a line carrying an unfiltered tool list reached the client")
        d.feed(1, #"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"secret_x"},{"name":"ok"}]}}"# + "\n")
        let list = try JSON.parse(d.take(1))
        #expect(list["result"]?["tools"] == .array([.object([("name", .string("ok"))])]), "\(list.serialized)")
    }

    /// The two together: a line break some clients split at, then characters they strip. Found
    /// by a second red-team pass (`x\r\u{A0}{…}` passed): fails on the build before the fix.
    @Test("a denied sampling request behind a line break and a Unicode space never reaches the client",
          arguments: ["\r\u{A0}", "\r\u{2000}", "\r\u{3000}", "\r\t\u{A0}", "\r\u{A0}\t", "\r \u{FEFF}", "\u{0B}\u{202F}", "\u{2028}\u{205F}", "\u{85}\u{1680}"])
    func samplingBehindBreakAndSpace(_ separator: String) {
        let d = FilterDriver(MCPPolicy(client: ClientGate(sampling: false)))
        d.feed(1, "log line" + separator + #"{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{"messages":[],"maxTokens":5}}"# + "\n")
        #expect(d.take(1) == "", "a line carrying the server's sampling request reached the client")
        #expect(d.filter.droppedLines == 1)
    }

    @Test("stray text that merely starts with such a character still passes as it is")
    func strayTextPasses() {
        let d = FilterDriver(MCPPolicy(client: ClientGate(sampling: false)))
        for text in ["\u{FEFF}server starting\n", "\u{A0}\u{A0}indented {not first}\n", "\u{1F}log\n", "\u{3000}全角 [note]\n",
                     "done\r\u{A0}100%\n", "a\r\r\r\u{A0} b {c}\n"] {
            d.feed(1, text)
            #expect(d.take(1) == text)
        }
        #expect(d.filter.droppedLines == 0)
    }
}
