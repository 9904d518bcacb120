#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `getxattr(2)` from the C library (its header, sys/xattr.h, is not part of the Glibc module).
@_silgen_name("getxattr")
private func c_getxattr(_ path: UnsafePointer<CChar>, _ name: UnsafePointer<CChar>, _ value: UnsafeMutableRawPointer?, _ size: Int) -> Int

/// `statfs(2)` from the C library (sys/vfs.h is not part of the Glibc module).
@_silgen_name("statfs")
private func c_statfs(_ path: UnsafePointer<CChar>, _ buf: UnsafeMutableRawPointer) -> Int32

/// Small, Foundation-free queries of the host filesystem and process.
public enum HostFS {
    public struct Info: Sendable, Equatable {
        public var isDirectory: Bool
        public var isRegular: Bool
        public var isSymlink: Bool
        public var mode: UInt32
        public var uid: UInt32
        public var gid: UInt32
    }

    /// `lstat(2)` (`follow` false) or `stat(2)`; nil when the path does not exist or cannot be examined.
    public static func info(_ path: String, follow: Bool = true) -> Info? {
        var st = stat()
        let rc = follow ? stat(path, &st) : lstat(path, &st)
        guard rc == 0 else { return nil }
        let type = st.st_mode & S_IFMT
        return Info(isDirectory: type == S_IFDIR, isRegular: type == S_IFREG, isSymlink: type == S_IFLNK,
                    mode: UInt32(st.st_mode), uid: st.st_uid, gid: st.st_gid)
    }

    public static func exists(_ path: String) -> Bool { info(path, follow: false) != nil }

    /// Whether the mount at `point` (the top one there) is read-only, by its per-mount options in
    /// the mount table (no `statvfs`: that could hang on a dead network mount or trigger an
    /// automount while `explain` plans).
    public static func isReadOnlyMount(_ point: String) -> Bool {
        let p = Array(point.utf8)
        return mountTable().last { $0.point == p }?.readOnly ?? false
    }

    /// "character device" or "block device" when `path` (followed) is one, else nil (`stat(2)`).
    public static func deviceKind(_ path: String) -> String? {
        guard let i = info(path) else { return nil }
        switch i.mode & UInt32(S_IFMT) {
        case UInt32(S_IFCHR): return "character device"
        case UInt32(S_IFBLK): return "block device"
        default: return nil
        }
    }

