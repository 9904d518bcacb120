import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The after-session git sweep survives mcpbox's death: a server plants a nested repository
/// with a gitlink (Fixtures/hostile/git_stubborn.py) and ignores stdin's end and SIGTERM, so the
/// client SIGKILLs mcpbox the way the Python MCP SDK does; the guard must still move it aside.
@Suite("Git sweep guard", .serialized,
       .enabled(if: TestSupport.isRoot, "creates throwaway accounts: run as root (CI does)"))
struct SweepGuardTests {
    /// The copy of the fixture in the scenario's read-only `bin`.
    static func installServer(_ s: GitEscapeTests.Scenario) throws -> String {
        let script = s.tmp.sub("bin/git_stubborn.py")
        try FileManager.default.copyItem(atPath: HostileRun.fixtures + "/git_stubborn.py", toPath: script)
        chmod(script, 0o644)
        return script
    }

    /// Processes running the scenario's own copy of mcpbox (the guard included).
    static func processes(of binary: String) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }.filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/exe")) == binary
        }
    }

    /// Polls `condition` up to `seconds` (a bound, not a timing assertion).
    static func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(100_000)
        }
        return condition()
    }

    static func quarantined(_ repo: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: repo + "/nested")) ?? []).filter { $0.hasPrefix(".git.mcpbox-quarantine-") }
    }

    @Test("mcpbox SIGKILLed after the Python SDK's shutdown: the guard moves the nested repository aside")
    func killedMcpbox() throws {
        let s = try GitEscapeTests.Scenario(mode: .rootNobody)
        defer { s.cleanUp() }
        let script = try Self.installServer(s)
        let log = s.tmp.sub(".local/state/mcpbox/quarantine.log")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: s.binary)
        p.arguments = ["run", s.profile, "--profile-path", TestSupport.profilesDir, "--set", "repo=\(s.repo)", "--",
                       try TestSupport.systemPython(), script, s.repo, s.canaries, "--repository", s.repo]
        p.environment = s.hostEnv
        p.currentDirectoryURL = URL(fileURLWithPath: "/")
        let input = Pipe(), output = Pipe()
        let errors = try s.tmp.write("mcpbox.stderr", "")
        p.standardInput = input
        p.standardOutput = output
        p.standardError = FileHandle(forWritingAtPath: errors)
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        let planted = String(decoding: output.fileHandleForReading.readData(ofLength: 8), as: UTF8.self)
        try #require(planted.hasPrefix("planted"), "the server did not plant: \(planted) \((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")
        #expect(FileManager.default.fileExists(atPath: s.repo + "/nested/.git/config"))
        // The Python MCP SDK: close stdin, wait 2 s, SIGTERM, wait 2 s, SIGKILL.
        try input.fileHandleForWriting.close()
        sleep(2)
        kill(p.processIdentifier, SIGTERM)
        sleep(2)
        #expect(p.isRunning, "mcpbox ended on its own: the server was meant to ignore SIGTERM")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL)

        let moved = Self.eventually(20) { !FileManager.default.fileExists(atPath: s.repo + "/nested/.git") && !Self.quarantined(s.repo).isEmpty }
        #expect(moved, "the nested repository was not moved aside: \((try? FileManager.default.contentsOfDirectory(atPath: s.repo + "/nested")) ?? [])")
        let text = Self.eventually(5) { FileManager.default.fileExists(atPath: log) } ? ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "") : ""
        #expect(text.contains(s.repo + "/nested/.git") && text.contains("quarantine"), "quarantine log: \(text)")
        // The repository known at launch is still the object recorded then (the guard got its
        // identity from mcpbox), so it stays.
        #expect(FileManager.default.fileExists(atPath: s.repo + "/.git/HEAD") && !text.contains(s.repo + "/.git,"), "quarantine log: \(text)")
        var st = stat()
        #expect(stat(s.tmp.sub(".local/state/mcpbox"), &st) == 0 && st.st_mode & 0o777 == 0o700, "state directory mode \(String(st.st_mode & 0o777, radix: 8))")
        #expect(Self.eventually(10) { Self.processes(of: s.binary).isEmpty }, "an mcpbox process is left: \(Self.processes(of: s.binary))")

        s.runHostGit()
        let fired = (try? FileManager.default.contentsOfDirectory(atPath: s.canaries)) ?? []
        #expect(fired.isEmpty, "host git ran the server's payloads: \(fired.sorted())")
    }

    @Test("normal end: mcpbox sweeps and says so on stderr, and no guard is left behind")
    func normalEnd() throws {
        let s = try GitEscapeTests.Scenario(mode: .rootNobody)
        defer { s.cleanUp() }
        let script = try Self.installServer(s)
        let run = try s.mcpbox(["run"], command: [try TestSupport.systemPython(), script, s.repo, s.canaries, "--exit", "--repository", s.repo])
        #expect(run.status == 0, "exit \(run.status): \(run.stderr)")
        #expect(run.stderr.contains(s.repo + "/nested/.git") && run.stderr.contains("moved"), "stderr: \(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: s.repo + "/nested/.git") && !Self.quarantined(s.repo).isEmpty)
        #expect(Self.processes(of: s.binary).isEmpty, "a guard is left: \(Self.processes(of: s.binary))")
        #expect(!FileManager.default.fileExists(atPath: s.tmp.sub(".local/state/mcpbox/quarantine.log")), "the guard logged although mcpbox swept")
        let explain = try s.mcpbox(["explain"])
        #expect(explain.stdoutText.contains("git guard") && explain.stdoutText.contains(s.tmp.sub(".local/state/mcpbox/quarantine.log")), "\(explain.stdoutText)")
    }
}
