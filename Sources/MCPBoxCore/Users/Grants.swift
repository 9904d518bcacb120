#if canImport(Glibc)
import Glibc
#endif

/// `mcpbox grant|revoke PROFILE`: POSIX ACL entries giving a profile's dedicated account what its
/// binds need, recorded so that `revoke` puts every ACL back exactly as it was.
///
/// For each bind the account cannot use: `--x` on each directory above it that the account
/// cannot traverse; `rX` (read_only) or `rwX` (read_write) on the path, recursively and as the
/// default ACL of every directory in a tree. The record (`/var/lib/mcpbox/grants/ACCOUNT@PROFILE`)
/// names those paths and the files that already had an ACL; `revoke` removes the account's
/// entries and drops the ACL entirely from every path that had none before.
public struct Grants: Sendable {
    public var stateDir = "/var/lib/mcpbox/grants"
    public var setfacl = "/usr/bin/setfacl"

    public init() {}

    public struct Entry: Sendable, Equatable {
        public enum Kind: String, Sendable { case traverse = "x", path = "path", tree = "tree" }
        public var kind: Kind
        public var path: String
        /// "--x", "rX" or "rwX".
        public var perm: String
    }

    public typealias Failure = ManagedAccounts.Failure

    /// Never changed by `grant`: the system's own trees (the account's access there is the system's).
    public static let systemPaths = ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/proc", "/sys", "/dev", "/run", "/var/lib/mcpbox"]

    /// What `grant` would add for `plan` (no change made).
    public static func entries(for plan: SandboxPlan) -> [Entry] {
        let uid = plan.identity.hostUid, gids = [plan.identity.hostGid]
        var out: [Entry] = []
        func add(_ e: Entry) { if !out.contains(where: { $0.path == e.path }) { out.append(e) } }
        for m in plan.mounts {
            guard case .bind(let source, let ro) = m.kind, let info = HostFS.info(source) else { continue }
            if systemPaths.contains(where: { Paths.isWithin(source, $0) }) { continue }
            var dir = Paths.dirname(source)
            var above: [String] = []
            while true {
                if HostFS.permits(dir, uid: uid, gids: gids, want: 0o1) == false { above.append(dir) }
                if dir == "/" { break }
                dir = Paths.dirname(dir)
            }
            for d in above.reversed() where !systemPaths.contains(where: { Paths.isWithin(d, $0) }) && d != "/" {
                add(Entry(kind: .traverse, path: d, perm: "--x"))
            }
            var need: UInt32 = info.isDirectory ? 0o5 : 0o4
            if !ro { need |= 0o2 }
            let perm = ro ? "rX" : "rwX"
            if info.isDirectory {
                // A tree: every file inside must be usable too, not only the top.
                // read_only: judged by its top, like explain's warning; read_write: every entry.
                if HostFS.permits(source, uid: uid, gids: gids, want: need) == false || (!ro && !treeAllows(source, uid: uid, gids: gids, write: true)) {
                    add(Entry(kind: .tree, path: source, perm: perm))
                }
            } else if HostFS.permits(source, uid: uid, gids: gids, want: need) == false {
                add(Entry(kind: .path, path: source, perm: perm))
            }
        }
        return out
    }

    /// Whether every entry of the tree already allows the account (read, or read and write).
    static func treeAllows(_ root: String, uid: UInt32, gids: [UInt32], write: Bool) -> Bool {
        var ok = true
        walk(root) { path, isDir in
            var need: UInt32 = isDir ? 0o5 : 0o4
            if write { need |= 0o2 }
            if HostFS.permits(path, uid: uid, gids: gids, want: need) == false { ok = false }
        }
        return ok
    }

    /// Every directory and regular file under `root` (itself included), symlinks not followed.
    static func walk(_ root: String, _ visit: (String, Bool) -> Void) {
        guard let info = HostFS.info(root, follow: false), !info.isSymlink else { return }
        visit(root, info.isDirectory)
        guard info.isDirectory else { return }
        for name in HostFS.listDirectory(root).sorted() { walk(Paths.join(root, name), visit) }
    }

    /// `path` opened without following any symlink on the way (each component `openat` with
    /// `O_PATH | O_NOFOLLOW`): the object `setfacl` then changes through `/proc/PID/fd/N`, so
    /// a path swapped for a symlink, or renamed, between the check and the change cannot send
    /// the ACL elsewhere. nil (errno set) when a component is a symlink or missing.
    /// O_PATH (Linux; the Glibc module leaves it out).
    static let oPath: Int32 = 0o10000000