    /// Whether `path` (followed) lies on a procfs (`PROC_SUPER_MAGIC`), wherever it is mounted.
    public static func isProcFS(_ path: String) -> Bool {
        // struct statfs begins with f_type, a C long; 256 bytes hold the whole struct.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 32) { buf in
            c_statfs(path, UnsafeMutableRawPointer(buf.baseAddress!)) == 0 && buf[0] == 0x9FA0
        }
    }

    /// `realpath(3)`; nil when some component is missing, or when the result is not valid
    /// UTF-8 (a repaired name would be another path: nothing could be bound from it).
    public static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(validatingCString: p)
    }

    /// `readlink(2)`; nil when `path` is not a symlink or its text is not valid UTF-8.
    public static func readLink(_ path: String) -> String? {
        readLinkBytes(path).flatMap { String(validating: $0, as: UTF8.self) }
    }

    /// `readlink(2)` as bytes; nil when `path` is not a symlink or cannot be read.
    public static func readLinkBytes(_ path: String) -> [UInt8]? {
        // An uninitialized buffer, read in place (no zeroed array).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buf -> [UInt8]? in
            let n = buf.withMemoryRebound(to: CChar.self) { readlink(path, $0.baseAddress!, 4096) }
            guard n >= 0 else { return nil }
            return Array(buf.prefix(n))
        }
    }

    /// Whole file as UTF-8 text; nil if it cannot be read.
    public static func readFile(_ path: String, limit: Int = 4 << 20) -> String? {
        guard let bytes = readBytes(path, limit: limit), bytes.count <= limit else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The file's bytes, reading no more than `limit + 1` of them (more than `limit` means it is larger);
    /// nil if it cannot be read.
    public static func readBytes(_ path: String, limit: Int) -> [UInt8]? {
        // O_NONBLOCK: a FIFO (or a device) put where a file is expected must not hang the
        // open; only regular files are read.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        // An uninitialized buffer, no bigger than the limit: most reads are a few bytes of /proc.
        let size = min(65536, limit + 1)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: size) { buf -> [UInt8]? in
            var out: [UInt8] = []
            while out.count <= limit {
                let want = min(size, limit + 1 - out.count)
                let n = read(fd, buf.baseAddress, want)
                if n < 0 {
                    if errno == EINTR { continue }
                    return nil
                }
                if n == 0 { break }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[0..<n]))
            }
            return out
        }
    }

    /// The process environment, in order.
    public static func environment() -> [(String, String)] {
        var out: [(String, String)] = []
        var bad: Set<String> = []
        var p = environ
        while let entry = p.pointee {
            // Split at the first `=` byte (POSIX), without a Character walk of every entry.
            if let eq = strchr(entry, Int32(UInt8(ascii: "="))) {
                let name = String(decoding: UnsafeRawBufferPointer(start: entry, count: entry.distance(to: eq)), as: UTF8.self)
                if let value = String(validatingCString: eq + 1) {
                    out.append((name, value))
                } else {
                    out.append((name, String(cString: eq + 1)))
                    bad.insert(name)
                }
            }
            p += 1
        }
        nonUTF8Environment = bad
        return out
    }

    /// Whether `path` is a mount point of this mount namespace (by bytes).
    public static func isMountPoint(_ path: String) -> Bool {
        let p = Array(path.utf8)
        return mountTable().contains { $0.point == p }
    }

    /// The host mount points strictly below `source` (by bytes), which a bind of `source` carries
    /// into the sandbox (binds are recursive, as `mount --rbind`); `undecodable`: some of them are
    /// not valid UTF-8 (mcpbox cannot name them, so cannot judge them).
    public static func mountPoints(below source: String) -> (paths: [String], undecodable: Bool) {
        let s = Array(source.utf8)
        var paths: [String] = [], undecodable = false
        var seen = Set<PathKey>()
        for e in mountTable() where e.point.count > s.count && e.point.starts(with: s) && (s == [UInt8(ascii: "/")] || e.point[s.count] == UInt8(ascii: "/")) {
            let mp = e.point
            guard seen.insert(PathKey(bytes: mp)).inserted else { continue }
            if let p = String(validating: mp, as: UTF8.self) { paths.append(p) } else { undecodable = true }
        }
        return (paths, undecodable)
    }

    /// One line of `/proc/self/mountinfo`: the device (`MAJOR:MINOR`), the directory of that file
    /// system the mount shows (its root), and where it is mounted, escapes undone.
    struct MountEntry {
        var device: [UInt8]
        var root: [UInt8]
        var point: [UInt8]
        /// The per-mount options (field 6) start with `ro`.
        var readOnly = false
    }

    /// The mounts of this mount namespace, in mount order; read once.
    static func mountTable() -> [MountEntry] {
        if let known = mountTableRead { return known }
        func unescaped(_ field: ArraySlice<UInt8>) -> [UInt8] {
            // Most fields hold no escape: taken as they are.
            guard field.contains(UInt8(ascii: "\\")) else { return Array(field) }
            var path: [UInt8] = []
            var f = field
            while let c = f.first {
                if c == UInt8(ascii: "\\"), f.count >= 4,
                   let v = UInt8(String(decoding: f.dropFirst().prefix(3), as: UTF8.self), radix: 8) {
                    path.append(v)
                    f = f.dropFirst(4)
                } else {
                    path.append(c)
                    f = f.dropFirst()
                }
            }
            return path
        }
        var out: [MountEntry] = []
        if let bytes = readBytes("/proc/self/mountinfo", limit: 4 << 20) {
            // Fields 3 to 5 of each line, found by their spaces (no split of the whole line).
            bytes.withUnsafeBufferPointer { b in
                var i = 0
                while i < b.count {
                    // The starts of fields 1 to 5 and the end of field 5.
                    var starts = (0, 0, 0, 0, 0), n = 1, end = -1
                    starts.0 = i
                    while i < b.count && b[i] != UInt8(ascii: "\n") {
                        if b[i] == UInt8(ascii: " ") {
                            switch n {
                            case 1: starts.1 = i + 1
                            case 2: starts.2 = i + 1
                            case 3: starts.3 = i + 1
                            case 4: starts.4 = i + 1
                            case 5: end = i
                            default: break
                            }
                            n += 1
                        }
                        i += 1
                    }
                    if n >= 5 {
                        let pointEnd = end >= 0 ? end : i
                        // Field 6, the mount's own options (`ro,…` or `rw,…`), and the super
                        // options after ` - FSTYPE SOURCE ` (a file system read-only as a whole:
                        // squashfs, iso9660, one remounted so).
                        func startsRO(_ o: Int) -> Bool {
                            o + 2 <= i && b[o] == UInt8(ascii: "r") && b[o + 1] == UInt8(ascii: "o")
                                && (o + 2 == i || b[o + 2] == UInt8(ascii: ",") || b[o + 2] == UInt8(ascii: " "))
                        }
                        var ro = end >= 0 && startsRO(pointEnd + 1)
                        if !ro, end >= 0 {
                            var k = pointEnd + 1, dash = -1
                            while k + 2 < i {
                                if b[k] == UInt8(ascii: " ") && b[k + 1] == UInt8(ascii: "-") && b[k + 2] == UInt8(ascii: " ") { dash = k + 3; break }
                                k += 1
                            }
                            if dash >= 0 {
                                var spaces = 0, super_ = dash
                                while super_ < i && spaces < 2 { if b[super_] == UInt8(ascii: " ") { spaces += 1 }; super_ += 1 }
                                if spaces == 2 { ro = startsRO(super_) }
                            }
                        }
                        out.append(MountEntry(device: Array(b[starts.2..<(starts.3 - 1)]),
                                              root: unescaped(bytes[starts.3..<(starts.4 - 1)]),
                                              point: unescaped(bytes[starts.4..<pointEnd]), readOnly: ro))
                    }
                    i += 1
                }
            }
        }
        mountTableRead = out
        return out
    }
    nonisolated(unsafe) static var mountTableRead: [MountEntry]?

    /// Drops the mount table read so far: the next question reads it again.
    public static func forgetMounts() { mountTableRead = nil }

    /// Whether what is mounted at `point` was deleted since (its root reads `…//deleted`): it has
    /// no name any more to judge it by.
    public static func mountRootDeleted(_ point: String) -> Bool {
        let p = Array(point.utf8)
        return mountTable().last { $0.point == p }?.root.reversed().starts(with: Array("//deleted".utf8).reversed()) ?? false
    }

    /// Where else on the host the directory mounted at `point` is (a bind mount of
    /// `~/.ssh/keys` shows `~/.ssh/keys`): another mount of the same file system whose root
    /// holds this one's, with the rest of the path; checked to be the same object. Nil when no
    /// other mount shows it (a file system mounted only there) or it is not valid UTF-8.
    public static func mountShows(_ point: String) -> String? {
        let table = mountTable()
        let p = Array(point.utf8)
        guard let top = table.last(where: { $0.point == p }) else { return nil }
        func within(_ a: [UInt8], _ b: [UInt8]) -> Bool {
            b == [UInt8(ascii: "/")] || a == b || (a.count > b.count && a.starts(with: b) && a[b.count] == UInt8(ascii: "/"))
        }
        for e in table where e.device == top.device && !within(e.point, p) && within(top.root, e.root) {
            let rest = e.root == [UInt8(ascii: "/")] ? Array(top.root.dropFirst()) : Array(top.root.dropFirst(e.root.count + 1))
            var host = e.point
            if !rest.isEmpty {
                if host != [UInt8(ascii: "/")] { host.append(UInt8(ascii: "/")) }
                host += rest
            }
            guard let path = String(validating: host, as: UTF8.self), let a = identity(path), let b = identity(point),
                  a.dev == b.dev && a.ino == b.ino else { continue }
            return path
        }
        return nil
    }


    /// The names of the variables whose value `environment()` found not valid UTF-8 (read with
    /// U+FFFD in place of the bad bytes): passed on or expanded, they are refused, not changed.
    nonisolated(unsafe) public static var nonUTF8Environment: Set<String> = []

    /// Absolute path of the running executable (`/proc/self/exe`).
    public static func executablePath() -> String? { readLink("/proc/self/exe") }

    /// Whether `path` is a regular file with an execute bit.
    public static func isExecutableFile(_ path: String) -> Bool {
        guard let i = info(path), i.isRegular else { return false }
        return i.mode & 0o111 != 0
    }

    /// The process's supplementary groups (`getgroups(2)`).
    public static func groups() -> [UInt32] {
        let n = getgroups(0, nil)
        guard n > 0 else { return [] }
        var list = [gid_t](repeating: 0, count: Int(n))
        let got = getgroups(n, &list)
        return got > 0 ? Array(list[0..<Int(got)]) : []
    }

    /// One entry of a POSIX access ACL.
    public struct ACLEntry: Sendable, Equatable {
        public var tag: UInt16
        public var perm: UInt16
        public var id: UInt32
        public static let userObj: UInt16 = 0x01, user: UInt16 = 0x02, groupObj: UInt16 = 0x04
        public static let group: UInt16 = 0x08, mask: UInt16 = 0x10, other: UInt16 = 0x20
    }

    /// The access ACL of `path` (`getxattr(2)` of system.posix_acl_access); nil when it has none.
    public static func accessACL(_ path: String) -> [ACLEntry]? { acl(path, "system.posix_acl_access") }

    /// The default ACL of directory `path` (system.posix_acl_default); nil when it has none.
    public static func defaultACL(_ path: String) -> [ACLEntry]? { acl(path, "system.posix_acl_default") }

    static func acl(_ path: String, _ attribute: String) -> [ACLEntry]? {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = c_getxattr(path, attribute, &buf, buf.count)
        guard n >= 4, (n - 4) % 8 == 0 else { return nil }
        func u16(_ i: Int) -> UInt16 { UInt16(buf[i]) | UInt16(buf[i + 1]) << 8 }
        func u32(_ i: Int) -> UInt32 { UInt32(u16(i)) | UInt32(u16(i + 2)) << 16 }
        guard u32(0) == 2 else { return nil }
        return stride(from: 4, to: n, by: 8).map { ACLEntry(tag: u16($0), perm: u16($0 + 2), id: u32($0 + 4)) }
    }

    /// Whether `uid` with groups `gids` gets all of `want` (rwx bits, 0-7) on `path`, judged by
    /// owner, group and mode bits, and the access ACL when there is one (as the kernel does).
    public static func permits(_ path: String, uid: UInt32, gids: [UInt32], want: UInt32) -> Bool? {
        guard let i = info(path) else { return nil }
        return permits(path, info: i, uid: uid, gids: gids, want: want)
    }

    /// `permits` with the `info(path)` the caller already has (one stat fewer per bind).
    public static func permits(_ path: String, info i: Info, uid: UInt32, gids: [UInt32], want: UInt32) -> Bool {
        if uid == 0 { return true }
        guard let acl = accessACL(path) else {
            let bits = i.uid == uid ? (i.mode >> 6) & 7 : gids.contains(i.gid) ? (i.mode >> 3) & 7 : i.mode & 7
            return bits & want == want
        }
        let w = UInt16(want)
        let mask = acl.first { $0.tag == ACLEntry.mask }?.perm ?? 7
        if i.uid == uid { return acl.first { $0.tag == ACLEntry.userObj }.map { $0.perm & w == w } ?? false }
        if let e = acl.first(where: { $0.tag == ACLEntry.user && $0.id == uid }) { return e.perm & mask & w == w }
        let groups = acl.filter { ($0.tag == ACLEntry.groupObj && gids.contains(i.gid)) || ($0.tag == ACLEntry.group && gids.contains($0.id)) }
        if !groups.isEmpty { return groups.contains { $0.perm & mask & w == w } }
        return acl.first { $0.tag == ACLEntry.other }.map { $0.perm & w == w } ?? false
    }

    /// Whether `path` has the extended attribute `name` (not following a final symlink is not needed here).
    static func hasXattr(_ path: String, _ name: String) -> Bool {
        var buf = [UInt8](repeating: 0, count: 256)
        return c_getxattr(path, name, &buf, buf.count) > 0
    }

    /// The names in directory `path` (without `.` and `..`), the first `limit` of them; empty
    /// when it cannot be read.
    public static func listDirectory(_ path: String, limit: Int = .max) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while names.count < limit, let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The names of the symlinks among the first `limit` entries of directory `path`; empty when
    /// it cannot be read. The entry's type from the directory itself (`d_type`), `lstat` only
    /// where the filesystem does not say (DT_UNKNOWN).
    public static func symlinkNames(in path: String, limit: Int) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        // What `lstat` of each entry would say: nothing at all in a directory that may be read but
        // not searched, and a name that is not UTF-8 is examined as decoded (as it always was).
        let searchable = faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0
        var names: [String] = []
        var seen = 0
        while seen < limit, let entry = readdir(d) {
            let (name, valid) = withUnsafeBytes(of: entry.pointee.d_name) { raw -> (String, Bool) in
                let bytes = raw.prefix { $0 != 0 }
                let exact = String(validating: bytes, as: UTF8.self)
                return (exact ?? String(decoding: bytes, as: UTF8.self), exact != nil)
            }
            if name == "." || name == ".." { continue }
            seen += 1
            guard searchable else { continue }
            let type = Int32(entry.pointee.d_type)
            if type == Int32(DT_LNK) && valid { names.append(name); continue }
            if type == Int32(DT_UNKNOWN) || !valid, info(Paths.join(path, name), follow: false)?.isSymlink == true { names.append(name) }
        }
        return names
    }

    /// The symlinks the kernel follows to reach `path` (absolute), every point the walk stands on
    /// (each component it looks up, links and missing ones included: a directory there can be
    /// swapped for a link, a missing one created), and where it arrives: the object, or where it
    /// would be created when a component is missing (the rest appended as the kernel would walk
    /// it). `opaque` names the link or path where mcpbox cannot follow the walk (a link whose text
    /// is not UTF-8, a path too long to examine): what lies beyond is unknown. At the 41st link the
    /// walk stops (the kernel fails it too).
    public struct Followed: Sendable, Equatable {
        public var links: [String] = []
        public var points: [String] = []
        public var target: String = "/"
        public var opaque: String?
    }

    public static func followed(_ path: String) -> Followed {
        var pending = Paths.components(path).reversed().map(String.init)
        var current = "/"
        var f = Followed()
        while let part = pending.popLast() {
            if part == "." { continue }
            if part == ".." { current = Paths.dirname(current); continue }
            let next = Paths.join(current, part)
            f.points.append(next)
            var st = stat()
            guard lstat(next, &st) == 0 else {
                let missing = errno == ENOENT || errno == ENOTDIR || errno == EACCES
                if !missing { f.opaque = next }
                var target = next
                while let p = pending.popLast() {
                    if p == "." { continue }
                    target = p == ".." ? Paths.dirname(target) : Paths.join(target, p)
                    if missing { f.points.append(target) }
                }
                f.target = target
                return f
            }
            guard (st.st_mode & S_IFMT) == S_IFLNK else { current = next; continue }
            f.links.append(next)
            guard f.links.count <= 40 else { f.target = next; return f }
            guard let bytes = HostFS.readLinkBytes(next), let text = String(validating: bytes, as: UTF8.self) else {
                f.opaque = next
                f.target = next
                return f
            }
            if text.isAbsolutePath { current = "/" }
            pending += Paths.components(text).reversed().map(String.init)
        }
        f.target = current
        return f
    }

    /// The symlinks the kernel follows to reach `path` (absolute), each as the real directory
    /// holding it and its name there, in order; nil after 40 of them (the kernel's limit).
    /// Links inside a link's target count too: the walk reads each link and goes on through its text.
    public static func symlinks(on path: String) -> [(directory: String, link: String)]? {
        // The same walk as `followed`: each link is named in the real directory it was met in.
        let f = followed(path)
        guard f.links.count <= 40 else { return nil }
        return f.links.map { (Paths.dirname($0), $0) }
    }

    public static var uid: UInt32 { getuid() }
    public static var gid: UInt32 { getgid() }
}

