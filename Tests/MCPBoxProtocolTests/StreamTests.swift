import Foundation
@testable import MCPBoxProtocol
import Testing

/// Streaming (`StreamedLine.swift`): a line whose verdict is known from its start is passed on
/// before its newline; the newline waits for the verdict on the whole line, and a line whose end
/// changes that verdict ends the session without it.
@Suite("MCP filter: lines streamed before their newline")
struct StreamTests {
    static let pad = String(repeating: "p", count: 200_000)

    /// A tools/call for `name` whose `arguments` (one big string) come after the name.
    static func call(_ name: String, id: Int = 9) -> String {
        #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"\#(name)","arguments":{"text":"\#(pad)"}}}"#
    }

    @Test("a permitted tools/call is passed on before its newline and arrives byte-identical, in any pieces",
          arguments: [1, 7, 4096, 65536])
    func permittedCallStreams(chunk: Int) {
        let d = FilterDriver(MCPFilterTests.gitPolicy)
        let line = Self.call("git_status") + "\n"
        let bytes = Array(line.utf8)
        let half = String(decoding: bytes[..<100_000], as: UTF8.self)
        #expect(d.feed(0, half, chunk: chunk))
        let early = d.takeBytes(0)
        // Most of what came is on its way already (the start was forecast once a few bytes were in).
        #expect(early.count > 90_000 && !early.contains(0x0a), "\(early.count) bytes before the newline")
        #expect(d.feed(0, String(decoding: bytes[100_000...], as: UTF8.self), chunk: chunk))
        #expect(early + d.takeBytes(0) == bytes)
        #expect(d.takeBytes(1).isEmpty)
        // The session goes on, and the answer is a response to a forwarded request.
        #expect(d.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"ping"}"# + "\n"))
        #expect(d.take(0) == #"{"jsonrpc":"2.0","id":1,"method":"ping"}"# + "\n")
    }

    @Test("a big result for a forwarded request and a server notification are streamed to the client, byte-identical")
    func serverLinesStream() {
        let d = FilterDriver(MCPFilterTests.gitPolicy)
        #expect(d.feed(0, Self.call("git_log", id: 4) + "\n"))
        _ = d.takeBytes(0)
        let result = #"{"jsonrpc":"2.0","id":4,"result":{"content":[{"type":"text","text":"\#(Self.pad)"}],"isError":false}}"#
        let note = #"{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"\#(Self.pad)"}}"#
        for line in [result, note] {
            #expect(d.feed(1, String(line.prefix(150_000)), chunk: 3000))
            let early = d.takeBytes(1)
            #expect(early.count > 140_000 && !early.contains(0x0a))
            #expect(d.feed(1, String(line.dropFirst(150_000)) + "\n", chunk: 3000))
            #expect(early + d.takeBytes(1) == Array((line + "\n").utf8))
        }
        #expect(!d.filter.failed)
    }

    @Test("a tools/call whose big arguments come before the name is held whole: a denied one never reaches the server")
    func argumentsBeforeNameAreHeld() {
        for size in [100_000, 400_000] {
            let d = FilterDriver(MCPFilterTests.gitPolicy)
            let args = #"{"text":"\#(String(repeating: "a", count: size))"}"#
            let call = #"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"arguments":\#(args),"name":"git_commit"}}"# + "\n"
            #expect(d.feed(0, String(call.dropLast()), chunk: 4096))
            #expect(d.takeBytes(0).isEmpty, "bytes of an undecided call were passed on")
            #expect(d.feed(0, "\n"))
            #expect(d.takeBytes(0).isEmpty)
            #expect(d.take(1) == #"{"jsonrpc":"2.0","id":5,"error":{"code":-32602,"message":"Unknown tool: git_commit"}}"# + "\n")
        }
    }

