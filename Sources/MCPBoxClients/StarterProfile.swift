import MCPBoxCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The starter profile `wrap` writes for a server that has none: chosen from what the server's
/// command line shows, never wider than what it names. What it recognizes:
///
/// - runtime: `uvx`/`uv` → the `uvx` profile when one resolves, else `python`; `npx`/`bunx` →
///   `npx`, else `node`; `python*`, a command inside a virtualenv (a `pyvenv.cfg` above its `bin`)
///   or with a python shebang → `python`; `node`/`nodejs` or a node shebang → `node`; else `base`.
/// - known servers (`mcp-server-time`, `mcp-server-git`, `mcp-server-fetch`, run directly or from
///   a virtualenv): extend the shipped profile of that name when it resolves (it already knows
///   the server's paths and network).
/// - absolute paths in the arguments (`/x`, `--flag /x`, `--flag=/x`): bound read-only, or
///   read-write when the flag's name says the server writes there (`readWriteFlags`), or for the
///   filesystem server's directory arguments; an interpreter's script: its directory, read-only.
/// - network: `none`, except for the hosts of `http(s)://` URLs in the arguments and the
///   `knownHosts` table; then `allow` with exactly those hosts. Extending `uvx`/`npx`: that
///   profile's registry only (the tool installs the server), plus those hosts.
/// - the names the entry's `env` sets are passed through (mcpbox clears every other variable).
public struct StarterProfile: Sendable, Equatable {
    public var name: String
    public var text: String
    /// What was recognized, and what was left out and why; one line each.
    public var notes: [String]
    /// The profile it extends (what its resolution depends on besides itself).
    public var extends = "base"
    /// The same profile without the entry's `cwd` (and its bind), when it has one: written
    /// instead when the profile with it does not pass `mcpbox check` (an account that may not
    /// enter it, credentials inside), rather than failing the whole wrap.
    public var textWithoutCwd: String?

    /// Flag names (without dashes, lower case) whose path argument the server writes to.
    public static let readWriteFlags: Set<String> = [
        "repository", "repo", "r", "db-path", "db", "database", "root", "workspace", "workspace-dir", "output", "output-dir",
        "out", "o", "write", "writable", "allowed-dir", "allowed-dirs", "allowed-directory", "data-dir", "storage", "storage-path",
        "cache-dir", "vault", "notes-dir", "project", "project-dir",
    ]

    /// Servers known to need these hosts (package or command name → host:port).
    public static let knownHosts: [String: [String]] = [
        "@modelcontextprotocol/server-github": ["api.github.com:443"],
        "github-mcp-server": ["api.github.com:443"],
        "@modelcontextprotocol/server-brave-search": ["api.search.brave.com:443"],
        "@modelcontextprotocol/server-slack": ["slack.com:443"],
    ]

    /// Servers whose every directory argument is one they read and write.
    static let filesystemServers: Set<String> = ["@modelcontextprotocol/server-filesystem", "mcp-server-filesystem"]

    /// Shipped profiles for exactly these servers (command or package name → profile).
    static let knownProfiles: [String: String] = ["mcp-server-time": "time", "mcp-server-git": "git", "mcp-server-fetch": "fetch"]

    /// Profile names that are runtime families, never a server's own profile.
    public static let familyNames: Set<String> = ["base", "python", "node", "uvx", "npx"]

