import CSeccomp
#if canImport(Glibc)
import Glibc
#endif

/// Compiled seccomp programs of profiles with their own `allow`/`deny`, kept between launches.
///
/// libseccomp costs milliseconds per launch; the presets are precompiled into the binary, and a
/// profile's own rules are compiled once and kept in `~/.local/state/mcpbox/seccomp` of the
/// invoking account (its home from /etc/passwd, not `$HOME`: that directory is one no profile
/// may bind read-write, whatever the environment of a launch says; see the grant checks).
///
/// A file is used only when everything checks out, otherwise the policy is compiled again (and
/// the file rewritten): the directory is a real directory (no symlink) owned by the caller with
/// mode 0700; the file is a regular file owned by the caller, writable by no one else, with one
/// link; its header names exactly this policy, this mcpbox executable (device, inode, size,
/// mtime), libseccomp's version and API level; its length and FNV-1a checksum match; it is a
/// whole number of BPF instructions within the kernel's limit. Written to a temporary file
/// and renamed, so a reader never sees half a program.
public enum SeccompCache {
    /// The program for `policy`: precompiled, cached, or compiled now (and cached).
    public static func compile(_ policy: SeccompPolicy) throws(SeccompError) -> [UInt8] {
        if policy.allow.isEmpty && policy.deny.isEmpty { return try Seccomp.compile(policy) }
        return try compile(policy, in: directory())
    }

    /// `compile` with the cache in `dir` (nil: no cache).
    static func compile(_ policy: SeccompPolicy, in dir: String?) throws(SeccompError) -> [UInt8] {
        try Seccomp.validateNames(policy)
        guard let dir, let header = header(policy) else { return try Seccomp.compile(policy) }
        let name = String(fnv1a(Array(header.utf8)), radix: 16) + ".bpf"
        if let cached = load(dir: dir, name: name, header: header) { return cached }
        let program = try Seccomp.compile(policy)
        store(program, dir: dir, name: name, header: header)
        return program
    }

    /// `~/.local/state/mcpbox/seccomp` of the account running mcpbox, nil without a home
    /// directory (mcpbox creates the directories below the home, never the home itself).
    static func directory() -> String? {
        guard let home = Accounts().user(uid: geteuid())?.home, let h = Paths.normalize(home), h != "/",
              HostFS.info(h)?.isDirectory == true else { return nil }
        return Paths.join(h, ".local/state/mcpbox/seccomp")
    }

    /// What a cached program must have been compiled from, as text; nil when the executable
    /// cannot be identified.
    static func header(_ policy: SeccompPolicy) -> String? {
        var st = stat()
        guard stat("/proc/self/exe", &st) == 0 else { return nil }
        let v = seccomp_version()
        let lib = v.map { "\($0.pointee.major).\($0.pointee.minor).\($0.pointee.micro)" } ?? "?"
        return "mcpbox seccomp 1\n"
            + "policy \(policy.preset.rawValue) \(policy.defaultAction.rawValue) allow=\(policy.allow.joined(separator: ",")) deny=\(policy.deny.joined(separator: ","))\n"
            + "tables \(String(Seccomp.fingerprint(policy), radix: 16))\n"
            + "exe \(st.st_dev):\(st.st_ino):\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)\n"
            + "libseccomp \(lib) api \(seccomp_api_get())\n"
    }

    static func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return hash
    }

    /// The directory's fd when it is the caller's own, mode 0700 and no symlink; else -1.
    static func openOwnDirectory(_ dir: String) -> Int32 {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return -1 }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_uid == geteuid(), st.st_mode & 0o7777 == 0o700 else {
            close(fd)
            return -1
        }
        return fd
    }

    /// The cached program if the file passes every check, else nil.
    /// The file name `policy`'s program is kept under.
    static func fileName(_ policy: SeccompPolicy) -> String? {
        header(policy).map { String(fnv1a(Array($0.utf8)), radix: 16) + ".bpf" }
    }

    static func load(dir: String, name: String, header: String) -> [UInt8]? {
        let dfd = openOwnDirectory(dir)
        guard dfd >= 0 else { return nil }
        defer { close(dfd) }
        let fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_uid == geteuid(),
              st.st_mode & 0o022 == 0, st.st_nlink == 1 else { return nil }
        let limit = header.utf8.count + 64 + 4096 * 8
        guard st.st_size > 0, Int(st.st_size) <= limit else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var got = 0
        while got < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, $0.count - got, off_t(got)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            got += n
        }
        // header, then "length checksum\n", then the program.
        let h = Array(header.utf8)
        guard bytes.count > h.count, bytes[0..<h.count].elementsEqual(h) else { return nil }
        guard let nl = bytes[h.count...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let fields = String(decoding: bytes[h.count..<nl], as: UTF8.self).split(separator: " ")
        guard fields.count == 2, let length = Int(fields[0]), let sum = UInt64(fields[1], radix: 16) else { return nil }
        let program = Array(bytes[(nl + 1)...])
        guard program.count == length, length > 0, length % 8 == 0, length / 8 <= 4096, fnv1a(program) == sum else { return nil }
        return program
    }

    /// Writes the program for the next launch; any failure just leaves no (new) file.
    static func store(_ program: [UInt8], dir: String, name: String, header: String) {
        var path = ""
        for part in Paths.components(dir) {
            path += "/" + part
            // The parents get 0700 too where mcpbox creates them (XDG's mode for the state dir).
            if mkdir(path, 0o700) < 0 && errno != EEXIST { return }
        }
        let dfd = openOwnDirectory(dir)
        guard dfd >= 0 else { return }
        defer { close(dfd) }
        let temp = ".\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        let fd = openat(dfd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let data = Array(header.utf8) + Array("\(program.count) \(String(fnv1a(program), radix: 16))\n".utf8) + program
        var written = 0
        while written < data.count {
            let n = data.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            written += n
        }
        close(fd)
        if written != data.count || renameat(dfd, temp, dfd, name) < 0 { unlinkat(dfd, temp, 0) }
    }
}
