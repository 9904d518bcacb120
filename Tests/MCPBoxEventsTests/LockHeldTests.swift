import Foundation
import MCPBoxEvents
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A log's `FILE.lock` held by another process that never lets go (in caller-remap mode a
/// sandboxed server runs as the log's owner and could open and `flock` it) stalled every write
/// for as long as it was held: the egress proxy's DNS answers and connections, an audited
/// session's start. Found by a red-team pass; fails on the build before the fix (the write
/// waited out the holder and then succeeded).
@Suite("event log: a lock held elsewhere is given up on")
struct LockHeldTests {
    @Test("write gives up with ENOLCK after lockWait, and works again once the holder lets go")
    func heldLock() throws {
        let dir = NSTemporaryDirectory() + "mcpbox-lockheld-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/log.jsonl"
        let sink = try #require(EventSink.file(path))
        #expect(sink.write(Event(profile: "p", kind: "first")))
        let hold = EventSink.lockWait + 2
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = ["-x", EventSink.lockPath(path), "-c", "echo held; sleep \(Int(hold))"]
        let out = Pipe()
        holder.standardOutput = out
        try holder.run()
        defer { if holder.isRunning { holder.terminate() }; holder.waitUntilExit() }
        _ = out.fileHandleForReading.readData(ofLength: 5)   // "held\n": the lock is taken
        let start = Date()
        let ok = sink.write(Event(profile: "p", kind: "second"))
        let waited = Date().timeIntervalSince(start)
        #expect(!ok && sink.lastError == ENOLCK, "the write \(ok ? "succeeded" : "failed with \(sink.lastError)") after \(waited) s")
        #expect(waited < hold - 1, "the write waited for the holder (\(waited) s)")
        holder.terminate()
        holder.waitUntilExit()
        #expect(sink.write(Event(profile: "p", kind: "third")))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("\"first\"") && text.contains("\"third\"") && !text.contains("\"second\""), "\(text)")
    }
}
