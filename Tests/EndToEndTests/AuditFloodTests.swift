import Foundation
import MCPBoxTestSupport
import Testing

/// The red-team finding through the shipped binary: a server answers one request and then
/// writes 40 000 notifications into a log of `max_size = "1MiB"`, `keep = 2`. Before, rotation
/// pushed `session.start` and the refused call out of every file, and `audit verify` still
/// passed; now the server's own records stop at its budget and the rest is one summary.
@Suite("Audit log: a flooding server through mcpbox run", .enabled(if: TestSupport.isRoot, "runs sandboxes: run as root (CI does)"))
struct AuditFloodEndToEndTests {
    static let server = """
        import sys
        out = sys.stdout.buffer
        note = b'{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}\\n'
        for raw in sys.stdin.buffer:
            if b'"id":2' in raw:
                out.write(b'{"jsonrpc":"2.0","id":2,"result":{}}\\n')
                out.write(note * 40000)
                out.flush()

        """

    @Test("40 000 notifications into a 1 MiB × 2 log: session.start and the denied secret_dump survive, one mcp.summary counts the rest, verify passes, explain states the budget")
    func floodingServer() throws {
        let mcpbox = try TestSupport.mcpboxBinary()
        let python = try TestSupport.systemPython()
        let tmp = try TempDir(prefix: "mcpbox-audit-flood")
        defer { tmp.remove() }
        _ = try tmp.makeDir("srv")
        let script = try tmp.write("srv/flood.py", Self.server)
        let log = tmp.sub("state/c.jsonl")
        let profile = try tmp.write("flood.toml", """
            extends = ["base"]
            [filesystem]
            read_only = [\(tomlString(tmp.sub("srv")))]
            [tools]
            deny = ["*secret*"]
            [audit]
            log = \(tomlString(log))
            max_size = "1MiB"
            keep = 2

            """)
        let input = [#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"secret_dump","arguments":{}}}"#,
                     #"{"jsonrpc":"2.0","id":2,"method":"ping"}"#].map { $0 + "\n" }.joined()
        let r = try runProcess([mcpbox, "run", profile, "--profile-path", TestSupport.profilesDir, "--", python, script],
                               environment: ["PATH": "/usr/bin:/bin"], stdin: Data(input.utf8), timeout: 120)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr.suffix(1000))")
        #expect(r.stdout.split(separator: 0x0a).count == 2 + 40000, "every notification still reaches the client")

        let files = [log + ".2", log + ".1", log].filter { FileManager.default.fileExists(atPath: $0) }
        let verify = try runProcess([mcpbox, "audit", "verify"] + files)
        #expect(verify.status == 0 && verify.stdoutText.contains("hash chain intact"), "\(verify.stdoutText) \(verify.stderr)")
        let records = try files.flatMap { file in
            try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }
        #expect(records.first?["kind"] as? String == "session.start", "\(records.first ?? [:])")
        #expect(records.contains { $0["tool"] as? String == "secret_dump" && $0["outcome"] as? String == "denied" })
        let written = records.filter { $0["kind"] as? String == "mcp.notification" }.count
        let summary = try #require(records.first { $0["kind"] as? String == "mcp.summary" })
        #expect(summary["method"] as? String == "notifications/message" && summary["count"] as? Int == 40000 - written, "\(summary)")
        #expect(records.last?["kind"] as? String == "session.end" && records.last?["summarized"] as? Int == 40000 - written)

        let explain = try runProcess([mcpbox, "explain", profile, "--profile-path", TestSupport.profilesDir, "--", python, script])
        #expect(explain.status == 0 && explain.stdoutText.contains("server budget   256KiB (max_size / 4)"), "\(explain.stdoutText)")
    }
}
