import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// mcp-server-fetch (PyPI) under the shipped `fetch` profile (network.mode = "allow"), driven by
/// the real Python MCP SDK client: an allowed test site is fetched; another name, the host's
/// loopback, an allowed name resolving to loopback and a redirect to another host are refused,
/// and the tool result says so. The site runs on 127.0.0.2, mapped by `[network] hosts`.
@Suite("mcp-server-fetch through mcpbox's egress proxy", .enabled(if: TestSupport.isRoot, "creates throwaway accounts: run as root (CI does)"))
struct FetchServerTests {
    @Test("allowed host fetched; other hosts, loopback and redirects refused", arguments: RealServerTests.Launch.allCases)
    func fetch(launch: RealServerTests.Launch) throws { try Self.fetch(launch: launch, runtime: nil) }

    /// Also run under `[isolation] runtime = "gvisor"` by GVisorRealServerTests.
    static func fetch(launch: RealServerTests.Launch, runtime: String?) throws {
        let venv = try TestSupport.venv()
        guard FileManager.default.isExecutableFile(atPath: venv + "/bin/mcp-server-fetch") else {
            throw SupportError("\(venv)/bin/mcp-server-fetch is missing: run scripts/setup")
        }
        let mcpbox = try TestSupport.mcpboxBinary()
        let tmp = try TempDir(prefix: "mcpbox-fetch")
        defer { tmp.remove() }
        var account: TestAccount?
        if launch == .rootDedicatedAccount { account = try TestAccount.create(prefix: "mcpbox-fetch") }
        defer { account?.delete() }

        let marker = "marker-\(UInt64.random(in: 0..<UInt64.max))"
        let site = try TestSite(address: "127.0.0.2", marker: marker)
        defer { site.stop() }
        let port = site.port
        let loopback = try HostListener.tcpLoopback()
        defer { loopback.stop() }

        try tmp.makeDir("profiles")
        let logPath = try tmp.makeDir("log", mode: 0o700) + "/fetch.jsonl"
        var profile = "extends = [\"fetch\"]\n"
        if let account { profile += "[user]\nname = \(tomlString(account.name))\n" }
        profile += """
            [network]
            allow = ["site.test:\(port)", "127.0.0.2:\(port)", "loop.test:\(loopback.port)"]
            hosts = { "site.test" = "127.0.0.2", "other.test" = "127.0.0.2", "loop.test" = "127.0.0.1" }
            log = \(tomlString(logPath))

            """
        if let runtime { profile += "[isolation]\nruntime = \(tomlString(runtime))\n" }
        let profilePath = try tmp.write("profiles/fetch-test.toml", profile)

        let env = ["PATH": "\(venv)/bin:/usr/local/bin:/usr/bin:/bin", "HOME": tmp.path, "LANG": "C.UTF-8"]
        let explain = try runProcess([mcpbox, "explain", profilePath, "--profile-path", TestSupport.profilesDir], environment: env)
        #expect(explain.status == 0 && explain.stdoutText.contains("allow           site.test:\(port)"), "\(explain.stdoutText) \(explain.stderr)")
        // loop.test is mapped to a loopback address no allow rule names: explain says it can never be reached.
        #expect((explain.stdoutText + explain.stderr).contains("network.hosts: \"loop.test\" is 127.0.0.1, a loopback address, and no allow rule names it: every connection to loop.test on port \(loopback.port) is refused; add \"127.0.0.1:\(loopback.port)\" to network.allow"),
                "\(explain.stdoutText) \(explain.stderr)")
        #expect(!(explain.stdoutText + explain.stderr).contains("network.hosts: \"site.test\""), "site.test has its address rule")

