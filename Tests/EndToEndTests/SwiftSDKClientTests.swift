import Foundation
import MCPBoxTestSupport
import Testing

/// An MCP client built with the official Swift SDK (modelcontextprotocol/swift-sdk 0.12.1, the
/// separate package in Tests/SwiftSDKClient) drives mcp-server-time through `mcpbox run time`,
/// and mcp-server-git under a read-only tool allow-list.
@Suite("Swift SDK client through mcpbox", .enabled(if: TestSupport.isRoot, "end-to-end runs of the shipped profiles need root (CI runs as root)"))
struct SwiftSDKClientTests {
    /// A scripted call's outcome (SDK_CLIENT_CALLS): a tool result, or a JSON-RPC error's code and message.
    struct Call: Decodable {
        var tool: String
        var isError: Bool
        var text: String
        var code: Int?
    }

    /// The report line printed by `mcp-sdk-client` (Tests/SwiftSDKClient).
    struct Report: Decodable {
        var ok: Bool
        var step: String?
        var error: String?
        var serverName: String?
        var protocolVersion: String?
        var tools: [String]
        var callText: String?
        var callIsError: Bool?
        var calls: [Call]?
        var mcpboxStatus: Int32?
        var exitSeconds: Double?
        var trailingStdoutBytes: Int?
        var mcpboxStderr: String
    }

    /// Builds the SDK client package in its own scratch directory and returns the executable's path.
    static func buildClient() throws -> String {
        let root = TestSupport.packageRoot.path
        let args = ["/usr/bin/env", "swift", "build", "--package-path", root + "/Tests/SwiftSDKClient",
                    "--scratch-path", root + "/.build-sdkclient", "--product", "mcp-sdk-client"]
        let build = try runProcess(args, timeout: 1800)
        guard !build.timedOut, build.status == 0 else {
            throw SupportError("building Tests/SwiftSDKClient failed (exit \(build.status)\(build.timedOut ? ", timed out after 1800 s" : "")): "
                + "\(args.joined(separator: " "))\n\(build.stdoutText.suffix(3000))\n\(build.stderr.suffix(3000))")
        }
        let binPath = try runProcess(args + ["--show-bin-path"], timeout: 300)
        let dir = binPath.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        let client = dir + "/mcp-sdk-client"
        guard binPath.status == 0, FileManager.default.isExecutableFile(atPath: client) else {
            throw SupportError("no mcp-sdk-client after the build (bin path `\(dir)`): \(binPath.stderr)")
        }
        return client
    }

    /// Runs the SDK client against `mcpbox run ARGS`; nil (with an issue recorded) without a report.
    static func session(_ client: String, _ args: [String], environment: [String: String], currentDirectory: String) throws -> (status: Int32, report: Report)? {
        let r = try runProcess([client] + args, environment: environment, currentDirectory: currentDirectory, timeout: 600)
        try #require(!r.timedOut, "mcp-sdk-client overran 600 s: \(r.stderr.suffix(2000))")
        do {
            return (r.status, try JSONDecoder().decode(Report.self, from: r.stdout))
        } catch {
            Issue.record("mcp-sdk-client exited \(r.status) without a JSON report: stdout \(r.stdoutText.prefix(1000)) stderr \(r.stderr.suffix(2000))")
            return nil
        }
    }

