/// Mercurial repositories a read-write bind exposes: what host hg would later trust and run.
///
/// Host hg runs the hooks, extensions, merge tools, pagers and `!` aliases an `.hg/hgrc` names
/// (and `.hg/hgrc-not-shared`, the files they `%include`, a share source's `hgrc`), but only from
/// a file owned by the user running it or by one `[trusted]` names: files a server running as an
/// account of its own writes are ignored, by root's hg too. So, for every repository (a
/// directory holding `.hg`) in or around a read-write bind, the plan binds read-only the
/// caller's existing configuration and every file it names inside the bind, refuses a
/// repository without `.hg/hgrc` (the server could create one), watches the other entries while
/// absent, and the sweep moves aside a new `.hg`. In caller-remap mode, or where the host's
/// configuration trusts the server's account, everything the server writes is trusted: a
/// read-write bind in or around a repository is refused there.
public enum HgProtection {
    /// Entries of `.hg` host hg reads configuration from or through: bound read-only when present.
    public static let guardedEntries = ["hgrc", "hgrc-not-shared", "sharedpath"]
    /// Entries watched while absent (moved aside after the session if they appear).
    public static let watchedEntries = ["hgrc-not-shared", "sharedpath"]
    /// Sections whose values host hg runs or loads (a command's first word, a script, a module).
    static let commandSections: Set<String> = ["hooks", "extensions", "merge-tools", "pager", "alias", "extdiff", "diff-tools"]
    /// `[ui]` keys naming a command.
    static let uiCommandKeys: Set<String> = ["editor", "merge", "ssh", "remotecmd"]
    /// Include depth and file count a scan reads at most.
    static let includeDepth = 10, includeFiles = 64

    /// What the configuration files of one repository name.
    public struct Scan: Sendable {
        /// Host paths host hg would run, load or read configuration from (resolved).
        public var named: [(path: String, key: String)] = []
        /// `[trusted]` users and groups.
        public var trustedUsers: [String] = []
        public var trustedGroups: [String] = []
        /// Files that could not be read (not missing: unreadable).
        public var unreadable: [String] = []
        /// Values mcpbox cannot resolve as hg does: an `%include` or extension path holding a
        /// variable other than `$HOME` (hg expands it from whoever runs it).
        public var problems: [String] = []
    }

