import MCPBoxEvents
import MCPBoxNetwork
#if canImport(Glibc)
import Glibc
#endif

/// A package tool whose per-profile download cache and registries mcpbox provides (`[packages] managers`).
public enum PackageManager: String, Sendable, Equatable, CaseIterable {
    /// uv / uvx (Python, PyPI).
    case uv
    /// npm / npx (Node, the npm registry).
    case npm
}

/// `[packages] offline`: when the tool is told to use only its cache.
public enum PackageOffline: String, Sendable, Equatable, CaseIterable {
    /// After the first session whose server exited 0 (mcpbox marks the cache as filled then).
    case auto
    /// Never: every launch asks the registry.
    case never
    /// Always: the cache only (fill it first with `offline = "auto"` or `"never"`).
    case always
}

/// What a plan gives one package tool: its cache, its registry, whether it runs offline.
public struct PackageCache: Sendable, Equatable {
    public var manager: PackageManager
    /// Host path of the cache, bound read-write at the same path; owned by the server's account, mode 0700.
    public var directory: String
    /// Beside the cache, outside every bind: written by mcpbox after a session whose server exited 0.
    /// It lists the command lines (as `commandKey`s) whose sessions did.
    public var marker: String
    /// SHA-256 (hex) of the command line's words joined by NUL: the marker's line for this launch.
    /// Per command line, not per cache: a profile shared by two packages (`uvx a`, `uvx b`) did
    /// go offline for `b` after `a` succeeded, and `b` failed, never fetched.
    public var commandKey: String
    public var registry: String
    /// Where the registry came from ("default", "environment: UV_DEFAULT_INDEX", a config file and key).
    public var registryOrigin: String
    /// The allow rules added for the registry (none unless network.mode = "allow").
    public var hosts: [String]
    public var offline: Bool
    public var offlineReason: String
    /// The variables set in the server's environment (names; values in the plan's environment).
    public var variables: [String]
}

/// Resolves `[packages]`: creates the per-profile caches and adds their binds, variables and registry rules.
public enum PackageTools {
    static let defaultRegistry: [PackageManager: String] = [.uv: "https://pypi.org/simple", .npm: "https://registry.npmjs.org/"]

    /// Where the caches live: `$XDG_CACHE_HOME/mcpbox`, else `/var/cache/mcpbox` for root and
    /// `$HOME/.cache/mcpbox` for anyone else.
    public static func cacheRoot(environment env: [String: String], callerUid: UInt32) -> String? {
        if let x = env["XDG_CACHE_HOME"], x.isAbsolutePath, let n = Paths.normalize(x) { return Paths.join(n, "mcpbox") }
        if callerUid == 0 { return "/var/cache/mcpbox" }
        if let h = env["HOME"], h.isAbsolutePath, let n = Paths.normalize(h) { return Paths.join(n, ".cache/mcpbox") }
        return nil
    }

    /// The name a profile's caches are kept under: its file name without `.toml`, then `-` and
    /// 12 hex digits of the SHA-256 of the file's real path. By the name alone, two profiles
    /// named alike in different directories (`strong/srv.toml` with a read-write project and
    /// `weak/srv.toml` with nothing) shared one cache: the weak one's server planted a `.pth`
    /// that the strong one's next session ran, inside the strong sandbox.
    static func cacheName(_ profile: Profile) -> String? {
        cacheName(profileFile: profile.files.last ?? profile.name)
    }

    /// `cacheName` of the profile file at `file` (its real path).
    public static func cacheName(profileFile file: String) -> String? {
        var n = Paths.basename(file)
        if n.hasSuffix(".toml") { n.removeLast(5) }
        let ok = !n.isEmpty && n.first != "." && n.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" || $0 == "_" || $0 == "." }
        return ok ? n + "-" + String(SHA256.hex(file).prefix(12)) : nil
    }

