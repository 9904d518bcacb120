import Foundation
import MCPBoxTestSupport
import Testing

/// `[client]` gating with the real Python SDK client, which declares sampling, elicitation and
/// roots, and a server of our own (Fixtures/mcp_asker.py) that asks for all three.
@Suite("MCP layer: [client] gating with a real client", .enabled(if: TestSupport.isRoot, "runs sandboxes: run as root (CI does)"))
struct MCPClientGatingTests {
    struct Report: Decodable {
        var declared: [String]
        var answers: [String: Answer]
        struct Answer: Decodable {
            struct Failure: Decodable { var code: Int; var message: String }
            var error: Failure?
        }
    }

    /// `mcp_asker.py` (with `args`) under a profile with `client` appended, driven by the Python
    /// SDK client declaring sampling, elicitation and roots; it calls the asker's one tool.
    static func asker(client: String, args: [String] = []) throws -> ClientOutput {
        let env = try E2EEnvironment(launch: .rootShippedProfile, shippedProfile: "time")
        defer { env.cleanUp() }
        let fixtures = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures").path
        let profile = try env.tmp.write("asker.toml", """
            extends = ["base"]
            [filesystem]
            read_only = [\(tomlString(fixtures))]
            \(client)

            """)
        return try env.runClient(args: ["run", profile, "--profile-path", TestSupport.profilesDir, "--",
                                        try TestSupport.systemPython(), fixtures + "/mcp_asker.py"] + args,
                                 calls: [["tool": "ask", "arguments": [:]]], clientFeatures: true)
    }

    func session(client: String) throws -> (ClientOutput, Report?) {
        let out = try Self.asker(client: client)
        let report = out.calls.first.flatMap { try? JSONDecoder().decode(Report.self, from: Data($0.text.utf8)) }
        return (out, report)
    }

    @Test("denied: the client's capabilities are not declared, the server's requests never reach it and get -32601")
    func allDenied() throws {
        let (out, report) = try session(client: "[client]\nsampling = false\nelicitation = false\nroots = false")
        out.expectCleanSession(server: "mcp-asker")
        let r = try #require(report, "tool result: \(out.calls)")
        #expect(r.declared.isEmpty, "capabilities the server saw: \(r.declared)")
        for method in ["sampling/createMessage", "elicitation/create", "roots/list"] {
            #expect(r.answers[method]?.error?.code == -32601, "\(method): \(String(describing: r.answers[method]))")
            #expect(out.stderr.contains("mcpbox: refused the server's \(method)"), "stderr: \(out.stderr.suffix(800))")
        }
        #expect(out.client_requests == [], "the client was asked: \(out.client_requests ?? [])")
    }

    @Test("allowed (no [client] key, and explicitly true): all three reach the client and are answered by it")
    func allowed() throws {
        for client in ["", "[client]\nsampling = true\nelicitation = true\nroots = true"] {
            let (out, report) = try session(client: client)
            out.expectCleanSession(server: "mcp-asker")
            let r = try #require(report, "tool result: \(out.calls)")
            #expect(r.declared == ["elicitation", "roots", "sampling"], "capabilities the server saw: \(r.declared)")
            for method in ["sampling/createMessage", "elicitation/create", "roots/list"] {
                #expect(r.answers[method] != nil && r.answers[method]?.error == nil, "\(method): \(String(describing: r.answers[method]))")
            }
            #expect(out.client_requests == ["sampling/createMessage", "elicitation/create", "roots/list"])
        }
    }

    @Test("only sampling denied: elicitation and roots still reach the client")
    func samplingOnly() throws {
        let (out, report) = try session(client: "[client]\nsampling = false")
        out.expectCleanSession(server: "mcp-asker")
        let r = try #require(report, "tool result: \(out.calls)")
        #expect(r.declared == ["elicitation", "roots"])
        #expect(r.answers["sampling/createMessage"]?.error?.code == -32601)
        #expect(out.client_requests == ["elicitation/create", "roots/list"])
    }
}
