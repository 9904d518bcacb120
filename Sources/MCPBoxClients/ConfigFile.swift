#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `fgetxattr(2)` from the C library (its header, sys/xattr.h, is not part of the Glibc module).
@_silgen_name("fgetxattr")
private func c_fgetxattr(_ fd: Int32, _ name: UnsafePointer<CChar>, _ value: UnsafeMutableRawPointer?, _ size: Int) -> Int

/// `fsetxattr(2)` from the C library (sys/xattr.h is not part of the Glibc module).
@_silgen_name("fsetxattr")
private func c_fsetxattr(_ fd: Int32, _ name: UnsafePointer<CChar>, _ value: UnsafeRawPointer?, _ size: Int, _ flags: Int32) -> Int32

/// A file-system failure, with the path and the errno text.
public struct ConfigFileError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ what: String, _ path: String, errno e: Int32 = errno) {
        description = "\(what) \(path): \(String(cString: strerror(e)))"
    }
    init(_ message: String) { description = message }
}

/// A configuration file opened for editing: locked (`flock` on the file itself, non-blocking:
/// a second `wrap` on the same file is refused, not queued), read with the size limit, and
/// replaced atomically.
public final class LockedConfigFile {
    public let path: String
    public let bytes: [UInt8]
    let fd: Int32
    let info: stat
    /// The file's access ACL as the kernel stores it (the `system.posix_acl_access` attribute), or
    /// nil. With one, the mode's group bits are the ACL's mask, not the owning group's access: the
    /// backup and the replacement get the ACL itself, or the mode alone would give the group what
    /// the named entries had (and drop them).
    let acl: [UInt8]?