    /// Adds each manager's cache bind, variables and registry rules to `profile`; creates the
    /// cache directories (0700, owned by the server's account) when missing.
    /// `create` false (`check`): a missing cache is left out (listed as skipped), not created.
    /// `command`: the words the server is started with; `offline = "auto"` goes offline only for a
    /// command line that has ended a session with status 0 before.
    static func apply(_ profile: inout Profile, command: [String], host: HostContext, identity: Identity, create: Bool = true) throws(ProfileError) -> (caches: [PackageCache], warnings: [String]) {
        guard let declared = profile.packageManagers.first else { return ([], []) }
        let env = host.environmentDictionary
        guard let root = cacheRoot(environment: env, callerUid: host.callerUid) else {
            throw ProfileError(declared.diagnostic("no place for the package cache", hint: "set HOME or XDG_CACHE_HOME to an absolute path"))
        }
        guard let name = cacheName(profile) else {
            throw ProfileError(declared.diagnostic("the profile's file name \(Paths.basename(profile.files.last ?? profile.name)) cannot name a cache directory",
                                                   hint: "name the profile file with letters, digits, -, _ and . only"))
        }
        let network = profile.networkMode?.value ?? .none
        let offlineMode = profile.packageOffline?.value ?? .auto
        var caches: [PackageCache] = []
        var warnings: [String] = []
        var problems: [Diagnostic] = []
        for m in profile.packageManagers {
            let dir = Paths.join(root, "\(name)/\(m.value.rawValue)")
            let absent = !create && !HostFS.exists(dir)
            if !absent, let why = ensureDirectory(dir, root: root, uid: identity.hostUid, gid: identity.hostGid, callerUid: host.callerUid) {
                problems.append(m.diagnostic("package cache \(dir): \(why.message)", hint: why.hint))
                continue
            }
            let marker = dir + ".filled"
            let key = commandKey(command)
            let filled = markerLists(marker, key: key)
            let offline: Bool
            let reason: String
            switch offlineMode {
            case .always: (offline, reason) = (true, "packages.offline = \"always\"")
            case .never: (offline, reason) = (false, "packages.offline = \"never\"")
            case .auto:
                (offline, reason) = filled
                    ? (true, "a session of this command line ended with status 0 (listed in \(marker)); remove that file to ask the registry again")
                    : (false, "no session of this command line has ended with status 0 yet; after one, its launches use the cache only")
            }
            let registry = discoverRegistry(m.value, environment: env, home: env["HOME"])
            let url = registry?.url ?? defaultRegistry[m.value]!
            var cache = PackageCache(manager: m.value, directory: dir, marker: marker, commandKey: key, registry: redacted(url),
                                     registryOrigin: registry?.origin ?? "default", hosts: [], offline: offline, offlineReason: reason, variables: [])
            if let r = registry, let p = parseURL(r.url), !p.userinfo.isEmpty {
                warnings.append("packages: the \(m.value.rawValue) registry URL from \(r.origin) carries credentials; the server can read them")
            }
            if network == .allow {
                guard let parsed = parseURL(url) else {
                    problems.append(m.diagnostic("the \(m.value.rawValue) registry \"\(cache.registry)\" (\(cache.registryOrigin)) is not an http(s) URL",
                                                 hint: "fix that setting"))
                    continue
                }
                var hostRules = [parsed.host + ":" + String(parsed.port)]
                if registry == nil && m.value == .uv { hostRules.append("files.pythonhosted.org:443") }
                for text in hostRules {
                    switch EgressRule.parse(text, origin: "mcpbox: packages \(m.value.rawValue) registry (\(cache.registryOrigin))") {
                    case .success(let rule):
                        if !profile.networkAllow.contains(where: { $0.value.text == rule.text }) {
                            profile.networkAllow.append(Sourced(rule, file: m.file, line: m.line, key: "packages.managers"))
                        }
                        cache.hosts.append(rule.text)
                    case .failure(let e):
                        problems.append(m.diagnostic("the \(m.value.rawValue) registry \(cache.registry) (\(cache.registryOrigin)): \(e.message)", hint: e.hint))
                    }
                }
            }
            var vars: [(String, String)]
            switch m.value {
            case .uv:
                vars = [("UV_CACHE_DIR", dir)]
                if registry != nil { vars.append(("UV_DEFAULT_INDEX", url)) }
                if offline { vars.append(("UV_OFFLINE", "1")) }
            case .npm:
                vars = [("npm_config_cache", dir), ("npm_config_update_notifier", "false"), ("npm_config_audit", "false"), ("npm_config_fund", "false")]
                if registry != nil { vars.append(("npm_config_registry", url)) }
                if offline { vars.append(("npm_config_offline", "true")) }
            }
            for (k, v) in vars {
                let entry = Sourced(EnvVar(name: k, value: v, origin: "packages"), file: m.file, line: m.line, key: "packages.managers")
                if let i = profile.envSet.firstIndex(where: { $0.value.name == k }) { profile.envSet[i] = entry } else { profile.envSet.append(entry) }
            }
            cache.variables = vars.map(\.0)
            profile.readWrite.append(Sourced(PathEntry(path: dir, optional: absent), file: m.file, line: m.line, key: "packages.managers"))
            caches.append(cache)
        }
        if !problems.isEmpty { throw ProfileError(problems) }
        return (caches, warnings)
    }

