@testable import MCPBoxProtocol
import Testing

/// A clock the tests move by hand (the relay's CLOCK_MONOTONIC milliseconds in `run`).
final class ManualClock: @unchecked Sendable {
    var now: Int64 = 1_000_000
}

extension FilterDriver {
    func useClock(_ clock: ManualClock) { filter.clock = { clock.now } }
}

@Suite("MCP filter: [tools] confirm_timeout")
struct ConfirmTimeoutTests {
    static let policy: MCPPolicy = {
        var p = MCPPolicy(confirm: ["git_commit"])
        p.confirmTimeout = 2
        return p
    }()
    static let call = #"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"git_commit","arguments":{"message":"m"}}}"# + "\n"

    func started(_ clock: ManualClock) throws -> (FilterDriver, String) {
        let d = FilterDriver(Self.policy)
        d.useClock(clock)
        d.feed(0, #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{}}}}"# + "\n")
        _ = d.take(0)
        #expect(d.filter.tick(now: clock.now) == -1, "nothing held: no deadline")
        d.feed(0, Self.call)
        #expect(d.take(0) == "")
        let question = try JSON.parse(d.take(1))
        return (d, try #require(question["id"]?.stringValue))
    }

    @Test func unansweredQuestionIsWithdrawnAndTheCallRefused() throws {
        let clock = ManualClock()
        let (d, requestId) = try started(clock)
        #expect(d.filter.tick(now: clock.now) == clock.now + 2000, "the relay is told when to wake up")
        clock.now += 1999
        #expect(d.filter.tick(now: clock.now) == clock.now + 1)
        #expect(d.take(1) == "" && d.take(0) == "", "not yet due")
        clock.now += 1
        #expect(d.filter.tick(now: clock.now) == -1)
        let lines = d.take(1).split(separator: "\n").map(String.init)
        try #require(lines.count == 2, "\(lines)")
        let cancelled = try JSON.parse(lines[0])
        #expect(cancelled["method"] == .string("notifications/cancelled"))
        #expect(cancelled["params"]?["requestId"] == .string(requestId))
        let refusal = try JSON.parse(lines[1])
        #expect(refusal["id"] == .number("7") && refusal["result"]?["isError"] == .bool(true))
        #expect(refusal["result"]?["content"]?.serialized.contains("did not answer within 2 s (timed out") == true, "\(lines[1])")
        #expect(d.take(0) == "", "the server never sees the call")
        #expect(d.box.lines.contains { $0.contains("refused tools/call \"git_commit\": the user did not answer within 2 s") }, "\(d.box.lines)")
    }

    @Test(arguments: [#"{"action":"accept","content":{}}"#, #"{"action":"decline"}"#])
    func lateAnswerIsSwallowed(_ result: String) throws {
        let clock = ManualClock()
        let (d, requestId) = try started(clock)
        clock.now += 2000
        _ = d.filter.tick(now: clock.now)
        _ = d.take(1)
        d.feed(0, #"{"jsonrpc":"2.0","id":"\#(requestId)","result":\#(result)}"# + "\n")
        #expect(d.take(0) == "", "a late accept must not run the call")
        #expect(d.take(1) == "", "nor answer the client again")
        #expect(d.box.lines.contains { $0.contains("ignored a late answer") }, "\(d.box.lines)")
        // The session goes on: another call passes.
        let status = #"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"git_status"}}"# + "\n"
        d.feed(0, status)
        #expect(d.take(0) == status)
    }

    @Test func answerInTimeStillWorksAndClearsTheDeadline() throws {
        let clock = ManualClock()
        let (d, requestId) = try started(clock)
        clock.now += 1999
        d.feed(0, #"{"jsonrpc":"2.0","id":"\#(requestId)","result":{"action":"accept","content":{}}}"# + "\n")
        #expect(d.take(0) == Self.call)
        #expect(d.filter.tick(now: clock.now + 10_000) == -1)
        #expect(d.take(1) == "", "nothing refused after the answer")
    }
}

@Suite("MCP filter: [client] elicitation = \"form\"")
struct FormOnlyElicitationTests {
    static let policy = MCPPolicy(client: ClientGate(elicitationURL: false))

    func initialize(_ d: FilterDriver, _ elicitation: String) -> String {
        d.feed(0, #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":\#(elicitation),"roots":{}}}}"# + "\n")
        return d.take(0)
    }

    @Test func urlModeIsRemovedFromWhatTheClientDeclares() {
        #expect(initialize(FilterDriver(Self.policy), #"{"form":{},"url":{}}"#)
                == #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{"form":{}},"roots":{}}}}"# + "\n")
        // URL mode alone: nothing is left to offer (an empty object would mean form mode).
        #expect(initialize(FilterDriver(Self.policy), #"{"url":{}}"#)
                == #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"roots":{}}}}"# + "\n")
        // Form only already: byte-identical.
        let asIs = #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{},"roots":{}}}}"# + "\n"
        let d = FilterDriver(Self.policy)
        d.feed(0, asIs)
        #expect(d.take(0) == asIs)
        // 2026-07-28's per-request client capabilities too.
        let m = FilterDriver(Self.policy)
        m.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"elicitation":{"form":{},"url":{}}}}}}"# + "\n")
        #expect(m.take(0) == #"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"elicitation":{"form":{}}}}}}"# + "\n")
    }

    @Test func urlElicitationIsAnsweredByMcpboxFormPasses() {
        let d = FilterDriver(Self.policy)
        _ = initialize(d, #"{"form":{},"url":{}}"#)
        d.feed(1, #"{"jsonrpc":"2.0","id":"u1","method":"elicitation/create","params":{"mode":"url","message":"log in","url":"https://example.com/x","elicitationId":"e1"}}"# + "\n")
        #expect(d.take(1) == "", "a URL elicitation reached the client")
        #expect(d.take(0) == #"{"jsonrpc":"2.0","id":"u1","error":{"code":-32602,"message":"Invalid params: URL-mode elicitation is not supported (the client offers form mode only)"}}"# + "\n")
        #expect(d.box.lines.contains { $0.contains("refused the server's elicitation/create (mode \"url\"): [client] elicitation = \"form\"") }, "\(d.box.lines)")
        for form in [#"{"mode":"form","message":"ok?","requestedSchema":{"type":"object","properties":{}}}"#,
                     #"{"message":"ok?","requestedSchema":{"type":"object","properties":{}}}"#] {
            let request = #"{"jsonrpc":"2.0","id":"f1","method":"elicitation/create","params":\#(form)}"# + "\n"
            d.feed(1, request)
            #expect(d.take(1) == request, "form mode passes byte-identical")
            #expect(d.take(0) == "")
        }
    }

    @Test func urlElicitationRequiredErrorLosesItsURLs() throws {
        let d = FilterDriver(Self.policy)
        _ = initialize(d, #"{"form":{}}"#)
        d.feed(1, #"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"s","version":"1"}}}"# + "\n")
        _ = d.take(1)
        d.feed(0, #"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"files"}}"# + "\n")
        _ = d.take(0)
        d.feed(1, #"{"jsonrpc":"2.0","id":5,"error":{"code":-32042,"message":"auth","data":{"elicitations":[{"mode":"url","elicitationId":"e","url":"https://evil.example/x","message":"go"}]}}}"# + "\n")
        let e = d.take(1)
        #expect(!e.contains("evil.example"), "\(e)")
        #expect(try JSON.parse(e)["error"]?["code"] == .number("-32603"))
        // Other errors pass byte-identical.
        d.feed(0, #"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"files"}}"# + "\n")
        _ = d.take(0)
        let other = #"{"jsonrpc":"2.0","id":6,"error":{"code":-32602,"message":"bad -32042"}}"# + "\n"
        d.feed(1, other)
        #expect(d.take(1) == other)
    }

    @Test func elicitationFalseStillRefusesBothModes() {
        let d = FilterDriver(MCPPolicy(client: ClientGate(elicitation: false)))
        d.feed(1, #"{"jsonrpc":"2.0","id":"u1","method":"elicitation/create","params":{"mode":"url","message":"x","url":"https://e/","elicitationId":"e"}}"# + "\n")
        #expect(d.take(1) == "")
        #expect(d.take(0).contains("-32601"))
    }
}

@Suite("MCP filter: input-required results (2026-07-28)")
struct InputRequiredTests {
    static let meta = #""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{"form":{},"url":{}},"sampling":{}}}"#
    static func call(_ id: Int, _ extra: String = "") -> String {
        #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"deploy","arguments":{"to":"prod"}\#(extra),\#(meta)}}"# + "\n"
    }
    static let sample = #""s1":{"method":"sampling/createMessage","params":{"messages":[],"maxTokens":5}}"#
    static let url = #""u1":{"method":"elicitation/create","params":{"mode":"url","message":"go","url":"https://e/","elicitationId":"e"}}"#
    static let form = #""f1":{"method":"elicitation/create","params":{"mode":"form","message":"ok?","requestedSchema":{"type":"object","properties":{}}}}"#

    func result(_ id: Int, _ requests: String) -> String {
        #"{"jsonrpc":"2.0","id":\#(id),"result":{"resultType":"input_required","inputRequests":{\#(requests)},"requestState":"st"}}"# + "\n"
    }

    @Test func deniedEntriesAreRemoved() throws {
        let d = FilterDriver(MCPPolicy(client: ClientGate(sampling: false, elicitationURL: false)))
        d.feed(0, Self.call(1))
        #expect(try JSON.parse(d.take(0))["params"]?["_meta"]?["io.modelcontextprotocol/clientCapabilities"]?.serialized
                == #"{"elicitation":{"form":{}}}"#, "per-request capabilities stripped")
        d.feed(1, result(1, [Self.sample, Self.url, Self.form].joined(separator: ",")))
        let kept = try JSON.parse(d.take(1))
        #expect(kept["result"]?["inputRequests"]?.serialized == "{" + Self.form + "}")
        #expect(kept["result"]?["requestState"] == .string("st"))
        #expect(d.box.lines.filter { $0.contains("from an input-required result") }.count == 2, "\(d.box.lines)")
    }

    @Test func nothingLeftIsTheMissingCapabilityError() throws {
        let d = FilterDriver(MCPPolicy(client: ClientGate(sampling: false, elicitationURL: false)))
        d.feed(0, Self.call(2))
        _ = d.take(0)
        d.feed(1, result(2, Self.sample + "," + Self.url))
        let e = try JSON.parse(d.take(1))
        #expect(e["error"]?["code"] == .number("-32021"))
        #expect(e["error"]?["data"]?.serialized == #"{"requiredCapabilities":{"sampling":{},"elicitation":{"url":{}}}}"#)
    }

    @Test func allowedResultsPassByteIdentical() {
        let d = FilterDriver(MCPPolicy(client: ClientGate(roots: false)))
        d.feed(0, Self.call(3))
        _ = d.take(0)
        let r = result(3, Self.sample + "," + Self.form)
        d.feed(1, r)
        #expect(d.take(1) == r)
    }
}

@Suite("MCP filter: [tools] confirm under 2026-07-28 (input-required result)")
struct ConfirmInResultTests {
    static let policy: MCPPolicy = {
        var p = MCPPolicy(confirm: ["deploy"])
        p.confirmTimeout = 60
        return p
    }()

    func asked(_ d: FilterDriver) throws -> String {
        d.feed(0, InputRequiredTests.call(1))
        #expect(d.take(0) == "", "held back from the server")
        let r = try JSON.parse(d.take(1))
        #expect(r["id"] == .number("1") && r["result"]?["resultType"] == .string("input_required"))
        let state = try #require(r["result"]?["requestState"]?.stringValue)
        #expect(state.hasPrefix("mcpbox-confirm-"))
        let question = try #require(r["result"]?["inputRequests"]?[state])
        #expect(question["method"] == .string("elicitation/create") && question["params"]?["mode"] == .string("form"))
        #expect(question["params"]?["message"]?.stringValue?.contains(#"{"to":"prod"}"#) == true)
        return state
    }

    func retry(_ id: Int, _ state: String, _ action: String) -> String {
        InputRequiredTests.call(id, #","inputResponses":{"\#(state)":{"action":"\#(action)"}},"requestState":"\#(state)""#)
    }

    @Test func acceptForwardsTheOriginalCallUnderTheRetrysId() throws {
        let d = FilterDriver(Self.policy)
        let state = try asked(d)
        d.feed(0, retry(2, state, "accept"))
        let forwarded = try JSON.parse(d.take(0))
        #expect(forwarded["id"] == .number("2"))
        #expect(forwarded["params"]?["requestState"] == nil && forwarded["params"]?["inputResponses"] == nil, "mcpbox's round is not the server's")
        #expect(forwarded["params"]?["arguments"]?.serialized == #"{"to":"prod"}"#)
        // A replay of the same answer is refused.
        d.feed(0, retry(3, state, "accept"))
        #expect(d.take(0) == "")
        #expect(try JSON.parse(d.take(1))["result"]?["isError"] == .bool(true))
    }

    @Test func approvedCallsOwnRoundsContinueWithoutAskingAgain() throws {
        let d = FilterDriver(Self.policy)
        let state = try asked(d)
        d.feed(0, retry(2, state, "accept"))
        _ = d.take(0)
        let serverRound = #"{"jsonrpc":"2.0","id":2,"result":{"resultType":"input_required","inputRequests":{\#(InputRequiredTests.form)},"requestState":"srv"}}"# + "\n"
        d.feed(1, serverRound)
        #expect(d.take(1) == serverRound)
        let next = InputRequiredTests.call(4, #","inputResponses":{"f1":{"action":"accept","content":{}}},"requestState":"srv""#)
        d.feed(0, next)
        #expect(d.take(0) == next, "the server's own round goes on")
        // ...and so does its next round.
        d.feed(1, #"{"jsonrpc":"2.0","id":4,"result":{"resultType":"input_required","requestState":"srv2"}}"# + "\n")
        _ = d.take(1)
        let third = InputRequiredTests.call(6, #","requestState":"srv2""#)
        d.feed(0, third)
        #expect(d.take(0) == third)
        // The same server state again (a replay) is asked about.
        d.feed(0, InputRequiredTests.call(5, #","requestState":"srv""#))
        #expect(d.take(0) == "")
    }

    @Test(arguments: ["decline", "cancel"])
    func declineIsAToolError(_ action: String) throws {
        let d = FilterDriver(Self.policy)
        let state = try asked(d)
        d.feed(0, retry(2, state, action))
        #expect(d.take(0) == "")
        let r = try JSON.parse(d.take(1))
        #expect(r["id"] == .number("2") && r["result"]?["isError"] == .bool(true))
        #expect(r["result"]?["resultType"] == .string("complete"), "2026-07-28 results name their type")
    }

    @Test func anAnswerAfterTheTimeoutIsRefused() throws {
        let clock = ManualClock()
        let d = FilterDriver(Self.policy)
        d.useClock(clock)
        let state = try asked(d)
        clock.now += 60_001
        d.feed(0, retry(2, state, "accept"))
        #expect(d.take(0) == "")
        #expect(try JSON.parse(d.take(1))["result"]?["content"]?.serialized.contains("timed out") == true)
    }

    @Test func aClientWithoutElicitationIsRefused() throws {
        let d = FilterDriver(Self.policy)
        d.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"deploy","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"# + "\n")
        #expect(d.take(0) == "")
        #expect(try JSON.parse(d.take(1))["result"]?["content"]?.serialized.contains("did not declare the elicitation") == true)
    }
}