    /// `s` with `$HOME`/`${HOME}` at its start as `~` (`expandHome`; elsewhere left for the
    /// word splitting that follows, which takes it as each home) and every other `$NAME` or
    /// `${NAME}` set in the caller's environment replaced by its value, as hg's
    /// `util.expandpath` (and the shell, for a hook) expands them; unset ones are left as written.
    static func expandVariables(_ s: String) -> String {
        let text = GitConfigScan.expandHome(s)
        guard text.contains("$") else { return text }
        let env = Dictionary(HostFS.environment(), uniquingKeysWith: { a, _ in a })
        let u = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        func isName(_ c: Unicode.Scalar) -> Bool { c == "_" || (c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c))) }
        while i < u.count {
            guard u[i] == "$", i + 1 < u.count else { out.append(u[i]); i += 1; continue }
            let braced = u[i + 1] == "{"
            var j = braced ? i + 2 : i + 1
            let start = j
            while j < u.count, isName(u[j]) { j += 1 }
            var nameView = String.UnicodeScalarView()
            nameView.append(contentsOf: u[start..<j])
            let name = String(nameView)
            if braced { guard j < u.count, u[j] == "}" else { out.append(u[i]); i += 1; continue }; j += 1 }
            if !name.isEmpty, name != "HOME", let value = env[name] {
                out.append(contentsOf: value.unicodeScalars)
            } else {
                out.append(contentsOf: u[i..<j])
            }
            i = j
        }
        return String(out)
    }


    /// The configuration files host hg reads before a repository's own: system-wide, and each
    /// home's `~/.hgrc` and `~/.config/hg/hgrc`.
    public static func globalFiles(homes: [String], xdgConfigHome: String?, hgrcPath: String? = nil) -> [String] {
        var files: [String] = []
        // The installation's own (`<prefix>/etc/mercurial`: `/usr/etc` for Debian's hg), then the system's.
        for etc in ["/usr/etc/mercurial", "/usr/local/etc/mercurial", "/etc/mercurial"] {
            files.append(Paths.join(etc, "hgrc"))
            files += HostFS.listDirectory(Paths.join(etc, "hgrc.d")).filter { $0.hasSuffix(".rc") }.sorted()
                .map { Paths.join(etc, "hgrc.d/" + $0) }
        }
        // `HGRCPATH` (files, and directories' `*.rc`): read as well as the usual ones, since the
        // shell host hg later runs in may or may not set it (red-team pass, 2026-12-02).
        for item in (hgrcPath ?? "").split(separator: ":").map(String.init) where item.isAbsolutePath {
            if HostFS.info(item)?.isDirectory == true {
                files += HostFS.listDirectory(item).filter { $0.hasSuffix(".rc") }.sorted().map { Paths.join(item, $0) }
            } else {
                files.append(item)
            }
        }
        for h in homes { files += [Paths.join(h, ".hgrc"), Paths.join(h, ".config/hg/hgrc")] }
        if let x = xdgConfigHome, x.isAbsolutePath { files.append(Paths.join(x, "hg/hgrc")) }
        return files
    }

    /// Reads `files` (and what they `%include`) as host hg would, collecting what they name;
    /// a relative command or extension is resolved from `repo` (hooks run at the repository's
    /// root; with no repository, nil, it names a place in whichever one hg runs in, and is
    /// skipped), a relative include from its including file, `~` from each of `homes`.
    public static func scan(_ files: [String], repo: String?, homes: [String]) -> Scan {
        var s = Scan()
        var read = 0
        func add(_ path: String, _ key: String) {
            if !s.named.contains(where: { Paths.same($0.path, path) }) { s.named.append((path, key)) }
        }
        func visit(_ file: String, depth: Int) {
            guard depth <= includeDepth, read < includeFiles else { return }
            guard HostFS.info(file) != nil else { return }
            guard let text = HostFS.readFile(file, limit: 1 << 20) else { s.unreadable.append(file); return }
            read += 1
            var section = "", key: String?, value = ""
            func flush() {
                defer { key = nil; value = "" }
                guard let k = key else { return }
                if section == "trusted" {
                    let items = value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init)
                    if k == "users" { s.trustedUsers += items } else if k == "groups" { s.trustedGroups += items }
                    return
                }
                if section == "extensions", !value.isEmpty, !value.hasPrefix("!") {
                    let path = expandVariables(value)
                    if path.contains("$") {
                        s.problems.append("\(file): extensions.\(k) = \(value) holds a variable mcpbox cannot expand as hg would")
                    } else if !GitConfigScan.isWrittenPath(path) {
                        // hg loads it from wherever it runs (the working directory), which may be
                        // any directory of a bind (red-team pass, 2026-12-02).
                        s.problems.append("\(file): extensions.\(k) = \(value) is a relative path, which hg resolves from wherever it runs")
                    }
                }
                for p in commandPaths(section: section, key: k, value: value, repo: repo, homes: homes) { add(p, "\(section).\(k)") }
            }
            for (n, whole) in HgText.lines(text).enumerated() {
                // hg drops a UTF-8 byte order mark before the first line (`[hooks]` after one is a section).
                let raw = n == 0 && whole.starts(with: [0xEF, 0xBB, 0xBF]) ? whole.dropFirst(3) : whole
                // A comment line is skipped and does not end a value continued over the lines
                // after it (hg's config parser: `x = a`, `# c`, `  /srv/w/b.sh` is
                // "a\n/srv/w/b.sh"); a blank one ends it. Most of what the system's files hold is comments.
                if let first = raw.first, first == UInt8(ascii: "#") || first == UInt8(ascii: ";") { continue }
                let line = String(decoding: raw, as: UTF8.self)
                // hg reads bytes; what Swift would read as one `Character` is refused whole.
                if let why = GitConfigScan.fusedASCII(line) {
                    s.problems.append("\(file) line \(n + 1): \(why)")
                    continue
                }
                let t = line.trimmingScalars(where: HgText.isSpace)
                if t.isEmpty {
                    flush()
                    continue
                }
                // A continuation starts with any of hg's blanks (a bytes regex's `\s`: `\f` and `\v` too).
                let indented = line.unicodeScalars.first.map(HgText.isSpace) == true
                if key != nil, indented {
                    value += "\n" + t
                    continue
                }
                flush()
                if line.hasPrefix("%include") {
                    let target = expandVariables(line.dropFirst("%include".count).trimmingScalars(where: HgText.isSpace))
                    if target.contains("$") {
                        s.problems.append("\(file): %include \(target) holds a variable mcpbox cannot expand as hg would")
                        continue
                    }
                    for p in GitConfigScan.resolveAll(target, base: Paths.dirname(file), homes: homes) {
                        add(p, "%include")
                        visit(p, depth: depth + 1)
                    }
                    continue
                }
                if line.hasPrefix("%unset") { continue }
                // By scalars, as hg's byte patterns match: a combining mark after `]` or `=` does not
                // hide it (red-team pass, 2026-12-02).
                let u = line.unicodeScalars
                if u.first == "[", let close = u.firstIndex(of: "]") {
                    section = String(u[u.index(after: u.startIndex)..<close]).trimmingScalars(where: HgText.isSpace)
                    continue
                }
                if let eq = u.firstIndex(of: "="), !indented {
                    key = String(u[..<eq]).trimmingScalars(where: HgText.isSpace)
                    value = String(u[u.index(after: eq)...]).trimmingScalars(where: HgText.isSpace)
                }
            }
            flush()
        }
        for f in files { visit(f, depth: 0) }
        return s
    }

    /// The host paths a configuration value makes hg run or load: a hook's or alias's command
    /// (its words holding a `/`), an in-process hook's or extension's Python file.
    static func commandPaths(section: String, key: String, value: String, repo: String?, homes: [String]) -> [String] {
        func resolve(_ w: String) -> [String] {
            guard let repo else { return GitConfigScan.isWrittenPath(w) ? GitConfigScan.resolveAll(w, base: "/", homes: homes) : [] }
            return GitConfigScan.resolveAll(w, base: repo, homes: homes)
        }
        // Programs hg runs outside the command sections: fsmonitor's watchman, an encode or
        // decode filter's `pipe:`/`tempfile:` command, email's sendmail-like method.
        if section == "fsmonitor" && key == "watchman_exe" {
            let w = GitConfigScan.expandHome(value.trimmingScalars(where: HgText.isQuoteOrParen))
            return w.contains("/") && !w.contains("$") ? resolve(w) : []
        }
        if section == "encode" || section == "decode" {
            guard let prefix = ["pipe:", "tempfile:"].first(where: { value.hasPrefix($0) }) else { return [] }
            return commandPaths(section: "hooks", key: key, value: String(value.dropFirst(prefix.count)), repo: repo, homes: homes)
        }
        if section == "email" && key == "method" {
            guard value != "smtp" else { return [] }
            return commandPaths(section: "hooks", key: key, value: value, repo: repo, homes: homes)
        }
        // `hg view`'s program, `hg fix`'s tools, the gpg extension's program.
        if (section == "hgk" && key == "path") || (section == "fix" && key.hasSuffix(":command")) || (section == "gpg" && key == "cmd") {
            return commandPaths(section: "hooks", key: key, value: value, repo: repo, homes: homes)
        }
        guard commandSections.contains(section) || (section == "ui" && uiCommandKeys.contains(key)) else { return [] }
        if section == "merge-tools" && !(key.hasSuffix(".executable") || !key.contains(".")) { return [] }
        if section == "extdiff" && key.hasPrefix("opts.") { return [] }
        var v = value
        if section == "alias" {
            guard v.hasPrefix("!") else { return [] }
            v.removeFirst()
        }
        if section == "extensions" {
            if v.hasPrefix("!") || v.isEmpty { return [] }
            // A relative one is resolved from the repository's root, where hg usually runs (and
            // recorded as a problem by `scan`: hg resolves it from wherever it runs).
            return resolve(expandVariables(v))
        }
        var words: [String] = []
        if section == "hooks" && v.hasPrefix("python:") {
            v.removeFirst("python:".count)
            // `python:PATH:function` names a file (relative to the repository's root, even
            // without a `/`: `python:h.py:run`); `python:module.function` a module.
            guard let colon = v.lastIndex(of: ":") else { return [] }
            v = expandVariables(String(v[..<colon]))
            words = [v]
        } else {
            let all = v.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == ";" || $0 == "|" || $0 == "&" })
                // Quotes join what they hold to the word (`"$HOME"/x.sh` is one word to the shell).
                .map { String(String.UnicodeScalarView($0.unicodeScalars.filter { $0 != "\"" && $0 != "'" })).trimmingScalars(where: HgText.isQuoteOrParen) }
                // The shell expands `$HOME` and `${HOME}` in a hook's command: the caller's home, as `~`.
                .map(GitConfigScan.expandHome)
            words = all.filter { $0.contains("/") && !$0.contains("://") && !$0.hasPrefix("$") }
            // The script an interpreter runs is a file, found from the repository's root where hg
            // runs hooks, even without a `/` (`sh hook.sh`).
            if let first = all.first, GitConfigScan.isInterpreter(first),
               let script = all.dropFirst().first(where: { !$0.hasPrefix("-") }),
               script != "-", !script.contains("/"), !script.hasPrefix("$"), !script.contains("`") {
                words.append(script)
            }
            // What the shell reads that these words miss, read as git's commands are: a file fed
            // to standard input (`sh</srv/w/h.sh`), an escaped word (`\/srv/w/h.sh`), an
            // assignment's value (`BASH_ENV=/srv/w/h.sh bash -c :`), a script behind a wrapper;
            // and every absolute path written in the line, variables of the caller's environment
            // expanded (`X=/srv/w/h.sh; $X`, `$XDG_CONFIG_HOME/../w/h.sh`; red-team pass, 2026-12-02).
            let expanded = expandVariables(v)
            words += GitConfigScan.commandPaths(expanded) + GitConfigScan.argumentWords(expanded).filter(GitConfigScan.isWrittenPath)
            words += GitConfigScan.opaqueCommandPaths(expanded, homes: homes)
        }
        var out: [String] = []
        for w in words {
            for p in resolve(GitConfigScan.expandHome(w)) where !out.contains(p) { out.append(p) }
        }
        return out
    }

    /// Whether `trusted` users or groups cover the server's account.
    public static func trusts(_ s: Scan, user: String?, group: String?) -> Bool {
        s.trustedUsers.contains("*") || s.trustedGroups.contains("*")
            || user.map { s.trustedUsers.contains($0) } == true || group.map { s.trustedGroups.contains($0) } == true
    }
}

