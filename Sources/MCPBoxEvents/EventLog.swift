#if canImport(Glibc)
import Glibc
#endif

/// One event of mcpbox's JSON Lines log, shared by every producer (egress now, the MCP audit
/// later). A line is one JSON object whose first keys are always, in this order:
/// `time` (UTC, RFC 3339 with milliseconds), `profile` (the profile name as given), `kind`
/// (dotted, e.g. `egress`), then the kind's own fields in the order they were added.
/// Values are strings, integers, booleans or null; nothing nests. Consumers must ignore keys
/// they do not know (fields are only ever added).
public struct Event: Sendable {
    public enum Value: Sendable, Equatable {
        case string(String)
        case int(Int64)
        case bool(Bool)
        case null
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
    public var jsonLine: String {
        var s = "{\"time\":" + Event.quote(Event.timestamp(time)) + ",\"profile\":" + Event.quote(profile)
            + ",\"kind\":" + Event.quote(kind)
        for (k, v) in fields {
            s += "," + Event.quote(k) + ":"
            switch v {
            case .string(let x): s += Event.quote(x)
            case .int(let x): s += String(x)
            case .bool(let x): s += x ? "true" : "false"
            case .null: s += "null"
            }
        }
        return s + "}\n"
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

/// Where events go: an append-only file, stderr, or nowhere. Thread-safe; each event is one
/// write(2) of a whole line on an O_APPEND descriptor, so concurrent writers never interleave.
public final class EventSink: @unchecked Sendable {
    private let fd: Int32
    private let owned: Bool
    private var lock = pthread_mutex_t()

    /// Discards every event.
    public static let discard = EventSink(fd: -1, owned: false)

    /// Writes to stderr (`run --verbose`).
    public static func stderr() -> EventSink { EventSink(fd: 2, owned: false) }

    /// Opens `path` for appending (created 0600 if missing, never through a symlink); nil with
    /// errno on failure.
    public static func file(_ path: String) -> EventSink? {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return nil }
        return EventSink(fd: fd, owned: true)
    }

    private init(fd: Int32, owned: Bool) {
        self.fd = fd
        self.owned = owned
        pthread_mutex_init(&lock, nil)
    }

    deinit {
        if owned { close(fd) }
        pthread_mutex_destroy(&lock)
    }

    public var isEnabled: Bool { fd >= 0 }

    /// Appends one event (errors are dropped: logging never stops the traffic it records).
    public func write(_ event: Event) {
        guard fd >= 0 else { return }
        let bytes = Array(event.jsonLine.utf8)
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}
