import Glibc

/// The places shell start-up files name: what they source, the directories they put on PATH,
/// the programs they run. `GrantChecks.runLater` knows the usual names (`~/.bashrc.d`, `~/.nvm`);
/// a start-up file can name any path (`. ~/dotfiles/aliases.sh`, `export
/// PATH=~/dotfiles/bin:$PATH`), and a read-write bind of it lets the server change what the
/// host's next shell runs (red-team pass, 2026-12-03). mcpbox does not interpret the shell: every
/// absolute path a start-up file writes outside a comment is a place, as written or with `~`,
/// `$HOME` or `${HOME}` in front; a path with another variable or a glob counts up to the
/// component before it; a relative path after `.` or `source` is taken from the home (a login
/// shell's working directory). Files that a start-up file sources are read too, to a bounded
/// depth.
///
/// The bytes are the user's own files, read with hard limits: at most `maxFileBytes` of each
/// file (a larger one is read no further), `maxFiles` files, `maxDepth` levels of sourcing,
/// `maxPlaces` places, `maxWordBytes` per path.
public enum StartupFileScan {
    /// Start-up files under a home directory that shells and sessions read.
    public static let homeFiles = [
        ".profile", ".bash_profile", ".bash_login", ".bashrc", ".bash_aliases", ".bash_logout",
        ".zshenv", ".zprofile", ".zshrc", ".zlogin", ".zlogout", ".kshrc", ".mkshrc", ".cshrc", ".tcshrc",
        ".login", ".logout", ".config/fish/config.fish", ".xprofile", ".xsession", ".xsessionrc", ".xinitrc",
        ".bash_completion",
    ]
    /// The system's start-up files (with the scripts in `/etc/profile.d`).
    public static let systemFiles = [
        "/etc/profile", "/etc/bash.bashrc", "/etc/zsh/zshenv", "/etc/zsh/zprofile", "/etc/zsh/zshrc",
        "/etc/zsh/zlogin", "/etc/zsh/zlogout", "/etc/environment",
    ]
    public static let maxFileBytes = 1 << 20
    public static let maxFiles = 64
    public static let maxDepth = 4
    public static let maxPlaces = 4096
    public static let maxWordBytes = 4096
    static let dot: [UInt8] = [UInt8(ascii: ".")]
    static let tilde: [UInt8] = Array("~/".utf8)
    static let source: [UInt8] = Array("source".utf8)

    /// One place a start-up file names.
    public struct Place: Equatable, Sendable {
        public let path: String
        /// The start-up file that names it.
        public let file: String
        /// Named after `.` or `source`.
        public let sourced: Bool
    }

    /// The places named by the start-up files of `homes` and (with `system`) the system's; `~`
    /// and `$HOME` in a home's files mean that home, in the system's files each of `homes`.
    public static func places(homes: [String], system withSystem: Bool) -> [Place] {
        var out: [Place] = []
        var seen: [PathKey: Int] = [:]
        var files = 0
        var read = Set<PathKey>()
        // Breadth first: each file is read at the least depth it is reached at (a `.bashrc` that
        // `.profile` sources is also a start-up file of its own; red-team pass, 2026-12-03: read
        // first through `.profile`, it lost a level of the files it sources).
        var queue: [(file: String, homes: [String], depth: Int)] = []
        for h in homes { queue += homeFiles.map { (Paths.join(h, $0), [h], 0) } }
        if withSystem && !homes.isEmpty {
            var system = systemFiles
            for name in HostFS.listDirectory("/etc/profile.d", limit: maxFiles).sorted() where name.hasSuffix(".sh") {
                system.append("/etc/profile.d/" + name)
            }
            queue += system.map { ($0, homes, 0) }
        }
        var next = 0
        while next < queue.count, files < maxFiles, out.count < maxPlaces {
            let (file, expand, depth) = queue[next]
            next += 1
            guard read.insert(PathKey(file)).inserted, let bytes = HostFS.readBytes(file, limit: maxFileBytes) else { continue }
            files += 1
            let text = bytes.count > maxFileBytes ? Array(bytes[..<maxFileBytes]) : bytes
            for home in expand {
                for (path, isSourced) in paths(in: text, home: home) {
                    guard out.count < maxPlaces else { break }
                    if isSourced && depth < maxDepth { queue.append((path, expand, depth + 1)) }
                    // Named first (`[ -f ~/x ] && . ~/x`), sourced after: told as sourced.
                    if let k = seen[PathKey(path)] {
                        if isSourced && !out[k].sourced { out[k] = Place(path: path, file: file, sourced: true) }
                    } else {
                        seen[PathKey(path)] = out.count
                        out.append(Place(path: path, file: file, sourced: isSourced))
                    }
                }
            }
        }
        return out
    }