/// A path's bytes as a dictionary or set key. Paths are told apart by their bytes (`String`
/// equality is canonical equivalence: `caf\u{E9}` and `cafe\u{301}` are one to Swift and two to
/// the kernel), and hashed in one pass (`[UInt8]` feeds the hasher one byte at a time).
public struct PathKey: Hashable, Sendable {
    public let bytes: [UInt8]
    public init(_ path: String) { bytes = Array(path.utf8) }
    public init(bytes: [UInt8]) { self.bytes = bytes }
    public static func == (a: PathKey, b: PathKey) -> Bool { a.bytes == b.bytes }
    public func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
}

/// Byte-level text tests for ASCII words (no `String` search: each builds a table, and the
/// first costs a type lookup by name).
enum ASCII {
    /// Whether `text` holds `word` (lowercase ASCII) in any ASCII case.
    static func containsCaseInsensitive(_ text: String, _ word: String) -> Bool {
        let w = Array(word.utf8), t = Array(text.utf8)
        guard !w.isEmpty, t.count >= w.count else { return w.isEmpty }
        func lower(_ b: UInt8) -> UInt8 { b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b | 0x20 : b }
        outer: for i in 0...(t.count - w.count) {
            for j in 0..<w.count where lower(t[i + j]) != w[j] { continue outer }
            return true
        }
        return false
    }
}

