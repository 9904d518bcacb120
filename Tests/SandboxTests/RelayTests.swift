import Foundation
import Glibc
import MCPBoxTestSupport
import Testing

/// A server fixture run through `relay-harness` (the real relay, unsandboxed child), with
/// stdio the test controls.
final class RelayRun: @unchecked Sendable {
    let pid: pid_t
    /// Our ends: write to `input`, read `output` and `errors`.
    var input: Int32
    var output: Int32
    var errors: Int32
    let started = ContinuousClock.now

    /// Builds the harness path next to the test bundle (.build/<triple>/debug/).
    static let harness: String = {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent("relay-harness").path
    }()

    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/relay/\(name)").path
    }

    /// `mcpbox run` of the fixture `name` under a profile with [tools] allow/deny and [audit]
    /// (the log at `dir/audit.jsonl`): the MCP layer's relay, as the MCP suites drive it.
    static func mcpAudited(_ dir: TempDir, fixture name: String, description: String, sockets: Bool = false) throws -> RelayRun {
        let fixtures = URL(fileURLWithPath: fixture(name)).deletingLastPathComponent().path
        let profile = try dir.write("mcp-relay.toml", """
            description = \(tomlString(description))
            [filesystem]
            read_only = ["/usr", "/lib", "/lib64", "/bin", \(tomlString(fixtures))]
            [tools]
            allow = ["git_status", "git_log*"]
            deny = ["*commit*"]
            [audit]
            log = \(tomlString(dir.sub("audit.jsonl")))

            """)
        return try RelayRun(argv: [try TestSupport.mcpboxBinary(), "run", profile, "--",
                                   try TestSupport.systemPython(), fixture(name)], sockets: sockets)
    }

    /// Starts `fixture args` under relay-harness; `sockets` gives it socket stdio (the read/write path).
    convenience init(_ fixture: String, _ args: [String] = [], grace: Double = 1, wall: Double = 0,
                     sockets: Bool = false) throws {
        try self.init(argv: [Self.harness, "--grace", "\(grace)", "--wall", "\(wall)", "--",
                             "/usr/bin/python3", Self.fixture(fixture)] + args, sockets: sockets)
    }

    /// Starts `argv` (relay-harness or `mcpbox run`) in its own process group with stdio we hold.
    /// `stdinFile`: the child's stdin is that descriptor instead of a channel (`input` then goes nowhere).
    init(argv: [String], sockets: Bool = false, stdinFile: Int32? = nil) throws {
        func channel() throws -> (ours: Int32, theirs: Int32) {
            var fds: [Int32] = [-1, -1]
            let rc = sockets ? socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) : pipe(&fds)
            guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            return (fds[0], fds[1])
        }
        signal(SIGPIPE, SIG_IGN)    // writing to a process that has gone must fail, not kill the runner
        let stdin = try channel()     // the child reads [0], we write [1]
        let stdout = try channel()    // we read [0], the child writes [1]
        let stderr = try channel()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinFile ?? stdin.ours, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout.theirs, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr.theirs, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t()
        sigemptyset(&none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        var cargs = argv.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, argv[0], &actions, &attr, &cargs, environ)
        close(stdin.ours)
        close(stdout.theirs)
        close(stderr.theirs)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        pid = child
        input = stdin.theirs
        output = stdout.ours
        errors = stderr.ours
    }

    deinit {
        for fd in [input, output, errors] where fd >= 0 { close(fd) }
    }

    func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Glibc.write(input, raw.baseAddress! + off, raw.count - off)
                if n < 0 { if errno == EINTR { continue }; return }
                off += n
            }
        }
    }

    func closeInput() { close(input); input = -1 }
    func closeOutput() { close(output); output = -1 }

    /// Reads `fd` to EOF.
    static func readAll(_ fd: Int32) -> [UInt8] {
        var all = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return all }
            all.append(contentsOf: chunk[0..<n])
        }
    }

    /// Reads one `\n`-terminated line (without it), byte by byte; nil at EOF.
    static func readLine(_ fd: Int32) -> String? {
        var line = [UInt8]()
        var byte: UInt8 = 0
        while true {
            let n = Glibc.read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return line.isEmpty ? nil : String(decoding: line, as: UTF8.self) }
            if byte == 10 { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
    }

    /// Waits for the harness; returns its status as a shell reports it (128+N for signal N).
    func wait() -> (status: Int32, seconds: Double) {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let status = raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        return (status, seconds)
    }

    /// A `/proc/PID/status` field of the relaying process in KiB (VmRSS now, VmHWM its lifetime peak).
    func memoryKiB(_ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
        }
        return nil
    }
}

