import Foundation
import MCPBoxTestSupport
import Testing

/// The network log is written by mcpbox outside the sandbox, one record per decision: a server
/// that asked the DNS stub for refused names as fast as it could wrote 36 MB/s to the host's disk
/// (183 MB in 5 s), with no bound. It is size-rotated now, like the audit log. Found by a red-team
/// pass; fails on the build before the fix.
@Suite("the network log stays bounded", .enabled(if: TestSupport.isRoot, "runs a sandbox with network.mode allow as root (CI does)"))
struct NetworkLogBoundTests {
    @Test("a flood of refused DNS queries rotates the log at 10 MiB instead of growing it")
    func floodRotates() throws {
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
        let run = try runProcess([try TestSupport.mcpboxBinary(), "run", profile, "--profile-path", TestSupport.profilesDir, "--", "/usr/bin/python3", flood],
                                 environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": tmp.path], keepStdinOpen: true, timeout: 120)
        #expect(run.status == 0 && run.stdoutText.contains("flooded"), "exit \(run.status): \(run.stderr.suffix(1500))")
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []).filter { !$0.hasSuffix(".lock") }
        var total: UInt64 = 0
        for f in files { total += (try? FileManager.default.attributesOfItem(atPath: logs + "/" + f)[.size] as? UInt64) ?? 0 }
        let current = (try? FileManager.default.attributesOfItem(atPath: log)[.size] as? UInt64) ?? 0
        #expect(current <= 10 << 20 + 65536, "the log grew to \(current) bytes")
        #expect(files.count <= 6 && total <= 60 << 20 + 6 * 65536, "\(files.sorted()): \(total) bytes")
        #expect(total > 10 << 20, "the flood wrote too little to test the bound (\(total) bytes): \(files.sorted())")
    }
}
