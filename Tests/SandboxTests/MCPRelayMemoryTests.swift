import Foundation
import Glibc
import MCPBoxTestSupport
import Testing

/// The MCP layer's memory while relaying big messages through the real `mcpbox run` (issue 9,
/// item 10): a line past 1 MiB is held in a memfd, not in mcpbox's memory.
@Suite("MCP relay: big messages held out of memory", .serialized)
struct MCPRelayMemoryTests {
    /// `mcpbox run` of the echo fixture under a profile with [tools] allow/deny and [audit].
    static func start(_ dir: TempDir, sockets: Bool = false) throws -> RelayRun {
        try RelayRun.mcpAudited(dir, fixture: "echo.py", description: "MCP relay memory: the echo fixture with [tools] and [audit]", sockets: sockets)
    }

    /// One JSON-RPC notification whose body (newline excluded) is `size` bytes of varied text.
    static func message(_ size: Int, seed: UInt64) -> [UInt8] {
        let head = Array(#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":""#.utf8)
        let tail = Array(#""}}"#.utf8)
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/ ".utf8)
        var state = seed
        var body = [UInt8](repeating: 0, count: size - head.count - tail.count)
        for i in body.indices {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            body[i] = alphabet[Int(state >> 58)]
        }
        return head + body + tail + [0x0a]
    }

    /// `field` of the relaying process's status. mcpbox's processes are [a parent that only waits
    /// (with [audit]),] the relay, the sandbox's pid 1, all the same executable, then the server:
    /// the relay is the one above the last mcpbox.
    static func relayMemoryKiB(_ run: RelayRun, _ field: String) -> Int? {
        func exe(_ pid: String) -> String? {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe"))
        }
        var chain = ["\(run.pid)"]
        let mine = exe(chain[0])
        while chain.count < 4, mine != nil,
              let children = try? String(contentsOfFile: "/proc/\(chain.last!)/task/\(chain.last!)/children", encoding: .utf8),
              let next = children.split(separator: " ").map(String.init).first(where: { exe($0) == mine }) {
            chain.append(next)
        }
        let pid = chain.count >= 2 ? chain[chain.count - 2] : chain[0]
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
        }
        return nil
    }

    /// Reads exactly `count` bytes from `fd` (fewer at EOF).
    static func read(_ fd: Int32, _ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, count - got) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            got += n
        }
        return Array(out[..<got])
    }

    @Test("two 16 MiB messages (the default max_message) come back byte-identical; mcpbox's VmHWM stays <= 12 MiB")
    func sixteenMiBBothWays() throws {
        let dir = try TempDir(prefix: "mcpbox-mcp-memory")
        defer { dir.remove() }
        let run = try Self.start(dir)
        let messages = [Self.message(16 << 20, seed: 1), Self.message(16 << 20, seed: 2)]
        let writer = Background { [messages] in for m in messages { run.write(m) }; return true }
        let echoed = Self.read(run.output, messages[0].count + messages[1].count)
        _ = writer.join()
        // Read while mcpbox still runs: its lifetime peak, start-up included, of the process that
        // relays (with [audit] a child of the one started).
        let hwm = Self.relayMemoryKiB(run, "VmHWM") ?? Int.max
        run.closeInput()
        let err = RelayRun.readAll(run.errors)
        #expect(run.wait().status == 0, "stderr: \(String(decoding: err.suffix(2000), as: UTF8.self))")
        #expect(echoed.count == messages[0].count + messages[1].count)
        #expect(echoed == messages[0] + messages[1], "the messages did not come back byte-identical")
        print("mcpbox VmHWM relaying 16 MiB MCP messages both ways: \(hwm) KiB")
        #expect(hwm <= 12 * 1024, "mcpbox VmHWM \(hwm) KiB")
        // Both directions were audited (the echo of a notification is the server's notification).
        let audit = (try? String(contentsOfFile: dir.sub("audit.jsonl"), encoding: .utf8)) ?? ""
        #expect(audit.components(separatedBy: "notifications/message").count - 1 == 4, "audit: \(audit.prefix(2000))")
    }

    @Test("a tools/list answer over 1 MiB, held in a spool file, reaches the client filtered")
    func spooledListIsFiltered() throws {
        let dir = try TempDir(prefix: "mcpbox-mcp-list")
        defer { dir.remove() }
        let run = try Self.start(dir)
        // The echo server sends back the client's request (to the client, as the server's own) and
        // then the answer the client wrote: a response to the forwarded tools/list, so mcpbox filters it.
        let request = #"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"# + "\n"
        let pad = String(repeating: "d", count: 3 << 19)
        let answer = #"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"git_status","description":"\#(pad)"},"#
            + #"{"name":"git_commit","description":"\#(pad)"},{"name":"git_log","description":"x"}]}}"# + "\n"
        let filtered = #"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"git_status","description":"\#(pad)"},"#
            + #"{"name":"git_log","description":"x"}]}}"# + "\n"
        let expected = Array((request + filtered).utf8)
        let writer = Background { run.write(Array((request + answer).utf8)); return true }
        let got = Self.read(run.output, expected.count)
        _ = writer.join()
        run.closeInput()
        let rest = RelayRun.readAll(run.output)
        let err = RelayRun.readAll(run.errors)
        #expect(run.wait().status == 0, "stderr: \(String(decoding: err.suffix(2000), as: UTF8.self))")
        #expect(got == expected && rest.isEmpty, "got \(got.count) + \(rest.count) bytes, expected \(expected.count)")
    }

    /// `sockets`: the client's stdio are sockets, so a spooled line is copied out through the
    /// relay's buffer instead of spliced.
    @Test("a spooled and a small message written one byte at a time come back whole and in order", arguments: [false, true])
    func oneByteWrites(sockets: Bool) throws {
        let dir = try TempDir(prefix: "mcpbox-mcp-bytes")
        defer { dir.remove() }
        let run = try Self.start(dir, sockets: sockets)
        // Two ids: the echo server answers neither, and a request may not reuse a pending id.
        let ping = Array(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.utf8) + [0x0a]
        let ping2 = Array(#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#.utf8) + [0x0a]
        let text = ping + Self.message((1 << 20) + 4096, seed: 3) + ping2
        let writer = Background { [text] in for byte in text { run.write([byte]) }; return true }
        let echoed = Self.read(run.output, text.count)
        _ = writer.join()
        run.closeInput()
        let err = RelayRun.readAll(run.errors)
        #expect(run.wait().status == 0, "stderr: \(String(decoding: err.suffix(2000), as: UTF8.self))")
        #expect(echoed == text)
    }
}
