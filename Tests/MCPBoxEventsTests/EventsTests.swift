import Foundation
import MCPBoxEvents
import Testing

@Suite("SHA-256")
struct SHA256Tests {
    static func hex(_ s: String) -> String { SHA256.hex(SHA256.hash(Array(s.utf8))) }

    @Test("NIST FIPS 180-4 example vectors")
    func nistVectors() {
        #expect(Self.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Self.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(Self.hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")
            == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        #expect(SHA256.hex(SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000)))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("streaming in pieces of every size gives the one-shot digest (padding edges 55, 56, 63, 64 bytes)")
    func streaming() {
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000] {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let whole = SHA256.hash(data)
            for piece in [1, 3, 63, 64, 65] {
                var h = SHA256()
                var i = 0
                while i < data.count { h.update(data[i..<min(data.count, i + piece)]); i += piece }
                #expect(h.finalize() == whole, "length \(length), pieces of \(piece)")
            }
        }
    }
}

/// Runs a command, returns its exit status.
func run(_ argv: [String]) -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: argv[0])
    p.arguments = Array(argv.dropFirst())
    do { try p.run() } catch { return -1 }
    p.waitUntilExit()
    return p.terminationStatus
}

/// A scratch directory removed at the end.
final class Scratch {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "mcpbox-events-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func lines(_ name: String) throws -> [String] {
        try String(contentsOfFile: path + "/" + name, encoding: .utf8).split(separator: "\n").map(String.init)
    }
}

@Suite("Event log: hash chain, rotation, verify")
struct ChainTests {
    static func event(_ i: Int) -> Event {
        Event(time: 1_800_000_000 + Double(i), profile: "p", kind: "test", fields: [("n", .int(Int64(i))), ("pad", .string(String(repeating: "x", count: 40)))])
    }

    @Test("the byte-level line writer escapes exactly as Event.quote does")
    func escapes() {
        for v in ["plain", "q\"b\\s", "nl\n cr\r tab\t", "\u{1}\u{1f}\u{7f}", "ls\u{2028}ps\u{2029}", "é😀", "\u{e2}\u{80}"] {
            let line = Event(time: 0, profile: v, kind: "k", fields: [("f", .string(v))]).jsonLine
            #expect(line == "{\"time\":\"1970-01-01T00:00:00.000Z\",\"profile\":\(Event.quote(v)),\"kind\":\"k\",\"f\":\(Event.quote(v))}\n")
        }
    }