    /// Opens, locks and reads `path`. Re-checks after locking that the path still names the
    /// locked file (another writer may have renamed a new one into place meanwhile).
    public init(_ path: String) throws(ConfigFileError) {
        // A symlinked configuration (dotfiles) is edited where it lives; the link stays a link.
        let path = realpath(path, nil).map { p in defer { free(p) }; return String(cString: p) } ?? path
        self.path = path
        var attempts = 0
        while true {
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
            guard fd >= 0 else { throw ConfigFileError("cannot open", path) }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let e = errno
                close(fd)
                if e == EWOULDBLOCK { throw ConfigFileError("\(path) is being edited by another mcpbox wrap/unwrap (it holds the lock); try again when it is done") }
                throw ConfigFileError("cannot lock", path, errno: e)
            }
            var st = stat(), now = stat()
            guard fstat(fd, &st) == 0 else { let e = errno; close(fd); throw ConfigFileError("cannot stat", path, errno: e) }
            if stat(path, &now) == 0, now.st_ino == st.st_ino, now.st_dev == st.st_dev {
                guard (st.st_mode & S_IFMT) == S_IFREG else { close(fd); throw ConfigFileError("\(path) is not a regular file") }
                guard st.st_size <= ConfigLimits.maxFileSize else {
                    close(fd)
                    throw ConfigFileError("\(path) is larger than \(ConfigLimits.maxFileSize >> 20) MiB; not a configuration file mcpbox edits")
                }
                do {
                    self.bytes = try Self.readAll(fd, path: path)
                    self.acl = try Self.accessACL(fd, path: path)
                } catch {
                    close(fd)
                    throw error
                }
                self.fd = fd
                self.info = st
                return
            }
            close(fd)
            attempts += 1
            if attempts > 10 { throw ConfigFileError("\(path) keeps being replaced while mcpbox tries to lock it") }
        }
    }

    deinit { close(fd) }

    static func readAll(_ fd: Int32, path: String) throws(ConfigFileError) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buf, buf.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw ConfigFileError("cannot read", path)
            }
            if n == 0 { return out }
            out += buf[0..<n]
            if out.count > ConfigLimits.maxFileSize { throw ConfigFileError("\(path) is larger than \(ConfigLimits.maxFileSize >> 20) MiB") }
        }
    }

    static let aclName = "system.posix_acl_access"

    /// The access ACL of `fd` (`fgetxattr(2)`); nil when it has none or its file system has no ACLs.
    static func accessACL(_ fd: Int32, path: String) throws(ConfigFileError) -> [UInt8]? {
        while true {
            let size = c_fgetxattr(fd, aclName, nil, 0)
            if size < 0 {
                if errno == ENODATA || errno == ENOTSUP || errno == EOPNOTSUPP { return nil }
                if errno == EINTR { continue }
                throw ConfigFileError("cannot read the access ACL of", path)
            }
            var buf = [UInt8](repeating: 0, count: size)
            let n = buf.withUnsafeMutableBytes { c_fgetxattr(fd, aclName, $0.baseAddress, $0.count) }
            if n >= 0 { return Array(buf[0..<n]) }
            // Changed between the two calls (ERANGE), or gone: ask again.
            if errno == ERANGE || errno == ENODATA || errno == EINTR { continue }
            throw ConfigFileError("cannot read the access ACL of", path)
        }
    }

    /// Gives `fd` (the backup or the replacement, at `name`) the file's access ACL, if it has one
    /// (`fsetxattr(2)`; after `fchmod`, which would reset the ACL's mask).
    func copyACL(to fd: Int32, name: String) throws(ConfigFileError) {
        guard let acl else { return }
        let rc = acl.withUnsafeBytes { c_fsetxattr(fd, Self.aclName, $0.baseAddress, $0.count, 0) }
        guard rc == 0 else { throw ConfigFileError("cannot give the access ACL of \(path) to", name) }
    }

    /// Reads a file with the size limit, without locking (for planning from a path).
    public static func readFile(_ path: String) throws(ConfigFileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { throw ConfigFileError("cannot open", path) }
        defer { close(fd) }
        return try readAll(fd, path: path)
    }

    /// Refuses when the file changed since it was read (a client wrote it meanwhile).
    public func checkUnchanged() throws(ConfigFileError) {
        let current = try Self.readFile(path)
        guard current == bytes else { throw ConfigFileError("\(path) changed while mcpbox was working (its client wrote it?); nothing written, run again") }
    }

    /// Writes the backup `PATH.mcpbox-backup-YYYYMMDDTHHMMSS` (UTC; `-2`, `-3`... when it
    /// exists) holding the current bytes, with the file's mode and access ACL; returns its path.
    public func backup(now: time_t = time(nil)) throws(ConfigFileError) -> String {
        var t = now
        var tmv = tm()
        gmtime_r(&t, &tmv)
        let stamp = String(format4(Int(tmv.tm_year) + 1900)) + two(tmv.tm_mon + 1) + two(tmv.tm_mday) + "T" + two(tmv.tm_hour) + two(tmv.tm_min) + two(tmv.tm_sec)
        var n = 1
        while true {
            let name = path + ".mcpbox-backup-" + stamp + (n == 1 ? "" : "-\(n)")
            let out = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, info.st_mode & 0o777)
            if out < 0 {
                if errno == EEXIST && n < 100 { n += 1; continue }
                throw ConfigFileError("cannot create the backup", name)
            }
            defer { close(out) }
            _ = fchmod(out, info.st_mode & 0o777)
            if geteuid() == 0 { _ = fchown(out, info.st_uid, info.st_gid) }
            do {
                try copyACL(to: out, name: name)
            } catch {
                unlink(name)
                throw error
            }
            try Self.writeAll(out, bytes, path: name)
            guard fsync(out) == 0 else { throw ConfigFileError("cannot sync", name) }
            return name
        }
    }

    /// Replaces the file with `updated`: a temporary file in the same directory (same mode, access
    /// ACL and, for root, owner), fsync, rename over the original, fsync of the directory. Refuses when the
    /// file changed since it was read (a client wrote it meanwhile): nothing is lost, run again.
    public func replace(with updated: [UInt8]) throws(ConfigFileError) {
        try checkUnchanged()
        // A new file renamed over this one would leave its other names with the old bytes (the
        // summary would say "updated" while the client reads another name), and would write a
        // file its owner made read-only.
        guard info.st_nlink <= 1 else {
            throw ConfigFileError("\(path) has \(info.st_nlink) hard links, and a rewritten file would not change the others; nothing written (make it a file of its own: cp -p F F.new && mv F.new F)")
        }
        guard info.st_mode & 0o200 != 0 else {
            throw ConfigFileError("\(path) is read-only (mode \(String(info.st_mode & 0o7777, radix: 8))); nothing written (make it writable to let mcpbox change it: chmod u+w)")
        }
        guard updated.count <= ConfigLimits.maxFileSize else {
            throw ConfigFileError("\(path) would grow past \(ConfigLimits.maxFileSize >> 20) MiB, more than wrap and unwrap read; nothing written")
        }
        let dir = StarterProfile.dirname(path)
        let base = StarterProfile.basename(path)
        var template = Array((dir + "/." + base + ".mcpbox-XXXXXX").utf8CString)
        let tmp = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard tmp >= 0 else { throw ConfigFileError("cannot create a temporary file in", dir) }
        _ = fcntl(tmp, F_SETFD, FD_CLOEXEC)
        let tmpPath = String(cString: template)
        var ok = false
        defer {
            close(tmp)
            if !ok { unlink(tmpPath) }
        }
        guard fchmod(tmp, info.st_mode & 0o7777) == 0 else { throw ConfigFileError("cannot set the mode of", tmpPath) }
        if geteuid() == 0 || info.st_uid == geteuid() {
            // Root keeps the owner; an owner keeps the group when it may.
            if fchown(tmp, info.st_uid, info.st_gid) != 0 && geteuid() == 0 { throw ConfigFileError("cannot set the owner of", tmpPath) }
        }
        try copyACL(to: tmp, name: tmpPath)
        try Self.writeAll(tmp, updated, path: tmpPath)
        guard fsync(tmp) == 0 else { throw ConfigFileError("cannot sync", tmpPath) }
        guard rename(tmpPath, path) == 0 else { throw ConfigFileError("cannot rename \(tmpPath) to", path) }
        ok = true
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(ConfigFileError) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ConfigFileError("cannot write", path)
            }
            off += n
        }
    }

    private func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    private func format4(_ v: Int) -> String { String(repeating: "0", count: max(0, 4 - String(v).count)) + String(v) }
}

/// Writes a starter profile: creates its directory (mode 0755) and the file (0644) with
/// `O_EXCL`, so an existing profile is never overwritten.
public enum ProfileWriter {
    public static func write(_ profile: StarterProfile, into dir: String) throws(ConfigFileError) -> String {
        try makeDirectories(dir)
        let path = dir + "/" + profile.name + ".toml"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            if errno == EEXIST { throw ConfigFileError("\(path) appeared meanwhile; not overwritten") }
            throw ConfigFileError("cannot create", path)
        }
        defer { close(fd) }
        _ = fchmod(fd, 0o644)
        try LockedConfigFile.writeAll(fd, Array(profile.text.utf8), path: path)
        guard fsync(fd) == 0 else { throw ConfigFileError("cannot sync", path) }
        return path
    }

    static func makeDirectories(_ dir: String) throws(ConfigFileError) {
        var prefix = ""
        for part in dir.utf8.split(separator: UInt8(ascii: "/")).map({ String(decoding: $0, as: UTF8.self) }) {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { throw ConfigFileError("cannot create", prefix) }
        }
    }
}
