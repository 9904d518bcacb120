#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why an export could not be written.
public struct ExportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Writes export output: a fresh directory, files created exclusively (never through a link).
///
/// An export holds the server's environment in plain text (`env.pass` copies the caller's
/// tokens into config.json and the Kubernetes Secret), whatever the profile: every file that
/// describes the server is 0600 and the output directory 0700, so no other host user reads
/// them. An OCI bundle's directory is 0711 instead: the runtime reaches `rootfs/` and `files/`
/// from inside the container's user namespace, where the writer (root exporting for a
/// dedicated account) may be unmapped and only the "other" bits apply (crun fails with
/// "make `rootfs` private: Permission denied" under 0700). Those subdirectories are the
/// server's own filesystem (its root, /etc/passwd …) and keep 0755/0644, since the server may
/// run as another uid than the writer; none of them holds an environment value.
public enum BundleWriter {
    /// Mode of the output directory.
    public static let directoryMode: mode_t = 0o700
    /// Mode of an OCI bundle's directory (searchable, not listable, by the runtime in the
    /// container's user namespace) and of missing parents created for an output directory.
    public static let searchOnlyMode: mode_t = 0o711
    /// Mode of every file outside the server's filesystem.
    public static let fileMode: mode_t = 0o600

    /// Creates `dir` 0700 (missing parents 0711), or makes an existing empty one 0700; refuses
    /// an existing non-empty directory, so an export never mixes with older files.
    public static func prepare(_ dir: String) throws {
        if let d = opendir(dir) {
            defer { closedir(d) }
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." {
                    throw ExportError("--output \(dir) is not empty; give a new or empty directory")
                }
            }
            // The directory opened, not a link put in its place since.
            if fchmod(dirfd(d), directoryMode) != 0 {
                throw ExportError("cannot make --output \(dir) private (mode 0700): \(String(cString: strerror(errno)))")
            }
            return
        }
        try mkdirs(dir, mode: directoryMode, parents: searchOnlyMode)
    }

    /// `mkdir -p` with `mode` for the last directory and `parents` for the others it creates
    /// (existing ones are left as they are).
    static func mkdirs(_ path: String, mode: mode_t = directoryMode, parents: mode_t? = nil) throws {
        // Split at the `/` bytes (a Character split keeps `/` and a combining mark after it together).
        var current = path.utf8.first == UInt8(ascii: "/") ? "" : "."
        let components = path.utf8.split(separator: UInt8(ascii: "/")).map { String(decoding: $0, as: UTF8.self) }
        for (i, part) in components.enumerated() {
            current += "/" + part
            let mode = i == components.count - 1 ? mode : parents ?? mode
            if mkdir(current, mode) != 0 {
                guard errno == EEXIST else { throw ExportError("cannot create \(current): \(String(cString: strerror(errno)))") }
                continue
            }
            // Not left to the umask: a stricter one would lock the server out of its own root.
            chmod(current, mode)
        }
    }

    /// Writes `contents` to `path` (new file, `mode`, 0600 unless the server must read it).
    public static func write(_ path: String, _ contents: String, mode: mode_t = fileMode) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ExportError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes = Array(contents.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ExportError("cannot write \(path): \(String(cString: strerror(errno)))") }
            bytes = bytes.dropFirst(n)
        }
        fchmod(fd, mode)
    }

    /// Writes every entry of `bundle` and its config.json under `dir`, made 0711. Entries in a
    /// subdirectory are the server's filesystem (0755/0644); files beside config.json
    /// (binds.txt) are 0600 like it.
    public static func write(_ bundle: OCIBundle, to dir: String) throws -> [String] {
        var written: [String] = []
        try mkdirs(dir, mode: searchOnlyMode, parents: searchOnlyMode)
        guard chmod(dir, searchOnlyMode) == 0 else {
            throw ExportError("cannot set the mode of \(dir): \(String(cString: strerror(errno)))")
        }
        for entry in bundle.entries {
            let path = dir + "/" + entry.path
            if let slash = path.lastIndex(of: "/") { try mkdirs(String(path[..<slash]), mode: 0o755) }
            switch entry {
            case .dir:
                try mkdirs(path, mode: 0o755)
            case .file(let name, let contents):
                if access(path, F_OK) == 0 { continue }
                try write(path, contents, mode: name.contains("/") ? 0o644 : fileMode)
            case .symlink(_, let to):
                if symlink(to, path) != 0 && errno != EEXIST {
                    throw ExportError("cannot create the link \(path): \(String(cString: strerror(errno)))")
                }
            }
        }
        try write(dir + "/config.json", bundle.config.json())
        written.append(dir + "/config.json")
        return written
    }

    /// Whether `path` is a directory on this host (following links), nil when absent.
    public static func isDirectory(_ path: String) -> Bool? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (st.st_mode & S_IFMT) == S_IFDIR
    }
}
