#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

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

    /// `realpath(3)`; nil when some component is missing.
    public static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// `readlink(2)`; nil when `path` is not a symlink.
    public static func readLink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 4097)
        let n = readlink(path, &buf, 4096)
        guard n >= 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whole file as UTF-8 text; nil if it cannot be read.
    public static func readFile(_ path: String, limit: Int = 4 << 20) -> String? {
        guard let bytes = readBytes(path, limit: limit), bytes.count <= limit else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The file's bytes, reading no more than `limit + 1` of them (more than `limit` means it is larger);
    /// nil if it cannot be read.
    public static func readBytes(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while out.count <= limit {
            let want = min(65536, limit + 1 - out.count)
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, want) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    /// The process environment, in order.
    public static func environment() -> [(String, String)] {
        var out: [(String, String)] = []
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                out.append((String(s[..<eq]), String(s[s.index(after: eq)...])))
            }
            p += 1
        }
        return out
    }

    /// Absolute path of the running executable (`/proc/self/exe`).
    public static func executablePath() -> String? { readLink("/proc/self/exe") }

    /// Whether `path` is a regular file with an execute bit.
    public static func isExecutableFile(_ path: String) -> Bool {
        guard let i = info(path), i.isRegular else { return false }
        return i.mode & 0o111 != 0
    }

    public static var uid: UInt32 { getuid() }
    public static var gid: UInt32 { getgid() }
}

/// Pure path helpers (no filesystem access).
public enum Paths {
    /// Joins and normalizes: collapses `//` and `.`, drops a trailing `/`; nil if relative or with `..`.
    public static func normalize(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return nil }
        var parts: [Substring] = []
        for c in path.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." { return nil }
            parts.append(c)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Path components of an absolute normalized path ("/" → []).
    public static func components(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }

    /// Whether `ancestor` is `path` itself or one of its parent directories.
    public static func isWithin(_ path: String, _ ancestor: String) -> Bool {
        if ancestor == "/" { return true }
        return path == ancestor || path.hasPrefix(ancestor + "/")
    }

    /// `path` relative to its ancestor `base` ("" when equal).
    public static func remainder(_ path: String, under base: String) -> String {
        if path == base { return "" }
        if base == "/" { return String(path.dropFirst()) }
        return String(path.dropFirst(base.count + 1))
    }

    public static func join(_ base: String, _ rest: String) -> String {
        if rest.isEmpty { return base }
        if base == "/" { return "/" + rest }
        return base + "/" + rest
    }

    public static func dirname(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public static func basename(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Orders paths component-wise, so a parent always sorts before its children.
    public static func precedes(_ a: String, _ b: String) -> Bool {
        let x = components(a), y = components(b)
        for (p, q) in zip(x, y) where p != q { return p < q }
        return x.count < y.count
    }
}
