#if canImport(Glibc)
import Glibc
#endif

/// Git repositories a read-write bind exposes: what host git would later trust and run.
///
/// Host git runs whatever a repository's configuration names (`core.fsmonitor`, hooks, pagers,
/// filters, `include.path`, …) the next time anyone runs `git status` there, outside any
/// sandbox. So for every git directory a server may write, the plan binds read-only every entry
/// through which a writer could make host git run or trust something (`guardedEntries`); a
/// nested repository or submodule git directory the server creates is owned by the server's
/// own account, which host git refuses as "dubious ownership"; and the one entry git reads
/// that cannot be bound because it does not exist (`commondir`, redirecting the whole
/// configuration) is watched: a launch refuses a repository that has one where git never
/// writes it, and `run` moves aside any the server created when the session ends.
///
/// In caller-remap mode the server's files are owned by the caller, whom host git trusts, so
/// none of that holds: a read-write bind in or around a repository is refused there.
public enum GitProtection {
    /// Entries of a git directory through which a writer could make host git run or trust
    /// something: configuration (and its per-worktree part and redirection), hooks, attributes
    /// and excludes, submodule and linked-worktree git directories, object alternates.
    public static let guardedEntries = ["config", "config.worktree", "commondir", "hooks", "info", "modules",
                                        "worktrees", "objects/info", "gitdir", "rebase-merge", "rebase-apply", "sequencer"]
    /// Entries whose appearance makes host git read or run what the server wrote — a
    /// `commondir` (never written by git in a repository's own `.git`), submodule and
    /// linked-worktree git directories, an interrupted rebase or cherry-pick (its todo list runs
    /// `exec` lines at the host's `git rebase --continue`): watched over the session while absent
    /// (they cannot be bound then).
    public static let watchedEntries = ["commondir", "modules", "worktrees", "rebase-merge", "rebase-apply", "sequencer"]
    /// Entries a git directory must have before a server may write it: absent, the server could
    /// create them with content host git runs (hooks) or reads (configuration).
    public static let requiredEntries: [(name: String, directory: Bool)] = [("hooks", true), ("config", false)]
    /// Directories a walk of a read-write bind visits at most before the launch, looking for
    /// nested repositories.
    public static let walkLimit = 100_000
    /// The same after the session: larger, since the server may have made directories to hide
    /// a nested repository behind; past it mcpbox says it could not check.
    public static let sweepLimit = 400_000

    /// A read-write bind walked again after the session for new `.git` entries and git directories.
    public struct Tree: Sendable, Equatable {
        /// The bind's host path.
        public var root: String
        /// Directories under it that held a `.git`, or were git directories, at launch.
        public var known: [String]
        /// MCP client and editor configuration entries under it at launch (`ClientConfigProtection`).
        public var knownClientConfigs: [String]
        /// The object (device and inode, `lstat`) each entry of `known` and `knownClientConfigs`
        /// was when the tree was recorded, and the `HEAD` of each known git directory not named
        /// `.git`. A known path is known only while it holds that object: another session's sweep
        /// can move the entry aside on the host (the pins that keep it in place exist only in
        /// this session's mount namespace), and the server then makes a new one under the old
        /// name (red-team pass, 2026-12-03).
        public var identities: [PathKey: FileIdentity]
        /// The change time (ns) of each such entry that is a file: a file moved aside by another
        /// session's sweep and put back (renamed back, or linked back from a hard link the
        /// server made beforehand) is the same object, but renaming or linking it changed its
        /// change time. (Directories are not judged by it: git changes them all the time; one
        /// holding this session's mounts cannot be renamed back.)
        public var changeTimes: [PathKey: Int64]

        /// The tree with the identities its entries have now.
        public init(root: String, known: [String], knownClientConfigs: [String] = []) {
            var ids: [PathKey: FileIdentity] = [:]
            var times: [PathKey: Int64] = [:]
            let heads = known.filter { !Paths.same(Paths.basename($0), ".git") && !Paths.same(Paths.basename($0), ".hg") }
                .map { Paths.join($0, "HEAD") }
            for path in known + knownClientConfigs + heads {
                guard let st = GitProtection.lstatBytes(Array(path.utf8)) else { continue }
                ids[PathKey(path)] = FileIdentity(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))
                if st.st_mode & S_IFMT != S_IFDIR { times[PathKey(path)] = Tree.changeTime(st) }
            }
            self.init(root: root, known: known, knownClientConfigs: knownClientConfigs, identities: ids, changeTimes: times)
        }