    @Test("every line carries the sha256 of the line before; the first chains to 64 zeros; verify holds")
    func chain() throws {
        let dir = try Scratch()
        let path = dir.path + "/a/b/log.jsonl"
        let sink = try #require(EventSink.file(path, makeParents: true))
        for i in 0..<5 { #expect(sink.write(Self.event(i))) }
        let lines = try dir.lines("a/b/log.jsonl")
        #expect(lines.count == 5)
        #expect(lines[0].hasSuffix(",\"prev\":\"" + EventSink.genesis + "\"}"))
        for i in 1..<5 {
            let want = SHA256.hex(SHA256.hash(Array((lines[i - 1] + "\n").utf8)))
            #expect(lines[i].hasSuffix(",\"prev\":\"\(want)\"}"), "line \(i + 1)")
        }
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(stat(dir.path + "/a", &st) == 0 && st.st_mode & 0o777 == 0o700)
        let r = try ChainVerifier.verify(files: [path])
        #expect(r.broken == nil && r.lines == 5)
    }

    @Test("a changed byte, a removed line, a removed first line and a cut last line are each found, with the line number")
    func tamper() throws {
        let dir = try Scratch()
        let path = dir.path + "/log.jsonl"
        let sink = try #require(EventSink.file(path))
        for i in 0..<6 { sink.write(Self.event(i)) }
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        func check(_ bytes: Data) throws -> (file: String, line: Int, why: String)? {
            try bytes.write(to: URL(fileURLWithPath: path))
            return try ChainVerifier.verify(files: [path]).broken
        }
        var lines = original.split(separator: 0x0a, omittingEmptySubsequences: false).map { Data($0) }
        var changed = lines
        changed[2][changed[2].firstIndex(of: UInt8(ascii: "x"))!] = UInt8(ascii: "y")   // a value on line 3
        #expect(try check(changed.reduce(Data()) { $0.isEmpty ? $1 : $0 + Data([0x0a]) + $1 })?.line == 4)
        var removed = lines
        removed.remove(at: 3)
        #expect(try check(removed.reduce(Data()) { $0.isEmpty ? $1 : $0 + Data([0x0a]) + $1 })?.line == 4)
        lines.removeFirst()
        #expect(try check(lines.reduce(Data()) { $0.isEmpty ? $1 : $0 + Data([0x0a]) + $1 })?.line == 1)
        #expect(try check(original.dropLast(5))?.line == 6)
        #expect(try check(original) == nil)
    }

    @Test("red team: lines cut from the end leave a chain that holds; verify reports the last line's hash, which differs then")
    func cutFromTheEnd() throws {
        let dir = try Scratch()
        let path = dir.path + "/log.jsonl"
        let sink = try #require(EventSink.file(path))
        for i in 0..<6 { sink.write(Self.event(i)) }
        let whole = try ChainVerifier.verify(files: [path])
        let lines = try dir.lines("log.jsonl")
        #expect(whole.lastHash == SHA256.hex(SHA256.hash(Array((lines[5] + "\n").utf8))) && whole.lastKind != nil)
        try Data((lines.dropLast().joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        let cut = try ChainVerifier.verify(files: [path])
        #expect(cut.broken == nil && cut.lines == 5 && cut.lastHash != whole.lastHash)
    }

    @Test("rotation at max_size keeps `keep` files; FILE.keep … FILE verify as one chain, each new file starting with log.rotated")
    func rotation() throws {
        let dir = try Scratch()
        let path = dir.path + "/log.jsonl"
        let sink = try #require(EventSink.file(path, rotation: LogRotation(maxSize: 600, keep: 2)))
        for i in 0..<30 { #expect(sink.write(Self.event(i))) }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted().filter { !$0.hasSuffix(".lock") }
        #expect(names == ["log.jsonl", "log.jsonl.1", "log.jsonl.2"])
        #expect(FileManager.default.fileExists(atPath: path + ".lock"))
        for name in names {
            let size = (try FileManager.default.attributesOfItem(atPath: dir.path + "/" + name)[.size] as? Int) ?? 0
            #expect(size <= 600, "\(name): \(size) bytes")
            #expect(try dir.lines(name).first?.contains("\"kind\":\"log.rotated\"") == true, "\(name)")
        }
        let all = [path + ".2", path + ".1", path]
        let r = try ChainVerifier.verify(files: all)
        #expect(r.broken == nil && r.startsAfterRotation)
        // Out of order: the join is broken at the first line of the misplaced file.
        let wrong = try ChainVerifier.verify(files: [path + ".1", path + ".2", path])
        #expect(wrong.broken?.file == path + ".2" && wrong.broken?.line == 1)
        // The newest record is the last one written.
        #expect(try dir.lines("log.jsonl").last?.contains("\"n\":29") == true)
    }

    @Test("two writers on one log (two sessions) keep one chain: each chains to the line actually last")
    func twoWriters() throws {
        let dir = try Scratch()
        let path = dir.path + "/log.jsonl"
        let a = try #require(EventSink.file(path, rotation: LogRotation(maxSize: 2000, keep: 3)))
        let b = try #require(EventSink.file(path, rotation: LogRotation(maxSize: 2000, keep: 3)))
        for i in 0..<40 { (i % 3 == 0 ? b : a).write(Self.event(i)) }
        var files = [path]
        for i in 1...3 where FileManager.default.fileExists(atPath: "\(path).\(i)") { files.insert("\(path).\(i)", at: 0) }
        #expect(files.count > 1)
        let r = try ChainVerifier.verify(files: files)
        #expect(r.broken == nil, "\(String(describing: r.broken))")
    }

    @Test("a full filesystem: the write fails whole (no partial line left), and the sink says so",
          .enabled(if: getuid() == 0, "mounts a small tmpfs: run as root (CI does)"))
    func fullDevice() throws {
        // A tmpfs of 12 KiB mounted for the test, filled until a write fails.
        let dir = try Scratch()
        try #require(run(["/bin/mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", dir.path]) == 0)
        defer { _ = run(["/bin/umount", dir.path]) }
        let path = dir.path + "/log.jsonl"
        let sink = try #require(EventSink.file(path))
        var failed = false
        for i in 0..<1000 where !sink.write(Self.event(i)) {
            failed = true
            break
        }
        #expect(failed && sink.lastError == ENOSPC)
        let r = try ChainVerifier.verify(files: [path])
        #expect(r.broken == nil && r.lines > 0)
    }

    @Test("a symlink in place of the log is refused (O_NOFOLLOW)")
    func noFollow() throws {
        let dir = try Scratch()
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/log.jsonl", withDestinationPath: dir.path + "/elsewhere")
        #expect(EventSink.file(dir.path + "/log.jsonl") == nil)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/elsewhere"))
    }
}

@Suite("SHA-256 and record bytes against references")
struct SHA256ReferenceTests {
    /// `sha256sum` of `data`, run on a file.
    static func sha256sum(_ data: [UInt8]) throws -> String {
        let dir = try Scratch()
        let file = dir.path + "/data"
        try Data(data).write(to: URL(fileURLWithPath: file))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [file]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return String(text.prefix(64))
    }

    @Test("known digests at the padding edges: 55, 56, 63, 64, 65 and 119/120/128 bytes (one, two, three blocks)")
    func paddingEdges() {
        // Reference digests from sha256sum (GNU coreutils) of "a" repeated N times.
        let want: [Int: String] = [
            55: "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318",
            56: "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a",
            63: "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34",
            64: "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb",
            65: "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0",
            119: "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb",
            120: "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c",
            128: "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e",
        ]
        for (n, digest) in want {
            #expect(SHA256.hex(SHA256.hash([UInt8](repeating: 0x61, count: n))) == digest, "\(n) bytes")
        }
    }

    @Test("every length from 0 to 300 bytes, and 1 MiB + 3, agree with sha256sum; hexDigest(into:) gives the same hex")
    func agreesWithSha256sum() throws {
        var data = [UInt8](repeating: 0, count: 301)
        for i in data.indices { data[i] = UInt8(truncatingIfNeeded: i &* 131 &+ 17) }
        var lengths = Array(0...300)
        lengths.append((1 << 20) + 3)
        for n in lengths {
            let bytes = n <= 300 ? Array(data[0..<n]) : (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let want = try Self.sha256sum(bytes)
            #expect(SHA256.hex(SHA256.hash(bytes)) == want, "\(n) bytes")
            var out = [UInt8](repeating: 0, count: 64)
            bytes.withUnsafeBytes { b in out.withUnsafeMutableBufferPointer { SHA256.hexDigest(b, into: $0.baseAddress!) } }
            #expect(String(decoding: out, as: UTF8.self) == want, "\(n) bytes, hexDigest")
        }
    }

    @Test("the record's timestamp matches gmtime's (leap days, century years, before 1970) and integers print as Swift does")
    func timestampsAndIntegers() {
        let times: [Double] = [0, 0.999, 59.5, 951_782_400.25, 951_868_799.999, 1_709_164_800, 1_709_251_199.5,
                               4_107_542_400, 4_102_444_799.001, -1, -86_400.5, 1_800_000_000.123, 253_402_300_799]
        for t in times {
            let line = Event(time: t, profile: "p", kind: "k").jsonLine
            #expect(line.hasPrefix("{\"time\":\"\(Event.timestamp(t))\","), "\(t): \(line)")
        }
        for x: Int64 in [0, 7, -7, 10, 99, 1_000_000, Int64.max, Int64.min] {
            let line = Event(time: 0, profile: "p", kind: "k", fields: [("n", .int(x))]).jsonLine
            #expect(line.hasSuffix(",\"n\":\(x)}\n"), "\(x)")
        }
    }
}

@Suite("Event log: the writer's per-record checks")
struct SinkRecheckTests {
    static func event(_ i: Int) -> Event { ChainTests.event(i) }

    @Test("a log renamed away (a second later) or removed between records: the next record starts a new file (a new chain) at the path")
    func renamedOrRemoved() throws {
        let dir = try Scratch()
        let path = dir.path + "/log.jsonl"
        let sink = try #require(EventSink.file(path))
        for i in 0..<3 { #expect(sink.write(Self.event(i))) }
        sink.settle()
        #expect(rename(path, path + ".old") == 0)
        // A rename by hand is noticed at the latest in the next second (the path is looked up
        // once a second, or at once when the file's times show the rename).
        usleep(1_100_000)
        #expect(sink.write(Self.event(3)))
        #expect(try dir.lines("log.jsonl.old").count == 3)
        #expect(try dir.lines("log.jsonl").count == 1)
        // The new file is a new chain: its first line chains to genesis (nothing was in it).
        #expect(try ChainVerifier.verify(files: [path]).broken == nil)
        #expect(unlink(path) == 0)
        #expect(sink.write(Self.event(4)) && sink.write(Self.event(5)))
        #expect(try dir.lines("log.jsonl").count == 2)
        #expect(try ChainVerifier.verify(files: [path]).broken == nil)
    }

    /// Sessions sharing a rotating log broke its chain (a writer that reopened the new file
    /// before the rotating one had locked it chained from 64 zeros) and ended sessions (ENOENT
    /// between the renames); found by a red-team pass with 30 concurrent sessions. Writers now
    /// take turns on the log's directory. Fails on the build before (a broken chain, failed writes).
    @Test("eight writers on threads, rotating a small log over and over: every write succeeds and the files verify as one chain")
    func concurrentRotation() throws {
        let dir = try Scratch()
        let path = dir.path + "/log.jsonl"
        let keep = 400
        let sinks = try (0..<8).map { _ in try #require(EventSink.file(path, rotation: LogRotation(maxSize: 1500, keep: keep))) }
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: sinks.count) { w in
            for i in 0..<150 where !sinks[w].write(Self.event(w * 1000 + i)) { failures.add("writer \(w) record \(i): errno \(sinks[w].lastError)") }
        }
        #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
        var files = [path]
        for i in 1...keep where FileManager.default.fileExists(atPath: "\(path).\(i)") { files.insert("\(path).\(i)", at: 0) }
        #expect(files.count > 20 && files.count < keep, "\(files.count) files")
        let r = try ChainVerifier.verify(files: files)
        #expect(r.broken == nil, "\(String(describing: r.broken))")
        #expect(r.lines >= 8 * 150, "\(r.lines) lines")
    }

    final class Failures: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [String] = []
        func add(_ s: String) { lock.lock(); list.append(s); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return list }
    }

    @Test("rotation leaves the rotated files read-only (0400) and the live log 0600; a second writer notices the rotation and keeps one chain")
    func rotatedReadOnly() throws {
        let dir = try Scratch()
        let path = dir.path + "/log.jsonl"
        let a = try #require(EventSink.file(path, rotation: LogRotation(maxSize: 700, keep: 3)))
        let b = try #require(EventSink.file(path, rotation: LogRotation(maxSize: 700, keep: 3)))
        // a writes until just before it rotates; b then rotates; a writes again.
        #expect(a.write(Self.event(0)) && a.write(Self.event(1)) && a.write(Self.event(2)))
        a.settle()
        #expect(b.write(Self.event(3)) && b.write(Self.event(4)))
        #expect(a.write(Self.event(5)))
        var st = stat()
        #expect(stat(path + ".1", &st) == 0 && st.st_mode & 0o777 == 0o400)
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)
        var files = [path]
        for i in 1...3 where FileManager.default.fileExists(atPath: "\(path).\(i)") { files.insert("\(path).\(i)", at: 0) }
        let r = try ChainVerifier.verify(files: files)
        #expect(r.broken == nil, "\(String(describing: r.broken))")
        #expect(try dir.lines("log.jsonl").last?.contains("\"n\":5") == true)
    }

    @Test("a line another process appended is chained to, whether or not the last hash was settled")
    func foreignAppend() throws {
        let dir = try Scratch()
        let path = dir.path + "/log.jsonl"
        for settle in [true, false] {
            unlink(path)
            let a = try #require(EventSink.file(path))
            let b = try #require(EventSink.file(path))
            #expect(a.write(Self.event(0)))
            if settle { a.settle() }
            #expect(b.write(Self.event(1)))
            #expect(a.write(Self.event(2)))
            let r = try ChainVerifier.verify(files: [path])
            #expect(r.broken == nil && r.lines == 3, "settle \(settle): \(String(describing: r.broken))")
        }
    }
}