    @Test("initialize, list tools, call get_current_time, close stdin: mcpbox exits 0 on its own",
          .timeLimit(.minutes(40)))
    func timeServer() throws {
        let mcpbox = try TestSupport.mcpboxBinary()
        let venv = try TestSupport.venv()
        let client = try Self.buildClient()
        let home = try TempDir(prefix: "mcpbox-sdkclient")
        defer { home.remove() }

        let env = ["PATH": "\(venv)/bin:/usr/local/bin:/usr/bin:/bin", "HOME": home.path, "LANG": "C.UTF-8",
                   "SDK_CLIENT_STEP_TIMEOUT": "90"]
        let argv = [client, mcpbox, "time", "--profile-path", TestSupport.profilesDir, "--", venv + "/bin/mcp-server-time"]
        let r = try runProcess(argv, environment: env, currentDirectory: home.path, timeout: 600)
        try #require(!r.timedOut, "mcp-sdk-client overran 600 s: \(r.stderr.suffix(2000))")
        let report: Report
        do {
            report = try JSONDecoder().decode(Report.self, from: r.stdout)
        } catch {
            Issue.record("mcp-sdk-client exited \(r.status) without a JSON report: stdout \(r.stdoutText.prefix(1000)) stderr \(r.stderr.suffix(2000))")
            return
        }
        let context = "step \(report.step ?? "-"): \(report.error ?? "-"); mcpbox stderr: \(report.mcpboxStderr)"
        #expect(r.status == 0 && report.ok, "the Swift SDK session failed (client exit \(r.status)), \(context)")
        #expect(report.serverName == "mcp-time", "serverInfo.name: \(report.serverName ?? "nil")")
        #expect(report.protocolVersion?.isEmpty == false, "no protocolVersion negotiated")
        #expect(report.tools.contains("get_current_time") && report.tools.contains("convert_time"), "tools: \(report.tools)")

        let text = report.callText ?? ""
        #expect(report.callIsError == false, "get_current_time isError=\(String(describing: report.callIsError)): \(text)")
        #expect(text.contains("\"timezone\": \"UTC\"") && text.contains("+00:00"), "get_current_time UTC: \(text)")
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        #expect(text.contains("\"datetime\": \"\(year)") || text.contains("\"datetime\": \"\(year + 1)"),
                "get_current_time returned an implausible date: \(text)")

