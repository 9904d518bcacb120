import Foundation
import MCPBoxTestSupport
import Testing

/// Red team of the MCP layer's name checks, end to end: the real Python SDK client, `mcpbox run`
/// (the built binary) and a server of our own (Fixtures/mcp_nul_dispatch.py) that, like a server
/// comparing C strings, ends a tool name at its first NUL.
@Suite("MCP layer: red team (hostile server, odd client)", .enabled(if: TestSupport.isRoot, "runs sandboxes: run as root (CI does)"))
struct MCPRedTeamTests {
    /// One session under `tools` (the profile's `[tools]` lines) calling `calls`; the canary file's lines.
    /// A profile `file` in `env` that runs Fixtures/mcp_nul_dispatch.py under `tools` (the
    /// `[tools]` lines), its canary directory, and the fixtures directory.
    static func canaryProfile(_ env: E2EEnvironment, _ file: String, tools: String) throws -> (profile: String, canary: String, fixtures: String) {
        let fixtures = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures").path
        // The server runs as another account (nobody): the canary's directory is open to it.
        let canary = try env.tmp.makeDir("canary", mode: 0o777)
        let profile = try env.tmp.write(file, """
            extends = ["base"]
            [filesystem]
            read_only = [\(tomlString(fixtures))]
            read_write = [\(tomlString(canary))]
            [env]
            set = { NUL_CALLS = \(tomlString(canary + "/calls.log")) }
            [tools]
            \(tools)

            """)
        return (profile, canary, fixtures)
    }

