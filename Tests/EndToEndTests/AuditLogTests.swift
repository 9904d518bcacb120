import Foundation
import MCPBoxTestSupport
import Testing

/// `[audit]` (issue 9) with a real client and a real server: the Python SDK client drives
/// mcp-server-git through `mcpbox run`; the records, the chain and `mcpbox audit verify|tail`.
@Suite("Audit log with real clients and servers", .enabled(if: TestSupport.isRoot, "mounts a small tmpfs and runs the shipped git profile: run as root (CI does)"))
struct AuditLogTests {
    func records(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test("mcp-server-git with [audit]: initialize, tools/list, tools/call (tool, argument keys), a denied call with its rule; verify passes, a changed byte fails it")
    func recordsAndChain() throws {
        let env = try E2EEnvironment(launch: .rootShippedProfile, shippedProfile: "git")
        defer { env.cleanUp() }
        let repos = try env.makeRepositories()
        let log = env.tmp.sub("state/audit/git.jsonl")
        let profile = try env.tmp.write("git-audited.toml", """
            extends = ["git"]

            [tools]
            deny = ["*commit*"]

            [audit]
            log = "\(log)"
            payloads = "redacted"

            """)
        let out = try env.runClient(args: ["run", profile, "--profile-path", TestSupport.profilesDir, "--set", "repo=\(repos.repo)"], calls: [
            ["tool": "git_status", "arguments": ["repo_path": repos.repo]],
            ["tool": "git_commit", "arguments": ["repo_path": repos.repo, "message": "refused \(env.token)"]],
        ])
        out.expectCleanSession(server: "mcp-git")
        try #require(out.calls.count == 2)
        #expect(out.calls[1].code == -32602, "git_commit: \(out.calls[1])")

        var st = stat()
        #expect(stat(log, &st) == 0 && st.st_mode & 0o777 == 0o600 && st.st_uid == getuid(), "the log: mode 0600, the invoking user's")
        #expect(stat(env.tmp.sub("state/audit"), &st) == 0 && st.st_mode & 0o777 == 0o700, "parent directories are created 0700")
        let r = try records(log)
        let kinds = r.map { $0["kind"] as? String ?? "" }
        #expect(kinds.first == "session.start" && kinds.last == "session.end", "\(kinds)")
        let hash = try #require(r.first?["profile_hash"] as? String)
        #expect(hash.count == 64 && r.allSatisfy { $0["profile_hash"] as? String == hash && $0["prev"] is String })
        let requests = r.filter { $0["kind"] as? String == "mcp.request" }
        let ini = try #require(requests.first { $0["method"] as? String == "initialize" })
        #expect(ini["server_name"] as? String == "mcp-git" && ini["client_name"] is String && ini["protocol_version"] is String
                && ini["server_capabilities"] is [String: Any] && ini["outcome"] as? String == "ok", "\(ini)")
        #expect(requests.contains { $0["method"] as? String == "tools/list" && $0["outcome"] as? String == "ok" })
        let status = try #require(requests.first { $0["tool"] as? String == "git_status" })
        #expect(status["method"] as? String == "tools/call" && status["argument_keys"] as? [String] == ["repo_path"]
                && status["outcome"] as? String == "ok" && status["direction"] as? String == "client_to_server"
                && status["duration_us"] is Int && (status["response_bytes"] as? Int ?? 0) > 0, "\(status)")
        let commit = try #require(requests.first { $0["tool"] as? String == "git_commit" })
        #expect(commit["outcome"] as? String == "denied" && commit["rule"] as? String == "[tools] deny \"*commit*\""
                && Set(commit["argument_keys"] as? [String] ?? []) == ["repo_path", "message"], "\(commit)")  // in the order sent: the test's dictionary has none
        #expect(r.contains { $0["kind"] as? String == "mcp.notification" && $0["method"] as? String == "notifications/initialized" })
        #expect(r.last?["exit_status"] as? Int == 0)

        let ok = try runProcess([env.mcpbox, "audit", "verify", log])
        #expect(ok.status == 0 && ok.stdoutText.contains("hash chain intact"), "\(ok.stdoutText) \(ok.stderr)")
        let tail = try runProcess([env.mcpbox, "audit", "tail", log, "-n", "50"])
        #expect(tail.status == 0 && tail.stdoutText.contains("tools/call") && tail.stdoutText.contains("tool=git_commit")
                && tail.stdoutText.contains("denied ([tools] deny \"*commit*\")"), "\(tail.stdoutText)")

        // One changed byte in a record (the denied call's tool name) breaks the chain at the next line.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: log))
        let text = String(decoding: bytes, as: UTF8.self)
        let at = try #require(text.range(of: "\"tool\":\"git_commit\"")).upperBound
        let offset = text.utf8.distance(from: text.startIndex, to: at) - 2
        bytes[offset] = UInt8(ascii: "X")
        try bytes.write(to: URL(fileURLWithPath: log))
        let lineOfChange = text.prefix(upTo: at).filter { $0 == "\n" }.count + 1
        let broken = try runProcess([env.mcpbox, "audit", "verify", log])
        #expect(broken.status == 1 && broken.stderr.contains("line \(lineOfChange + 1)"), "\(broken.stderr)")
    }

    @Test("a log that cannot be opened: the server does not start (exit 125); with required = false it runs after one warning")
    func cannotOpen() throws {
        let env = try E2EEnvironment(launch: .rootShippedProfile, shippedProfile: "git")
        defer { env.cleanUp() }
        let repos = try env.makeRepositories()
        let log = env.tmp.sub("audit.jsonl")
        try FileManager.default.createSymbolicLink(atPath: log, withDestinationPath: env.tmp.sub("elsewhere"))
        for required in [true, false] {
            let profile = try env.tmp.write("git-\(required).toml", """
                extends = ["git"]
                [audit]
                log = "\(log)"
                required = \(required)

                """)
            let out = try env.runClient(args: ["run", profile, "--profile-path", TestSupport.profilesDir, "--set", "repo=\(repos.repo)"], calls: [
                ["tool": "git_status", "arguments": ["repo_path": repos.repo]],
            ])
            if required {
                #expect(out.returncode == 125 && out.stderr.contains("audit log \(log) is a symlink"),
                        "\(out.stderr.suffix(800))")
            } else {
                out.expectCleanSession(server: "mcp-git")
                #expect(out.stderr.components(separatedBy: "the session runs unlogged").count == 2, "one warning: \(out.stderr.suffix(800))")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: env.tmp.sub("elsewhere")), "the symlink was not followed")
    }

    @Test("the filesystem fills mid-session: mcpbox ends the session with exit 125 and says why; the log left behind still verifies")
    func fullMidSession() throws {
        let env = try E2EEnvironment(launch: .rootShippedProfile, shippedProfile: "git")
        defer { env.cleanUp() }
        let repos = try env.makeRepositories()
        let mount = try env.tmp.makeDir("small")
        let m = try runProcess(["/bin/mount", "-t", "tmpfs", "-o", "size=12k,mode=0700", "tmpfs", mount])
        try #require(m.status == 0, "mount: \(m.stderr)")
        defer { _ = try? runProcess(["/bin/umount", mount]) }
        let log = mount + "/audit.jsonl"
        let profile = try env.tmp.write("git-full.toml", """
            extends = ["git"]
            [audit]
            log = "\(log)"
            payloads = "full"

            """)
        let calls: [[String: Any]] = (0..<12).map { _ in ["tool": "git_log", "arguments": ["repo_path": repos.repo]] }
        let out = try env.runClient(args: ["run", profile, "--profile-path", TestSupport.profilesDir, "--set", "repo=\(repos.repo)"], calls: calls)
        #expect(out.returncode == 125, "exit \(String(describing: out.returncode)): \(out.stderr.suffix(800))")
        #expect(out.stderr.contains("audit log: cannot write") && out.stderr.contains("session ended"), "\(out.stderr.suffix(800))")
        // A record is written right after the answer completing its exchange is passed on: at
        // most that one answer reached the client unlogged, and nothing after it.
        let logged = (try String(contentsOfFile: log, encoding: .utf8)).split(separator: "\n")
            .filter { $0.contains(#""method":"tools/call""#) }.count
        let answered = out.calls.filter { !$0.isError && $0.code == nil }.count
        #expect(answered <= logged + 1, "\(answered) answers, \(logged) records: \(out.calls)")
        let verify = try runProcess([env.mcpbox, "audit", "verify", log])
        #expect(verify.status == 0, "no partial line is left: \(verify.stderr)")
    }
}
