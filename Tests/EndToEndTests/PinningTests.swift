import Foundation
import MCPBoxTestSupport
import Testing

/// `[tools] pin` end to end: the real Python SDK client, `mcpbox run` (the built binary) and a
/// server of our own built on the SDK's low-level Server (Fixtures/mcp_rugpull.py) whose `greet`
/// changes its description: the rug pull.
@Suite("MCP layer: tool pinning with a real client", .enabled(if: TestSupport.isRoot, "runs sandboxes: run as root (CI does)"))
struct PinningTests {
    struct Report: Decodable {
        struct Tool: Decodable { var name: String; var description: String? }
        struct Step: Decodable {
            var list: [Tool]?
            var call: String?
            var is_error: Bool?
            var text: String?
            var code: Int?
        }
        var server: String?
        var instructions: String?
        var steps: [Step]
        var error: String?
        var elicitations: [String]
        /// The negotiated protocol version (the SDK's high-level client only).
        var `protocol`: String?
        var stderr = ""

        enum CodingKeys: String, CodingKey { case server, instructions, steps, error, elicitations, `protocol` }

        func names(_ step: Int) -> [String] { (steps.count > step ? steps[step].list ?? [] : []).map(\.name).sorted() }
    }

    /// A temp dir holding the profile `rug` (rewritten per case), the calls log and the state dir.
    final class Setup {
        let tmp: TempDir
        let venv: String
        let mcpbox: String
        let fixtures = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures").path
        let profiles: String
        let calls: String

        init() throws {
            venv = try TestSupport.venv()
            mcpbox = try TestSupport.mcpboxBinary()
            tmp = try TempDir(prefix: "mcpbox-pins")
            profiles = try tmp.makeDir("profiles")
            // The server runs as another account (nobody, when root starts mcpbox without [user]).
            calls = try tmp.makeDir("calls", mode: 0o777)
        }

        deinit { tmp.remove() }

        var environment: [String: String] {
            ["PATH": "\(venv)/bin:/usr/local/bin:/usr/bin:/bin", "HOME": tmp.path, "LANG": "C.UTF-8"]
        }

        var pinFile: String { tmp.path + "/.local/state/mcpbox/pins/rug.json" }

        func profile(_ tools: String) throws {
            _ = try tmp.write("profiles/rug.toml", """
                description = "a server whose greet tool changes"
                extends = ["python"]
                [filesystem]
                read_only = [\(tomlString(fixtures))]
                read_write = [\(tomlString(calls))]
                [env]
                set = { RUGPULL_CALLS = \(tomlString(calls + "/calls.log")) }
                [tools]
                \(tools)

                """)
        }

        var selection: [String] { ["--profile-path", profiles, "--profile-path", TestSupport.profilesDir] }

        func session(_ variant: String, _ steps: [Any], elicit: String? = nil, modern: Bool = false) throws -> Report {
            let config: [String: Any] = [
                "modern": modern,
                "command": mcpbox, "timeout": 120, "env": environment, "steps": steps, "elicit": elicit ?? NSNull(),
                "args": ["run", "rug"] + selection + ["--", venv + "/bin/python", fixtures + "/mcp_rugpull.py", variant],
            ]
            let json = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
            let r = try runProcess([venv + "/bin/python", fixtures + "/mcp_pin_client.py", json], environment: environment, timeout: 180)
            guard !r.timedOut else { throw SupportError("the MCP client timed out; stderr: \(r.stderr.suffix(2000))") }
            do {
                var report = try JSONDecoder().decode(Report.self, from: r.stdout)
                report.stderr = r.stderr
                return report
            } catch {
                throw SupportError("the MCP client exited \(r.status) without a report: \(r.stderr.suffix(2000)) \(r.stdoutText.prefix(500))")
            }
        }

        func tools(_ args: [String], stdin: String = "") throws -> ProcessResult {
            try runProcess([mcpbox, "tools"] + args + selection, environment: environment, stdin: Data(stdin.utf8))
        }

