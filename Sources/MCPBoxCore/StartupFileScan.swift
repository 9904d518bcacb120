import Glibc

/// The places shell start-up files name: what they source, the directories they put on PATH,
/// the programs they run. `GrantChecks.runLater` knows the usual names (`~/.bashrc.d`, `~/.nvm`);
/// a start-up file can name any path (`. ~/dotfiles/aliases.sh`, `export
/// PATH=~/dotfiles/bin:$PATH`), and a read-write bind of it lets the server change what the
/// host's next shell runs (red-team pass, 2026-12-03). mcpbox does not interpret the shell: every
/// absolute path a start-up file writes outside a comment is a place, as written or with `~`,
/// `$HOME` or `${HOME}` in front (`${NAME:-WORD}` read as its WORD); a path with another
/// variable or a glob counts up to the component before it (`cut`); a relative path after `.` or
/// `source` is taken from the home (a login shell's working directory). Files that a start-up
/// file sources are read too, breadth first, to a bounded depth.
///
/// Each file is read twice: with quotes as the shell reads them (a quoted `#` is no comment, a
/// quoted space no break) and with each quote as a break before a command (what a quoted
/// command string names: `alias x='python3 ~/dotfiles/x.py'`, `PROMPT_COMMAND="source ~/x"`,
/// `eval "$(~/.local/bin/mise activate bash)"`; an unmatched quote cannot hide the rest of the
/// file); the places of both count.
///
/// The bytes are the user's own files, read with hard limits: at most `maxFileBytes` of each
/// file (a larger one is read no further), `maxFiles` files, `maxDepth` levels of sourcing,
/// `maxPlaces` places, `maxWordBytes` per word, `maxNesting` levels of `${…}`.
public enum StartupFileScan {
    /// Start-up files under a home directory that shells and sessions read.
    public static let homeFiles = [
        ".profile", ".bash_profile", ".bash_login", ".bashrc", ".bash_aliases", ".bash_logout",
        ".zshenv", ".zprofile", ".zshrc", ".zlogin", ".zlogout", ".kshrc", ".mkshrc", ".cshrc", ".tcshrc",
        ".login", ".logout", ".config/fish/config.fish", ".xprofile", ".xsession", ".xsessionrc", ".xinitrc",
        ".bash_completion",
    ]
    /// The system's start-up files (Debian's and Fedora's; with the scripts in `/etc/profile.d`).
    public static let systemFiles = [
        "/etc/profile", "/etc/bash.bashrc", "/etc/bashrc", "/etc/zsh/zshenv", "/etc/zsh/zprofile", "/etc/zsh/zshrc",
        "/etc/zsh/zlogin", "/etc/zsh/zlogout", "/etc/zshenv", "/etc/zprofile", "/etc/zshrc", "/etc/zlogin",
        "/etc/csh.cshrc", "/etc/csh.login", "/etc/environment",
    ]
    public static let maxFileBytes = 1 << 20
    public static let maxFiles = 64
    public static let maxDepth = 4
    public static let maxPlaces = 4096
    public static let maxWordBytes = 4096
    public static let maxNesting = 8
    static let dot: [UInt8] = [UInt8(ascii: ".")]
    static let tilde: [UInt8] = Array("~/".utf8)
    static let source: [UInt8] = Array("source".utf8)
    static let pathVariables: [[UInt8]] = [Array("PATH".utf8), Array("path".utf8)]
    static let fishAddPath: [UInt8] = Array("fish_add_path".utf8)
    static let fishUserPaths: [UInt8] = Array("fish_user_paths".utf8)
    static let set: [UInt8] = Array("set".utf8)
    static let setenv: [UInt8] = Array("setenv".utf8)
    /// Words after which the next one is still in a command's place.
    static let prefixWords: [[UInt8]] = ["if", "then", "else", "elif", "do", "while", "until", "!", "{", "time", "builtin",
                                        "command", "eval", "exec", "noglob", "nocorrect", "and", "or", "not", "begin"].map { Array($0.utf8) }