    /// Creates `dir` (and the missing directories from `root` down, 0755) as the server's
    /// account's own (0700); checks an existing one is exactly that. Nil when fine.
    static func ensureDirectory(_ dir: String, root: String, uid: UInt32, gid: UInt32, callerUid: UInt32) -> (message: String, hint: String)? {
        var parents: [String] = []
        var p = Paths.dirname(dir)
        while !HostFS.exists(p) && p != "/" { parents.insert(p, at: 0); p = Paths.dirname(p) }
        for d in parents {
            // 0755 whatever the umask: the server's account traverses them to its cache.
            if mkdir(d, 0o755) == 0 { chmod(d, 0o755) } else if errno != EEXIST {
                return ("cannot create \(d): \(String(cString: strerror(errno)))", "create it, or set XDG_CACHE_HOME to a directory you may write")
            }
        }
        if HostFS.info(Paths.dirname(dir), follow: false)?.isDirectory != true {
            return ("\(Paths.dirname(dir)) is not a directory (or is a symlink)", "remove it; mcpbox creates it")
        }
        if !HostFS.exists(dir) {
            guard mkdir(dir, 0o700) == 0 || errno == EEXIST else {
                return ("cannot create it: \(String(cString: strerror(errno)))", "create its parent, or set XDG_CACHE_HOME to a directory you may write")
            }
            if uid != callerUid {
                guard callerUid == 0, lchown(dir, uid, gid) == 0 else {
                    rmdir(dir)
                    return ("it must belong to the server's account (uid \(uid)), and only root can give it that",
                            "create it once as root: install -d -m 0700 -o \(uid) -g \(gid) \(dir)")
                }
            }
        }
        guard let info = HostFS.info(dir, follow: false) else { return ("it vanished while mcpbox created it", "run again") }
        guard info.isDirectory else { return ("it is not a directory (or is a symlink)", "remove it; mcpbox creates it") }
        guard info.uid == uid else {
            return ("it belongs to uid \(info.uid), not to the server's account (uid \(uid)): another identity used this profile's cache",
                    "remove it (rm -r \(dir)) to start a fresh cache, or run the profile as that account again")
        }
        guard info.mode & 0o077 == 0 else {
            return ("its mode is \(String(info.mode & 0o7777, radix: 8)); only its owner may use it", "chmod 0700 \(dir)")
        }
        return nil
    }

    /// The marker's largest size read or added to (a line is 65 bytes: some 16,000 command lines).
    static let markerLimit = 1 << 20

    /// The marker line of a command line: no word of it is written down (an argument may be a token).
    static func commandKey(_ command: [String]) -> String {
        SHA256.hex(command.joined(separator: "\u{0}"))
    }

    /// Whether the marker at `path` (a regular file, not a symlink) lists `key`.
    static func markerLists(_ path: String, key: String) -> Bool {
        guard HostFS.info(path, follow: false)?.isRegular == true,
              let text = HostFS.readFile(path, limit: markerLimit) else { return false }
        return text.split(separator: "\n").contains { $0 == key }
    }