extension PlanBuilder {
    /// What to bind read-only for `path`, which hg configuration names (`key`) inside the
    /// read-write bind `m` (host path `source`): a configuration file itself; a script or
    /// extension with its whole directory, since it runs with what lies beside it (Python
    /// imports its directory's modules and loads an extension's `__pycache__`, a shell script
    /// sources its neighbours; red-team pass, 2026-12-02: a planted `.pyc` ran). One at the
    /// top of the bind is refused (nil) unless acknowledged (then the file alone).
    func scriptBind(_ d: inout Draft, _ m: Mount, _ path: String, key: String, source: String, repo: String?) -> String? {
        guard key != "%include", HostFS.info(path)?.isRegular == true else { return path }
        if let dir = Self.scriptDirectory(path, within: [source]) { return dir }
        if acknowledged([repo ?? m.target, m.target], reason: "a script host hg runs at the top of a read-write bind (\(key))", &d) { return path }
        refuse(&d, m, "\(path), which Mercurial configuration names (\(key)), lies at the top of the read-write bind \(m.target): what the server writes beside it (a module it imports, its `__pycache__`, a file it sources) would run with it",
               hint: Self.acceptHint(repo ?? m.target, "move the script into a directory of its own, or out of the paths the server may write"))
        return nil
    }

