import Foundation
import MCPBoxTestSupport
import Testing

/// The network log is written by mcpbox outside the sandbox, one record per decision: a server
/// that asked the DNS stub for refused names as fast as it could wrote 36 MB/s to the host's disk
/// (183 MB in 5 s), with no bound. It was size-rotated (found by a red-team pass) — and then a
/// second pass flooded it to push its own earlier records, and earlier sessions', out of the
/// rotation. Each session now writes at most a quarter of `max_size`; past that its records are
/// counted (`egress.budget_spent`, then `egress.suppressed` with the counts at its end). Fails
/// on the build before each fix.
@Suite("the network log stays bounded", .enabled(if: TestSupport.isRoot, "runs a sandbox with network.mode allow as root (CI does)"))
struct NetworkLogBoundTests {
    @Test("a flood of refused DNS queries writes at most the session's budget, and earlier sessions' records stay")
    func floodBounded() throws {
        let tmp = try TempDir(prefix: "mcpbox-netlog")
        defer { tmp.remove() }
        chmod(tmp.path, 0o755)
        let logs = try tmp.makeDir("logs", mode: 0o700)
        let log = logs + "/net.jsonl"
        let flood = try tmp.write("flood.py", """
            import socket, struct, time
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setblocking(False)
            n = b'x' * 60
            q = struct.pack('>HHHHHH', 1, 0x100, 1, 0, 0, 0) + b''.join(bytes([len(l)]) + l for l in [n, n, n, b'refused']) + b'\\0' + struct.pack('>HH', 1, 1)
            end = time.time() + 4
            while time.time() < end:
                try: s.sendto(q, ('127.0.0.1', 53))
                except BlockingIOError: pass
                try:
                    while True: s.recv(600)
                except BlockingIOError: pass
            print("flooded")
            """)
        chmod(flood, 0o644)
        let profile = try tmp.write("p.toml", """
            [filesystem]
            read_only = [\(tomlString(tmp.path))]
            [network]
            mode = "allow"
            allow = ["127.0.0.2:9"]
            log = \(tomlString(log))

            """)
        // Two flooding sessions: neither may push the other's records (or its own first ones) out.
        for session in 1...2 {
            let run = try runProcess([try TestSupport.mcpboxBinary(), "run", profile, "--profile-path", TestSupport.profilesDir, "--", "/usr/bin/python3", flood],
                                     environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": tmp.path], keepStdinOpen: true, timeout: 120)
            #expect(run.status == 0 && run.stdoutText.contains("flooded"), "session \(session): exit \(run.status): \(run.stderr.suffix(1500))")
        }
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []).filter { !$0.hasSuffix(".lock") }
        var total: UInt64 = 0
        for f in files { total += (try? FileManager.default.attributesOfItem(atPath: logs + "/" + f)[.size] as? UInt64) ?? 0 }
        // The default rotation: 10 MiB files; a session's budget is a quarter of that.
        #expect(files == ["net.jsonl"], "the floods rotated the log: \(files.sorted())")
        #expect(total <= 2 * ((10 << 20) / 4 + 65536), "\(total) bytes for two sessions")
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n")
        let spent = lines.filter { $0.contains("\"kind\":\"egress.budget_spent\"") }
        let counted = lines.filter { $0.contains("\"kind\":\"egress.suppressed\"") }
        #expect(spent.count == 2 && counted.count == 2, "\(spent.count) budget_spent, \(counted.count) suppressed records")
        #expect(counted.allSatisfy { !$0.contains("\"denied\":0,") }, "\(counted)")
        #expect(lines.first?.contains("\"kind\":\"egress\"") == true && lines.first?.contains("denied") == true, "the first session's first record is gone: \(lines.first ?? "")")
    }
}