    /// After a session whose server exited 0: adds its command line to the marker of each cache of
    /// `plan` (`offline = "auto"`).
    public static func sessionSucceeded(_ plan: SandboxPlan) {
        for c in plan.packages where !markerLists(c.marker, key: c.commandKey) {
            let fd = open(c.marker, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, Int(st.st_size) < markerLimit - 200 else { continue }
            let head = st.st_size == 0
                ? "# command lines (SHA-256 of their words joined by NUL) whose sessions of profile \(plan.profileName) exited 0; remove this file to ask the registry again\n"
                : ""
            let text = Array((head + c.commandKey + "\n").utf8)
            _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
    }

    // MARK: Registries from the user's own configuration

    /// The registry the user's own configuration names (nil: none, the tool's default).
    static func discoverRegistry(_ m: PackageManager, environment env: [String: String], home: String?) -> (url: String, origin: String)? {
        let xdg = env["XDG_CONFIG_HOME"].flatMap { $0.isAbsolutePath ? $0 : nil } ?? home.map { Paths.join($0, ".config") }
        switch m {
        case .uv:
            for k in ["UV_DEFAULT_INDEX", "UV_INDEX_URL"] { if let v = env[k], !v.isEmpty { return (v, "environment: \(k)") } }
            for f in [xdg.map { Paths.join($0, "uv/uv.toml") }, "/etc/uv/uv.toml"].compactMap({ $0 }) {
                if let u = uvTomlIndex(f) { return (u.url, "\(f): \(u.key)") }
            }
            if let v = env["PIP_INDEX_URL"], !v.isEmpty { return (v, "environment: PIP_INDEX_URL") }
            let pipFiles = [xdg.map { Paths.join($0, "pip/pip.conf") }, home.map { Paths.join($0, ".pip/pip.conf") },
                            "/etc/xdg/pip/pip.conf", "/etc/pip.conf"].compactMap { $0 }
            for f in pipFiles { if let u = iniValue(f, key: "index-url", sections: ["global", "install"]) { return (u, "\(f): index-url") } }
        case .npm:
            for k in ["npm_config_registry", "NPM_CONFIG_REGISTRY"] { if let v = env[k], !v.isEmpty { return (v, "environment: \(k)") } }
            let user = env["npm_config_userconfig"] ?? env["NPM_CONFIG_USERCONFIG"] ?? home.map { Paths.join($0, ".npmrc") }
            for f in [user, "/usr/etc/npmrc", "/usr/local/etc/npmrc", "/etc/npmrc"].compactMap({ $0 }) {
                if let u = iniValue(f, key: "registry", sections: nil) { return (u, "\(f): registry") }
            }
        }
        return nil
    }

    /// uv.toml's default index: `index-url`, or the `[[index]]` with `default = true`.
    static func uvTomlIndex(_ file: String) -> (url: String, key: String)? {
        guard let text = HostFS.readFile(file, limit: 1 << 20), let doc = try? TOML.parse(text, file: file) else { return nil }
        if case .string(let u)? = doc["index-url"]?.value.kind { return (u, "index-url") }
        if case .array(let items)? = doc["index"]?.value.kind {
            for i in items {
                guard case .table(let t) = i.kind, case .string(let u)? = t["url"]?.value.kind, case .bool(true)? = t["default"]?.value.kind else { continue }
                return (u, "[[index]] default")
            }
        }
        return nil
    }

    /// `key = value` from an INI-style file (pip.conf, .npmrc); `sections` nil: keys outside any section.
    static func iniValue(_ file: String, key: String, sections: Set<String>?) -> String? {
        guard let text = HostFS.readFile(file, limit: 1 << 20) else { return nil }
        var section: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmedBlanks
            if line.hasPrefix("#") || line.hasPrefix(";") || line.isEmpty { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") { section = String(line.dropFirst().dropLast()); continue }
            if let sections { guard let s = section, sections.contains(s) else { continue } } else if section != nil { continue }
            guard let eq = line.firstIndex(where: { $0 == "=" || $0 == ":" && sections != nil }) else { continue }
            if line[..<eq].trimmedBlanks == key {
                let v = line[line.index(after: eq)...].trimmedBlanks
                if !v.isEmpty { return v }
            }
        }
        return nil
    }

    /// `url` with any userinfo shown as `***` (explain never prints a credential).
    static func redacted(_ url: String) -> String {
        let chars = Array(url)
        var start = 0
        for i in 0..<max(0, chars.count - 2) where chars[i] == ":" && chars[i + 1] == "/" && chars[i + 2] == "/" {
            start = i + 3
            break
        }
        guard start > 0 else { return url }
        var end = start
        while end < chars.count, chars[end] != "/", chars[end] != "?", chars[end] != "#" { end += 1 }
        guard let at = chars[start..<end].lastIndex(of: "@") else { return url }
        let head: String = String(chars[..<start])
        let tail: String = String(chars[at...])
        return head + "***" + tail
    }

    /// scheme://[userinfo@]host[:port][/path] for http and https.
    static func parseURL(_ url: String) -> (host: String, port: UInt16, userinfo: String)? {
        let lower = url.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") { scheme = "https" } else if lower.hasPrefix("http://") { scheme = "http" } else { return nil }
        var rest = Substring(url.dropFirst(scheme.count + 3))
        if let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<slash] }
        var userinfo = ""
        if let at = rest.lastIndex(of: "@") { userinfo = String(rest[..<at]); rest = rest[rest.index(after: at)...] }
        var host = rest
        var port: UInt16 = scheme == "https" ? 443 : 80
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[...close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { guard let p = UInt16(after.dropFirst()) else { return nil }; port = p }
        } else if let colon = rest.lastIndex(of: ":") {
            guard let p = UInt16(rest[rest.index(after: colon)...]) else { return nil }
            port = p
            host = rest[..<colon]
        }
        guard !host.isEmpty else { return nil }
        return (host.lowercased(), port, userinfo)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    var trimmedBlanks: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
