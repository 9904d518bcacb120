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
public enum BundleWriter {
    /// Creates `dir` (and missing parents); refuses an existing non-empty directory, so an
    /// export never mixes with older files.
    public static func prepare(_ dir: String) throws {
        if let d = opendir(dir) {
            defer { closedir(d) }
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." {
                    throw ExportError("--output \(dir) is not empty; give a new or empty directory")
                }
            }
            return
        }
        try mkdirs(dir)
    }

    static func mkdirs(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw ExportError("cannot create \(current): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Writes `contents` to `path` (new file, mode 0644).
    public static func write(_ path: String, _ contents: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ExportError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes = Array(contents.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ExportError("cannot write \(path): \(String(cString: strerror(errno)))") }
            bytes = bytes.dropFirst(n)
        }
        fchmod(fd, 0o644)
    }

    /// Writes every entry of `bundle` and its config.json under `dir`.
    public static func write(_ bundle: OCIBundle, to dir: String) throws -> [String] {
        var written: [String] = []
        for entry in bundle.entries {
            let path = dir + "/" + entry.path
            if let slash = path.lastIndex(of: "/") { try mkdirs(String(path[..<slash])) }
            switch entry {
            case .dir:
                try mkdirs(path)
            case .file(_, let contents):
                if access(path, F_OK) == 0 { continue }
                try write(path, contents)
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