        public init(root: String, known: [String], knownClientConfigs: [String], identities: [PathKey: FileIdentity],
                    changeTimes: [PathKey: Int64] = [:]) {
            self.root = root
            self.known = known
            self.knownClientConfigs = knownClientConfigs
            self.identities = identities
            self.changeTimes = changeTimes
        }

        static func changeTime(_ st: stat) -> Int64 { Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec) }

        /// Whether `path` is one of `paths` (by bytes) and still the object it was when recorded
        /// (and, for a file, unchanged since: same change time).
        func holdsKnown(_ path: String, of paths: Set<[UInt8]>) -> Bool {
            let bytes = Array(path.utf8)
            guard paths.contains(bytes) else { return false }
            return holdsRecorded(bytes)
        }

        /// Whether the object at `bytes` is the one recorded for that path.
        func holdsRecorded(_ bytes: [UInt8]) -> Bool {
            let key = PathKey(bytes: bytes)
            guard let id = identities[key], let st = GitProtection.lstatBytes(bytes),
                  UInt64(st.st_dev) == id.dev && UInt64(st.st_ino) == id.ino else { return false }
            if let t = changeTimes[key] { return Tree.changeTime(st) == t }
            return true
        }
    }

    /// What the walk of one read-write bind found.
    public struct Exposure: Sendable, Equatable {
        /// Git directories inside the bind (host paths), outermost first.
        public var gitDirs: [String] = []
        /// Worktrees inside the bind: directories holding a `.git` (a directory or a gitfile).
        public var worktrees: [String] = []
        /// A repository the bind lies inside (its worktree or git directory), when it does.
        public var enclosingRepository: String?
        /// A git directory the bind lies inside (the server writes part of a git directory).
        public var enclosingGitDir: String?
        /// Directories the walk could not list (permissions, a path too long), by their raw
        /// bytes: what lies in them is unknown. Raw, because that is what the sweep renames (a
        /// decoded name can be another directory's: `b\xFF` shown as `b\u{FFFD}`).
        public var unreadableRaw: [[UInt8]] = []
        /// Git directories or worktrees whose path is not valid UTF-8 (they cannot be named in a
        /// mount), by their raw bytes.
        public var unrepresentableRaw: [[UInt8]] = []
        /// `unreadableRaw` shown, invalid UTF-8 replaced.
        public var unreadable: [String] { unreadableRaw.map { String(decoding: $0, as: UTF8.self) } }
        /// `unrepresentableRaw` shown, invalid UTF-8 replaced.
        public var unrepresentable: [String] { unrepresentableRaw.map { String(decoding: $0, as: UTF8.self) } }
        /// The walk stopped at its limit of directories.
        public var truncated = false
        /// Mercurial repositories inside the bind: directories holding a `.hg` (see `HgProtection`).
        public var hgRepos: [String] = []
        /// A Mercurial repository the bind lies in or is (the directory holding `.hg`), when it does.
        public var enclosingHgRepository: String?
        /// MCP client and editor configuration entries inside the bind (`.mcp.json`, `.vscode`,
        /// … : see `ClientConfigProtection`), host paths.
        public var clientConfigs: [String] = []

        /// Whether the bind touches a repository at all: lies in one, or holds one.
        public var touchesRepository: Bool {
            enclosingRepository != nil || !gitDirs.isEmpty || !worktrees.isEmpty || !unrepresentableRaw.isEmpty
                || enclosingHgRepository != nil || !hgRepos.isEmpty
        }
    }

    /// Whether host git may take `dir` for a git directory: `HEAD` a file or a symlink, and
    /// either a `commondir` entry or `objects` and `refs` entries, each of any type. A superset of
    /// git's own test (`is_git_directory`: a valid `HEAD`, then `objects` and `refs` looked up
    /// with `access(2)`, which follows symlinks and accepts an executable file, in the directory a
    /// `commondir` names), never narrower: a directory whose `objects` and `refs` were symlinks,
    /// or whose `commondir` pointed at them, was no git directory to mcpbox's `lstat` and went
    /// unswept while host git ran its configuration. (A `.git/logs` holds `HEAD` and `refs` but
    /// no `objects`: not one, for git either.)
    public static func isGitDir(_ dir: String) -> Bool { isGitDir(Array(dir.utf8)) }

    static func isGitDir(_ dir: [UInt8]) -> Bool {
        guard let head = lstatBytes(dir + Array("/HEAD".utf8)),
              head.st_mode & S_IFMT == S_IFREG || head.st_mode & S_IFMT == S_IFLNK else { return false }
        if lstatBytes(dir + Array("/commondir".utf8)) != nil { return true }
        return lstatBytes(dir + Array("/objects".utf8)) != nil && lstatBytes(dir + Array("/refs".utf8)) != nil
    }

    /// Finds the git directories a read-write bind of host directory `source` exposes, and the
    /// repository it lies in. Symlinks are not followed; every directory is entered (a git
    /// directory too: a repository can be nested in anything), by its raw name; at most `limit`
    /// directories.
    public static func exposure(of source: String, limit: Int = walkLimit) -> Exposure {
        var e = Exposure()
        var up = source
        while true {
            if isGitDir(up) {
                if up != source { e.enclosingGitDir = up }
                e.enclosingRepository = e.enclosingRepository ?? up
            } else if up != source, HostFS.info(up + "/.git", follow: false) != nil {
                e.enclosingRepository = e.enclosingRepository ?? up
            }
            if e.enclosingHgRepository == nil, HostFS.info(Paths.join(up, ".hg"), follow: false) != nil {
                e.enclosingHgRepository = up
            }
            if up == "/" { break }
            up = Paths.dirname(up)
        }
        guard HostFS.info(source)?.isDirectory == true else { return e }
        // Breadth first, one readdir per directory (its entry types, no stat unless the file
        // system gives none).
        var queue: [[UInt8]] = [Array(source.utf8)]
        var next = 0
        while next < queue.count {
            let dir = queue[next]
            next += 1
            if next > limit { e.truncated = true; break }
            guard let entries = listDirectory(dir) else {
                e.unreadableRaw.append(dir)
                continue
            }
            let names = Set(entries.map(\.name))
            let isGit = names.contains(Array("HEAD".utf8)) && isGitDir(dir)
            let isWorktree = names.contains(Array(".git".utf8))
            let isHg = names.contains(Array(".hg".utf8)) && dir != Array(source.utf8)
            for name in ClientConfigProtection.names where names.contains(name) {
                let raw = dir + [UInt8(ascii: "/")] + name
                if let path = String(validating: raw, as: UTF8.self) {
                    e.clientConfigs.append(path)
                } else if !e.unrepresentableRaw.contains(dir) {
                    e.unrepresentableRaw.append(dir)
                }
            }
            if isGit || isWorktree || isHg {
                if let path = String(validating: dir, as: UTF8.self) {
                    if isGit { e.gitDirs.append(path) }
                    if isWorktree { e.worktrees.append(path) }
                    if isHg { e.hgRepos.append(path) }
                } else {
                    e.unrepresentableRaw.append(dir)
                }
            }
            for entry in entries where entry.isDirectory {
                queue.append(dir + [UInt8(ascii: "/")] + entry.name)
            }
        }
        return e
    }

    /// `lstat` of a raw path.
    static func lstatBytes(_ path: [UInt8]) -> stat? {
        var st = stat()
        let rc = (path + [0]).withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { lstat($0.baseAddress!, &st) }
        }
        return rc == 0 ? st : nil
    }

    /// The entries of a directory by raw name (no `.`/`..`) and whether each is a directory (not
    /// following symlinks), sorted by name; nil when it cannot be listed.
    static func listDirectory(_ path: [UInt8]) -> [(name: [UInt8], isDirectory: Bool)]? {
        let fd = (path + [0]).withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        }
        guard fd >= 0 else { return nil }
        guard let d = fdopendir(fd) else { close(fd); return nil }
        defer { closedir(d) }
        var entries: [(name: [UInt8], isDirectory: Bool)] = []
        while true {
            errno = 0
            guard let entry = readdir(d) else {
                if errno != 0 { return nil }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [46] || name == [46, 46] { continue }
            let type = entry.pointee.d_type
            let isDirectory = type == UInt8(DT_UNKNOWN)
                ? lstatBytes(path + [UInt8(ascii: "/")] + name).map { $0.st_mode & S_IFMT == S_IFDIR } == true
                : type == UInt8(DT_DIR)
            entries.append((name, isDirectory))
        }
        return entries.sorted { $0.name.lexicographicallyPrecedes($1.name) }
    }

    /// The watched entries of `gitDir` that host git would read if they appeared: `commondir`
    /// in a repository's own `.git` (a linked worktree's git directory has a real one, bound
    /// read-only instead), and `config.worktree` when the configuration enables it.
    public static func watched(in gitDir: String) -> [String] {
        var out: [String] = []
        for name in watchedEntries where HostFS.info(Paths.join(gitDir, name), follow: false) == nil {
            out.append(Paths.join(gitDir, name))
        }
        let worktreeConfig = Paths.join(gitDir, "config.worktree")
        if HostFS.info(worktreeConfig, follow: false) == nil,
           let config = HostFS.readFile(Paths.join(gitDir, "config"), limit: 1 << 20),
           ASCII.containsCaseInsensitive(config, "worktreeconfig") {  // as git compares its keys
            out.append(worktreeConfig)
        }
        return out
    }

    /// After the session: moves aside each watched path that now exists, every `.git` entry
    /// (a nested repository, a submodule's gitfile) that appeared in a watched tree, and every
    /// directory there the walk cannot look into (unlistable, or named in invalid UTF-8 and
    /// holding a repository), so host git never reads or enters what the server made. Returns
    /// one message per finding.
    public static func sweep(watched: [String], trees: [Tree], limit: Int = sweepLimit) -> [String] {
        var messages: [String] = []
        for path in watched where HostFS.info(path, follow: false) != nil {
            messages.append(moveAside(Array(path.utf8), within: Array(Paths.dirname(path).utf8),
                                      why: "which would make host \(Paths.basename(Paths.dirname(path)) == ".hg" ? "hg" : "git") read the server's configuration"))
        }
        for tree in trees {
            let root = Array(tree.root.utf8)
            if let restored = restoreOwnerAccess(root) { messages.append(restored) }
            let now = exposure(of: tree.root, limit: limit)
            // By their bytes: Swift's `String` equality is canonical equivalence, and a new
            // `\u{212A}ube/.git` (KELVIN SIGN) or `cafe\u{301}/.git` is not the known `Kube/.git` or
            // `caf\u{E9}/.git` to host git.
            // And by identity: an entry at a known path that is not the object recorded at launch
            // was made since (see `Tree.identities`).
            let known = Set(tree.known.map { Array($0.utf8) })
            func isKnown(_ path: String) -> Bool { tree.holdsKnown(path, of: known) }
            if now.unreadableRaw.first == root {
                messages.append("\(tree.root) cannot be listed any more, so mcpbox could not check it for repositories the server may have made: do not run git there before checking it")
            }
            // A worktree is known by its `.git` entry, a git directory by its path: a known
            // worktree that became a git directory itself (its `.git` broken, `HEAD`, `objects`
            // and `refs` beside it) is a new git directory.
            for dir in now.worktrees where !isKnown(Paths.join(dir, ".git")) {
                messages.append(moveAside(Array(Paths.join(dir, ".git").utf8), within: root,
                                          why: "a repository host git would enter (a submodule's configuration and hooks run there)"))
            }
            // A git directory by itself (`HEAD`, `objects`, `refs`: a bare repository), which host
            // git uses when run inside it: its `HEAD` is moved aside, so git no longer sees one.
            // A known one whose `HEAD` is not the one recorded (another session's sweep moved it
            // aside and the server put one back) is judged as new.
            for dir in now.gitDirs where !(isKnown(dir) && tree.holdsRecorded(Array(Paths.join(dir, "HEAD").utf8)))
            && !Paths.same(Paths.basename(dir), ".git") {
                messages.append(moveAside(Array(Paths.join(dir, "HEAD").utf8), within: root,
                                          why: "which makes \(dir) a git directory host git would use (and run its configuration) when run there"))
            }
            // A Mercurial repository (`.hg`): host hg runs the hooks and extensions of an
            // `.hg/hgrc` its user owns (every file the server writes, in caller-remap mode).
            for dir in now.hgRepos + [now.enclosingHgRepository].compactMap({ $0 }).filter({ $0.utf8.elementsEqual(root) })
            where !isKnown(Paths.join(dir, ".hg")) {
                messages.append(moveAside(Array(Paths.join(dir, ".hg").utf8), within: root,
                                          why: "a Mercurial repository host hg would use (and run the hooks and extensions of its `.hg/hgrc`) when run there"))
            }
            // An MCP client's or editor's project configuration the server made: the client
            // would start what it names, outside any sandbox, when the project is next opened.
            let knownConfigs = Set(tree.knownClientConfigs.map { Array($0.utf8) })
            for path in now.clientConfigs where !tree.holdsKnown(path, of: knownConfigs) {
                let what = ClientConfigProtection.what(Paths.basename(path)) ?? "client configuration"
                messages.append(moveAside(Array(path.utf8), within: root,
                                          why: "\(what), which a client would read and run unsandboxed when the project is next opened"))
            }
            // By their raw bytes: a decoded name could be another directory's.
            for dir in now.unrepresentableRaw where dir != root {
                messages.append(moveAside(dir, within: root,
                                          why: "a repository under a name that is not valid UTF-8, which host git would use when run there"))
            }
            for dir in now.unreadableRaw where dir != root {
                messages.append(moveAside(dir, within: root,
                                          why: "a directory mcpbox cannot look into for repositories the server may have made"))
            }
            // Too many directories to look into: what lies past the count is unchecked, and a
            // repository the server made there would run its code at the host's next `git status`.
            // The whole tree goes aside instead (fail closed), or is closed where it cannot.
            if now.truncated {
                messages.append(quarantineTree(root, limit: limit))
            }
        }
        // The paths are the server's: a name with a newline or a terminal escape must not forge a
        // line of the quarantine log or drive the terminal showing mcpbox's stderr.
        return messages.map(Explain.visible)
    }

    /// Gives the caller back its own read, write and search permissions on the bind's root when
    /// the caller owns it and lacks one (in caller-remap mode the server's `chmod` is the
    /// caller's: `chmod 0311` hid the root's `.git` from the walk while host git, which needs only
    /// search permission, still used it). Through the root's fd reached without symlinks; returns
    /// what it did, or nil.
    static func restoreOwnerAccess(_ root: [UInt8]) -> String? {
        guard let fd = openDirectoryNoFollow(root) else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFDIR, st.st_uid == geteuid(),
              st.st_mode & 0o700 != 0o700 else { return nil }
        let mode = (st.st_mode & 0o7777) | 0o700
        guard chmod("/proc/self/fd/\(fd)", mode) == 0 else { return nil }
        let shown = String(decoding: root, as: UTF8.self)
        return "the server took your own permissions on \(shown) (mode \(String(st.st_mode & 0o7777, radix: 8))): given back (\(String(mode, radix: 8))) to check it for repositories"
    }

    /// Renames `path` aside; where the caller may not (a directory the server owns), the nearest
    /// ancestor below `limit` that it may rename instead.
    ///
    /// The rename is done in the parent directory reached from `/` one component at a time
    /// without following any symlink (`openat` O_PATH|O_NOFOLLOW), by its fd: the walk that found
    /// `path` and this rename are apart in time, and another sandbox still writing the same tree
    /// could swap a directory on the way for a symlink to anywhere the caller may write (mcpbox's
    /// own pin store), which a rename by path would follow. Such a path is left where it is and
    /// named in the message. The new name ends in the pid and a random number, so the server
    /// cannot occupy it beforehand.
    static func moveAside(_ path: [UInt8], within limit: [UInt8], why: String) -> String {
        let shown = String(decoding: path, as: UTF8.self)
        var victim = path
        let tag = ".mcpbox-quarantine-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        while true {
            let slash = victim.lastIndex(of: UInt8(ascii: "/")) ?? 0
            let name = Array(victim[(slash + 1)...])
            let aside = name + Array(tag.utf8)
            var err: Int32 = 0
            if let parent = openDirectoryNoFollow(Array(victim[..<slash])) {
                let rc = (name + [0]).withUnsafeBufferPointer { from in
                    (aside + [0]).withUnsafeBufferPointer { to in
                        from.withMemoryRebound(to: CChar.self) { f in
                            to.withMemoryRebound(to: CChar.self) { t in renameat(parent, f.baseAddress!, parent, t.baseAddress!) }
                        }
                    }
                }
                err = rc == 0 ? 0 : errno
                close(parent)
                if rc == 0 {
                    let moved = String(decoding: victim, as: UTF8.self)
                    return "the server created \(shown), \(why); moved \(moved) to \(moved + tag)"
                }
            } else {
                err = errno
                if err == ELOOP || err == ENOTDIR {
                    return "the server created \(shown), \(why), and it could not be moved aside (a directory on its path is now a symlink or no directory: another sandbox may be changing it): remove it before running git there"
                }
            }
            guard err == EACCES || err == EPERM, victim.count > limit.count, victim.starts(with: limit), slash > limit.count
            else {
                return "the server created \(shown), \(why), and it could not be moved aside (\(String(cString: strerror(err)))): remove it before running git there"
            }
            victim = Array(victim[..<slash])
        }
    }

    /// A tree the sweep could not look through (more than `limit` directories): renamed aside in
    /// its parent (by fd, reached without following symlinks), so that host git never enters it;
    /// where it cannot be renamed, its permissions set to 000 when the caller owns it (host git
    /// run by anyone but root then cannot enter it either). Returns what was done.
    static func quarantineTree(_ root: [UInt8], limit: Int) -> String {
        let shown = String(decoding: root, as: UTF8.self)
        let why = "\(shown) holds more than \(limit) directories after the session, too many to check for repositories the server may have made"
        let check = "check it for `.git`, `HEAD` and `.hg` entries the server made (find DIR -name .git -o -name HEAD -o -name .hg) before using it again"
        let slash = root.lastIndex(of: UInt8(ascii: "/")) ?? 0
        let name = Array(root[(slash + 1)...])
        let tag = ".mcpbox-quarantine-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        var err: Int32 = EINVAL
        if !name.isEmpty, let parent = openDirectoryNoFollow(Array(root[..<slash])) {
            let rc = (name + [0]).withUnsafeBufferPointer { from in
                (name + Array(tag.utf8) + [0]).withUnsafeBufferPointer { to in
                    from.withMemoryRebound(to: CChar.self) { f in
                        to.withMemoryRebound(to: CChar.self) { t in renameat(parent, f.baseAddress!, parent, t.baseAddress!) }
                    }
                }
            }
            err = rc == 0 ? 0 : errno
            close(parent)
            if rc == 0 { return "\(why): the whole tree was moved to \(shown + tag), so that host git never enters it; \(check.replacingDir(with: shown + tag))" }
        }
        if let fd = openDirectoryNoFollow(root) {
            defer { close(fd) }
            var st = stat()
            if fstat(fd, &st) == 0, st.st_uid == geteuid(), chmod("/proc/self/fd/\(fd)", 0) == 0 {
                return "\(why), and it could not be moved aside (\(String(cString: strerror(err)))): its permissions were set to 000, so that host git (run by anyone but root) cannot enter it; \(check.replacingDir(with: shown)), then chmod it back"
            }
        }
        return "\(why), and it could be neither moved aside nor closed (\(String(cString: strerror(err)))): do not run git there before you \(check.replacingDir(with: shown))"
    }

    /// An O_PATH fd of the absolute directory `path` (`/` when empty), reached from `/` one
    /// component at a time without following symlinks; nil with errno (ELOOP or ENOTDIR where a
    /// component is a symlink or no directory).
    static func openDirectoryNoFollow(_ path: [UInt8]) -> Int32? {
        let O_PATH: Int32 = 0o10000000  // linux/fcntl.h (the Glibc module does not export it)
        var fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        for component in path.split(separator: UInt8(ascii: "/")) {
            if component.elementsEqual([46]) || component.elementsEqual([46, 46]) {
                close(fd)
                errno = EINVAL
                return nil
            }
            let next = (Array(component) + [0]).withUnsafeBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { openat(fd, $0.baseAddress!, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            }
            let saved = errno
            close(fd)
            guard next >= 0 else {
                errno = saved
                return nil
            }
            fd = next
        }
        return fd
    }
}

private extension String {
    /// The placeholder `DIR` of a hint replaced by a path.
    func replacingDir(with path: String) -> String {
        var out = ""
        var rest = self[...]
        while let r = rest.range(of: "DIR") {
            out += rest[..<r.lowerBound] + path
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