/// Pure path helpers (no filesystem access).
public enum Paths {
    /// The fix for a path that is not absolute: `~` and `$HOME` are not expanded, `${HOME}` is.
    public static func absoluteHint(_ path: String) -> String {
        for prefix in ["~/", "$HOME/", "~", "$HOME"] where path.hasPrefix(prefix) && (prefix.hasSuffix("/") || path == prefix) {
            let rest = String(path.dropFirst(prefix.count))
            let fixed = "${HOME}" + (rest.isEmpty ? "" : "/" + rest)
            return "`~` and `$HOME` are not expanded in profiles: write \"\(fixed)\""
        }
        return "write the full path, starting with /"
    }

    /// Joins and normalizes: collapses `//` and `.`, drops a trailing `/`; nil if relative or with `..`.
    public static func normalize(_ path: String) -> String? {
        // The first byte: `hasPrefix` compares Characters, and `/` with a combining mark is one.
        guard path.utf8.first == UInt8(ascii: "/") else { return nil }
        if isNormalASCII(path) { return path }
        var parts: [Substring] = []
        for c in components(path) {
            if c == "." { continue }
            if c == ".." { return nil }
            parts.append(c)
        }
        return "/" + slashJoined(parts)
    }

    /// `parts.joined(separator: "/")`, built with concrete appends: the stdlib's `joined` over
    /// Substrings is not specialized here and pays runtime witness lookups on first use.
    static func slashJoined(_ parts: some Sequence<Substring>) -> String {
        var out = ""
        var first = true
        for part in parts {
            if !first { out.append("/") }
            out.append(contentsOf: part)
            first = false
        }
        return out
    }

