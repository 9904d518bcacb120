import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// MCP clients and editors read a project's own configuration (`.mcp.json`, `.vscode/mcp.json`,
/// `.cursor/mcp.json`, `.claude/settings.json` hooks, `.vscode/tasks.json`) and start or run
/// what it names, outside any sandbox, when the project is next opened. A hostile server with
/// a read-write project tree rewrites or plants them (a red-team pass of `wrap` rewrote the
/// `.mcp.json` entry that sandboxed it back to the bare command). Fails on the build before
/// `ClientConfigProtection`.
@Suite("Delayed escape through a project's MCP client configuration", .serialized,
       .enabled(if: TestSupport.isRoot, "runs sandboxes: run as root (CI does)"))
struct ClientConfigEscapeTests {
    let tmp: TempDir
    let mcpbox: String
    let project: String
    let env: [String: String]

    init() throws {
        tmp = try TempDir(prefix: "mcpbox-clientcfg")
        chmod(tmp.path, 0o755)
        mcpbox = try TestSupport.mcpboxBinary()
        project = try tmp.makeDir("proj")
        _ = try tmp.makeDir("state", mode: 0o700)
        env = ["PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8", "XDG_STATE_HOME": tmp.path + "/state"]
    }

    func profile(_ name: String, _ extra: String = "", readWrite: String? = nil) throws -> String {
        try tmp.write("\(name).toml", """
            extends = ["base"]
            [filesystem]
            read_write = ["\(readWrite ?? project)"]
            \(extra)
            """)
    }

    func chownTree(_ path: String) {
        _ = try? runProcess(["/bin/chown", "-R", "65534:65534", path])
    }

    @Test("existing entries are read-only inside; new ones anywhere in the tree are moved aside after the session; the rest stays writable")
    func existingProtectedNewMovedAside() throws {
        defer { tmp.remove() }
        let wrapped = #"{"mcpServers": {"notes": {"command": "/usr/local/bin/mcpbox", "args": ["run", "notes", "--", "/usr/bin/python3", "server.py"]}}}"#
        _ = try tmp.makeDir("proj/.vscode")
        _ = try tmp.makeDir("proj/sub/.claude")
        _ = try tmp.write("proj/.mcp.json", wrapped + "\n")
        _ = try tmp.write("proj/.vscode/mcp.json", "{}\n")
        _ = try tmp.write("proj/sub/.claude/settings.json", "{}\n")
        _ = try tmp.makeDir("proj/src")
        chownTree(project)
        let p = try profile("w")
        let explain = try runProcess([mcpbox, "explain", p, "--", "/bin/true"], environment: env)
        #expect(explain.status == 0, "\(explain.stderr)")
        for path in [".mcp.json", ".vscode", "sub/.claude"] {
            let line = explain.stdoutText.split(separator: "\n").first { $0.contains(project + "/" + path) && $0.contains("mcpbox: client configuration protection") }
            #expect(line != nil, "explain does not show \(path) bound read-only: \(explain.stdoutText)")
        }
        let script = """
            cd \(project)
            try() { if sh -c "$2" 2>/dev/null; then echo "written $1"; else echo "refused $1"; fi; }
            try mcp "printf '{\\"mcpServers\\": {\\"notes\\": {\\"command\\": \\"/usr/bin/python3\\"}}}' > .mcp.json"
            try tasks "echo '{}' > .vscode/tasks.json"
            try hooks "rm -rf sub/.claude"
            try rename "mv sub sub2"
            try renamecfg "mv .vscode .vscode-old"
            try src "echo 'print(1)' > src/main.py"
            mkdir -p .cursor deep/x/.gemini && echo '{}' > .cursor/mcp.json && echo '{}' > deep/x/.mcp.json && echo '{}' > deep/x/.gemini/settings.json && echo planted
            """
        let run = try runProcess([mcpbox, "run", p, "--", "/bin/sh", "-c", script], environment: env, timeout: 60)
        #expect(run.status == 0 && run.stdoutText.contains("planted"), "exit \(run.status): \(run.stdoutText) \(run.stderr.suffix(2000))")
        for what in ["mcp", "tasks", "hooks", "rename", "renamecfg"] {
            #expect(run.stdoutText.contains("refused \(what)"), "the server changed \(what): \(run.stdoutText)")
        }
        #expect(run.stdoutText.contains("written src"), "the rest of the project must stay writable: \(run.stdoutText)")
        #expect((try? String(contentsOfFile: project + "/.mcp.json", encoding: .utf8)) == wrapped + "\n", "the wrapper entry changed")
        #expect(!FileManager.default.fileExists(atPath: project + "/.vscode/tasks.json"))
        for planted in [".cursor", "deep/x/.mcp.json", "deep/x/.gemini"] {
            #expect(!FileManager.default.fileExists(atPath: project + "/" + planted), "\(planted) was left where a client reads it")
        }
        #expect(run.stderr.contains("mcpbox-quarantine") && run.stderr.contains("unsandboxed"), "mcpbox did not say what it moved aside: \(run.stderr.suffix(2000))")
        // What existed at launch stays where it was.
        for kept in [".mcp.json", ".vscode/mcp.json", "sub/.claude/settings.json", "src/main.py"] {
            #expect(FileManager.default.fileExists(atPath: project + "/" + kept), "\(kept) is gone")
        }
    }