        /// The tools/call requests that reached the server, in order.
        var serverCalls: [String] {
            ((try? String(contentsOfFile: calls + "/calls.log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
    }

    static var greet: [String: Any] { ["call": "greet", "arguments": ["who": "pinned"]] }

    @Test("block: nothing before approve; approved tools work; a rug pull after list_changed is hidden and its call refused, never reaching the server; warn passes it with a warning")
    func rugPull() throws {
        let s = try Setup()
        try s.profile("pin = \"block\"")

        // First run: no pins, nothing exposed, instructions withheld, the call refused.
        let first = try s.session("honest", ["list", Self.greet])
        #expect(first.error == nil, "\(first.error ?? "") \(first.stderr.suffix(1500))")
        #expect(first.server == "mcp-rugpull")
        #expect(first.names(0) == [], "tools before approval: \(first.names(0))")
        #expect(first.instructions == nil)
        #expect(first.steps.count == 2 && first.steps[1].code == -32602, "\(first.steps)")
        #expect(first.stderr.contains("mcpbox tools approve rug"), "stderr: \(first.stderr.suffix(1500))")
        #expect(s.serverCalls.isEmpty, "a refused call reached the server: \(s.serverCalls)")

        let listed = try s.tools(["list", "rug"])
        #expect(listed.status == 0 && listed.stdoutText.contains("greet") && listed.stdoutText.contains("new"), "\(listed.stdoutText) \(listed.stderr)")
        // Interactive approve: "n" for everything keeps everything pending.
        let declined = try s.tools(["approve", "rug"], stdin: "n\nn\nn\nn\n")
        #expect(declined.status == 0 && declined.stdoutText.contains("approved 0 definition(s)"), "\(declined.stdoutText) \(declined.stderr)")
        #expect(declined.stdoutText.contains("Says hello to someone."), "approve shows each definition: \(declined.stdoutText)")
        let approved = try s.tools(["approve", "rug", "--all"])
        #expect(approved.status == 0 && approved.stdoutText.contains("approved 4 definition(s)"), "\(approved.stdoutText) \(approved.stderr)")
        let attributes = try FileManager.default.attributesOfItem(atPath: s.pinFile)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        // Approved: exposed and callable; then flip changes greet and sends list_changed.
        let second = try s.session("honest", ["list", Self.greet, ["call": "flip"], "list", Self.greet, ["call": "add", "arguments": ["a": 2, "b": 3]]])
        #expect(second.error == nil, "\(second.error ?? "") \(second.stderr.suffix(1500))")
        #expect(second.instructions == "Greets people.")
        #expect(second.names(0) == ["add", "flip", "greet"], "\(second.names(0))")
        try #require(second.steps.count == 6, "\(second.steps)")
        #expect(second.steps[1].is_error == false && second.steps[1].text == "hello pinned", "\(second.steps[1])")
        #expect(second.names(3) == ["add", "flip"], "greet's changed definition must be hidden: \(second.names(3))")
        #expect(second.steps[4].code == -32602 && second.steps[4].text?.contains("Unknown tool: greet") == true, "\(second.steps[4])")
        #expect(second.steps[5].text == "5", "\(second.steps[5])")
        #expect(s.serverCalls == ["greet", "flip", "add"], "only the approved greet may reach the server: \(s.serverCalls)")
        #expect(second.stderr.contains("\"greet\": changed"), "stderr: \(second.stderr.suffix(1500))")

        let diff = try s.tools(["diff", "rug"])
        #expect(diff.status == 0, "\(diff.stderr)")
        #expect(diff.stdoutText.contains("-  \"description\": \"Says hello to someone.\""), "\(diff.stdoutText)")
        #expect(diff.stdoutText.contains("+  \"description\": \"Says hello. <IMPORTANT>"), "\(diff.stdoutText)")
        let state = try s.tools(["list", "rug"])
        #expect(state.stdoutText.contains("changed"), "\(state.stdoutText)")

        // A server that starts changed: hidden from the first list.
        let third = try s.session("rugpull", ["list", Self.greet])
        #expect(third.names(0) == ["add", "flip"], "\(third.names(0))")
        #expect(third.steps.count == 2 && third.steps[1].code == -32602, "\(third.steps)")
        #expect(s.serverCalls == ["greet", "flip", "add"], "\(s.serverCalls)")

        // warn: passed, with a warning on stderr.
        try s.profile("pin = \"warn\"")
        let warned = try s.session("rugpull", ["list", Self.greet])
        #expect(warned.error == nil, "\(warned.error ?? "")")
        #expect(warned.names(0) == ["add", "flip", "greet"], "\(warned.names(0))")
        #expect(warned.steps.count == 2 && warned.steps[1].is_error == false, "\(warned.steps)")
        #expect(warned.stderr.contains("passed (pin = \"warn\")") && warned.stderr.contains("warning: tools/call \"greet\""),
                "stderr: \(warned.stderr.suffix(1500))")
        #expect(s.serverCalls.last == "greet")

        let reset = try s.tools(["reset", "rug"])
        #expect(reset.status == 0 && !FileManager.default.fileExists(atPath: s.pinFile), "\(reset.stdoutText) \(reset.stderr)")
    }

    @Test("pin_first_use pins the first session; two tools named greet are both hidden and greet is refused")
    func duplicateNameAndFirstUse() throws {
        let s = try Setup()
        try s.profile("pin = \"block\"\npin_first_use = true")
        let honest = try s.session("honest", ["list"])
        #expect(honest.names(0) == ["add", "flip", "greet"], "first use: \(honest.names(0)) \(honest.stderr.suffix(800))")
        #expect(FileManager.default.fileExists(atPath: s.pinFile))

        let dup = try s.session("duplicate", ["list", Self.greet])
        #expect(dup.error == nil, "\(dup.error ?? "")")
        #expect(dup.names(0) == ["add", "flip"], "a duplicated name must be hidden: \(dup.names(0))")
        #expect(dup.steps.count == 2 && dup.steps[1].code == -32602, "\(dup.steps)")
        #expect(dup.stderr.contains("\"greet\": duplicate"), "stderr: \(dup.stderr.suffix(1500))")
        #expect(s.serverCalls.isEmpty, "\(s.serverCalls)")
        let approve = try s.tools(["approve", "rug", "--all"])
        #expect(approve.stderr.contains("listed twice"), "\(approve.stderr)")
    }

    @Test("confirm: the user's accept (through the client's elicitation) runs the call; decline, or a client without elicitation, gets a tool error and the server never sees the call")
    func confirm() throws {
        let s = try Setup()
        try s.profile("confirm = [\"gre*\"]")
        let add: [String: Any] = ["call": "add", "arguments": ["a": 1, "b": 1]]

        let accepted = try s.session("honest", [Self.greet, add], elicit: "accept")
        #expect(accepted.error == nil, "\(accepted.error ?? "") \(accepted.stderr.suffix(1500))")
        try #require(accepted.steps.count == 2, "\(accepted.steps)")
        #expect(accepted.steps[0].is_error == false && accepted.steps[0].text == "hello pinned", "\(accepted.steps[0]) \(accepted.stderr.suffix(1000))")
        #expect(accepted.elicitations.count == 1 && accepted.elicitations[0].contains("\"greet\"") && accepted.elicitations[0].contains("pinned"),
                "the user is shown the tool and its arguments: \(accepted.elicitations)")
        #expect(accepted.steps[1].text == "2", "add needs no confirmation: \(accepted.steps[1])")
        #expect(s.serverCalls == ["greet", "add"], "\(s.serverCalls)")

        let declined = try s.session("honest", [Self.greet], elicit: "decline")
        #expect(declined.steps.count == 1 && declined.steps[0].is_error == true && declined.steps[0].text?.contains("declined") == true,
                "\(declined.steps) \(declined.stderr.suffix(1000))")
        #expect(declined.elicitations.count == 1)

        let unable = try s.session("honest", [Self.greet])
        #expect(unable.steps.count == 1 && unable.steps[0].is_error == true && unable.steps[0].text?.contains("did not declare the elicitation") == true,
                "\(unable.steps)")
        #expect(s.serverCalls == ["greet", "add"], "a refused call reached the server: \(s.serverCalls)")
    }
}