        // The end of the session: stdin closed, then mcpbox exits 0 by itself, promptly, adding nothing to stdout.
        #expect(report.mcpboxStatus == 0, "mcpbox exit status after stdin closed: \(String(describing: report.mcpboxStatus)), \(context)")
        #expect((report.exitSeconds ?? .infinity) < 30, "mcpbox took \(String(describing: report.exitSeconds)) s to exit after stdin closed")
        #expect(report.trailingStdoutBytes == 0, "stdout after the session closed: \(String(describing: report.trailingStdoutBytes)) bytes")
        // Only the warning explain shows too (root without [user] runs the server as nobody), printed once at launch.
        let complaints = report.mcpboxStderr.split(separator: "\n").filter { $0.contains("mcpbox:") }
        #expect(complaints.allSatisfy { $0.hasPrefix("mcpbox: warning: identity: the server runs as the shared `nobody` account") } && complaints.count <= 1,
                "mcpbox complained on stderr: \(report.mcpboxStderr)")
    }

    @Test("mcp-server-git under a read-only allow-list: status, log and diff work; git_commit, git_add and git_reset get -32602 from mcpbox, audited as denied, and the repository proves they never reached the server",
          .timeLimit(.minutes(40)))
    func gitReadOnlyAllowList() throws {
        let client = try Self.buildClient()
        let env = try E2EEnvironment(launch: .rootShippedProfile, shippedProfile: "git")
        defer { env.cleanUp() }
        let repos = try env.makeRepositories()
        let log = env.tmp.sub("state/audit/git-read-only.jsonl")
        let profile = try env.tmp.write("git-read-only.toml", """
            description = "mcp-server-git, read-only tools"
            extends = ["git"]

            [tools]
            allow = ["git_status", "git_log", "git_diff*", "git_show"]
            deny = ["*commit*"]

            [audit]
            log = "\(log)"

            """)
        let git = ["/usr/bin/git", "-C", repos.repo]
        // Staged on the host: a git_commit that reached the server would record it, a git_reset unstage it.
        let staged = try runProcess(git + ["add", "new-file.txt"])
        try #require(staged.status == 0, "git add: \(staged.stderr)")
        let state = { () throws -> [String] in
            try [["rev-parse", "HEAD"], ["rev-list", "--all", "--count"], ["ls-files", "--stage"], ["diff", "--cached", "--name-status"]]
                .map { try runProcess(git + $0).stdoutText }
        }
        let before = try state()
        #expect(before[3] == "A\tnew-file.txt\n", "staged before the session: \(before[3])")

        let calls: [[String: Any]] = [
            ["tool": "git_status", "arguments": ["repo_path": repos.repo]],
            ["tool": "git_log", "arguments": ["repo_path": repos.repo]],
            ["tool": "git_diff_staged", "arguments": ["repo_path": repos.repo]],
            ["tool": "git_commit", "arguments": ["repo_path": repos.repo, "message": "must not happen \(env.token)"]],
            ["tool": "git_add", "arguments": ["repo_path": repos.repo, "files": ["README"]]],
            ["tool": "git_reset", "arguments": ["repo_path": repos.repo]],
        ]
        var environment = E2EEnvironment.environment(venv: env.venv, home: env.tmp.path)
        environment["SDK_CLIENT_STEP_TIMEOUT"] = "90"
        environment["SDK_CLIENT_CALLS"] = String(decoding: try JSONSerialization.data(withJSONObject: calls), as: UTF8.self)
        // As client configs write it: the repository comes from the server's own --repository.
        let args = [env.mcpbox, profile, "--profile-path", TestSupport.profilesDir, "--",
                    env.venv + "/bin/mcp-server-git", "--repository", repos.repo]
        guard let session = try Self.session(client, args, environment: environment, currentDirectory: env.tmp.path) else { return }
        let (status, report) = session
        let context = "step \(report.step ?? "-"): \(report.error ?? "-"); mcpbox stderr: \(report.mcpboxStderr)"
        #expect(status == 0 && report.ok && report.mcpboxStatus == 0, "the Swift SDK session failed (client exit \(status)), \(context)")
        #expect(report.serverName == "mcp-git", "serverInfo.name: \(report.serverName ?? "nil")")
        #expect(report.tools.sorted() == ["git_diff", "git_diff_staged", "git_diff_unstaged", "git_log", "git_show", "git_status"],
                "tools/list must show only the allowed tools: \(report.tools)")

        let results = report.calls ?? []
        try #require(results.count == calls.count, "calls: \(results), \(context)")
        #expect(!results[0].isError && results[0].text.contains("new-file.txt"), "git_status: \(results[0])")
        #expect(!results[1].isError && results[1].text.contains("initial commit \(env.token)"), "git_log: \(results[1])")
        #expect(!results[2].isError && results[2].text.contains("new-file.txt"), "git_diff_staged: \(results[2])")
        for (i, name) in [(3, "git_commit"), (4, "git_add"), (5, "git_reset")] {
            #expect(results[i].code == -32602 && results[i].text == "Unknown tool: \(name)",
                    "\(name) must be refused by mcpbox with -32602 \"Unknown tool: \(name)\": \(results[i])")
        }

        // The repository: no new commit on any ref, the index as it was, the file still staged.
        let after = try state()
        #expect(after[0] == before[0], "HEAD moved: a refused git_commit reached the server")
        #expect(after[1] == before[1], "commit count \(before[1]) -> \(after[1])")
        #expect(after[2] == before[2], "the index changed: \(before[2]) -> \(after[2])")
        #expect(after[3] == "A\tnew-file.txt\n", "new-file.txt must still be staged: \(after[3])")
        let subjects = try runProcess(git + ["log", "--all", "--format=%s"]).stdoutText
        #expect(!subjects.contains("must not happen"), "host git log: \(subjects)")

        // The audit log: the allowed calls answered by the server, the refused ones denied by mcpbox with their rule.
        let records = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let toolCalls = records.filter { $0["kind"] as? String == "mcp.request" && $0["method"] as? String == "tools/call" }
        func record(_ tool: String) -> [String: Any]? { toolCalls.first { $0["tool"] as? String == tool } }
        #expect(toolCalls.count == calls.count, "one record per call: \(toolCalls)")
        for name in ["git_status", "git_log", "git_diff_staged"] {
            #expect(record(name)?["outcome"] as? String == "ok" && record(name)?["duration_us"] is Int, "\(name): \(String(describing: record(name)))")
        }
        let commit = record("git_commit")
        #expect(commit?["outcome"] as? String == "denied" && commit?["rule"] as? String == "[tools] deny \"*commit*\""
                && commit?["duration_us"] is NSNull, "git_commit: \(String(describing: commit))")
        for name in ["git_add", "git_reset"] {
            #expect(record(name)?["outcome"] as? String == "denied" && record(name)?["rule"] as? String == "[tools] not in allow",
                    "\(name): \(String(describing: record(name)))")
        }
        let initialize = records.first { $0["method"] as? String == "initialize" }
        #expect(initialize?["client_name"] as? String == "mcpbox-swift-sdk-test", "initialize: \(String(describing: initialize))")
        let verify = try runProcess([env.mcpbox, "audit", "verify", log])
        #expect(verify.status == 0, "\(verify.stdoutText) \(verify.stderr)")
    }
}