        let calls: [[String: Any]] = [
            ["tool": "fetch", "arguments": ["url": "http://site.test:\(port)/page"]],
            ["tool": "fetch", "arguments": ["url": "http://other.test:\(port)/page"]],
            ["tool": "fetch", "arguments": ["url": "http://127.0.0.1:\(loopback.port)/"]],
            ["tool": "fetch", "arguments": ["url": "http://loop.test:\(loopback.port)/"]],
            ["tool": "fetch", "arguments": ["url": "http://site.test:\(port)/redirect?to=http://other.test:\(port)/page"]],
        ]
        let config: [String: Any] = ["command": mcpbox, "args": ["run", profilePath, "--profile-path", TestSupport.profilesDir],
                                     "calls": calls, "timeout": 120, "env": env]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
        let client = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures/mcp_client.py").path
        let r = try runProcess([venv + "/bin/python", client, json], environment: env, timeout: 180)
        var out = try JSONDecoder().decode(ClientOutput.self, from: r.stdout)
        out.stderr = r.stderr
        out.expectCleanSession(server: "mcp-fetch")
        try #require(out.calls.count == 5, "calls: \(out.calls) \(r.stderr.suffix(1500))")
        #expect(!out.calls[0].isError && out.calls[0].text.contains(marker), "allowed fetch: \(out.calls[0].text)")
        for (i, what) in [(1, "no allow rule for other.test"), (3, "loopback address 127.0.0.1"), (4, "no allow rule for other.test")] {
            #expect(out.calls[i].isError && out.calls[i].text.contains("403"), "call \(i) must be refused: \(out.calls[i].text)")
            #expect(!out.calls[i].text.contains(marker))
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            #expect(log.contains(what), "log must record \(what): \(log)")
        }
        // Each refused destination is told on stderr once (other.test is refused twice), with why.
        let told = r.stderr.split(separator: "\n").filter { $0.hasPrefix("mcpbox: network: refused ") }
        #expect(told.filter { $0.hasPrefix("mcpbox: network: refused other.test") }.count == 1, "\(told)")
        #expect(told.contains { $0.hasPrefix("mcpbox: network: refused other.test:\(port): no allow rule for other.test:\(port) (network.allow of \(profilePath)") }, "\(told)")
        #expect(told.contains { $0.hasPrefix("mcpbox: network: refused loop.test:\(loopback.port): loopback address 127.0.0.1") }, "\(told)")
        #expect(!told.contains { $0.contains("site.test") }, "\(told)")
        // 127.0.0.1 inside the sandbox is the sandbox's own loopback (NO_PROXY): nothing listens there.
        #expect(out.calls[2].isError && out.calls[2].text.contains("connection"), "host loopback: \(out.calls[2].text)")
        _ = fcntl(loopback.fd, F_SETFL, O_NONBLOCK)
        let reached = accept(loopback.fd, nil, nil)
        #expect(reached < 0 && errno == EAGAIN, "nothing may reach the host's loopback listener")
        if reached >= 0 { close(reached) }
    }
}

/// The HTTP test site of Fixtures/fetch_target.py on a host loopback address (127.0.0.2: an
/// address the sandbox reaches only through an allow rule naming it): `/page` is HTML with the
/// marker, `/redirect?to=URL` a 302. Serves until `stop()`.
struct TestSite {
    let process: Process
    let input: Pipe
    let port: Int

    init(address: String, marker: String) throws {
        let site = Process()
        site.executableURL = URL(fileURLWithPath: try TestSupport.systemPython())
        site.arguments = [TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures/fetch_target.py").path, address, marker]
        let siteIn = Pipe(), siteOut = Pipe()
        site.standardInput = siteIn
        site.standardOutput = siteOut
        try site.run()
        process = site
        input = siteIn
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let d = siteOut.fileHandleForReading.availableData
            if d.isEmpty { break }
            line += d
        }
        guard let port = (try? JSONSerialization.jsonObject(with: line) as? [String: Int])?["port"] else {
            try? siteIn.fileHandleForWriting.close()
            site.terminate()
            site.waitUntilExit()
            throw SupportError("test site did not start")
        }
        self.port = port
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.terminate()
        process.waitUntilExit()
    }
}
