import MCPBoxCore

/// The MCP clients whose configuration files `wrap` knows, and how each stores its servers.
public enum ClientKind: String, CaseIterable, Sendable {
    case claudeDesktop = "claude-desktop"
    case cursor
    case vscode
    case claudeCode = "claude-code"
    case codex

    /// The file format: Codex uses TOML, the others JSON (VS Code's JSONC included).
    public var isTOML: Bool { self == .codex }

    /// The client a file most likely belongs to, from its path alone.
    public static func guess(path: String) -> ClientKind {
        let base = Paths.components(path).last.map(String.init) ?? path
        if base.hasSuffix(".toml") { return .codex }
        if base == ".claude.json" || base == ".mcp.json" { return .claudeCode }
        if path.contains("/.vscode/") || path.hasPrefix(".vscode/") || path.contains("/Code/User/") || path.contains("/Code - Insiders/User/") { return .vscode }
        if path.contains("/.cursor/") || path.hasPrefix(".cursor/") { return .cursor }
        return .claudeDesktop
    }
}

/// A string value as written in the file: its decoded value and the span of its token.
public struct StringToken: Sendable, Equatable {
    public var value: String
    public var start: Int
    public var end: Int
}

/// A server's `args` as written in the file.
public enum ArgsValue: Sendable {
    case absent
    /// An array of strings: `open`/`close` are the offsets of `[` and `]`, `keyStart` of the key.
    case strings(items: [StringToken], open: Int, close: Int, keyStart: Int, lineEnd: Int)
    case invalid(String)

    var values: [String] {
        if case .strings(let items, _, _, _, _) = self { return items.map(\.value) }
        return []
    }
}

/// One server entry of a configuration file, with the spans the editor needs.
public struct ServerEntry: Sendable {
    public var name: String
    /// Where it is, for messages: `mcpServers`, `projects["/src/app"].mcpServers`, `[mcp_servers.git]`.
    public var location: String
    public var command: StringToken?
    /// Why `command` cannot be used (not a string, duplicated), when it is present.
    public var commandProblem: String?
    public var args: ArgsValue = .absent
    /// The names the entry's `env` sets (passed through to the sandbox by the starter profile),
    /// and those Codex's `env_vars` forwards from the client's environment.
    public var envKeys: [String] = []
    /// The working directory the client starts the server in (`cwd`), when it is a string.
    public var cwd: String?
    /// What the entry sets that the starter profile cannot carry (`envFile`), one line each.
    public var entryNotes: [String] = []
    /// A `url`/`serverUrl` or `type` http/sse entry: nothing to wrap.
    public var isRemote = false
    /// TOML only: the end of the line holding `command` (where a missing `args` is inserted).
    public var commandLineEnd = 0
    public var isTOML = false

    /// The argv the client runs today.
    public var argv: [String]? { command.map { [$0.value] + args.values } }
}

/// Reads the server entries of a configuration file.
public enum ServerEntries {
    /// Every server entry of `bytes`, read as `client`'s format; a problem with the file as a whole
    /// (syntax, no server table at all) is thrown. `notes` collects entries that cannot be read.
    public static func read(_ bytes: [UInt8], client: ClientKind, notes: inout [String]) throws(ConfigSyntaxError) -> [ServerEntry] {
        client.isTOML ? try toml(bytes, notes: &notes) : try json(bytes, client: client, notes: &notes)
    }

    static let remoteTypes: Set<String> = ["http", "sse", "streamable-http", "streamableHttp", "streamable_http", "ws", "websocket"]

