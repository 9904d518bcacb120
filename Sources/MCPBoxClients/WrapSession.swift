#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where each client keeps its MCP configuration on Linux.
public enum ClientConfigs {
    public struct Location: Sendable, Equatable {
        public var path: String
        public var client: ClientKind

        public init(path: String, client: ClientKind) {
            self.path = path
            self.client = client
        }
    }

    /// Every place a client's configuration may be, user-wide and for the project in `cwd`.
    public static func candidates(environment env: [String: String], cwd: String) -> [Location] {
        let home = env["HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        let config = env["XDG_CONFIG_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? home.map { $0 + "/.config" }
        let codex = env["CODEX_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? home.map { $0 + "/.codex" }
        var out: [Location] = []
        if let config { out.append(Location(path: config + "/Claude/claude_desktop_config.json", client: .claudeDesktop)) }
        if let home { out.append(Location(path: home + "/.cursor/mcp.json", client: .cursor)) }
        out.append(Location(path: cwd + "/.cursor/mcp.json", client: .cursor))
        if let config { out.append(Location(path: config + "/Code/User/mcp.json", client: .vscode)) }
        out.append(Location(path: cwd + "/.vscode/mcp.json", client: .vscode))
        if let home { out.append(Location(path: home + "/.claude.json", client: .claudeCode)) }
        out.append(Location(path: cwd + "/.mcp.json", client: .claudeCode))
        if let codex { out.append(Location(path: codex + "/config.toml", client: .codex)) }
        var seen = Set<String>()
        return out.filter { seen.insert($0.path).inserted }
    }

    /// The candidates that exist as regular files.
    public static func discover(environment: [String: String], cwd: String) -> [Location] {
        candidates(environment: environment, cwd: cwd).filter {
            var st = stat()
            return stat($0.path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
        }
    }

    /// The user's profile directory: `$XDG_CONFIG_HOME/mcpbox/profiles`, else `~/.config/mcpbox/profiles`.
    public static func profileDirectory(environment env: [String: String]) -> String? {
        if let x = env["XDG_CONFIG_HOME"], x.hasPrefix("/") { return x + "/mcpbox/profiles" }
        if let h = env["HOME"], h.hasPrefix("/") { return h + "/.config/mcpbox/profiles" }
        return nil
    }

    /// The running executable's absolute path, as written into each wrapped entry: the path it
    /// was started by (argv[0], or its match on PATH) when that names the same file, so an
    /// installed symlink such as `/usr/local/bin/mcpbox` is kept; else `/proc/self/exe`.
    public static func selfExecutable(argv0: String, path: String, cwd: String) -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, Int(PATH_MAX))
        guard n > 0 else { return nil }
        let exe = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard !exe.hasSuffix(" (deleted)") else { return nil }
        var candidate: String?
        if argv0.hasPrefix("/") {
            candidate = argv0
        } else if argv0.contains("/") {
            candidate = cwd + "/" + argv0
        } else {
            candidate = StarterProfile.lookup(argv0, path: path)
        }
        var a = stat(), b = stat()
        if let c = candidate.flatMap(StarterProfile.cleanPath), stat(c, &a) == 0, stat(exe, &b) == 0, a.st_ino == b.st_ino, a.st_dev == b.st_dev {
            return c
        }
        return exe
    }
}

/// One `mcpbox wrap` or `unwrap` run over one or more files: plan everything, show the diff,
/// ask (or not), write profiles, then each file (locked, backed up, replaced atomically).
public struct WrapSession {
    public enum Mode: Sendable { case wrap, unwrap }

    public var mode: Mode
    public var files: [ClientConfigs.Location]
    public var options: WrapOptions
    public var profileDirectory: String
    public var existingProfile: (String) -> String?
    /// The `mcpbox run` options an entry running profile NAME needs (see `WrapPlanner.wrap`).
    public var runOptions: (String) -> [String] = { _ in [] }
    public var dryRun = false
    public var yes = false
    /// Whether stdin is a terminal (a question can be asked).
    public var interactive = false
    public var confirm: () -> Bool = { false }
    /// Checks a written starter profile the way `mcpbox check` does; returns its errors.
    public var verifyProfile: (String) -> [String] = { _ in [] }
    public var out: (String) -> Void = { print($0) }
    public var err: (String) -> Void = { print($0) }

    public init(mode: Mode, files: [ClientConfigs.Location], options: WrapOptions, profileDirectory: String,
                existingProfile: @escaping (String) -> String?) {
        self.mode = mode
        self.files = files
        self.options = options
        self.profileDirectory = profileDirectory
        self.existingProfile = existingProfile
    }