/// Runs `body` on another thread; `join()` waits for it.
final class Background<T>: @unchecked Sendable {
    private var value: T?
    private let done = DispatchSemaphore(value: 0)
    init(_ body: @escaping @Sendable () -> T) {
        Thread.detachNewThread { [self] in
            value = body()
            done.signal()
        }
    }
    func join() -> T {
        done.wait()
        return value!
    }
}

@Suite("Relay", .serialized)
struct RelayTests {
    /// Random bytes from a seeded generator (NULs and invalid UTF-8 included).
    static func random(_ count: Int, seed: inout UInt64, excluding: UInt8? = nil) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            var b = UInt8(truncatingIfNeeded: seed >> 33)
            if b == excluding { b = 0 }
            out[i] = b
        }
        return out
    }

    /// Pushes random binary data (NULs, invalid UTF-8, one line of `lineMiB` MiB, thousands of
    /// tiny writes) through `tee.py` and checks stdout and stderr both return it unchanged.
    /// `mcpboxWarnings`: stderr starts with mcpbox's own `mcpbox: warning:` lines (printed once
    /// before the server starts), which are not part of the server's bytes.
    static func checkByteExact(_ run: RelayRun, seed start: UInt64, lineMiB: Int, tinyWrites: Int, mcpboxWarnings: Bool = false) {
        var seed = start
        let block = random(1 << 20, seed: &seed)
        var line = random(lineMiB << 20, seed: &seed, excluding: 10)
        line.append(10)
        var tiny = [[UInt8]]()
        for i in 0..<tinyWrites { tiny.append(random(1 + i % 17, seed: &seed)) }
        let odd: [UInt8] = [0, 0xff, 0xfe, 0xc0, 0x80]
        let expected = block + odd + line + tiny.flatMap { $0 }
        #expect(expected.contains(0) && String(validating: expected, as: UTF8.self) == nil)

        let out = Background { RelayRun.readAll(run.output) }
        let err = Background { RelayRun.readAll(run.errors) }
        run.write(block)
        run.write(odd)
        run.write(line)
        for piece in tiny { run.write(piece) }
        run.closeInput()
        let stdout = out.join()
        var stderr = err.join()
        if mcpboxWarnings {
            let prefix = Array("mcpbox: warning: ".utf8)
            while stderr.starts(with: prefix), let nl = stderr.firstIndex(of: 10) { stderr.removeSubrange(...nl) }
        }
        #expect(stdout.count == expected.count)
        #expect(stdout == expected)
        #expect(stderr == expected)
        #expect(run.wait().status == 0)
    }

    /// Reads `total` bytes of flood.py's pattern slowly (1 ms pause per MiB) while sampling the
    /// relaying process's resident set every 16 MiB from 64 MiB on; returns its peak VmRSS while relaying (not
    /// after the end of the stream, when mcpbox's own shutdown runs) and its VmHWM, KiB.
    static func slowRead(_ run: RelayRun, total: Int) -> (relaying: Int, lifetime: Int) {
        var received = 0
        var peak = 0
        var mismatch = false
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var reads = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(run.output, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            if chunk[0] != UInt8(truncatingIfNeeded: received) { mismatch = true }
            received += n
            reads += 1
            if reads % 16 == 0 { usleep(1000) }
            // From 64 MiB on (at least 64 ms of pauses: the relay has dropped the program text
            // start-up touched, relay.c RELAY_DROP_TEXT_MS), every 16 MiB.
            if reads >= 1024 && reads % 256 == 0 { peak = max(peak, run.memoryKiB("VmRSS") ?? 0) }
        }
        let lifetime = run.memoryKiB("VmHWM") ?? 0
        run.closeInput()
        #expect(received == total)
        #expect(!mismatch)
        #expect(run.wait().status == 0)
        return (peak, lifetime)
    }

    @Test("byte-exact both ways, stderr included", arguments: [false, true])
    func byteExact(sockets: Bool) throws {
        Self.checkByteExact(try RelayRun("tee.py", sockets: sockets), seed: sockets ? 7 : 11,
                            lineMiB: 16, tinyWrites: 5000)
    }

    @Test("bounded memory: 1 GiB to a slow reader", arguments: [false, true])
    func backpressure(sockets: Bool) throws {
        let total = sockets ? 256 << 20 : 1 << 30
        let run = try RelayRun("flood.py", ["\(total)"], sockets: sockets)
        let (relaying, lifetime) = Self.slowRead(run, total: total)
        print("relay-harness RSS relaying \(total >> 20) MiB (sockets: \(sockets)): peak \(relaying) KiB, VmHWM \(lifetime) KiB")
        #expect(relaying > 0 && lifetime <= 8 * 1024, "relay-harness VmHWM \(lifetime) KiB")
    }

    @Test("a client that stops reading after a spliced transfer does not freeze the relay: SIGTERM to mcpbox still ends the session",
          arguments: [false, true])
    func stalledClientAfterSplice(mcp: Bool) throws {
        // splice() takes the non-blocking capability (RWF_NOWAIT) from the files it touches: a
        // relay that then wrote to the client's pipe with a plain write() blocked there once the
        // client stopped reading, deaf to signals, the server's exit and its own deadlines.
        let dir = try TempDir(prefix: "mcpbox-relay-stall")
        defer { dir.remove() }
        let run = mcp ? try RelayRun.mcpAudited(dir, fixture: "burst.py", description: "relay: a client that stops reading")
            : try RelayRun("burst.py", grace: 1)
        let errors = Background { RelayRun.readAll(run.errors) }
        // The 1 MiB line (spliced, or by the MCP layer's stage) and a few small ones after it.
        let got = MCPStreamTests.read(run.output, atLeast: (1 << 20) + 2000)
        #expect(got.count >= (1 << 20) + 2000, "only \(got.count) bytes came")
        // The client reads no more; the small lines fill its pipe.
        usleep(1_500_000)
        kill(run.pid, SIGTERM)
        var raw: Int32 = 0
        var ended = false
        for _ in 0..<300 {
            let r = waitpid(run.pid, &raw, WNOHANG)
            if r == run.pid { ended = true; break }
            usleep(100_000)
        }
        if !ended {
            kill(-run.pid, SIGKILL)
            while waitpid(run.pid, &raw, 0) < 0 && errno == EINTR {}
        }
        run.closeOutput()
        let err = String(decoding: errors.join(), as: UTF8.self)
        #expect(ended, "mcpbox did not end within 30 s of SIGTERM while its client was not reading; stderr: \(err.suffix(1500))")
        #expect(!ended || raw & 0x7f == 0, "mcpbox itself died of signal \(raw & 0x7f)")
    }

    @Test("client stdin EOF reaches the server, which exits promptly")
    func stdinEOF() throws {
        let run = try RelayRun("echo.py", grace: 5)
        run.write(Array("hello\n".utf8))
        #expect(RelayRun.readLine(run.output) == "hello")
        run.closeInput()
        #expect(RelayRun.readAll(run.output).isEmpty)
        let (status, seconds) = run.wait()
        #expect(status == 0)
        #expect(seconds < 4)
    }

    @Test("stdin a named FIFO whose writer left before the relay started: its end still reaches the server")
    func fifoStdinWriterGone() throws {
        let dir = try TempDir(prefix: "mcpbox-relay-fifo")
        defer { dir.remove() }
        let path = dir.sub("in.fifo")
        #expect(mkfifo(path, 0o600) == 0)
        // The client's description saw its writer come and go (a shell's `< fifo` after a short
        // producer); a description opened on the FIFO now would never see that end (no POLLHUP).
        let reader = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        let writer = open(path, O_WRONLY | O_CLOEXEC)
        #expect(reader >= 0 && writer >= 0)
        _ = fcntl(reader, F_SETFL, fcntl(reader, F_GETFL) & ~O_NONBLOCK)
        _ = "hello\n".withCString { Glibc.write(writer, $0, 6) }
        close(writer)
        let run = try RelayRun(argv: [RelayRun.harness, "--grace", "1", "--", try TestSupport.systemPython(),
                                      RelayRun.fixture("echo.py")], stdinFile: reader)
        close(reader)
        var got = [UInt8](), ended = false
        var chunk = [UInt8](repeating: 0, count: 1 << 12)
        while !ended {
            var p = pollfd(fd: run.output, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, 30_000)       // a deadline against a hang, not a measurement
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else { break }
            let n = chunk.withUnsafeMutableBytes { Glibc.read(run.output, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { ended = true } else { got += chunk[..<n] }
        }
        if !ended { kill(-run.pid, SIGKILL) }
        let status = run.wait().status
        #expect(String(decoding: got, as: UTF8.self) == "hello\n")
        #expect(ended, "the relay never saw the end of its FIFO stdin")
        #expect(status == 0)
    }

    @Test("with the MCP layer on and stdin a terminal, the relay never waits in a read of it: the server's output keeps flowing while the client types nothing")
    func ttyStdinNeverBlocks() throws {
        let dir = try TempDir(prefix: "mcpbox-relay-tty")
        defer { dir.remove() }
        // A pseudo-terminal in raw mode (no echo, no line editing): /dev/ptmx, TIOCSPTLCK, TIOCGPTN.
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        try #require(master >= 0)
        var unlock: Int32 = 0, number: UInt32 = 0
        try #require(ioctl(master, 0x4004_5431, &unlock) == 0 && ioctl(master, 0x8004_5430, &number) == 0)
        let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY | O_CLOEXEC)
        try #require(slave >= 0)
        var mode = termios()
        try #require(tcgetattr(slave, &mode) == 0)
        mode.c_iflag &= ~tcflag_t(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON)
        mode.c_oflag &= ~tcflag_t(OPOST)
        mode.c_lflag &= ~tcflag_t(ECHO | ECHONL | ICANON | ISIG | IEXTEN)
        mode.c_cflag &= ~tcflag_t(CSIZE | PARENB)
        mode.c_cflag |= tcflag_t(CS8)
        try #require(tcsetattr(slave, TCSANOW, &mode) == 0)
        let fixtures = URL(fileURLWithPath: RelayRun.fixture("echo.py")).deletingLastPathComponent().path
        let profile = try dir.write("tty.toml", """
            description = "relay: a terminal as the client's stdin"
            [filesystem]
            read_only = ["/usr", "/lib", "/lib64", "/bin", \(tomlString(fixtures))]
            [tools]
            allow = ["git_status"]

            """)
        let run = try RelayRun(argv: [try TestSupport.mcpboxBinary(), "run", profile, "--", try TestSupport.systemPython(),
                                      RelayRun.fixture("echo.py"), "--sleep", "1.5"], stdinFile: slave)
        close(slave)
        let errors = Background { RelayRun.readAll(run.errors) }
        // One 2 MiB request mcpbox holds whole (a tools/list: never streamed) and then writes to
        // the server's stdin pipe, which holds less while the server sleeps: by then the relay has
        // read all the client typed; it waits for room, writes the rest when the server reads,
        // and then must not read the silent terminal (a blocking read there held up the echo).
        let line = Array(#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"padding":""#.utf8)
            + [UInt8](repeating: UInt8(ascii: "x"), count: 2 << 20) + Array(#""}}"#.utf8) + [0x0a]
        let count = 1
        let writer = Background { () -> Bool in
            line.withUnsafeBytes { raw in
                for _ in 0..<count {
                    var off = 0
                    while off < raw.count {
                        let n = Glibc.write(master, raw.baseAddress! + off, raw.count - off)
                        if n < 0 { if errno == EINTR { continue }; return false }
                        off += n
                    }
                }
                return true
            }
        }
        let got = MCPStreamTests.read(run.output, atLeast: line.count * count, seconds: 30)
        #expect(writer.join())
        close(master)                     // the terminal hangs up: mcpbox's stdin ends
        if got.count < line.count * count { run.closeOutput() }   // a stuck relay: let it end
        let status = run.wait().status
        let err = String(decoding: errors.join(), as: UTF8.self)
        #expect(got.count == line.count * count, "the client got \(got.count) of \(line.count * count) bytes; stderr: \(err.suffix(1500))")
        #expect(got == Array((0..<count).map { _ in line }.joined()))
        #expect(status == 0, "stderr: \(err.suffix(1500))")
    }

    @Test("server closing stdout gives the client EOF; stderr keeps flowing")
    func serverStdoutEOF() throws {
        let run = try RelayRun("halfclose.py", grace: 5)
        #expect(RelayRun.readAll(run.output).isEmpty)
        #expect(RelayRun.readLine(run.errors) == "still here")
        #expect(kill(run.pid, 0) == 0)
        run.closeInput()
        #expect(run.wait().status == 0)
    }

    @Test("signals sent to mcpbox reach the server")
    func signalForwarding() throws {
        let run = try RelayRun("signals.py", grace: 10)
        #expect(RelayRun.readLine(run.output) == "ready")
        for (sig, name) in [(SIGUSR1, "SIGUSR1"), (SIGUSR2, "SIGUSR2"), (SIGHUP, "SIGHUP"),
                            (SIGINT, "SIGINT"), (SIGQUIT, "SIGQUIT")] {
            kill(run.pid, sig)
            #expect(RelayRun.readLine(run.output) == "got \(name)")
        }
        run.closeInput()
        #expect(run.wait().status == 0)
    }

    @Test("SIGTERM to the whole process group (Python SDK) and to mcpbox alone (TypeScript SDK)",
          arguments: [true, false])
    func terminate(group: Bool) throws {
        let run = try RelayRun("signals.py", grace: 10)
        #expect(RelayRun.readLine(run.output) == "ready")
        kill(group ? -run.pid : run.pid, SIGTERM)
        #expect(RelayRun.readLine(run.output) == "got SIGTERM")
        let (status, seconds) = run.wait()
        #expect(status == 7)
        #expect(seconds < 5)
    }

    @Test("exit status passes through, 128+N for signal N, output drained",
          arguments: [("exit", 0, 0), ("exit", 42, 42), ("signal", 9, 137), ("signal", 15, 143), ("signal", 6, 134)])
    func exitStatus(how: String, value: Int, expected: Int32) throws {
        let run = try RelayRun("status.py", [how, "\(value)"], grace: 5)
        let err = Background { RelayRun.readAll(run.errors) }
        #expect(RelayRun.readAll(run.output) == Array("bye\n".utf8))
        #expect(err.join() == Array("bye\n".utf8))
        #expect(run.wait().status == expected)
    }

    @Test("stdin EOF alone sends nothing while the client still reads stdout; when it leaves, a server ignoring EOF and SIGTERM is killed within 2 x grace, and stderr says so")
    func stubbornServer() throws {
        let run = try RelayRun("stubborn.py", grace: 0.5)
        #expect(RelayRun.readLine(run.output) == "ready")
        let err = Background { RelayRun.readAll(run.errors) }
        run.closeInput()
        // Six graces later the server is still there: the client holds stdout, so it decides.
        usleep(3_000_000)
        var reaped: Int32 = 0
        #expect(waitpid(run.pid, &reaped, WNOHANG) == 0, "mcpbox ended the server while the client was there")
        let stop = ContinuousClock.now
        run.closeOutput()
        let (status, _) = run.wait()
        let elapsed = ContinuousClock.now - stop
        #expect(status == 137)
        #expect(elapsed >= .milliseconds(950) && elapsed < .milliseconds(1800), "ended after \(elapsed)")
        let said = String(decoding: err.join(), as: UTF8.self)
        #expect(said.contains("mcpbox: sent SIGTERM to the server: the client is gone (its end of stdout closed) and it was still running 500ms later\n"), "\(said)")
        #expect(said.contains("mcpbox: sent SIGKILL to the sandbox: the server was still running 500ms after SIGTERM\n"), "\(said)")
    }

    @Test("a forwarded SIGTERM is the client's escalation: mcpbox adds none of its own and says nothing")
    func forwardedOnly() throws {
        let run = try RelayRun("signals.py", ["ignore-term"], grace: 0.2)
        #expect(RelayRun.readLine(run.output) == "ready")
        let err = Background { RelayRun.readAll(run.errors) }
        kill(-run.pid, SIGTERM)
        #expect(RelayRun.readLine(run.output) == "got SIGTERM")
        usleep(1_500_000)
        var reaped: Int32 = 0
        #expect(waitpid(run.pid, &reaped, WNOHANG) == 0, "mcpbox escalated after a forwarded SIGTERM")
        run.closeInput()
        #expect(run.wait().status == 0)
        #expect(!String(decoding: err.join(), as: UTF8.self).contains("mcpbox: sent"))
    }

    @Test("stdin EOF with stdout going to a file or /dev/null (no reader to watch) ends a stubborn server",
          arguments: [false, true])
    func stdinEOFToFile(devNull: Bool) throws {
        let dir = try TempDir(prefix: "mcpbox-relay-file")
        defer { dir.remove() }
        let out = devNull ? "/dev/null" : try dir.write("out", "")
        let run = try RelayRun(argv: ["/bin/sh", "-c", "exec \"$0\" --grace 0.3 -- \"$1\" \"$2\" > \"$3\"",
                                      RelayRun.harness, try TestSupport.systemPython(),
                                      RelayRun.fixture("stubborn.py"), out])
        let err = Background { RelayRun.readAll(run.errors) }
        run.closeInput()
        #expect(run.wait().status == 137)
        #expect(String(decoding: err.join(), as: UTF8.self).contains("mcpbox: sent SIGTERM to the server: the client closed stdin and it was still running 300ms later"))
    }

    @Test("wall time: SIGTERM when reached, SIGKILL one grace later")
    func wallTime() throws {
        let run = try RelayRun("stubborn.py", grace: 0.5, wall: 1)
        #expect(RelayRun.readLine(run.output) == "ready")
        let (status, seconds) = run.wait()
        #expect(status == 137)
        #expect(seconds >= 1.45 && seconds < 2.5, "ended after \(seconds) s")
    }

    @Test("a vanished client (stdout closed, no signal, stdin left open) ends the server",
          arguments: ["stubborn.py", "echo.py"])
    func vanishedClient(fixture: String) throws {
        let run = try RelayRun(fixture, grace: 0.5)
        if fixture == "stubborn.py" { #expect(RelayRun.readLine(run.output) == "ready") }
        let stop = ContinuousClock.now
        run.closeOutput()
        run.write(Array("are you there?\n".utf8))
        let (status, _) = run.wait()
        let elapsed = ContinuousClock.now - stop
        #expect(status != 0)
        if fixture == "stubborn.py" { #expect(status == 137) }
        #expect(elapsed < .milliseconds(1800), "ended after \(elapsed)")
    }
}