    static func json(_ bytes: [UInt8], client: ClientKind, notes: inout [String]) throws(ConfigSyntaxError) -> [ServerEntry] {
        let root = try JSONC.parse(bytes)
        guard case .object = root.value else { throw ConfigSyntaxError("the file is not a JSON object", offset: root.start, in: bytes) }
        var tables: [(String, JSONNode)] = []
        func add(_ key: String, in node: JSONNode, label: String) {
            if node.hasDuplicate(key) { notes.append("\(label)\(key): the key appears more than once; left unchanged") }
            if let m = node.member(key) { tables.append((label + key, m.node)) }
        }
        switch client {
        case .vscode:
            add("servers", in: root, label: "")
            if tables.isEmpty { add("mcpServers", in: root, label: "") }
        case .claudeCode:
            add("mcpServers", in: root, label: "")
            // A duplicated `projects` has no member (`member`), while Claude Code reads the last:
            // its servers would stay unwrapped without a word (red-team pass, 2026-12-03).
            if root.hasDuplicate("projects") { notes.append("projects: the key appears more than once; left unchanged") }
            if let projects = root.member("projects"), case .object(let ps) = projects.node.value {
                for p in ps { add("mcpServers", in: p.node, label: "projects[\(TOML.string(p.key))].") }
            }
        default:
            add("mcpServers", in: root, label: "")
            if tables.isEmpty { add("servers", in: root, label: "") }
        }
        var entries: [ServerEntry] = []
        for (label, table) in tables {
            guard case .object(let servers) = table.value else {
                notes.append("\(label) is not an object; left unchanged")
                continue
            }
            for s in servers {
                guard case .object = s.node.value else {
                    notes.append("\(label)[\(TOML.string(s.key))] is not an object; left unchanged")
                    continue
                }
                entries.append(jsonEntry(s.key, s.node, location: label))
            }
        }
        return entries
    }

    /// The keys of a JSON entry that wrap's decision reads: a duplicate of any of them is skipped,
    /// since `member` sees none of a duplicated key while a client reads the last one (a second
    /// `"type": "sse"` or `"url"` makes a remote server; a second `env` sets other variables).
    static let decisionKeys = ["command", "args", "type", "url", "serverUrl", "env"]

    static func jsonEntry(_ name: String, _ node: JSONNode, location: String) -> ServerEntry {
        var e = ServerEntry(name: name, location: location)
        if node.member("url") != nil || node.member("serverUrl") != nil { e.isRemote = true }
        if let t = node.member("type")?.node.stringValue, remoteTypes.contains(t) { e.isRemote = true }
        let duplicated = decisionKeys.filter { node.hasDuplicate($0) }
        if !duplicated.isEmpty {
            e.commandProblem = duplicated.map { "`\($0)`" }.joined(separator: ", ") + (duplicated.count == 1 ? " appears" : " appear") + " more than once"
        } else if let c = node.member("command") {
            if let s = c.node.stringValue { e.command = StringToken(value: s, start: c.node.start, end: c.node.end) } else { e.commandProblem = "`command` is not a string" }
        }
        if let a = node.member("args") {
            if case .array(let items) = a.node.value {
                let tokens = items.compactMap { n in n.stringValue.map { StringToken(value: $0, start: n.start, end: n.end) } }
                e.args = tokens.count == items.count
                    ? .strings(items: tokens, open: a.node.start, close: a.node.end - 1, keyStart: a.keyStart, lineEnd: a.node.end)
                    : .invalid("`args` holds something other than strings")
            } else {
                e.args = .invalid("`args` is not an array")
            }
        }
        if let env = node.member("env"), case .object(let vars) = env.node.value { e.envKeys = vars.map(\.key) }
        e.cwd = node.member("cwd")?.node.stringValue
        if node.member("envFile") != nil {
            e.entryNotes.append("`envFile`: the variables the client loads from it are not passed (mcpbox clears the environment); name them in the profile's [env] pass")
        }
        return e
    }

