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
    }

    /// The configuration files host hg reads before a repository's own: system-wide, and each
    /// home's `~/.hgrc` and `~/.config/hg/hgrc`.
    public static func globalFiles(homes: [String], xdgConfigHome: String?) -> [String] {
        var files = ["/etc/mercurial/hgrc"]
        files += HostFS.listDirectory("/etc/mercurial/hgrc.d").filter { $0.hasSuffix(".rc") }.sorted()
            .map { Paths.join("/etc/mercurial/hgrc.d", $0) }
        for h in homes { files += [Paths.join(h, ".hgrc"), Paths.join(h, ".config/hg/hgrc")] }
        if let x = xdgConfigHome, x.isAbsolutePath { files.append(Paths.join(x, "hg/hgrc")) }
        return files
    }

    /// Reads `files` (and what they `%include`) as host hg would, collecting what they name;
    /// a relative command or extension is resolved from `repo` (hooks run at the repository's
    /// root), a relative include from its including file, `~` from each of `homes`.
    public static func scan(_ files: [String], repo: String, homes: [String]) -> Scan {
        var s = Scan()
        var read = 0
        func add(_ path: String, _ key: String) {
            if !s.named.contains(where: { $0.path == path }) { s.named.append((path, key)) }
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
                let t = line.trimmingScalars(where: HgText.isSpace)
                if t.isEmpty {
                    flush()
                    continue
                }
                if key != nil, let first = line.first, first == " " || first == "\t" {
                    value += "\n" + t
                    continue
                }
                flush()
                if line.hasPrefix("%include") {
                    let target = line.dropFirst("%include".count).trimmingScalars(where: HgText.isSpace)
                    for p in GitConfigScan.resolveAll(target, base: Paths.dirname(file), homes: homes) {
                        add(p, "%include")
                        visit(p, depth: depth + 1)
                    }
                    continue
                }
                if line.hasPrefix("%unset") { continue }
                if line.hasPrefix("["), let close = line.firstIndex(of: "]") {
                    section = String(line[line.index(after: line.startIndex)..<close]).trimmingScalars(where: HgText.isSpace)
                    continue
                }
                if let eq = line.firstIndex(of: "="), !line.hasPrefix(" "), !line.hasPrefix("\t") {
                    key = String(line[..<eq]).trimmingScalars(where: HgText.isSpace)
                    value = String(line[line.index(after: eq)...]).trimmingScalars(where: HgText.isSpace)
                }
            }
            flush()
        }
        for f in files { visit(f, depth: 0) }
        return s
    }

    /// The host paths a configuration value makes hg run or load: a hook's or alias's command
    /// (its words holding a `/`), an in-process hook's or extension's Python file.
    static func commandPaths(section: String, key: String, value: String, repo: String, homes: [String]) -> [String] {
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
            return GitConfigScan.resolveAll(v, base: repo, homes: homes)
        }
        var words: [String] = []
        if section == "hooks" && v.hasPrefix("python:") {
            v.removeFirst("python:".count)
            // `python:/path/file.py:function` (a module name otherwise).
            if let colon = v.lastIndex(of: ":") { v = String(v[..<colon]) }
            guard v.contains("/") else { return [] }
            words = [v]
        } else {
            let all = v.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == ";" || $0 == "|" || $0 == "&" })
                .map { $0.trimmingScalars(where: HgText.isQuoteOrParen) }
            words = all.filter { $0.contains("/") && !$0.contains("://") && !$0.hasPrefix("$") }
            // The script an interpreter runs is a file, found from the repository's root where hg
            // runs hooks, even without a `/` (`sh hook.sh`).
            if let first = all.first, GitConfigScan.interpreters.contains(Paths.basename(first)),
               let script = all.dropFirst().first(where: { !$0.hasPrefix("-") }),
               script != "-", !script.contains("/"), !script.hasPrefix("$"), !script.contains("`") {
                words.append(script)
            }
        }
        var out: [String] = []
        for w in words {
            let w = w.hasPrefix("$HOME/") ? "~/" + w.dropFirst("$HOME/".count) : w
            for p in GitConfigScan.resolveAll(w, base: repo, homes: homes) where !out.contains(p) { out.append(p) }
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
    /// Binds read-only what host hg would run or trust in every Mercurial repository read-write
    /// bind `m` (host path `source`) exposes, watches what cannot be bound, and refuses what
    /// cannot be protected (see `HgProtection`).
    func protectMercurial(_ d: inout Draft, _ m: Mount, source: String, exposure e: GitProtection.Exposure, identity: Identity) {
        let origin = "mcpbox: hg protection"
        let repos = [e.enclosingHgRepository].compactMap { $0 } + e.hgRepos
        let homes = callerHomes()
        let globals = HgProtection.globalFiles(homes: homes, xdgConfigHome: host[env: "XDG_CONFIG_HOME"])
        guard !repos.isEmpty else {
            // No repository here: host hg still reads the system's and the user's files in every
            // repository, and an absolute `%include` or hook script they name may lie in this
            // bind (red-team pass, 2026-12-02). Relative ones name places in whichever
            // repository hg runs in: resolved under a directory that cannot exist, and skipped.
            let nowhere = "/nonexistent/.mcpbox-no-repository"
            let scan = HgProtection.scan(globals, repo: nowhere, homes: homes)
            for (path, key) in scan.named where Paths.isWithin(path, source) && !Paths.isWithin(path, nowhere) {
                guard HostFS.info(path, follow: false) != nil, HostFS.realPath(path) == path, !Paths.isWithin(source, path) else {
                    refuse(&d, m, "\(path), which your Mercurial configuration names (\(key)) for every repository, lies inside a read-write bind and \(HostFS.info(path, follow: false) == nil ? "does not exist yet" : Paths.isWithin(source, path) ? "holds it" : "is reached through a symlink"): the server could write what host hg runs",
                           hint: "create it, move it out of \(m.target), or change the configuration")
                    continue
                }
                let mount = Mount(target: Paths.join(m.target, Paths.remainder(path, under: source)), kind: .bind(source: path, readOnly: true), origin: origin)
                if !d.mounts.contains(where: { $0.target == mount.target && $0.origin == origin }) { d.mounts.append(mount) }
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
            var ok = true
            var binds: [String] = HgProtection.guardedEntries.map { Paths.join(hg, $0) }
                .filter { HostFS.info($0, follow: false) != nil }
            for (path, key) in scan.named where Paths.isWithin(path, source) {
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
                if !binds.contains(path) { binds.append(path) }
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
                if !d.mounts.contains(where: { $0.target == mount.target && $0.origin == origin }) { d.mounts.append(mount) }
            }
            if Paths.isWithin(hg, source) || Paths.isWithin(source, hg) {
                for name in HgProtection.watchedEntries {
                    let path = Paths.join(hg, name)
                    if Paths.isWithin(path, source), HostFS.info(path, follow: false) == nil, !d.gitWatched.contains(path) {
                        d.gitWatched.append(path)
                    }
                }
            }
            if !d.hgProtected.contains(hg) { d.hgProtected.append(hg) }
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

    /// `CharacterSet.whitespaces` (as Foundation defines it on Linux: tab, the space separators
    /// and U+200B).
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09, 0x20, 0xA0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// `CharacterSet.whitespacesAndNewlines`: `isSpace`, U+000A-U+000D, U+0085, U+2028, U+2029.
    static func isSpaceOrNewline(_ c: Unicode.Scalar) -> Bool {
        isSpace(c) || (c.value >= 0x0A && c.value <= 0x0D) || c.value == 0x85 || c.value == 0x2028 || c.value == 0x2029
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
