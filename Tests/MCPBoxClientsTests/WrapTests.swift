import Foundation
@testable import MCPBoxCLI
@testable import MCPBoxClients
import MCPBoxCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The fixtures: real-shaped configuration files of the five clients.
enum Fixture: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case claudeDesktop = "claude_desktop_config.json"
    case cursor = "cursor_mcp.json"
    case cursorCRLF = "cursor_project_crlf.json"
    case vscode = "vscode_mcp.jsonc"
    case claudeCode = "claude.json"
    case claudeCodeProject = "mcp.json"
    case codex = "codex_config.toml"

    var testDescription: String { rawValue }

    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    var client: ClientKind {
        switch self {
        case .claudeDesktop: .claudeDesktop
        case .cursor, .cursorCRLF: .cursor
        case .vscode: .vscode
        case .claudeCode, .claudeCodeProject: .claudeCode
        case .codex: .codex
        }
    }

    var bytes: [UInt8] { Array(FileManager.default.contents(atPath: Self.dir + "/" + rawValue)!) }
    var golden: String { Self.dir + "/" + rawValue + ".wrapped" }
    /// Strict JSON that Foundation's parser reads (the JSONC fixture has comments).
    var isStrictJSON: Bool { self != .vscode && self != .codex }
}

let mcpboxPath = "/usr/local/bin/mcpbox"

/// Profiles that "exist" for the planner in these tests: the shipped server profiles.
func shippedOnly(_ name: String) -> String? {
    ["time", "git", "fetch", "base", "python", "node"].contains(name) ? "/usr/share/mcpbox/profiles/\(name).toml" : nil
}

func wrapPlan(_ bytes: [UInt8], _ client: ClientKind, path: String = "/cfg", exists: (String) -> String? = shippedOnly,
              servers: Set<String> = []) throws -> FilePlan {
    var reserved: [String: String] = [:]
    return try WrapPlanner.wrap(path: path, client: client, bytes: bytes, options: WrapOptions(mcpbox: mcpboxPath, servers: servers),
                                existingProfile: exists, reserved: &reserved)
}

/// A temporary directory standing in for the fixtures' `/tmp/mcpbox-fixture`, with the paths they name.
struct FixtureTree {
    let path: String

    init() throws {
        var template = Array("/tmp/mcpbox-wrap.XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: made)
        chmod(path, 0o755)
        for d in ["Desktop", "Downloads", "repo", "app", "other", "weather/dist", "tools", "data"] {
            try FileManager.default.createDirectory(atPath: path + "/" + d, withIntermediateDirectories: true)
        }
        for f in ["weather/dist/index.js", "tools/db_server.py"] { _ = FileManager.default.createFile(atPath: path + "/" + f, contents: Data()) }
    }

    func substitute(_ bytes: [UInt8]) -> [UInt8] {
        Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "/tmp/mcpbox-fixture", with: path).utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A parsed value, for comparing what a client reads before and after wrap (order-insensitive objects).
indirect enum V: Equatable, CustomStringConvertible {
    case str(String), scalar(String), arr([V]), obj([String: V])

    var description: String {
        switch self {
        case .str(let s): "\"\(s)\""
        case .scalar(let s): s
        case .arr(let a): "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .obj(let o): "{" + o.keys.sorted().map { "\($0): \(o[$0]!)" }.joined(separator: ", ") + "}"
        }
    }

    /// Foundation's JSON parser, independent of ours.
    static func foundation(_ bytes: [UInt8]) throws -> V {
        func conv(_ x: Any) -> V {
            if let s = x as? String { return .str(s) }
            if let a = x as? [Any] { return .arr(a.map(conv)) }
            if let d = x as? [String: Any] { return .obj(d.mapValues(conv)) }
            return .scalar(String(describing: x))
        }
        return conv(try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]))
    }

    /// Our JSONC parser (for the fixture with comments).
    static func jsonc(_ bytes: [UInt8]) throws -> V {
        func conv(_ n: JSONNode) -> V {
            switch n.value {
            case .string(let s): return .str(s)
            case .array(let a): return .arr(a.map(conv))
            case .object(let m): return .obj(Dictionary(m.map { ($0.key, conv($0.node)) }, uniquingKeysWith: { $1 }))
            case .scalar: return .scalar(String(decoding: bytes[n.start..<n.end], as: UTF8.self))
            }
        }
        return conv(try JSONC.parse(bytes))
    }

    /// mcpbox's profile TOML parser, independent of the span-keeping scanner.
    static func toml(_ bytes: [UInt8]) throws -> V {
        func conv(_ v: TOMLValue) -> V {
            switch v.kind {
            case .string(let s): return .str(s)
            case .array(let a): return .arr(a.map(conv))
            case .table(let t): return .obj(Dictionary(t.entries.map { ($0.key, conv($0.value)) }, uniquingKeysWith: { $1 }))
            default: return .scalar("\(v.kind)")
            }
        }
        return conv(TOMLValue(.table(try TOML.parse(bytes: bytes)), line: 1))
    }

    static func parse(_ bytes: [UInt8], _ f: Fixture) throws -> V {
        f == .codex ? try toml(bytes) : (f.isStrictJSON ? try foundation(bytes) : try jsonc(bytes))
    }

    subscript(_ k: String) -> V? {
        if case .obj(let o) = self { return o[k] }
        return nil
    }

    func replacing(_ path: [String], with v: V) -> V {
        guard let k = path.first, case .obj(var o) = self else { return v }
        o[k] = (o[k] ?? .obj([:])).replacing(Array(path.dropFirst()), with: v)
        return .obj(o)
    }
}

/// Where each fixture keeps its server tables (key paths).
func serverTables(_ v: V, _ f: Fixture) -> [[String]] {
    switch f {
    case .vscode: return [["servers"]]
    case .codex: return [["mcp_servers"]]
    case .claudeCode:
        guard case .obj(let projects)? = v["projects"] else { return [["mcpServers"]] }
        return [["mcpServers"]] + projects.keys.map { ["projects", $0, "mcpServers"] }
    default: return [["mcpServers"]]
    }
}

func lookup(_ v: V, _ path: [String]) -> V? {
    var cur: V? = v
    for k in path { cur = cur?[k] }
    return cur
}

@Suite("wrap/unwrap: format-preserving edits of client configurations")
struct WrapEditTests {
    @Test("wrap changes exactly command and args of each local entry; a real parser reads the rest unchanged", arguments: Fixture.allCases)
    func semantics(_ f: Fixture) throws {
        let plan = try wrapPlan(f.bytes, f.client)
        #expect(plan.changed)
        let before = try V.parse(f.bytes, f), after = try V.parse(plan.updated, f)
        var expected = before
        var wrappedCount = 0
        for table in serverTables(before, f) {
            guard case .obj(let servers)? = lookup(before, table) else { continue }
            for (name, entry) in servers {
                let item = plan.items.first { $0.name == name && ($0.location.contains(table.dropLast().last ?? "") || table.count == 1) }
                guard case .wrapped(let profile, _)? = item?.outcome, case .obj(var o) = entry, case .str(let cmd)? = o["command"] else { continue }
                var args: [V] = [.str("run"), .str(profile), .str("--"), .str(cmd)]
                if case .arr(let old)? = o["args"] { args += old }
                o["command"] = .str(mcpboxPath)
                o["args"] = .arr(args)
                expected = expected.replacing(table + [name], with: .obj(o))
                wrappedCount += 1
            }
        }
        #expect(wrappedCount == plan.items.filter { if case .wrapped = $0.outcome { true } else { false } }.count)
        #expect(after == expected, "\(f.rawValue): what a client reads after wrap differs from the expected rewrite")
    }

