import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The egress log wrote a connection's record when the connection ended: one still open when the
/// session ended (an upstream that holds it, an event stream) left no record at all, and nor did a
/// connection turned away because the proxy was full. Found by a red-team pass (2026-12-03); fails
/// on the build before the fix.
@Suite("egress: a connection still open at the session's end is logged", .serialized,
       .enabled(if: TestSupport.isRoot, "runs a sandbox with network.mode allow as root (CI does)"))
struct EgressOpenAtEndTests {
    static let upstream = """
        import socket, sys, threading
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('127.0.0.2', 0)); s.listen(8)
        print(s.getsockname()[1], flush=True)
        held = []
        def hold(c):
            held.append(c)
            with open(sys.argv[1], 'a') as f:
                f.write('request %r\\n' % c.recv(4096)[:60])
            # Never answers, never closes.
        while True:
            c, _ = s.accept()
            threading.Thread(target=hold, args=(c,), daemon=True).start()
        """
    static let client = """
        import socket, sys, time
        s = socket.create_connection(('127.0.0.1', 3128))
        port = sys.argv[1]
        s.sendall(('GET http://api.test:%s/events HTTP/1.1\\r\\nHost: api.test:%s\\r\\n\\r\\n' % (port, port)).encode())
        time.sleep(0.5)
        print('leaving with the connection open', flush=True)
        """

    @Test("an allowed request whose upstream never answers is in the log after the session, marked open at its end")
    func openConnectionLogged() throws {
        let tmp = try TempDir(prefix: "mcpbox-egress-open")
        defer { tmp.remove() }
        let (up, client, seen) = try LoopbackUpstream.start(in: tmp, upstream: Self.upstream, client: Self.client)
        defer { up.stop() }
        let port = up.port
        let log = tmp.path + "/net.jsonl"
        let profile = try LoopbackUpstream.profile(in: tmp, port: port, extra: "log = \(tomlString(log))\n")
        let run = try runProcess([try TestSupport.mcpboxBinary(), "run", profile, "--profile-path", TestSupport.profilesDir, "--",
                                  "/usr/bin/python3", client, String(port)],
                                 environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": tmp.path], timeout: 60)
        #expect(run.status == 0 && run.stdoutText.contains("leaving"), "exit \(run.status): \(run.stdoutText) \(run.stderr.suffix(1500))")
        let upstreamSaw = (try? String(contentsOfFile: seen, encoding: .utf8)) ?? ""
        #expect(upstreamSaw.contains("GET /events"), "the request did not reach the upstream: \(upstreamSaw)")
        let records = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(records.contains { $0["kind"] as? String == "egress" && $0["host"] as? String == "api.test"
            && $0["decision"] as? String == "allowed" && ($0["reason"] as? String ?? "").contains("still open when the session ended") },
                "no record of the open connection: \(records)")
    }
}

/// A Python upstream on 127.0.0.2 that prints its port on its first line; killed by `stop`.
struct LoopbackUpstream {
    let process: Process
    let port: Int

    init(script: String, arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        var portText = ""
        while !portText.hasSuffix("\n") {
            let d = out.fileHandleForReading.readData(ofLength: 1)
            if d.isEmpty { Self.stop(process); throw SupportError("the upstream did not start") }
            portText += String(decoding: d, as: UTF8.self)
        }
        guard let port = Int(portText.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            Self.stop(process)
            throw SupportError("the upstream printed no port: \(portText)")
        }
        self.process = process
        self.port = port
    }

    /// In `tmp` (made readable to the sandbox): the upstream script, started with the path of
    /// its log (`upstream.log`), and the client script for the sandbox (world-readable).
    static func start(in tmp: TempDir, upstream: String, client: String) throws -> (LoopbackUpstream, client: String, log: String) {
        chmod(tmp.path, 0o755)
        let log = tmp.path + "/upstream.log"
        let server = try tmp.write("upstream.py", upstream)
        let clientPath = try tmp.write("client.py", client)
        chmod(clientPath, 0o644)
        return (try LoopbackUpstream(script: server, arguments: [log]), clientPath, log)
    }

    /// A profile in `tmp` whose server may reach the upstream on `port` as `api.test` (and as
    /// 127.0.0.2), reading `tmp`; `extra`: more `[network]` lines.
    static func profile(in tmp: TempDir, port: Int, extra: String = "") throws -> String {
        try tmp.write("p.toml", """
            extends = ["base"]
            [filesystem]
            read_only = [\(tomlString(tmp.path))]
            [network]
            mode = "allow"
            allow = ["api.test:\(port)", "127.0.0.2:\(port)"]
            hosts = { "api.test" = "127.0.0.2" }

            """ + extra)
    }

    func stop() { Self.stop(process) }

    /// SIGKILL: the test runner may hand its children SIGTERM ignored.
    static func stop(_ process: Process) {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
