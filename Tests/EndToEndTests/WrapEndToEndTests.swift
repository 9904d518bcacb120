import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `mcpbox wrap` on a Claude Desktop configuration, then the real Python SDK client reads the
/// wrapped file as a client does (command, args, env) and uses every server through mcpbox.
@Suite("wrap end to end: a wrapped configuration still works with a real client",
       .enabled(if: TestSupport.isRoot, "the servers run as nobody when root starts mcpbox: run as root (CI does)"))
struct WrapEndToEndTests {
    @Test("wrap --yes, then the Python SDK client starts and uses every wrapped server; unwrap restores the file byte for byte")
    func wrapThenUse() throws {
        let venv = try TestSupport.venv()
        let mcpbox = try TestSupport.mcpboxBinary()
        let tmp = try TempDir(prefix: "mcpbox-wrap-e2e")
        defer { tmp.remove() }
        let home = try tmp.makeDir("home")
        let repo = try tmp.makeDir("repo")
        let git = ["/usr/bin/git", "-c", "user.name=mcpbox test", "-c", "user.email=test@mcpbox.invalid", "-c", "init.defaultBranch=main"]
        _ = try tmp.write("repo/README", "hello\n")
        for step in [["init", "-q", repo], ["-C", repo, "add", "README"], ["-C", repo, "commit", "-q", "-m", "initial commit"]] {
            let r = try runProcess(git + step)
            try #require(r.status == 0, "git \(step): \(r.stderr)")
        }
        _ = try tmp.write("repo/untracked.txt", "new\n")

        // Absolute paths, as a user's Claude Desktop configuration names them; one server started
        // as `python -m`, so its profile is built from what wrap recognizes rather than extended.
        let config = try tmp.makeDir("home/.config/Claude") + "/claude_desktop_config.json"
        let original = """
            {
              "mcpServers": {
                "clock": {
                  "command": "\(venv)/bin/mcp-server-time",
                  "args": ["--local-timezone", "UTC"],
                  "env": {"TZ": "UTC"}
                },
                "project-git": {
                  "command": "\(venv)/bin/mcp-server-git",
                  "args": ["--repository", "\(repo)"]
                },
                "py-clock": {
                  "command": "\(venv)/bin/python",
                  "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"],
                  "env": {"PYCLOCK_MARK": "1"}
                }
              },
              "globalShortcut": ""
            }

            """
        _ = try tmp.write("home/.config/Claude/claude_desktop_config.json", original, mode: 0o600)
        let env = ["PATH": "\(venv)/bin:/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8"]

        // No terminal and no --yes: refused, nothing changed.
        let refused = try runProcess([mcpbox, "wrap"], environment: env)
        #expect(refused.status == 125 && refused.stderr.contains("stdin is not a terminal"), "\(refused.stderr)")
        #expect(try String(contentsOfFile: config, encoding: .utf8) == original)

        // Found without naming it: Claude Desktop's place under $HOME/.config.
        let wrap = try runProcess([mcpbox, "wrap", "--yes"], environment: env)
        try #require(wrap.status == 0, "wrap: \(wrap.stderr) \(wrap.stdoutText)")
        let wrapped = try String(contentsOfFile: config, encoding: .utf8)
        #expect(wrapped != original)
        var st = stat()
        stat(config, &st)
        #expect(st.st_mode & 0o777 == 0o600)
        let profiles = home + "/.config/mcpbox/profiles"
        let written = try FileManager.default.contentsOfDirectory(atPath: profiles).sorted()
        #expect(written == ["clock.toml", "project-git.toml", "py-clock.toml"])
        for p in written {
            let check = try runProcess([mcpbox, "check", profiles + "/" + p], environment: env)
            #expect(check.status == 0, "check \(p): \(check.stdoutText) \(check.stderr)")
        }
        let again = try runProcess([mcpbox, "wrap", "--yes", config], environment: env)
        #expect(again.status == 0 && again.stdoutText.contains("nothing to change"), "\(again.stdoutText)")

        // The real client, reading the wrapped file.
        let calls: [String: Any] = [
            "clock": ["tool": "get_current_time", "arguments": ["timezone": "UTC"]],
            "project-git": ["tool": "git_status", "arguments": ["repo_path": repo]],
            "py-clock": ["tool": "convert_time", "arguments": ["source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"]],
        ]
        let client = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures/wrapped_config_client.py").path
        let callsJSON = String(decoding: try JSONSerialization.data(withJSONObject: calls), as: UTF8.self)
        let r = try runProcess([venv + "/bin/python", client, config, callsJSON], environment: env, timeout: 300)
        struct Report: Decodable {
            struct Call: Decodable { var is_error: Bool; var text: String }
            var server: String?
            var tools: [String]
            var call: Call?
            var error: String?
        }
        let report = try #require(try? JSONDecoder().decode([String: Report].self, from: r.stdout),
                                  "client exited \(r.status): \(r.stderr.suffix(2000)) \(r.stdoutText.prefix(500))")
        #expect(Set(report.keys) == ["clock", "project-git", "py-clock"])
        for (name, rep) in report {
            #expect(rep.error == nil, "\(name): \(rep.error ?? "")")
            #expect(!rep.tools.isEmpty, "\(name): no tools")
            #expect(rep.call?.is_error == false, "\(name): \(rep.call?.text ?? "no call")")
        }
        #expect(report["clock"]?.call?.text.contains("\"timezone\": \"UTC\"") == true)
        #expect(report["project-git"]?.tools.contains("git_status") == true)
        #expect(report["project-git"]?.call?.text.contains("untracked.txt") == true, "\(report["project-git"]?.call?.text ?? "")")
        #expect(report["py-clock"]?.call?.text.contains("T21:00:00+09:00") == true)

        // Every server really ran under mcpbox: the wrapped file says so, and unwrap gives back the original bytes.
        let parsed = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as? [String: Any]
        for (_, entry) in (parsed?["mcpServers"] as? [String: [String: Any]]) ?? [:] {
            #expect(entry["command"] as? String == mcpbox || (entry["command"] as? String).map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path } == URL(fileURLWithPath: mcpbox).resolvingSymlinksInPath().path)
            #expect((entry["args"] as? [String])?.prefix(1) == ["run"])
        }
        let unwrap = try runProcess([mcpbox, "unwrap", "--yes", config], environment: env)
        #expect(unwrap.status == 0, "\(unwrap.stderr)")
        #expect(try String(contentsOfFile: config, encoding: .utf8) == original)
        let backups = try FileManager.default.contentsOfDirectory(atPath: home + "/.config/Claude").filter { $0.contains(".mcpbox-backup-") }
        #expect(backups.count == 2, "\(backups)")
    }
}
