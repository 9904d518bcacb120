import MCPBoxCore

/// What `wrap` or `unwrap` does to one configuration file: the new bytes, what happens to each
/// entry, and the starter profiles to write. A pure function of the file and the options.
public struct FilePlan: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// Wrapped with `profile`; `existing` is the profile file when one was found, nil when a starter is written.
        case wrapped(profile: String, existing: String?)
        case unwrapped(profile: String)
        case skipped(String)
    }

    public struct Item: Sendable {
        public var name: String
        public var location: String
        public var outcome: Outcome
        /// The `mcpbox run` options written before `--` (`--profile-path DIR`), for the summary.
        public var runOptions: [String] = []
    }

    public var path: String
    public var client: ClientKind
    public var original: [UInt8]
    public var updated: [UInt8]
    public var items: [Item] = []
    /// Problems with parts of the file that were left unchanged.
    public var notes: [String] = []
    public var profiles: [StarterProfile] = []

    public var changed: Bool { original != updated }
}

public struct WrapOptions: Sendable {
    /// The command written into each entry: mcpbox's absolute path.
    public var mcpbox: String
    /// Only these server names (empty: all).
    public var servers: Set<String> = []
    /// PATH used to find a bare command when choosing a starter profile.
    public var path: String = "/usr/local/bin:/usr/bin:/bin"
    /// Whether a command names this mcpbox under another name (`/opt/mcpbox-1.2`, the path
    /// written as `mcpbox`): an entry wrapped by it is already wrapped, and unwrap restores it.
    public var isSelf: @Sendable (String) -> Bool = { _ in false }

    public init(mcpbox: String, servers: Set<String> = [], path: String = "/usr/local/bin:/usr/bin:/bin",
                isSelf: @escaping @Sendable (String) -> Bool = { _ in false }) {
        self.mcpbox = mcpbox
        self.servers = servers
        self.path = path
        let written = mcpbox
        self.isSelf = { $0 == written || isSelf($0) }
    }
}