    static func openPinned(_ path: String) -> Int32? {
        var fd = open("/", Self.oPath | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        for part in Paths.components(path) {
            let next = openat(fd, String(part), Self.oPath | O_NOFOLLOW | O_CLOEXEC)
            let saved = errno
            close(fd)
            guard next >= 0 else { errno = saved; return nil }
            var st = stat()
            guard fstat(next, &st) == 0, (st.st_mode & S_IFMT) != S_IFLNK else { close(next); errno = ELOOP; return nil }
            fd = next
        }
        return fd
    }

    /// Device and inode of an open file.
    static func identity(_ fd: Int32) -> (dev: UInt64, ino: UInt64)? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    /// Runs `body` with the pinned directory `fd` as the working directory (a child spawned
    /// meanwhile inherits it), then returns to the previous one.
    static func inDirectory(_ fd: Int32, _ body: () -> (status: Int32, output: String)) -> (status: Int32, output: String) {
        let back = open(".", oPath | O_DIRECTORY | O_CLOEXEC)
        guard back >= 0 else { return (-1, "cannot open the working directory: \(String(cString: strerror(errno)))") }
        defer { _ = fchdir(back); close(back) }
        guard fchdir(fd) == 0 else { return (-1, "cannot enter the pinned directory: \(String(cString: strerror(errno)))") }
        return body()
    }

    /// The name `setfacl` (another process of root's) reaches the pinned object by.
    static func pinnedName(_ fd: Int32) -> String { "/proc/\(getpid())/fd/\(fd)" }

    static func hasACL(_ path: String) -> Bool {
        HostFS.accessACL(path) != nil || HostFS.hasXattr(path, "system.posix_acl_default")
    }

    func recordPath(account: String, profile: String) -> String {
        let safe = String(profile.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
        return Paths.join(stateDir, "\(account)@\(safe)")
    }

    /// Adds the entries `plan` needs for its account; returns them (empty: nothing was needed).
    public func grant(_ plan: SandboxPlan, profile: String) throws(Failure) -> [Entry] {
        guard getuid() == 0 else { throw Failure("grant needs root (it changes ACLs of paths the account cannot use)") }
        let id = plan.identity
        guard id.mechanism != .callerRemap, id.hostUid != 65534, id.hostUid != 0 else {
            throw Failure("profile `\(profile)` has no dedicated account: set [user] name (create one with mcpbox user add NAME)")
        }
        let name = id.userName
        let record = recordPath(account: name, profile: profile)
        guard HostFS.info(record) == nil else { throw Failure("already granted (\(record)); run mcpbox revoke \(profile) first") }
        let entries = Self.entries(for: plan)
        if entries.isEmpty { return [] }
        // A bind written through a symlink: the object granted would be the link's target, which
        // whoever may change the link chooses (a project directory's `proj -> /srv/secret`).
        for m in plan.mounts {
            guard case .bind(let source, _) = m.kind, !Self.systemPaths.contains(where: { Paths.isWithin(source, $0) }),
                  !Paths.same(source, m.target) || HostFS.info(m.target, follow: false)?.isSymlink == true,
                  entries.contains(where: { Paths.isWithin($0.path, source) || Paths.isWithin(source, $0.path) }) else { continue }
            throw Failure("\(m.target) is reached through a symlink (it is \(source)): grant changes ACLs only of paths written as they are; write \(source) in the profile if that is what the account should use")
        }
        var hadACL: [String] = []
        for e in entries {
            if e.kind == .tree { Self.walk(e.path) { p, _ in if Self.hasACL(p) { hadACL.append(p) } } } else if Self.hasACL(e.path) { hadACL.append(e.path) }
            if let acl = HostFS.accessACL(e.path), acl.contains(where: { $0.tag == HostFS.ACLEntry.user && $0.id == id.hostUid }) {
                throw Failure("\(e.path) already has an ACL entry for \(name); revoke could not restore it exactly: remove it (setfacl -x u:\(name)) or grant by hand")
            }
        }
        // Each path pinned now (no symlink on the way), and its device and inode recorded:
        // setfacl changes the pinned object, and revoke only an object that is still it.
        var pinned: [Int32] = []
        defer { for fd in pinned { close(fd) } }
        var ids: [String] = []
        for e in entries {
            guard let fd = Self.openPinned(e.path), let i = Self.identity(fd) else {
                throw Failure("\(e.path) cannot be opened without following a symlink (\(String(cString: strerror(errno)))): not granted; write its real path, and keep the directories on the way out of others' hands")
            }
            pinned.append(fd)
            ids.append("\(i.dev):\(i.ino)")
        }
        // The record is one line per path, tab-separated: a name with a newline or a tab (one
        // the server made in a granted tree, with an ACL of its own) would write lines of its
        // choosing into it, which revoke then reads as granted paths (red-team pass, 2026-12-03).
        if let bad = (entries.map(\.path) + hadACL).first(where: { $0.utf8.contains(0x0A) || $0.utf8.contains(0x09) || $0.utf8.contains(0x0D) }) {
            throw Failure("\(Explain.visible(bad)) holds a newline, tab or carriage return, which the grant record cannot hold: not granted; rename it (or move it out of the granted tree)")
        }
        var text = "# mcpbox grant \(profile) for \(name) (uid \(id.hostUid)); revoke undoes it\n"
        for (k, e) in entries.enumerated() { text += "\(e.kind.rawValue)\t\(e.perm)@\(ids[k])\t\(e.path)\n" }
        for p in hadACL { text += "acl\t-\t\(p)\n" }
        try write(record, text)
        for (k, e) in entries.enumerated() {
            // A tree: setfacl walks it from the pinned directory as its working directory (`.`,
            // physically: no symlink inside followed); a single path: through its pinned name.
            let target = e.kind == .tree ? "." : Self.pinnedName(pinned[k])
            var runs = [[setfacl] + (e.kind == .tree ? ["-R", "-P"] : []) + ["-m", "u:\(name):\(e.perm)", "--", target]]
            if e.kind == .tree { runs.append([setfacl, "-R", "-P", "-d", "-m", "u:\(name):\(e.perm)", "--", target]) }
            for a in runs {
                let r = e.kind == .tree ? Self.inDirectory(pinned[k]) { ManagedAccounts.run(a) } : ManagedAccounts.run(a)
                guard r.status == 0 else {
                    _ = try? revoke(account: name, profile: profile)
                    throw Failure("setfacl failed (\(a.joined(separator: " "))): \(r.output)")
                }
            }
        }
        return entries
    }

    /// Removes what `grant` added for `account` and `profile`; returns the paths touched.
    @discardableResult
    public func revoke(account name: String, profile: String) throws(Failure) -> [String] {
        guard getuid() == 0 else { throw Failure("revoke needs root") }
        let record = recordPath(account: name, profile: profile)
        guard let text = HostFS.readFile(record) else { throw Failure("nothing granted to \(name) for `\(profile)` (no \(record))") }
        var entries: [(kind: String, path: String, id: String?)] = []
        var hadACL = Set<String>()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: "\t", maxSplits: 2).map(String.init)
            guard f.count == 3 else { continue }
            let id = f[1].split(separator: "@", maxSplits: 1).dropFirst().first.map(String.init)
            if f[0] == "acl" { hadACL.insert(f[2]) } else { entries.append((f[0], f[2], id)) }
        }
        // Every recorded path must still name what was granted (no symlink on the way, the same
        // device and inode): a path renamed or replaced since is not touched, and the record
        // stays for another try.
        var moved: [String] = []
        for e in entries {
            guard let fd = Self.openPinned(e.path) else { moved.append(e.path); continue }
            defer { close(fd) }
            if let want = e.id, let i = Self.identity(fd), "\(i.dev):\(i.ino)" != want { moved.append(e.path) }
        }
        guard moved.isEmpty else {
            throw Failure("\(moved.joined(separator: ", ")) no longer \(moved.count == 1 ? "names" : "name") what was granted (renamed, replaced, or reached through a symlink now): nothing revoked; put \(moved.count == 1 ? "it" : "them") back, or remove the account's entries by hand (setfacl -x u:\(name)), then delete \(record)")
        }
        var touched: [String] = []
        func restore(_ path: String, isDir: Bool) throws(Failure) {
            guard Self.hasACL(path) else { return }
            // Through a pinned name: a path swapped for a symlink now is not followed.
            guard let fd = Self.openPinned(path) else { return }
            defer { close(fd) }
            let target = Self.pinnedName(fd)
            var steps: [[String]] = [[setfacl, "-x", "u:\(name)", "--", target]]
            if isDir && HostFS.hasXattr(target, "system.posix_acl_default") { steps.append([setfacl, "-d", "-x", "u:\(name)", "--", target]) }
            for a in steps {
                let r = ManagedAccounts.run(a)
                // No entry for the account left to remove is fine; anything else is an error.
                guard r.status == 0 || r.output.contains("No such") || r.output.contains("Invalid argument") else {
                    throw Failure("setfacl failed (\(a.joined(separator: " "))): \(r.output)")
                }
            }
            // A path that had no ACL before grant gets none back, once only base entries and the
            // mask are left: entries someone else added since (or a file hard-linked into the
            // tree from outside, with its own ACL) stay.
            if !hadACL.contains(path) {
                func minimal(_ acl: [HostFS.ACLEntry]?) -> Bool {
                    (acl ?? []).allSatisfy { $0.tag != HostFS.ACLEntry.user && $0.tag != HostFS.ACLEntry.group }
                }
                if minimal(HostFS.accessACL(target)) && minimal(HostFS.defaultACL(target)) {
                    let a = [setfacl, "-b", "-k", "--", target]
                    let r = ManagedAccounts.run(a)
                    guard r.status == 0 else { throw Failure("setfacl failed (\(a.joined(separator: " "))): \(r.output)") }
                }
            }
            touched.append(path)
        }
        for (kind, path, _) in entries {
            if kind == "tree" {
                var paths: [(String, Bool)] = []
                Self.walk(path) { p, d in paths.append((p, d)) }
                for (p, d) in paths { try restore(p, isDir: d) }
            } else {
                try restore(path, isDir: HostFS.info(path)?.isDirectory == true)
            }
        }
        unlink(record)
        return touched
    }

    private func write(_ path: String, _ text: String) throws(Failure) {
        var dir = ""
        for part in Paths.components(Paths.dirname(path)) {
            dir += "/" + part
            if mkdir(dir, 0o700) != 0 && errno != EEXIST { throw Failure("cannot create \(dir): \(String(cString: strerror(errno)))") }
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Failure("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count else { throw Failure("cannot write \(path)") }
    }
}