    /// Runs it; returns the exit status: 0 done (or nothing to do), 1 declined, 125 refused or failed.
    public func run() -> Int32 {
        let verb = mode == .wrap ? "wrap" : "unwrap"
        var failed = false
        var plans: [(FilePlan, LockedConfigFile?)] = []
        var reserved: [String: String] = [:]
        for f in files {
            let bytes: [UInt8]
            var locked: LockedConfigFile?
            do {
                if dryRun {
                    bytes = try LockedConfigFile.readFile(f.path)
                } else {
                    let l = try LockedConfigFile(f.path)
                    locked = l
                    bytes = l.bytes
                }
            } catch {
                err(UnifiedDiff.visible("mcpbox: \(verb): \(error)"))
                failed = true
                continue
            }
            do {
                let plan = mode == .wrap
                    ? try WrapPlanner.wrap(path: f.path, client: f.client, bytes: bytes, options: options,
                                           existingProfile: existingProfile, reserved: &reserved, runOptions: runOptions)
                    : try WrapPlanner.unwrap(path: f.path, client: f.client, bytes: bytes, servers: options.servers, isSelf: options.isSelf)
                // What wrap writes, wrap and unwrap must read back (their size limit).
                guard plan.updated.count <= ConfigLimits.maxFileSize else {
                    err(UnifiedDiff.visible("mcpbox: \(verb): \(f.path): the result would be larger than \(ConfigLimits.maxFileSize >> 20) MiB, more than wrap and unwrap read; left unchanged"))
                    failed = true
                    continue
                }
                plans.append((plan, locked))
            } catch {
                err(UnifiedDiff.visible("mcpbox: \(verb): \(f.path): \(error); left unchanged"))
                failed = true
            }
        }

        for (plan, _) in plans {
            // A symlinked configuration is edited where it points: say where.
            let real = realpath(plan.path, nil).map { p in defer { free(p) }; return String(cString: p) }
            let shown = real.map { $0 != plan.path ? "\(plan.path) (a symlink: the file edited is \($0))" : plan.path } ?? plan.path
            out(UnifiedDiff.visible("\(shown) (\(plan.client.rawValue)):"))
            if plan.items.isEmpty { out(UnifiedDiff.visible("  no \(mode == .wrap ? "local" : "wrapped") servers\(options.servers.isEmpty ? "" : " named " + options.servers.sorted().joined(separator: ", "))")) }
            for item in plan.items {
                let line: String
                switch item.outcome {
                case .wrapped(let p, let existing):
                    line = "wrap     \(item.name) → mcpbox run \(([p] + item.runOptions).joined(separator: " ")) -- …" + (existing.map { "  (profile \($0); check that it fits this server)" } ?? "  (new starter profile \(profileDirectory)/\(p).toml)")
                case .unwrapped(let p): line = "unwrap   \(item.name) (was mcpbox run \(p))"
                case .skipped(let why): line = "skip     \(item.name): \(why)"
                }
                out(UnifiedDiff.visible("  " + line + (item.location.hasPrefix("projects[") ? "  [\(item.location)]" : "")))
            }
            for n in plan.notes { out(UnifiedDiff.visible("  note: " + n)) }
        }
        let changed = plans.filter { $0.0.changed }
        let profiles = plans.flatMap { $0.0.profiles }
        for (plan, _) in changed {
            emit(UnifiedDiff.render(old: plan.original, new: plan.updated, oldName: plan.path, newName: plan.path))
        }
        for p in profiles {
            emit(UnifiedDiff.render(old: [], new: Array(p.text.utf8), oldName: "/dev/null", newName: profileDirectory + "/" + p.name + ".toml"))
        }
        guard !changed.isEmpty else {
            out("nothing to change")
            return failed ? 125 : 0
        }
        if dryRun {
            out("dry run: nothing written")
            return failed ? 125 : 0
        }
        if !yes {
            guard interactive else {
                err("mcpbox: \(verb): stdin is not a terminal, so mcpbox cannot ask before changing \(changed.count) file\(changed.count == 1 ? "" : "s"); nothing written. Run with --yes to apply the diff above, or --dry-run to only show it")
                return 125
            }
            guard confirm() else {
                out("nothing written")
                return 1
            }
        }
        // Every profile is written and checked before any configuration points at it; on a
        // failure the profiles of this run are removed again and no configuration changes.
        var written: [String] = []
        for p in profiles {
            do {
                var path = try ProfileWriter.write(p, into: profileDirectory)
                written.append(path)
                var problems = verifyProfile(path)
                if !problems.isEmpty, let plain = p.textWithoutCwd {
                    // The entry's cwd made it fail (an account that may not enter it, credentials
                    // inside): the same profile without it, rather than no wrap at all.
                    unlink(path)
                    written.removeLast()
                    var without = p
                    without.text = plain
                    without.textWithoutCwd = nil
                    path = try ProfileWriter.write(without, into: profileDirectory)
                    written.append(path)
                    let first = problems.first ?? ""
                    problems = verifyProfile(path)
                    if problems.isEmpty {
                        out(UnifiedDiff.visible("note: \(p.name): the entry's cwd is left out of its profile: with it, `mcpbox check` says: \(first)"))
                    }
                }
                guard problems.isEmpty else {
                    err("mcpbox: \(verb): the starter profile \(UnifiedDiff.visible(path)) does not pass `mcpbox check`:\n" + problems.map { "  " + $0 }.joined(separator: "\n"))
                    throw ConfigFileError("a starter profile does not pass `mcpbox check`")
                }
                out(UnifiedDiff.visible("wrote profile \(path)"))
            } catch {
                err(UnifiedDiff.visible("mcpbox: \(verb): \(error); no configuration file changed"))
                for w in written { unlink(w) }
                return 125
            }
        }
        for (plan, locked) in changed {
            guard let locked else { continue }
            do {
                try locked.checkUnchanged()
                let backup = try locked.backup()
                try locked.replace(with: plan.updated)
                out(UnifiedDiff.visible("updated \(plan.path) (backup \(backup))"))
            } catch {
                err(UnifiedDiff.visible("mcpbox: \(verb): \(error)"))
                failed = true
            }
        }
        return failed ? 125 : 0
    }
}

extension WrapSession {
    /// Writes a block that ends in a newline through `out` (which adds its own).
    func emit(_ s: String) {
        guard !s.isEmpty else { return }
        out(s.hasSuffix("\n") ? String(s.dropLast()) : s)
    }
}