public enum WrapPlanner {
    /// Plans `wrap` for one file. `existingProfile(NAME)` is the path of the profile NAME resolves
    /// to on mcpbox's search path, or nil; `reserved` holds profile names already planned for
    /// other files of the same run (updated). `runOptions(NAME)` are the `mcpbox run` options an
    /// entry needs so that the client's mcpbox resolves NAME (an existing profile, or what a
    /// starter extends) to the files wrap resolved it to: `--profile-path DIR` when wrap found them
    /// through a directory the client's default search lacks.
    public static func wrap(path: String, client: ClientKind, bytes: [UInt8], options: WrapOptions,
                            existingProfile: (String) -> String?, reserved: inout [String: String],
                            runOptions: (String) -> [String] = { _ in [] }) throws(ConfigSyntaxError) -> FilePlan {
        var plan = FilePlan(path: path, client: client, original: bytes, updated: bytes)
        let entries = try ServerEntries.read(bytes, client: client, notes: &plan.notes)
        var edits: [Edit] = []
        var suffixes: [String: Suffixes] = [:]
        for e in entries where options.servers.isEmpty || options.servers.contains(e.name) {
            func skip(_ why: String) { plan.items.append(.init(name: e.name, location: e.location, outcome: .skipped(why))) }
            // A `command` beside a URL or a remote `type` still runs locally in a client that
            // reads only `command` (Claude Desktop), or tries stdio first: wrapped like any other.
            if e.isRemote && e.command == nil && e.commandProblem == nil { skip("a remote (URL/HTTP/SSE) server: nothing runs locally"); continue }
            if let p = e.commandProblem { skip(p + "; left unchanged"); continue }
            guard let cmd = e.command, let argv = e.argv else { skip("no `command`; left unchanged"); continue }
            if case .invalid(let why) = e.args { skip(why + "; left unchanged"); continue }
            if cmd.value.isEmpty { skip("`command` is empty; left unchanged"); continue }
            if !cmd.value.hasPrefix("/"), cmd.value.contains("/") {
                skip("the command is the relative path `\(cmd.value)`: the sandbox does not start the server in the client's working directory, so it would not be found; write it absolute, then wrap again; left unchanged")
                continue
            }
            // The entry's `env` is mcpbox's own environment once wrapped: a variable mcpbox reads
            // would choose its profiles, homes or allowed registries (a repository's `.mcp.json`
            // setting MCPBOX_PROFILE_PATH to a directory of its own picks what the server gets).
            let steering = e.envKeys.filter(Self.steersMCPBox)
            if !steering.isEmpty {
                skip("its `env` sets \(steering.map { "`\($0)`" }.joined(separator: ", ")), which mcpbox itself reads (it chooses the profile, the homes mcpbox protects or the registries it allows), so a wrapped entry would not be sandboxed as planned; remove \(steering.count == 1 ? "it" : "them") from `env` (name what the server needs in its profile: [env] set or pass), then wrap again; left unchanged")
                continue
            }
            if EntryEditor.isMCPBox(cmd.value, or: options.isSelf) {
                if let why = Self.unlikeWrap(cmd: cmd.value, argv: Array(argv.dropFirst()), options: options) {
                    skip("already runs mcpbox, but \(why): check what it grants (`mcpbox explain`) or unwrap it and wrap again; left unchanged")
                } else {
                    skip("already wrapped")
                }
                continue
            }
            if e.isRemote {
                plan.notes.append("\(e.name): has a `command` beside a URL or a remote `type`: a client that reads `command` runs it locally, so it is wrapped too")
            }
            for n in e.entryNotes { plan.notes.append("\(e.name): \(n)") }

            let base = StarterProfile.profileName(for: e.name)
            var name = base
            var existing = existingProfile(name)
            var starter: StarterProfile?
            var starterExtends = ""
            if existing == nil {
                var s = StarterProfile.make(name: name, server: e.name, argv: argv, envKeys: e.envKeys, cwd: e.cwd, source: path,
                                            path: options.path, resolves: { existingProfile($0) != nil })
                // Two entries with one name but different needs (Claude Code projects): NAME-2, NAME-3...
                // the first that is an existing profile, free, or planned with the same body.
                let body = Self.body(s.text)
                if let other = reserved[name], other != body {
                    var known = suffixes[base] ?? Suffixes()
                    if let k = known.first[body] {
                        name = base + "-\(k)"
                    } else {
                        while true {
                            let k = known.next
                            name = base + "-\(k)"
                            existing = existingProfile(name)
                            if existing != nil { break }
                            let planned = reserved[name] ?? body
                            if known.first[planned] == nil { known.first[planned] = k }
                            known.next = k + 1
                            if planned == body { break }
                        }
                    }
                    suffixes[base] = known
                    if existing == nil {
                        s = StarterProfile.make(name: name, server: e.name, argv: argv, envKeys: e.envKeys, cwd: e.cwd, source: path,
                                                path: options.path, resolves: { existingProfile($0) != nil })
                    }
                }
                if existing == nil {
                    starterExtends = s.extends
                    if reserved[name] == nil {
                        reserved[name] = body
                        starter = s
                    }
                }
            }
            if existing != nil, let c = e.cwd {
                plan.notes.append("\(e.name): `cwd` \(TOML.string(c)) is where the client starts mcpbox; the server starts in the working directory of the profile \(name) (its `cwd`), not there")
            }
            // The command after `--` replaces the profile's (the shipped fetch profile's carries the
            // flag): without it the server's own check refuses the sandbox's fake addresses.
            if StarterProfile.serverID(argv) == "mcp-server-fetch", !argv.contains("--allow-private-ips") {
                plan.notes.append("\(e.name): mcp-server-fetch without --allow-private-ips refuses every fetch under mcpbox (allowed names resolve to fake 198.18.0.0/15 addresses inside the sandbox, which its own check takes for private ones); add --allow-private-ips to the entry's args: mcpbox's proxy refuses private addresses itself")
            }
            let extra = runOptions(existing != nil ? name : starterExtends)
            edits += EntryEditor.wrapEdits(e, profile: name, options: extra, mcpbox: options.mcpbox, in: bytes)
            if let s = starter { plan.profiles.append(s) }
            plan.items.append(.init(name: e.name, location: e.location, outcome: .wrapped(profile: name, existing: existing), runOptions: extra))
        }
        plan.updated = ConfigText.apply(edits, to: bytes)
        return plan
    }