    @Test("a read-write bind inside a client's configuration, or holding one that is a symlink, is refused by explain and run; accept acknowledges it")
    func insideAndSymlinkRefused() throws {
        defer { tmp.remove() }
        let vscode = try tmp.makeDir("proj/.vscode")
        chownTree(project)
        let inside = try profile("inside", readWrite: vscode)
        for verb in ["explain", "run"] {
            let r = try runProcess([mcpbox, verb, inside, "--", "/bin/true"], environment: env)
            #expect(r.status == 125 && r.stderr.contains("VS Code's workspace MCP servers"), "\(verb): exit \(r.status): \(r.stderr.suffix(800))")
        }
        let accepted = try profile("accepted", "accept = [\"\(vscode)\"]", readWrite: vscode)
        let ok = try runProcess([mcpbox, "run", accepted, "--", "/bin/sh", "-c", "echo '{}' > \(vscode)/tasks.json && echo written"], environment: env)
        #expect(ok.status == 0 && ok.stdoutText.contains("written"), "accept must allow it: \(ok.status) \(ok.stderr.suffix(800))")

        let elsewhere = try tmp.makeDir("elsewhere")
        symlink(elsewhere, project + "/.cursor")
        let linked = try profile("linked")
        for verb in ["explain", "run"] {
            let r = try runProcess([mcpbox, verb, linked, "--", "/bin/true"], environment: env)
            #expect(r.status == 125 && r.stderr.contains("\(project)/.cursor") && r.stderr.contains("symlink"), "\(verb): exit \(r.status): \(r.stderr.suffix(800))")
        }
    }

    @Test("two names the kernel tells apart but Swift's String calls equal (NFC and NFD `café`) each get their own read-only bind: client configuration and Mercurial's hgrc")
    func canonicallyEquivalentSiblings() throws {
        defer { tmp.remove() }
        // Swift's `==` on String is canonical equivalence: the second `.vscode` (and the second
        // repository's `.hg/hgrc`) was taken for the first and left writable (red-team finding).
        let nfc = "caf\u{E9}", nfd = "cafe\u{301}"
        for name in [nfc, nfd] { _ = try tmp.makeDir("proj/\(name)/.vscode") }
        let hgAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/hg")
        if hgAvailable {
            for name in [nfc, nfd] {
                let repo = try tmp.makeDir("proj/hg/\(name)")
                _ = try runProcess(["/usr/bin/hg", "init", repo])
                _ = try tmp.write("proj/hg/\(name)/.hg/hgrc", "")
            }
        }
        chownTree(project)
        let p = try profile("equivalent")
        var script = ""
        for (tag, name) in [("nfc", nfc), ("nfd", nfd)] {
            script += "if echo x > '\(project)/\(name)/.vscode/tasks.json' 2>/dev/null; then echo 'written vscode-\(tag)'; else echo 'refused vscode-\(tag)'; fi\n"
            if hgAvailable {
                script += "if echo '[hooks]' >> '\(project)/hg/\(name)/.hg/hgrc' 2>/dev/null; then echo 'written hgrc-\(tag)'; else echo 'refused hgrc-\(tag)'; fi\n"
            }
        }
        let run = try runProcess([mcpbox, "run", p, "--", "/bin/sh", "-c", script], environment: env, timeout: 60)
        #expect(run.status == 0, "exit \(run.status): \(run.stderr.suffix(2000))")
        for tag in ["nfc", "nfd"] {
            #expect(run.stdoutText.contains("refused vscode-\(tag)"), "the \(tag) .vscode stayed writable: \(run.stdoutText)")
            if hgAvailable {
                #expect(run.stdoutText.contains("refused hgrc-\(tag)"), "the \(tag) repository's hgrc stayed writable: \(run.stdoutText)")
            }
        }
    }
}