    /// The absolute paths in a start-up file's bytes, each with whether it follows `.` or
    /// `source`; `~`, `$HOME` and `${HOME}` at the start of a path are `home`. Normalized
    /// (a path with `..` is dropped); `/` and `home` itself are not places.
    public static func paths(in bytes: [UInt8], home: String) -> [(path: String, sourced: Bool)] {
        var out: [(String, Bool)] = []
        // Whether the word before this one is `.` or `source` (a break other than a space ends that).
        var afterSource = false
        var word: [UInt8] = []
        word.reserveCapacity(256)
        var atWordStart = true
        func finish() {
            guard !word.isEmpty else { return }
            let sourcing = afterSource
            let w = expandDefaults(word)
            // `. .aliases`, `source dotfiles/x.sh`: relative to the working directory, the home
            // for a login shell.
            if sourcing, let first = w.first, first != 0x2F && first != 0x7E && first != 0x24, let p = place(tilde[...] + w[...], home: home) {
                out.append((p, true))
            }
            // `PATH=a:b`, `--file=x`: each segment after `=` and between `:` on its own.
            var start = 0
            for k in 0...w.count where k == w.count || w[k] == 0x3A || w[k] == 0x3D {
                // Only what can start a path: `/`, `~`, `$`.
                if k > start, w[start] == 0x2F || w[start] == 0x7E || w[start] == 0x24,
                   let p = place(w[start..<k], home: home) { out.append((p, sourcing)) }
                start = k + 1
            }
            afterSource = word.elementsEqual(dot) || word.elementsEqual(source)
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
                else if b == 0x5C, i < n, [0x24, 0x60, 0x22, 0x5C].contains(bytes[i]) { add(bytes[i]); i += 1 }
                else { add(b) }
                continue
            }
            switch byteClass[Int(b)] {
            case 1:     // space, tab, line break
                finish()
                atWordStart = true
            case 2:     // ; & | ( ) < > `
                finish()
                afterSource = false
                atWordStart = true
            case 3:     // a quote opens
                quote = b
                atWordStart = false
            default:
                if b == 0x23 && atWordStart && word.isEmpty {
                    // A comment, to the end of the line.
                    while i < n && bytes[i] != 0x0A { i += 1 }
                    continue
                }
                atWordStart = false
                if b == 0x5C {
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

    /// `word` with each `${NAME:-WORD}`, `${NAME-WORD}`, `${NAME:=WORD}`, `${NAME=WORD}` replaced
    /// by its WORD (nested ones too): what it names when NAME is unset, as in
    /// `${XDG_CONFIG_HOME:-$HOME/.config}/shell/aliases.sh` (red-team pass, 2026-12-03). Other
    /// `${…}` stay (a place is cut before them).
    static func expandDefaults(_ word: [UInt8]) -> [UInt8] {
        guard word.count >= 4, word.contains(0x7B) else { return word }
        var out: [UInt8] = []
        var i = 0
        while i < word.count {
            guard word[i] == 0x24, i + 1 < word.count, word[i + 1] == 0x7B else { out.append(word[i]); i += 1; continue }
            // The matching `}`.
            var depth = 0, j = i + 1, close = -1
            while j < word.count {
                if word[j] == 0x7B { depth += 1 } else if word[j] == 0x7D { depth -= 1; if depth == 0 { close = j; break } }
                j += 1
            }
            guard close > 0 else { out.append(contentsOf: word[i...]); break }
            var k = i + 2
            while k < close, (word[k] >= 0x41 && word[k] <= 0x5A) || (word[k] >= 0x61 && word[k] <= 0x7A) || (word[k] >= 0x30 && word[k] <= 0x39) || word[k] == 0x5F { k += 1 }
            if k < close, word[k] == 0x3A { k += 1 }
            if k > i + 2, k < close, word[k] == 0x2D || word[k] == 0x3D {
                out.append(contentsOf: expandDefaults(Array(word[(k + 1)..<close])))
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

    static let homePrefixes: [[UInt8]] = [Array("${HOME}".utf8), Array("$HOME".utf8), Array("~".utf8)]

    static func place(_ segment: ArraySlice<UInt8>, home: String) -> String? {
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
            if special || i == j { break }
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
        return p
    }
}