    /// Whether an entry's `env` variable `name` is one mcpbox itself reads: its own (`MCPBOX_*`),
    /// the homes and XDG directories it finds profiles, state, caches and run-later places by,
    /// `PATH`, the identity and socket variables its checks read, and the package registries it
    /// adds to a profile's allowed hosts.
    static func steersMCPBox(_ name: String) -> Bool {
        if name.hasPrefix("MCPBOX_") { return true }
        let exact: Set<String> = ["HOME", "PATH", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
                                  "XDG_RUNTIME_DIR", "SUDO_UID", "SSH_AUTH_SOCK", "DBUS_SESSION_BUS_ADDRESS",
                                  "UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"]
        if exact.contains(name) { return true }
        let lower = name.lowercased()
        return lower == "npm_config_registry" || lower == "npm_config_userconfig"
    }

    /// Why an entry that runs mcpbox is not in the form `wrap` writes (`run NAME [--profile-path
    /// ABSOLUTE-DIR] -- …`, by this mcpbox or a bare `mcpbox`), else nil: a profile given as a
    /// file, or a relative profile directory, is chosen by the configuration's author, not found
    /// on mcpbox's search path.
    static func unlikeWrap(cmd: String, argv: [String], options: WrapOptions) -> String? {
        if cmd != "mcpbox" && !options.isSelf(cmd) { return "through `\(cmd)`, not this mcpbox (\(options.mcpbox))" }
        guard argv.first == "run", argv.count >= 2 else { return "not as `mcpbox run PROFILE -- …`" }
        if ProfileLoader.isPath(argv[1]) { return "with the profile file `\(argv[1])` the configuration chose" }
        var i = 2
        while i < argv.count, argv[i] != "--" {
            let a = argv[i]
            if a == "--profile-path", i + 1 < argv.count {
                if !argv[i + 1].hasPrefix("/") { return "with the relative profile directory `\(argv[i + 1])`" }
                i += 2
                continue
            }
            if a.hasPrefix("--profile-path=") {
                if !a.dropFirst("--profile-path=".count).hasPrefix("/") { return "with the relative profile directory `\(a)`" }
                i += 1
                continue
            }
            return "with the option `\(a)`, which wrap does not write"
        }
        return nil
    }

    /// What planning has learnt of the names NAME-2, NAME-3... of one NAME (`wrap` would look
    /// every one up again for each entry: quadratic in the entries sharing a name). Every
    /// NAME-k with 2 ≤ k < `next` is no existing profile and is planned, and `first` maps a
    /// planned body to its smallest such k. Both stay true: a plan is never changed or removed.
    struct Suffixes {
        var next = 2
        var first: [String: Int] = [:]
    }

    /// A profile's text without its comment lines (which name the file it came from).
    static func body(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("#") }.joined(separator: "\n")
    }

    /// Plans `unwrap` for one file: every wrapped entry gets its original command and args back.
    public static func unwrap(path: String, client: ClientKind, bytes: [UInt8], servers: Set<String> = [],
                              isSelf: (String) -> Bool = { _ in false }) throws(ConfigSyntaxError) -> FilePlan {
        var plan = FilePlan(path: path, client: client, original: bytes, updated: bytes)
        let entries = try ServerEntries.read(bytes, client: client, notes: &plan.notes)
        var edits: [Edit] = []
        for e in entries where servers.isEmpty || servers.contains(e.name) {
            guard e.commandProblem == nil, let (profile, _) = EntryEditor.wrapped(e, isSelf: isSelf) else {
                if let c = e.command, EntryEditor.isMCPBox(c.value, or: isSelf) {
                    plan.items.append(.init(name: e.name, location: e.location, outcome: .skipped("runs mcpbox, but not as `mcpbox run NAME -- COMMAND...`; left unchanged")))
                }
                continue
            }
            edits += EntryEditor.unwrapEdits(e, in: bytes, isSelf: isSelf)
            plan.items.append(.init(name: e.name, location: e.location, outcome: .unwrapped(profile: profile)))
        }
        plan.updated = ConfigText.apply(edits, to: bytes)
        return plan
    }
}
