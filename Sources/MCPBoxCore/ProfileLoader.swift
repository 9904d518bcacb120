/// Finds profile files, follows `extends`, checks file permissions and merges the layers.
public struct ProfileLoader: Sendable {
    /// Directories searched for a bare NAME, in order.
    public var searchPath: [String]
    /// `--set` variables.
    public var variables: [String: String]
    /// mcpbox's environment (variables, and lookups such as XDG_CONFIG_HOME).
    public var environment: [String: String]
    /// Whose files are trusted besides root's.
    public var callerUid: UInt32
    /// The server command given after `--` (where `[variables] NAME.from_arg` looks).
    public var commandLine: [String]
    /// For `check`: a `from_arg` variable that is not given is not an error; the keys that use
    /// it are left out and `Profile.unresolvedFromArg` names it. Never for `run` or `explain`.
    public var placeholdersForCheck = false

    public init(searchPath: [String], variables: [String: String], environment: [String: String], callerUid: UInt32,
                commandLine: [String] = []) {
        self.searchPath = searchPath
        self.variables = variables
        self.environment = environment
        self.callerUid = callerUid
        self.commandLine = commandLine
    }

    /// The standard lookup order: `--profile-path` dirs, MCPBOX_PROFILE_PATH, the user's config,
    /// /etc/mcpbox/profiles, then the profiles shipped with mcpbox.
    public static func defaultSearchPath(profilePath: [String], environment: [String: String]) -> [String] {
        var dirs: [String] = []
        for p in profilePath { dirs += p.split(separator: ":").map(String.init) }
        if let env = environment["MCPBOX_PROFILE_PATH"] { dirs += env.split(separator: ":").map(String.init) }
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.isAbsolutePath {
            dirs.append(xdg + "/mcpbox/profiles")
        } else if let home = environment["HOME"], home.isAbsolutePath {
            dirs.append(home + "/.config/mcpbox/profiles")
        }
        dirs.append("/etc/mcpbox/profiles")
        dirs += shippedProfileDirs()
        var seen = Set<String>()
        return dirs.filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    /// The variable the search path is built from whose value is not valid UTF-8 (read with
    /// U+FFFD in place of its bad bytes, it would name another directory), as an error; nil when
    /// none is.
    public static func searchPathProblem(environment: [String: String]) -> Diagnostic? {
        var used = ["MCPBOX_PROFILE_PATH"]
        used.append(environment["XDG_CONFIG_HOME"]?.isAbsolutePath == true ? "XDG_CONFIG_HOME" : "HOME")
        guard let name = used.first(where: { HostFS.nonUTF8Environment.contains($0) && environment[$0] != nil }) else { return nil }
        return Diagnostic("\(name) is not valid UTF-8: mcpbox cannot name the profile directory it gives, and would search another",
                          hint: "set \(name) in UTF-8, or unset it")
    }

    /// Where the shipped profiles are: above the executable (a source checkout or build tree),
    /// `<prefix>/share/mcpbox/profiles`, then the source tree mcpbox was built from.
    public static func shippedProfileDirs() -> [String] {
        let w = profileWalk()
        return ([w.found, w.share].compactMap { $0 } + [sourceTreeProfiles]).filter { HostFS.info($0)?.isDirectory == true }
    }

    /// Every directory that would be searched for shipped profiles if it held them, existing or
    /// not: `profiles/` in each directory from the executable's up to the one whose
    /// `profiles/base.toml` ends the walk (or up to `/`), `<prefix>/share/mcpbox/profiles`, the
    /// source tree's. A server that could create one would have its profiles loaded as shipped.
    public static func shippedProfileCandidates() -> [String] {
        let w = profileWalk()
        return w.walked + [w.share].compactMap { $0 } + [sourceTreeProfiles]
    }

    /// `DIR/profiles` for each directory from the executable's up, to the first whose
    /// `profiles/base.toml` exists (`found`) or to `/`; and `<prefix>/share/mcpbox/profiles`.
    static func profileWalk() -> (walked: [String], found: String?, share: String?) {
        guard let exe = HostFS.executablePath() else { return ([], nil, nil) }
        var walked: [String] = []
        var found: String?
        var dir = Paths.dirname(exe)
        while true {
            walked.append(Paths.join(dir, "profiles"))
            if HostFS.info(dir + "/profiles/base.toml") != nil {
                found = Paths.join(dir, "profiles")
                break
            }
            if dir == "/" { break }
            dir = Paths.dirname(dir)
        }
        return (walked, found, Paths.join(Paths.dirname(Paths.dirname(exe)), "share/mcpbox/profiles"))
    }

    /// The `profiles/` directory of the source tree this mcpbox was built from (last on the search path).
    public static var sourceTreeProfiles: String {
        Paths.join(Paths.dirname(Paths.dirname(Paths.dirname(#filePath))), "profiles")
    }

    /// Variables mcpbox defines itself; never taken from the environment.
    public static let builtinVariables: Set<String> = ["CALLER_HOME"]

    /// `${CALLER_HOME}`: the invoking user's home, defined only when the server runs as that user
    /// or as one of the user's subordinate accounts, so a profile can bind the user's own caches
    /// without handing root's to another account. Returns the value, or why it is undefined.
    func callerHome() -> (value: String?, unavailable: String?) {
        if callerUid == 0 {
            return (nil, "mcpbox was started by root, so the server runs as another account, not as you")
        }
        guard let home = environment["HOME"], home.isAbsolutePath else { return (nil, "HOME is not set to an absolute path") }
        return (home, nil)
    }

    /// Whether `ref` is a path rather than a NAME.
    public static func isPath(_ ref: String) -> Bool { ref.contains("/") || ref.hasSuffix(".toml") }

    /// Resolves a NAME or path to an existing file (real path); `relativeTo` anchors relative paths.
    public func locate(_ ref: String, relativeTo dir: String?) -> String? {
        locateNamed(ref, relativeTo: dir)?.real
    }

    /// `locate`, with the path as named (before the kernel follows its symlinks).
    func locateNamed(_ ref: String, relativeTo dir: String?) -> (named: String, real: String)? {
        Self.lookups += 1
        if Self.isPath(ref) {
            let path = ref.isAbsolutePath ? ref : Paths.join(dir ?? Self.currentDirectory(), ref)
            return HostFS.realPath(path).map { (path, $0) }
        }
        for d in searchPath {
            // Absolute, so the symlink walk (which starts at `/`) sees the path as named: a
            // relative `--profile-path rel` skipped every link check.
            let dir = d.isAbsolutePath ? d : Paths.join(Self.currentDirectory(), d)
            let candidate = Paths.join(dir, ref + ".toml")
            if let i = HostFS.info(candidate), i.isRegular, let real = HostFS.realPath(candidate) { return (candidate, real) }
        }
        return nil
    }

    /// What a profile reached through symlinks also needs: each link owned by root or the
    /// caller, in a directory that is (owner root or the caller, not writable by group or
    /// others, unless sticky). Otherwise whoever may replace a link swaps the profile for another
    /// file the checks accept (`ln -sfn wide.toml prof.toml` in a world-writable directory).
    func symlinkProblems(named: String, file: String) -> [Diagnostic] {
        guard !Paths.same(named, file) else { return [] }
        guard let links = HostFS.symlinks(on: named) else {
            return [Diagnostic(file: file, "refused: \(named) goes through more than 40 symbolic links", hint: "name the profile by its real path")]
        }
        var out: [Diagnostic] = []
        for (directory, link) in links {
            guard let own = HostFS.info(link, follow: false) else { continue }
            if own.uid != 0 && own.uid != callerUid {
                out.append(Diagnostic(file: file, "refused: the profile is reached through the symbolic link \(link), owned by uid \(own.uid), not by root or you (uid \(callerUid))",
                                      hint: "name the profile by its real path, \(file)"))
            }
            guard let info = HostFS.info(directory) else { continue }
            if info.uid != 0 && info.uid != callerUid {
                out.append(Diagnostic(file: file, "refused: the profile is reached through the symbolic link \(link), in \(directory), owned by uid \(info.uid), not by root or you (uid \(callerUid))",
                                      hint: "name the profile by its real path, \(file)"))
            }
            if info.mode & 0o022 != 0 && info.mode & 0o1000 == 0 {
                out.append(Diagnostic(file: file, "refused: the profile is reached through the symbolic link \(link), in \(directory), which is writable by group or others (mode \(String(info.mode & 0o7777, radix: 8))): anyone who may write there could point it at another profile",
                                      hint: "name the profile by its real path, \(file), or run chmod go-w \(directory)"))
            }
        }
        return out
    }

    /// The most profiles one `extends` chain may nest (each level is a recursion).
    static let maxExtendsDepth = 64

    static func currentDirectory() -> String {
        HostFS.realPath(".") ?? "/"
    }

    /// A profile must be owned by root or the caller and not writable by group or others; so must
    /// every directory above it, up to `/`.
    public func permissionProblems(_ file: String) -> [Diagnostic] {
        var out: [Diagnostic] = []
        var checks = [(file, "profile")]
        var dir = file
        while dir != "/" {
            dir = Paths.dirname(dir)
            checks.append((dir, dir == Paths.dirname(file) ? "directory of the profile" : "directory above the profile"))
        }
        for (path, what) in checks {
            guard let info = HostFS.info(path) else { continue }
            // A sticky directory (/tmp) is fine: others cannot rename or replace a file they do
            // not own there, and a file planted by someone else fails the owner check.
            let sticky = path != file && info.mode & 0o1000 != 0
            if info.uid != 0 && info.uid != callerUid {
                out.append(Diagnostic(file: file, "refused: the \(what) \(path) is owned by uid \(info.uid), not by root or you (uid \(callerUid))",
                                      hint: "a server's jail must not be editable by others: chown it, or copy the profile"))
            }
            if info.mode & 0o022 != 0 && !sticky {
                out.append(Diagnostic(file: file, "refused: the \(what) \(path) is writable by group or others (mode \(String(info.mode & 0o7777, radix: 8)))",
                                      hint: "run chmod go-w \(path)"))
            }
        }
        return out
    }

    /// Loads `ref` and everything it extends; throws every error found.
    public func load(_ ref: String) throws(ProfileError) -> Profile {
        Self.bytesParsed = 0
        var sink = DiagnosticSink()
        var layers: [Profile] = []
        var loaded = Set<[UInt8]>()
        guard let (named, file) = locateNamed(ref, relativeTo: nil) else {
            throw ProfileError(notFound(ref, from: nil))
        }
        // `[variables]` declared anywhere in the chain apply to every file of it: collect them
        // first (the documents are parsed once and kept for the main pass).
        var documents: [[UInt8]: TOMLTable] = [:]
        var derived: [String: String] = [:]
        var declared: [String: [String]] = [:]
        var seen = Set<[UInt8]>()
        collectDerived(file, documents: &documents, derived: &derived, declared: &declared, seen: &seen, depth: 0)
        if seen.count >= Self.maxProfileFiles {
            throw ProfileError(Diagnostic(file: file, key: "extends", "the profile and what it extends reach \(Self.maxProfileFiles) profile files or more; at most \(Self.maxProfileFiles - 1) in all",
                                          hint: "extend fewer profiles"))
        }
        var loader = self
        loader.memo = Memo()
        loader.setVariables = variables
        loader.fromArgFlags = declared
        for (name, value) in derived where loader.variables[name] == nil { loader.variables[name] = value }
        let home = callerHome()
        if loader.variables["CALLER_HOME"] == nil {
            if let value = home.value { loader.variables["CALLER_HOME"] = value }
            if let why = home.unavailable {
                // Storage reserved here, not by the first insert or a literal: those run the
                // standard library's prebuilt [String: String] code, which looks the storage type
                // up by name (a scan of every conformance record in the binary, ~0.2 M instructions).
                var unavailable = [String: String](minimumCapacity: 1)
                unavailable["CALLER_HOME"] = why
                loader.unavailable = unavailable
            }
        }
        loader.documents = documents
        ExitArena.keep(Documents(documents))
        if placeholdersForCheck { loader.placeholders = declared }
        loader.loadFile(file, named: named, name: ref, chain: [], loaded: &loaded, layers: &layers, sink: &sink)
        try sink.throwIfAny()
        // What the layers add up to is bounded too: every path is judged against the others
        // (mounts against mounts and run-later places), every rule against every name.
        let paths = layers.reduce(0) { $0 + $1.readOnly.count + $1.readWrite.count + $1.tmpfs.count + $1.hide.count + $1.accept.count }
        let rules = layers.reduce(0) { $0 + $1.networkAllow.count + $1.networkDeny.count }
        let hosts = layers.reduce(0) { $0 + $1.networkHosts.count }
        let sets = layers.reduce(0) { $0 + $1.envSet.count }
        for (count, what, key) in [(paths, "filesystem paths (read_only, read_write, tmpfs, hide, accept)", "filesystem"),
                                   (rules, "network rules (allow, deny)", "network"), (hosts, "network.hosts entries", "network.hosts"),
                                   (sets, "env.set variables", "env.set")] where count > Self.maxMergedEntries {
            sink.add(Diagnostic(file: file, key: key, "the profile and what it extends name \(count) \(what); at most \(Self.maxMergedEntries) in all",
                                hint: "extend fewer profiles, or name common parent directories"))
        }
        try sink.throwIfAny()
        var profile = Profile(name: ref)
        for layer in layers { profile.merge(layer) }
        profile.searchPath = searchPath
        return profile
    }

    func notFound(_ ref: String, from: Sourced<String>?) -> Diagnostic {
        // Shown cut to 128 bytes, as a key is: a name may be as long as the file.
        let shown = ref.utf8.count <= 128 ? ref : String(decoding: ref.utf8.prefix(128), as: UTF8.self) + "…"
        var hint = Self.isPath(ref) ? "check the path" : "searched: " + searchPath.map { $0 + "/\(shown).toml" }.joined(separator: ", ")
        var message = "profile `\(shown)` not found"
        if !Self.isPath(ref) {
            // A name is looked up as a regular file only: say which candidates were something else.
            let others = searchPath.compactMap { d -> String? in
                let candidate = Paths.join(d.isAbsolutePath ? d : Paths.join(Self.currentDirectory(), d), ref + ".toml")
                guard let i = HostFS.info(candidate), !i.isRegular else { return nil }
                return candidate + (i.isDirectory ? " is a directory" : " is not a regular file")
            }
            if !others.isEmpty { message += " as a regular file (" + others.joined(separator: "; ") + ")" }
            let names = availableNames()
            message += Suggest.didYouMean(ref, in: names)
            hint += names.isEmpty ? "; no profiles found there" : "; available: " + names.sorted().joined(separator: ", ") + " (mcpbox profiles lists them)"
        }
        if let from {
            return from.diagnostic(message, hint: hint)
        }
        return Diagnostic(message, hint: hint)
    }

    /// The most filesystem paths, and the most network rules, a profile and what it extends
    /// may name in all (one list holds at most `maxListEntries`).
    public static let maxMergedEntries = 2048

    /// Largest total of the files one profile and what it extends are read from (4 MiB).
    public static let maxTotalSize = 4 << 20
    /// The bytes `parse` read since `load` began.
    nonisolated(unsafe) static var bytesParsed = 0

    /// Largest profile file accepted, in bytes (1 MiB).
    public static let maxFileSize = 1 << 20

    /// One profile file, parsed or not. (Not `Result`: a generic type whose `Error` requirement
    /// the runtime checks by scanning every conformance record on first use.)
    enum Parsed {
        case success(TOMLTable)
        case failure(Diagnostic)
    }

    /// Reads (at most `maxFileSize` bytes) and parses one profile file.
    static func parse(_ file: String) -> Parsed {
        guard let bytes = HostFS.readBytes(file, limit: maxFileSize) else {
            // Say why: not a regular file (a directory, a FIFO, a device), or the error itself.
            let why: String
            if let info = HostFS.info(file) {
                why = info.isDirectory ? "it is a directory" : info.isRegular ? "it cannot be opened or read (permissions?)" : "it is not a regular file"
            } else {
                why = "it does not exist or cannot be examined"
            }
            return .failure(Diagnostic(file: file, "cannot read the profile: \(why)"))
        }
        if bytes.count > maxFileSize {
            return .failure(Diagnostic(
                file: file, "the profile is larger than \(maxFileSize >> 20) MiB", hint: "profiles are short TOML files; check the path"))
        }
        // The files of one profile and what it extends are bounded in all too (64 files of
        // 1 MiB each would be a minute of parsing).
        bytesParsed += bytes.count
        if bytesParsed > maxTotalSize {
            return .failure(Diagnostic(file: file, "the profile and what it extends are larger than \(maxTotalSize >> 20) MiB in all",
                                       hint: "profiles are short TOML files; extend fewer or smaller ones"))
        }
        do {
            return .success(try TOML.parse(bytes: bytes, file: file))
        } catch {
            return .failure(Diagnostic(file: error.file, line: error.line, column: error.column, error.message))
        }
    }

    /// Parsed documents from the first pass, by file.
    /// By the bytes of the path (two files only canonically equivalent are two files).
    private var documents: [[UInt8]: TOMLTable] = [:]
    /// The parsed documents, as `ExitArena` keeps them.
    private final class Documents {
        let documents: [[UInt8]: TOMLTable]
        init(_ documents: [[UInt8]: TOMLTable]) { self.documents = documents }
    }
    /// `check` only: the chain's `from_arg` variables (name → flags).
    private var placeholders: [String: [String]] = [:]
    /// Built-in variables undefined for this invocation, with the reason.
    private var unavailable: [String: String] = [:]
    /// Where the values came from, for messages about them: the `--set` variables alone, and the
    /// chain's `from_arg` flags (a value neither `--set` nor the environment gave came from there).
    private var setVariables: [String: String] = [:]
    private var fromArgFlags: [String: [String]] = [:]

    /// First pass: parses `file` and what it extends, and takes the value of every
    /// `[variables] NAME = { from_arg = [...] }` from the command line (first declaration wins).
    /// Errors are left to the main pass, which reports them with everything else.
    private func collectDerived(_ file: String, documents: inout [[UInt8]: TOMLTable], derived: inout [String: String],
                                declared: inout [String: [String]], seen: inout Set<[UInt8]>, depth: Int) {
        guard depth < Self.maxExtendsDepth, seen.count < Self.maxProfileFiles, seen.insert(Array(file.utf8)).inserted,
              case .success(let doc) = Self.parse(file) else { return }
        documents[Array(file.utf8)] = doc
        var parents: [String] = Paths.basename(file) == "base.toml" ? [] : ["base"]
        for entry in doc.entries {
            switch (entry.key, entry.value.kind) {
            case ("extends", .string(let s)): parents = [s]
            case ("extends", .array(let items)):
                parents = items.compactMap { if case .string(let s) = $0.kind { s } else { nil } }
            case ("variables", .table(let t)):
                for v in t.entries {
                    guard let flags = ProfileFileReader.fromArgFlags(v.value) else { continue }
                    if declared[v.key] == nil { declared[v.key] = flags }
                    if derived[v.key] == nil, let value = Self.argument(after: flags, in: commandLine) {
                        // `parent = true`: the directory holding the path (a database and its journal).
                        derived[v.key] = ProfileFileReader.fromArgParent(v.value) && value.isAbsolutePath
                            ? Paths.normalize(value).map(Paths.dirname) ?? value : value
                    }
                }
            default: break
            }
        }
        for parent in parents {
            if let parentFile = locate(parent, relativeTo: Paths.dirname(file)) {
                collectDerived(parentFile, documents: &documents, derived: &derived, declared: &declared, seen: &seen, depth: depth + 1)
            }
        }
    }

    /// The profile files `from` extends, directly or not, to `maxExtendsDepth` levels (the
    /// deepest chain a load accepts): one walk, each file once (`visited`), each name looked up
    /// once per load (`locateKept`). The diamond check asks it once per entry of a list, not once
    /// per pair of entries and walk (184 small files took 114 s; a chain of 10,000 kept each
    /// file's whole tail in memory, 819 MB).
    private func reachSet(_ from: String) -> Set<[UInt8]> {
        if let known = memo.reach[Array(from.utf8)] { return known }
        var visited = Set<[UInt8]>()
        var cut = false
        var stack: [(file: String, depth: Int)] = [(from, 0)]
        while let (file, depth) = stack.popLast() {
            let key = Array(file.utf8)
            guard visited.insert(key).inserted else { continue }
            guard depth < Self.maxExtendsDepth else { cut = true; continue }
            guard let doc = documents[key] else { continue }
            var parents: [String] = Paths.basename(file) == "base.toml" ? [] : ["base"]
            for entry in doc.entries where entry.key == "extends" {
                switch entry.value.kind {
                case .string(let s): parents = [s]
                case .array(let items): parents = items.compactMap { if case .string(let s) = $0.kind { s } else { nil } }
                default: break
                }
            }
            for p in parents {
                if let f = locateKept(p, relativeTo: Paths.dirname(file)) { stack.append((f, depth + 1)) }
            }
        }
        // Kept only when whole: a walk cut at the depth would answer differently from elsewhere.
        if !cut { memo.reach[Array(from.utf8)] = visited }
        return visited
    }

    /// `locate`, each name and directory resolved once per load.
    private func locateKept(_ ref: String, relativeTo dir: String) -> String? {
        let key = dir + "\u{0}" + ref
        if let known = memo.located[key] { return known }
        let found = locate(ref, relativeTo: dir)
        memo.located[key] = found
        return found
    }

    /// Profile names and paths looked up on disk so far (what `extends` costs, for tests).
    nonisolated(unsafe) static var lookups = 0

    /// What one load resolves once (`locateKept`).
    final class Memo: @unchecked Sendable {
        var located: [String: String?] = [:]
        var reach: [[UInt8]: Set<[UInt8]>] = [:]
    }

    /// The most profile files one load reads (the profile and everything it extends).
    public static let maxProfileFiles = 256
    private var memo = Memo()

    /// The value given to one of `flags` in `argv` (after argv[0]): `FLAG VALUE` or `FLAG=VALUE`.
    static func argument(after flags: [String], in argv: [String]) -> String? {
        var i = 1
        while i < argv.count {
            let a = argv[i]
            for f in flags {
                if a == f, i + 1 < argv.count { return argv[i + 1] }
                if a.hasPrefix(f + "="), f.hasPrefix("--") { return String(a.dropFirst(f.count + 1)) }
            }
            i += 1
        }
        return nil
    }

    private func loadFile(_ file: String, named: String, name: String, chain: [(file: String, name: String)],
                          loaded: inout Set<[UInt8]>, layers: inout [Profile], sink: inout DiagnosticSink) {
        guard loaded.insert(Array(file.utf8)).inserted else { return }
        for d in permissionProblems(file) { sink.add(d) }
        for d in symlinkProblems(named: named, file: file) { sink.add(d) }
        let doc: TOMLTable
        if let parsed = documents[Array(file.utf8)] {
            doc = parsed
        } else {
            switch Self.parse(file) {
            case .success(let parsed): doc = parsed
            case .failure(let problem):
                sink.add(problem)
                return
            }
        }
        var reader = ProfileFileReader(file: file, name: name, variables: variables, environment: environment)
        reader.placeholders = placeholders
        reader.unavailable = unavailable
        reader.setVariables = setVariables
        reader.fromArgFlags = fromArgFlags
        let declared = reader.read(doc)
        sink.merge(reader.sink)
        var parents = declared ?? []
        if declared == nil && Paths.basename(file) != "base.toml" {
            parents = [Sourced("base", file: file, line: 1, key: "extends")]
        }
        let here = chain + [(file, name)]
        var diamond: [String] = []
        let parentFiles = parents.count > 1 ? parents.map { locateKept($0.value, relativeTo: Paths.dirname(file)) } : []
        // What each entry extends (itself included), walked once when first asked.
        var reaches: [Int: Set<[UInt8]>] = [:]
        for (k, parent) in parents.enumerated() {
            guard let (parentNamed, parentFile) = locateNamed(parent.value, relativeTo: Paths.dirname(file)) else {
                sink.add(notFound(parent.value, from: parent))
                continue
            }
            // Merged once, where first reached: an earlier entry of this list that extends it
            // was merged after it, so that entry's settings win, whatever this list's order says.
            // (Judged from the chains themselves, not from what was loaded when: a profile merged
            // earlier elsewhere is still listed after an entry that extends it.)
            let target = Array(parentFile.utf8)
            let through = (0..<k).filter { j in
                guard let f = parentFiles[j] else { return false }
                if reaches[j] == nil { reaches[j] = reachSet(f) }
                return reaches[j]!.contains(target)
            }.map { "`\(parents[$0].value)`" }
            if !through.isEmpty {
                diamond.append("extends: `\(parent.value)` is listed after \(through.joined(separator: ", ")), which already extend\(through.count == 1 ? "s" : "") it: it is merged once, before them, so their settings win over its own (\(parent.file):\(parent.line)); list it first, or drop it")
            }
            // A bounded recursion: a chain of hundreds of files overflowed the stack (SIGSEGV).
            guard here.count < Self.maxExtendsDepth else {
                sink.add(parent.diagnostic("`extends` nests more than \(Self.maxExtendsDepth) profiles deep", hint: "flatten the chain"))
                continue
            }
            if here.contains(where: { Paths.same($0.file, parentFile) }) {
                let start = here.firstIndex { Paths.same($0.file, parentFile) }!
                let names = here[start...].map(\.name) + [parent.value]
                sink.add(parent.diagnostic("`extends` cycle: " + names.joined(separator: " → "),
                                           hint: "remove one of these extends"))
                continue
            }
            loadFile(parentFile, named: parentNamed, name: parent.value, chain: here, loaded: &loaded, layers: &layers, sink: &sink)
        }
        var layer = reader.layer
        layer.loadWarnings = diamond
        if !Paths.same(named, file) { layer.links = (HostFS.symlinks(on: named) ?? []).map(\.link) }
        layers.append(layer)
    }
}

extension ProfileLoader {
    /// Whether `name` may name a profile variable (`${name}`, `--set name=V`): ASCII letters,
    /// digits and `_`, not starting with a digit.
    public static func isVariableName(_ name: String) -> Bool { ProfileFileReader.isVariableName(Substring(name)) }
}
