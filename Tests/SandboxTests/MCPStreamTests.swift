import Foundation
import Glibc
import MCPBoxTestSupport
import Testing

/// Lines streamed before their newline through the real `mcpbox run` (issue 9, item 10): the
/// server is `tee.py`, which echoes what it reads to stdout (back through the MCP layer, as the
/// server's own messages) and to stderr (relayed untouched): stderr shows exactly what reached
/// the server.
@Suite("MCP relay: lines streamed before their newline", .serialized)
struct MCPStreamTests {
    static func start(_ dir: TempDir, sockets: Bool = false) throws -> RelayRun {
        try RelayRun.mcpAudited(dir, fixture: "tee.py", description: "MCP streaming: the tee fixture with [tools] and [audit]", sockets: sockets)
    }

    /// A tools/call for `name` whose one argument is `size` bytes of varied text; `after` goes
    /// after `arguments` inside `params`.
    static func call(_ name: String, id: Int, size: Int, after: String = "") -> [UInt8] {
        Array(#"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"\#(name)","arguments":{"text":""#.utf8)
            + text(size) + Array(#""}\#(after)}}"#.utf8)
    }

    static func text(_ size: Int, seed: UInt64 = 5) -> [UInt8] {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/ ".utf8)
        var state = seed
        return (0..<size).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return alphabet[Int(state >> 58)]
        }
    }

    /// Reads from `fd` until `count` bytes came, EOF, or nothing came for `seconds` (a deadline
    /// against a hang, not a measurement).
    static func read(_ fd: Int32, atLeast count: Int, seconds: Int32 = 60) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while out.count < count {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, seconds * 1000)
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else { break }
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += chunk[..<n]
        }
        return out
    }

    /// What reached the server: stderr without mcpbox's own lines (`mcpbox: …`, its start-up
    /// warnings and messages), which come whole, at the start or after the server's last byte.
    static func serverBytes(_ err: [UInt8]) -> [UInt8] {
        var rest = err[...]
        let tag = Array("mcpbox: ".utf8)
        while rest.starts(with: tag), let nl = rest.firstIndex(of: 0x0a) { rest = rest[(nl + 1)...] }
        return Array(rest)
    }

    static func text(of bytes: [UInt8]) -> String { String(decoding: bytes.suffix(2000), as: UTF8.self) }

    static func contains(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= hay.count else { return false }
        return (0...(hay.count - needle.count)).contains { hay[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    @Test("a permitted 2 MiB tools/call is passed on before its newline, both ways, and arrives byte-identical; its audit record is whole",
          arguments: [false, true])
    func bigCallStreams(sockets: Bool) throws {
        let dir = try TempDir(prefix: "mcpbox-mcp-stream")
        defer { dir.remove() }
        let run = try Self.start(dir, sockets: sockets)
        let errors = Background { RelayRun.readAll(run.errors) }
        let line = Self.call("git_status", id: 9, size: 2 << 20) + [0x0a]
        run.write(Array(line[..<300_000]))
        // Before the client sent the rest: the start went to the server and came back (as the
        // server's request), so both directions streamed.
        let early = Self.read(run.output, atLeast: 250_000)
        #expect(early.count >= 250_000, "only \(early.count) bytes came back before the newline was sent")
        let writer = Background { run.write(Array(line[300_000...])); return true }
        let rest = Self.read(run.output, atLeast: line.count - early.count)
        _ = writer.join()
        run.closeInput()
        let status = run.wait().status
        let err = errors.join()
        #expect(status == 0, "stderr: \(String(decoding: err.suffix(2000), as: UTF8.self))")
        let clientGot = early + rest, serverGot = Self.serverBytes(err)
        #expect(clientGot == line, "the client got \(clientGot.count) bytes, not the line")
        #expect(serverGot == line, "the server got \(serverGot.count) bytes, not the line: \(Self.text(of: err))")
        // The record is today's: tool, argument keys, sizes (the echo is the server's request).
        let audit = (try? String(contentsOfFile: dir.sub("audit.jsonl"), encoding: .utf8)) ?? ""
        let records = audit.split(separator: "\n").filter { $0.contains(#""tool":"git_status""#) }
        #expect(!records.isEmpty, "audit: \(audit.prefix(3000))")
        for r in records {
            #expect(r.contains(#""argument_keys":["text"]"#) && r.contains(#""request_bytes":\#(line.count)"#), "\(r)")
        }
    }

    @Test("a streamed tools/call and its streamed big result, written one byte at a time, arrive byte-identical")
    func oneByteWrites() throws {
        let dir = try TempDir(prefix: "mcpbox-mcp-stream-bytes")
        defer { dir.remove() }
        let run = try Self.start(dir)
        let errors = Background { RelayRun.readAll(run.errors) }
        // The client's answer goes to the server and comes back as the server's response to the
        // call the client forwarded: a result streamed to the client.
        let call = Self.call("git_log", id: 6, size: 300_000) + [0x0a]
        let result = Array(#"{"jsonrpc":"2.0","id":6,"result":{"content":[{"type":"text","text":""#.utf8)
            + Self.text(300_000, seed: 9) + Array(#""}],"isError":false}}"#.utf8) + [0x0a]
        let text = call + result
        let writer = Background { [text] in for byte in text { run.write([byte]) }; return true }
        let echoed = Self.read(run.output, atLeast: text.count)
        _ = writer.join()
        run.closeInput()
        let status = run.wait().status
        let err = errors.join()
        #expect(status == 0, "stderr: \(String(decoding: err.suffix(2000), as: UTF8.self))")
        let serverGot = Self.serverBytes(err)
        #expect(echoed == text, "the client got \(echoed.count) of \(text.count) bytes, or others")
        #expect(serverGot == text, "the server got \(serverGot.count) of \(text.count) bytes, or others: \(Self.text(of: err))")
    }

    @Test("a late duplicate tool name after streaming began: the session ends and no finished line with it reaches either peer")
    func lateDuplicateEndsTheSession() throws {
        let dir = try TempDir(prefix: "mcpbox-mcp-stream-dup")
        defer { dir.remove() }
        let run = try Self.start(dir)
        let errors = Background { RelayRun.readAll(run.errors) }
        // Permitted by its first name; the duplicate names a denied tool (holding it whole, mcpbox
        // refuses the line as invalid JSON).
        let line = Self.call("git_status", id: 9, size: 300_000, after: #","name":"git_commit""#) + [0x0a]
        run.write(Array(line[..<200_000]))
        let early = Self.read(run.output, atLeast: 150_000)
        #expect(early.count >= 150_000, "streaming did not begin (\(early.count) bytes)")
        run.write(Array(line[200_000...]))
        let rest = Self.read(run.output, atLeast: Int.max)     // to EOF: mcpbox ends the session
        run.closeInput()
        let status = run.wait().status
        let err = errors.join()
        let out = early + rest
        #expect(status != 0)
        let clientFinished = out.contains(0x0a)
        let serverStarted = Self.contains(err, Array(#"{"jsonrpc":"2.0","id":9,"method":"tools/call""#.utf8))
        let serverFinished = Self.contains(err, Array(#""git_commit"}}"#.utf8) + [0x0a])
        #expect(!clientFinished, "the client got a finished line")
        #expect(serverStarted, "nothing of the line reached the server")
        #expect(!serverFinished, "the server got the line's newline")
        // The session's end is mcpbox's refusal (125). mcpbox says why on stderr where the
        // client's stderr has room: its own lines never block the relay, and one that does not
        // fit is dropped (here the server echoes 300 KB there, so about one run in twenty lost
        // it); the audit log records the end all the same.
        #expect(status == 125, "exit \(status)")
        let said = String(decoding: err, as: UTF8.self).contains("had begun passing on")
        let audit = (try? String(contentsOfFile: dir.sub("audit.jsonl"), encoding: .utf8)) ?? ""
        #expect(said || audit.contains("\"exit_status\":125"), "stderr: \(String(decoding: err.suffix(2000), as: UTF8.self)) audit: \(audit.suffix(1000))")
    }

    @Test("a denied tools/call whose big arguments come before the name never reaches the server", arguments: [200_000, 2 << 20])
    func deniedCallWithArgumentsFirst(size: Int) throws {
        let dir = try TempDir(prefix: "mcpbox-mcp-stream-deny")
        defer { dir.remove() }
        let run = try Self.start(dir)
        let errors = Background { RelayRun.readAll(run.errors) }
        let call = Array(#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"arguments":{"text":""#.utf8)
            + Self.text(size) + Array(#""},"name":"git_commit"}}"#.utf8) + [0x0a]
        let ping = Array(#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#.utf8) + [0x0a]
        let writer = Background { run.write(call + ping); return true }
        let refusal = Array(#"{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"Unknown tool: git_commit"}}"#.utf8) + [0x0a]
        let got = Self.read(run.output, atLeast: refusal.count + ping.count)
        _ = writer.join()
        run.closeInput()
        let status = run.wait().status
        let err = errors.join()
        #expect(status == 0, "stderr: \(String(decoding: err.suffix(2000), as: UTF8.self))")
        let serverGot = Self.serverBytes(err)
        #expect(got == refusal + ping)
        #expect(serverGot == ping, "the server got \(serverGot.count) bytes: \(Self.text(of: err))")
    }

    /// A hostile stdout fixture (vmsplice.py, reread.py) under `RelayRun.mcpAudited`'s profile,
    /// sent the tools/call its long answer replies to (git_status, id 1).
    static func hostileStdout(_ dir: TempDir, _ fixture: String, _ what: String) throws -> RelayRun {
        let run = try RelayRun.mcpAudited(dir, fixture: fixture, description: "MCP streaming: " + what)
        run.write(Array(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"git_status","arguments":{}}}"#.utf8) + [0x0a])
        return run
    }

    @Test("a server that rewrites a page it handed to its stdout by reference (vmsplice) after mcpbox judged it: the client gets the bytes judged, no line mcpbox never passed")
    func rewrittenPageIsNotPassed() throws {
        let dir = try TempDir(prefix: "mcpbox-mcp-stream-vmsplice")
        defer { dir.remove() }
        // The fixture streams a result: its start, then one page of its memory by reference;
        // once mcpbox has taken that page ("spliced"), the next message makes it rewrite it.
        let run = try Self.hostileStdout(dir, "vmsplice.py", "a server that rewrites a vmspliced page")
        var said: [String] = []
        while let l = RelayRun.readLine(run.errors), l != "spliced" { said.append(l) }
        run.write(Array(#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#.utf8) + [0x0a])
        while let l = RelayRun.readLine(run.errors), l != "rewritten" { said.append(l) }
        let expected = Array(#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":""#.utf8)
            + [UInt8](repeating: UInt8(ascii: "a"), count: 40000) + [UInt8](repeating: UInt8(ascii: "b"), count: Int(getpagesize()))
            + Array(#""}],"isError":false}}"#.utf8) + [0x0a]
        let got = Self.read(run.output, atLeast: expected.count)
        run.closeInput()
        _ = RelayRun.readAll(run.errors)
        _ = run.wait()
        #expect(got.firstIndex(of: 0x0a) == expected.count - 1, "the client got a line end mcpbox never passed: \(Self.text(of: got))")
        let judged = got == expected
        #expect(judged, "the client got \(got.count) bytes, not the ones judged: \(Self.text(of: got)); stderr: \(said.joined(separator: "\n"))")
    }

    @Test("a server that reads its own stdout pipe back (/proc/self/fd/1) while mcpbox waits for the client, and writes forged bytes in place of the ones it took: everything the client gets was judged (red-team pass, 2026-12-03)")
    func rereadPipeIsNotPassed() throws {
        let dir = try TempDir(prefix: "mcpbox-mcp-stream-reread")
        defer { dir.remove() }
        let run = try Self.hostileStdout(dir, "reread.py", "a server that reads its stdout pipe back")
        run.write(Array(#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#.utf8) + [0x0a])
        // The client reads nothing until the server has swapped the bytes still in its pipe.
        var said: [String] = []
        while let l = RelayRun.readLine(run.errors) {
            said.append(l)
            if l == "forged written" { break }
        }
        let done = Array(#""data":"done"}}"#.utf8) + [0x0a]
        var got: [UInt8] = []
        while !(got.count >= done.count && got.suffix(done.count).elementsEqual(done)) {
            let more = Self.read(run.output, atLeast: 1, seconds: 20)
            if more.isEmpty { break }
            got += more
        }
        run.closeInput()
        _ = RelayRun.readAll(run.errors)
        _ = run.wait()
        #expect(said.contains { $0.hasPrefix("stole ") }, "stderr: \(said.joined(separator: "\n"))")
        #expect(got.count > 900000 && got.suffix(done.count).elementsEqual(done), "the client got \(got.count) bytes: \(Self.text(of: got))")
        #expect(!Self.contains(got, Array("FORGED_hidden_tool".utf8)), "a tools/list answer mcpbox never judged reached the client: \(Self.text(of: got))")
    }
}
