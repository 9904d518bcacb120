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
        if let prev {
            Array(prev.utf8).withUnsafeBufferPointer { write(into: &out, prev: $0) }
        } else {
            write(into: &out, prev: nil)
        }
        return out
    }

    /// Appends the line to `out` (a buffer the caller reuses), `prev` (hex) last when given.
    public func write(into out: inout [UInt8], prev: UnsafeBufferPointer<UInt8>?) {
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
            case .int(let x): Event.appendInt(x, into: &out)
            case .bool(let x): out += x ? Event.trueBytes : Event.falseBytes
            case .null: out += Event.nullBytes
            case .json(let x): Event.appendUTF8(x, into: &out)
            }
        }
        if let prev {
            out += Event.prevKey
            out.append(contentsOf: prev)
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        out.append(0x0a)
    }

    private static let trueBytes = Array("true".utf8)
    private static let falseBytes = Array("false".utf8)
    private static let nullBytes = Array("null".utf8)

    /// Decimal digits of `x`.
    static func appendInt(_ x: Int64, into out: inout [UInt8]) {
        if x < 0 { out.append(UInt8(ascii: "-")) }
        var v = x.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes: a UInt64's 20 digits fit
        withUnsafeMutableBytes(of: &digits) { d in
            var i = d.count
            repeat {
                i -= 1
                d[i] = UInt8(truncatingIfNeeded: 0x30 &+ v % 10)
                v /= 10
            } while v > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[i...]))
        }
    }

    /// A string's UTF-8 bytes as they are.
    static func appendUTF8(_ s: String, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { out.append(contentsOf: $0) }
    }

    private static let timePrefix = Array("{\"time\":".utf8)
    private static let profileKey = Array(",\"profile\":".utf8)
    private static let kindKey = Array(",\"kind\":".utf8)
    private static let prevKey = Array(",\"prev\":\"".utf8)

    /// `"2026-11-29T10:00:00.123Z"` (quoted), as `timestamp` writes it (the civil date is
    /// computed from the day number, as gmtime does, without its lock).
    static func appendTimestamp(_ t: Double, into out: inout [UInt8]) {
        let secs = Int64(t.rounded(.down))
        let millis = min(999, Int((t - Double(secs)) * 1000))
        let (days, rem) = secs.quotientAndRemainder(dividingBy: 86400)
        let (day, second) = rem < 0 ? (days - 1, rem + 86400) : (days, rem)
        let (year, month, mday) = civil(day)
        func digits(_ v: Int, _ n: Int) {
            var p = 1
            for _ in 1..<n { p *= 10 }
            let x = max(0, v)
            while p > 0 { out.append(UInt8(0x30 + (x / p) % 10)); p /= 10 }
        }
        out.append(UInt8(ascii: "\""))
        digits(year, 4); out.append(UInt8(ascii: "-"))
        digits(month, 2); out.append(UInt8(ascii: "-"))
        digits(mday, 2); out.append(UInt8(ascii: "T"))
        digits(Int(second / 3600), 2); out.append(UInt8(ascii: ":"))
        digits(Int(second % 3600 / 60), 2); out.append(UInt8(ascii: ":"))
        digits(Int(second % 60), 2); out.append(UInt8(ascii: "."))
        digits(millis, 3)
        out.append(UInt8(ascii: "Z"))
        out.append(UInt8(ascii: "\""))
    }

    /// Year, month (1-12) and day (1-31) of day `z` since 1970-01-01, proleptic Gregorian
    /// (H. Hinnant's civil_from_days).
    static func civil(_ z: Int64) -> (Int, Int, Int) {
        let z = z + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (Int(y), Int(m), Int(d))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Bytes `appendQuoted` copies as they are (not `"`, a backslash, a control character, DEL, or 0xE2,
    /// which may begin U+2028/U+2029).
    private static let plainBytes: [Bool] = (0..<256).map { $0 >= 0x20 && $0 != 0x22 && $0 != 0x5c && $0 != 0x7f && $0 != 0xe2 }

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
                // A run of bytes that need no escape goes in at once.
                var j = i
                Event.plainBytes.withUnsafeBufferPointer { plain in
                    while j < b.count, plain[Int(b[j])] { j += 1 }
                }
                if j > i {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: b[i..<j]))
                    i = j
                    if i == b.count { break }
                }
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
        var s = s
        s.withUTF8(body)
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
/// write(2) on an O_APPEND descriptor; a writer that finds the file grown or replaced by another
/// mcpbox (two sessions sharing a log) chains to the line actually last in it.
///
/// Writers take turns on `FILE.lock` (flock(2); a file of the log's owner, 0600, that a
/// rotation neither renames nor replaces), so a rotation — the renames, the new file, its
/// `log.rotated` first line — is one step for every other writer: none finds the name missing
/// between the renames, nor the new file empty before its first line (both happened to
/// sessions sharing a log while another rotated it, when each locked the file itself). Not the
/// directory: any account that may read it could hold that lock and stall every log in it.
///
/// Per line: `flock`, `fstat`, `write`, `flock`. The path is looked up again when `fstat` says
/// the file may have been renamed or removed (a rotated file is made read-only by the writer
/// that rotates it, under the lock; an unlinked file has no link; a rename usually leaves the
/// change time past the modification time), and otherwise once a second (a rename by hand
/// within the clock tick of a write). The hash of a line just written is computed by `settle()`
/// (the MCP layer calls it once the message is passed on) or else before the next line.
public final class EventSink: @unchecked Sendable {
    private var fd: Int32
    /// `FILE.lock`, locked around every line (-1: not a file).
    private let lockFile: Int32
    private let owned: Bool
    private let path: String?
    /// Size rotation (nil: the file grows, or not a file); the audit trail sizes its budget for the server by it.
    public let rotation: LogRotation?
    private var lock = pthread_mutex_t()
    /// Hex SHA-256 of the last line in the file (64 bytes), and the file's size after it (-1: unknown).
    private var lastHash = Array(EventSink.genesis.utf8)
    private var knownSize: Int64 = -1
    /// The line being built, reused; after a write, the line last written until it is hashed.
    private var line: [UInt8] = []
    /// `line` was written and `lastHash` is not yet its hash.
    private var unhashed = false
    /// The second (CLOCK_MONOTONIC_COARSE) in which the path was last looked up.
    private var pathCheckedAt: Int = -1
    /// errno of the last failed write (0 after a success).
    public private(set) var lastError: Int32 = 0

