import Foundation
import MCPBoxEvents
import MCPBoxProtocol
import Testing

/// A server flooding the log with what it alone controls (notifications, requests to the
/// client, lines that are no message) must not push earlier records out through rotation.
/// Found by a red-team pass: 40 000 one-line notifications in a 1 MiB × 2 log left no
/// `session.start` and no record of the refused call before them, and the chain still verified.
@Suite("Audit trail: the server's own traffic has a budget")
struct AuditFloodTests {
    static let policy = MCPPolicy(tools: NamePolicy(allow: nil, deny: ["*secret*"]))
    static let notification = #"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}"# + "\n"

    /// The log's files, oldest first (`FILE.keep` … `FILE.1`, `FILE`), as `audit verify` takes them.
    static func files(_ s: AuditedSession, keep: Int) -> [String] {
        (stride(from: keep, through: 1, by: -1).map { "\(s.path).\($0)" } + [s.path]).filter { FileManager.default.fileExists(atPath: $0) }
    }

    static func records(_ files: [String]) throws -> [[String: Any]] {
        try files.flatMap { file in
            try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }
    }

    @Test("50 000 notifications into a 256 KiB × 2 log: session.start and the refused call survive, the rest is one mcp.summary with the right count, the chain verifies")
    func floodKeepsHistory() throws {
        let rotation = LogRotation(maxSize: 256 << 10, keep: 2)
        let s = try AuditedSession(Self.policy, rotation: rotation)
        // An earlier session in the same log.
        let earlier = AuditTrail(sink: try #require(EventSink.file(s.path, rotation: rotation)), profile: "test",
                                 profileHash: String(repeating: "a", count: 64), say: { _ in })
        #expect(earlier.start(fields: [("session", .string("earlier"))]) && earlier.finish(fields: []))
        // As the relay runs it: records held until their line is passed on.
        s.trail.holding = true
        #expect(s.trail.start(fields: []))
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"secret_dump","arguments":{}}}"# + "\n")
        _ = s.driver.take(1)
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read","arguments":{}}}"# + "\n")
        _ = s.driver.take(0)
        s.driver.feed(1, #"{"jsonrpc":"2.0","id":2,"result":{"content":[]}}"# + "\n")
        _ = s.driver.take(1)
        let total = 50_000
        let batch = String(repeating: Self.notification, count: 1000)
        for _ in 0..<(total / 1000) {
            #expect(s.driver.feed(1, batch))
            _ = s.driver.take(1)
            _ = s.driver.filter.tick(now: 0)
        }
        // The client's traffic after the flood is still written one by one.
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"secret_again","arguments":{}}}"# + "\n")
        #expect(s.trail.finish(fields: [("exit_status", .int(0))]))

        let files = Self.files(s, keep: rotation.keep)
        let report = try ChainVerifier.verify(files: files)
        #expect(report.broken == nil, "\(String(describing: report.broken))")
        let r = try Self.records(files)
        let kinds = r.map { $0["kind"] as? String ?? "" }
        #expect(r.first?["session"] as? String == "earlier", "the earlier session is still in the log: \(r.first ?? [:])")
        #expect(kinds.filter { $0 == "session.start" }.count == 2 && kinds.filter { $0 == "session.end" }.count == 2, "\(kinds.prefix(4))")
        let denied = r.filter { $0["tool"] as? String == "secret_dump" }
        #expect(denied.count == 1 && denied.first?["outcome"] as? String == "denied"
                && denied.first?["rule"] as? String == "[tools] deny \"*secret*\"", "\(denied)")
        #expect(r.contains { $0["tool"] as? String == "read" && $0["outcome"] as? String == "ok" })
        #expect(r.contains { $0["tool"] as? String == "secret_again" && $0["outcome"] as? String == "denied" })
        let written = r.filter { $0["kind"] as? String == "mcp.notification" }.count
        #expect(written > 0 && written < total / 10, "a few individual records first: \(written)")
        let summaries = r.filter { $0["kind"] as? String == "mcp.summary" }
        try #require(summaries.count == 1, "\(summaries)")
        let summary = summaries[0]
        #expect(summary["of"] as? String == "mcp.notification" && summary["method"] as? String == "notifications/message"
                && summary["direction"] as? String == "server_to_client")
        #expect(summary["count"] as? Int == total - written, "\(summary)")
        #expect(summary["bytes"] as? Int == (total - written) * Self.notification.utf8.count)
        #expect((summary["outcomes"] as? [String: Int]) == ["sent": total - written])
        #expect(summary["first_time"] is String && summary["last_time"] is String)
        let budget = try #require(r.first { $0["kind"] as? String == "mcp.budget" })
        #expect(budget["budget_bytes"] as? Int == Int(rotation.maxSize / 4))
        let end = try #require(r.last)
        #expect(end["kind"] as? String == "session.end" && end["summarized"] as? Int == total - written, "\(end)")
        // The summary comes before session.end, after every individual record of the session.
        #expect(kinds.suffix(2) == ["mcp.summary", "session.end"], "\(kinds.suffix(3))")
        // What the server caused stays within its budget: every record of its own is in the first files' worth.
        let serverBytes = try files.map { try String(contentsOfFile: $0, encoding: .utf8) }.joined()
            .split(separator: "\n").filter { $0.contains(#""kind":"mcp.notification""#) }.reduce(0) { $0 + $1.utf8.count + 1 }
        #expect(serverBytes <= Int(rotation.maxSize / 4), "\(serverBytes) bytes of notification records")
    }

    @Test("past the budget: each method its own summary up to 64, the rest together; server requests and violations counted; client records still written")
    func summariesBounded() throws {
        let s = try AuditedSession(MCPPolicy(tools: NamePolicy(allow: nil, deny: ["*secret*"]), client: ClientGate(sampling: false)))
        #expect(s.trail.serverBudget == AuditTrail.serverBudget(maxSize: 10 << 20), "a sink without rotation: the default max_size's quarter")
        // A trail with a small explicit budget: the first few records fit, the rest is counted.
        let sink = try #require(EventSink.file(s.dir + "/small.jsonl"))
        let trail = AuditTrail(sink: sink, profile: "test", profileHash: String(repeating: "a", count: 64), serverBudget: 1000, say: { _ in })
        s.driver.filter.audit = trail
        let path = s.dir + "/small.jsonl"
        trail.start(fields: [])
        // Enough of one notification to spend the budget, then requests the client answers (each
        // counted when answered), one of each other kind, then made-up methods.
        #expect(s.driver.feed(1, String(repeating: #"{"jsonrpc":"2.0","method":"notifications/progress"}"# + "\n", count: 20)))
        for i in 0..<10 {
            s.driver.feed(1, #"{"jsonrpc":"2.0","id":\#(i + 100),"method":"roots/list"}"# + "\n")
            s.driver.feed(0, #"{"jsonrpc":"2.0","id":\#(i + 100),"result":{"roots":[]}}"# + "\n")
        }
        var flood = #"{"jsonrpc":"2.0","id":7,"method":"sampling/createMessage","params":{}}"# + "\n"
        for _ in 0..<5 { flood += "not json at all\n" }
        flood += #"{"jsonrpc":"2.0","id":999,"result":{}}"# + "\n"
        flood += #"{"jsonrpc":"2.0","method":"\#(String(repeating: "m", count: 500))"}"# + "\n"
        for i in 0..<200 { flood += #"{"jsonrpc":"2.0","method":"made/up/\#(i)"}"# + "\n" }
        #expect(s.driver.feed(1, flood))
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"secret_dump","arguments":{}}}"# + "\n")
        s.driver.feed(0, "client junk\n")
        trail.finish(fields: [])
        #expect(try ChainVerifier.verify(files: [path]).broken == nil)
        let r = try AuditFloodTests.records([path])
        let summaries = r.filter { $0["kind"] as? String == "mcp.summary" }
        let individual = r.filter { $0["direction"] as? String == "server_to_client" && $0["kind"] as? String != "mcp.summary"
                                    && $0["kind"] as? String != "mcp.budget" }
        let serverBytes = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            .filter { $0.contains(#""direction":"server_to_client""#) && !$0.contains(#""kind":"mcp.summary""#) && !$0.contains(#""kind":"mcp.budget""#) }
            .reduce(0) { $0 + $1.utf8.count + 1 }
        #expect(!individual.isEmpty && serverBytes <= 1000, "\(serverBytes) bytes in \(individual.count) records")
        #expect(trail.serverBytes == serverBytes, "the budget counts the records as written")
        let counted = summaries.reduce(0) { $0 + ($1["count"] as? Int ?? 0) }
        #expect(counted + individual.count == 20 + 10 + 1 + 5 + 1 + 1 + 200 && counted == trail.summarized)
        let notifications = summaries.filter { $0["of"] as? String == "mcp.notification" }
        #expect(notifications.filter { $0["method"] is String }.count == AuditTrail.maxSummarizedMethods - 2, "the requests roots/list and sampling/createMessage take two of the 64")
        let other = try #require(notifications.first { $0["other_methods"] as? Bool == true })
        #expect(other["method"] is NSNull && other["count"] as? Int == 200 - (AuditTrail.maxSummarizedMethods - 4), "\(other)")
        #expect(!summaries.contains { ($0["method"] as? String)?.utf8.count ?? 0 > AuditTrail.maxSummarizedMethodBytes })
        let roots = try #require(summaries.first { $0["method"] as? String == "roots/list" })
        #expect(roots["of"] as? String == "mcp.request" && roots["outcomes"] as? [String: Int] == ["ok": 10], "\(roots)")
        let sampling = try #require(summaries.first { $0["method"] as? String == "sampling/createMessage" })
        #expect(sampling["outcomes"] as? [String: Int] == ["denied": 1], "\(sampling)")
        let violations = try #require(summaries.first { $0["of"] as? String == "mcp.violation" })
        #expect(violations["method"] == nil && violations["reasons"] as? [String: Int]
                == ["not a JSON object": 5, "a response to an id which no request has": 1], "\(violations)")
        // What the client drives is still written one record each, after the budget was spent.
        #expect(r.contains { $0["tool"] as? String == "secret_dump" && $0["outcome"] as? String == "denied" })
        #expect(r.contains { $0["kind"] as? String == "mcp.violation" && $0["direction"] as? String == "client_to_server" })
        #expect(r.filter { $0["kind"] as? String == "mcp.budget" }.count == 1)
        #expect(r.last?["kind"] as? String == "session.end" && r.last?["protocol_violations"] as? Int == 5 + 1 + 1)
    }
}
