import Foundation
import Glibc
import MCPBoxTestSupport
import Testing

/// Red-team findings on the stdio relay, each through `mcpbox run`.
@Suite("Relay red team", .serialized)
struct RelayRedTeamTests {
    /// A client-side end mcpbox writes to: a named FIFO or a pseudo-terminal's slave, and the
    /// descriptor the test reads it from (the FIFO's reader, the terminal's master).
    struct ClientSink {
        let path: String
        let reader: Int32

        static func make(_ kind: String, in dir: TempDir) throws -> ClientSink {
            if kind == "fifo" {
                let path = dir.sub("client.fifo")
                try #require(mkfifo(path, 0o600) == 0)
                let reader = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
                try #require(reader >= 0)
                _ = fcntl(reader, F_SETFL, fcntl(reader, F_GETFL) & ~O_NONBLOCK)
                return ClientSink(path: path, reader: reader)
            }
            // /dev/ptmx, TIOCSPTLCK (unlock), TIOCGPTN (its number).
            let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
            try #require(master >= 0)
            var unlock: Int32 = 0, number: UInt32 = 0
            try #require(ioctl(master, 0x4004_5431, &unlock) == 0 && ioctl(master, 0x8004_5430, &number) == 0)
            return ClientSink(path: "/dev/pts/\(number)", reader: master)
        }
    }

    static func profile(_ dir: TempDir, mcp: Bool) throws -> String {
        let fixtures = URL(fileURLWithPath: RelayRun.fixture("burst.py")).deletingLastPathComponent().path
        return try dir.write("redteam.toml", """
            description = "relay red team"
            [filesystem]
            read_only = ["/usr", "/lib", "/lib64", "/bin", \(tomlString(fixtures))]
            \(mcp ? "[tools]\nallow = [\"git_status\"]\n" : "")
            """)
    }

    /// SIGTERM to mcpbox; whether it ended within 30 s (a deadline against a hang, not a
    /// measurement). A hung mcpbox is killed with its process group.
    static func terminate(_ run: RelayRun) -> (ended: Bool, raw: Int32) {
        kill(run.pid, SIGTERM)
        var raw: Int32 = 0
        for _ in 0..<300 {
            if waitpid(run.pid, &raw, WNOHANG) == run.pid { return (true, raw) }
            usleep(100_000)
        }
        kill(-run.pid, SIGKILL)
        while waitpid(run.pid, &raw, 0) < 0 && errno == EINTR {}
        return (false, raw)
    }

    /// Starts mcpbox with its stdout (`stream` 1) or stderr (2) redirected to a `kind` sink, reads
    /// `first` bytes there, stops reading for `pause` µs, then SIGTERMs mcpbox: whether it ended.
    static func stall(stream: Int, kind: String, mcp: Bool, fixture: String, first: Int, pause: UInt32) throws {
        let dir = try TempDir(prefix: "mcpbox-redteam-\(stream == 1 ? "stdout" : "stderr")")
        defer { dir.remove() }
        let sink = try ClientSink.make(kind, in: dir)
        defer { close(sink.reader) }
        let redirect = stream == 1 ? ">" : "2>"
        let run = try RelayRun(argv: ["/bin/sh", "-c", "exec \"$0\" run \"$1\" -- \"$2\" \"$3\" \(redirect) \"$4\"",
                                      try TestSupport.mcpboxBinary(), try Self.profile(dir, mcp: mcp),
                                      try TestSupport.systemPython(), RelayRun.fixture(fixture), sink.path])
        // The other channel is read to its end all along.
        let other = Background { RelayRun.readAll(stream == 1 ? run.errors : run.output) }
        let got = MCPStreamTests.read(sink.reader, atLeast: first, seconds: 30)
        #expect(got.count >= first, "only \(got.count) bytes came")
        // The client reads no more there; the server's lines fill it.
        usleep(pause)
        let (ended, raw) = Self.terminate(run)
        if stream == 1 { run.closeOutput() } else { run.closeErrors() }
        let text = String(decoding: other.join(), as: UTF8.self)
        #expect(ended, "mcpbox did not end within 30 s of SIGTERM while its client was not reading \(stream == 1 ? "stdout; stderr: \(text.suffix(1500))" : "stderr")")
        #expect(!ended || raw & 0x7f == 0, "mcpbox itself died of signal \(raw & 0x7f)")
    }

    @Test("a client that stops reading its stdout, a named FIFO or a terminal, does not freeze the relay: SIGTERM to mcpbox still ends the session",
          arguments: ["fifo", "tty"], [false, true])
    func stalledStdout(kind: String, mcp: Bool) throws {
        // pwritev2(RWF_NOWAIT) is not supported on named FIFOs nor terminals (EOPNOTSUPP): the
        // relay fell back to a blocking write() on the client's own description and stayed there
        // once the client stopped reading, deaf to signals, the server's exit and its deadlines.
        try Self.stall(stream: 1, kind: kind, mcp: mcp, fixture: "burst.py", first: (1 << 20) + 2000, pause: 1_500_000)
    }

