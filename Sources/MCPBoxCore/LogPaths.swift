import MCPBoxEvents
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Log files mcpbox writes on the host (`[audit] log`, `[network] log`): a path `run` could not
/// open and append to as a regular file is refused when the plan is built, so `explain` and
/// `run` refuse it with the same words.
enum LogPaths {
    /// Why `path` (absolute, normalized) cannot be a log, with how to fix it; nil when it can.
    /// `makesParents`: missing directories are created by mcpbox (the audit log); otherwise
    /// the directory must exist. `what` names the log in the message.
    static func problem(_ path: String, makesParents: Bool, what: String = "log") -> (message: String, hint: String)? {
        let hint = "name a regular file (or a new one) in an ordinary directory, outside /proc, /sys and /dev"
        for top in ["/proc", "/sys", "/dev"] where Paths.isWithin(path, top) {
            return ("refused: the \(what) \(path) lies under \(top), which holds kernel and device files, not logs", hint)
        }
        if path.utf8.count >= Int(PATH_MAX) || Paths.components(path).contains(where: { $0.utf8.count > Int(NAME_MAX) }) {
            return ("refused: the \(what) \(path) is too long (a path of at most \(PATH_MAX - 1) bytes, each name at most \(NAME_MAX))", "choose a shorter path")
        }
        if let (dir, owner) = foreignDirectory(on: path, me: getuid()) {
            return ("refused: the \(what) \(path) lies under \(dir), which \(owner); it could put a symlink on the way and have mcpbox create, rotate or remove log files wherever it points",
                    "keep logs in directories only you (or root) can change")
        }
        for (file, name) in [(EventSink.lockPath(path), "its lock file"), (path, "it")] {
            guard let i = HostFS.info(file, follow: false), !i.isSymlink, i.isRegular else { continue }
            if i.uid != getuid() {
                return ("refused: the \(what) \(path) cannot be this account's record: \(name == "it" ? "it" : "its lock file \(file)") belongs to account \(i.uid)",
                        "remove it, or name a log in a directory of your own")
            }
            if i.mode & 0o022 != 0 {
                return ("refused: the \(what) \(path) cannot be this account's record: other accounts may write \(name == "it" ? "it" : "its lock file \(file)") (mode \(String(i.mode & 0o7777, radix: 8)))",
                        "chmod 600 it")
            }
        }
        if let i = HostFS.info(EventSink.lockPath(path), follow: false), i.isSymlink || !i.isRegular {
            return ("refused: the \(what)'s lock file \(EventSink.lockPath(path)) is a symlink or not a regular file", "remove it")
        }
        if let i = HostFS.info(path, follow: false) {
            if i.isSymlink {
                return ("refused: the \(what) \(path) is a symlink; mcpbox opens logs without following symlinks",
                        "name the symlink's target, or remove the symlink")
            }
            if i.isDirectory { return ("refused: the \(what) \(path) is a directory", "name a file inside it") }
            if !i.isRegular { return ("refused: the \(what) \(path) is a FIFO, socket or device, not a regular file", hint) }
            if access(path, W_OK) != 0 {
                return ("refused: the \(what) \(path) cannot be written: \(String(cString: strerror(errno)))",
                        "make it writable by the account running mcpbox (and not immutable, on a read-write file system), or name another file")
            }
            return nil
        }
        // The nearest existing ancestor must be a directory.
        var dir = Paths.dirname(path)
        while HostFS.info(dir) == nil, dir != "/" {
            if !makesParents { return nil }  // reported by the caller ("does not exist")
            dir = Paths.dirname(dir)
        }
        guard let d = HostFS.info(dir), d.isDirectory else {
            return ("refused: the \(what) \(path) cannot be created: \(dir) is not a directory", hint)
        }
        if access(dir, W_OK | X_OK) != 0 {
            return ("refused: the \(what) \(path) cannot be created: \(dir): \(String(cString: strerror(errno)))",
                    "make \(dir) writable by the account running mcpbox (on a read-write file system), or name another file")
        }
        return nil
    }
}

