import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `network.mode = "allow"` end to end: a client inside a real `mcpbox run` goes through (and
/// tries to get around) mcpbox's proxy, against HTTP/HTTPS servers the test runs on 127.0.0.2
/// with its own CA, and listeners it opens on 127.0.0.1. Once as root with a dedicated account,
/// once as an unprivileged caller (caller remap), where mcpbox cannot enter the sandbox's
/// network namespace and serves the listener the sandbox handed out.
@Suite("Egress (mode allow)", .enabled(if: TestSupport.isRoot, "creates throwaway accounts: run as root (CI does)"))
struct EgressTests {
    static let fixtures = TestSupport.packageRoot.appendingPathComponent("Tests/SandboxTests/Fixtures/egress").path
    static let dedicated = EgressRun.perform(unprivileged: false)
    static let unprivileged = EgressRun.perform(unprivileged: true)

    static let checks = [
        "proxy_variables_set", "http_allowed", "https_allowed", "https_allowed_wildcard", "name_not_allowed_403",
        "denied_rule_wins", "redirect_to_other_host_refused", "https_refused_for_other_name",
        "connect_sni_mismatch_refused", "connect_without_sni_refused", "connect_localhost_refused",
        "connect_127_0_0_1_refused", "connect_ipv6_loopback_refused", "connect_metadata_169_254_169_254_refused",
        "connect_allowed_name_resolving_to_loopback_refused", "connect_allowed_name_resolving_to_cgnat_refused",
        "connect_allowed_name_resolving_to_nat64_of_loopback_refused", "smuggling_host_differs_400",
        "smuggling_crlf_in_target_400", "smuggling_te_and_cl_400", "overlong_head_refused",
        "direct_connect_without_proxy_fails", "udp_to_host_dns_listener_fails", "dns_tunnel_long_labels_fails",
        "many_connections_then_still_serving", "slowloris_closed_others_served",
        "capture_http_without_proxy_works", "capture_https_without_proxy_works", "capture_name_not_allowed_fails",
        "capture_sni_mismatch_refused", "dns_stub_answers_allowed_with_fake_address", "dns_stub_refuses_other_names", "dns_stub_over_tcp",
    ]

    @Test("root launch with [user] name", arguments: checks)
    func dedicatedAccount(check: String) { Self.dedicated.expect(check) }

    @Test("unprivileged launch (caller remap)", arguments: checks)
    func unprivilegedCaller(check: String) { Self.unprivileged.expect(check) }

    @Test("nothing reached the host's UDP listener; the log records decisions as JSON lines")
    func hostSide() {
        for run in [Self.dedicated, Self.unprivileged] { run.expectHostSide() }
    }

    @Test("the enforcement point cannot start (log unwritable): mcpbox refuses with 125")
    func failClosed() throws {
        let tmp = try TempDir(prefix: "mcpbox-egress-fail")
        defer { tmp.remove() }
        let profile = try tmp.write("p.toml", """
            extends = ["base"]
            [network]
            mode = "allow"
            allow = ["api.test"]
            log = \(tomlString(tmp.sub("missing-dir/net.jsonl")))

            """)
        let r = try runProcess([try TestSupport.mcpboxBinary(), "run", profile, "--profile-path", TestSupport.profilesDir,
                                "--", "/bin/echo", "ran"], timeout: 60)
        #expect(r.status == 125 && r.stdoutText.isEmpty && r.stderr.contains("network.log"), "\(r.status) \(r.stderr)")
        // A directory at the log's path: refused when the plan is built, before any launch.
        try tmp.makeDir("is-a-dir.jsonl")
        let atRun = try tmp.write("q.toml", """
            extends = ["base"]
            [network]
            mode = "allow"
            allow = ["api.test"]
            log = \(tomlString(tmp.sub("is-a-dir.jsonl")))

            """)
        let q = try runProcess([try TestSupport.mcpboxBinary(), "run", atRun, "--profile-path", TestSupport.profilesDir,
                                "--", "/bin/echo", "ran"], timeout: 60)
        #expect(q.status == 125 && q.stdoutText.isEmpty && q.stderr.contains("network.log: refused: the log \(tmp.sub("is-a-dir.jsonl")) is a directory"), "\(q.status) \(q.stderr)")
    }
}

/// One launch of Fixtures/egress/client.py and everything observed.
struct EgressRun: Sendable {
    var mode: String
    var results: [String: (ok: Bool, detail: String)] = [:]
    var failure: String?
    var log = ""
    var udpReceived = 0

    func expect(_ check: String) {
        if let failure { Issue.record("\(mode): launch failed: \(failure)"); return }
        guard let r = results[check] else { Issue.record("\(mode): check \(check) not reported"); return }
        #expect(r.ok, "\(mode): \(check): \(r.detail)")
    }

    /// The log's events, one JSON object per line (lines that are not are left out).
    var events: [[String: Any]] {
        log.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// What the host saw: no datagram reached its UDP listener, and the log holds one JSON
    /// event per line, the allowed api.test with bytes and the denied rebind.test among them.
    func expectHostSide() {
        #expect(failure == nil, "\(mode): \(failure ?? "")")
        #expect(udpReceived == 0, "\(mode): \(udpReceived) datagrams reached the host listener")
        let events = self.events
        #expect(!events.isEmpty && events.count == log.split(separator: "\n").count, "\(mode): log lines must each be JSON: \(log.prefix(500))")
        let allowed = events.first { $0["host"] as? String == "api.test" && $0["decision"] as? String == "allowed" && ($0["bytes_in"] as? Int ?? 0) > 0 }
        #expect(allowed != nil, "\(mode): no allowed api.test event with bytes")
        if let a = allowed {
            #expect(a["kind"] as? String == "egress" && a["address"] as? String == "127.0.0.2" && a["time"] is String)
        }
        let rebind = events.first { $0["host"] as? String == "rebind.test" }
        #expect(rebind?["decision"] as? String == "denied" && (rebind?["reason"] as? String ?? "").contains("loopback"),
                "\(mode): \(String(describing: rebind))")
    }

    /// `gvisor`: the same run with `[isolation] runtime = "gvisor"` (root with `[user]` only).
    static func perform(unprivileged: Bool, gvisor: Bool = false) -> EgressRun {
        var run = EgressRun(mode: gvisor ? "gvisor root+[user]" : unprivileged ? "unprivileged" : "root+[user]")
        do { try run.launch(unprivileged: unprivileged, gvisor: gvisor) } catch { run.failure = "\(error)" }
        return run
    }

    static func sh(_ argv: [String]) throws {
        let r = try runProcess(argv, timeout: 60)
        guard r.status == 0 else { throw SupportError("\(argv.joined(separator: " ")): \(r.stderr)") }
    }

    /// A UDP socket on 127.0.0.1 (non-blocking), and its port.
    static func udpListener() throws -> (Int32, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard fd >= 0, ok else { throw SupportError("udp listener: \(String(cString: strerror(errno)))") }
        return (fd, UInt16(bigEndian: addr.sin_port))
    }

    mutating func launch(unprivileged: Bool, gvisor: Bool) throws {
        let mcpbox = try TestSupport.mcpboxBinary()
        let tmp = try TempDir(prefix: "mcpbox-egress")
        defer { tmp.remove() }
        let account = try TestAccount.create(prefix: "mcpbox-eg")
        defer { account.delete() }

        // A test CA and a certificate for the test names, made here with the openssl CLI.
        let ca = tmp.sub("ca.pem"), caKey = tmp.sub("ca.key"), key = tmp.sub("server.key"), csr = tmp.sub("server.csr"), cert = tmp.sub("server.pem")
        try Self.sh(["/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", caKey, "-out", ca, "-days", "2", "-subj", "/CN=mcpbox egress test CA"])
        try Self.sh(["/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", key, "-out", csr, "-subj", "/CN=api.test"])
        let ext = try tmp.write("ext.cnf", "subjectAltName=DNS:api.test,DNS:other.test,DNS:www.wild.test,DNS:blocked.wild.test\n")
        try Self.sh(["/usr/bin/openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial",
                     "-out", cert, "-days", "2", "-extfile", ext])
        chmod(ca, 0o644)

        // The servers, on 127.0.0.2 (host side).
        let server = Process()
        server.executableURL = URL(fileURLWithPath: try TestSupport.systemPython())
        server.arguments = [EgressTests.fixtures + "/servers.py", "127.0.0.2", cert, key]
        let serverIn = Pipe(), serverOut = Pipe()
        server.standardInput = serverIn
        server.standardOutput = serverOut
        try server.run()
        defer {
            try? serverIn.fileHandleForWriting.close()
            server.terminate()
            server.waitUntilExit()
        }
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let d = serverOut.fileHandleForReading.availableData
            if d.isEmpty { throw SupportError("test servers did not start") }
            line += d
        }
        guard let ports = try JSONSerialization.jsonObject(with: line) as? [String: Int], let hp = ports["http"], let sp = ports["https"] else {
            throw SupportError("test servers: \(String(decoding: line, as: UTF8.self))")
        }

        let tcp = try HostListener.tcpLoopback()
        defer { tcp.stop() }
        let (udp, udpPort) = try Self.udpListener()
        defer { close(udp) }

        let logDir = try tmp.makeDir("log", mode: 0o700)
        if unprivileged { chown(logDir, account.uid, account.gid) }
        let logPath = logDir + "/net.jsonl"
        try FileManager.default.copyItem(atPath: EgressTests.fixtures + "/client.py", toPath: tmp.sub("client.py"))
        chmod(tmp.sub("client.py"), 0o644)
        var config: [String: Any] = ["http_port": hp, "https_port": sp, "proxy_port": 3128, "ca": ca,
                                     "host_listener_port": Int(tcp.port), "udp_listener_port": Int(udpPort),
                                     "server_address": "127.0.0.2"]
        if gvisor { config["gvisor"] = true; config["fake_prefix"] = [127, 198] }
        let configPath = try tmp.write("config.json", String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self))

        var profile = "extends = [\"base\"]\n"
        if !unprivileged { profile += "[user]\nname = \(tomlString(account.name))\n" }
        // Unprivileged run: Landlock limits TCP connect to no port of its own; mcpbox keeps its
        // listeners (proxy, DNS over TCP, captured ports) reachable.
        if unprivileged { profile += "[landlock]\ntcp_connect = []\n" }
        if gvisor { profile += "[isolation]\nruntime = \"gvisor\"\n" }
        profile += """
            [filesystem]
            read_only = [\(tomlString(tmp.path))]
            [limits]
            open_files = 4096
            [network]
            mode = "allow"
            allow = ["api.test:\(hp)", "api.test:\(sp)", "*.wild.test:\(sp)", "rebind.test:\(hp)", "cgnat.test:\(hp)", "nat64.test:\(hp)", "127.0.0.2:\(hp)", "127.0.0.2:\(sp)", "localhost:\(tcp.port)"]
            deny = ["blocked.wild.test:\(sp)"]
            hosts = { "api.test" = "127.0.0.2", "other.test" = "127.0.0.2", "www.wild.test" = "127.0.0.2", "blocked.wild.test" = "127.0.0.2", "rebind.test" = "127.0.0.1", "cgnat.test" = "100.64.0.1", "nat64.test" = "64:ff9b::7f00:1" }
            log = \(tomlString(logPath))

            """
        let profilePath = try tmp.write("egress.toml", profile)

        let binary = tmp.sub("mcpbox")
        try FileManager.default.copyItem(atPath: mcpbox, toPath: binary)
        chmod(binary, 0o755)
        var argv: [String] = []
        if unprivileged {
            argv += ["/usr/bin/setpriv", "--reuid", String(account.uid), "--regid", String(account.gid), "--clear-groups", "--"]
        }
        argv += [binary, "run", profilePath, "--profile-path", TestSupport.profilesDir, "--", "/usr/bin/python3", tmp.sub("client.py"), configPath]
        let r = try runProcess(argv, environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"], keepStdinOpen: true, timeout: 240)
        guard r.status == 0, let json = try? JSONSerialization.jsonObject(with: r.stdout) as? [String: [String: Any]] else {
            throw SupportError("status \(r.status), timed out \(r.timedOut): \(r.stderr.suffix(2000)) stdout: \(r.stdoutText.prefix(500))")
        }
        for (name, v) in json { results[name] = (v["ok"] as? Bool ?? false, v["detail"] as? String ?? "") }
        var buf = [UInt8](repeating: 0, count: 512)
        while recv(udp, &buf, buf.count, Int32(MSG_DONTWAIT)) >= 0 { udpReceived += 1 }
        log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }
}