    /// `prev` of a log's first line: 64 zeros.
    public static let genesis = String(repeating: "0", count: 64)

    /// Discards every event.
    public static let discard = EventSink(fd: -1, lockFile: -1, owned: false, path: nil, rotation: nil)

    /// Writes to stderr (`run --verbose`), without the chain.
    public static func stderr() -> EventSink { EventSink(fd: 2, lockFile: -1, owned: false, path: nil, rotation: nil) }

    /// Opens `path` for appending (created 0600 if missing, never through a symlink; with
    /// `makeParents`, missing parent directories are created 0700); nil with errno on failure.
    public static func file(_ path: String, rotation: LogRotation? = nil, makeParents: Bool = false) -> EventSink? {
        if makeParents, !makeDirectories(parentOf: path) { return nil }
        let fd = openLog(path)
        guard fd >= 0 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            errno = e
            return nil
        }
        // Not a regular file (a device the tests write to; the plan refuses them): no rotation
        // to share, no lock file beside it.
        guard st.st_mode & S_IFMT == S_IFREG else { return EventSink(fd: fd, lockFile: -1, owned: true, path: path, rotation: rotation) }
        // A log another account owns, or may write, is not this one's record.
        guard st.st_uid == geteuid(), st.st_mode & 0o022 == 0 else {
            close(fd)
            errno = EPERM
            return nil
        }
        var lockFile: Int32
        repeat { lockFile = open(lockPath(path), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600) } while lockFile < 0 && errno == EINTR
        // Only the owner may hold it: one another account made first (in a directory it may
        // write) could be held forever; its mode, so that nobody else can open it.
        guard lockFile >= 0, fstat(lockFile, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_uid == geteuid(), st.st_mode & 0o077 == 0 else {
            let e = lockFile >= 0 ? EPERM : errno
            if lockFile >= 0 { close(lockFile) }
            close(fd)
            errno = e
            return nil
        }
        return EventSink(fd: fd, lockFile: lockFile, owned: true, path: path, rotation: rotation)
    }

    /// The lock file of the log at `path`: `FILE.lock` beside it.
    public static func lockPath(_ path: String) -> String { path + ".lock" }

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

    private init(fd: Int32, lockFile: Int32, owned: Bool, path: String?, rotation: LogRotation?) {
        self.fd = fd
        self.lockFile = lockFile
        self.owned = owned
        self.path = path
        self.rotation = rotation
        pthread_mutex_init(&lock, nil)
    }

    deinit {
        if owned && fd >= 0 { close(fd) }
        if lockFile >= 0 { close(lockFile) }
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
        guard path != nil else {
            line.removeAll(keepingCapacity: true)
            event.write(into: &line, prev: nil)
            return append(at: -1)
        }
        if lockFile >= 0 && !Self.lock(lockFile) { return fail(errno) }
        defer { if lockFile >= 0 { _ = flock(lockFile, LOCK_UN) } }
        guard var size = synchronize() else { return fail(errno) }
        build(event)
        if let r = rotation, size > 0, UInt64(size) + UInt64(line.count) > r.maxSize {
            guard rotate(r) else { return fail(errno) }
            size = 0
            let marker = Event(time: event.time, profile: event.profile, kind: "log.rotated",
                               fields: [("previous_file", .string(Self.basename(path!) + ".1"))])
            build(marker)
            guard append(at: size) else { return false }
            size += Int64(line.count)
            build(event)
        }
        return append(at: size)
    }

    /// Seconds `write` waits for `FILE.lock` at most. Every holder keeps it for one line, so a
    /// longer wait means a holder that never lets go: in caller-remap mode a sandboxed server
    /// runs as the log's owner and, where the log's directory is visible to it, can open the
    /// lock file and hold it, which stalled every session writing that log (the egress proxy's
    /// connections and DNS answers, an audited relay) for as long as it liked.
    public static let lockWait = 3.0

