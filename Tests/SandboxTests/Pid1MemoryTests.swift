import Foundation
import Glibc
import MCPBoxTestSupport
import Testing

/// pid 1 is a copy-on-write fork of mcpbox; once the server runs it gives back all it inherited
/// (Sources/CSandbox/reaper.c) and must still do its whole job.
@Suite("pid 1's memory", .serialized)
struct Pid1MemoryTests {
    /// The children of `pid` (from each process's /proc/PID/stat).
    static func children(of pid: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { name in
            guard let child = Int32(name),
                  let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid ? child : nil
        }
    }

    /// A field of /proc/PID/smaps_rollup in KiB.
    static func rollup(_ pid: pid_t, _ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
        }
        return nil
    }

    /// Whether `pid` is pid 1 of a pid namespace below ours (its status's NSpid ends in 1).
    static func isNamespaceInit(_ pid: pid_t) -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
        for line in text.split(separator: "\n") where line.hasPrefix("NSpid:") {
            let ids = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst()
            return ids.count > 1 && ids.last == "1"
        }
        return false
    }

    @Test("pid 1 keeps under 64 KiB of anonymous memory once the server runs, and still forwards signals and reaps")
    func released() throws {
        let (run, dir) = try RelaySandboxTests.start("signals.py", grace: "10s")
        defer { dir.remove() }
        #expect(RelayRun.readLine(run.output) == "ready")
        // pid 1 is the child that is 1 in its own pid namespace (mcpbox's start-up worker may
        // not be reaped yet).
        let pid1 = try #require(Self.children(of: run.pid).first { Self.isNamespaceInit($0) })
        // The release follows the server's exec at once; wait for it (the copy holds ~300 KiB).
        var anonymous = Int.max
        for _ in 0..<500 {
            anonymous = Self.rollup(pid1, "Anonymous") ?? Int.max
            if anonymous <= 64 { break }
            usleep(10_000)
        }
        print("pid 1 anonymous memory: \(anonymous) KiB, PSS \(Self.rollup(pid1, "Pss") ?? -1) KiB")
        #expect(anonymous <= 64, "pid 1 holds \(anonymous) KiB of anonymous memory")
        kill(run.pid, SIGUSR1)
        #expect(RelayRun.readLine(run.output) == "got SIGUSR1")
        kill(-run.pid, SIGTERM)
        #expect(RelayRun.readLine(run.output) == "got SIGTERM")
        #expect(run.wait().status == 7)
    }
}
