import Foundation
@testable import MCPBoxCLI
import MCPBoxProtocol
@testable import MCPBoxClients
import MCPBoxCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Findings of a red-team pass over `wrap` (a hostile project `.mcp.json`, a config file shared
/// by hard links, CRLF files); each fails on the build before its fix.
@Suite("wrap: hostile and unusual entries (red-team findings)")
struct WrapRedTeamTests {
    func plan(_ json: String, client: ClientKind = .claudeCode) throws -> FilePlan {
        try wrapPlan(Array(json.utf8), client)
    }

    func outcome(_ p: FilePlan, _ name: String) -> FilePlan.Outcome? { p.items.first { $0.name == name }?.outcome }

    /// A new directory `/tmp/mcpbox-NAME.XXXXXX`; the caller removes it.
    static func tempDir(_ name: String) throws -> String {
        var template = Array("/tmp/mcpbox-\(name).XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(cString: try #require(made))
    }

    @Test("an entry whose env sets a variable mcpbox itself reads is left unchanged, with the reason")
    func steeringEnvironment() throws {
        for key in ["MCPBOX_PROFILE_PATH", "XDG_CONFIG_HOME", "HOME", "UV_DEFAULT_INDEX", "NPM_CONFIG_REGISTRY"] {
            let p = try plan(#"{"mcpServers": {"helper": {"command": "/usr/bin/python3", "args": ["s.py"], "env": {"TOKEN": "x", "\#(key)": ".profiles"}}}}"#)
            guard case .skipped(let why)? = outcome(p, "helper") else {
                Issue.record("\(key): wrapped: \(String(decoding: p.updated, as: UTF8.self))")
                continue
            }
            #expect(why.contains("`\(key)`") && why.contains("mcpbox itself reads"), "\(key): \(why)")
            #expect(p.updated == p.original && p.profiles.isEmpty)
        }
        // Ordinary variables are passed as before.
        let ok = try plan(#"{"mcpServers": {"helper": {"command": "/usr/bin/python3", "args": ["s.py"], "env": {"TOKEN": "x"}}}}"#)
        #expect(outcome(ok, "helper") == .wrapped(profile: "helper", existing: nil))
    }

    @Test("a command beside a URL or a remote type is wrapped (a client that reads command runs it); a URL alone is skipped")
    func commandBesideURL() throws {
        let p = try plan(#"{"mcpServers": {"a": {"command": "/usr/bin/python3", "args": ["s.py"], "url": "https://x.example/mcp"}, "b": {"type": "stdio", "command": "/usr/bin/python3", "serverUrl": "https://x.example"}, "c": {"url": "https://x.example/mcp"}}}"#)
        #expect(outcome(p, "a") == .wrapped(profile: "a", existing: nil))
        #expect(outcome(p, "b") == .wrapped(profile: "b", existing: nil))
        #expect(outcome(p, "c") == .skipped("a remote (URL/HTTP/SSE) server: nothing runs locally"))
        #expect(p.notes.contains { $0.hasPrefix("a: has a `command` beside a URL") })
    }

    @Test("a relative or foreign mcpbox, or mcpbox run with a profile file the config chose, is not taken for wrapped")
    func notReallyWrapped() throws {
        let p = try plan(#"""
            {"mcpServers": {
              "rel": {"command": "./node_modules/.bin/mcpbox", "args": ["run", "x", "--", "/usr/bin/true"]},
              "file": {"command": "mcpbox", "args": ["run", "./.profiles/anything.toml", "--", "/usr/bin/true"]},
              "foreign": {"command": "/tmp/evil/mcpbox", "args": ["run", "git", "--", "/usr/bin/true"]},
              "reldir": {"command": "mcpbox", "args": ["run", "git", "--profile-path", ".profiles", "--", "/usr/bin/true"]},
              "ok": {"command": "/usr/local/bin/mcpbox", "args": ["run", "git", "--profile-path", "/etc/mcpbox/profiles", "--", "/usr/bin/true"]},
              "bare": {"command": "mcpbox", "args": ["run", "git", "--", "/usr/bin/true"]}
            }}
            """#)
        guard case .skipped(let rel)? = outcome(p, "rel") else { Issue.record("rel"); return }
        #expect(rel.contains("relative path"), "\(rel)")
        for (name, says) in [("file", "profile file `./.profiles/anything.toml`"), ("foreign", "not this mcpbox"), ("reldir", "relative profile directory")] {
            guard case .skipped(let why)? = outcome(p, name) else { Issue.record("\(name) not skipped"); continue }
            #expect(why.hasPrefix("already runs mcpbox, but") && why.contains(says), "\(name): \(why)")
        }
        #expect(outcome(p, "ok") == .skipped("already wrapped"))
        #expect(outcome(p, "bare") == .skipped("already wrapped"))
    }

    @Test("a socket, FIFO or runtime directory named in args is not bound by the starter profile")
    func socketsNotBound() throws {
        let dir = try Self.tempDir("wrapsock")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sock = dir + "/bus"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in for (i, b) in sock.utf8.enumerated() { buf[i] = b } }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        try #require(rc == 0)
        let fifo = dir + "/fifo"
        try #require(mkfifo(fifo, 0o600) == 0)
        let s = StarterProfile.make(name: "s", server: "s", argv: ["/usr/bin/python3", "/opt/mcpbox-test-none/server.py", sock, "--input", fifo, "/run/user/1000"],
                                    envKeys: [], source: "/cfg", path: "/usr/bin", resolves: { _ in false })
        let binds = s.text.split(separator: "\n").filter { $0.hasPrefix("read_only") || $0.hasPrefix("read_write") }
        #expect(!binds.contains { $0.contains(dir) || $0.contains("/run/user") }, "\(s.text)")
        #expect(s.notes.contains { $0.hasPrefix(sock + ": a socket") }, "\(s.notes)")
        #expect(s.notes.contains { $0.hasPrefix(fifo + ": a FIFO") }, "\(s.notes)")
        #expect(s.notes.contains { $0.hasPrefix("/run/user/1000: a runtime directory") }, "\(s.notes)")
    }

    @Test("CRLF: the review diff shows no false `No newline at end of file`; a line inserted after a commented command keeps CRLF")
    func crlf() throws {
        let diff = UnifiedDiff.render(old: Array("a\r\nb\r\nc\r\n".utf8), new: Array("a\r\nB\r\nc\r\n".utf8), oldName: "a", newName: "b")
        #expect(!diff.contains("No newline at end of file"), "\(diff)")
        let toml = "[mcp_servers.t]\r\ncommand = \"/usr/bin/python3\" # the server\r\nenv = { A = \"1\" }\r\n"
        let p = try plan(toml, client: .codex)
        let text = String(decoding: p.updated, as: UTF8.self)
        #expect(text.contains("# the server\r\nargs = [") && !text.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "\(text.debugDescription)")
    }

    @Test("Codex servers whose names differ only in bytes are two servers; a table written twice is left unchanged, with a note")
    func codexNamesByBytes() throws {
        // Before: "K" and the Kelvin sign (or é precomposed and decomposed) were one name: the
        // second server stayed unwrapped without a word.
        for (a, b) in [("K", "\u{212A}"), ("\u{E9}", "e\u{301}")] {
            let toml = "[mcp_servers.\"\(a)\"]\ncommand = \"/usr/bin/python3\"\nargs = [\"a.py\"]\n[mcp_servers.\"\(b)\"]\ncommand = \"/usr/bin/python3\"\nargs = [\"b.py\"]\n"
            let p = try plan(toml, client: .codex)
            #expect(p.items.count == 2, "\(p.items)")
            for item in p.items {
                if case .wrapped = item.outcome { continue }
                Issue.record("\(item.name.unicodeScalars.map { String($0.value, radix: 16) }): \(item.outcome)")
            }
            let text = String(decoding: p.updated, as: UTF8.self)
            #expect(text.components(separatedBy: "mcpbox").count - 1 >= 2, "\(text)")
        }
        let twice = try plan("[mcp_servers.x]\ncommand = \"/usr/bin/python3\"\n[mcp_servers.x]\nargs = [\"b.py\"]\n", client: .codex)
        #expect(twice.items.isEmpty && twice.updated == twice.original, "\(twice.items)")
        #expect(twice.notes.contains { $0.contains("[mcp_servers.x] is defined more than once") }, "\(twice.notes)")
    }

    @Test("a config file with other hard links, or read-only, is not replaced")
    func hardLinksAndReadOnly() throws {
        let dir = try Self.tempDir("wraplink")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/.mcp.json"
        try Data("{}\n".utf8).write(to: URL(fileURLWithPath: path))
        try #require(link(path, dir + "/other.json") == 0)
        do {
            let f = try LockedConfigFile(path)
            let e = try #require(throws: ConfigFileError.self) { try f.replace(with: Array("{ }\n".utf8)) }
            #expect("\(e)".contains("hard links"), "\(e)")
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "{}\n")
        unlink(dir + "/other.json")
        chmod(path, 0o444)
        let g = try LockedConfigFile(path)
        let r = try #require(throws: ConfigFileError.self) { try g.replace(with: Array("{ }\n".utf8)) }
        #expect("\(r)".contains("read-only"), "\(r)")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "{}\n")
    }
}

/// Red team (2026-12-03): default-ignorable and blank-looking characters (the combining grapheme
/// joiner, Hangul fillers, variation selectors) passed unescaped wherever mcpbox shows a name it
/// did not choose, so `greet\u{34f}` looked like the approved `greet` in `tools approve`; and a
/// tool name with spaces could pass for the other columns of `tools list`.
@Suite struct InvisibleCharacterTests {
    static let hidden: [UInt32] = [0x34F, 0x115F, 0x1160, 0x17B4, 0x180B, 0x2800, 0x3164, 0xFE0F, 0xFFA0, 0x1D173, 0xE0100,
                                   0xA0, 0x2007, 0x202F, 0x3000]

    @Test("every such character is escaped by JSON.quoted, Explain.visible, the diff view and tools' names; plain names stay plain")
    func escapedEverywhere() throws {
        for v in Self.hidden {
            let name = "greet" + String(Unicode.Scalar(v)!)
            for (what, shown) in [("quoted", JSON.quoted(name)), ("visible", Explain.visible(name)), ("diff", UnifiedDiff.visible(name)),
                                  ("tools", ToolsCommand.shown(name))] {
                #expect(!shown.unicodeScalars.contains { $0.value == v }, "\(what) left U+\(String(v, radix: 16)) in \(shown.debugDescription)")
            }
            #expect(try JSON.parse(Array(JSON.quoted(name).utf8)) == .string(name))
        }
        #expect(ToolsCommand.shown("git_status") == "git_status")
        #expect(ToolsCommand.shown("spoof  approved   sha256:00") == "\"spoof  approved   sha256:00\"")
        #expect(ToolsCommand.shown("(instructions)") == "\"(instructions)\"")
    }
}
