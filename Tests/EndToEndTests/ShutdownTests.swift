import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Clean shutdown under real clients: 50 concurrent sessions of the real mcp-server-time under
/// the shipped `time` profile (which, as root, gets its optional memory cgroup), closed the
/// patient way and through the real Python MCP SDK (Fixtures/mcp_sessions.py).
@Suite("Shutdown under real clients", .serialized, .enabled(if: TestSupport.isRoot, "makes cgroups: run as root (CI does)"))
struct ShutdownTests {
    static let sessions = 50
    /// Where mcpbox makes its groups (cgroup v1 memory and cpu, or v2).
    static let cgroupParents = ["/sys/fs/cgroup/memory/mcpbox", "/sys/fs/cgroup/cpu/mcpbox", "/sys/fs/cgroup/mcpbox"]

    struct Report: Decodable {
        struct Session: Decodable {
            var pid: Int32
            var returncode: Int?
            var close_seconds: Double?
            var sigterm: Bool
            var sigkill: Bool
            var stderr: String
        }
        var sessions: [Session]
        var error: String?
    }

    /// The cgroup directories named after mcpbox process `pid`.
    static func groups(of pid: Int32) -> [String] {
        cgroupParents.flatMap { parent in
            ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [])
                .filter { $0.hasPrefix("\(pid)-") }.map { parent + "/" + $0 }
        }
    }

    static func run(mode: String) throws -> Report {
        let venv = try TestSupport.venv()
        let home = try TempDir(prefix: "mcpbox-shutdown")
        defer { home.remove() }
        let env = ["PATH": "\(venv)/bin:/usr/local/bin:/usr/bin:/bin", "HOME": home.path, "LANG": "C.UTF-8"]
        let config: [String: Any] = [
            "mode": mode, "sessions": sessions, "command": try TestSupport.mcpboxBinary(),
            "args": ["run", "time", "--profile-path", TestSupport.profilesDir], "env": env,
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures/mcp_sessions.py").path
        let r = try runProcess([venv + "/bin/python", script, json], environment: env, timeout: 900)
        guard !r.timedOut else { throw SupportError("mcp_sessions.py timed out; stderr: \(r.stderr.suffix(2000))") }
        guard let report = try? JSONDecoder().decode(Report.self, from: r.stdout) else {
            throw SupportError("mcp_sessions.py exited \(r.status) without a report: \(r.stderr.suffix(2000)) \(r.stdoutText.prefix(500))")
        }
        return report
    }

    static func summary(_ report: Report) -> String {
        var statuses: [String: Int] = [:]
        for s in report.sessions { statuses[s.returncode.map { String($0) } ?? "none", default: 0] += 1 }
        let times = report.sessions.compactMap(\.close_seconds).sorted()
        let median = times.isEmpty ? -1 : times[times.count / 2]
        return "statuses \(statuses.sorted { $0.key < $1.key }), close→exit median \(median) s, max \(times.last ?? -1) s, "
            + "SDK SIGTERM \(report.sessions.filter(\.sigterm).count), SDK SIGKILL \(report.sessions.filter(\.sigkill).count)"
    }

    @Test("50 concurrent sessions closed the patient way (stdin closed, no signal): every mcpbox exits 0, no cgroup left")
    func patient() throws {
        let report = try Self.run(mode: "patient")
        print("patient close of \(Self.sessions) sessions: \(Self.summary(report))")
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(report.sessions.count == Self.sessions)
        for s in report.sessions {
            #expect(s.returncode == 0, "mcpbox \(s.pid) exited \(String(describing: s.returncode)): \(s.stderr)")
            #expect(!s.stderr.contains("mcpbox: sent"), "mcpbox \(s.pid) escalated on its own: \(s.stderr)")
            #expect(Self.groups(of: s.pid).isEmpty, "mcpbox \(s.pid) left \(Self.groups(of: s.pid))")
        }
    }

    @Test("50 concurrent sessions through the Python SDK: every mcpbox exits before the SDK's SIGKILL would be needed, no cgroup left")
    func pythonSDK() throws {
        let report = try Self.run(mode: "sdk")
        print("Python SDK close of \(Self.sessions) sessions: \(Self.summary(report))")
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(report.sessions.count == Self.sessions)
        for s in report.sessions {
            // The protocol bound: stdin closed, 2 s, SIGTERM, 2 s, SIGKILL.
            #expect(!s.sigkill, "the SDK had to SIGKILL mcpbox \(s.pid) (close took \(s.close_seconds ?? -1) s)")
            #expect((s.close_seconds ?? 99) < 4, "mcpbox \(s.pid) took \(s.close_seconds ?? -1) s to exit")
            // 0 when the server exited at EOF within the SDK's 2 s, 143 when the SDK's own SIGTERM
            // (forwarded) ended it first.
            #expect(s.returncode == 0 || (s.sigterm && s.returncode == 143),
                    "mcpbox \(s.pid) exited \(String(describing: s.returncode)) (SIGTERM sent: \(s.sigterm)): \(s.stderr)")
            #expect(!s.stderr.contains("mcpbox: sent"), "mcpbox \(s.pid) escalated on its own: \(s.stderr)")
            #expect(Self.groups(of: s.pid).isEmpty, "mcpbox \(s.pid) left \(Self.groups(of: s.pid))")
        }
    }

    @Test("the cgroup of an mcpbox killed by SIGKILL is swept by the next launch")
    func sweep() throws {
        let venv = try TestSupport.venv()
        let mcpbox = try TestSupport.mcpboxBinary()
        let home = try TempDir(prefix: "mcpbox-sweep")
        defer { home.remove() }
        let env = ["PATH": "\(venv)/bin:/usr/local/bin:/usr/bin:/bin", "HOME": home.path, "LANG": "C.UTF-8"]
        // `sleep` under the shipped `time` profile (base binds /usr): a session that stays.
        let marker = "3\(UInt32.random(in: 100_000...999_999)).25"
        let killed = Process()
        killed.executableURL = URL(fileURLWithPath: mcpbox)
        killed.arguments = ["run", "time", "--profile-path", TestSupport.profilesDir, "--", "/usr/bin/sleep", marker]
        killed.environment = env
        killed.standardInput = Pipe()
        killed.standardOutput = FileHandle.nullDevice
        try killed.run()
        let pid = killed.processIdentifier
        var left: [String] = []
        for _ in 0..<500 where left.isEmpty {
            left = Self.groups(of: pid)
            usleep(10_000)
        }
        #expect(!left.isEmpty, "mcpbox \(pid) made no cgroup (the shipped profile's memory = \"?1GiB\" should apply as root)")
        // Wait until the sandbox runs, then kill mcpbox outright: it cannot remove its groups.
        for _ in 0..<500 {
            let procs = left.compactMap { try? String(contentsOfFile: $0 + "/cgroup.procs", encoding: .utf8) }
            if procs.contains(where: { !$0.isEmpty }) { break }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        killed.waitUntilExit()
        #expect(left.allSatisfy { FileManager.default.fileExists(atPath: $0) }, "the groups were gone without a sweep")
        // The sandbox dies with mcpbox (parent-death signal); wait until the groups are empty.
        for _ in 0..<500 {
            let procs = left.compactMap { try? String(contentsOfFile: $0 + "/cgroup.procs", encoding: .utf8) }
            if procs.allSatisfy(\.isEmpty) { break }
            usleep(10_000)
        }

        let next = try runProcess([mcpbox, "run", "time", "--profile-path", TestSupport.profilesDir, "--", "/usr/bin/true"],
                                  environment: env, timeout: 120)
        #expect(next.status == 0, "next launch: \(next.stderr)")
        let remaining = left.filter { FileManager.default.fileExists(atPath: $0) }
        #expect(remaining.isEmpty, "left behind after the next launch: \(remaining)")
    }
}
