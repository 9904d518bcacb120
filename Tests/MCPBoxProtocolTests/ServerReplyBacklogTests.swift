import Foundation
@testable import MCPBoxProtocol
import Testing

/// A server that sends requests mcpbox refuses (a denied `sampling/createMessage`) and never
/// reads the answers made mcpbox queue them without bound (measured: ~2 MB/s of RSS growth
/// through the relay). Found by a red-team pass: before the fix the filter kept accepting input.
@Suite("MCP filter: mcpbox's answers to a server that does not read them are bounded")
struct ServerReplyBacklogTests {
    @Test func unreadAnswersEndTheSession() {
        let d = FilterDriver(MCPPolicy(client: ClientGate(sampling: false)))
        var line = ""
        var fed = 0
        var ended = false
        // Never take(0): the server does not read its stdin.
        for i in 0..<40_000 {
            line = #"{"jsonrpc":"2.0","id":\#(i),"method":"sampling/createMessage","params":{"messages":[],"maxTokens":5}}"# + "\n"
            if !d.feed(1, line) { ended = true; break }
            fed += 1
        }
        #expect(ended, "the filter took \(fed) refused requests with no answer read")
        #expect(d.filter.failed)
        #expect(d.box.lines.contains { $0.contains("unread") && $0.contains("session ended") }, "\(d.box.lines.suffix(2))")
        #expect(d.take(1) == "", "a refused request reached the client")
    }

    @Test("a server that reads its answers is never stopped")
    func readAnswersKeepTheSessionGoing() {
        let d = FilterDriver(MCPPolicy(client: ClientGate(sampling: false)))
        for i in 0..<40_000 {
            let ok = d.feed(1, #"{"jsonrpc":"2.0","id":\#(i),"method":"sampling/createMessage","params":{}}"# + "\n")
            #expect(ok)
            if !ok { break }
            _ = d.take(0)
        }
        #expect(!d.filter.failed)
    }
}