    /// Binds read-only what host hg would run or trust in every Mercurial repository read-write
    /// bind `m` (host path `source`) exposes, watches what cannot be bound, and refuses what
    /// cannot be protected (see `HgProtection`).
    func protectMercurial(_ d: inout Draft, _ m: Mount, source: String, exposure e: GitProtection.Exposure, identity: Identity) {
        let origin = "mcpbox: hg protection"
        let repos = [e.enclosingHgRepository].compactMap { $0 } + e.hgRepos
        let homes = callerHomes()
        let globals = HgProtection.globalFiles(homes: homes, xdgConfigHome: host[env: "XDG_CONFIG_HOME"], hgrcPath: host[env: "HGRCPATH"])
        guard !repos.isEmpty else {
            // No repository here: host hg still reads the system's and the user's files in every
            // repository, and an absolute `%include` or hook script they name may lie in this
            // bind (red-team pass, 2026-12-02). Relative ones name places in whichever
            // repository hg runs in, and are skipped. Read once per plan, for every such bind.
            if d.hgGlobalScan == nil { d.hgGlobalScan = HgProtection.scan(globals, repo: nil, homes: homes) }
            if let problem = d.hgGlobalScan!.problems.first {
                refuse(&d, m, "mcpbox cannot tell what your Mercurial configuration makes host hg load in every repository (\(problem)), and \(m.target) is writable by the server",
                       hint: "write the path out (`~/` is understood), or bind a narrower path")
                return
            }
            // Each as the kernel reaches it (a symlinked directory on the way, outside the bind).
            for (path, key) in d.hgGlobalScan!.named.map({ (PlanBuilder.reached($0.path, writable: [source]), $0.key) }) where Paths.isWithin(path, source) {
                guard HostFS.info(path, follow: false) != nil, HostFS.realPath(path) == path, !Paths.isWithin(source, path) else {
                    refuse(&d, m, "\(path), which your Mercurial configuration names (\(key)) for every repository, lies inside a read-write bind and \(HostFS.info(path, follow: false) == nil ? "does not exist yet" : Paths.isWithin(source, path) ? "holds it" : "is reached through a symlink"): the server could write what host hg runs",
                           hint: "create it, move it out of \(m.target), or change the configuration")
                    continue
                }
                guard let bound = scriptBind(&d, m, path, key: key, source: source, repo: nil) else { continue }
                let mount = Mount(target: Paths.join(m.target, Paths.remainder(bound, under: source)), kind: .bind(source: bound, readOnly: true), origin: origin)
                if !d.hasMount(at: mount.target, origin: origin) { d.mounts.append(mount) }
            }
            return
        }
        let serverUser = host.accounts.user(uid: identity.hostUid)?.name
        let serverGroup = host.accounts.groupName(gid: identity.hostGid)
        for repo in repos {
            let hg = Paths.join(repo, ".hg")
            guard let info = HostFS.info(hg, follow: false) else { continue }
            if HgProtection.guardedEntries.contains(where: { Paths.isWithin(source, Paths.join(hg, $0)) }) {
                refuse(&d, m, "\(m.target) is part of Mercurial's configuration (\(hg)): host hg would run what the server writes there",
                       hint: "bind the repository's working directory instead")
                continue
            }
            if !info.isDirectory {
                refuse(&d, m, "\(hg) is not a directory (a symlink the server could re-point): mcpbox cannot keep host hg from reading the server's configuration there",
                       hint: "replace it with the directory it points to, or bind a narrower path")
                continue
            }
            let hgrc = Paths.join(hg, "hgrc")
            if Paths.isWithin(hgrc, source) && HostFS.info(hgrc, follow: false) == nil {
                refuse(&d, m, "\(hg) has no hgrc, so the server could create one that host hg would run hooks and extensions from",
                       hint: "create it: touch \(hgrc)")
                continue
            }
            // A share (`.hg/sharedpath`, absolute or relative to `.hg`) reads its source's `hgrc` too.
            let shared = HostFS.readFile(Paths.join(hg, "sharedpath"), limit: 4096)
                .map { $0.trimmingScalars(where: HgText.isSpaceOrNewline) }
                .flatMap { GitConfigScan.resolve($0, base: hg, home: nil) }.map { [Paths.join($0, "hgrc")] } ?? []
            let scan = HgProtection.scan(globals + shared + [hgrc, Paths.join(hg, "hgrc-not-shared")], repo: repo, homes: homes)
            if HgProtection.trusts(scan, user: serverUser, group: serverGroup) {
                if !acknowledged([m.target, source], reason: "read-write Mercurial repository \(repo) whose host configuration trusts the server's account", &d) {
                    refuse(&d, m, "\(m.target) is or holds the Mercurial repository \(repo), and host hg's [trusted] users or groups cover the server's account (\(serverUser ?? String(identity.hostUid))): host hg would run the hooks the server writes there",
                           hint: Self.acceptHint(m.target, "remove the server's account (or *) from [trusted]"))
                }
                continue
            }
            if let f = scan.unreadable.first {
                refuse(&d, m, "mcpbox cannot read \(f), Mercurial configuration host hg reads for \(repo)",
                       hint: "make it readable, or bind a narrower path")
                continue
            }
            if let problem = scan.problems.first {
                refuse(&d, m, "mcpbox cannot tell what Mercurial configuration makes host hg load for \(repo) (\(problem))",
                       hint: "write the path out (`~/` is understood), or bind a narrower path")
                continue
            }
            var ok = true
            var binds: [String] = HgProtection.guardedEntries.map { Paths.join(hg, $0) }
                .filter { HostFS.info($0, follow: false) != nil }
            for (path, key) in scan.named.map({ (PlanBuilder.reached($0.path, writable: [source]), $0.key) }) where Paths.isWithin(path, source) {
                guard HostFS.info(path, follow: false) != nil, HostFS.realPath(path) == path else {
                    refuse(&d, m, "\(path), which Mercurial configuration names (\(key)), lies inside a read-write bind and \(HostFS.info(path, follow: false) == nil ? "does not exist yet" : "is reached through a symlink"): the server could create or re-point it",
                           hint: "create it, move it out of \(m.target), or change the configuration")
                    ok = false
                    continue
                }
                if Paths.isWithin(source, path) {
                    refuse(&d, m, "\(path), which Mercurial configuration names (\(key)), holds the read-write bind \(m.target)",
                           hint: "change the configuration or bind a narrower path")
                    ok = false
                    continue
                }
                guard let bound = scriptBind(&d, m, path, key: key, source: source, repo: repo) else { ok = false; continue }
                if !binds.containsPath(bound) { binds.append(bound) }
            }
            guard ok else { continue }
            for path in binds where Paths.isWithin(path, source) {
                if HostFS.info(path, follow: false)?.isSymlink == true {
                    refuse(&d, m, "\(path) is a symlink inside a read-write bind, so mcpbox cannot keep the server from changing what host hg reads there",
                           hint: "replace the symlink with what it points to")
                    continue
                }
                let mount = Mount(target: Paths.join(m.target, Paths.remainder(path, under: source)),
                                  kind: .bind(source: path, readOnly: true), origin: origin)
                // A share's source configuration is scanned for the share too: one bind each.
                if !d.hasMount(at: mount.target, origin: origin) { d.mounts.append(mount) }
            }
            if Paths.isWithin(hg, source) || Paths.isWithin(source, hg) {
                for name in HgProtection.watchedEntries {
                    let path = Paths.join(hg, name)
                    if Paths.isWithin(path, source), HostFS.info(path, follow: false) == nil, !d.gitWatched.containsPath(path) {
                        d.gitWatched.append(path)
                    }
                }
            }
            if !d.hgProtected.containsPath(hg) { d.hgProtected.append(hg) }
        }
    }
}

