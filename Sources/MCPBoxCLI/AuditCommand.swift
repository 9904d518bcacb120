import ArgumentParser
import MCPBoxCore
#if canImport(Glibc)
import Glibc
#endif

/// `mcpbox audit verify|tail`: the audit log (and the network log, same format).
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check and read audit logs ([audit] log) and network logs ([network] log).",
        subcommands: [Verify.self, Tail.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the hash chain of FILE (give rotated files oldest first: FILE.2 FILE.1 FILE); exit 0 intact, 1 broken.")

        @Argument(help: "Log files, oldest first.")
        var files: [String]

        func run() throws {
            guard !files.isEmpty else {
                Stderr.write("mcpbox: audit verify: name the log file (and its rotated predecessors, oldest first)")
                throw ExitCode(125)
            }
            let (text, status) = AuditLogReader.verify(files)
            if status == 0 { print(text) } else { Stderr.write(text) }
            if status != 0 { throw ExitCode(status) }
        }
    }

    struct Tail: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the last records of FILE in a readable form; --follow keeps printing new ones.")

        @Argument(help: "The log file.")
        var file: String

        @Option(name: .short, help: "How many records to print first.")
        var n: Int = 10

        @Flag(name: .long, help: "Wait for new records (and follow the log across rotations) until interrupted.")
        var follow = false

        func run() throws {
            guard n >= 0 else {
                Stderr.write("mcpbox: audit tail: -n must be 0 or more")
                throw ExitCode(125)
            }
            guard let (lines, offset) = AuditLogReader.lastLines(file, count: n) else {
                Stderr.write("mcpbox: audit tail: \(file): \(String(cString: strerror(errno)))")
                throw ExitCode(125)
            }
            for l in lines { emit(AuditLogReader.humanLine(l)) }
            guard follow else { return }
            followFile(from: offset)
        }

        /// One line to stdout, unbuffered (a follower sees each record as it comes).
        func emit(_ line: String) {
            let bytes = Array((line + "\n").utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { Glibc.write(1, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { Glibc.exit(n < 0 && errno == EPIPE ? 0 : 125) }
                offset += n
            }
        }

        /// Polls the file for appended lines. On rotation (a new inode at the path) the rest of
        /// the old file is read through the descriptor still open on it, then the new file from
        /// its start (a file rotated away and past within one poll, 0.25 s, is not shown).
        func followFile(from start: Int64) {
            var fd = open(file, O_RDONLY | O_CLOEXEC)
            var offset = start
            var partial: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 65536)
            func drain() {
                guard fd >= 0 else { return }
                while true {
                    let got = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
                    if got <= 0 { break }
                    offset += Int64(got)
                    partial += buf[0..<got]
                }
                while let nl = partial.firstIndex(of: 0x0a) {
                    let line = String(decoding: partial[..<nl], as: UTF8.self)
                    partial.removeFirst(nl + 1)
                    if !line.isEmpty { emit(AuditLogReader.humanLine(line)) }
                }
            }
            while true {
                drain()
                var named = stat()
                var mine = stat()
                let rotated = stat(file, &named) == 0 && (fd < 0 || fstat(fd, &mine) != 0 || named.st_ino != mine.st_ino)
                if rotated {
                    drain()
                    if fd >= 0 { close(fd) }
                    fd = open(file, O_RDONLY | O_CLOEXEC)
                    offset = 0
                    partial = []
                    continue
                }
                usleep(250_000)
            }
        }
    }
}