    /// Lines whose verdict their end changes, after streaming began.
    static let lateChanges: [(String, Int, String)] = [
        // A later duplicate name (denied): the whole is invalid JSON, never the permitted call.
        (#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"git_status","arguments":{"text":"\#(pad)"},"name":"git_commit"}}"#, 0, "duplicate keys"),
        // A later duplicate method or id.
        (#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"git_status","arguments":{"text":"\#(pad)"}},"method":"x"}"#, 0, "duplicate keys"),
        (#"{"jsonrpc":"2.0","id":9,"method":"notifications/x","params":{"text":"\#(pad)"},"id":10}"#, 0, "duplicate keys"),
        // JSON that breaks off.
        (#"{"jsonrpc":"2.0","method":"notifications/x","params":{"text":"\#(pad)"}"#, 0, "not valid JSON"),
        // A server request that turns out to carry a result.
        (#"{"jsonrpc":"2.0","id":3,"method":"roots/list","params":{"text":"\#(pad)"},"result":{}}"#, 1, "refused or changed"),
        // Strings that would fool a scan of the closing byte: `}` and `\"` inside, then `\\` before the closing quote.
        (#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"git_status","arguments":{"text":"\#(pad) \"}}\" \\"},"name":"git_commit"}}"#, 0, "duplicate keys"),
    ]

    @Test("a streamed line whose end changes its verdict: its closing byte and newline are withheld and the session ends",
          arguments: 0..<6)
    func lateChangeEndsTheSession(_ index: Int) {
        let (line, dir, why) = Self.lateChanges[index]
        let d = FilterDriver(MCPFilterTests.gitPolicy)
        #expect(d.feed(dir, String(line.prefix(120_000)), chunk: 8192))
        let early = d.takeBytes(dir)
        #expect(early.count > 100_000, "streaming did not begin")
        let going = d.feed(dir, String(line.dropFirst(120_000)) + "\n", chunk: 8192)
        #expect(!going && d.filter.failed)
        let out = early + d.takeBytes(dir)
        #expect(!out.contains(0x0a), "the newline of a refused line was passed on")
        let isPrefix = Array(line.utf8).starts(with: out)
        #expect(isPrefix)
        // Not even the message's closing byte: the peer never holds a whole JSON value of it.
        // (A line that breaks off has no closing byte.)
        #expect(out.count < line.utf8.count || why == "not valid JSON", "the refused line's closing byte was passed on")
        #expect(d.box.lines.contains { $0.contains("had begun passing on") && $0.contains(why) }, "\(d.box.lines)")
    }

    func end(_ d: FilterDriver, _ dir: Int) -> Bool {
        d.filter.input(dir, UnsafeRawBufferPointer(start: nil, count: 0))
    }

    @Test("a streamed last line without a newline is judged at EOF: a late denied duplicate name never completes at the server",
          arguments: [1 << 20, 150_000])
    func unterminatedLateChangeAtEOF(spoolThreshold: Int) {
        // Python's json keeps the last duplicate and the Python SDK's server runs a final
        // unterminated line: the fragment must not be the whole message.
        let line = Self.lateChanges[0].0
        let d = FilterDriver(MCPFilterTests.gitPolicy)
        d.filter.spoolThreshold = spoolThreshold
        #expect(d.feed(0, line, chunk: 8192))
        let early = d.takeBytes(0)
        #expect(early.count > 100_000, "streaming did not begin")
        #expect(!end(d, 0) && d.filter.failed)
        let out = early + d.takeBytes(0)
        #expect(Array(line.utf8).starts(with: out) && out.count < line.utf8.count, "\(out.count) of \(line.utf8.count) bytes passed on")
        #expect(d.box.lines.contains { $0.contains("had begun passing on") && $0.contains("duplicate keys") }, "\(d.box.lines)")
    }

    @Test("a permitted streamed line arrives whole and once, ended by a newline or by EOF, held in memory or spooled, with a long held-back end",
          arguments: [1 << 20, 150_000, 20_000], [(true, 0), (false, 0), (true, 100_000), (false, 100_000)])
    func permittedLineWholeAndOnce(spoolThreshold: Int, end: (terminated: Bool, spaces: Int)) {
        let d = FilterDriver(MCPFilterTests.gitPolicy)
        d.filter.spoolThreshold = spoolThreshold
        let terminated = end.terminated
        // Spaces after the message are held back with its closing byte.
        let line = Self.call("git_status") + String(repeating: " ", count: end.spaces) + (terminated ? "\n" : "")
        let bytes = Array(line.utf8)
        #expect(d.feed(0, String(decoding: bytes[..<(bytes.count - 40)], as: UTF8.self), chunk: 5000))
        var out = d.takeBytes(0, step: 3000)
        #expect(out.count > 100_000, "streaming did not begin")
        #expect(d.feed(0, String(decoding: bytes[(bytes.count - 40)...], as: UTF8.self), chunk: 7))
        out += d.takeBytes(0, step: 3000)
        if !terminated {
            #expect(out.count < bytes.count, "the closing byte went on before the verdict")
            #expect(self.end(d, 0))
            out += d.takeBytes(0)
        }
        #expect(out == bytes, "\(out.count) of \(bytes.count) bytes")
        #expect(!d.filter.failed)
        #expect(d.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"ping"}"# + "\n"))
        #expect(d.take(0) == #"{"jsonrpc":"2.0","id":1,"method":"ping"}"# + "\n")
    }

    /// A raw CR outside strings is JSON whitespace, and a line break to Java's, .NET's and Node's
    /// line readers: behind it, a second message the peer reads as a line of its own.
    static func behindCR(_ inner: String, pad: String = "") -> String {
        #"{"jsonrpc":"2.0","method":"notifications/x","params":{"p":"\#(pad)","q":"# + "\r" + inner + "}}"
    }

    @Test("a streamed line with a message behind a raw CR: nothing from the CR on reaches the server, the session ends")
    func streamedCRSplit() {
        let inner = #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"git_commit","arguments":{}}}"#
        let line = Self.behindCR(inner, pad: Self.pad)
        let d = FilterDriver(MCPFilterTests.gitPolicy)
        #expect(d.feed(0, String(line.prefix(150_000)), chunk: 8192))
        let early = d.takeBytes(0)
        #expect(early.count > 100_000, "streaming did not begin")
        #expect(!d.feed(0, String(line.dropFirst(150_000)) + "\n", chunk: 8192))
        let out = early + d.takeBytes(0)
        #expect(!out.contains(0x0d) && !out.contains(0x0a), "the CR or what follows it reached the server")
        #expect(d.box.lines.contains { $0.contains("had begun passing on") && $0.contains("raw CR") }, "\(d.box.lines)")
    }

    @Test("a held line with a message behind a raw CR is a protocol violation: a denied call or sampling request never gets through")
    func heldCRSplit() throws {
        let call = #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"git_commit","arguments":{}}}"#
        let d = FilterDriver(MCPFilterTests.gitPolicy)
        #expect(d.feed(0, Self.behindCR(call) + "\n"))
        #expect(d.takeBytes(0).isEmpty, "the line reached the server")
        let answer = try JSON.parse(d.take(1))
        #expect(answer["error"]?["code"] == .number("-32700"))
        let sampling = #"{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{"messages":[],"maxTokens":5}}"#
        let s = FilterDriver(MCPPolicy(client: ClientGate(sampling: false)))
        #expect(s.feed(1, Self.behindCR(sampling) + "\n"))
        #expect(s.takeBytes(1).isEmpty, "the line reached the client")
        #expect(s.filter.droppedLines == 1)
        #expect(s.box.lines.contains { $0.contains("raw CR") }, "\(s.box.lines)")
        // CRLF, and a CR inside a JSON string (escaped), still pass byte-identical.
        for ok in [#"{"jsonrpc":"2.0","method":"notifications/x","params":{"t":"a\rb"}}"# + "\r\n",
                   #"{"jsonrpc":"2.0","method":"notifications/x"}"# + "\n"] {
            #expect(s.feed(1, ok))
            #expect(s.take(1) == ok)
        }
    }

    @Test("mcpbox's own answers to the client never land inside a streamed server line")
    func repliesWaitForTheNewline() {
        let d = FilterDriver(MCPFilterTests.gitPolicy)
        let note = #"{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"\#(Self.pad)"}}"#
        #expect(d.feed(1, String(note.prefix(50_000))))
        let early = d.takeBytes(1)
        #expect(early.count > 40_000)
        // A refused call while the server's line is half sent: its answer waits.
        #expect(d.feed(0, #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"git_commit"}}"# + "\n"))
        #expect(d.takeBytes(1).isEmpty)
        #expect(d.feed(1, String(note.dropFirst(50_000)) + "\n"))
        let refusal = #"{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"Unknown tool: git_commit"}}"# + "\n"
        #expect(early + d.takeBytes(1) == Array((note + "\n" + refusal).utf8))
    }

    @Test("mcpbox's answers waiting for a server's unfinished streamed line are bounded: past 1 MiB the session ends")
    func waitingRepliesAreBounded() {
        let d = FilterDriver(MCPFilterTests.gitPolicy)
        let note = #"{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"\#(Self.pad)"}}"#
        #expect(d.feed(1, String(note.prefix(50_000))))
        #expect(d.takeBytes(1).count > 40_000)
        let refused = #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"git_commit"}}"# + "\n"
        var going = true, sent = 0
        while going, sent < 20_000 {
            going = d.feed(0, refused)
            sent += 1
        }
        #expect(!going && d.filter.failed, "\(sent) refused calls")
        #expect(d.box.lines.contains { $0.contains("waited for the end of a message from the server") })
        #expect(!d.takeBytes(1).contains(0x0a))
    }

    @Test("lines whose verdict needs the whole line are still held: under [tools] confirm or a [client] gate, a tools/list answer")
    func wholeLinePoliciesHold() throws {
        let gate = MCPPolicy(tools: NamePolicy(allow: ["git_*"], deny: []), client: ClientGate(sampling: false))
        let confirm = MCPPolicy(tools: NamePolicy(allow: ["git_*"], deny: []), confirm: ["git_log"])
        for policy in [gate, confirm] {
            let d = FilterDriver(policy)
            #expect(d.feed(0, String(Self.call("git_status").prefix(100_000)), chunk: 4096))
            #expect(d.takeBytes(0).isEmpty)
        }
        // tools/list answers are read whole to be filtered.
        let d = FilterDriver(MCPFilterTests.gitPolicy)
        #expect(d.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"# + "\n"))
        _ = d.takeBytes(0)
        #expect(d.feed(1, String(#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"git_status","description":"\#(Self.pad)"}]}}"#.prefix(100_000))))
        #expect(d.takeBytes(1).isEmpty)
    }

    @Test("a streamed line past max_message ends the session without its newline")
    func streamedLineOverTheLimit() {
        let d = FilterDriver(MCPPolicy(tools: NamePolicy(allow: nil, deny: []), maxMessage: 50_000))
        let line = SpoolTests.notification(50_002)
        #expect(!d.feed(1, line, chunk: 4096))
        #expect(d.filter.failed)
        #expect(!d.takeBytes(1).contains(0x0a))
    }
}
