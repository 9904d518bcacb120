import Foundation
import Glibc
import MCPBoxTestSupport
import Testing

/// The relay and lifecycle through the real `mcpbox run`: sandbox, pid-1 reaper and relay together.
@Suite("Relay through mcpbox run", .serialized)
struct RelaySandboxTests {
    /// Writes a profile that binds /usr and the relay fixtures, with the given limits.
    static func profile(_ dir: TempDir, grace: String = "500ms", wall: String = "0", extra: String = "") throws -> String {
        let fixtures = URL(fileURLWithPath: RelayRun.fixture("echo.py")).deletingLastPathComponent().path
        return try dir.write("relay.toml", """
            description = "relay tests: the fixtures under Tests/SandboxTests/Fixtures/relay"
            [filesystem]
            read_only = ["/usr", "/lib", "/lib64", "/bin", \(tomlString(fixtures))]
            [limits]
            shutdown_grace = \(tomlString(grace))
            wall_time = \(tomlString(wall))
            \(extra)
            """)
    }

    /// What `run` prints on stderr before the server starts when root runs it without [user].
    static let nobodyWarning = "mcpbox: warning: identity: the server runs as the shared `nobody` account (uid 65534), like other services may; set [user] name to a dedicated account\n"

    /// `mcpbox run PROFILE -- python3 FIXTURE ARGS`.
    static func start(_ fixture: String, _ args: [String] = [], grace: String = "500ms",
                      wall: String = "0", sockets: Bool = false, extra: String = "") throws -> (RelayRun, TempDir) {
        let dir = try TempDir(prefix: "mcpbox-relay")
        let path = try profile(dir, grace: grace, wall: wall, extra: extra)
        let run = try RelayRun(argv: [try TestSupport.mcpboxBinary(), "run", path, "--",
                                      try TestSupport.systemPython(), RelayRun.fixture(fixture)] + args,
                               sockets: sockets)
        return (run, dir)
    }

    /// Host pids whose argv is exactly `sleep MARKER`.
    static func sleepers(_ marker: String) -> [Int32] {
        let want = Array("sleep\0\(marker)\0".utf8)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { name in
            guard let pid = Int32(name),
                  let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline"),
                  Array(data) == want else { return nil }
            return pid
        }
    }

