import Foundation
import Glibc
@testable import MCPBoxProtocol
import Testing

/// Lines past `MCPFilter.spoolThreshold` are held in a memfd instead of memory and written from it
/// (lowered here to 1 KiB so that small tests take that path).
@Suite("MCP filter: lines spooled out of memory")
struct SpoolTests {
    static func driver(_ policy: MCPPolicy = MCPFilterTests.gitPolicy) -> FilterDriver {
        let d = FilterDriver(policy)
        d.filter.spoolThreshold = 1024
        return d
    }

    /// A JSON-RPC notification line of `size` bytes, newline included.
    static func notification(_ size: Int, fill: Character = "a") -> String {
        let head = #"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":""#
        let tail = "\"}}\n"
        return head + String(repeating: fill, count: size - head.utf8.count - tail.utf8.count) + tail
    }

    @Test("spooled and in-memory lines pass byte-identical and in order, both ways, in 1-byte writes")
    func oneByteWrites() {
        for dir in 0...1 {
            let d = Self.driver()
            let ping = #"{"jsonrpc":"2.0","method":"notifications/progress","params":{"n":1}}"# + "\n"
            let text = ping + Self.notification(5000) + ping + Self.notification(1025, fill: "é") + Self.notification(3000) + ping
            #expect(d.feed(dir, text, chunk: 1))
            let out = d.takeBytes(dir, step: 1)
            #expect(out == Array(text.utf8))
            #expect(d.takeBytes(1 - dir).isEmpty)
        }
    }

    @Test("a spooled line is written after the lines queued ahead of it and before those after it")
    func orderAroundSpooledLines() {
        let d = Self.driver()
        let small = #"{"jsonrpc":"2.0","method":"notifications/progress","params":{"n":2}}"# + "\n"
        let big = Self.notification(4000)
        // The big line completes in the same read as small lines around it.
        #expect(d.feed(1, String(big.prefix(2000))))
        #expect(d.feed(1, String(big.dropFirst(2000)) + small + big + small))
        #expect(String(decoding: d.takeBytes(1, step: 700), as: UTF8.self) == big + small + big + small)
    }

    @Test("a tools/list answer held in a spool file is still filtered")
    func spooledListIsFiltered() throws {
        let d = Self.driver()
        let req = #"{"jsonrpc":"2.0","id":4,"method":"tools/list"}"# + "\n"
        d.feed(0, req)
        #expect(d.take(0) == req)
        let pad = String(repeating: "d", count: 300_000)
        let answer = #"{"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"git_status","description":"\#(pad)"},"#
            + #"{"name":"git_commit","description":"\#(pad)"},{"name":"git_log","description":"x"}]}}"# + "\n"
        d.feed(1, answer, chunk: 65536)
        let out = String(decoding: d.takeBytes(1), as: UTF8.self)
        #expect(out == #"{"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"git_status","description":"\#(pad)"},"#
                + #"{"name":"git_log","description":"x"}]}}"# + "\n")
    }

    @Test("a denied tools/call held in a spool file never reaches the server")
    func spooledDeniedCallIsRefused() {
        let d = Self.driver()
        let call = #"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"arguments":{"message":"\#(String(repeating: "m", count: 5000))"},"name":"git_commit"}}"# + "\n"
        #expect(d.feed(0, call, chunk: 333))
        #expect(d.takeBytes(0).isEmpty)
        #expect(d.take(1) == #"{"jsonrpc":"2.0","id":5,"error":{"code":-32602,"message":"Unknown tool: git_commit"}}"# + "\n")
    }

    @Test("max_message holds for spooled lines: one byte over ends the session, nothing of it is written")
    func spooledLineOverTheLimit() {
        let policy = MCPPolicy(tools: NamePolicy(allow: nil, deny: []), maxMessage: 50_000)
        let d = Self.driver(policy)
        let fits = Self.notification(50_001)
        #expect(d.feed(1, fits, chunk: 4096))
        #expect(d.takeBytes(1) == Array(fits.utf8))
        #expect(!d.feed(1, String(Self.notification(50_002).dropLast()), chunk: 4096))
        #expect(d.filter.failed)
        #expect(d.takeBytes(1).isEmpty)
        #expect(d.box.lines.last?.contains("longer than 50000 bytes") == true)
    }

    /// The `Rss:` of the mapping starting at `address` (/proc/self/smaps), KiB.
    static func residentKiB(_ address: UnsafeRawPointer) -> Int? {
        let fd = open("/proc/self/smaps", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += chunk[..<n]
        }
        let smaps = String(decoding: bytes, as: UTF8.self)
        let start = String(UInt(bitPattern: address), radix: 16) + "-"
        var inside = false
        for line in smaps.split(separator: "\n") {
            if line.first?.isHexDigit == true, line.contains("-") { inside = line.hasPrefix(start) || line.hasPrefix("0" + start) }
            if inside, line.hasPrefix("Rss:") { return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) }
        }
        return nil
    }

    @Test("the scan of a mapped line gives back its pages and reads the same as in memory")
    func mappedScanAgrees() throws {
        let pad = String(repeating: "p", count: 3 << 20)
        let line = Array((#"{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"pad":"\#(pad)","list":[1,2.5e3,"\#(pad)",true],"#
                          + #""arguments":{"a":1,"b":"\#(pad)"},"name":"git_status"}}"#).utf8)
        let spool = try #require(SpooledLine())
        #expect(line.withUnsafeBytes { spool.append($0) })
        let raw = try #require(spool.map())
        defer { spool.unmap() }
        let mapped = MessageScan(raw, mapped: true)
        let resident = try #require(Self.residentKiB(raw.baseAddress!))
        #expect(resident <= 1024, "\(resident) KiB of a \(line.count >> 10) KiB line stayed mapped after its scan")
        let plain = MessageScan(line)
        #expect(mapped.error == nil && plain.error == nil)
        #expect(mapped.name == .string("git_status") && mapped.id == .string("x") && mapped.methodName == "tools/call")
        #expect(mapped.argumentKeys == ["a", "b"] && mapped.arguments == plain.arguments)
        // Pages dropped behind the scan read back from the file, unchanged.
        #expect(memcmp(raw.baseAddress!, line, line.count) == 0)
    }
}
