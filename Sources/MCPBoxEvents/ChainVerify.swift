#if canImport(Glibc)
import Glibc
#endif

/// Checks the hash chain of event-log files (`mcpbox audit verify`): each line must end with
/// `,"prev":"HEX"}` where HEX is the SHA-256 of the line before it (newline included). The
/// first line of the first file chains to `EventSink.genesis`, or is a `log.rotated` line
/// (its predecessor, a rotated file, was not given or no longer exists); the first line of
/// every further file chains to the last line of the file before it. Files are given oldest
/// first (FILE.2 FILE.1 FILE).
public enum ChainVerifier {
    public struct Report: Sendable, Equatable {
        /// Lines checked, over every file.
        public var lines: Int
        /// The first break: file, 1-based line number, why; nil when the chain holds.
        public var broken: (file: String, line: Int, why: String)?
        /// The first file starts after a rotation whose predecessor was not given.
        public var startsAfterRotation: Bool
        /// The SHA-256 of the last line checked (what a next line would chain to): kept
        /// elsewhere, it shows lines cut from the end, which leave a shorter chain that holds.
        public var lastHash: String?
        /// The `kind` of the last line, and whether any line was a `session.start`.
        public var lastKind: String?
        public var sawSessionStart = false

        public static func == (a: Report, b: Report) -> Bool {
            a.lines == b.lines && a.startsAfterRotation == b.startsAfterRotation
                && a.broken?.file == b.broken?.file && a.broken?.line == b.broken?.line && a.broken?.why == b.broken?.why
        }
    }

    /// Why a file could not be read.
    public struct ReadError: Error, Sendable {
        public var file: String
        public var code: Int32
    }

    private static let suffix = Array(",\"prev\":\"".utf8)
    private static let kindKey = Array("\",\"kind\":\"".utf8)

    public static func verify(files: [String]) throws(ReadError) -> Report {
        var report = Report(lines: 0, broken: nil, startsAfterRotation: false)
        var expected: String? = EventSink.genesis
        for (index, file) in files.enumerated() {
            let fd = open(file, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ReadError(file: file, code: errno) }
            defer { close(fd) }
            var pending: [UInt8] = []
            // Where the search for the next newline resumes: a long line is scanned once, not
            // once per chunk read (quadratic time on a file with a huge line).
            var searched = 0
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            var lineNumber = 0
            var eof = false
            while !eof {
                var n: Int
                repeat { n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } } while n < 0 && errno == EINTR
                guard n >= 0 else { throw ReadError(file: file, code: errno) }
                if n == 0 { eof = true } else { pending += chunk[0..<n] }
                var start = 0
                while let nl = pending[max(start, searched)...].firstIndex(of: 0x0a) {
                    lineNumber += 1
                    report.lines += 1
                    let line = pending[start...nl]
                    if let why = check(line, expected: &expected, firstOfFile: lineNumber == 1, firstFile: index == 0,
                                       report: &report) {
                        report.broken = (file, lineNumber, why)
                        return report
                    }
                    start = nl + 1
                }
                if start > 0 { pending.removeFirst(start) }
                searched = pending.count
            }
            if !pending.isEmpty {
                report.broken = (file, lineNumber + 1, "an incomplete last line (no newline): cut short, or still being written")
                return report
            }
        }
        return report
    }

    /// nil when `line` (newline included) continues the chain; the reason otherwise.
    private static func check(_ line: ArraySlice<UInt8>, expected: inout String?, firstOfFile: Bool, firstFile: Bool,
                              report: inout Report) -> String? {
        let bytes = Array(line)
        let tail = suffix.count + 64 + 3   // ,"prev":" HEX "}\n
        guard bytes.count >= tail + 1, bytes.first == UInt8(ascii: "{"),
              Array(bytes[(bytes.count - tail)..<(bytes.count - tail + suffix.count)]) == suffix,
              Array(bytes[(bytes.count - 3)...]) == Array("\"}\n".utf8) else {
            return "no \"prev\" hash at the end of the line (not a chained mcpbox event)"
        }
        let prev = String(decoding: bytes[(bytes.count - 67)..<(bytes.count - 3)], as: UTF8.self)
        guard prev.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            return "the \"prev\" value is not a lower-case hex SHA-256"
        }
        if firstOfFile && firstFile && prev != EventSink.genesis {
            if kind(bytes) == "log.rotated" {
                report.startsAfterRotation = true
            } else {
                return "the first line does not start a chain (prev is not the genesis value, and it is not a log.rotated line): lines before it are missing"
            }
        } else if let want = expected, prev != want {
            return firstOfFile
                ? "does not chain to the last line of the file before it (prev \(prev.prefix(12))…, expected \(want.prefix(12))…)"
                : "prev \(prev.prefix(12))… is not the hash of the line before (\(want.prefix(12))…): a line was changed, removed or inserted"
        }
        expected = SHA256.hex(SHA256.hash(bytes))
        report.lastHash = expected
        report.lastKind = kind(bytes)
        if report.lastKind == "session.start" { report.sawSessionStart = true }
        return nil
    }

    /// The `kind` value of a line (the first `","kind":"` is the real key: quotes inside
    /// earlier values are escaped).
    static func kind(_ bytes: [UInt8]) -> String? {
        guard bytes.count > kindKey.count else { return nil }
        var i = 0
        while i + kindKey.count <= bytes.count {
            if bytes[i] == kindKey[0] && Array(bytes[i..<(i + kindKey.count)]) == kindKey {
                let start = i + kindKey.count
                guard let end = bytes[start...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
                return String(decoding: bytes[start..<end], as: UTF8.self)
            }
            i += 1
        }
        return nil
    }
}
