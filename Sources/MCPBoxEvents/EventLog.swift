#if canImport(Glibc)
import Glibc
#endif

/// One event of mcpbox's JSON Lines log, shared by every producer (egress now, the MCP audit
/// later). A line is one JSON object whose first keys are always, in this order:
/// `time` (UTC, RFC 3339 with milliseconds), `profile` (the profile name as given), `kind`
/// (dotted, e.g. `egress`), then the kind's own fields in the order they were added.
/// Values are strings, integers, booleans or null, or (`.json`) a JSON value mcpbox serialized
/// itself. A line written to a file ends with `prev`, the hash chain (see `EventSink`).
/// Consumers must ignore keys they do not know (fields are only ever added).
public struct Event: Sendable {
    public enum Value: Sendable, Equatable {
        case string(String)
        case int(Int64)
        case bool(Bool)
        case null
        /// JSON text written as is (an array or object mcpbox built; never the peer's bytes).
        case json(String)
    }

    public var time: Double
    public var profile: String
    public var kind: String
    public var fields: [(String, Value)]

    public init(time: Double = Event.now(), profile: String, kind: String, fields: [(String, Value)] = []) {
        self.time = time
        self.profile = profile
        self.kind = kind
        self.fields = fields
    }

    /// Seconds since the epoch (clock_gettime(CLOCK_REALTIME)).
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// `2026-11-29T10:00:00.123Z`.
    public static func timestamp(_ t: Double) -> String {
        var secs = time_t(t.rounded(.down))
        let millis = min(999, Int((t - Double(secs)) * 1000))
        var tm = tm()
        gmtime_r(&secs, &tm)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T"
            + "\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }

    /// The event as one JSON line (with the trailing newline).
    public var jsonLine: String { String(decoding: bytes(prev: nil), as: UTF8.self) }

    /// The line with the chain's `prev` as its last key: `...,"prev":"HEX"}` and a newline.
    public func jsonLine(prev: String) -> String { String(decoding: bytes(prev: prev), as: UTF8.self) }

    /// The line's bytes (built directly as UTF-8: the audit log writes one per MCP exchange).
    public func bytes(prev: String?) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out += Event.timePrefix
        Event.appendTimestamp(time, into: &out)
        out += Event.profileKey
        Event.appendQuoted(profile, into: &out)
        out += Event.kindKey
        Event.appendQuoted(kind, into: &out)
        for (k, v) in fields {
            out.append(UInt8(ascii: ","))
            Event.appendQuoted(k, into: &out)
            out.append(UInt8(ascii: ":"))
            switch v {
            case .string(let x): Event.appendQuoted(x, into: &out)
            case .int(let x): out += x.description.utf8
            case .bool(let x): out += (x ? "true" : "false").utf8
            case .null: out += "null".utf8
            case .json(let x): out += x.utf8
            }
        }
        if let prev {
            out += Event.prevKey
            out += prev.utf8
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        out.append(0x0a)
        return out
    }

    private static let timePrefix = Array("{\"time\":".utf8)
    private static let profileKey = Array(",\"profile\":".utf8)
    private static let kindKey = Array(",\"kind\":".utf8)
    private static let prevKey = Array(",\"prev\":\"".utf8)

    /// `"2026-11-29T10:00:00.123Z"` (quoted), as `timestamp` writes it.
    static func appendTimestamp(_ t: Double, into out: inout [UInt8]) {
        var secs = time_t(t.rounded(.down))
        let millis = min(999, Int((t - Double(secs)) * 1000))
        var tm = tm()
        gmtime_r(&secs, &tm)
        func digits(_ v: Int, _ n: Int) {
            var p = 1
            for _ in 1..<n { p *= 10 }
            let x = max(0, v)
            while p > 0 { out.append(UInt8(0x30 + (x / p) % 10)); p /= 10 }
        }
        out.append(UInt8(ascii: "\""))
        digits(Int(tm.tm_year) + 1900, 4); out.append(UInt8(ascii: "-"))
        digits(Int(tm.tm_mon) + 1, 2); out.append(UInt8(ascii: "-"))
        digits(Int(tm.tm_mday), 2); out.append(UInt8(ascii: "T"))
        digits(Int(tm.tm_hour), 2); out.append(UInt8(ascii: ":"))
        digits(Int(tm.tm_min), 2); out.append(UInt8(ascii: ":"))
        digits(Int(tm.tm_sec), 2); out.append(UInt8(ascii: "."))
        digits(millis, 3)
        out += "Z\"".utf8
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// `quote` into bytes: the same escapes, written as UTF-8 directly.
    static func appendQuoted(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        func escape(_ u: UInt32) {
            out += "\\u".utf8
            out.append(hexDigits[Int((u >> 12) & 15)]); out.append(hexDigits[Int((u >> 8) & 15)])
            out.append(hexDigits[Int((u >> 4) & 15)]); out.append(hexDigits[Int(u & 15)])
        }
        func body(_ b: UnsafeBufferPointer<UInt8>) {
            var i = 0
            while i < b.count {
                let c = b[i]
                switch c {
                case 0x22: out += "\\\"".utf8
                case 0x5c: out += "\\\\".utf8
                case 0x0a: out += "\\n".utf8
                case 0x0d: out += "\\r".utf8
                case 0x09: out += "\\t".utf8
                case 0x00..<0x20, 0x7f: escape(UInt32(c))
                case 0xe2 where i + 2 < b.count && b[i + 1] == 0x80 && (b[i + 2] == 0xa8 || b[i + 2] == 0xa9):
                    escape(b[i + 2] == 0xa8 ? 0x2028 : 0x2029)
                    i += 2
                default: out.append(c)
                }
                i += 1
            }
        }
        if s.utf8.withContiguousStorageIfAvailable(body) == nil {
            Array(s.utf8).withUnsafeBufferPointer(body)
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A JSON string literal; control characters, quotes and backslashes escaped.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7f || u.value == 0x2028 || u.value == 0x2029 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

/// Size rotation of a log file: before a line would take the file past `maxSize` bytes,
/// FILE.(keep-1) → FILE.keep … FILE → FILE.1 (FILE.keep is dropped), and a new FILE begins.
public struct LogRotation: Sendable, Equatable {
    public var maxSize: UInt64
    public var keep: Int

    public init(maxSize: UInt64, keep: Int) {
        self.maxSize = maxSize
        self.keep = keep
    }
}

/// Where events go: an append-only file, stderr, or nowhere. Thread-safe.
///
/// A file is a hash chain: every line ends with `"prev":"HEX"`, the SHA-256 of the previous
/// line's exact bytes (its newline included); the first line of a log chains to `genesis`.
/// After a rotation the new file begins with a `log.rotated` event chained to the last line of
/// the file now called FILE.1, so FILE.keep … FILE.1 FILE verify as one chain. Each line is one
/// write(2) on an O_APPEND descriptor under flock(2); a writer that finds the file grown or
/// replaced by another mcpbox (two sessions sharing a log) chains to the line actually last in it.
public final class EventSink: @unchecked Sendable {
    private var fd: Int32
    private let owned: Bool
    private let path: String?
    private let rotation: LogRotation?
    private var lock = pthread_mutex_t()
    /// Hex SHA-256 of the last line in the file, and the file's size after it (-1: unknown).
    private var lastHash = EventSink.genesis
    private var knownSize: Int64 = -1
    /// errno of the last failed write (0 after a success).
    public private(set) var lastError: Int32 = 0

    /// `prev` of a log's first line: 64 zeros.
    public static let genesis = String(repeating: "0", count: 64)

    /// Discards every event.
    public static let discard = EventSink(fd: -1, owned: false, path: nil, rotation: nil)

    /// Writes to stderr (`run --verbose`), without the chain.
    public static func stderr() -> EventSink { EventSink(fd: 2, owned: false, path: nil, rotation: nil) }

    /// Opens `path` for appending (created 0600 if missing, never through a symlink; with
    /// `makeParents`, missing parent directories are created 0700); nil with errno on failure.
    public static func file(_ path: String, rotation: LogRotation? = nil, makeParents: Bool = false) -> EventSink? {
        if makeParents, !makeDirectories(parentOf: path) { return nil }
        let fd = openLog(path)
        guard fd >= 0 else { return nil }
        return EventSink(fd: fd, owned: true, path: path, rotation: rotation)
    }

    private static func openLog(_ path: String) -> Int32 {
        var fd: Int32
        repeat { fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600) } while fd < 0 && errno == EINTR
        return fd
    }

    /// mkdir -p of `path`'s directory, each new directory 0700; false with errno.
    static func makeDirectories(parentOf path: String) -> Bool {
        var parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !parts.isEmpty else { errno = EINVAL; return false }
        parts.removeLast()
        var dir = ""
        for part in parts {
            dir += "/" + part
            if mkdir(dir, 0o700) != 0 && errno != EEXIST { return false }
        }
        return true
    }

    private init(fd: Int32, owned: Bool, path: String?, rotation: LogRotation?) {
        self.fd = fd
        self.owned = owned
        self.path = path
        self.rotation = rotation
        pthread_mutex_init(&lock, nil)
    }

    deinit {
        if owned && fd >= 0 { close(fd) }
        pthread_mutex_destroy(&lock)
    }

    public var isEnabled: Bool { fd >= 0 }

    /// Appends one event; false (and `lastError`) when it could not be written whole (a partial
    /// line is cut off again). The egress log ignores the result; the audit log does not.
    @discardableResult
    public func write(_ event: Event) -> Bool {
        guard fd >= 0 else { return true }
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard path != nil else { return append(event.bytes(prev: nil), at: -1) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { return fail(errno) }
        }
        defer { _ = flock(fd, LOCK_UN) }
        guard var size = synchronize() else { return fail(errno) }
        var line = event.bytes(prev: lastHash)
        if let r = rotation, size > 0, UInt64(size) + UInt64(line.count) > r.maxSize {
            guard rotate(r) else { return fail(errno) }
            size = 0
            let marker = Event(time: event.time, profile: event.profile, kind: "log.rotated",
                               fields: [("previous_file", .string(Self.basename(path!) + ".1"))])
            let first = marker.bytes(prev: lastHash)
            guard append(first, at: size) else { return false }
            size += Int64(first.count)
            line = event.bytes(prev: lastHash)
        }
        return append(line, at: size)
    }

    /// One whole line at the end (`size` = the file's size before it, -1 for a stream); the
    /// chain advances only when the line is written whole.
    private func append(_ bytes: [UInt8], at size: Int64) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let e = n < 0 ? errno : ENOSPC
                if size >= 0 && offset > 0 { _ = ftruncate(fd, off_t(size)) }
                knownSize = -1
                return fail(e)
            }
            offset += n
        }
        if size >= 0 {
            lastHash = bytes.withUnsafeBytes { SHA256.hex(SHA256.hash($0)) }
            knownSize = size + Int64(bytes.count)
        }
        lastError = 0
        return true
    }

    private func fail(_ e: Int32) -> Bool {
        lastError = e
        return false
    }

    /// Under the lock: reopens the path if another writer rotated it away, and re-reads the
    /// last line if the file is not as this sink left it. The file's size, nil with errno.
    private func synchronize() -> Int64? {
        var mine = stat()
        guard fstat(fd, &mine) == 0 else { return nil }
        var named = stat()
        if lstat(path!, &named) != 0 || named.st_ino != mine.st_ino || named.st_dev != mine.st_dev {
            let new = Self.openLog(path!)
            guard new >= 0 else { return nil }
            _ = flock(fd, LOCK_UN)
            close(fd)
            fd = new
            while flock(fd, LOCK_EX) != 0 { if errno != EINTR { return nil } }
            guard fstat(fd, &mine) == 0 else { return nil }
            knownSize = -1
        }
        let size = Int64(mine.st_size)
        if size != knownSize {
            guard let (hash, complete) = Self.lastLineHash(path!, size: size) else { return nil }
            if !complete {
                // A line cut short (a crash mid-write): end it, so this record stands on its own
                // line (verify reports the cut line; the hash covers it with this newline).
                var nl: UInt8 = 0x0a
                var n: Int
                repeat { n = Glibc.write(fd, &nl, 1) } while n < 0 && errno == EINTR
                guard n == 1 else { if n == 0 { errno = ENOSPC }; return nil }
                lastHash = hash
                knownSize = size + 1
                return size + 1
            }
            lastHash = hash
            knownSize = size
        }
        return size
    }

    /// The hex hash of the file's last line (genesis for an empty file) and whether it ends
    /// with a newline; read through a separate descriptor (the log's is write-only).
    static func lastLineHash(_ path: String, size: Int64) -> (String, Bool)? {
        guard size > 0 else { return (genesis, true) }
        let rfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard rfd >= 0 else { return nil }
        defer { close(rfd) }
        var chunk = [UInt8](repeating: 0, count: 65536)
        func read(at offset: Int64, _ count: Int) -> Int {
            chunk.withUnsafeMutableBytes { b in
                var n: Int
                repeat { n = pread(rfd, b.baseAddress, count, off_t(offset)) } while n < 0 && errno == EINTR
                return n
            }
        }
        guard read(at: size - 1, 1) == 1 else { return nil }
        let complete = chunk[0] == 0x0a
        // Find the start of the last line: the byte after the newline before its end.
        var end = complete ? size - 1 : size
        var start: Int64 = 0
        search: while end > 0 {
            let from = max(0, end - Int64(chunk.count))
            let n = read(at: from, Int(end - from))
            guard n == Int(end - from) else { return nil }
            var i = n - 1
            while i >= 0 {
                if chunk[i] == 0x0a { start = from + Int64(i) + 1; break search }
                i -= 1
            }
            end = from
        }
        var hasher = SHA256()
        var at = start
        while at < size {
            let n = read(at: at, Int(min(Int64(chunk.count), size - at)))
            guard n > 0 else { return nil }
            chunk.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            at += Int64(n)
        }
        if !complete { hasher.update([0x0a]) }
        return (SHA256.hex(hasher.finalize()), complete)
    }

    /// FILE.(keep-1) → FILE.keep, …, FILE → FILE.1; a new FILE opened (keep 0: FILE is removed).
    private func rotate(_ r: LogRotation) -> Bool {
        let base = path!
        if r.keep == 0 {
            if unlink(base) != 0 && errno != ENOENT { return false }
        } else {
            for i in stride(from: r.keep - 1, through: 1, by: -1) {
                if rename("\(base).\(i)", "\(base).\(i + 1)") != 0 && errno != ENOENT { return false }
            }
            if rename(base, "\(base).1") != 0 { return false }
        }
        let new = Self.openLog(base)
        guard new >= 0 else { return false }
        _ = flock(fd, LOCK_UN)
        close(fd)
        fd = new
        while flock(fd, LOCK_EX) != 0 { if errno != EINTR { return false } }
        knownSize = 0
        return true
    }

    static func basename(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