/// Foundation's character sets for `trimmingCharacters(in:)`, without linking Foundation (its
/// start-up and its pages were a third of every mcpbox process's start).
enum HgText {
    /// The lines of `text` as Mercurial splits a configuration file (Python's `bytes.splitlines`:
    /// at `\n`, `\r\n` and a lone `\r`), by bytes. (Splitting the `String` at `"\n"` kept a
    /// CRLF file one line, since `"\r\n"` is one `Character`: the hooks in it went unseen.)
    static func lines(_ text: String) -> [ArraySlice<UInt8>] {
        let b = Array(text.utf8)
        var out: [ArraySlice<UInt8>] = []
        var start = 0, i = 0
        while i < b.count {
            if b[i] == 0x0A || b[i] == 0x0D {
                out.append(b[start..<i])
                if b[i] == 0x0D, i + 1 < b.count, b[i + 1] == 0x0A { i += 1 }
                start = i + 1
            }
            i += 1
        }
        out.append(b[start..<b.count])
        return out
    }

    /// hg's blanks: a Python bytes regex's `\s` and `bytes.strip()` (space, `\t`, `\n`, `\v`,
    /// `\f`, `\r`), ASCII only. (Foundation's `whitespaces`, used before, also trimmed U+00A0
    /// and the other Unicode spaces, which hg keeps: `hook.sh` followed by U+00A0 is another
    /// file to the shell that runs it; and it kept `\f` and `\v`, which hg trims.)
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        c.value == 0x20 || (c.value >= 0x09 && c.value <= 0x0D)
    }

    /// `CharacterSet.whitespacesAndNewlines` (as Foundation defines it on Linux: tab, the space
    /// separators, U+200B, U+000A-U+000D, U+0085, U+2028, U+2029), for a `sharedpath`.
    static func isSpaceOrNewline(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200B, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// The characters hg's command words are stripped of.
    static func isQuoteOrParen(_ c: Unicode.Scalar) -> Bool {
        c == "\"" || c == "'" || c == "`" || c == "(" || c == ")"
    }
}

extension StringProtocol {
    /// The text without the leading and trailing scalars `drop` accepts.
    func trimmingScalars(where drop: (Unicode.Scalar) -> Bool) -> String {
        let s = Substring(self).unicodeScalars
        guard let first = s.firstIndex(where: { !drop($0) }), let last = s.lastIndex(where: { !drop($0) }) else { return "" }
        return String(Substring(s[first...last]))
    }
}
