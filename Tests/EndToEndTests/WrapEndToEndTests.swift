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

    @Test("red team: a server run from its `cwd` with a relative script gets that cwd (bound read-only) and works; a relative command is skipped with the reason")
    func cwdAndRelativeCommand() throws {
        let venv = try TestSupport.venv()
        let mcpbox = try TestSupport.mcpboxBinary()
        let tmp = try TempDir(prefix: "mcpbox-wrap-cwd")
        defer { tmp.remove() }
        let home = try tmp.makeDir("home")
        let proj = try tmp.makeDir("proj")
        _ = try tmp.write("proj/srv.py", "from mcp_server_time import main\nmain()\n")
        _ = try tmp.write("proj/run.sh", "#!/bin/sh\nexec \(venv)/bin/mcp-server-time\n", mode: 0o755)
        let config = try tmp.makeDir("home/.config/Claude") + "/claude_desktop_config.json"
        let original = """
            {"mcpServers": {
              "rel": {"command": "\(venv)/bin/python", "args": ["srv.py"], "cwd": "\(proj)"},
              "relcmd": {"command": "./run.sh", "cwd": "\(proj)"}
            }}

            """
        _ = try tmp.write("home/.config/Claude/claude_desktop_config.json", original, mode: 0o600)
        let env = ["PATH": "\(venv)/bin:/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8"]
        let wrap = try runProcess([mcpbox, "wrap", "--yes", config], environment: env)
        try #require(wrap.status == 0, "wrap: \(wrap.stderr) \(wrap.stdoutText)")
        #expect(wrap.stdoutText.contains("skip     relcmd: the command is the relative path `./run.sh`"), "\(wrap.stdoutText)")
        let profile = try String(contentsOfFile: home + "/.config/mcpbox/profiles/rel.toml", encoding: .utf8)
        #expect(profile.contains("cwd = \"\(proj)\"") && profile.contains("read_only = [\"\(proj)\"]"), "\(profile)")

        // The real client starts the wrapped entry (with the entry's cwd, as clients do) and uses it.
        let calls: [String: Any] = ["rel": ["tool": "get_current_time", "arguments": ["timezone": "UTC"]]]
        let parsed = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as? [String: Any]
        let rel = try #require((parsed?["mcpServers"] as? [String: Any])?["rel"])
        let only = tmp.path + "/rel-only.json"
        try JSONSerialization.data(withJSONObject: ["mcpServers": ["rel": rel]]).write(to: URL(fileURLWithPath: only))
        let client = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures/wrapped_config_client.py").path
        let callsJSON = String(decoding: try JSONSerialization.data(withJSONObject: calls), as: UTF8.self)
        let r = try runProcess([venv + "/bin/python", client, only, callsJSON], environment: env, timeout: 300)
        struct Report: Decodable {
            struct Call: Decodable { var is_error: Bool; var text: String }
            var call: Call?
            var error: String?
        }
        let report = try #require(try? JSONDecoder().decode([String: Report].self, from: r.stdout),
                                  "client exited \(r.status): \(r.stderr.suffix(2000)) \(r.stdoutText.prefix(500))")
        #expect(report["rel"]?.error == nil, "\(report["rel"]?.error ?? "")")
        #expect(report["rel"]?.call?.is_error == false && report["rel"]?.call?.text.contains("\"timezone\": \"UTC\"") == true,
                "\(report["rel"]?.call?.text ?? "no call")")
        let unwrap = try runProcess([mcpbox, "unwrap", "--yes", config], environment: env)
        #expect(unwrap.status == 0, "\(unwrap.stderr)")
        #expect(try String(contentsOfFile: config, encoding: .utf8) == original)
    }

    @Test("red team: mcpbox started under another name wraps once and unwraps; a symlinked HOME's file is edited once; an oversized result and a symlinked file are handled")
    func selfNameHomeLinkSizeSymlink() throws {
        let mcpbox = try TestSupport.mcpboxBinary()
        let tmp = try TempDir(prefix: "mcpbox-wrap-names")
        defer { tmp.remove() }
        let home = try tmp.makeDir("home")
        let env = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8"]

        // Another name: a link `mcpbox-static` to the binary, as a packaged copy may be named.
        let bin = try tmp.makeDir("bin")
        let other = bin + "/mcpbox-static"
        try #require(symlink(URL(fileURLWithPath: mcpbox).resolvingSymlinksInPath().path, other) == 0)
        let dbl = tmp.path + "/dbl.json"
        let original = "{\"mcpServers\":{\"a\":{\"command\":\"/bin/cat\"}}}\n"
        _ = try tmp.write("dbl.json", original)
        let first = try runProcess([other, "wrap", "--yes", dbl], environment: env)
        try #require(first.status == 0, "\(first.stderr)")
        let wrapped = try String(contentsOfFile: dbl, encoding: .utf8)
        #expect(wrapped.contains("\"command\":\"\(other)\""), "\(wrapped)")
        let second = try runProcess([other, "wrap", "--yes", dbl], environment: env)
        #expect(second.status == 0 && second.stdoutText.contains("already wrapped") && second.stdoutText.contains("nothing to change"), "\(second.stdoutText)")
        #expect(try String(contentsOfFile: dbl, encoding: .utf8) == wrapped)
        let unwrap = try runProcess([other, "unwrap", "--yes", dbl], environment: env)
        #expect(unwrap.status == 0, "\(unwrap.stdoutText) \(unwrap.stderr)")
        #expect(try String(contentsOfFile: dbl, encoding: .utf8) == original)

        // A symlinked HOME whose project directory is the home itself: one file, edited once.
        _ = try tmp.makeDir("home/.cursor")
        _ = try tmp.write("home/.cursor/mcp.json", "{\"mcpServers\":{\"a\":{\"command\":\"/bin/cat\"}}}\n")
        let link = tmp.path + "/homelink"
        try #require(symlink(home, link) == 0)
        var linkEnv = env
        linkEnv["HOME"] = link
        let once = try runProcess([mcpbox, "wrap", "--yes"], environment: linkEnv, currentDirectory: home)
        #expect(once.status == 0, "\(once.stderr) \(once.stdoutText)")
        #expect(once.stdoutText.components(separatedBy: "updated ").count == 2, "\(once.stdoutText)")

        // A result past the 8 MiB wrap and unwrap read: refused, the file unchanged.
        let pad = String(repeating: "x", count: (8 << 20) - 80)
        let big = "{\"mcpServers\":{\"a\":{\"command\":\"/bin/cat\"}},\"pad\":\"\(pad)\"}\n"
        _ = try tmp.write("big.json", big)
        let refused = try runProcess([mcpbox, "wrap", "--yes", tmp.path + "/big.json"], environment: env)
        #expect(refused.status == 125 && refused.stderr.contains("larger than 8 MiB, more than wrap and unwrap read"), "\(refused.stderr.prefix(600))")
        #expect(try String(contentsOfFile: tmp.path + "/big.json", encoding: .utf8) == big)

        // A symlinked configuration: the summary names the file edited.
        let target = try tmp.makeDir("elsewhere") + "/target.json"
        _ = try tmp.write("elsewhere/target.json", "{\"mcpServers\":{\"a\":{\"command\":\"/bin/cat\"}}}\n")
        let proj = try tmp.makeDir("proj")
        try #require(symlink(target, proj + "/.mcp.json") == 0)
        let shown = try runProcess([mcpbox, "wrap", "--dry-run"], environment: env, currentDirectory: proj)
        #expect(shown.stdoutText.contains("\(proj)/.mcp.json (a symlink: the file edited is \(target))"), "\(shown.stdoutText)")
    }

    @Test("red team: a cwd that is the home through a symlink, a system directory, or one the server's account cannot enter is left out; the wrap still succeeds")
    func cwdRefusals() throws {
        let mcpbox = try TestSupport.mcpboxBinary()
        let tmp = try TempDir(prefix: "mcpbox-wrap-cwd2")
        defer { tmp.remove() }
        let home = try tmp.makeDir("home")
        _ = try tmp.write("home/.bash_history", "secret history\n")
        try #require(symlink(home, tmp.path + "/homelink") == 0)
        let closed = try tmp.makeDir("closed", mode: 0o700)
        let env = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8"]
        let config = tmp.path + "/cfg.json"
        _ = try tmp.write("cfg.json", """
            {"mcpServers": {
              "viahome": {"command": "/bin/cat", "cwd": "\(tmp.path)/homelink"},
              "etc": {"command": "/bin/cat", "cwd": "/etc"},
              "closed": {"command": "/bin/cat", "cwd": "\(closed)"}
            }}

            """)
        let wrap = try runProcess([mcpbox, "wrap", "--yes", config], environment: env)
        try #require(wrap.status == 0, "wrap: \(wrap.stderr) \(wrap.stdoutText)")
        let dir = home + "/.config/mcpbox/profiles/"
        let viahome = try String(contentsOfFile: dir + "viahome.toml", encoding: .utf8)
        #expect(!viahome.contains("cwd = ") && !viahome.contains(home + "\"") && viahome.contains("not applied (it holds your home directory"), "\(viahome)")
        let etc = try String(contentsOfFile: dir + "etc.toml", encoding: .utf8)
        #expect(!etc.contains("cwd = ") && etc.contains("not applied (a top-level or system directory"), "\(etc)")
        // Root starts mcpbox: the server runs as nobody, which cannot enter a 0700 directory of root's.
        let closedProfile = try String(contentsOfFile: dir + "closed.toml", encoding: .utf8)
        #expect(!closedProfile.contains("cwd = ") && closedProfile.contains("with it the profile does not pass `mcpbox check`"), "\(closedProfile)")
        #expect(wrap.stdoutText.contains("note: closed: the entry's cwd is left out of its profile"), "\(wrap.stdoutText)")
        for name in ["viahome", "etc", "closed"] {
            let check = try runProcess([mcpbox, "check", dir + name + ".toml"], environment: env)
            #expect(check.status == 0, "\(name): \(check.stdoutText)")
        }
    }
}
