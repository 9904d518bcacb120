import Foundation
@testable import MCPBoxProtocol
import Testing

/// Streamed lines decided from the scan made as they arrived (`IncrementalScan`), never kept.
@Suite("MCP filter: a streamed line is scanned as it arrives and not kept")
struct StreamScanTests {
    @Test("a 4 MiB tools/call and its result stream through an audited filter: one read's bytes in memory, no spool, the same records")
    func notKept() throws {
        let s = try AuditedSession(MCPFilterTests.gitPolicy)
        let pad = String(repeating: "abcdefgh", count: (4 << 20) / 8)
        let call = #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"git_status","arguments":{"text":"\#(pad)"}}}"# + "\n"
        let result = #"{"jsonrpc":"2.0","id":4,"result":{"content":[{"type":"text","text":"\#(pad)"}],"isError":false}}"# + "\n"
        for (dir, line) in [(0, call), (1, result)] {
            let bytes = Array(line.utf8)
            var out: [UInt8] = []
            var most = 0
            for at in stride(from: 0, to: bytes.count, by: 65536) {
                #expect(bytes[at..<min(bytes.count, at + 65536)].withUnsafeBytes { s.driver.filter.input(dir, $0) })
                // Before the newline: nothing held in a spool, the queue no bigger than a few reads.
                #expect(s.driver.filter.spooling[dir] == nil)
                most = max(most, s.driver.filter.queues[dir].capacity)
                out += s.driver.takeBytes(dir)
            }
            #expect(out == bytes)
            #expect(most <= 256 << 10, "the queue grew to \(most) bytes: the streamed line was kept")
        }
        let r = try s.records()
        #expect(r.count == 1 && r[0]["tool"] as? String == "git_status" && r[0]["argument_keys"] as? [String] == ["text"])
        #expect(r[0]["request_bytes"] as? Int == call.utf8.count && r[0]["response_bytes"] as? Int == result.utf8.count)
        #expect(!s.driver.filter.failed && s.trail.violations == 0)
    }

    @Test("a big answer to initialize is held whole: its audit record reads the server's name from the whole message")
    func initializeAnswerHeld() throws {
        let s = try AuditedSession(MCPFilterTests.gitPolicy)
        #expect(s.driver.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"# + "\n"))
        _ = s.driver.takeBytes(0)
        let answer = #"{"jsonrpc":"2.0","id":1,"result":{"instructions":"\#(String(repeating: "i", count: 200_000))","protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"srv","version":"9"}}}"#
        #expect(s.driver.feed(1, answer, chunk: 4096))
        #expect(s.driver.takeBytes(1).isEmpty, "an initialize answer was streamed")
        #expect(s.driver.feed(1, "\n"))
        #expect(s.driver.takeBytes(1) == Array((answer + "\n").utf8))
        let r = try s.records()
        #expect(r.count == 1 && r[0]["server_name"] as? String == "srv" && r[0]["server_version"] as? String == "9")
    }

    @Test("a response whose number id the forecast's prefix cuts (`1` of `12`) is judged by its whole id: a tools/list answer is filtered, not streamed")
    func numberIdCutAtForecast() {
        // The prefix scan keeps no number its end may cut.
        let prefix = Array(#"{"result":{},"id":1"#.utf8).withUnsafeBytes { MessageScan(prefix: $0) }
        #expect(prefix.truncated && prefix.hasResult && prefix.id == nil)
        let d = FilterDriver(MCPFilterTests.gitPolicy)
        #expect(d.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"git_status","arguments":{}}}"# + "\n"))
        #expect(d.feed(0, #"{"jsonrpc":"2.0","id":12,"method":"tools/list"}"# + "\n"))
        _ = d.takeBytes(0)
        let tools = #"{"name":"git_status","description":"\#(String(repeating: "d", count: 20_000))"},{"name":"git_commit"}"#
        // One read of more than 16 KiB that ends inside the id: the start is forecast there.
        #expect(d.feed(1, #"{"jsonrpc":"2.0","result":{"tools":[\#(tools)]},"id":1"#))
        #expect(d.feed(1, "2}\n"))
        let out = String(decoding: d.takeBytes(1), as: UTF8.self)
        #expect(!d.filter.failed && out.contains(#""id":12"#) && out.contains("git_status") && !out.contains("git_commit"))
    }

    @Test("a tools/list reusing the id of a call whose answer is streaming is refused; the answer ends as it began")
    func idReusedMeanwhile() throws {
        let d = FilterDriver(MCPFilterTests.gitPolicy)
        #expect(d.feed(0, #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"git_status","arguments":{}}}"# + "\n"))
        _ = d.takeBytes(0)
        let answer = #"{"jsonrpc":"2.0","id":4,"result":{"content":[{"type":"text","text":"\#(String(repeating: "t", count: 100_000))"}]}}"#
        #expect(d.feed(1, answer, chunk: 4096))
        let early = d.takeBytes(1)
        #expect(early.count > 90_000)
        #expect(d.feed(0, #"{"jsonrpc":"2.0","id":4,"method":"tools/list"}"# + "\n"))
        #expect(d.takeBytes(0).isEmpty, "the tools/list under a pending id reached the server")
        // mcpbox's refusal waits for the end of the line being streamed to the client.
        #expect(d.takeBytes(1).isEmpty)
        #expect(d.feed(1, "\n"))
        let rest = d.takeBytes(1)
        let end = try #require(rest.firstIndex(of: 0x0a))
        // The answer whole and unchanged, then the refusal.
        #expect(!d.filter.failed && early + rest[...end] == Array((answer + "\n").utf8))
        let refusal = try JSON.parse(Array(rest[(end + 1)...]))
        #expect(refusal["id"] == .number("4") && refusal["error"]?["code"] == .number("-32600"), "\(refusal.serialized)")
    }
}