    /// Waits up to `seconds` for no `sleep MARKER` to remain on the host.
    static func allGone(_ marker: String, within seconds: Double) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if sleepers(marker).isEmpty { return true }
            usleep(20_000)
        }
        return sleepers(marker).isEmpty
    }

    @Test("byte-exact both ways through the sandbox, stderr included", arguments: [false, true])
    func byteExact(sockets: Bool) throws {
        let (run, dir) = try Self.start("tee.py", sockets: sockets)
        defer { dir.remove() }
        RelayTests.checkByteExact(run, seed: sockets ? 3 : 5, lineMiB: 16, tinyWrites: 2000, mcpboxWarnings: true)
    }

    @Test("mcpbox's resident set stays under 6 MiB while 1 GiB goes to a slow reader (12 MiB over its whole life)")
    func backpressure() throws {
        let (run, dir) = try Self.start("flood.py", ["\(1 << 30)"])
        defer { dir.remove() }
        let (relaying, lifetime) = RelayTests.slowRead(run, total: 1 << 30)
        print("mcpbox RSS relaying 1024 MiB: peak \(relaying) KiB (VmHWM with start-up: \(lifetime) KiB)")
        // The relay drops the program text start-up touched (relay.c), so relaying costs little;
        // start-up and shutdown run Swift code over a 35 MB static binary.
        #expect(relaying > 0 && relaying <= 6 * 1024, "mcpbox peak RSS while relaying \(relaying) KiB")
        #expect(lifetime <= 12 * 1024, "mcpbox VmHWM \(lifetime) KiB")
    }

    @Test("mcpbox's resident set peaks at 3 MiB or less over its whole life, start-up included")
    func startupPeak() throws {
        // The process the client started stays a small C relay (mcpbox_host.h): the Swift
        // start-up runs in a worker, whose pages never count here.
        let (run, dir) = try Self.start("echo.py")
        defer { dir.remove() }
        run.write(Array("hello\n".utf8))
        #expect(RelayRun.readLine(run.output) == "hello")
        let peak = run.memoryKiB("VmHWM") ?? Int.max
        print("mcpbox VmHWM after a launch and a round trip: \(peak) KiB")
        run.closeInput()
        #expect(run.wait().status == 0)
        #expect(peak <= 3 * 1024, "mcpbox VmHWM \(peak) KiB")
    }

    @Test("started with SIGCHLD blocked, mcpbox leaves no zombie in its process group (the Python SDK waits for it to empty)")
    func noZombieWorker() throws {
        let dir = try TempDir(prefix: "mcpbox-relay")
        defer { dir.remove() }
        let path = try Self.profile(dir, grace: "10s")
        let python = try TestSupport.systemPython()
        // The mask survives exec: mcpbox starts with SIGCHLD blocked, as under some runners (and
        // with SIGCHLD's default action: an ignored one, which this runner may pass on, reaps).
        let blockAndExec = "import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_DFL); "
            + "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD]); os.execv(sys.argv[1], sys.argv[1:])"
        let run = try RelayRun(argv: [python, "-c", blockAndExec, try TestSupport.mcpboxBinary(), "run", path, "--",
                                      python, RelayRun.fixture("signals.py")])
        #expect(RelayRun.readLine(run.output) == "ready")
        // Left: pid 1 alone (mcpbox's start-up worker is reaped once it has handed over).
        var children: [pid_t] = []
        for _ in 0..<200 {
            children = Pid1MemoryTests.children(of: run.pid)
            if children.count == 1 { break }
            usleep(10_000)
        }
        #expect(children.count == 1 && Pid1MemoryTests.isNamespaceInit(children[0]), "children of mcpbox: \(children)")
        kill(-run.pid, SIGTERM)
        #expect(RelayRun.readLine(run.output) == "got SIGTERM")
        #expect(run.wait().status == 7)
    }

    @Test("started with SIGCHLD ignored, mcpbox still exits with the server's status")
    func ignoredSIGCHLD() throws {
        let dir = try TempDir(prefix: "mcpbox-relay")
        defer { dir.remove() }
        let path = try Self.profile(dir)
        let python = try TestSupport.systemPython()
        // An ignored SIGCHLD survives exec; the kernel would then reap pid 1 itself.
        let ignoreAndExec = "import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])"
        let run = try RelayRun(argv: [python, "-c", ignoreAndExec, try TestSupport.mcpboxBinary(), "run", path, "--",
                                      python, RelayRun.fixture("status.py"), "exit", "3"])
        let err = Background { RelayRun.readAll(run.errors) }
        #expect(RelayRun.readAll(run.output) == Array("bye\n".utf8))
        _ = err.join()
        #expect(run.wait().status == 3)
    }

    @Test("with the MCP layer (the worker relays): signals sent to mcpbox reach the server through the worker")
    func workerSignals() throws {
        let (run, dir) = try Self.start("signals.py", grace: "10s", extra: "[tools]\ndeny = [\"*commit*\"]\n")
        defer { dir.remove() }
        #expect(RelayRun.readLine(run.output) == "ready")
        // To mcpbox's pid alone: only the forward from mcpbox's first process to the worker's
        // relay can carry them (a process group's signals also reach pid 1 directly).
        for (sig, name) in [(SIGUSR1, "SIGUSR1"), (SIGUSR2, "SIGUSR2"), (SIGHUP, "SIGHUP"), (SIGQUIT, "SIGQUIT"),
                            (SIGINT, "SIGINT")] {
            kill(run.pid, sig)
            #expect(RelayRun.readLine(run.output) == "got \(name)")
        }
        kill(run.pid, SIGTERM)
        #expect(RelayRun.readLine(run.output) == "got SIGTERM")
        #expect(run.wait().status == 7)
    }

    @Test("signals reach the server through pid 1; SIGTERM ends it with its own status")
    func signals() throws {
        let (run, dir) = try Self.start("signals.py", grace: "10s")
        defer { dir.remove() }
        #expect(RelayRun.readLine(run.output) == "ready")
        for (sig, name) in [(SIGUSR1, "SIGUSR1"), (SIGUSR2, "SIGUSR2"), (SIGHUP, "SIGHUP"), (SIGQUIT, "SIGQUIT")] {
            kill(run.pid, sig)
            #expect(RelayRun.readLine(run.output) == "got \(name)")
        }
        kill(-run.pid, SIGTERM)
        #expect(RelayRun.readLine(run.output) == "got SIGTERM")
        #expect(run.wait().status == 7)
    }

    @Test("exit status through the sandbox: the server's, 128+N for signal N",
          arguments: [("exit", 3, 3), ("signal", 9, 137), ("signal", 15, 143)])
    func exitStatus(how: String, value: Int, expected: Int32) throws {
        let (run, dir) = try Self.start("status.py", [how, "\(value)"])
        defer { dir.remove() }
        let err = Background { RelayRun.readAll(run.errors) }
        #expect(RelayRun.readAll(run.output) == Array("bye\n".utf8))
        // mcpbox's own warning (root without [user]), once, before the server's bytes.
        #expect(err.join() == Array((Self.nobodyWarning + "bye\n").utf8))
        #expect(run.wait().status == expected)
    }

    @Test("a server ignoring EOF and SIGTERM is gone within 2 x shutdown_grace once the client leaves")
    func stubborn() throws {
        let (run, dir) = try Self.start("stubborn.py", grace: "500ms")
        defer { dir.remove() }
        #expect(RelayRun.readLine(run.output) == "ready")
        run.closeInput()
        usleep(1_500_000)
        var reaped: Int32 = 0
        #expect(waitpid(run.pid, &reaped, WNOHANG) == 0, "mcpbox ended the server while the client was there")
        let stop = ContinuousClock.now
        run.closeOutput()
        let status = run.wait().status
        let elapsed = ContinuousClock.now - stop
        #expect(status == 137)
        #expect(elapsed >= .milliseconds(950) && elapsed < .milliseconds(1800), "ended after \(elapsed)")
    }

    @Test("wall_time ends a stubborn server: SIGTERM, then SIGKILL one grace later")
    func wallTime() throws {
        let (run, dir) = try Self.start("stubborn.py", grace: "500ms", wall: "1s")
        defer { dir.remove() }
        #expect(RelayRun.readLine(run.output) == "ready")
        let (status, seconds) = run.wait()
        #expect(status == 137)
        #expect(seconds >= 1.45 && seconds < 3, "ended after \(seconds) s")
    }

    @Test("a vanished client ends the sandbox within 2 x grace")
    func vanished() throws {
        let (run, dir) = try Self.start("stubborn.py", grace: "500ms")
        defer { dir.remove() }
        #expect(RelayRun.readLine(run.output) == "ready")
        let stop = ContinuousClock.now
        run.closeOutput()
        let status = run.wait().status
        #expect(status == 137)
        #expect(ContinuousClock.now - stop < .milliseconds(1800))
    }

    @Test("mcpbox killed by SIGKILL takes every sandboxed process with it, daemons included")
    func sigkillMcpbox() throws {
        let marker = "7\(UInt32.random(in: 100_000...999_999)).5"
        let (run, dir) = try Self.start("daemon.py", [marker])
        defer { dir.remove() }
        #expect(RelayRun.readLine(run.output) == "ready")
        #expect(Self.sleepers(marker).count == 1)
        kill(run.pid, SIGKILL)
        #expect(run.wait().status == 137)
        #expect(Self.allGone(marker, within: 3), "the daemonized grandchild survived mcpbox's SIGKILL")
    }

    @Test("when the server exits, its leftover daemon dies too and mcpbox returns promptly")
    func leftoverChildren() throws {
        let marker = "8\(UInt32.random(in: 100_000...999_999)).5"
        let (run, dir) = try Self.start("daemon.py", [marker, "exit"], grace: "10s")
        defer { dir.remove() }
        #expect(RelayRun.readLine(run.output) == "ready")
        let (status, seconds) = run.wait()
        #expect(status == 0)
        #expect(seconds < 5)
        #expect(Self.allGone(marker, within: 1), "a daemon outlived the server's exit")
    }
}