    @Test("a client that stops reading its stderr, a named FIFO or a terminal, while the server floods it: SIGTERM to mcpbox still ends the session",
          arguments: ["fifo", "tty"], [false, true])
    func stalledStderr(kind: String, mcp: Bool) throws {
        try Self.stall(stream: 2, kind: kind, mcp: mcp, fixture: "errburst.py", first: 2000, pause: 3_000_000)
    }

    @Test("a client that never reads its stderr pipe: the MCP layer's own lines (a server's invalid lines, each dropped and said) never freeze the session; SIGTERM to mcpbox still ends it")
    func unreadStderrMCPLines() throws {
        // The filter's messages went by a blocking write to fd 2: once the client's stderr pipe
        // was full, mcpbox stopped there for good (no more relaying, signals unread).
        let dir = try TempDir(prefix: "mcpbox-redteam-say")
        defer { dir.remove() }
        let run = try RelayRun(argv: [try TestSupport.mcpboxBinary(), "run", try Self.profile(dir, mcp: true), "--",
                                      try TestSupport.systemPython(), RelayRun.fixture("junklines.py"), "20000"])
        let output = Background { RelayRun.readAll(run.output) }
        // Wait until the stderr pipe (64 KiB) is full of mcpbox's lines; the client reads none.
        var queued: Int32 = 0
        for _ in 0..<300 {
            if ioctl(run.errors, UInt(FIONREAD), &queued) == 0 && queued >= 60_000 { break }
            usleep(100_000)
        }
        #expect(queued >= 60_000, "only \(queued) bytes on stderr")
        usleep(500_000)
        let (ended, raw) = Self.terminate(run)
        run.closeErrors()
        _ = output.join()
        #expect(ended, "mcpbox did not end within 30 s of SIGTERM while its client did not read stderr")
        #expect(!ended || raw & 0x7f == 0, "mcpbox itself died of signal \(raw & 0x7f)")
    }

    @Test("a pseudo-terminal's master as the client's stdout gets the server's output (reopening it through /proc would make a new pty nobody reads)",
          arguments: [false, true])
    func ptyMasterStdout(mcp: Bool) throws {
        // Every pty master has /dev/ptmx's device number: opened again through /proc/self/fd it
        // is a new pseudo-terminal, and what mcpbox wrote there reached nobody.
        let dir = try TempDir(prefix: "mcpbox-redteam-ptmx")
        defer { dir.remove() }
        let line = #"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"from the server"}}"#
        let r = try runProcess([try TestSupport.systemPython(), RelayRun.fixture("ptmxout.py"),
                                try TestSupport.mcpboxBinary(), "run", try Self.profile(dir, mcp: mcp), "--",
                                "/bin/sh", "-c", "echo '\(line)'"], timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdoutText == line + "\n", "what reached the terminal: \(r.stdoutText.debugDescription); stderr: \(r.stderr)")
    }

    @Test("SIGTERM to mcpbox after the server exited ends the drain to a client that reads its output slowly")
    func signalEndsTheDrain() throws {
        // Once the server had exited the relay stopped reading its signals: a client that kept
        // reading, slowly, could not make mcpbox end before all of the output had crossed.
        let dir = try TempDir(prefix: "mcpbox-redteam-drain")
        defer { dir.remove() }
        let run = try RelayRun(argv: [try TestSupport.mcpboxBinary(), "run", try Self.profile(dir, mcp: false), "--",
                                      try TestSupport.systemPython(), RelayRun.fixture("flood.py"), "1000000"])
        let errors = Background { RelayRun.readAll(run.errors) }
        // flood.py writes its 1,000,000 bytes (they fit in the pipes), closes stdout and exits at
        // the end of its stdin; the client reads none of it yet.
        close(run.input)
        run.input = -1
        usleep(2_000_000)
        // Now 4 KiB every 200 ms (the whole output would take about 50 s), and SIGTERM.
        let reader = Background { () -> Int in
            var total = 0
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = chunk.withUnsafeMutableBytes { Glibc.read(run.output, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return total }
                total += n
                usleep(200_000)
            }
        }
        kill(run.pid, SIGTERM)
        var raw: Int32 = 0
        var ended = false
        for _ in 0..<100 {
            if waitpid(run.pid, &raw, WNOHANG) == run.pid { ended = true; break }
            usleep(100_000)
        }
        if !ended {
            kill(-run.pid, SIGKILL)
            while waitpid(run.pid, &raw, 0) < 0 && errno == EINTR {}
        }
        let read = reader.join()
        _ = errors.join()
        #expect(ended, "mcpbox was still draining 10 s after SIGTERM (the server had exited; the client had read \(read) bytes)")
        #expect(!ended || (raw & 0x7f == 0 && (raw >> 8) & 0xff == 0), "exit \((raw >> 8) & 0xff), signal \(raw & 0x7f): the server's status (0) was expected")
        #expect(read < 1_000_000)
    }
}

extension RelayRun {
    func closeErrors() { close(errors); errors = -1 }
}
