import Foundation
import Testing
@testable import MCPBoxEvents

/// `audit verify` searched for each newline from the start of the unread bytes again after every
/// 64 KiB read, so one long line cost time quadratic in its length (measured on the previous
/// build: 68 s for a 32 MiB line on this VM). Found by a red-team pass. The search now resumes
/// where it stopped; these check that lines spanning many reads still verify exactly.
@Suite struct LongLineVerifyTests {
    static func chained(_ values: [String]) -> [UInt8] {
        var out: [UInt8] = []
        var prev = EventSink.genesis
        for v in values {
            let line = Array("{\"time\":\"2026-11-29T00:00:00.000Z\",\"profile\":\"p\",\"kind\":\"x\",\"v\":\"\(v)\",\"prev\":\"\(prev)\"}\n".utf8)
            prev = SHA256.hex(SHA256.hash(line))
            out += line
        }
        return out
    }

    @Test("lines longer than many reads verify, and a change deep inside one is found")
    func longLines() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mcpbox-longline-\(UInt32.random(in: 0..<UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("log.jsonl").path
        let long = String(repeating: "a", count: 700_000)
        var bytes = Self.chained(["short", long, "x", long + "b", "end"])
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        var r = try ChainVerifier.verify(files: [path])
        #expect(r.broken == nil && r.lines == 5, "\(String(describing: r.broken))")
        // One byte changed in the middle of the second line: the third line no longer chains.
        let at = bytes.firstIndex(of: UInt8(ascii: "a"))! + 400_000
        bytes[at] = UInt8(ascii: "c")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        r = try ChainVerifier.verify(files: [path])
        #expect(r.broken?.line == 3, "\(String(describing: r.broken))")
        // A huge line with no newline at all: reported as cut short.
        try Data(repeating: UInt8(ascii: "a"), count: 4 << 20).write(to: URL(fileURLWithPath: path))
        r = try ChainVerifier.verify(files: [path])
        #expect(r.broken?.line == 1 && r.broken?.why.contains("incomplete last line") == true, "\(String(describing: r.broken))")
    }
}