    @Test("wrap output is byte for byte the reviewed golden file", arguments: Fixture.allCases)
    func golden(_ f: Fixture) throws {
        let plan = try wrapPlan(f.bytes, f.client)
        if ProcessInfo.processInfo.environment["MCPBOX_WRITE_GOLDEN"] == "1" {
            _ = FileManager.default.createFile(atPath: f.golden, contents: Data(plan.updated))
        }
        let golden = try #require(FileManager.default.contents(atPath: f.golden), "missing golden \(f.golden)")
        #expect(Array(golden) == plan.updated, "\(f.rawValue): wrap output changed:\n\(UnifiedDiff.render(old: Array(golden), new: plan.updated, oldName: "golden", newName: "now"))")
    }

    @Test("only lines holding a command or args value change; every other line is kept byte for byte", arguments: Fixture.allCases)
    func onlyIntendedLinesChange(_ f: Fixture) throws {
        let plan = try wrapPlan(f.bytes, f.client)
        let diff = UnifiedDiff.render(old: plan.original, new: plan.updated, oldName: "a", newName: "b")
        for line in diff.split(separator: "\n") where line.hasPrefix("-") && !line.hasPrefix("---") {
            let isCommand = line.contains("\"command\"") || line.contains("command =") || line.contains("\"args\"") || line.contains("args =")
            #expect(isCommand, "\(f.rawValue): wrap removed a line that holds neither command nor args: \(line)")
        }
    }

    @Test("unwrap after wrap gives back the original file byte for byte", arguments: Fixture.allCases)
    func roundTrip(_ f: Fixture) throws {
        let plan = try wrapPlan(f.bytes, f.client)
        let back = try WrapPlanner.unwrap(path: "/cfg", client: f.client, bytes: plan.updated)
        // The entries that were already wrapped in the fixture are unwrapped too; compare without them.
        let pre = try WrapPlanner.unwrap(path: "/cfg", client: f.client, bytes: f.bytes)
        #expect(back.updated == pre.updated, "\(f.rawValue):\n\(UnifiedDiff.render(old: pre.updated, new: back.updated, oldName: "original", newName: "round trip"))")
        let wrappedNames = plan.items.compactMap { if case .wrapped = $0.outcome { $0.name } else { nil } }
        #expect(Set(back.items.map(\.name)).isSuperset(of: wrappedNames))
    }

    @Test("wrap is idempotent: a second wrap changes nothing and says `already wrapped`", arguments: Fixture.allCases)
    func idempotent(_ f: Fixture) throws {
        let once = try wrapPlan(f.bytes, f.client)
        let twice = try wrapPlan(once.updated, f.client)
        #expect(!twice.changed)
        #expect(twice.profiles.isEmpty)
        for item in twice.items {
            if case .wrapped = item.outcome { Issue.record("\(item.name) wrapped twice") }
        }
    }

