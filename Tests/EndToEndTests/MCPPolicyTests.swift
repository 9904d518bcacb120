import Foundation
import MCPBoxTestSupport
import Testing

/// The MCP layer (issue 9) with a real client and a real server: the Python SDK client drives
/// mcp-server-git through `mcpbox run` under a read-only tool allow-list.
@Suite("MCP layer: tool policy with real clients and servers", .enabled(if: TestSupport.isRoot, "creates throwaway accounts: run as root (CI does)"))
struct MCPPolicyTests {
    @Test("mcp-server-git under a read-only allow-list: status and log work, git_commit and git_add are refused with -32602 and never reach the server")
    func gitReadOnlyAllowList() throws {
        let env = try E2EEnvironment(launch: .rootShippedProfile, shippedProfile: "git")
        defer { env.cleanUp() }
        let repos = try env.makeRepositories()
        let profile = try env.tmp.write("git-read-only.toml", """
            description = "mcp-server-git, read-only tools"
            extends = ["git"]

            [tools]
            allow = ["git_status", "git_log*", "git_add"]
            deny = ["*commit*", "git_add"]

            """)
        // Staged on the host: a commit that reached the server would record it.
        let staged = try runProcess(["/usr/bin/git", "-C", repos.repo, "add", "new-file.txt"])
        try #require(staged.status == 0, "git add: \(staged.stderr)")
        let before = try runProcess(["/usr/bin/git", "-C", repos.repo, "rev-parse", "HEAD"]).stdoutText

        let out = try env.runClient(args: ["run", profile, "--profile-path", TestSupport.profilesDir, "--set", "repo=\(repos.repo)"], calls: [
            ["tool": "git_status", "arguments": ["repo_path": repos.repo]],
            ["tool": "git_log", "arguments": ["repo_path": repos.repo]],
            ["tool": "git_commit", "arguments": ["repo_path": repos.repo, "message": "must not happen \(env.token)"]],
            ["tool": "git_add", "arguments": ["repo_path": repos.repo, "files": ["README"]]],
            ["tool": "no_such_tool", "arguments": [:]],
        ])
        out.expectCleanSession(server: "mcp-git")
        #expect(out.tools == ["git_log", "git_status"], "tools/list must show only the allowed tools: \(out.tools)")
        try #require(out.calls.count == 5, "calls: \(out.calls)")
        #expect(!out.calls[0].isError && out.calls[0].text.contains("new-file.txt"), "git_status: \(out.calls[0])")
        #expect(!out.calls[1].isError && out.calls[1].text.contains("initial commit \(env.token)"), "git_log: \(out.calls[1])")
        #expect(out.calls[2].isError && out.calls[2].code == -32602 && out.calls[2].text.contains("Unknown tool: git_commit"),
                "git_commit must be refused by mcpbox with -32602: \(out.calls[2])")
        #expect(out.calls[3].isError && out.calls[3].code == -32602 && out.calls[3].text.contains("Unknown tool: git_add"),
                "deny wins over allow: \(out.calls[3])")
        // What the server says of a tool that does not exist, for comparison: not mcpbox's doing.
        #expect(out.calls[4].isError, "no_such_tool: \(out.calls[4])")
        // The user reading mcpbox's stderr learns of each refusal, once per tool, with the rule.
        let told = out.stderr.split(separator: "\n").filter { $0.hasPrefix("mcpbox: refused tools/call ") }
        #expect(told.contains { $0.hasPrefix("mcpbox: refused tools/call \"git_commit\" ([tools] deny \"*commit*\")") }
                && told.contains { $0.hasPrefix("mcpbox: refused tools/call \"git_add\" ([tools] deny \"git_add\")") }
                && told.contains { $0.hasPrefix("mcpbox: refused tools/call \"no_such_tool\" ([tools] not in allow)") }
                && told.count == 3, "\(told)")

        // The repository proves the refused calls never reached the server: no new commit, the
        // staged file still staged, README not re-added.
        let after = try runProcess(["/usr/bin/git", "-C", repos.repo, "rev-parse", "HEAD"]).stdoutText
        #expect(after == before, "HEAD moved: a refused git_commit reached the server")
        let log = try runProcess(["/usr/bin/git", "-C", repos.repo, "log", "--format=%s"]).stdoutText
        #expect(!log.contains("must not happen"), "host git log: \(log)")
        let status = try runProcess(["/usr/bin/git", "-C", repos.repo, "status", "--porcelain"]).stdoutText
        #expect(status.contains("A  new-file.txt"), "the staged file should still be staged: \(status)")
    }

    @Test("the same server without MCP keys: every tool listed, git_commit reaches it (the control)")
    func gitWithoutPolicyListsEverything() throws {
        let env = try E2EEnvironment(launch: .rootShippedProfile, shippedProfile: "git")
        defer { env.cleanUp() }
        let repos = try env.makeRepositories()
        let out = try env.runClient(args: ["run", "git", "--profile-path", TestSupport.profilesDir, "--set", "repo=\(repos.repo)"], calls: [])
        out.expectCleanSession(server: "mcp-git")
        #expect(out.tools.contains("git_commit") && out.tools.contains("git_add") && out.tools.count > 2, "tools: \(out.tools)")
    }

    @Test("an empty allow exposes no tool at all")
    func emptyAllowMeansNoTools() throws {
        let env = try E2EEnvironment(launch: .rootShippedProfile, shippedProfile: "git")
        defer { env.cleanUp() }
        let repos = try env.makeRepositories()
        let profile = try env.tmp.write("git-none.toml", """
            extends = ["git"]

            [tools]
            allow = []

            """)
        let out = try env.runClient(args: ["run", profile, "--profile-path", TestSupport.profilesDir, "--set", "repo=\(repos.repo)"], calls: [
            ["tool": "git_status", "arguments": ["repo_path": repos.repo]],
        ])
        out.expectCleanSession(server: "mcp-git")
        #expect(out.tools.isEmpty, "tools: \(out.tools)")
        #expect(out.calls.first?.code == -32602, "git_status: \(out.calls)")
    }
}