    /// Takes the lock of `fd` (`flock`, exclusive), waiting at most `lockWait`; false with errno
    /// ENOLCK when it could not.
    static func lock(_ fd: Int32) -> Bool {
        var waited = 0.0
        var pause = 0.0002
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            guard errno == EWOULDBLOCK, waited < lockWait else {
                if errno == EWOULDBLOCK { errno = ENOLCK }
                return false
            }
            usleep(useconds_t(pause * 1_000_000))
            waited += pause
            pause = min(pause * 2, 0.05)
        }
        return true
    }

    /// `line` = the event with `prev` = the hash of the line last written.
    private func build(_ event: Event) {
        hashLastLine()
        line.removeAll(keepingCapacity: true)
        lastHash.withUnsafeBufferPointer { event.write(into: &line, prev: $0) }
    }

    /// Brings `lastHash` up to date with the line last written (deferred work of `write`).
    private func hashLastLine() {
        guard unhashed else { return }
        unhashed = false
        line.withUnsafeBytes { b in lastHash.withUnsafeMutableBufferPointer { SHA256.hexDigest(b, into: $0.baseAddress!) } }
    }

    /// Does the work `write` left for later (the hash of the line just written), so the next
    /// record does not wait for it. The MCP layer calls it after a message is passed on.
    public func settle() {
        guard fd >= 0 else { return }
        pthread_mutex_lock(&lock)
        hashLastLine()
        pthread_mutex_unlock(&lock)
    }

    /// `line`, whole, at the end (`size` = the file's size before it, -1 for a stream); the
    /// chain advances only when the line is written whole.
    private func append(at size: Int64) -> Bool {
        let ok = line.withUnsafeBytes { bytes -> Bool in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    let e = n < 0 ? errno : ENOSPC
                    if size >= 0 && offset > 0 { _ = ftruncate(fd, off_t(size)) }
                    knownSize = -1
                    lastError = e
                    return false
                }
                offset += n
            }
            return true
        }
        guard ok else { return false }
        if size >= 0 {
            unhashed = true
            knownSize = size + Int64(line.count)
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
        let now = Self.coarseSeconds()
        if Self.mayBeRenamed(mine) || now != pathCheckedAt {
            pathCheckedAt = now
            var named = stat()
            if lstat(path!, &named) != 0 || named.st_ino != mine.st_ino || named.st_dev != mine.st_dev {
                let new = Self.openLog(path!)
                guard new >= 0 else { return nil }
                close(fd)
                fd = new
                guard fstat(fd, &mine) == 0 else { return nil }
                knownSize = -1
            }
        }
        let size = Int64(mine.st_size)
        if size != knownSize {
            unhashed = false
            guard let (hash, complete) = Self.lastLineHash(path!, size: size) else { return nil }
            if !complete {
                // A line cut short (a crash mid-write): end it, so this record stands on its own
                // line (verify reports the cut line; the hash covers it with this newline).
                var nl: UInt8 = 0x0a
                var n: Int
                repeat { n = Glibc.write(fd, &nl, 1) } while n < 0 && errno == EINTR
                guard n == 1 else { if n == 0 { errno = ENOSPC }; return nil }
                lastHash = Array(hash.utf8)
                knownSize = size + 1
                return size + 1
            }
            lastHash = Array(hash.utf8)
            knownSize = size
        }
        return size
    }

    static func coarseSeconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return ts.tv_sec
    }

    /// Whether the file behind the descriptor may no longer be the one at the path (checked
    /// then by name): it has no link left, it is read-only for its owner (what `rotate` makes
    /// of a file it renames away), or its status changed after its last write (a rename, as a
    /// write sets both times alike). Otherwise no other writer rotated it away: a rotation by
    /// mcpbox happens under the lock file's lock held here, after the file was made read-only.
    static func mayBeRenamed(_ st: stat) -> Bool {
        st.st_nlink == 0 || st.st_mode & S_IWUSR == 0
            || st.st_ctim.tv_sec != st.st_mtim.tv_sec || st.st_ctim.tv_nsec != st.st_mtim.tv_nsec
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
        // Writers sharing the log see a read-only file as rotated away (`mayBeRenamed`).
        _ = fchmod(fd, 0o400)
        func undo() -> Bool {
            let e = errno
            _ = fchmod(fd, 0o600)
            errno = e
            return false
        }
        if r.keep == 0 {
            if unlink(base) != 0 && errno != ENOENT { return undo() }
        } else {
            for i in stride(from: r.keep - 1, through: 1, by: -1) {
                if rename("\(base).\(i)", "\(base).\(i + 1)") != 0 && errno != ENOENT { return undo() }
            }
            if rename(base, "\(base).1") != 0 { return undo() }
        }
        let new = Self.openLog(base)
        guard new >= 0 else { return false }
        close(fd)
        fd = new
        knownSize = 0
        return true
    }

    static func basename(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
