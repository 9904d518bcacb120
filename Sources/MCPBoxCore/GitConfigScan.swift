#if canImport(Glibc)
import Glibc
#endif
/// What a repository's configuration names that host git would read or run: hooks directories,
/// included files, pagers, editors, helpers, drivers, aliases. A pure, bounded reader of git's
/// config syntax; `PlanBuilder.protectGitConfiguration` binds read-only (or refuses) whatever of
/// it lies where the server may write.
public enum GitConfigScan {
    /// Largest configuration file read.
    public static let fileLimit = 1 << 20
    /// Include nesting followed at most (git's own limit is 10).
    public static let depthLimit = 10
    /// Configuration files read at most for one repository.
    public static let fileCountLimit = 64
    /// Entries kept at most per file.
    public static let entryLimit = 100_000

    /// One `key = value` line.
    public struct Entry: Sendable, Equatable {
        /// Section, lowercased (a legacy `[section.sub]` header lowercases its subsection too).
        public var section: String
        public var subsection: String?
        /// Key name, lowercased.
        public var name: String
        /// nil for a boolean key written without `=`.
        public var value: String?
        public var line: Int

        public init(section: String, subsection: String?, name: String, value: String?, line: Int) {
            self.section = section
            self.subsection = subsection
            self.name = name
            self.value = value
            self.line = line
        }

        /// `section.subsection.name`, as git prints it.
        public var key: String {
            let head = subsection.map { "\(section).\($0)" } ?? section
            return head.isEmpty ? name : "\(head).\(name)"
        }
    }

    /// A syntax error: host git refuses the file too.
    public struct SyntaxError: Error, Sendable, Equatable {
        public var line: Int
        public var reason: String
    }

    /// Parses git config text. Entries before a syntax error are returned with it.
    public static func parse(_ bytes: [UInt8]) -> (entries: [Entry], error: SyntaxError?) {
        var p = Parser(bytes: bytes)
        let error = p.run()
        return (p.entries, error)
    }

    public static func parse(_ text: String) -> (entries: [Entry], error: SyntaxError?) { parse(Array(text.utf8)) }

    struct Parser {
        let bytes: [UInt8]
        var i = 0
        var line = 1
        var entries: [Entry] = []
        var section: String?
        var subsection: String?

        init(bytes: [UInt8]) {
            self.bytes = bytes
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        }

        /// The next character, with `\r\n` read as `\n` and the end as `\n` (nil past it).
        mutating func next() -> UInt8? {
            guard i < bytes.count else {
                if i == bytes.count { i += 1; line += 1; return UInt8(ascii: "\n") }
                return nil
            }
            var c = bytes[i]
            i += 1
            if c == UInt8(ascii: "\r"), i < bytes.count, bytes[i] == UInt8(ascii: "\n") { c = bytes[i]; i += 1 }
            if c == UInt8(ascii: "\n") { line += 1 }
            return c
        }