    /// A profile name for a server name: letters, digits, `.`, `_`, `-`; a family name gets `-server`.
    public static func profileName(for server: String) -> String {
        var out = ""
        for c in server.unicodeScalars {
            let ok = (c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c))) || c == "_" || c == "-" || c == "."
            if ok { out.unicodeScalars.append(c) } else if !out.hasSuffix("-") { out += "-" }
        }
        while let f = out.first, f == "." || f == "-" { out.removeFirst() }
        while out.hasSuffix("-") || out.hasSuffix(".") { out.removeLast() }
        if out.count > 64 { out = String(out.prefix(64)) }
        if out.isEmpty { out = "server" }
        if out.hasSuffix(".toml") { out = String(out.dropLast(5)) + "-toml" }
        if familyNames.contains(out) { out += "-server" }
        return out
    }

    /// The server `argv` starts: the package a launcher runs, the first argument that is not a
    /// flag (`npx -y @x/y@1.2` → `@x/y`), else the command's file name.
    static func serverID(_ argv: [String]) -> String {
        let base = basename(argv.first ?? "")
        let args = argv.dropFirst()
        if ["uvx", "npx", "bunx", "pipx"].contains(base) || (base == "uv" && args.first == "run") {
            if let p = args.first(where: { !$0.hasPrefix("-") && $0 != "run" }) {
                var name = p
                if let at = name.dropFirst().firstIndex(of: "@") { name = String(name[..<at]) }
                if let eq = name.firstIndex(of: "=") { name = String(name[..<eq]) }
                return name
            }
        }
        return base
    }

    /// The starter profile for `argv` (the client's command and arguments).
    /// `resolves` says whether a profile NAME exists on mcpbox's search path; `path` is the PATH
    /// used to find a bare command (the client's, as far as mcpbox can tell: its own).
    public static func make(name: String, server: String, argv: [String], envKeys: [String], cwd: String? = nil, source: String,
                            path: String, resolves: (String) -> Bool) -> StarterProfile {
        var notes: [String] = []
        let command = argv.first ?? ""
        let args = Array(argv.dropFirst())
        let base = basename(command)
        let resolved = command.hasPrefix("/") ? command : lookup(command, path: path)
        let interpreter = base.hasPrefix("python") || base == "node" || base == "nodejs" || base == "deno" || base == "bun"

        let serverID = serverID(argv)

        var extends: String
        switch base {
        case "uvx", "uv", "pipx":
            extends = resolves("uvx") ? "uvx" : "python"
            notes.append(extends == "uvx" ? "`\(base)`: extends the uvx profile" : "`\(base)`: extends python (no `uvx` profile found: uvx needs the network and a cache to install the server; install one or use the server's own virtualenv)")
        case "npx", "bunx":
            extends = resolves("npx") ? "npx" : "node"
            notes.append(extends == "npx" ? "`\(base)`: extends the npx profile" : "`\(base)`: extends node (no `npx` profile found: npx needs the network and a cache to install the server; install one or run the installed server with node)")
        case "node", "nodejs":
            extends = "node"
            notes.append("`\(base)`: extends node")
        case _ where base.hasPrefix("python"):
            extends = "python"
            if let r = resolved, let venv = virtualenv(of: r) {
                notes.append("`\(base)` of the virtualenv \(venv): extends python, which binds it read-only")
            } else {
                notes.append("`\(base)`: extends python")
            }
        default:
            if let r = resolved, let venv = virtualenv(of: r) {
                extends = "python"
                notes.append("a Python virtualenv (\(venv)): extends python, which binds it read-only")
            } else if let r = resolved, let interp = shebang(r), interp.contains("python") {
                extends = "python"
                notes.append("a Python script: extends python")
            } else if let r = resolved, let interp = shebang(r), interp.contains("node") {
                extends = "node"
                notes.append("a Node.js script: extends node")
            } else {
                extends = "base"
                notes.append("`\(base)`: no runtime recognized, extends base (the system's /usr and libraries)")
                if resolved == nil { notes.append("`\(command)` is not found on this PATH: the profile may need more binds") }
            }
        }

        var readOnly: [String] = []
        var readWrite: [String] = []
        var hosts: [String] = knownHosts[serverID] ?? []
        if !hosts.isEmpty { notes.append("\(serverID) needs \(hosts.joined(separator: ", "))") }
        var known: String?
        if !["uvx", "npx", "bunx", "pipx", "uv"].contains(base), let k = knownProfiles[serverID], resolves(k) {
            known = k
            extends = k
            notes = ["\(serverID): extends the `\(k)` profile made for it"]
        }

        if known == nil {
            var sawScript = false
            var i = 0
            while i < args.count {
                let a = args[i]
                var flag: String?
                var value = a
                if a.hasPrefix("-"), let eq = a.firstIndex(of: "=") {
                    flag = String(a[..<eq])
                    value = String(a[a.index(after: eq)...])
                } else if i > 0, args[i - 1].hasPrefix("-"), !args[i - 1].contains("=") {
                    flag = args[i - 1]
                }
                i += 1
                if let url = hostOfURL(value) {
                    if !hosts.contains(url) { hosts.append(url); notes.append("URL argument: allows \(url)") }
                    continue
                }
                guard value.hasPrefix("/") else {
                    if value.hasPrefix("~") || value.hasPrefix("$") { notes.append("`\(value)`: not an absolute path, not bound (edit the profile)") }
                    continue
                }
                guard let path = cleanPath(value) else {
                    notes.append("`\(value)`: not bound (only clean absolute paths without `..`, `//` or `$` are written; edit the profile)")
                    continue
                }
                if interpreter && !sawScript && flag == nil {
                    sawScript = true
                    let dir = dirname(path)
                    if dir != "/" && isSystem(dir) == false { readOnly.append(dir); notes.append("\(path): the script, its directory bound read-only") }
                    continue
                }
                if isSystem(path) { continue }
                if runtimeDirs.contains(where: { Paths.isWithin(path, $0) }) {
                    notes.append("\(path): a runtime directory (its sockets — the session bus, agents, docker — would be reachable from the sandbox), not bound")
                    continue
                }
                let flagName = flag.map { String($0.drop(while: { $0 == "-" })).lowercased() }
                let writes = flagName.map { readWriteFlags.contains($0) } ?? filesystemServers.contains(serverID)
                var st = stat()
                let exists = stat(path, &st) == 0
                let type = st.st_mode & S_IFMT
                if exists && type != S_IFDIR && type != S_IFREG {
                    // A socket stays reachable through a read-only bind (`connect` needs no write
                    // permission on a bind's mount flags): `/run/user/UID/bus`, an ssh agent, the
                    // docker socket. Devices and FIFOs are no server's files either.
                    let what = type == S_IFSOCK ? "a socket (whatever listens on it would be reachable from the sandbox, read-only bind or not)"
                        : type == S_IFIFO ? "a FIFO" : "a device"
                    notes.append("\(path): \(what), not bound (bind it yourself only if the server must reach it)")
                    continue
                }
                if writes {
                    if exists {
                        readWrite.append(path)
                        notes.append("\(flag ?? "argument") \(path): read-write")
                    } else if flag != nil, stat(dirname(path), &st) == 0, dirname(path) != "/", !isSystem(dirname(path)) {
                        // A file the server creates (--db-path, --output): its directory.
                        readWrite.append(dirname(path))
                        notes.append("\(flag ?? "argument") \(path): does not exist yet, its directory \(dirname(path)) read-write")
                    } else {
                        notes.append("\(path): does not exist here, not bound")
                    }
                } else if exists {
                    readOnly.append(path)
                    notes.append("\(flag.map { $0 + " " } ?? "")\(path): read-only")
                } else {
                    notes.append("\(path): does not exist here, not bound")
                }
            }
        }
        // The client's `cwd` for the server: the sandbox starts it there (a relative script or
        // file argument is found as the client finds it), the directory (its real path) bound
        // read-only unless a read-write bind already holds it. Never the home or a directory
        // holding it, one holding credentials, `/`, a top-level directory or a system one.
        var workdir: String?
        var cwdBound = false
        var cwdNote: String?
        if let c = cwd, !c.isEmpty {
            let real = cleanPath(c).flatMap { p in realpath(p, nil).map { r in defer { free(r) }; return String(cString: r) } }
            let home = getenv("HOME").flatMap { realpath($0, nil) }.map { r in defer { free(r) }; return String(cString: r) }
            var st = stat()
            if let dir = real, stat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
                let systemDirs = ["/etc", "/proc", "/sys", "/dev", "/boot", "/root", "/var/lib", "/var/log"] + runtimeDirs
                if Paths.components(dir).count < 2 || systemDirs.contains(where: { Paths.isWithin(dir, $0) }) {
                    notes.append("cwd \(dir): not applied (a top-level or system directory, which a bind would expose whole; the server starts in the sandbox's home)")
                } else if home.map({ Paths.isWithin($0, dir) }) == true
                            || GrantChecks.credentials.contains(where: { access(dir + "/" + $0, F_OK) == 0 }) {
                    notes.append("cwd \(dir): not applied (it holds your home directory or credentials, which a bind would expose; the server starts in the sandbox's home)")
                } else {
                    workdir = dir
                    if isSystem(dir) {
                        cwdNote = "cwd \(dir): the server starts there"
                    } else if readWrite.contains(where: { Paths.isWithin(dir, $0) }) {
                        cwdNote = "cwd \(dir): the server starts there (inside a read-write bind)"
                    } else {
                        cwdBound = !readOnly.contains(dir)
                        readOnly.append(dir)
                        cwdNote = "cwd \(dir): the server starts there, bound read-only"
                    }
                }
            } else {
                notes.append("cwd `\(c)`: not an existing clean absolute directory here, not applied (the server starts in the sandbox's home; edit the profile's `cwd`)")
            }
        }
        readWrite = unique(readWrite)
        readOnly = unique(readOnly).filter { !readWrite.contains($0) }
        let pass = unique(envKeys.filter(isVariableName))
        for k in envKeys where !isVariableName(k) { notes.append("env \(k): not a variable name, not passed") }
        if serverID == "mcp-server-fetch" && known == nil {
            notes.append("mcp-server-fetch: network \"allow\" with no hosts yet; add the hosts it may fetch, and give the server --allow-private-ips (see the shipped fetch profile)")
        }
        let allowMode = !hosts.isEmpty || (serverID == "mcp-server-fetch" && known == nil)

        let entryWorkdir = workdir
        func render(withCwd: Bool) -> (String, [String]) {
            var notes = notes
            let workdir = withCwd ? entryWorkdir : nil
            let readOnly = withCwd || !cwdBound ? readOnly : readOnly.filter { $0 != entryWorkdir }
            if withCwd, let n = cwdNote { notes.append(n) }
            if !withCwd, let w = entryWorkdir {
                notes.append("cwd \(w): not applied (with it the profile does not pass `mcpbox check`; the server starts in the sandbox's home)")
            }
            var t = "# Starter profile written by `mcpbox wrap` for the server \(TOML.string(server)) of \(TOML.string(source)).\n"
            t += "# Recognized:\n"
            for n in notes { t += "#   " + oneLine(n) + "\n" }
            t += "# Review it with `mcpbox explain \(name) -- COMMAND...`; wrap never overwrites it.\n"
            t += "description = \(TOML.string("starter profile for the MCP server " + server + " (mcpbox wrap)"))\n"
            t += "extends = [\(TOML.string(extends))]\n"
            if let w = workdir { t += "cwd = \(TOML.string(w))\n" }
            if known == nil {
                if !readOnly.isEmpty || !readWrite.isEmpty {
                    t += "\n[filesystem]\n"
                    if !readOnly.isEmpty { t += "read_only = [\(readOnly.map(TOML.string).joined(separator: ", "))]\n" }
                    if !readWrite.isEmpty { t += "read_write = [\(readWrite.map(TOML.string).joined(separator: ", "))]\n" }
                }
                if !pass.isEmpty { t += "\n[env]\npass = [\(pass.map(TOML.string).joined(separator: ", "))]\n" }
                if extends == "uvx" || extends == "npx" {
                    // The package profile's own allow-list (its registry only) stays: the tool installs
                    // the server on the first launch; hosts the server needs are added to it.
                    if !hosts.isEmpty { t += "\n[network]\nallow = [\(hosts.map(TOML.string).joined(separator: ", "))]\n" }
                } else {
                    t += "\n[network]\n"
                    t += allowMode ? "mode = \"allow\"\nallow = [\(hosts.map(TOML.string).joined(separator: ", "))]\n" : "mode = \"none\"\n"
                }
            } else {
                if let w = workdir, cwdBound { t += "\n[filesystem]\nread_only = [\(TOML.string(w))]\n" }
                if !pass.isEmpty { t += "\n[env]\npass = [\(pass.map(TOML.string).joined(separator: ", "))]\n" }
            }
            return (t, notes)
        }
        let (t, shownNotes) = render(withCwd: true)
        var profile = StarterProfile(name: name, text: t, notes: shownNotes, extends: extends)
        if workdir != nil { profile.textWithoutCwd = render(withCwd: false).0 }
        return profile
    }


    static func oneLine(_ s: String) -> String {
        String(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
    }

    static func unique(_ xs: [String]) -> [String] {
        var seen = Set<String>()
        return xs.filter { seen.insert($0).inserted }
    }

    static func isVariableName(_ s: String) -> Bool {
        guard let f = s.unicodeScalars.first, f.isASCII, f.properties.isAlphabetic || f == "_" else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }
    }

    /// Trees every profile family already binds read-only (`base`): not repeated.
    /// Runtime directories: their sockets (the session bus, agents, docker) are reachable through
    /// any bind of them, read-only or not.
    static let runtimeDirs = ["/run", "/var/run"]

    static func isSystem(_ path: String) -> Bool {
        ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/proc", "/dev", "/sys"].contains { Paths.isWithin(path, $0) }
    }

    /// `path` when it is absolute, without `.`/`..` parts, `//`, a trailing `/` or `$` (a profile variable), else nil.
    static func cleanPath(_ path: String) -> String? {
        guard path.hasPrefix("/"), path != "/", !path.contains("$"), !path.contains("//"),
              !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return nil }
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        let parts = trimmed.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard parts.allSatisfy({ $0 != "." && $0 != ".." && !$0.isEmpty }) else { return nil }
        return trimmed
    }

    /// `host:port` of an http(s) URL argument, else nil.
    static func hostOfURL(_ s: String) -> String? {
        let lower = s.lowercased()
        let https = lower.hasPrefix("https://")
        guard https || lower.hasPrefix("http://") else { return nil }
        var rest = s.dropFirst(https ? 8 : 7)
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        guard !rest.isEmpty, !rest.hasPrefix("["),
              rest.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":") }) else { return nil }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, !parts[0].isEmpty else { return nil }
        if parts.count == 2 { return UInt16(parts[1]) != nil ? String(rest).lowercased() : nil }
        return parts[0].lowercased() + (https ? ":443" : ":80")
    }

    static func basename(_ p: String) -> String { Paths.components(p).last.map(String.init) ?? p }

    static func dirname(_ p: String) -> String {
        guard let slash = p.lastIndex(of: "/") else { return "." }
        return slash == p.startIndex ? "/" : String(p[..<slash])
    }

    /// A bare command's path on `path` (colon-separated), as execvp would find it.
    static func lookup(_ command: String, path: String) -> String? {
        guard !command.isEmpty, !command.contains("/") else { return nil }
        for dir in path.split(separator: ":") where dir.hasPrefix("/") {
            let candidate = dir + "/" + command
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// The virtualenv holding `file` (`VENV/bin/x` with `VENV/pyvenv.cfg`), else nil.
    static func virtualenv(of file: String) -> String? {
        let bin = dirname(file)
        guard basename(bin) == "bin" else { return nil }
        let venv = dirname(bin)
        return access(venv + "/pyvenv.cfg", F_OK) == 0 ? venv : nil
    }

    /// The `#!` line of `file` (at most 256 bytes), else nil.
    static func shebang(_ file: String) -> String? {
        // Only a regular file is opened: a hostile `command` naming a device (`/dev/watchdog`
        // arms it, a tape rewinds) must not be touched by planning, not even by `--dry-run`.
        var st = stat()
        guard stat(file, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        let fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var fst = stat()
        guard fstat(fd, &fst) == 0, (fst.st_mode & S_IFMT) == S_IFREG else { return nil }
        var buf = [UInt8](repeating: 0, count: 256)
        let n = read(fd, &buf, 256)
        guard n > 2, buf[0] == 0x23, buf[1] == 0x21 else { return nil }
        let line = buf[2..<n].prefix { $0 != 0x0A }
        return String(decoding: line, as: UTF8.self)
    }
}
