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
                                        "worktrees", "objects/info", "gitdir"]
    /// Entries whose appearance makes host git read what the server wrote — a `commondir`
    /// (never written by git in a repository's own `.git`), submodule and linked-worktree git
    /// directories: watched over the session while absent (they cannot be bound then).
    public static let watchedEntries = ["commondir", "modules", "worktrees"]
    /// Directories a walk of a read-write bind visits at most before the launch, looking for
    /// nested repositories.
    public static let walkLimit = 100_000
    /// The same after the session: larger, since the server may have made directories to hide
    /// a nested repository behind; past it mcpbox says it could not check.
    public static let sweepLimit = 400_000

    /// A read-write bind walked again after the session for new `.git` entries.
    public struct Tree: Sendable, Equatable {
        /// The bind's host path.
        public var root: String
        /// Directories under it that held a `.git` at launch.
        public var known: [String]
        public init(root: String, known: [String]) {
            self.root = root
            self.known = known
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
        /// The walk stopped at `walkLimit` directories.
        public var truncated = false

        /// Whether the bind touches a repository at all: lies in one, or holds one.
        public var touchesRepository: Bool {
            enclosingRepository != nil || !gitDirs.isEmpty || !worktrees.isEmpty
        }
    }

    /// Whether `dir` looks like a git directory: `HEAD` a file, `objects` and `refs` directories.
    public static func isGitDir(_ dir: String) -> Bool {
        guard HostFS.info(dir + "/HEAD", follow: false)?.isRegular == true || HostFS.info(dir + "/HEAD", follow: false)?.isSymlink == true
        else { return false }
        return HostFS.info(dir + "/objects", follow: false)?.isDirectory == true
            && HostFS.info(dir + "/refs", follow: false)?.isDirectory == true
    }

    /// Finds the git directories a read-write bind of host directory `source` exposes, and the
    /// repository it lies in. Symlinks are not followed; at most `walkLimit` directories.
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
            if up == "/" { break }
            up = Paths.dirname(up)
        }
        guard HostFS.info(source)?.isDirectory == true else { return e }
        // Breadth first, one readdir per directory (its entry types, no stat): a git directory
        // is recognised by its names before anything else is looked at.
        var queue = [source]
        var next = 0
        while next < queue.count {
            let dir = queue[next]
            next += 1
            if next > limit { e.truncated = true; break }
            guard let entries = listDirectory(dir) else { continue }
            if entries.contains(where: { $0.name == "HEAD" }) && isGitDir(dir) {
                e.gitDirs.append(dir)
                continue
            }
            if entries.contains(where: { $0.name == ".git" }) { e.worktrees.append(dir) }
            for entry in entries where entry.isDirectory {
                queue.append(Paths.join(dir, entry.name))
            }
        }
        return e
    }

    /// The entries of a directory (no `.`/`..`) and whether each is a directory (not following
    /// symlinks), sorted by name; nil when it cannot be read.
    static func listDirectory(_ path: String) -> [(name: String, isDirectory: Bool)]? {
        guard let d = opendir(path) else { return nil }
        defer { closedir(d) }
        var entries: [(name: String, isDirectory: Bool)] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name != "." && name != ".." else { continue }
            let type = entry.pointee.d_type
            let isDirectory = type == UInt8(DT_UNKNOWN)
                ? HostFS.info(Paths.join(path, name), follow: false)?.isDirectory == true
                : type == UInt8(DT_DIR)
            entries.append((name, isDirectory))
        }
        return entries.sorted { $0.name < $1.name }
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
           config.lowercased().contains("worktreeconfig") {
            out.append(worktreeConfig)
        }
        return out
    }

    /// After the session: moves aside each watched path that now exists, and every `.git` entry
    /// (a nested repository, a submodule's gitfile) that appeared in a watched tree, so host git
    /// never reads or recurses into what the server made. Returns one message per finding.
    public static func sweep(watched: [String], trees: [Tree]) -> [String] {
        var messages: [String] = []
        for path in watched where HostFS.info(path, follow: false) != nil {
            messages.append(moveAside(path, within: Paths.dirname(path),
                                      why: "which would make host git read the server's configuration"))
        }
        for tree in trees {
            let now = exposure(of: tree.root, limit: sweepLimit)
            let known = Set(tree.known)
            for dir in now.worktrees where !known.contains(dir) {
                messages.append(moveAside(Paths.join(dir, ".git"), within: tree.root,
                                          why: "a repository host git would enter (a submodule's configuration and hooks run there)"))
            }
            if now.truncated {
                messages.append("\(tree.root) now holds more than \(sweepLimit) directories, too many to check for repositories the server may have created: do not run git there before checking for new `.git` entries")
            }
        }
        return messages
    }

    /// Renames `path` aside; where the caller may not (a directory the server owns), the nearest
    /// ancestor below `limit`'s parent that it may rename instead.
    static func moveAside(_ path: String, within limit: String, why: String) -> String {
        var victim = path
        while true {
            let aside = victim + ".mcpbox-quarantine-\(getpid())"
            if rename(victim, aside) == 0 {
                return "the server created \(path), \(why); moved \(victim) to \(aside)"
            }
            let err = errno
            guard (err == EACCES || err == EPERM), victim != limit, Paths.isWithin(victim, limit) else {
                return "the server created \(path), \(why), and it could not be moved aside (\(String(cString: strerror(err)))): remove it before running git there"
            }
            victim = Paths.dirname(victim)
        }
    }
}