    @Test("URL/HTTP/SSE entries and entries already wrapped are skipped and left untouched")
    func skips() throws {
        let plan = try wrapPlan(Fixture.claudeDesktop.bytes, .claudeDesktop)
        #expect(plan.items.first { $0.name == "remote" }?.outcome == .skipped("a remote (URL/HTTP/SSE) server: nothing runs locally"))
        #expect(plan.items.first { $0.name == "already" }?.outcome == .skipped("already wrapped"))
        let vs = try wrapPlan(Fixture.vscode.bytes, .vscode)
        for name in ["remote-http", "remote-sse"] {
            #expect(vs.items.first { $0.name == name }?.outcome == .skipped("a remote (URL/HTTP/SSE) server: nothing runs locally"))
        }
        let codex = try wrapPlan(Fixture.codex.bytes, .codex)
        #expect(codex.items.first { $0.name == "remote" }?.outcome == .skipped("a remote (URL/HTTP/SSE) server: nothing runs locally"))
        #expect(codex.items.first { $0.name == "wrapped" }?.outcome == .skipped("already wrapped"))
        // Comments survive (JSONC and TOML).
        let vsText = String(decoding: vs.updated, as: UTF8.self)
        for c in ["// VS Code user configuration", "/* the time server, from PyPI */", "// explicit stdio", "// trailing comma"] { #expect(vsText.contains(c)) }
        let codexText = String(decoding: codex.updated, as: UTF8.self)
        for c in ["# Codex configuration", "# from PyPI", "# which repository", "# no args at all", "# the repository server"] { #expect(codexText.contains(c)) }
    }

    @Test("--server selects entries; the others stay as they were")
    func selection() throws {
        let plan = try wrapPlan(Fixture.claudeDesktop.bytes, .claudeDesktop, servers: ["git"])
        #expect(plan.items.map(\.name) == ["git"])
        let text = String(decoding: plan.updated, as: UTF8.self)
        #expect(text.contains("\"command\": \"npx\""))
    }

    @Test("Claude Code: top-level and per-project servers; one name with different needs gets two profiles")
    func claudeCodeProjects() throws {
        let tmp = try FixtureTree()
        defer { tmp.remove() }
        let plan = try wrapPlan(tmp.substitute(Fixture.claudeCode.bytes), .claudeCode, exists: { _ in nil })
        let profiles = plan.items.compactMap { if case .wrapped(let p, _) = $0.outcome { p } else { nil } }
        #expect(profiles.sorted() == ["git", "git-2", "time"])
        #expect(plan.profiles.map(\.name).sorted() == ["git", "git-2", "time"])
        #expect(plan.items.first { $0.name == "linear" }?.outcome == .skipped("a remote (URL/HTTP/SSE) server: nothing runs locally"))
    }

    /// A Claude Code file whose projects each have a server `NAME` with the given argument.
    static func projects(_ servers: [(name: String, arg: String)]) -> [UInt8] {
        let ps = servers.enumerated().map { i, s in
            "\"/p\(i)\": {\"mcpServers\": {\(TOML.string(s.name)): {\"command\": \"/bin/x\", \"args\": [\(TOML.string(s.arg))]}}}"
        }
        return Array("{\"projects\": {\(ps.joined(separator: ", "))}}".utf8)
    }

    @Test("one name with different needs: NAME-2, NAME-3... in order, an equal one reused, an existing NAME-k used, a literal NAME-k respected")
    func suffixNames() throws {
        let url = { (h: String) in "--api-url=https://\(h).example" }
        let bytes = Self.projects([("fs", url("a")), ("fs", url("b")), ("fs", url("a")), ("fs-3", url("z")), ("fs", url("c")),
                                   ("fs", url("b")), ("fs", url("d")), ("gh", url("a")), ("gh", url("e"))])
        let plan = try wrapPlan(bytes, .claudeCode, exists: { $0 == "fs-4" ? "/x/fs-4.toml" : nil })
        let names = plan.items.map { if case .wrapped(let p, _) = $0.outcome { p } else { "?" } }
        #expect(names == ["fs", "fs-2", "fs", "fs-3", "fs-4", "fs-2", "fs-4", "gh", "gh-2"])
        #expect(plan.profiles.map(\.name) == ["fs", "fs-2", "fs-3", "gh", "gh-2"])
        #expect(plan.profiles.allSatisfy { $0.text.contains("mcpbox explain \($0.name) --") })
    }

    /// Planning N entries of one name with N different needs looks each candidate name up a
    /// bounded number of times (it was every NAME-k from 2 again for each entry: N²/2 lookups).
    @Test("many entries of one name with different needs: profile lookups grow linearly, names as before")
    func suffixWork() throws {
        let n = 300
        let bytes = Self.projects((0..<n).map { ("fs", "--api-url=https://h\($0).example") })
        final class Count: @unchecked Sendable { var calls = 0 }
        let count = Count()
        let plan = try wrapPlan(bytes, .claudeCode, exists: { _ in count.calls += 1; return nil })
        let names = plan.items.map { if case .wrapped(let p, _) = $0.outcome { p } else { "?" } }
        #expect(names == ["fs"] + (2...n).map { "fs-\($0)" })
        #expect(count.calls < 20 * n, "\(count.calls) profile lookups for \(n) entries")
    }

    @Test("unwrap restores entries wrap made in every form: with args, empty args, no args (JSON and TOML)")
    func unwrapForms() throws {
        let cases: [(String, ClientKind)] = [
            ("{\"mcpServers\": {\"a\": {\"command\": \"x\"}}}", .claudeDesktop),
            ("{\"mcpServers\": {\"a\": {\"command\": \"x\", \"args\": []}}}", .claudeDesktop),
            ("{\"mcpServers\": {\"a\": {\"command\": \"x\", \"args\": [ ]}}}", .claudeDesktop),
            ("{\"mcpServers\": {\"a\": {\"args\": [\"1\"], \"command\": \"x\\u0041\"}}}", .claudeDesktop),
            ("{\"mcpServers\": {\"a\": {\"command\": \"x\", \"args\": [ // c\n  \"1\",\n  \"2\"\n]}}}", .vscode),
            ("[mcp_servers.a]\ncommand = \"x\"", .codex),
            ("[mcp_servers.a]\r\ncommand = 'x' # c\r\nenv = {}\r\n", .codex),
            ("[mcp_servers.a]\ncommand = \"x\"\nargs = []\n", .codex),
            ("[mcp_servers.a]\nargs = [\n  '1', # one\n]\ncommand = \"x\"\n", .codex),
        ]
        for (text, client) in cases {
            let bytes = Array(text.utf8)
            let w = try wrapPlan(bytes, client)
            #expect(w.changed, "\(text)")
            let u = try WrapPlanner.unwrap(path: "/cfg", client: client, bytes: w.updated)
            #expect(u.updated == bytes, "\(text) → \(String(decoding: w.updated, as: UTF8.self)) → \(String(decoding: u.updated, as: UTF8.self))")
            // What the client runs after wrap.
            var notes: [String] = []
            let e = try #require(try ServerEntries.read(w.updated, client: client, notes: &notes).first)
            #expect(e.command?.value == mcpboxPath)
            let original = try #require(try ServerEntries.read(bytes, client: client, notes: &notes).first)
            #expect(e.args.values == ["run", "a", "--"] + (original.argv ?? []), "\(text)")
        }
    }

    /// A wrapped `args` whose last element (the original command) is followed by a trailing
    /// comma: unwrap empties the array as it does without the comma, and the file still parses.
    @Test("unwrap of args ending in a trailing comma leaves the file its client reads, as without the comma (TOML and JSONC)")
    func unwrapTrailingComma() throws {
        let cases: [(withComma: String, withoutComma: String, client: ClientKind)] = [
            ("[mcp_servers.time]\ncommand = \"/usr/local/bin/mcpbox\"\nargs = [\n  \"run\",\n  \"time\",\n  \"--\",\n  \"mcp-server-time\",\n]\n",
             "[mcp_servers.time]\ncommand = \"/usr/local/bin/mcpbox\"\nargs = [\n  \"run\",\n  \"time\",\n  \"--\",\n  \"mcp-server-time\"\n]\n", .codex),
            ("[mcp_servers.time]\ncommand = \"mcpbox\"\nargs = [\"run\", \"time\", \"--\", \"mcp-server-time\" # a, b\n  , # c, d\n]\n",
             "[mcp_servers.time]\ncommand = \"mcpbox\"\nargs = [\"run\", \"time\", \"--\", \"mcp-server-time\" # a, b\n   # c, d\n]\n", .codex),
            ("{\"servers\": {\"time\": {\n  \"command\": \"/usr/local/bin/mcpbox\",\n  \"args\": [\n    \"run\",\n    \"time\",\n    \"--\",\n    \"mcp-server-time\",\n  ]\n}}}",
             "{\"servers\": {\"time\": {\n  \"command\": \"/usr/local/bin/mcpbox\",\n  \"args\": [\n    \"run\",\n    \"time\",\n    \"--\",\n    \"mcp-server-time\"\n  ]\n}}}", .vscode),
            ("{\"servers\": {\"time\": {\"command\": \"mcpbox\", \"args\": [\n  \"run\", \"time\", \"--\",\n  \"mcp-server-time\" /* a, b */ , // c, d\n]}}}",
             "{\"servers\": {\"time\": {\"command\": \"mcpbox\", \"args\": [\n  \"run\", \"time\", \"--\",\n  \"mcp-server-time\" /* a, b */  // c, d\n]}}}", .vscode),
        ]
        for (withComma, withoutComma, client) in cases {
            let u = try WrapPlanner.unwrap(path: "/cfg", client: client, bytes: Array(withComma.utf8))
            let plain = try WrapPlanner.unwrap(path: "/cfg", client: client, bytes: Array(withoutComma.utf8))
            #expect(u.items.map(\.outcome) == [.unwrapped(profile: "time")], "\(withComma)")
            let text = String(decoding: u.updated, as: UTF8.self)
            #expect(u.updated == plain.updated, "\(withComma) → \(text)")
            // An independent parser reads the result: the original command, no arguments.
            let v = client == .codex ? try V.toml(u.updated) : try V.jsonc(u.updated)
            let entry = client == .codex ? v["mcp_servers"]?["time"] : v["servers"]?["time"]
            #expect(entry == .obj(["command": .str("mcp-server-time"), "args": .arr([])]), "\(text)")
        }
        // wrap→unwrap of arrays with a trailing comma: back byte for byte, and every step parses.
        let roundTrips: [(String, ClientKind)] = [
            ("[mcp_servers.t]\ncommand = \"x\"\nargs = [\n  \"--local-timezone\",\n  \"UTC\",\n]\n", .codex),
            ("[mcp_servers.t]\ncommand = \"x\"\nargs = [\"a\", ]\n", .codex),
            ("{\"servers\": {\"t\": {\"command\": \"x\", \"args\": [\"a\",]}}}", .vscode),
        ]
        for (text, client) in roundTrips {
            let w = try wrapPlan(Array(text.utf8), client)
            let back = try WrapPlanner.unwrap(path: "/cfg", client: client, bytes: w.updated)
            #expect(back.updated == Array(text.utf8), "\(text) → \(String(decoding: w.updated, as: UTF8.self)) → \(String(decoding: back.updated, as: UTF8.self))")
            for bytes in [w.updated, back.updated] {
                #expect(throws: Never.self) { client == .codex ? try V.toml(bytes) : try V.jsonc(bytes) }
            }
        }
    }

    @Test("an entry whose profile (or what its starter extends) needs a search directory carries --profile-path before --; unwrap removes it")
    func runOptionsWritten() throws {
        let text = #"{"mcpServers": {"time": {"command": "mcp-server-time"}, "js": {"command": "node", "args": ["/x/index.js"]}, "plain": {"command": "/bin/echo"}}}"#
        var reserved: [String: String] = [:]
        let plan = try WrapPlanner.wrap(path: "/cfg", client: .cursor, bytes: Array(text.utf8), options: WrapOptions(mcpbox: mcpboxPath),
                                        existingProfile: shippedOnly, reserved: &reserved,
                                        runOptions: { ["time", "node"].contains($0) ? ["--profile-path", "/d"] : [] })
        let v = try V.foundation(plan.updated)
        #expect(v["mcpServers"]?["time"]?["args"] == .arr(["run", "time", "--profile-path", "/d", "--", "mcp-server-time"].map(V.str)))
        #expect(v["mcpServers"]?["js"]?["args"] == .arr(["run", "js", "--profile-path", "/d", "--", "node", "/x/index.js"].map(V.str)))
        #expect(v["mcpServers"]?["plain"]?["args"] == .arr(["run", "plain", "--", "/bin/echo"].map(V.str)))
        #expect(plan.items.map(\.runOptions) == [["--profile-path", "/d"], ["--profile-path", "/d"], []])
        #expect(try WrapPlanner.unwrap(path: "/cfg", client: .cursor, bytes: plan.updated).updated == Array(text.utf8))
        #expect(!(try wrapPlan(plan.updated, .cursor)).changed)
    }

    @Test("unwrap of hand-written mcpbox entries restores the command; entries it does not understand are left alone")
    func unwrapHandWritten() throws {
        let text = """
            {"mcpServers": {
              "a": {"command": "mcpbox", "args": ["run", "git", "--set", "repo=/r", "--", "/v/bin/mcp-server-git", "-r", "/r"]},
              "b": {"command": "/usr/bin/mcpbox", "args": ["explain", "time"]},
              "c": {"command": "mcpbox", "args": ["run","time","--","/v/bin/mcp-server-time"], "env": {}}
            }}
            """
        let u = try WrapPlanner.unwrap(path: "/cfg", client: .cursor, bytes: Array(text.utf8))
        let v = try V.foundation(u.updated)
        #expect(v["mcpServers"]?["a"] == .obj(["command": .str("/v/bin/mcp-server-git"), "args": .arr([.str("-r"), .str("/r")])]))
        #expect(v["mcpServers"]?["b"] == (try V.foundation(Array(text.utf8)))["mcpServers"]?["b"])
        // `, "args": [...]` right after command is the form wrap adds when there were no args: removed.
        #expect(v["mcpServers"]?["c"] == .obj(["command": .str("/v/bin/mcp-server-time"), "env": .obj([:])]))
        #expect(u.items.first { $0.name == "b" }?.outcome == .skipped("runs mcpbox, but not as `mcpbox run NAME -- COMMAND...`; left unchanged"))
    }

    @Test("entries wrap cannot rewrite exactly are left unchanged with the reason")
    func oddEntries() throws {
        let text = """
            {"mcpServers": {
              "n": {"command": 42},
              "d": {"command": "x", "command": "y"},
              "a": {"command": "x", "args": "not an array"},
              "m": {"command": "x", "args": ["ok", 1]},
              "s": "not an object",
              "e": {"env": {"A": "1"}}
            }}
            """
        let plan = try wrapPlan(Array(text.utf8), .claudeDesktop)
        #expect(!plan.changed)
        #expect(plan.items.count == 5)
        #expect(plan.notes.contains { $0.contains("\"s\"") })
        let toml = "[mcp_servers]\nx = { command = \"y\" }\n[mcp_servers.m]\ncommand = \"\"\"multi\"\"\"\n"
        let t = try wrapPlan(Array(toml.utf8), .codex)
        #expect(!t.changed)
        #expect(t.notes.contains { $0.contains("not written as a [mcp_servers.x] table") })
    }

    /// Found running real servers: a wrapped `mcp-server-fetch` entry lost the shipped profile's
    /// --allow-private-ips (the command after `--` replaces the profile's) and every fetch failed
    /// without a word from wrap. Fails before the fix: no note.
    @Test("an mcp-server-fetch entry without --allow-private-ips is noted, run directly or through uvx; with it, not")
    func fetchWithoutAllowPrivateIPsIsNoted() throws {
        let text = """
            {"mcpServers": {
              "direct": {"command": "mcp-server-fetch"},
              "viaUvx": {"command": "uvx", "args": ["mcp-server-fetch@2026.10.24"]},
              "fine": {"command": "uvx", "args": ["mcp-server-fetch", "--allow-private-ips"]},
              "other": {"command": "uvx", "args": ["mcp-server-time"]}
            }}
            """
        let plan = try wrapPlan(Array(text.utf8), .claudeDesktop)
        let noted = plan.notes.filter { $0.contains("without --allow-private-ips") }.map { String($0.prefix { $0 != ":" }) }
        #expect(noted.sorted() == ["direct", "viaUvx"], "\(plan.notes)")
        #expect(plan.items.count == 4 && plan.changed)
    }

    /// A duplicated `projects` in `~/.claude.json` was passed over in silence ("nothing to
    /// change"), while Claude Code reads the last one and runs its servers unsandboxed
    /// (red-team pass, 2026-12-03). Fails before the fix: no note.
    @Test func duplicatedProjectsIsNoted() throws {
        let text = #"""
            {"projects": {"/a": {"mcpServers": {"s1": {"command": "/bin/true"}}}},
             "projects": {"/b": {"mcpServers": {"s2": {"command": "/bin/false"}}}}}
            """#
        let plan = try wrapPlan(Array(text.utf8), .claudeCode)
        #expect(plan.notes.contains("projects: the key appears more than once; left unchanged"), "\(plan.notes)")
        #expect(!plan.changed)
    }

    /// A client reads the last of a duplicated key (`JSON.parse`); wrap must not decide from a
    /// reading the client does not share, so such an entry is skipped, whichever key it is.
    @Test("an entry with a duplicated type, url, serverUrl or env is skipped with the reason, not wrapped")
    func duplicatedDecisionKeys() throws {
        let text = #"""
            {"mcpServers": {
              "a": {"type": "stdio", "type": "sse", "command": "/bin/echo", "url": "x", "url": "y"},
              "t": {"type": "stdio", "type": "http", "command": "/bin/echo"},
              "u": {"command": "/bin/echo", "url": "https://a.example", "url": "https://b.example"},
              "s": {"command": "/bin/echo", "serverUrl": "https://a.example", "serverUrl": "https://b.example"},
              "e": {"command": "/bin/echo", "env": {"A": "1"}, "env": {"B": "2"}},
              "c": {"command": "/bin/echo", "command": "/bin/true"},
              "ok": {"type": "stdio", "command": "/bin/echo", "env": {"A": "1"}}
            }}
            """#
        let plan = try wrapPlan(Array(text.utf8), .claudeDesktop)
        let outcome = { (name: String) in plan.items.first { $0.name == name }?.outcome }
        #expect(outcome("a") == .skipped("`type`, `url` appear more than once; left unchanged"))
        #expect(outcome("t") == .skipped("`type` appears more than once; left unchanged"))
        #expect(outcome("u") == .skipped("`url` appears more than once; left unchanged"))
        #expect(outcome("s") == .skipped("`serverUrl` appears more than once; left unchanged"))
        #expect(outcome("e") == .skipped("`env` appears more than once; left unchanged"))
        #expect(outcome("c") == .skipped("`command` appears more than once; left unchanged"))
        #expect(outcome("ok") == .wrapped(profile: "ok", existing: nil))
        // Only "ok" changes.
        let v = try V.foundation(plan.updated), before = try V.foundation(Array(text.utf8))
        for name in ["a", "t", "u", "s", "e", "c"] { #expect(v["mcpServers"]?[name] == before["mcpServers"]?[name], "\(name)") }
        #expect(v["mcpServers"]?["ok"]?["command"] == .str(mcpboxPath))
    }
}

@Suite("wrap: readers of untrusted configuration files")
struct ConfigReaderTests {
    @Test("JSON strings decode every escape; positions of errors are reported")
    func jsonStrings() throws {
        let doc = try JSONC.parse(Array(#"{"a": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}"#.utf8))
        #expect(doc.member("a")?.node.stringValue == "x\"\\/\u{08}\u{0C}\n\r\té😀")
        for bad in ["{", "{\"a\" 1}", "[1,,]", "\"\\ud800\"", "\"\u{01}\"", "{\"a\": tru}", "[1] x", "/* open", "-", "1.", "01x"] {
            #expect(throws: ConfigSyntaxError.self, "\(bad)") { try JSONC.parse(Array(bad.utf8)) }
        }
        let e = try #require(throws: ConfigSyntaxError.self) { try JSONC.parse(Array("{\n  \"a\": [1 2]\n}".utf8)) }
        #expect(e.line == 2 && e.column == 11, "\(e)")
    }

    @Test("nesting deeper than 64 levels and files over 8 MiB are refused, not parsed recursively")
    func limits() throws {
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: ConfigSyntaxError.self) { try JSONC.parse(Array(deep.utf8)) }
        _ = try JSONC.parse(Array((String(repeating: "[", count: 64) + String(repeating: "]", count: 64)).utf8))
        #expect(throws: ConfigSyntaxError.self) { try TOMLDocument.parse(Array(("a = " + deep).utf8)) }
        let huge = [UInt8](repeating: 0x20, count: ConfigLimits.maxFileSize + 1)
        #expect(throws: ConfigSyntaxError.self) { try JSONC.parse(huge) }
        #expect(throws: ConfigSyntaxError.self) { try TOMLDocument.parse(huge) }
        // 100,000 nested levels: refused at 65 without touching the stack.
        let hostile = String(repeating: "{\"a\":", count: 100_000)
        #expect(throws: ConfigSyntaxError.self) { try JSONC.parse(Array(hostile.utf8)) }
    }

    @Test("TOML: tables, quoted and dotted keys, strings of every form, multi-line arrays, inline tables")
    func toml() throws {
        let text = """
            a."b c".d = 'lit' # c
            [mcp_servers."x.y"]
            command = "\\u00e9\\t"
            args = [ "1", '2', # c
              "3", ]
            env = { K = 1, "L" = { M = [1, 2] } }
            note = \"\"\"
            multi \\\"\"\" \"\"\"
            when = 1979-05-27 07:32:00Z
            [[arr]]
            v = -1.5e3
            """
        let doc = try TOMLDocument.parse(Array(text.utf8))
        #expect(doc.pairs[0].path == ["a", "b c", "d"])
        #expect(doc.headers.map(\.path) == [["mcp_servers", "x.y"], ["arr"]])
        #expect(doc.pairs.first { $0.path.last == "command" }?.value.stringValue == "é\t")
        var notes: [String] = []
        let e = try #require(try ServerEntries.read(Array(text.utf8), client: .codex, notes: &notes).first)
        #expect(e.name == "x.y" && e.args.values == ["1", "2", "3"] && e.envKeys == ["K", "L"])
        for bad in ["a = ", "[a", "a = [1", "a = \"x", "a = '''x", "a = {b = 1", "a = 1 b", "= 1"] {
            #expect(throws: ConfigSyntaxError.self, "\(bad)") { try TOMLDocument.parse(Array(bad.utf8)) }
        }
    }

    @Test("unified diff: hunks with context, insertions, deletions, no newline at the end")
    func diff() {
        let old = Array("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk".utf8)
        let new = Array("a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl".utf8)
        let d = UnifiedDiff.render(old: old, new: new, oldName: "x", newName: "y")
        #expect(d == """
            --- x
            +++ y
            @@ -1,5 +1,5 @@
             a
            -b
            +B
             c
             d
             e
            @@ -8,4 +8,5 @@
             h
             i
             j
            -k
            \\ No newline at end of file
            +k
            +l
            \\ No newline at end of file

            """)
        #expect(UnifiedDiff.render(old: old, new: old, oldName: "x", newName: "y").isEmpty)
        // Too much work for Myers within its bound: one hunk replacing the middle, still correct.
        let many = Array((0..<3000).map { "line \($0)\n" }.joined().utf8)
        let changed = Array((0..<3000).map { "LINE \($0)\n" }.joined().utf8)
        let big = UnifiedDiff.render(old: Array("top\n".utf8) + many, new: Array("top\n".utf8) + changed, oldName: "x", newName: "y")
        let lines = big.split(separator: "\n")
        #expect(lines[2] == "@@ -1,3001 +1,3001 @@")
        #expect(lines.filter { $0.hasPrefix("-line") }.count == 3000 && lines.filter { $0.hasPrefix("+LINE") }.count == 3000)
    }

    @Test("server names become safe profile names")
    func names() {
        #expect(StarterProfile.profileName(for: "git") == "git")
        #expect(StarterProfile.profileName(for: "My Server/2") == "My-Server-2")
        #expect(StarterProfile.profileName(for: "../../etc/passwd") == "etc-passwd")
        #expect(StarterProfile.profileName(for: "python") == "python-server")
        #expect(StarterProfile.profileName(for: "x.toml") == "x-toml")
        #expect(StarterProfile.profileName(for: "日本") == "server")
        #expect(StarterProfile.profileName(for: String(repeating: "a", count: 100)).count == 64)
    }
}

@Suite("wrap: starter profiles")
struct StarterProfileTests {
    /// Every starter profile wrap writes for the fixtures passes `mcpbox check`, both when the
    /// shipped server profiles exist and when nothing but the runtime families does.
    @Test("every starter profile for every fixture passes `mcpbox check`", arguments: Fixture.allCases)
    func profilesPassCheck(_ f: Fixture) throws {
        let tmp = try FixtureTree()
        defer { tmp.remove() }
        let dir = tmp.path + "/profiles"
        let shipped = ProfileLoader.sourceTreeProfiles
        for onlyFamilies in [false, true] {
            try? FileManager.default.removeItem(atPath: dir)
            let exists: (String) -> String? = { name in
                if onlyFamilies && !StarterProfile.familyNames.contains(name) { return nil }
                let p = shipped + "/" + name + ".toml"
                return FileManager.default.fileExists(atPath: p) ? p : nil
            }
            let plan = try wrapPlan(tmp.substitute(f.bytes), f.client, path: tmp.path + "/" + f.rawValue, exists: exists)
            #expect(!plan.profiles.isEmpty || !onlyFamilies)
            for p in plan.profiles {
                let path = try ProfileWriter.write(p, into: dir)
                do {
                    let (checked, _) = try ProfileSelection(profilePath: [dir]).planForCheck(path, command: [], requireCommand: false, check: true)
                    #expect(checked.profileFiles.last == path)
                } catch {
                    Issue.record("\(f.rawValue): starter profile \(p.name) fails check: \(error.diagnostics)\n\(p.text)")
                }
            }
        }
    }

    @Test("red team: Codex env as dotted keys and env_vars reach [env] pass; VS Code envFile is noted")
    func codexEnvForms() throws {
        let toml = """
            [mcp_servers.dotted]
            command = "/usr/bin/cat"
            env.FOO = "bar"
            env_vars = ["BAR", "BAZ"]

            """
        let plan = try wrapPlan(Array(toml.utf8), .codex)
        let text = try #require(plan.profiles.first?.text)
        #expect(text.contains("pass = [\"FOO\", \"BAR\", \"BAZ\"]"), "\(text)")
        let json = #"{"servers":{"s":{"type":"stdio","command":"/usr/bin/cat","envFile":"${workspaceFolder}/.env"}}}"#
        let v = try wrapPlan(Array(json.utf8), .vscode)
        #expect(v.notes.contains { $0.hasPrefix("s: `envFile`") }, "\(v.notes)")
    }

    @Test("what a starter profile recognizes: runtime, paths read-only or read-write, env, hosts")
    func recognition() throws {
        let tmp = try FixtureTree()
        defer { tmp.remove() }
        let none: (String) -> Bool = { _ in false }
        let fs = StarterProfile.make(name: "fs", server: "fs", argv: ["npx", "-y", "@modelcontextprotocol/server-filesystem", tmp.path + "/Desktop", tmp.path + "/nope"],
                                     envKeys: [], source: "/cfg", path: "/usr/bin", resolves: none)
        #expect(fs.text.contains("extends = [\"node\"]"))
        #expect(fs.text.contains("read_write = [\"\(tmp.path)/Desktop\"]"))
        #expect(fs.notes.contains("\(tmp.path)/nope: does not exist here, not bound"))
        #expect(fs.text.contains("mode = \"none\""))

        let db = StarterProfile.make(name: "db", server: "db", argv: ["python3", tmp.path + "/tools/db_server.py", "--db-path", tmp.path + "/data/new.sqlite", "--config=" + tmp.path + "/repo"],
                                     envKeys: ["TOKEN", "bad-name"], source: "/cfg", path: "/usr/bin", resolves: none)
        #expect(db.text.contains("extends = [\"python\"]"))
        #expect(db.text.contains("read_only = [\"\(tmp.path)/tools\", \"\(tmp.path)/repo\"]"))
        #expect(db.text.contains("read_write = [\"\(tmp.path)/data\"]"))
        #expect(db.text.contains("pass = [\"TOKEN\"]"))

        let web = StarterProfile.make(name: "w", server: "w", argv: ["node", tmp.path + "/weather/dist/index.js", "--api-url", "https://API.example.com:8443/v1", "--other", "http://plain.example/x"],
                                      envKeys: [], source: "/cfg", path: "/usr/bin", resolves: none)
        #expect(web.text.contains("mode = \"allow\"\nallow = [\"api.example.com:8443\", \"plain.example:80\"]"))

        let uvx = StarterProfile.make(name: "t", server: "t", argv: ["uvx", "mcp-server-time"], envKeys: [], source: "/cfg", path: "/usr/bin", resolves: { $0 == "uvx" })
        #expect(uvx.text.contains("extends = [\"uvx\"]"))
        // The uvx profile's registry allow-list stays: a starter `mode = "none"` would stop the install.
        #expect(!uvx.text.contains("[network]"), "\(uvx.text)")
        let npx = StarterProfile.make(name: "t", server: "t", argv: ["npx", "-y", "x"], envKeys: [], source: "/cfg", path: "/usr/bin", resolves: { $0 == "npx" })
        #expect(npx.text.contains("extends = [\"npx\"]"))

        let venv = try TestVenv()
        defer { venv.remove() }
        let git = StarterProfile.make(name: "g", server: "g", argv: [venv.path + "/bin/mcp-server-git", "-r", tmp.path + "/repo"], envKeys: [], source: "/cfg", path: "/usr/bin", resolves: { $0 == "git" })
        #expect(git.text.contains("extends = [\"git\"]") && !git.text.contains("[filesystem]"))
        let other = StarterProfile.make(name: "o", server: "o", argv: [venv.path + "/bin/other", "--root", tmp.path + "/repo", "/"], envKeys: [], source: "/cfg", path: "/usr/bin", resolves: none)
        #expect(other.text.contains("extends = [\"python\"]") && other.text.contains("read_write = [\"\(tmp.path)/repo\"]"))
        for odd in ["/a/../b", "/a//b", "/${HOME}/x"] {
            let p = StarterProfile.make(name: "o", server: "o", argv: ["/bin/x", odd], envKeys: [], source: "/cfg", path: "/usr/bin", resolves: none)
            #expect(!p.text.contains("[filesystem]"), "\(odd)")
        }
    }
}

/// A directory shaped like a virtualenv (`pyvenv.cfg`, `bin/`).
struct TestVenv {
    let path: String
    init() throws {
        let t = try FixtureTree()
        path = t.path
        try FileManager.default.createDirectory(atPath: path + "/bin", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: path + "/pyvenv.cfg", contents: Data("home = /usr/bin\n".utf8))
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

@Suite("wrap: locking, backup, atomic replacement, confirmation")
struct WrapFileTests {
    func write(_ path: String, _ text: String, mode: mode_t = 0o600) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        chmod(path, mode)
    }

    func contents(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }

    @Test("a second editor of the same file is refused while the first holds the lock")
    func lock() throws {
        let tmp = try FixtureTree()
        defer { tmp.remove() }
        let path = tmp.path + "/c.json"
        write(path, "{}")
        let first = try LockedConfigFile(path)
        let e = try #require(throws: ConfigFileError.self) { try LockedConfigFile(path) }
        #expect(e.description.contains("being edited by another mcpbox"))
        _ = first
    }

    @Test("replace: backup with the old bytes and mode, new inode, same mode, no temporary file left")
    func replace() throws {
        let tmp = try FixtureTree()
        defer { tmp.remove() }
        let path = tmp.path + "/c.json"
        write(path, "{\"old\": 1}\n", mode: 0o640)
        var before = stat()
        stat(path, &before)
        let f = try LockedConfigFile(path)
        let backup = try f.backup(now: 1_700_000_000)
        #expect(backup == path + ".mcpbox-backup-20231114T221320")
        let again = try f.backup(now: 1_700_000_000)
        #expect(again == path + ".mcpbox-backup-20231114T221320-2")
        try f.replace(with: Array("{\"new\": 2}\n".utf8))
        #expect(contents(path) == "{\"new\": 2}\n")
        #expect(contents(backup) == "{\"old\": 1}\n")
        var after = stat(), b = stat()
        stat(path, &after)
        stat(backup, &b)
        #expect(after.st_mode & 0o7777 == 0o640 && b.st_mode & 0o777 == 0o640)
        #expect(after.st_ino != before.st_ino)
        let left = try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.hasPrefix(".c.json.mcpbox-") }
        #expect(left.isEmpty)
    }

    static let aclTools = ["setfacl", "getfacl"].allSatisfy { tool in ["/usr/bin/", "/bin/"].contains { FileManager.default.isExecutableFile(atPath: $0 + tool) } }

    /// `getfacl`'s entries for `path` (numeric ids, no header), or nil when it fails.
    func acl(_ path: String) throws -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["getfacl", "--omit-header", "--numeric", path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }

    /// With an access ACL, a file's group mode bits are the ACL's mask: copying the mode alone
    /// gave the owning group the named user's rw and dropped the named user.
    @Test("a configuration with an access ACL: the replacement and the backup get the same ACL and mode",
          .enabled(if: aclTools, "setfacl/getfacl are not installed (apt package acl): ACL copying not tested"))
    func accessACLKept() throws {
        let tmp = try FixtureTree()
        defer { tmp.remove() }
        let path = tmp.path + "/mcp.json"
        write(path, "{\"old\": 1}\n", mode: 0o600)
        if geteuid() == 0 { chown(path, 0, 100) }
        let set = Process()
        set.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        set.arguments = ["setfacl", "-m", "u:12345:rw", path]
        try set.run()
        set.waitUntilExit()
        try #require(set.terminationStatus == 0, "setfacl failed on \(tmp.path) (a file system without ACLs?)")
        let before = try #require(try acl(path))
        #expect(before.contains("user:12345:rw-") && before.contains("group::---") && before.contains("mask::rw-"), "\(before)")
        var st = stat()
        stat(path, &st)
        let f = try LockedConfigFile(path)
        let backup = try f.backup()
        try f.replace(with: Array("{\"new\": 2}\n".utf8))
        #expect(contents(path) == "{\"new\": 2}\n")
        for p in [path, backup] {
            #expect(try acl(p) == before, "\(p)")
            var now = stat()
            stat(p, &now)
            #expect(now.st_mode & 0o7777 == st.st_mode & 0o7777 && now.st_gid == st.st_gid, "\(p): mode \(String(now.st_mode & 0o7777, radix: 8))")
        }
        // Without an ACL, none is added.
        let plain = tmp.path + "/plain.json"
        write(plain, "{}", mode: 0o640)
        let g = try LockedConfigFile(plain)
        let plainBackup = try g.backup()
        try g.replace(with: Array("{ }".utf8))
        for p in [plain, plainBackup] { #expect(try acl(p)?.contains("mask::") == false, "\(p)") }
    }

    @Test("a symlinked configuration is edited where it lives, the link stays; the owner is kept (root)")
    func symlinkAndOwner() throws {
        let tmp = try FixtureTree()
        defer { tmp.remove() }
        let target = tmp.path + "/dotfiles-c.json"
        write(target, "{\"mcpServers\": {\"a\": {\"command\": \"/bin/x\"}}}")
        let link = tmp.path + "/c.json"
        symlink(target, link)
        if geteuid() == 0 { chown(target, 65534, 65534) }
        let f = try LockedConfigFile(link)
        #expect(f.path == target)
        try f.replace(with: Array("{}".utf8))
        var l = stat(), t = stat()
        lstat(link, &l)
        stat(target, &t)
        #expect(l.st_mode & S_IFMT == S_IFLNK)
        #expect(contents(target) == "{}")
        if geteuid() == 0 { #expect(t.st_uid == 65534 && t.st_gid == 65534) }
    }

    @Test("a file its client rewrote meanwhile is not overwritten")
    func concurrentChange() throws {
        let tmp = try FixtureTree()
        defer { tmp.remove() }
        let path = tmp.path + "/c.json"
        write(path, "{}")
        let f = try LockedConfigFile(path)
        write(path + ".new", "{\"client\": true}")
        rename(path + ".new", path)
        #expect(throws: ConfigFileError.self) { try f.replace(with: Array("{\"mcpbox\": true}".utf8)) }
        #expect(contents(path) == "{\"client\": true}")
    }

    func session(_ mode: WrapSession.Mode, _ path: String, profiles: String, output: Output) -> WrapSession {
        var s = WrapSession(mode: mode, files: [.init(path: path, client: .claudeDesktop)], options: WrapOptions(mcpbox: mcpboxPath),
                            profileDirectory: profiles, existingProfile: { StarterProfile.familyNames.contains($0) ? "/x/\($0).toml" : nil })
        s.out = { output.lines.append($0) }
        s.err = { output.lines.append($0) }
        return s
    }

    final class Output: @unchecked Sendable { var lines: [String] = [] }

    @Test("no terminal and no --yes: refused, nothing written; --dry-run writes nothing; --yes writes, backs up, adds profiles; unwrap restores")
    func confirmation() throws {
        let tmp = try FixtureTree()
        defer { tmp.remove() }
        let path = tmp.path + "/claude_desktop_config.json"
        let original = String(decoding: tmp.substitute(Fixture.claudeDesktop.bytes), as: UTF8.self)
        write(path, original)
        let profiles = tmp.path + "/config/mcpbox/profiles"
        let out = Output()

        var s = session(.wrap, path, profiles: profiles, output: out)
        #expect(s.run() == 125)
        #expect(out.lines.last?.contains("stdin is not a terminal") == true)
        #expect(contents(path) == original && !FileManager.default.fileExists(atPath: profiles))

        s.interactive = true
        s.confirm = { false }
        #expect(s.run() == 1)
        #expect(contents(path) == original)

        s.dryRun = true
        #expect(s.run() == 0)
        #expect(out.lines.contains { $0.contains("+      \"command\": \"/usr/local/bin/mcpbox\",") })
        #expect(contents(path) == original && !FileManager.default.fileExists(atPath: profiles))

        s.dryRun = false
        s.yes = true
        s.interactive = false
        #expect(s.run() == 0)
        #expect(contents(path) != original)
        let written = try FileManager.default.contentsOfDirectory(atPath: profiles).sorted()
        #expect(written == ["filesystem.toml", "git.toml", "github.toml", "memory.toml", "sqlite.toml", "time.toml"])
        let backups = try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.hasPrefix("claude_desktop_config.json.mcpbox-backup-") }
        #expect(backups.count == 1)
        #expect(contents(tmp.path + "/" + backups[0]) == original)

        out.lines = []
        #expect(s.run() == 0)
        #expect(out.lines.last == "nothing to change")

        var u = session(.unwrap, path, profiles: profiles, output: out)
        u.yes = true
        #expect(u.run() == 0)
        let pre = try WrapPlanner.unwrap(path: path, client: .claudeDesktop, bytes: Array(original.utf8))
        #expect(contents(path) == String(decoding: pre.updated, as: UTF8.self))
        // Profiles stay (the user may have edited them).
        #expect(FileManager.default.fileExists(atPath: profiles + "/git.toml"))
    }

    /// What a configuration names reaches the terminal escaped: a CR in a server name, in the
    /// whitespace of a changed line or in a syntax error would return to the start of the line
    /// and overwrite what wrap says. Only the CR of a CRLF line end in the diff stays.
    @Test("a CR from the configuration is shown as ^M in the summary, the diff and errors; CRLF line ends of the diff stay")
    func carriageReturnEscaped() throws {
        let tmp = try FixtureTree()
        defer { tmp.remove() }
        let path = tmp.path + "/cr.json"
        write(path, "{\"mcpServers\": {\"evil\\r  skip     evil: a remote \u{2026}\": {\"command\": \"/bin/echo\",\r\"args\": [\"a\"]}}}\n")
        let bad = tmp.path + "/bad.json"
        write(bad, "{\"a\": \"\\\r\"}\n")
        let out = Output()
        var s = WrapSession(mode: .wrap, files: [.init(path: path, client: .claudeDesktop), .init(path: bad, client: .claudeDesktop)],
                            options: WrapOptions(mcpbox: mcpboxPath), profileDirectory: tmp.path + "/profiles", existingProfile: { _ in nil })
        s.out = { out.lines.append($0) }
        s.err = { out.lines.append($0) }
        s.dryRun = true
        #expect(s.run() == 125)
        // Lines by their bytes ("\r\n" is one Character to String.split).
        let all = Array(out.lines.joined(separator: "\n").utf8)
        #expect(!all.contains(0x0D), "\(out.lines)")
        let lines = all.split(separator: 0x0A).map { String(decoding: $0, as: UTF8.self) }
        #expect(lines.contains { $0.hasPrefix("  wrap     evil^M  skip     evil: a remote") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("+{\"mcpServers\": {\"evil\\r") && $0.contains("\"/usr/local/bin/mcpbox\",^M\"args\"") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("mcpbox: wrap: \(bad): ") && $0.contains("invalid escape \\^M") }, "\(lines)")

        // A CRLF file: every diff line keeps its CR before the LF, and no other CR is shown raw.
        let crlf = try wrapPlan(Fixture.cursorCRLF.bytes, .cursor)
        let diff = UnifiedDiff.render(old: crlf.original, new: crlf.updated, oldName: "a", newName: "b")
        let body = Array(diff.utf8).split(separator: 0x0A).filter { [0x2B, 0x2D, 0x20].contains($0.first) && !$0.starts(with: "---".utf8) && !$0.starts(with: "+++".utf8) }
        #expect(!body.isEmpty && body.allSatisfy { $0.last == 0x0D && !$0.dropLast().contains(0x0D) }, "\(diff.debugDescription)")
        #expect(!diff.contains("^M"))
        #expect(UnifiedDiff.visibleLine("a\rb\r") == "a^Mb^M" && UnifiedDiff.visibleLine("a\r\r\n") == "a^M\r\n" && UnifiedDiff.visible("x\ny") == "x^Jy")
    }

    /// `wrap --profile-path DIR` reports the profile it found in DIR; the client later runs the
    /// written args without that option, so they must carry it: `mcpbox run` given exactly the
    /// written args selects the file wrap reported (not the shipped profile of the same name,
    /// and not "not found" for a name only DIR has).
    @Test("wrap --profile-path DIR: the written args, as `mcpbox run` parses them, select the profile file wrap reported")
    func profilePathCarried() throws {
        let tmp = try FixtureTree()
        defer { tmp.remove() }
        let dir = tmp.path + "/mine"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        write(dir + "/time.toml", "extends = [\(TOML.string(ProfileLoader.sourceTreeProfiles + "/time.toml"))]\ndescription = \"mine\"\n", mode: 0o644)
        write(dir + "/only-here.toml", "description = \"only in DIR\"\n", mode: 0o644)
        let path = tmp.path + "/cfg.json"
        let original = #"{"mcpServers": {"time": {"command": "mcp-server-time"}, "only-here": {"command": "/bin/echo"}}}"#
        write(path, original)
        let out = Output()
        var s = try WrapArguments.parse(["--yes", "--profile-path", dir, path]).session(.wrap)
        s.out = { out.lines.append($0) }
        s.err = { out.lines.append($0) }
        #expect(s.run() == 0, "\(out.lines)")
        #expect(out.lines.contains { $0.contains("wrap     time → mcpbox run time --profile-path \(dir) -- …  (profile \(dir)/time.toml;") }, "\(out.lines)")

        var notes: [String] = []
        let entries = try ServerEntries.read(Array(contents(path).utf8), client: .claudeDesktop, notes: &notes)
        #expect(entries.count == 2)
        for e in entries {
            let args = e.args.values
            #expect(args.contains("--profile-path"), "\(args)")
            let run = try #require(FastRun.parse(args), "\(args)")
            let plan = try run.options.plan(run.profile, command: run.command, requireCommand: false)
            #expect(plan.profileFiles.last == dir + "/" + e.name + ".toml", "\(e.name): \(plan.profileFiles)")
        }
        // Without the option the client's mcpbox would resolve `time` to the shipped profile.
        let shipped = try ProfileSelection().plan("time", command: ["mcp-server-time"], requireCommand: false)
        #expect(shipped.profileFiles.last != dir + "/time.toml")
        // A relative DIR, as a user types it, is written absolute (the client's working directory is not ours).
        #expect(WrapArguments.givenDirectories(profilePath: ["mine:/abs", "/abs"], environment: ["MCPBOX_PROFILE_PATH": "env::x"], cwd: "/w")
            == ["/w/mine", "/abs", "/w/env", "/w/x"])
    }

    @Test("a starter profile that fails check stops wrap before any configuration changes; its profiles are removed")
    func failingProfile() throws {
        let tmp = try FixtureTree()
        defer { tmp.remove() }
        let path = tmp.path + "/claude_desktop_config.json"
        let original = String(decoding: Fixture.claudeDesktop.bytes, as: UTF8.self)
        write(path, original)
        let profiles = tmp.path + "/profiles"
        let out = Output()
        var s = session(.wrap, path, profiles: profiles, output: out)
        s.yes = true
        s.verifyProfile = { $0.hasSuffix("/github.toml") ? ["github.toml: planted error"] : [] }
        #expect(s.run() == 125)
        #expect(contents(path) == original)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: profiles))?.isEmpty ?? true)
        #expect(out.lines.contains { $0.contains("does not pass `mcpbox check`") && $0.contains("planted error") })
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.contains("mcpbox-backup") }.isEmpty)
    }
}

/// A bidirectional override in a server name reordered what wrap printed after it on the
/// terminal (`UnifiedDiff.visible` escaped controls, not bidi marks; `explain` escapes both).
/// Found by a helper; fails before the fix.
@Suite("wrap: bidirectional controls from a configuration are shown escaped")
struct WrapBidiTests {
    @Test func bidiEscaped() {
        let shown = UnifiedDiff.visible("evil\u{202E}lmth.exe\u{2066}x\u{200F}")
        #expect(shown == "evil<U+202E>lmth.exe<U+2066>x<U+200F>", "\(shown)")
        #expect(UnifiedDiff.visible("tab\tok") == "tab\tok")
    }
}