    static func toml(_ bytes: [UInt8], notes: inout [String]) throws(ConfigSyntaxError) -> [ServerEntry] {
        let doc = try TOMLDocument.parse(bytes)
        var entries: [ServerEntry] = []
        // Names by their bytes, as TOML compares keys (`String ==` took "é" precomposed and
        // decomposed, or K and the Kelvin sign, for one server and left the second unwrapped).
        var index: [[UInt8]: Int] = [:]
        var reported = Set<[UInt8]>()
        var twice = Set<[UInt8]>()
        for (h, header) in doc.headers.enumerated() where header.path.first == "mcp_servers" && header.path.count == 2 && !header.isArray {
            let name = header.path[1]
            guard index[Array(name.utf8)] == nil else {
                if twice.insert(Array(name.utf8)).inserted {
                    notes.append("[mcp_servers.\(TOML.keySegment(name))] is defined more than once (not valid TOML); left unchanged")
                }
                continue
            }
            index[Array(name.utf8)] = entries.count
            var e = ServerEntry(name: name, location: "[mcp_servers.\(TOML.keySegment(name))]")
            e.isTOML = true
            for pair in doc.pairs where pair.header == h && pair.path.count == 4 && pair.path[2] == "env" {
                // Dotted: `env.FOO = "bar"` inside [mcp_servers.NAME].
                e.envKeys.append(pair.path[3])
            }
            for pair in doc.pairs where pair.header == h && pair.path.count == 3 {
                switch pair.path[2] {
                case "command":
                    if let s = pair.value.stringValue {
                        e.command = StringToken(value: s, start: pair.value.start, end: pair.value.end)
                        e.commandLineEnd = pair.lineEnd
                    } else {
                        e.commandProblem = "`command` is not a one-line string"
                    }
                case "args":
                    if case .array(let items) = pair.value.kind {
                        let tokens = items.compactMap { n in n.stringValue.map { StringToken(value: $0, start: n.start, end: n.end) } }
                        e.args = tokens.count == items.count
                            ? .strings(items: tokens, open: pair.value.start, close: pair.value.end - 1, keyStart: pair.keyStart, lineEnd: pair.lineEnd)
                            : .invalid("`args` holds something other than one-line strings")
                    } else {
                        e.args = .invalid("`args` is not an array")
                    }
                case "url", "bearer_token_env_var": e.isRemote = true
                case "env": if case .table(let keys) = pair.value.kind { e.envKeys += keys }
                case "env_vars":
                    // Names Codex forwards from its own environment: mcpbox passes them on from
                    // the environment the client starts it with.
                    if case .array(let items) = pair.value.kind {
                        let names = items.compactMap(\.stringValue)
                        e.envKeys += names
                        if names.count != items.count {
                            e.entryNotes.append("`env_vars`: only its plain string names are passed (an element of another form is not)")
                        }
                    } else {
                        e.entryNotes.append("`env_vars` is not an array: nothing of it is passed")
                    }
                case "cwd": e.cwd = pair.value.stringValue
                default: break
                }
            }
            entries.append(e)
        }
        // Sub-tables ([mcp_servers.NAME.env]) and servers written in another form.
        for pair in doc.pairs where pair.path.first == "mcp_servers" && pair.path.count >= 2 {
            let name = pair.path[1]
            let header = pair.header.map { doc.headers[$0].path } ?? []
            if let i = index[Array(name.utf8)] {
                if pair.path.count == 4, pair.path[2] == "env", header.count == 3, header[0] == "mcp_servers", Array(header[1].utf8) == Array(name.utf8),
                   header[2] == "env" { entries[i].envKeys.append(pair.path[3]) }
                if header.count < 2 && reported.insert(Array(name.utf8)).inserted {
                    notes.append("mcp_servers.\(TOML.keySegment(name)): keys outside its [mcp_servers.\(TOML.keySegment(name))] table; left unchanged")
                }
                continue
            }
            if reported.insert(Array(name.utf8)).inserted {
                notes.append("mcp_servers.\(TOML.keySegment(name)) is not written as a [mcp_servers.\(TOML.keySegment(name))] table; left unchanged (write it as one to wrap it)")
            }
        }
        for i in entries.indices where reported.contains(Array(entries[i].name.utf8)) {
            entries[i].commandProblem = entries[i].commandProblem ?? "some of its keys lie outside its table"
        }
        return entries.filter { !twice.contains(Array($0.name.utf8)) }
    }
}