    /// How a start-up file names a place.
    public enum Use: Int, Sendable, Comparable {
        /// Only named (an argument, a variable's value): judged only when a bind holds it.
        case named
        /// A directory on PATH (`PATH=…`, `path+=(…)`, `fish_add_path`).
        case path
        /// Sourced (after `.` or `source`).
        case sourced
        public static func < (a: Use, b: Use) -> Bool { a.rawValue < b.rawValue }
    }

    /// One place a start-up file names.
    public struct Place: Equatable, Sendable {
        public let path: String
        /// The start-up file that names it.
        public let file: String
        public let use: Use
        /// Cut before a variable or a glob: the place holds what is named, somewhere below.
        public let cut: Bool
        public var sourced: Bool { use == .sourced }
    }

    /// One path found in a file's bytes.
    public struct Found: Equatable, Sendable {
        public let path: String
        public let use: Use
        public let cut: Bool
        public var sourced: Bool { use == .sourced }
    }

    /// The places named by the start-up files of `homes` and (with `system`) the system's; `~`
    /// and `$HOME` in a home's files mean that home, in the system's files each of `homes`.
    /// A place that is `/`, one of `homes` or an ancestor of one is left out (what it would
    /// refuse, the checks of homes refuse already).
    public static func places(homes: [String], system withSystem: Bool) -> [Place] {
        var out: [Place] = []
        var seen: [PathKey: Int] = [:]
        var files = 0
        var queued = Set<PathKey>()
        // Breadth first: each file is read at the least depth it is reached at (a `.bashrc` that
        // `.profile` sources is also a start-up file of its own; red-team pass, 2026-12-03: read
        // first through `.profile`, it lost a level of the files it sources).
        // The homes' files and what they source, and the system's, each with `maxFiles` of its
        // own (review, 2026-12-03: forty /etc/profile.d scripts left no room for the user's).
        var queue: [(file: String, homes: [String], depth: Int, system: Bool)] = []
        func enqueue(_ file: String, _ expand: [String], _ depth: Int, _ system: Bool) {
            if queued.insert(PathKey(file)).inserted { queue.append((file, expand, depth, system)) }
        }
        for h in homes { for f in homeFiles { enqueue(Paths.join(h, f), [h], 0, false) } }
        if withSystem && !homes.isEmpty {
            var system = systemFiles
            let scripts = HostFS.listDirectory("/etc/profile.d", limit: 4096).filter { $0.hasSuffix(".sh") }.sorted()
            system += scripts.prefix(maxFiles).map { "/etc/profile.d/" + $0 }
            for f in system { enqueue(f, homes, 0, true) }
        }
        var systemFilesRead = 0
        var next = 0
        while next < queue.count, out.count < maxPlaces {
            let (file, expand, depth, isSystem) = queue[next]
            next += 1
            if isSystem ? systemFilesRead >= maxFiles : files >= maxFiles { continue }
            guard let bytes = HostFS.readBytes(file, limit: maxFileBytes) else { continue }
            if isSystem { systemFilesRead += 1 } else { files += 1 }
            let text = bytes.count > maxFileBytes ? Array(bytes[..<maxFileBytes]) : bytes
            for home in expand {
                for f in paths(in: text, home: home) {
                    guard out.count < maxPlaces else { break }
                    guard !homes.contains(where: { Paths.isWithin($0, f.path) }) else { continue }
                    if f.sourced && !f.cut && depth < maxDepth { enqueue(f.path, expand, depth + 1, isSystem) }
                    if let k = seen[PathKey(f.path)] {
                        // Named first (`[ -f ~/x ] && . ~/x`), sourced after: told as sourced.
                        let o = out[k]
                        if let m = merged(o.use, o.cut, f) { out[k] = Place(path: f.path, file: file, use: m.use, cut: m.cut) }
                    } else {
                        seen[PathKey(f.path)] = out.count
                        out.append(Place(path: f.path, file: file, use: f.use, cut: f.cut))
                    }
                }
            }
        }
        return out
    }

