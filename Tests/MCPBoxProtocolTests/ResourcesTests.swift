import MCPBoxProtocol
import Testing

@Suite("MCP filter: [resources] allow/deny")
struct ResourcesTests {
    static let policy: MCPPolicy = {
        var p = MCPPolicy()
        p.resources = NamePolicy(allow: ["file:///docs/*"], deny: ["*secret*"])
        return p
    }()

    @Test func listsAreFilteredByURIOnEveryPage() throws {
        let d = FilterDriver(Self.policy)
        for (id, cursor) in [("1", "null"), ("2", "\"c\"")] {
            d.feed(0, #"{"jsonrpc":"2.0","id":\#(id),"method":"resources/list","params":{"cursor":\#(cursor)}}"# + "\n")
            _ = d.take(0)
            d.feed(1, #"{"jsonrpc":"2.0","id":\#(id),"result":{"resources":[{"uri":"file:///docs/a.md","name":"a"},"#
                   + #"{"uri":"file:///docs/secret.md","name":"s"},{"uri":"file:///etc/passwd","name":"p"},{"name":"no uri"}],"nextCursor":"n"}}"# + "\n")
            #expect(d.take(1) == #"{"jsonrpc":"2.0","id":\#(id),"result":{"resources":[{"uri":"file:///docs/a.md","name":"a"}],"nextCursor":"n"}}"# + "\n")
        }
        d.feed(0, #"{"jsonrpc":"2.0","id":3,"method":"resources/templates/list"}"# + "\n")
        _ = d.take(0)
        d.feed(1, #"{"jsonrpc":"2.0","id":3,"result":{"resourceTemplates":[{"uriTemplate":"file:///docs/{path}","name":"d"},{"uriTemplate":"file:///{path}","name":"all"}]}}"# + "\n")
        #expect(d.take(1) == #"{"jsonrpc":"2.0","id":3,"result":{"resourceTemplates":[{"uriTemplate":"file:///docs/{path}","name":"d"}]}}"# + "\n")
    }

    @Test func hiddenURIsAreRefusedLocallyAndNeverForwarded() {
        let d = FilterDriver(Self.policy)
        for (method, uri) in [("resources/read", "file:///etc/passwd"), ("resources/subscribe", "file:///docs/secret.md")] {
            d.feed(0, #"{"jsonrpc":"2.0","id":4,"method":"\#(method)","params":{"uri":"\#(uri)"}}"# + "\n")
            #expect(d.take(0) == "")
            #expect(d.take(1) == #"{"jsonrpc":"2.0","id":4,"error":{"code":-32002,"message":"Resource not found: \#(uri)"}}"# + "\n")
        }
        let ok = #"{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"file:///docs/a.md"}}"# + "\n"
        d.feed(0, ok)
        #expect(d.take(0) == ok)
    }
}