extension LogPaths {
    /// The first existing directory on the way to `path` that an account other than `me` and
    /// root could change, so as to put a symlink there: owned by another account; writable by
    /// every account, or by a group other than root's (and other than `me`'s own group on a
    /// directory of `me`'s), without the sticky bit; or opened to another account or group for
    /// writing by an ACL. Each component is looked at with `lstat`, from `/` down; a symlink is
    /// followed one link at a time (each from a directory just judged, each owned by `me` or
    /// root), at most 40. With why, or nil.
    static func foreignDirectory(on path: String, me: uid_t) -> (String, String)? {
        let myGroup = getgid()
        func foreign(_ dir: String) -> String? {
            guard let info = HostFS.info(dir, follow: false) else { return nil }
            if info.uid != 0 && info.uid != me { return "account \(info.uid) owns" }
            let sticky = info.mode & 0o1000 != 0
            if info.mode & 0o002 != 0 && !sticky {
                return "every account may write (mode \(String(info.mode & 0o7777, radix: 8)), no sticky bit)"
            }
            if info.mode & 0o020 != 0 && !sticky && info.gid != 0 && !(info.uid == me && info.gid == myGroup) {
                return "group \(info.gid) may write (mode \(String(info.mode & 0o7777, radix: 8)), no sticky bit)"
            }
            if let acl = HostFS.accessACL(dir) {
                let mask = acl.first { $0.tag == HostFS.ACLEntry.mask }?.perm ?? 7
                if acl.contains(where: { ($0.tag == HostFS.ACLEntry.user && $0.id != me && $0.id != 0 || $0.tag == HostFS.ACLEntry.group && $0.id != 0)
                        && $0.perm & mask & 2 != 0 }) && !sticky {
                    return "an ACL lets another account or group write"
                }
            }
            return nil
        }
        var pending = Paths.components(path).reversed().map(String.init)
        var dir = "/"
        var hops = 0
        while let part = pending.popLast() {
            if part == "." { continue }
            if let why = foreign(dir) { return (dir, why) }
            if part == ".." { dir = Paths.dirname(dir); continue }
            let next = Paths.join(dir, part)
            guard let n = HostFS.info(next, follow: false) else { return nil }
            if n.isSymlink {
                hops += 1
                if n.uid != 0 && n.uid != me { return (dir, "holds the symlink \(next) of account \(n.uid)") }
                guard hops <= 40, let link = HostFS.readLink(next) else { return nil }
                // The link's text, read from its own directory, replaces its name.
                pending += Paths.components(link).reversed().map(String.init)
                if link.isAbsolutePath { dir = "/" }
                continue
            }
            if !n.isDirectory { return nil }
            dir = next
        }
        if let why = foreign(dir) { return (dir, why) }
        return nil
    }

    /// The read-write bind (source, target) that shows log `path` under another name: a symlink
    /// on its way (resolved as far as the path exists) or a host bind mount showing one of its
    /// directories elsewhere (same device and inode); nil when none does. The textual check
    /// (`path` inside a bind's source or target) is the caller's.
    static func writableAlias(_ path: String, writable: [(source: String, target: String)]) -> (source: String, target: String, via: String)? {
        guard !writable.isEmpty else { return nil }
        let real = GrantChecks.resolved(path)
        if let w = writable.first(where: { Paths.isWithin(real, $0.source) }) { return (w.source, w.target, real) }
        guard let hit = GrantChecks.Identities().ancestor(of: real, sameAs: writable.map(\.source)) else { return nil }
        return (writable[hit.outer].source, writable[hit.outer].target, hit.dir)
    }
}

extension HostFS {
    /// Device, inode and link count of `path` (`lstat(2)`); nil when it cannot be examined.
    static func identity(_ path: String) -> (dev: UInt64, ino: UInt64, links: UInt64)? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino), UInt64(st.st_nlink))
    }
}

/// A profile file the server could rewrite through another name than its path.
enum ProfileAliases {
    /// Why `file` (a real path) can be reached from `writable` (read-write bind sources) or
    /// from another name, with how to fix it; nil when it cannot.
    static func problem(_ file: String, writable: [(source: String, target: String, origin: String)]) -> (message: String, hint: String)? {
        guard let me = HostFS.identity(file) else { return nil }
        if me.links > 1 {
            return ("refused: this profile has \(me.links) hard links; another of its names may lie where the server can write, so the server could rewrite it",
                    "give it a single link: cp \(file) \(file).new && mv \(file).new \(file)")
        }
        let identities = GrantChecks.Identities()
        for w in writable {
            if let hit = identities.ancestor(of: file, sameAs: [w.source]) {
                return ("refused: this profile lies inside \(w.target), which the server may write (\(w.origin)): \(hit.dir) is the same file or directory as \(w.source)",
                        "keep profiles outside the directories they grant write access to")
            }
        }
        return nil
    }
}