    /// Whether the ASCII absolute `path` is already what `normalize` makes of it: `/`, or no
    /// empty, `.` or `..` component (most paths are; they need no split and join).
    static func isNormalASCII(_ path: String) -> Bool {
        if path == "/" { return true }
        var path = path
        return path.withUTF8 { b in
            guard b.count > 1, b[0] == UInt8(ascii: "/") else { return false }
            var start = 1
            for i in 1...b.count where i == b.count || b[i] == UInt8(ascii: "/") || b[i] >= 0x80 {
                if i < b.count && b[i] >= 0x80 { return false }
                let length = i - start
                if length == 0 { return false }
                if b[start] == UInt8(ascii: "."), length == 1 || (length == 2 && b[start + 1] == UInt8(ascii: ".")) { return false }
                start = i + 1
            }
            return true
        }
    }

    /// Path components of an absolute normalized path ("/" → []).
    public static func components(_ path: String) -> [Substring] {
        // Split at the `/` bytes, as the kernel does: a split by Character keeps `/` and a
        // combining mark after it together (`a/\u{301}b` would be one component, not two).
        // One pass over the bytes straight into the result (no array of UTF-8 slices to convert).
        var out: [Substring] = []
        let bytes = path.utf8
        var i = bytes.startIndex
        var start: String.Index?
        while i != bytes.endIndex {
            if bytes[i] == UInt8(ascii: "/") {
                if let s = start { out.append(path[s..<i]); start = nil }
            } else if start == nil {
                start = i
            }
            bytes.formIndex(after: &i)
        }
        if let s = start { out.append(path[s..<bytes.endIndex]) }
        return out
    }