    static func session(tools: String, calls: [[String: Any]]) throws -> (ClientOutput, [String]) {
        let env = try E2EEnvironment(launch: .rootShippedProfile, shippedProfile: "time")
        defer { env.cleanUp() }
        let (profile, canary, fixtures) = try canaryProfile(env, "nul.toml", tools: tools)
        let out = try env.runClient(args: ["run", profile, "--profile-path", TestSupport.profilesDir, "--",
                                           try TestSupport.systemPython(), fixtures + "/mcp_nul_dispatch.py"], calls: calls)
        let ran = ((try? String(contentsOfFile: canary + "/calls.log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        return (out, ran)
    }

    @Test("a tool name with a NUL (\"git_commit\\u0000\") is refused under deny and confirm, never reaching a server that would end the name there; listed, it is hidden")
    func nulInToolName() throws {
        for tools in ["deny = [\"*commit*\"]", "confirm = [\"git_commit\"]"] {
            let (out, ran) = try Self.session(tools: tools, calls: [["tool": "git_commit\u{0}", "arguments": [:]],
                                                                      ["tool": "git_status", "arguments": [:]]])
            out.expectCleanSession(server: "mcp-nul-dispatch")
            #expect(ran.isEmpty, "\(tools): the server ran git_commit for \(ran)")
            try #require(out.calls.count == 2, "\(tools): \(out.calls)")
            #expect(out.calls[0].code == -32602, "\(tools): \(out.calls[0]) — stderr: \(out.stderr.suffix(800))")
            #expect(out.calls[1].text == "clean", "\(tools): an ordinary call still works: \(out.calls[1])")
            if tools.hasPrefix("deny") {
                #expect(out.tools == ["git_status"], "listed under deny: \(out.tools.map { $0.debugDescription })")
            }
        }
    }
}

extension MCPRedTeamTests {
    @Test("pin = block under protocol 2026-07-28: the server/discover result's instructions are pinned as initialize's are (withheld until approved)")
    func discoverInstructionsPinned() throws {
        let s = try PinningTests.Setup()
        try s.profile("pin = \"block\"")
        let first = try s.session("honest", ["list"], modern: true)
        #expect(first.error == nil, "\(first.error ?? "") \(first.stderr.suffix(1500))")
        #expect(first.protocol == "2026-07-28", "negotiated \(first.protocol ?? "nil")")
        #expect(first.instructions == nil, "unapproved instructions reached the client: \(first.instructions ?? "")")
        #expect(first.names(0) == [], "tools before approval: \(first.names(0))")
        #expect(first.stderr.contains("mcpbox: pin: the server's instructions are not approved yet"), "\(first.stderr.suffix(1500))")

        let approved = try s.tools(["approve", "rug", "--all"])
        #expect(approved.status == 0, "\(approved.stdoutText) \(approved.stderr)")
        let second = try s.session("honest", ["list"], modern: true)
        #expect(second.error == nil, "\(second.error ?? "") \(second.stderr.suffix(1500))")
        #expect(second.instructions == "Greets people.", "approved instructions: \(second.instructions ?? "nil") \(second.stderr.suffix(1500))")
        #expect(second.names(0) == ["add", "flip", "greet"], "\(second.names(0))")
    }
}

extension MCPRedTeamTests {
    struct ModernReport: Decodable {
        var asked: [String]
        var text: String?
        var error: String?
        var code: Int?
        var stderr = ""
        enum CodingKeys: String, CodingKey { case asked, text, error, code }
    }

    /// `mcp_input_required.py VARIANT` under a profile with `client` (its `[client]` lines), called by
    /// the real Python SDK's high-level client at protocol 2026-07-28 (`mcp_modern_client.py`).
    static func modern(client: String, variant: String) throws -> ModernReport {
        let env = try E2EEnvironment(launch: .rootShippedProfile, shippedProfile: "time")
        defer { env.cleanUp() }
        let fixtures = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures").path
        let profile = try env.tmp.write("modern.toml", """
            extends = ["base"]
            [filesystem]
            read_only = [\(tomlString(fixtures))]
            [client]
            \(client)

            """)
        let config: [String: Any] = [
            "command": env.mcpbox, "tool": "ask", "env": E2EEnvironment.environment(venv: env.venv, home: env.tmp.path),
            "args": ["run", profile, "--profile-path", TestSupport.profilesDir, "--",
                     try TestSupport.systemPython(), fixtures + "/mcp_input_required.py", variant],
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
        let r = try runProcess([env.venv + "/bin/python", fixtures + "/mcp_modern_client.py", json],
                               environment: E2EEnvironment.environment(venv: env.venv, home: env.tmp.path), timeout: 180)
        guard !r.timedOut else { throw SupportError("the MCP client timed out; stderr: \(r.stderr.suffix(2000))") }
        do {
            var report = try JSONDecoder().decode(ModernReport.self, from: r.stdout)
            report.stderr = r.stderr
            return report
        } catch {
            throw SupportError("the MCP client exited \(r.status) without a report: \(r.stderr.suffix(2000)) \(r.stdoutText.prefix(500))")
        }
    }

    @Test("[client] sampling = false: an input-required result with a duplicate key where the scan does not look never hands the client a sampling request")
    func inputRequiredDuplicateKey() throws {
        // The control: the plain result is filtered (nothing left: the spec's -32021).
        let plain = try Self.modern(client: "sampling = false", variant: "input")
        #expect(plain.asked.isEmpty && plain.code == -32021, "\(plain) \(plain.stderr.suffix(1200))")
        let dup = try Self.modern(client: "sampling = false", variant: "dup-input")
        #expect(dup.asked.isEmpty, "the client was asked \(dup.asked) — stderr: \(dup.stderr.suffix(1200))")
        #expect(dup.text == nil && dup.code == -32603, "\(dup) \(dup.stderr.suffix(1200))")
        #expect(dup.stderr.contains("mcpbox: refused the server's answer"), "\(dup.stderr.suffix(1200))")
        // Gating off: the same answer reaches the client (what is refused above is the gate's doing).
        let open = try Self.modern(client: "sampling = true", variant: "dup-input")
        #expect(open.asked == ["sampling/createMessage"] && open.text == "answered: s", "\(open) \(open.stderr.suffix(1200))")
    }

    @Test("[client] elicitation = \"form\": a -32042 URL elicitation error with a duplicate key in its data is replaced like any other")
    func urlElicitationDuplicateKey() throws {
        let dup = try Self.modern(client: "elicitation = \"form\"", variant: "dup-url")
        #expect(dup.code == -32603, "the client got \(dup) — stderr: \(dup.stderr.suffix(1200))")
        #expect(dup.stderr.contains("replaced the server's URL elicitation required error"), "\(dup.stderr.suffix(1200))")
    }
}

extension MCPRedTeamTests {
    struct RawReport: Decodable {
        struct Response: Decodable {
            struct Result: Decodable {
                struct Block: Decodable { var text: String? }
                var content: [Block]?
                var isError: Bool?
            }
            var result: Result?
        }
        struct Reply: Decodable {
            struct Failure: Decodable { var code: Int }
            var error: Failure?
        }
        var asked: [String]
        var initialize: Reply?
        var response: Response?
        var stderr: String
        var text: String { response?.result?.content?.compactMap(\.text).joined(separator: "\n") ?? "" }
    }

    @Test("[tools] confirm: a call whose arguments hold a duplicate key deep inside (the user would be shown none) is refused, never asked about or forwarded")
    func confirmDuplicateKeyArguments() throws {
        let env = try E2EEnvironment(launch: .rootShippedProfile, shippedProfile: "time")
        defer { env.cleanUp() }
        let (profile, canary, fixtures) = try Self.canaryProfile(env, "confirm.toml", tools: #"confirm = ["git_commit"]"#)
        func run(_ call: String) throws -> RawReport {
            let config: [String: Any] = [
                "command": env.mcpbox, "answer": "accept", "call": call,
                "env": E2EEnvironment.environment(venv: env.venv, home: env.tmp.path),
                "args": ["run", profile, "--profile-path", TestSupport.profilesDir, "--",
                         try TestSupport.systemPython(), fixtures + "/mcp_nul_dispatch.py"],
            ]
            let json = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
            let r = try runProcess([try TestSupport.systemPython(), fixtures + "/mcp_raw_client.py", json], timeout: 180)
            guard !r.timedOut else { throw SupportError("the raw client timed out; stderr: \(r.stderr.suffix(2000))") }
            do {
                return try JSONDecoder().decode(RawReport.self, from: r.stdout)
            } catch {
                throw SupportError("the raw client exited \(r.status) without a report: \(r.stderr.suffix(2000)) \(r.stdoutText.prefix(500))")
            }
        }
        var ran: [String] {
            ((try? String(contentsOfFile: canary + "/calls.log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        // The control: the user is shown the arguments, accepts, and the call runs.
        let plain = try run(#"{"name":"git_commit","arguments":{"opts":{"force":true}}}"#)
        #expect(plain.asked.count == 1 && plain.asked.first?.contains(#""force":true"#) == true, "\(plain.asked) \(plain.stderr.suffix(800))")
        #expect(plain.text == "committed" && ran.count == 1, "\(plain.text) \(ran)")

        let dup = try run(#"{"name":"git_commit","arguments":{"opts":{"force":false,"force":true}}}"#)
        #expect(dup.asked.isEmpty, "the user was asked about arguments mcpbox could not read: \(dup.asked)")
        #expect(dup.response?.result?.isError == true && dup.text.contains("mcpbox refused this call"), "\(dup.text) \(dup.stderr.suffix(800))")
        #expect(ran.count == 1, "the call reached the server: \(ran)")
    }
}

extension MCPRedTeamTests {
    @Test("[client] sampling = false: an initialize whose capabilities mcpbox cannot parse (a duplicate key deep inside) is refused, never forwarded with sampling declared")
    func initializeDuplicateKey() throws {
        let env = try E2EEnvironment(launch: .rootShippedProfile, shippedProfile: "time")
        defer { env.cleanUp() }
        let fixtures = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures").path
        let profile = try env.tmp.write("gate.toml", """
            extends = ["base"]
            [filesystem]
            read_only = [\(tomlString(fixtures))]
            [client]
            sampling = false

            """)
        struct Asked: Decodable { var declared: [String] }
        func run(_ experimental: String) throws -> (RawReport, Asked?) {
            let initialize = #"{"protocolVersion":"2025-11-25","capabilities":{"sampling":{},"elicitation":{"form":{}},"experimental":"#
                + experimental + #"},"clientInfo":{"name":"raw","version":"1"}}"#
            let config: [String: Any] = [
                "command": env.mcpbox, "answer": "decline", "call": #"{"name":"ask","arguments":{}}"#, "initialize": initialize,
                "env": E2EEnvironment.environment(venv: env.venv, home: env.tmp.path),
                "args": ["run", profile, "--profile-path", TestSupport.profilesDir, "--",
                         try TestSupport.systemPython(), fixtures + "/mcp_asker.py"],
            ]
            let json = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
            let r = try runProcess([try TestSupport.systemPython(), fixtures + "/mcp_raw_client.py", json], timeout: 180)
            guard !r.timedOut else { throw SupportError("the raw client timed out; stderr: \(r.stderr.suffix(2000))") }
            let report: RawReport
            do {
                report = try JSONDecoder().decode(RawReport.self, from: r.stdout)
            } catch {
                throw SupportError("the raw client exited \(r.status) without a report: \(r.stderr.suffix(2000)) \(r.stdoutText.prefix(500))")
            }
            return (report, try? JSONDecoder().decode(Asked.self, from: Data(report.text.utf8)))
        }
        // The control: sampling is stripped from what the server sees.
        let (plain, plainAsked) = try run(#"{"x":{"a":1}}"#)
        #expect(plain.initialize?.error == nil && plainAsked?.declared == ["elicitation", "experimental"],
                "\(String(describing: plainAsked)) \(plain.stderr.suffix(800))")
        let (dup, dupAsked) = try run(#"{"x":{"a":1,"a":2}}"#)
        #expect(dup.initialize?.error?.code == -32700, "\(String(describing: dup.initialize)) \(dup.stderr.suffix(800))")
        #expect(dupAsked.map { !$0.declared.contains("sampling") } == true, "the server saw \(String(describing: dupAsked)) — \(dup.text)")
    }
}
