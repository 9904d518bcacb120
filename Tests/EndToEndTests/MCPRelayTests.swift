import Foundation
import MCPBoxTestSupport
import Testing

/// The MCP layer's framing through the shipped binary (`mcpbox run` with a `[tools]` key):
/// split lines, a 16 MiB line, a line that is not JSON, and a line over the limit.
@Suite("MCP layer: framing and limits through mcpbox run", .enabled(if: TestSupport.isRoot, "runs sandboxes: run as root (CI does)"))
struct MCPRelayTests {
    static let limit = 16 << 20

    func run(_ requests: [String]) throws -> ProcessResult {
        let mcpbox = try TestSupport.mcpboxBinary()
        let python = try TestSupport.systemPython()
        let tmp = try TempDir(prefix: "mcpbox-mcp-relay")
        defer { tmp.remove() }
        let fixtures = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures").path
        let profile = try tmp.write("lines.toml", """
            extends = ["base"]
            [filesystem]
            read_only = [\(tomlString(fixtures))]
            [tools]
            deny = ["*commit*"]

            """)
        let input = Data(requests.map { $0 + "\n" }.joined().utf8)
        return try runProcess([mcpbox, "run", profile, "--profile-path", TestSupport.profilesDir, "--",
                               python, fixtures + "/mcp_lines.py"], environment: ["PATH": "/usr/bin:/bin"], stdin: input, timeout: 120)
    }

    @Test("a 16 MiB line written in pieces, a line that is not JSON and an echo arrive whole and in order")
    func bigSplitAndJunkLinesPass() throws {
        let echo = #"{"jsonrpc":"2.0","id":3,"method":"ping"}"#
        let r = try run([#"{"jsonrpc":"2.0","method":"emit","params":{"size":\#(Self.limit),"chunks":40}}"#,
                         #"{"jsonrpc":"2.0","method":"junk"}"#, echo])
        #expect(r.status == 0, "exit \(r.status): \(r.stderr.suffix(1000))")
        let lines = r.stdout.split(separator: 0x0a, omittingEmptySubsequences: false)
        try #require(lines.count == 4, "lines: \(lines.map(\.count)) stderr: \(r.stderr.suffix(500))")
        #expect(lines[0].count == Self.limit)
        #expect(lines[0].allSatisfy { $0 != 0x0a } && lines[0].suffix(3) == Data(#""}}"#.utf8))
        #expect(String(decoding: lines[1], as: UTF8.self) == "this is not json")
        #expect(String(decoding: lines[2], as: UTF8.self) == echo)
        #expect(lines[3].isEmpty)
    }

    /// A client that reads member names case-insensitively (the .NET SDK) would take the
    /// server's `"Tools"` for the list mcpbox filtered (red-team pass, 2026-12-03). Fails before
    /// the fix: the line reached the client with git_commit in it.
    @Test("a tools/list answer holding a second list under \"Tools\" is dropped, not passed with the denied tool")
    func confusableKeyAnswerIsDropped() throws {
        let ping = #"{"jsonrpc":"2.0","id":2,"method":"ping"}"#
        let r = try run([#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#, ping])
        #expect(r.status == 0, "exit \(r.status): \(r.stderr.suffix(1000))")
        let out = String(decoding: r.stdout, as: UTF8.self)
        #expect(!out.contains("git_commit"), "the client got: \(out)")
        #expect(out.contains(ping), "the echo after it: \(out)")
        #expect(r.stderr.contains("mcpbox: dropped a line from the server"), "\(r.stderr.suffix(1000))")
    }

    @Test("a line one byte over 16 MiB ends the session with a clear message and never reaches the client finished")
    func lineOverTheLimitEndsTheSession() throws {
        let r = try run([#"{"jsonrpc":"2.0","method":"emit","params":{"size":\#(Self.limit + 1),"chunks":40}}"#])
        #expect(r.stderr.contains("mcpbox: the server sent a message longer than \(Self.limit) bytes"), "stderr: \(r.stderr.suffix(1000))")
        #expect(r.status != 0)
        // A notification is streamed from its start (README, "MCP-aware relay"): the client may get
        // a fragment of it, never its newline.
        #expect(!r.stdout.contains(0x0a), "no complete line may reach the client: \(r.stdout.count) bytes")
        #expect(r.stdout.count <= Self.limit, "more than the limit was forwarded: \(r.stdout.count) bytes")
    }
}