    static func isASCII(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { !$0.contains { $0 >= 0x80 } }
    }

    /// Whether `a` and `b` are one path to the kernel: the same bytes (`==` on `String` is
    /// canonical equivalence: `caf\u{E9}` and `cafe\u{301}` are two files, one Swift string).
    public static func same(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

    /// Whether `ancestor` is `path` itself or one of its parent directories.
    public static func isWithin(_ path: String, _ ancestor: String) -> Bool {
        // Byte-wise, without building `ancestor + "/"`: called for every pair of mounts and places.
        // The lengths first (stored, no copy): most pairs differ there already.
        let a = ancestor.utf8, p = path.utf8
        if a.count == 1 && a.first == UInt8(ascii: "/") { return true }
        guard p.count >= a.count else { return false }
        return p.withContiguousStorageIfAvailable { pb in
            a.withContiguousStorageIfAvailable { ab in
                if ab.count > 0 && memcmp(pb.baseAddress!, ab.baseAddress!, ab.count) != 0 { return false }
                return pb.count == ab.count || pb[ab.count] == UInt8(ascii: "/")
            }
        }.flatMap { $0 } ?? (p.starts(with: a) && (p.count == a.count || p.dropFirst(a.count).first == UInt8(ascii: "/")))
    }

    /// `path` relative to its ancestor `base` ("" when equal).
    public static func remainder(_ path: String, under base: String) -> String {
        // By bytes: `path` begins with the bytes of `base` (isWithin), and a Character count
        // differs where a combining mark follows the `/` (`/a/\u{301}b` under `/a`: `\u{301}b`).
        let u = path.utf8, skip = base.utf8.count == 1 ? 1 : base.utf8.count + 1
        guard u.count > skip else { return "" }
        return String(path[u.index(u.startIndex, offsetBy: skip)...])
    }

    public static func join(_ base: String, _ rest: String) -> String {
        if rest.isEmpty { return base }
        if base == "/" { return "/" + rest }
        return base + "/" + rest
    }

    public static func dirname(_ path: String) -> String {
        guard let slash = lastSlash(path) else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public static func basename(_ path: String) -> String {
        guard let slash = lastSlash(path) else { return path }
        // The byte after the `/` (a Character step would skip a combining mark after it).
        return String(path[path.utf8.index(after: slash)...])
    }

    /// The last `/` byte of `path`, as the kernel finds it (a Character search would not see a
    /// `/` that a combining mark follows: they make one Character).
    static func lastSlash(_ path: String) -> String.Index? {
        path.utf8.lastIndex(of: UInt8(ascii: "/"))
    }

    /// Orders paths component-wise, so a parent always sorts before its children.
    public static func precedes(_ a: String, _ b: String) -> Bool {
        if let fast = asciiPrecedes(a, b) { return fast }
        let x = components(a), y = components(b)
        for (p, q) in zip(x, y) where p != q { return p < q }
        return x.count < y.count
    }

    /// `precedes` for two ASCII paths, byte by byte without splitting (ASCII strings compare as
    /// their bytes do); nil when either has other text.
    static func asciiPrecedes(_ a: String, _ b: String) -> Bool? {
        var a = a, b = b
        return a.withUTF8 { x in
            b.withUTF8 { y -> Bool? in
                if x.contains(where: { $0 >= 0x80 }) || y.contains(where: { $0 >= 0x80 }) { return nil }
                let slash = UInt8(ascii: "/")
                var i = 0, j = 0
                while true {
                    while i < x.count && x[i] == slash { i += 1 }
                    while j < y.count && y[j] == slash { j += 1 }
                    if i == x.count || j == y.count { return i == x.count && j < y.count }
                    while i < x.count && x[i] != slash && j < y.count && y[j] != slash {
                        if x[i] != y[j] { return x[i] < y[j] }
                        i += 1
                        j += 1
                    }
                    let endX = i == x.count || x[i] == slash, endY = j == y.count || y[j] == slash
                    // One component is a proper prefix of the other: the shorter sorts first.
                    if endX != endY { return endX }
                }
            }
        }
    }
}

extension StringProtocol {
    /// Whether the first byte is `/`, as the kernel reads a path: `hasPrefix("/")` compares
    /// Characters, and a `/` followed by a combining mark is one Character (not `/`).
    var isAbsolutePath: Bool { utf8.first == UInt8(ascii: "/") }
}

extension Array where Element == String {
    /// Whether the list holds `path`, compared by bytes (`Paths.same`): `contains` on `String`s
    /// takes canonically equivalent names, two paths to the kernel, for one.
    func containsPath(_ path: String) -> Bool { contains { Paths.same($0, path) } }
}