    /// The paths in a start-up file's bytes (both readings: see the type), each with how it is
    /// used; `~`, `$HOME` and `${HOME}` at the start of a path are `home`. Normalized (a path
    /// with `..` is dropped); `/` and `home` itself are not places.
    public static func paths(in bytes: [UInt8], home: String) -> [Found] {
        var out: [Found] = []
        var seen: [PathKey: Int] = [:]
        for quotes in [true, false] {
            for f in scan(bytes, home: home, quotes: quotes) {
                if let k = seen[PathKey(f.path)] {
                    if let m = merged(out[k].use, out[k].cut, f) { out[k] = m }
                } else {
                    seen[PathKey(f.path)] = out.count
                    out.append(f)
                }
            }
        }
        return out
    }

    /// A place found again: the strictest use and the whole path win; nil when `f` adds nothing.
    static func merged(_ use: Use, _ cut: Bool, _ f: Found) -> Found? {
        guard f.use > use || (cut && !f.cut) else { return nil }
        return Found(path: f.path, use: max(f.use, use), cut: cut && f.cut)
    }

    /// One reading of `bytes`: `quotes` as the shell reads them, or ignored (dropped, and a
    /// space in them ends a word as anywhere else).
    static func scan(_ bytes: [UInt8], home: String, quotes: Bool) -> [Found] {
        var out: [Found] = []
        // Whether this word is a command's first (after a line break or ; & | ( ) `), and
        // whether the one before was a command `.` or `source`.
        var commandStart = true
        var afterSource = false
        // The words after `fish_add_path`, or inside zsh's `path=(…)`: PATH directories.
        var pathArgs = false
        var pathArray = false, inPathArray = false
        var setPending = false, pathNamePending = false
        var word: [UInt8] = []
        word.reserveCapacity(256)
        var atWordStart = true
        func finish() {
            guard !word.isEmpty else { return }
            let sourcing = afterSource
            let w = expandDefaults(word, depth: 0)
            // A PATH assignment (`PATH=…`, `export PATH=…`, zsh's `path+=(…)`), or fish's
            // `fish_add_path DIR`: its directories are PATH entries.
            var isPath = false
            if let eq = w.firstIndex(of: 0x3D) {
                var name = w[..<eq]
                if name.last == 0x2B { name = name.dropLast() }
                isPath = pathVariables.contains { name.elementsEqual($0) }
            }
            let use: Use = sourcing ? .sourced : isPath || pathArgs ? .path : .named
            // `. .aliases`, `source dotfiles/x.sh`: relative to the working directory, the home
            // for a login shell.
            if sourcing, let first = w.first, first != 0x2F && first != 0x7E && first != 0x24,
               let p = place(tilde[...] + w[...], home: home) {
                out.append(Found(path: p.path, use: .sourced, cut: p.cut))
            }
            // `PATH=a:b`, `--file=x`: each segment after `=` and between `:` on its own.
            var start = 0
            for k in 0...w.count where k == w.count || w[k] == 0x3A || w[k] == 0x3D {
                // Only what can start a path: `/`, `~`, `$`.
                if k > start, w[start] == 0x2F || w[start] == 0x7E || w[start] == 0x24,
                   let p = place(w[start..<k], home: home) {
                    out.append(Found(path: p.path, use: use, cut: p.cut))
                }
                start = k + 1
            }
            afterSource = commandStart && (word.elementsEqual(dot) || word.elementsEqual(source))
            // `fish_add_path DIR`, csh's `setenv PATH DIRS`: PATH directories follow. `set
            // [-flags] path|PATH|fish_user_paths …` (csh, fish): so do they, after the name.
            if commandStart && (word.elementsEqual(fishAddPath) || word.elementsEqual(setenv)) { pathArgs = true; pathNamePending = word.elementsEqual(setenv) }
            else if commandStart && word.elementsEqual(set) { setPending = true }
            else if setPending && word.first != 0x2D {
                setPending = false
                if pathVariables.contains(where: { word.elementsEqual($0) }) || word.elementsEqual(fishUserPaths) { pathArgs = true; pathArray = true }
            } else if pathNamePending {
                pathNamePending = false
                if !pathVariables.contains(where: { word.elementsEqual($0) }) { pathArgs = false }
            }
            // `path=(` / `path+=(`: the array's words, up to `)`.
            if !pathArgs || !pathArray { pathArray = isPath && w.last == 0x3D }
            // A reserved word or a prefix command keeps the next word in a command's place
            // (`if …; then . ~/x; fi`, `builtin source ~/x`; review, 2026-12-03).
            commandStart = commandStart && prefixWords.contains { word.elementsEqual($0) }
            word.removeAll(keepingCapacity: true)
        }
        func add(_ b: UInt8) { if word.count < maxWordBytes { word.append(b) } }
        // Quotes as the shell reads them (red-team pass, 2026-12-03: `PS1='\w # '` ended the
        // line as a comment, and `"$HOME/My Dotfiles/x"` was cut at its space): inside single
        // quotes everything is the word's, inside double quotes all but `\` before `$`, `` ` ``,
        // `"`, `\`; outside, `\` takes the next byte as it is.
        var quote: UInt8 = 0
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            i += 1
            if quote == 0x27 {
                if b == 0x27 { quote = 0 } else { add(b) }
                continue
            }
            if quote == 0x22 {
                if b == 0x22 { quote = 0 }
                else if b == 0x5C, i < n, bytes[i] == 0x24 || bytes[i] == 0x60 || bytes[i] == 0x22 || bytes[i] == 0x5C { add(bytes[i]); i += 1 }
                else { add(b) }
                continue
            }
            switch byteClass[Int(b)] {
            case 1:     // space, tab, line break
                finish()
                if b == 0x0A && !inPathArray { afterSource = false; commandStart = true; pathArgs = false }
                atWordStart = true
            case 2:     // ; & | ( ) < > `
                finish()
                afterSource = false
                if b == 0x28 && pathArray {
                    inPathArray = true
                    pathArgs = true
                } else {
                    commandStart = true
                    pathArgs = false
                    inPathArray = false
                }
                pathArray = false
                atWordStart = true
            case 3:     // a quote
                if quotes {
                    quote = b
                    atWordStart = false
                } else {
                    // Ignored, it ends a word, and what it opens may be a command
                    // (`PROMPT_COMMAND="source ~/x"`, `trap '. ~/x' EXIT`); right after `.` or
                    // `source` it is the sourced path (`. "$HOME/.cargo/env"`), right after
                    // `PATH=` PATH directories (`export PATH="$HOME/bin:$PATH"`).
                    let sourcing = afterSource && word.isEmpty
                    finish()
                    if pathArray { pathArgs = true }
                    afterSource = sourcing
                    commandStart = !sourcing
                    atWordStart = true
                }
            default:
                if b == 0x23 && atWordStart && word.isEmpty {
                    // A comment, to the end of the line.
                    while i < n && bytes[i] != 0x0A { i += 1 }
                    continue
                }
                atWordStart = false
                if b == 0x5C && quotes {
                    // An escaped byte; an escaped line break joins the lines.
                    if i < n { if bytes[i] != 0x0A { add(bytes[i]) }; i += 1 }
                    continue
                }
                add(b)
            }
        }
        finish()
        return out
    }

    /// `word` with each `${NAME:-WORD}`, `${NAME-WORD}`, `${NAME:=WORD}`, `${NAME=WORD}`,
    /// `${NAME:+WORD}` replaced by its WORD (nested ones too, `maxNesting` deep): what it names when NAME is unset, as in
    /// `${XDG_CONFIG_HOME:-$HOME/.config}/shell/aliases.sh` (red-team pass, 2026-12-03). Other
    /// `${…}` stay (a place is cut before them).
    static func expandDefaults(_ word: [UInt8], depth: Int) -> [UInt8] {
        guard depth < maxNesting, word.count >= 4, word.contains(0x7B) else { return word }
        var out: [UInt8] = []
        var i = 0
        while i < word.count {
            guard word[i] == 0x24, i + 1 < word.count, word[i + 1] == 0x7B else { out.append(word[i]); i += 1; continue }
            // The matching `}`.
            var level = 0, j = i + 1, close = -1
            while j < word.count {
                if word[j] == 0x7B { level += 1 } else if word[j] == 0x7D { level -= 1; if level == 0 { close = j; break } }
                j += 1
            }
            guard close > 0 else { out.append(contentsOf: word[i...]); break }
            var k = i + 2
            while k < close, (word[k] >= 0x41 && word[k] <= 0x5A) || (word[k] >= 0x61 && word[k] <= 0x7A) || (word[k] >= 0x30 && word[k] <= 0x39) || word[k] == 0x5F { k += 1 }
            if k < close, word[k] == 0x3A { k += 1 }
            if k > i + 2, k < close, word[k] == 0x2D || word[k] == 0x3D || word[k] == 0x2B {
                out.append(contentsOf: expandDefaults(Array(word[(k + 1)..<close]), depth: depth + 1))
            } else {
                out.append(contentsOf: word[i...close])
            }
            i = close + 1
        }
        return out
    }

    /// 1: a space (ends a word), 2: another shell break (ends a word and a command), 3: a quote.
    static let byteClass: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 256)
        for c in " \t\n\r".utf8 { t[Int(c)] = 1 }
        for c in ";&|()<>`".utf8 { t[Int(c)] = 2 }
        for c in "\"'".utf8 { t[Int(c)] = 3 }
        return t
    }()

    /// A segment of a word as a place: absolute, or under `home` through `~`, `$HOME`,
    /// `${HOME}`; cut before the first component with a variable or a glob.
    static let homePrefixes: [[UInt8]] = [Array("${HOME}".utf8), Array("$HOME".utf8), Array("~".utf8)]

    static func place(_ segment: ArraySlice<UInt8>, home: String) -> (path: String, cut: Bool)? {
        var rest = segment
        var base: [UInt8] = []
        for p in homePrefixes {
            if rest.starts(with: p) && (rest.count == p.count || rest[rest.startIndex + p.count] == 0x2F) {
                base = Array(home.utf8)
                rest = rest.dropFirst(p.count)
                break
            }
        }
        guard rest.first == 0x2F else { return nil }
        // Components, by bytes: empty ones and `.` dropped, `..` refused (as `Paths.normalize`),
        // the path cut before the first one with a variable, a glob or an escape.
        var out = base
        var kept = 0
        var cut = false
        var i = rest.startIndex
        while i < rest.endIndex {
            while i < rest.endIndex && rest[i] == 0x2F { i += 1 }
            var j = i
            var special = false
            while j < rest.endIndex && rest[j] != 0x2F {
                switch rest[j] {
                case 0x24, 0x2A, 0x3F, 0x5B, 0x7B, 0x5C: special = true   // $ * ? [ { \
                default: break
                }
                j += 1
            }
            if special { cut = true; break }
            if i == j { break }
            let c = rest[i..<j]
            if c.count == 2 && c.first == 0x2E && c.last == 0x2E { return nil }
            if !(c.count == 1 && c.first == 0x2E) {
                out.append(0x2F)
                out.append(contentsOf: c)
                kept += 1
            }
            i = j
        }
        guard kept > 0, let p = String(validating: out, as: UTF8.self), p != home else { return nil }
        return (p, cut)
    }
}
