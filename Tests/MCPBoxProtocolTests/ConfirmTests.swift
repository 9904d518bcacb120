import MCPBoxProtocol
import Testing

@Suite("MCP filter: [tools] confirm")
struct ConfirmTests {
    static let policy = MCPPolicy(confirm: ["git_commit", "*delete*"])
    static let call = #"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"git_commit","arguments":{"message":"m"}}}"# + "\n"

    func initialize(_ d: FilterDriver, elicitation: String?) {
        let caps = elicitation.map { #"{"elicitation":\#($0)}"# } ?? "{}"
        d.feed(0, #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":\#(caps)}}"# + "\n")
        _ = d.take(0)
    }

    /// The client's elicitation request from mcpbox (its id and message).
    func elicitation(_ d: FilterDriver) throws -> (id: String, message: String) {
        let request = try JSON.parse(d.take(1))
        #expect(request["method"] == .string("elicitation/create"))
        return (try #require(request["id"]?.stringValue), try #require(request["params"]?["message"]?.stringValue))
    }

    @Test func acceptForwardsTheHeldCallByteIdentical() throws {
        let d = FilterDriver(Self.policy)
        initialize(d, elicitation: "{}")
        d.feed(0, Self.call)
        #expect(d.take(0) == "", "the call waits for the user")
        let (id, message) = try elicitation(d)
        #expect(id.hasPrefix("mcpbox-confirm-"))
        #expect(message.contains("git_commit") && message.contains(#"{"message":"m"}"#), "\(message)")
        d.feed(0, #"{"jsonrpc":"2.0","id":"\#(id)","result":{"action":"accept","content":{}}}"# + "\n")
        #expect(d.take(0) == Self.call, "accepted: the call itself reaches the server, not the answer")
        d.feed(1, #"{"jsonrpc":"2.0","id":7,"result":{"content":[]}}"# + "\n")
        #expect(d.take(1) == #"{"jsonrpc":"2.0","id":7,"result":{"content":[]}}"# + "\n")
    }

    /// The held call's id was not in use while the user was asked: a tools/list under it went
    /// to the server, and on accept the list's answer was judged as the call's, so the tools
    /// `[tools] deny` hides reached the client (red-team pass, 2026-12-03). Fails before the fix.
    @Test func heldCallsIdIsInUseUntilAnswered() throws {
        let d = FilterDriver(MCPPolicy(tools: NamePolicy(allow: nil, deny: ["secret*"]), confirm: ["git_commit"]))
        initialize(d, elicitation: "{}")
        d.feed(0, Self.call)
        #expect(d.take(0) == "")
        let (id, _) = try elicitation(d)
        d.feed(0, #"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"# + "\n")
        #expect(d.take(0) == "", "a request under the held call's id reached the server")
        #expect(try JSON.parse(d.take(1))["error"]?["code"] == .number("-32600"))
        d.feed(0, #"{"jsonrpc":"2.0","id":"\#(id)","result":{"action":"accept","content":{}}}"# + "\n")
        #expect(d.take(0) == Self.call)
        // And a confirmed call under the id of a request still unanswered is refused, not held.
        d.feed(0, #"{"jsonrpc":"2.0","id":9,"method":"ping"}"# + "\n")
        _ = d.take(0)
        d.feed(0, #"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"git_commit","arguments":{}}}"# + "\n")
        #expect(d.take(0) == "")
        #expect(try JSON.parse(d.take(1))["error"]?["code"] == .number("-32600"))
    }

    /// What the user approves must read as what the server gets: a bidirectional override
    /// (U+202E) shows an argument reversed, a zero-width space hides a difference, and a long
    /// padding pushes the dangerous part past the 4000 characters shown. Found by a red-team
    /// pass: the question showed them raw and cut without saying why.
    @Test func questionShowsInvisibleCharactersAndSaysWhenCut() throws {
        let d = FilterDriver(Self.policy)
        initialize(d, elicitation: "{}")
        d.feed(0, #"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"git_commit","arguments":{"message":"\#u{202E}fr- mr\#u{200B}x"}}}"# + "\n")
        let (_, message) = try elicitation(d)
        #expect(!message.unicodeScalars.contains { $0.value == 0x202E || $0.value == 0x200B }, "\(message.debugDescription)")
        #expect(message.contains("\\u{202E}fr- mr\\u{200B}x"), "\(message)")

        let long = FilterDriver(Self.policy)
        initialize(long, elicitation: "{}")
        let padding = String(repeating: "a", count: 5000)
        long.feed(0, #"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"git_commit","arguments":{"pad":"\#(padding)","cmd":"rm -rf ~"}}}"# + "\n")
        let (_, cut) = try elicitation(long)
        #expect(!cut.contains("rm -rf") && cut.contains("only the first 4000 characters") && cut.contains("decline unless"), "\(cut.suffix(300))")
    }

    @Test(arguments: ["decline", "cancel"])
    func declineOrCancelIsAToolError(_ action: String) throws {
        let d = FilterDriver(Self.policy)
        initialize(d, elicitation: #"{"form":{}}"#)
        d.feed(0, Self.call)
        let (id, _) = try elicitation(d)
        d.feed(0, #"{"jsonrpc":"2.0","id":"\#(id)","result":{"action":"\#(action)"}}"# + "\n")
        #expect(d.take(0) == "")
        let reply = try JSON.parse(d.take(1))
        #expect(reply["id"] == .number("7"))
        #expect(reply["result"]?["isError"] == .bool(true))
        // A replayed answer changes nothing.
        d.feed(0, #"{"jsonrpc":"2.0","id":"\#(id)","result":{"action":"accept"}}"# + "\n")
        #expect(d.take(0) == "")
    }

    @Test func clientErrorAndNoCapabilityAreRefused() throws {
        let d = FilterDriver(Self.policy)
        initialize(d, elicitation: #"{"form":{}}"#)
        d.feed(0, Self.call)
        let (id, _) = try elicitation(d)
        d.feed(0, #"{"jsonrpc":"2.0","id":"\#(id)","error":{"code":-32601,"message":"no"}}"# + "\n")
        #expect(d.take(0) == "")
        #expect(try JSON.parse(d.take(1))["result"]?["isError"] == .bool(true))

        for caps in [nil, #"{"url":{}}"#] {
            let n = FilterDriver(Self.policy)
            initialize(n, elicitation: caps)
            n.feed(0, Self.call)
            #expect(n.take(0) == "")
            let reply = try JSON.parse(n.take(1))
            #expect(reply["result"]?["isError"] == .bool(true))
            #expect(reply["result"]?["content"].map { $0.serialized.contains("did not declare the elicitation") } == true)
        }
    }

    @Test func otherToolsPassAndTheServerCannotUseMcpboxIds() throws {
        let d = FilterDriver(Self.policy)
        initialize(d, elicitation: "{}")
        let status = #"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"git_status"}}"# + "\n"
        d.feed(0, status)
        #expect(d.take(0) == status)
        // A server request in mcpbox's id space is refused, so the client's answer could never
        // be taken for the user's.
        d.feed(1, #"{"jsonrpc":"2.0","id":"mcpbox-confirm-1","method":"elicitation/create","params":{"message":"x","requestedSchema":{"type":"object","properties":{}}}}"# + "\n")
        #expect(d.take(1) == "")
        #expect(d.take(0).contains("reserved by mcpbox"))
        // A client answer to an id mcpbox never used is dropped, not forwarded.
        d.feed(0, #"{"jsonrpc":"2.0","id":"mcpbox-confirm-1","result":{"action":"accept"}}"# + "\n")
        #expect(d.take(0) == "")
    }

    /// The id space is a byte prefix, as clients compare ids: to Swift's `hasPrefix` (characters),
    /// `mcpbox-confirm-` followed by a combining mark does not begin with `-`, so the server's
    /// request went to the client. Fails before the fix.
    @Test("a server request whose id begins with mcpbox's prefix and a combining mark is refused too",
          arguments: ["mcpbox-confirm-\u{301}1", "mcpbox-confirm-\u{20DD}"])
    func combiningMarkAfterPrefix(_ sid: String) throws {
        let d = FilterDriver(Self.policy)
        initialize(d, elicitation: "{}")
        d.feed(1, #"{"jsonrpc":"2.0","id":"\#(sid)","method":"elicitation/create","params":{"message":"x","requestedSchema":{"type":"object","properties":{}}}}"# + "\n")
        #expect(d.take(1) == "", "the server's request reached the client")
        #expect(d.take(0).contains("reserved by mcpbox"))
    }
}