        /// git's own `isspace` (sane_ctype: space, tab, `\n`, `\r`): not `\v` or `\f`, which stay
        /// part of a value (`hook.sh\f` is another file than `hook.sh`).
        static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D }
        static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") }
        static func isAlnum(_ c: UInt8) -> Bool { isAlpha(c) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) }
        static func lower(_ s: [UInt8]) -> String {
            String(decoding: s.map { isAlpha($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
        }

        func fail(_ reason: String, line l: Int? = nil) -> SyntaxError { SyntaxError(line: l ?? line, reason: reason) }

        mutating func run() -> SyntaxError? {
            var comment = false
            while let c = next() {
                if c == UInt8(ascii: "\n") { comment = false; continue }
                if comment || Self.isSpace(c) { continue }
                if c == UInt8(ascii: "#") || c == UInt8(ascii: ";") { comment = true; continue }
                if c == UInt8(ascii: "[") {
                    let start = line
                    if let e = header() { return SyntaxError(line: start, reason: e.reason) }
                    continue
                }
                guard Self.isAlpha(c) else { return fail("unexpected character") }
                if let e = entry(first: c) { return e }
            }
            return nil
        }

        /// After `[`: `section]`, `section "sub"]` or legacy `section.sub]`.
        mutating func header() -> SyntaxError? {
            var name: [UInt8] = []
            while true {
                guard let c = next(), c != UInt8(ascii: "\n") else { return fail("unterminated section header") }
                if c == UInt8(ascii: "]") {
                    guard !name.isEmpty else { return fail("empty section name") }
                    if let dot = name.firstIndex(of: UInt8(ascii: ".")) {
                        section = Self.lower(Array(name[..<dot]))
                        subsection = Self.lower(Array(name[(dot + 1)...]))
                    } else {
                        section = Self.lower(name)
                        subsection = nil
                    }
                    return nil
                }
                if Self.isSpace(c) { return quotedSubsection(name) }
                guard Self.isAlnum(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") else { return fail("bad character in section name") }
                name.append(c)
                if name.count > 1024 { return fail("section name too long") }
            }
        }

        mutating func quotedSubsection(_ name: [UInt8]) -> SyntaxError? {
            var c = next()
            while let x = c, Self.isSpace(x) { c = next() }
            guard c == UInt8(ascii: "\"") else { return fail("expected a quoted subsection") }
            var sub: [UInt8] = []
            while true {
                guard let x = next(), x != UInt8(ascii: "\n") else { return fail("unterminated subsection") }
                if x == UInt8(ascii: "\"") { break }
                if x == UInt8(ascii: "\\") {
                    guard let y = next(), y != UInt8(ascii: "\n") else { return fail("unterminated subsection") }
                    sub.append(y)
                } else {
                    sub.append(x)
                }
            }
            guard next() == UInt8(ascii: "]") else { return fail("expected ] after the subsection") }
            guard !name.isEmpty else { return fail("empty section name") }
            section = Self.lower(name)
            subsection = String(decoding: sub, as: UTF8.self)
            return nil
        }

        /// A key (first character `first`), then `= value`, or nothing (a boolean).
        mutating func entry(first: UInt8) -> SyntaxError? {
            let start = line
            var name = [first]
            var c = next()
            while let x = c, Self.isAlnum(x) || x == UInt8(ascii: "-") {
                name.append(x)
                if name.count > 1024 { return fail("key too long") }
                c = next()
            }
            while let x = c, x == 0x20 || x == 0x09 { c = next() }
            // Before any section header git reads a key of its own (`x=1` is `x`).
            let section = section ?? ""
            var value: String?
            if c != UInt8(ascii: "\n") {
                guard c == UInt8(ascii: "=") else { return fail("expected = after the key", line: start) }
                switch parseValue() {
                case .success(let v): value = v
                case .failure(let e): return SyntaxError(line: start, reason: e.reason)
                }
            }
            guard entries.count < GitConfigScan.entryLimit else { return fail("too many entries") }
            entries.append(Entry(section: section, subsection: subsection, name: Self.lower(name), value: value, line: start))
            return nil
        }

        /// The value after `=`, up to the end of its (possibly continued) line.
        mutating func parseValue() -> Swift.Result<String, SyntaxError> {
            var out: [UInt8] = []
            var quoted = false
            var spaces = 0
            var comment = false
            while true {
                guard let c = next() else { return .failure(fail("unexpected end")) }
                if c == UInt8(ascii: "\n") {
                    if quoted { return .failure(fail("unterminated quote")) }
                    return .success(String(decoding: out, as: UTF8.self))
                }
                if comment { continue }
                if !quoted && (c == UInt8(ascii: ";") || c == UInt8(ascii: "#")) { comment = true; continue }
                if !quoted && Self.isSpace(c) {
                    if !out.isEmpty { spaces += 1 }
                    continue
                }
                if !out.isEmpty || spaces > 0 {
                    out.append(contentsOf: repeatElement(0x20, count: spaces))
                }
                spaces = 0
                if c == UInt8(ascii: "\\") {
                    guard let e = next() else { return .failure(fail("unexpected end")) }
                    switch e {
                    case UInt8(ascii: "\n"): continue
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "\\"), UInt8(ascii: "\""): out.append(e)
                    default: return .failure(fail("bad escape"))
                    }
                    continue
                }
                if c == UInt8(ascii: "\"") { quoted.toggle(); continue }
                // git keeps the value as a C string: it ends at a NUL byte, where a path mcpbox
                // resolved in full would be another file.
                if c == 0 { return .failure(fail("a NUL byte in a value")) }
                out.append(c)
            }
        }
    }

    /// How host git uses a key's value.
    public enum Use: Sendable, Equatable {
        /// A file git includes (more configuration).
        case include
        /// A path git reads or runs from, relative to the worktree top (`core.hooksPath`).
        case path
        /// A command git runs (its first word, when it names a file).
        case command
        /// A setting that lets text the server writes run commands (`protocol.ext.allow = always`).
        case flag
    }

    /// How git uses `e`'s value, when it names something host git would read or run.
    public static func use(of e: Entry) -> Use? {
        let sub = e.subsection, name = e.name
        switch e.section {
        case "include": return sub == nil && name == "path" ? .include : nil
        case "includeif": return sub != nil && name == "path" ? .include : nil
        case "core":
            guard sub == nil else { return nil }
            switch name {
            case "hookspath": return .path
            case "fsmonitor": return isBoolean(e.value) ? nil : .command
            case "pager", "editor", "sshcommand", "askpass", "alternaterefscommand", "gitproxy": return .command
            default: return nil
            }
        // The template directory `git init` and `git clone` copy hooks from into every new repository.
        case "init": return sub == nil && name == "templatedir" ? .path : nil
        case "sequence": return sub == nil && name == "editor" ? .command : nil
        case "gpg": return name == "program" || (sub == "ssh" && name == "defaultkeycommand") ? .command : nil
        case "credential": return name == "helper" ? .command : nil
        case "diff":
            if sub == nil { return name == "external" ? .command : nil }
            return name == "command" || name == "textconv" ? .command : nil
        case "merge": return sub != nil && name == "driver" ? .command : nil
        case "filter": return sub != nil && ["clean", "smudge", "process"].contains(name) ? .command : nil
        case "alias": return e.value?.utf8.first == 0x21 ? .command : nil
        // `pager.CMD` for the command (or alias) CMD, which may hold a dot: `pager.foo.bar` is the
        // pager of an alias `foo.bar` (git runs it for `git foo.bar` at a terminal).
        case "pager": return !isBoolean(e.value) ? .command : nil
        case "uploadpack": return sub == nil && name == "packobjectshook" ? .command : nil
        case "remote": return sub != nil && (name == "uploadpack" || name == "receivepack") ? .command : nil
        case "submodule": return sub != nil && name == "update" && e.value?.utf8.first == 0x21 ? .command : nil
        case "difftool", "mergetool", "man", "browser": return sub != nil && (name == "cmd" || name == "path") ? .command : nil
        case "trailer": return sub != nil && (name == "command" || name == "cmd") ? .command : nil
        case "sendemail":
            // Also per identity (`sendemail.<identity>.cccmd`); an SMTP server given as a path
            // (starting `/` or `~`) is a sendmail-like program git runs.
            if ["sendmailcmd", "cccmd", "tocmd", "headercmd"].contains(name) { return .command }
            return name == "smtpserver" && (e.value?.utf8.first).map { $0 == 0x2F || $0 == 0x7E } == true ? .command : nil
        case "tar": return sub != nil && name == "command" ? .command : nil
        case "guitool": return sub != nil && name == "cmd" ? .command : nil
        case "instaweb": return sub == nil && name == "httpd" ? .command : nil
        case "imap": return sub == nil && name == "tunnel" ? .command : nil
        case "interactive": return sub == nil && name == "difffilter" ? .command : nil
        case "protocol":
            // `user` too: it allows the protocol unless GIT_PROTOCOL_FROM_USER is set to 0, which
            // nothing sets by default.
            guard name == "allow", sub == nil || sub == "ext", ["always", "user"].contains(e.value?.lowercased() ?? "") else { return nil }
            return .flag
        default: return nil
        }
    }

    static func isBoolean(_ v: String?) -> Bool {
        guard let v else { return true }
        return ["", "true", "false", "yes", "no", "on", "off", "1", "0"].contains(v.lowercased())
    }

    /// One configuration value naming something host git would read or run.
    public struct Finding: Sendable, Equatable {
        /// The configuration file and line it is set in.
        public var file: String
        public var line: Int
        public var key: String
        public var value: String
        public var use: Use
        /// The host path it names, when it names one (lexically resolved; nil for a command
        /// found through `PATH`).
        public var path: String?
        /// What `path` is when the configuration reaches it only through a file it names
        /// (husky's dispatcher in the hooks directory, see `HookManagers`); nil otherwise.
        public var via: String? = nil
        /// Why mcpbox cannot tell which files the value makes host git run or read (`opaque`).
        public var opaque: String? = nil
        /// `path` is a command's argument written out as a path, which may or may not be a
        /// file the command reads or runs: judged only inside a path the server writes.
        public var argument = false
    }

    /// Why mcpbox cannot tell which files a command or path value makes host git run or read: a
    /// variable or substitution (`sh $PWD/x.sh`), a brace or shell keyword (`{ …; }`, `if`,
    /// `for`, `eval`), a change of directory, an indirection (`xargs`, a here-document), a
    /// continued line, a path under `/proc` (`/proc/self/cwd` is wherever host git runs), `~+`;
    /// nil when its words can be judged one by one.
    public static func opaque(_ value: String, command: Bool) -> String? {
        if value.contains("/proc/") || value.hasPrefix("/proc") { return "it names a path under /proc, which host git resolves from wherever it runs" }
        guard command else { return nil }
        for (token, why) in [("$", "a variable or substitution"), ("`", "a command substitution"), ("~+", "`~+` (the working directory)"),
                             ("{", "a brace group or expansion"), ("}", "a brace group or expansion"), ("<<", "a here-document"),
                             ("\\\n", "a continued line")] where value.contains(token) {
            return "it holds \(why)"
        }
        let words = value.split(whereSeparator: { " \t\n;|&()!'\"".contains($0) })
        if let k = words.first(where: { ["if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
                                         "function", "eval", "cd", "pushd", "xargs", "select", "coproc"].contains($0) }) {
            return "it uses `\(k)`"
        }
        return nil
    }

    /// Why `text` cannot be judged by `Character`: it joins an ASCII character other than a
    /// letter or digit with further Unicode scalars into one grapheme (`!` or `.` or `/` followed
    /// by a combining mark, CR LF), which Swift's `String` compares as one `Character` where git,
    /// hg and the shell see the ASCII byte (`!\u{301};/srv/w/x.sh` is a shell alias to git, not
    /// to a `hasPrefix("!")`; red-team pass, 2026-12-03). nil for text without one.
    static func fusedASCII(_ text: String) -> String? {
        if text.utf8.allSatisfy({ $0 < 0x80 && $0 != 0x0D }) { return nil }
        for c in text where c.unicodeScalars.count > 1 {
            let f = c.unicodeScalars.first!
            guard f.isASCII, !(f.properties.isAlphabetic || ("0"..."9").contains(f)) else { continue }
            let code = c.unicodeScalars.dropFirst().map { "U+" + String($0.value, radix: 16, uppercase: true) }.joined(separator: " ")
            return "joins \(f == "\r" ? "a CR" : "`\(f)`") with \(code) into one character, which mcpbox cannot read as git and the shell do"
        }
        return nil
    }

    /// Whether a word is a path written out (absolute, or from a home: `~/`, `~NAME/`), which
    /// names the same place wherever git or hg runs.
    static func isWrittenPath(_ w: String) -> Bool { w.isAbsolutePath || w.hasPrefix("~") }

    /// `$HOME` and `${HOME}` at the start of a word (alone or before `/`) as `~`: the shell
    /// expands both in a command, hg in a path (`util.expandpath`).
    static func expandHome(_ w: String) -> String {
        for prefix in ["${HOME}", "$HOME"] where w == prefix || w.hasPrefix(prefix + "/") {
            return "~" + w.dropFirst(prefix.count)
        }
        return w
    }

    /// The absolute paths the words of a command mcpbox cannot read word by word (`opaque`)
    /// name, as far as they can be read: each word split at blanks and shell punctuation, with
    /// `~`, `$HOME` and `${HOME}` taken as each of `homes`. Words naming nothing absolute
    /// (`$TOKEN`, `./x`) are skipped: only what is written out can be judged.
    static func opaqueCommandPaths(_ value: String, homes: [String]) -> [String] {
        var out: [String] = []
        // (Braces are words of their own in a shell group, `f() { …; }`: not separators, or
        // `${HOME}/x` would fall apart.)
        for raw in value.split(whereSeparator: { " \t\n;|&()`<>=,".contains($0) }) {
            // Quotes join what they hold to the word (`"$HOME"/x.sh` is one word).
            let w = String(expandHome(String(raw.filter { $0 != "\"" && $0 != "'" })).drop { $0 == "{" })
            guard w.isAbsolutePath || w == "~" || w.hasPrefix("~/") else { continue }
            for p in resolveAll(w, base: "/", homes: homes) where !out.containsPath(p) { out.append(p) }
        }
        return out
    }

    /// Everything one repository's configuration names.
    public struct Result: Sendable, Equatable {
        public var findings: [Finding] = []
        /// Configuration files read (the repository's own and every include that exists).
        public var files: [String] = []
        /// Why part of the configuration could not be checked (too large, unparsable, too deep).
        public var problems: [String] = []
    }

    /// Scans `gitDir`'s `config` and `config.worktree` and their includes, after the `global`
    /// files (system and global configuration, where they exist). `~/` stands for each of
    /// `homes` (whoever may run host git there).
    /// `worktree`: the top of a worktree whose gitfile names `gitDir` (a linked worktree, a
    /// submodule): the configuration of its common directory applies, resolved from there.
    public static func scan(gitDir: String?, homes: [String], global: [String] = [], environment: [(origin: String, entry: Entry)] = [],
                            worktree: String? = nil) -> Result {
        var r = Result()
        var raw: [(file: String, entry: Entry)] = []
        // By bytes: two include files `caf\u{E9}` and `cafe\u{301}` are one to Swift's `String`.
        var seen: Set<[UInt8]> = []
        func read(_ file: String, depth: Int) {
            guard HostFS.info(file) != nil else { return }
            guard !seen.contains(Array(file.utf8)) else { return }
            guard r.files.count < fileCountLimit else {
                r.problems.append("more than \(fileCountLimit) configuration files are included; \(file) was not read")
                return
            }
            seen.insert(Array(file.utf8))
            r.files.append(file)
            guard let bytes = HostFS.readBytes(file, limit: fileLimit) else {
                r.problems.append("\(file) cannot be read")
                return
            }
            guard bytes.count <= fileLimit else {
                r.problems.append("\(file) is larger than \(fileLimit) bytes")
                return
            }
            let (entries, error) = parse(bytes)
            if let error { r.problems.append("\(file) line \(error.line): \(error.reason)") }
            for e in entries {
                raw.append((file, e))
                guard use(of: e) == .include, let v = e.value else { continue }
                for p in includePaths(v, from: file, homes: homes) {
                    if depth >= depthLimit {
                        r.problems.append("\(file) includes \(p) nested more than \(depthLimit) deep")
                        continue
                    }
                    read(p, depth: depth + 1)
                }
            }
        }
        // The system and global files first, as git reads them: a relative `core.hooksPath`
        // there is resolved in every repository, inside the tree the server writes.
        for file in global { read(file, depth: 0) }
        // `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`: after the files, as git reads them.
        raw += environment.map { ($0.origin, $0.entry) }
        let repositoryEntries = raw.count
        // No git directory (nil): the system and global files alone, which host git reads in
        // every repository; only their absolute and `~/` paths name a place here.
        if let gitDir {
            // A linked worktree's git directory keeps its configuration in the common directory.
            if let common = commonDir(of: gitDir) { read(Paths.join(common, "config"), depth: 0) }
            read(Paths.join(gitDir, "config"), depth: 0)
            read(Paths.join(gitDir, "config.worktree"), depth: 0)
        }

        // Where host git runs commands and resolves a relative hooksPath: the worktree top.
        // (No repository: only absolute and `~/` paths are resolved, from `/`.)
        var top = worktree ?? gitDir.map { Paths.basename($0) == ".git" ? Paths.dirname($0) : $0 } ?? "/"
        for (_, e) in raw[repositoryEntries...] where worktree == nil && e.section == "core" && e.subsection == nil {
            guard let gitDir else { break }
            if e.name == "worktree", let v = e.value, let p = resolve(v, base: gitDir, home: homes.first) { top = p }
            if e.name == "bare", (e.value.map { ["true", "yes", "on", "1", ""].contains($0.lowercased()) } ?? true) { top = gitDir }
        }
        for (file, e) in raw {
            // Text mcpbox reads by `Character` where git and the shell read bytes: refused whole.
            if let why = fusedASCII(e.key) ?? e.value.flatMap(fusedASCII) {
                r.problems.append("\(file)\(e.line > 0 ? " line \(e.line)" : ""): `\(e.key)` \(why)")
            }
            guard let u = use(of: e) else { continue }
            let v = e.value ?? ""
            let f = Finding(file: file, line: e.line, key: e.key, value: v, use: u, path: nil)
            let paths: [String]
            var arguments: [String] = []
            switch u {
            case .include: paths = includePaths(v, from: file, homes: homes)
            case .path where gitDir == nil && !v.isAbsolutePath && !v.hasPrefix("~") && !v.hasPrefix("%(prefix)/"): paths = []
            case .path: paths = gitResolveAll(v, base: top, homes: homes)
            case .command where gitDir == nil:
                // Only absolute and `~/` words: a relative one is resolved in whichever worktree git runs.
                let written = { (w: String) in isWrittenPath(w) || w.hasPrefix("%(prefix)/") }
                paths = commandPaths(v).filter(written).flatMap { gitResolveAll($0, base: "/", homes: homes) }
                // An argument written out as a path is judged whether or not it exists yet (a
                // script the server could create: `python3.11 /srv/w/fsmon.py`).
                arguments = argumentWords(v).filter(written).flatMap { gitResolveAll($0, base: "/", homes: homes) }
                    .filter { w in !paths.contains { Paths.same($0, w) } }
            case .command:
                // The files the command runs for sure (refused when missing), and every other word
                // that names an existing file there: an argument may be a script whatever runs it
                // (`nice sh pg.sh`, `node --require ./a.js b.js`, `make -f x.mk`).
                let sure = commandPaths(v).flatMap { resolveAll($0, base: top, homes: homes) }
                // A word with glob characters names what the shell expands it to (`cat s[7].sh | sh`).
                let words = argumentWords(v)
                let named = words.flatMap { gitResolveAll($0, base: top, homes: homes) }.flatMap(expandGlob)
                    .filter { w in HostFS.info(w)?.isRegular == true && !sure.contains { Paths.same($0, w) } }
                paths = sure + named
                // One written out as an absolute or `~/` path: judged even before it exists.
                arguments = words.filter(isWrittenPath).flatMap { gitResolveAll($0, base: top, homes: homes) }
                    .filter { w in !paths.contains { Paths.same($0, w) } }
            case .flag: paths = []
            }
            if let why = opaque(v, command: u == .command) {
                var o = f
                o.opaque = why
                r.findings.append(o)
            }
            if paths.isEmpty && u != .command { r.findings.append(f) }
            for p in paths {
                var g = f
                g.path = p
                r.findings.append(g)
            }
            for p in arguments {
                var g = f
                g.path = p
                g.argument = true
                r.findings.append(g)
            }
        }
        return r
    }

    /// The entries `GIT_CONFIG_COUNT` and `GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n` add, then those
    /// of `GIT_CONFIG_PARAMETERS` (`parameterEntries`), each named after its variable.
    static func environmentEntries(_ env: [String: String]) -> [(origin: String, entry: Entry)] {
        var out: [(origin: String, entry: Entry)] = []
        if let count = env["GIT_CONFIG_COUNT"].flatMap(configCount), count > 0 {
            // git dies at the first missing key; the entries before it were read.
            var n = 0
            while n < count, let key = env["GIT_CONFIG_KEY_\(n)"] {
                if let e = entry(key: key, value: env["GIT_CONFIG_VALUE_\(n)"] ?? "") { out.append(("the environment (GIT_CONFIG_KEY_\(n))", e)) }
                n += 1
            }
        }
        if let text = env["GIT_CONFIG_PARAMETERS"] {
            out += parameterEntries(text).entries.map { ("the environment (GIT_CONFIG_PARAMETERS)", $0) }
        }
        return out
    }

    /// `GIT_CONFIG_COUNT` as git reads it (`strtoul`: C blanks, then an optional sign, then
    /// digits to the end); nil where git refuses it. (`Int(" 1")` is nil, and git read one entry.)
    static func configCount(_ text: String) -> Int? {
        let all = Array(text.utf8)
        if all.isEmpty { return 0 }
        var i = 0
        while i < all.count, all[i] == 0x20 || (0x09...0x0D).contains(all[i]) { i += 1 }
        var negative = false
        if i < all.count, all[i] == 0x2B || all[i] == 0x2D { negative = all[i] == 0x2D; i += 1 }
        guard i < all.count else { return nil }   // no digits: git finds the count bogus
        var value = 0
        for c in all[i...] {
            guard (0x30...0x39).contains(c) else { return nil }
            value = min(value * 10 + Int(c - 0x30), Int(Int32.max) + 1)
        }
        if negative { return value == 0 ? 0 : nil }   // strtoul wraps a negative count past INT_MAX
        return value <= Int(Int32.max) ? value : nil
    }

    /// `KEY` (`section.name` or `section.sub.section.name`) and its value as one entry, split at
    /// the first and last `.` byte as git splits it (split by `Character`, `filter.` followed by a
    /// combining mark was one piece: red-team pass, 2026-12-03); nil for a key without a dot,
    /// which git refuses.
    static func entry(key: String, value: String?) -> Entry? {
        let b = Array(key.utf8)
        guard let first = b.firstIndex(of: 0x2E), let last = b.lastIndex(of: 0x2E) else { return nil }
        let sub = first < last ? String(decoding: b[(first + 1)..<last], as: UTF8.self) : nil
        return Entry(section: Parser.lower(Array(b[..<first])), subsection: sub, name: Parser.lower(Array(b[(last + 1)...])), value: value, line: 0)
    }

    /// The entries of `GIT_CONFIG_PARAMETERS`, the variable in which `git -c KEY=VALUE` hands its
    /// settings to the git commands it runs (a caller may export it too), read as git's
    /// `parse_config_env_list` reads it: single-quoted words (`'\''` and `'\!'` continue one),
    /// separated by git's blanks (space, tab, LF, CR), each `'KEY=VALUE'` (or `'KEY'`, a boolean)
    /// or `'KEY'='VALUE'` (or `'KEY'=`). git dies at a malformed list, once it has read the entries
    /// before the fault: those are returned, with `complete` false.
    static func parameterEntries(_ text: String) -> (entries: [Entry], complete: Bool) {
        let b = Array(text.utf8)
        var i = 0
        func blank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
        // One quoted word starting at b[i] (git's `sq_dequote_step`); i is left after it.
        func word() -> String? {
            guard i < b.count, b[i] == 0x27 else { return nil }
            var out: [UInt8] = []
            i += 1
            while i < b.count {
                let c = b[i]
                i += 1
                if c != 0x27 { out.append(c); continue }
                // Out of the quotes: `\'` or `\!` followed by a quote stays in the word.
                if i + 2 < b.count, b[i] == 0x5C, b[i + 1] == 0x27 || b[i + 1] == 0x21, b[i + 2] == 0x27 {
                    out.append(b[i + 1])
                    i += 3
                    continue
                }
                return String(decoding: out, as: UTF8.self)
            }
            return nil
        }
        func trimmed(_ u: ArraySlice<UInt8>) -> String {
            guard let lo = u.firstIndex(where: { !blank($0) }), let hi = u.lastIndex(where: { !blank($0) }) else { return "" }
            return String(decoding: u[lo...hi], as: UTF8.self)
        }
        var entries: [Entry] = []
        while i < b.count {
            guard let key = word() else { return (entries, false) }
            if i == b.count || blank(b[i]) {
                // Old style, 'KEY=VALUE': split at the first `=` byte, the key trimmed.
                let u = Array(key.utf8)
                let eq = u.firstIndex(of: 0x3D)
                let k = trimmed(u[..<(eq ?? u.count)])
                guard !k.isEmpty, let e = entry(key: k, value: eq.map { String(decoding: u[($0 + 1)...], as: UTF8.self) }) else { return (entries, false) }
                entries.append(e)
            } else if b[i] == 0x3D {
                i += 1
                var value: String?
                if i < b.count, b[i] == 0x27 {
                    guard let v = word(), i == b.count || blank(b[i]) else { return (entries, false) }
                    value = v
                } else if !(i == b.count || blank(b[i])) {
                    return (entries, false)
                }
                guard let e = entry(key: key, value: value) else { return (entries, false) }
                entries.append(e)
            } else {
                return (entries, false)
            }
            while i < b.count, blank(b[i]) { i += 1 }
        }
        return (entries, true)
    }

    /// The directory `gitDir/commondir` names (relative to `gitDir`), nil without one.
    static func commonDir(of gitDir: String) -> String? {
        guard let bytes = HostFS.readBytes(Paths.join(gitDir, "commondir"), limit: 4096),
              let text = String(validating: bytes, as: UTF8.self)?.split(whereSeparator: \.isNewline).first else { return nil }
        let value = String(text)
        return HostFS.realPath(value.isAbsolutePath ? value : gitDir + "/" + value)
    }

    /// The git directory a gitfile (`DIR/.git`: `gitdir: PATH`) names, relative to DIR; nil when
    /// it names none that exists.
    public static func gitfileTarget(worktree: String) -> String? {
        guard let bytes = HostFS.readBytes(Paths.join(worktree, ".git"), limit: 4096),
              let text = String(validating: bytes, as: UTF8.self)?.split(whereSeparator: \.isNewline).first,
              text.hasPrefix("gitdir: ") else { return nil }
        let value = String(text.dropFirst("gitdir: ".count))
        guard let path = HostFS.realPath(value.isAbsolutePath ? value : worktree + "/" + value),
              HostFS.info(path)?.isDirectory == true else { return nil }
        return path
    }

    /// An include's files: `~/` from each home, relative to the including file's directory.
    static func includePaths(_ value: String, from file: String, homes: [String]) -> [String] {
        var v = value
        if v.hasPrefix(":(optional)") { v = String(v.dropFirst(":(optional)".count)) }
        return gitResolveAll(v, base: Paths.dirname(file), homes: homes)
    }

    /// Where git may be installed (`%(prefix)/` in a path value is git's own installation
    /// prefix): Debian's `/usr`, a build from source's `/usr/local`, and the prefix of every
    /// `git` on the caller's PATH.
    static let gitPrefixes: [String] = {
        var out = ["/usr", "/usr/local"]
        for dir in (HostFS.environment().first { $0.0 == "PATH" }?.1 ?? "").split(separator: ":") where dir.isAbsolutePath {
            guard let git = HostFS.realPath(Paths.join(String(dir), "git")) else { continue }
            let prefix = Paths.dirname(Paths.dirname(git))
            if !out.contains(prefix) { out.append(prefix) }
        }
        return out
    }()

    /// `resolveAll` as git reads a path value: `%(prefix)/` under each of `gitPrefixes`.
    static func gitResolveAll(_ value: String, base: String, homes: [String]) -> [String] {
        guard value.hasPrefix("%(prefix)/") else { return resolveAll(value, base: base, homes: homes) }
        let rest = value.dropFirst("%(prefix)/".count)
        return gitPrefixes.compactMap { resolve($0 + "/" + rest, base: "/", home: nil) }
    }

    /// `resolve` for each home a `~/` value may stand for (once for any other value).
    static func resolveAll(_ value: String, base: String, homes: [String]) -> [String] {
        guard value.hasPrefix("~") else { return resolve(value, base: base, home: nil).map { [$0] } ?? [] }
        var out: [String] = []
        for h in homes { if let p = resolve(value, base: base, home: h), !out.contains(p) { out.append(p) } }
        return out
    }

    /// `value` as a host path: `~/` from `home`, relative ones from `base`, `..` applied
    /// lexically. nil when empty or unresolvable.
    public static func resolve(_ value: String, base: String, home: String?) -> String? {
        guard !value.isEmpty, !value.contains("\0") else { return nil }
        var path: String
        if value == "~" || value.hasPrefix("~/") {
            guard let home else { return nil }
            path = home + "/" + value.dropFirst(1)
        } else if value.hasPrefix("~") {
            // `~NAME/`: that account's home, as git's and hg's expansion read it.
            let name = value.dropFirst().prefix { $0 != "/" }
            guard !name.isEmpty, let h = Accounts().user(named: String(name))?.home, h.isAbsolutePath else { return nil }
            path = h + "/" + value.dropFirst(1 + name.count)
        } else if value.isAbsolutePath {
            path = value
        } else {
            path = base + "/" + value
        }
        var parts: [Substring] = []
        for c in Paths.components(path) {
            if c == "." { continue }
            if c == ".." { _ = parts.popLast(); continue }
            parts.append(c)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Whether `word` runs an interpreter or shell: by its name, or its name with a version
    /// after it (`python3.11`, `perl5.36`, `node18`).
    static func isInterpreter(_ word: String) -> Bool {
        let name = Paths.basename(word)
        if interpreters.contains(name) { return true }
        // Without its version suffix (`python3.11`, `node-20`): trailing ASCII digits, dots and
        // dashes, by byte (a generic reversed-drop-reversed costs runtime type lookups).
        let u = name.utf8
        var end = u.endIndex
        while end > u.startIndex {
            let b = u[u.index(before: end)]
            guard (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") else { break }
            end = u.index(before: end)
        }
        guard end != u.endIndex else { return false }
        return interpreters.contains(String(name[..<end]))
    }

    static let interpreters: Set<String> = ["sh", "bash", "dash", "zsh", "ksh", "env", "exec", "node", "nodejs", "python",
                                            "python3", "perl", "ruby", "php", "deno", "bun", ".", "source"]

    /// The words of a command value that name files (containing a `/`, or starting `~`): its
    /// first word, after any `NAME=value` assignments; when that is an interpreter or a shell,
    /// its script (or the first word of its `-c` command) too.
    public static func commandPaths(_ value: String, depth: Int = 0) -> [String] {
        var v = Substring(value)
        if v.hasPrefix("!") { v = v.dropFirst() }
        // Every simple command of the line (`true; sh s1.sh`, `a && sh b.sh`, `x | sh`), and
        // every file fed to one's standard input (`sh < s4.sh`).
        let line = shellCommands(v)
        return (line.inputs + line.commands.flatMap { simpleCommandPaths($0, depth: depth) }).filter { !$0.contains("$") && !$0.contains("`") }
    }

    /// `commandPaths` of one simple command's words.
    static func simpleCommandPaths(_ words: [String], depth: Int) -> [String] {
        var out: [String] = []
        var k = 0
        while k < words.count, let eq = words[k].firstIndex(of: "="), !words[k][..<eq].contains("/") { k += 1 }
        guard k < words.count else { return [] }
        let first = words[k]
        if first.contains("/") || first.hasPrefix("~") { out.append(first) }
        // A wrapper runs the rest as a command: judged as one (its options, and the words it
        // takes for itself, skipped).
        if let own = wrappers[Paths.basename(first)], depth < 4 {
            var j = k + 1
            // Options, with the value of `-n 5`-style ones for nice/ionice/stdbuf/chrt.
            while j < words.count, words[j].hasPrefix("-") {
                if ["-n", "-c", "-p", "-i", "-o", "-e", "-u", "-k", "-s"].contains(words[j]) && j + 1 < words.count && !words[j + 1].hasPrefix("-") { j += 1 }
                j += 1
            }
            j += own
            guard j < words.count else { return out.filter { !$0.contains("$") && !$0.contains("`") } }
            return (out + commandPaths(words[j...].joined(separator: " "), depth: depth + 1)).filter { !$0.contains("$") && !$0.contains("`") }
        }
        if isInterpreter(first) {
            var j = k + 1
            while j < words.count, words[j].hasPrefix("-") {
                if words[j] == "-c", j + 1 < words.count, depth < 2 {
                    return out + commandPaths(words[j + 1], depth: depth + 1)
                }
                // Inline code (perl, ruby, node): no script file.
                if ["-e", "-E", "--eval"].contains(words[j]), !["sh", "bash", "dash", "zsh", "ksh"].contains(Paths.basename(first)) {
                    return out.filter { !$0.contains("$") && !$0.contains("`") }
                }
                // A Python module, found first in the working directory.
                if words[j] == "-m", j + 1 < words.count {
                    return (out + [String(words[j + 1].map { $0 == "." ? "/" : $0 }) + ".py"]).filter { !$0.contains("$") && !$0.contains("`") }
                }
                j += 1
            }
            if j < words.count {
                if Paths.basename(first) == "env" || Paths.basename(first) == "exec" {
                    return out + commandPaths(words[j...].joined(separator: " "), depth: depth + 1)
                }
                // The script an interpreter runs is a file, found from where git runs the command
                // (the worktree's top) even without a `/` (`sh fsm.sh`); `-` is its standard input.
                if words[j] != "-" { out.append(words[j]) }
            }
        }
        return out.filter { !$0.contains("$") && !$0.contains("`") }
    }

    /// The existing paths a pattern with `*`, `?` or `[` matches (at most 256), else the path.
    static func expandGlob(_ path: String) -> [String] {
        guard path.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) else { return [path] }
        var g = glob_t()
        defer { globfree(&g) }
        guard glob(path, 0, nil, &g) == 0 else { return [] }
        var out: [String] = []
        for i in 0..<min(Int(g.gl_pathc), 256) {
            if let p = g.gl_pathv[i], let s = String(validatingCString: p) { out.append(s) }
        }
        return out
    }

    /// Every word of a command value after its first (and its `NAME=value` assignments) that
    /// could name a file: not an option (the value of `--opt=VALUE` is taken), no variable, no
    /// command substitution, no URL. Judged only where such a file exists (see `scan`).
    public static func argumentWords(_ value: String) -> [String] {
        var v = Substring(value)
        if v.hasPrefix("!") { v = v.dropFirst() }
        var out: [String] = []
        for words in shellCommands(v).commands {
            var k = 0
            while k < words.count, let eq = words[k].firstIndex(of: "="), !words[k][..<eq].contains("/") {
                // An assignment's value may name a file the command reads or runs
                // (`BASH_ENV=/srv/w/h.sh bash -c :`; red-team pass, 2026-12-02).
                let value = String(words[k][words[k].index(after: eq)...])
                if value.contains("/") || value.hasPrefix("~") { out += optionFreeWords([value][...]) }
                k += 1
            }
            guard k < words.count else { continue }
            out += optionFreeWords(words[(k + 1)...])
        }
        return out
    }

    /// The words that could name files: not options (the value of `--opt=VALUE` is taken), no
    /// variable, no command substitution, no URL.
    static func optionFreeWords(_ words: ArraySlice<String>) -> [String] {
        var out: [String] = []
        for w in words {
            var word = w
            if w.hasPrefix("-") {
                guard w.hasPrefix("--"), let eq = w.firstIndex(of: "=") else { continue }
                word = String(w[w.index(after: eq)...])
            }
            if word.isEmpty || word.contains("$") || word.contains("`") || word.contains("://") { continue }
            out.append(word)
        }
        return out
    }

    /// Commands that run the rest of their words as another command (`nice sh x.sh`), with how
    /// many words after their options they take for themselves (`timeout 5 sh x.sh`).
    static let wrappers: [String: Int] = ["nice": 0, "nohup": 0, "stdbuf": 0, "command": 0, "setsid": 0, "ionice": 0,
                                          "time": 0, "timeout": 1, "chrt": 1, "taskset": 1, "flock": 1, "sudo": 0, "doas": 0, "busybox": 0, "xargs": 0]

    /// A shell command line as simple commands (each its words, quotes removed), split at `;`,
    /// `&`, `|`, newlines and parentheses; the text of each `$(…)` and backquoted part is a
    /// command line of its own; the word after `<` is a file read as standard input (`inputs`),
    /// the word after `>` a file written (dropped). At most 64 commands and 64 words each.
    /// By Unicode scalars, as the shell reads bytes: a combining mark after a closing quote
    /// (`'x'\u{301}`) does not hide the quote, as it did when this read `Character`s (red-team
    /// pass, 2026-12-02).
    static func shellCommands(_ text: Substring, depth: Int = 0) -> (commands: [[String]], inputs: [String]) {
        let s = Array(text.unicodeScalars)
        var commands: [[String]] = [], inputs: [String] = []
        var words: [String] = []
        var cur = String.UnicodeScalarView(), inWord = false
        var quote: Unicode.Scalar?
        var escape = false
        enum Redirect { case none, input, output }
        var redirect = Redirect.none
        func endWord() {
            guard inWord else { return }
            switch redirect {
            case .input: inputs.append(String(cur))
            case .output: break
            case .none: if words.count < 64 { words.append(String(cur)) }
            }
            redirect = .none
            cur = String.UnicodeScalarView()
            inWord = false
        }
        func endCommand() {
            endWord()
            if !words.isEmpty && commands.count < 64 { commands.append(words) }
            words = []
        }
        /// The commands of a substitution's text, as commands of this line.
        func absorb(_ inner: ArraySlice<Unicode.Scalar>) {
            guard depth < 4 else { return }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: inner)
            let sub = shellCommands(Substring(String(view)), depth: depth + 1)
            commands += sub.commands
            inputs += sub.inputs
        }
        var i = 0
        while i < s.count {
            let ch = s[i]
            if escape { cur.append(ch); escape = false; i += 1; continue }
            // `$(…)` and backquotes (also inside double quotes): a command line of their own.
            if quote != "'", ch == "$", i + 1 < s.count, s[i + 1] == "(" {
                var level = 0, j = i + 1
                while j < s.count {
                    if s[j] == "(" { level += 1 } else if s[j] == ")" { level -= 1; if level == 0 { break } }
                    j += 1
                }
                absorb(s[(i + 2)..<max(i + 2, min(j, s.count))])
                cur.append(contentsOf: "$(…)".unicodeScalars)
                inWord = true
                i = j < s.count ? j + 1 : j
                continue
            }
            if quote != "'", ch == "`" {
                let j = s[(i + 1)...].firstIndex(of: "`") ?? s.count
                absorb(s[(i + 1)..<j])
                cur.append(contentsOf: "`…`".unicodeScalars)
                inWord = true
                i = j < s.count ? j + 1 : j
                continue
            }
            if let q = quote {
                if ch == q { quote = nil } else if ch == "\\" && q == "\"" { escape = true } else { cur.append(ch) }
                i += 1
                continue
            }
            switch ch {
            case "'", "\"": quote = ch; inWord = true
            case "\\": escape = true; inWord = true
            case " ", "\t": endWord()
            case "\n", ";", "|", "&", "(", ")": endCommand()
            case "<": endWord(); redirect = .input
            case ">": endWord(); redirect = .output
            default: cur.append(ch); inWord = true
            }
            i += 1
        }
        endCommand()
        return (commands, inputs)
    }

}

extension PlanBuilder {
    /// Binds read-only what `gitDir`'s configuration names inside any read-write bind of the
    /// plan (hooks directories, included files, commands), and refuses what cannot be bound: a
    /// path that does not exist yet, one reached through a symlink there, configuration that
    /// cannot be checked.
    /// `gitDir` nil: no repository (a read-write bind holding none): the system's and the
    /// user's global files alone, which host git reads in every repository, for the absolute
    /// and `~/` paths they name (`include.path`, `core.hooksPath`, `init.templateDir`, a hook
    /// command's script) inside the bind.
    func protectGitConfiguration(_ d: inout Draft, gitDir g: String?, bind m: Mount, worktree: String? = nil) {
        let writable: [(source: String, target: String)] = d.mounts.compactMap {
            if case .bind(let source, false) = $0.kind { return (source, $0.target) }
            return nil
        }
        // `~/` in the configuration: the home of the repository's owner and of the caller.
        var homes = g.flatMap { HostFS.info($0) }.flatMap { host.accounts.user(uid: $0.uid)?.home }.map { [$0] } ?? []
        for case let h? in [host.accounts.user(uid: host.callerUid)?.home, host.environmentDictionary["HOME"]]
        where h.isAbsolutePath && !homes.contains(h) { homes.append(h) }
        // Host git also reads the system and global files of whoever runs it there.
        var global = ["/etc/gitconfig"]
        for h in homes { global += [Paths.join(h, ".gitconfig"), Paths.join(h, ".config/git/config")] }
        if let x = host.environmentDictionary["XDG_CONFIG_HOME"], x.isAbsolutePath { global.append(Paths.join(x, "git/config")) }
        // The files the caller's environment names in their place (`GIT_CONFIG_SYSTEM`,
        // `GIT_CONFIG_GLOBAL`): read as well as the usual ones, since the shell host git later
        // runs in may or may not set them (red-team pass, 2026-12-02: they were not read).
        for v in ["GIT_CONFIG_SYSTEM", "GIT_CONFIG_GLOBAL"] {
            if let x = host.environmentDictionary[v], x.isAbsolutePath, !global.contains(x) { global.append(x) }
        }
        // Without a repository the scan is the same for every bind: read once per plan.
        let environment = GitConfigScan.environmentEntries(host.environmentDictionary)
        let scan = g == nil ? d.gitGlobalScan ?? GitConfigScan.scan(gitDir: nil, homes: homes, global: global, environment: environment)
            : GitConfigScan.scan(gitDir: g, homes: homes, global: global, environment: environment, worktree: worktree)
        if g == nil { d.gitGlobalScan = scan }
        let repo = g.map { g in worktree ?? (Paths.basename(g) == ".git" ? Paths.dirname(g) : g) } ?? "every repository"
        let gitC = g == nil ? "git" : "git -C \(repo)"
        // What `[filesystem] accept` names to acknowledge a refusal: the repository, or the bind.
        let acceptPath = g == nil ? m.target : repo
        for problem in scan.problems {
            d.sink.add(Diagnostic(key: "filesystem.read_write",
                                  "refused: \(repo)'s configuration cannot be checked for what host git would run from a path the server may write: \(problem) (\(m.origin))",
                                  hint: "fix or shorten the configuration (`\(gitC) config --list --show-origin` shows it)"))
        }
        // A hooks directory's dispatcher (husky's) runs files beside it in the worktree.
        var findings: [GitConfigScan.Finding] = []
        for f in scan.findings {
            findings.append(f)
            guard f.key.lowercased() == "core.hookspath", let p = f.path else { continue }
            for delegate in HookManagers.delegates(hooksDir: p, top: repo) {
                var g = f
                g.path = delegate.path
                g.via = delegate.what
                findings.append(g)
            }
        }
        for f in findings {
            let what = "\(repo)'s configuration (\(f.file): \(f.key)\(f.via.map { ", through \($0)" } ?? ""))"
            if let why = f.opaque {
                // Set where the server writes, or in the repository itself: refused (acknowledged
                // only by name); the system's and the user's own files: said (the user wrote them
                // for every repository, and host git runs them from this worktree too).
                let local = g.map { Paths.isWithin(f.file, $0) } == true || writable.contains { Paths.isWithin(f.file, $0.source) }
                // The paths it names as far as its words can be read: one inside a path the
                // server writes (`f() { ~/work/hook.sh; }; f`, `cd /srv/w && ./x`) is a script
                // the server plants and host git runs, from a file of the user's too.
                let planted = f.use == .command ? GitConfigScan.opaqueCommandPaths(f.value, homes: homes).first { p in
                    let real = GrantChecks.resolved(p)
                    return writable.contains { Paths.isWithin(p, $0.source) || Paths.isWithin(real, $0.source) }
                } : nil
                let writableHere = g == nil ? m.target : "the worktree \(repo)"
                let text = planted.map { "\(what) = \(f.value) names \($0), inside a path the server may write: host git would run what the server puts there" }
                    ?? "\(what) = \(f.value): mcpbox cannot tell which files it makes host git run or read (\(why)), and \(writableHere) is writable by the server"
                if local || planted != nil {
                    if !acknowledged([repo, m.target], reason: "git configuration mcpbox cannot judge (\(f.key))", &d) {
                        let fix = planted == nil ? "make it one program with plain arguments" : "keep what it runs out of the paths the server may write"
                        d.sink.add(Diagnostic(key: "filesystem.read_write", "refused: \(text) (\(m.origin))",
                                              hint: "\(fix) (\(gitC) config --show-origin --get-all \(f.key)), or acknowledge it: [filesystem] accept = [\"\(acceptPath)\"]"))
                    }
                } else {
                    d.warnings.append("git: \(text); check that it runs nothing from \(g == nil ? m.target : "the worktree") (\(m.origin))")
                }
                continue
            }
            if f.use == .flag {
                // Without a repository there is no .gitmodules or remote the server could point
                // at a command; a repository it creates in the bind is moved aside by the sweep
                // guard when the session ends (`GitProtection.Tree`), before host git works there.
                if g == nil { continue }
                d.sink.add(Diagnostic(key: "filesystem.read_write",
                                      "refused: \(what) = \(f.value) lets a URL the server writes (in .gitmodules, say) run commands on the host at the next `git fetch` or `git submodule update` (\(m.origin))",
                                      hint: "remove it: \(gitC) config --unset \(f.key)"))
                continue
            }
            guard let written = f.path else { continue }
            // A path reached through a symlinked directory outside the binds (`~/lnk/d/x.sh`,
            // `~/lnk` pointing into a bind): judged where the kernel finds it (red-team pass,
            // 2026-12-02: only the text was compared). One inside a bind is judged as written:
            // the walk below refuses a symlink there.
            let p = PlanBuilder.reached(written, writable: writable.map(\.source))
            // An argument written out as a path: a file it names is judged as a script; one not
            // there yet only inside a path the server writes (it could create it); a directory
            // or device is no script.
            if f.argument {
                if let info = HostFS.info(p, follow: false) {
                    guard info.isRegular || info.isSymlink else { continue }
                } else if !writable.contains(where: { Paths.isWithin(p, $0.source) && $0.source != p }) {
                    continue
                }
            }
            let hint = "create it before the launch, move it out of the paths the server may write, or change the configuration (\(gitC) config --show-origin --get-all \(f.key))"
            if !f.argument, let outer = writable.first(where: { Paths.isWithin($0.source, p) && $0.source != p }) {
                d.sink.add(Diagnostic(key: "filesystem.read_write",
                                      "refused: \(what) names \(p), which holds \(outer.source), a path the server may write: host git would read or run what the server writes there (\(m.origin))",
                                      hint: hint))
                continue
            }
            let holders = writable.filter { Paths.isWithin(p, $0.source) }
            guard let first = holders.first else {
                // Outside: still not a file with another name inside a path the server writes.
                protectLinks(&d, p, what: what, bind: m)
                continue
            }
            // Every component below the bind must be what it is now: a symlink there could be
            // re-pointed by the server, a missing one created.
            var cur = first.source
            var problem: String?
            for c in Paths.components(Paths.remainder(p, under: first.source)) {
                cur = Paths.join(cur, String(c))
                guard let info = HostFS.info(cur, follow: false) else { problem = "\(cur) does not exist, so the server could create it"; break }
                if info.isSymlink { problem = "\(cur) is a symlink the server could re-point"; break }
            }
            if let problem {
                d.sink.add(Diagnostic(key: "filesystem.read_write",
                                      "refused: \(what) names \(p), inside a path the server may write, and \(problem): host git would read or run what the server puts there (\(m.origin))",
                                      hint: hint))
                continue
            }
            // A script runs with what lies beside it (Python imports its own directory's modules
            // first, and their `__pycache__`; a shell script sources its neighbours): its whole
            // directory is bound read-only, and one at the top of a read-write bind is refused
            // (red-team pass, 2026-12-02: a `json.py` planted beside a protected fsmonitor ran).
            var bound = p
            if f.use == .command, HostFS.info(p)?.isRegular == true {
                if let dir = PlanBuilder.scriptDirectory(p, within: holders.map(\.source)) {
                    bound = dir
                } else if let top = holders.first(where: { PlanBuilder.scriptDirectory(p, within: [$0.source]) == nil }) {
                    // Acknowledged: the script alone is bound read-only, as before.
                    if !acknowledged([acceptPath, m.target], reason: "a script host git runs at the top of a read-write bind (\(f.key))", &d) {
                        d.sink.add(Diagnostic(key: "filesystem.read_write",
                                              "refused: \(what) runs \(p), which lies at the top of \(top.source), a path the server may write: what the server writes beside it (a module it imports, a file it sources) would run with it (\(m.origin))",
                                              hint: "move the script into a directory of its own, or out of the paths the server may write; or acknowledge it: [filesystem] accept = [\"\(acceptPath)\"]"))
                        continue
                    }
                }
            }
            for h in holders {
                let target = Paths.join(h.target, Paths.remainder(bound, under: h.source))
                let mount = Mount(target: target, kind: .bind(source: bound, readOnly: true),
                                  origin: "mcpbox: git protection (\(f.key)\(f.via == nil ? "" : ": husky"))")
                if d.hasMount(at: target, kind: mount.kind) { continue }
                d.mounts.append(mount)
            }
            protectLinks(&d, p, what: what, bind: m)
        }
    }

    /// The directory of the script `path` when it lies strictly inside every one of `sources`
    /// (bound read-only with the script: what lies beside a script runs with it); nil at the
    /// top of one, where binding it would take back the whole grant.
    static func scriptDirectory(_ path: String, within sources: [String]) -> String? {
        let dir = Paths.dirname(path)
        return sources.allSatisfy({ Paths.isWithin(dir, $0) && !Paths.same(dir, $0) }) ? dir : nil
    }

    /// `path` as the kernel reaches it when the text lies outside every source of `writable`
    /// but its resolution (through symlinked directories) lies inside one; else `path`.
    static func reached(_ path: String, writable: [String]) -> String {
        guard !writable.contains(where: { Paths.isWithin(path, $0) }) else { return path }
        let real = GrantChecks.resolved(path)
        return !Paths.same(real, path) && writable.contains(where: { Paths.isWithin(real, $0) }) ? real : path
    }

    /// What a read-only bind of `path` (a hooks directory, a configuration file) would still
    /// leave the server: a file with other hard links changes through them, and one of them may
    /// lie in a path the server writes (refused: mcpbox cannot find them); a symlink in a hooks
    /// directory runs what it points to, bound read-only too where that lies in a path the
    /// server writes, refused where it does not exist (the server could create it). Directories
    /// are looked into to a depth of 4, 4096 entries.
    func protectLinks(_ d: inout Draft, _ path: String, what: String, bind m: Mount) {
        let writable: [(source: String, target: String)] = d.mounts.compactMap {
            if case .bind(let source, false) = $0.kind { return (source, $0.target) }
            return nil
        }
        let devices = writableDevices(d)
        var budget = 4096
        func visit(_ p: String, depth: Int) {
            var st = stat()
            guard budget > 0, lstat(p, &st) == 0 else { return }
            budget -= 1
            switch st.st_mode & S_IFMT {
            case S_IFREG where st.st_nlink > 1 && devices.contains(UInt64(st.st_dev)):
                d.sink.add(Diagnostic(key: "filesystem.read_write",
                                      "refused: \(p), which host git reads or runs (\(what)), has \(st.st_nlink) hard links: the server could change it through another name inside a path it may write, which mcpbox cannot find (\(m.origin))",
                                      hint: "make it a file of its own: cp -p \(p) \(p).copy && mv \(p).copy \(p)"))
            case S_IFLNK:
                // Hop by hop: every link on the way that lies where the server writes could be
                // re-pointed (a chain `hooks/pre-commit -> ../../tools/link -> real` bound only
                // `real` read-only, and the server re-pointed `link`).
                var hop = p
                for _ in 0..<40 {
                    // Each hop where the kernel reaches it: its directory by its real path (a
                    // symlinked directory or `..` on the way, outside the binds, led the lexical
                    // name away from a link the server could re-point).
                    guard let text = HostFS.readLink(hop) else { break }
                    let joined = text.isAbsolutePath ? text : Paths.join(Paths.dirname(hop), text)
                    let lexical = SandboxView.resolveDots(joined) ?? joined
                    guard let dir = HostFS.realPath(Paths.dirname(joined)) else {
                        d.sink.add(Diagnostic(key: "filesystem.read_write",
                                              "refused: \(p), which host git runs (\(what)), leads to \(lexical), whose directory does not exist: the server could create it (\(m.origin))",
                                              hint: "remove the symlink, or point it at an existing file"))
                        return
                    }
                    let base = Paths.basename(joined)
                    let next = base == "." || base == ".." ? (HostFS.realPath(joined) ?? dir) : Paths.join(dir, base)
                    let isLink = HostFS.info(next, follow: false)?.isSymlink == true
                    if isLink, writable.contains(where: { Paths.isWithin(next, $0.source) }) {
                        d.sink.add(Diagnostic(key: "filesystem.read_write",
                                              "refused: \(p), which host git runs (\(what)), leads through the symlink \(next) in a path the server may write: the server could re-point it (\(m.origin))",
                                              hint: "point the hook at the file itself (ln -sfn), or make it a file of its own"))
                        return
                    }
                    hop = next
                    if !isLink { break }
                }
                guard let real = HostFS.realPath(p) else {
                    d.sink.add(Diagnostic(key: "filesystem.read_write",
                                          "refused: \(p), which host git runs (\(what)), is a symlink to a path that does not exist: the server could create it (\(m.origin))",
                                          hint: "remove the symlink, or create what it points to"))
                    return
                }
                for h in writable where Paths.isWithin(real, h.source) {
                    let target = Paths.join(h.target, Paths.remainder(real, under: h.source))
                    let mount = Mount(target: target, kind: .bind(source: real, readOnly: true), origin: "mcpbox: git protection (the target of \(p))")
                    if !d.hasMount(at: target, kind: mount.kind) { d.mounts.append(mount) }
                }
                // What it points to, in turn (a directory of hooks, a file with other links).
                if depth < 4 { visit(real, depth: depth + 1) }
            case S_IFDIR where depth < 4:
                guard let entries = GitProtection.listDirectory(Array(p.utf8)) else { return }
                for e in entries {
                    guard let name = String(validating: e.name, as: UTF8.self) else { continue }
                    visit(Paths.join(p, name), depth: depth + 1)
                }
            default:
                return
            }
        }
        visit(path, depth: 0)
    }
}
