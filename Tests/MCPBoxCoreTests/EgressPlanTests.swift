import Foundation
import MCPBoxNetwork
import Testing
@testable import MCPBoxCore

/// `[network] mode = "allow"`: profile keys, merging, the plan and what explain shows.
@Suite struct EgressPlanTests {
    func plan(_ profile: String, base: String = "") throws -> SandboxPlan {
        let s = Scratch()
        s.write("base.toml", base)
        s.write("p.toml", profile)
        return try Fixture.plan("p", dirs: [s.path]).get()
    }

    func errors(_ profile: String, base: String = "") -> [Diagnostic] {
        let s = Scratch()
        s.write("base.toml", base)
        s.write("p.toml", profile)
        return Fixture.errors("p", dirs: [s.path])
    }

    @Test func rulesHostsAndLogReachThePlan() throws {
        let p = try plan("""
            extends = ["base"]
            [network]
            mode = "allow"
            allow = ["api.github.com:443", "*.githubusercontent.com"]
            deny = ["evil.githubusercontent.com"]
            hosts = { "api.test" = "127.0.0.1", "two.test" = ["198.51.100.1", "2001:db8::1"] }
            log = "/var/tmp/net.jsonl"
            """, base: "[network]\nallow = [\"pypi.org:443\"]\nmode = \"allow\"\n")
        let e = try #require(p.egress)
        #expect(p.network == .allow)
        #expect(p.namespaces.contains(.net))
        #expect(e.policy.allow.map(\.text) == ["pypi.org:443", "api.github.com:443", "*.githubusercontent.com"], "extends appends")
        #expect(e.policy.allow[0].origin == "base.toml: network.allow" && e.policy.allow[1].origin == "p.toml: network.allow")
        #expect(e.policy.deny.map(\.text) == ["evil.githubusercontent.com"])
        #expect(e.policy.hosts["two.test"]?.map(\.description) == ["198.51.100.1", "2001:db8::1"])
        #expect(e.policy.logPath == "/var/tmp/net.jsonl")
        let env = Dictionary(uniqueKeysWithValues: p.environment.map { ($0.name, $0.value) })
        for name in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "npm_config_proxy", "PIP_PROXY"] {
            #expect(env[name] == "http://127.0.0.1:3128", "\(name)")
        }
        #expect(env["NO_PROXY"] == "localhost,127.0.0.1,::1")
        #expect(p.mounts.contains { $0.target == "/etc/resolv.conf" && $0.kind == .file(contents: "nameserver 127.0.0.1\noptions attempts:1 timeout:2\n") })
    }

    @Test func emptyAllowMeansNothingAndExplainSaysSo() throws {
        let p = try plan("[network]\nmode = \"allow\"\n")
        let text = Explain.text(p)
        #expect(text.contains("nothing is reachable"))
        #expect(text.contains("(empty: nothing is reachable)"))
        let j = try #require(JSONSerialization.jsonObject(with: Data(ExplainJSON.render(p).utf8)) as? [String: Any])
        let n = try #require(j["network"] as? [String: Any])
        #expect(n["mode"] as? String == "allow" && (n["allow"] as? [Any])?.isEmpty == true)
        #expect((n["explanation"] as? String)?.contains("nothing is reachable") == true)
    }

    @Test func explainShowsRulesOriginsVariablesClassesAndExceptions() throws {
        let p = try plan("""
            [network]
            mode = "allow"
            allow = ["api.test:8443", "10.1.2.3:5432"]
            deny = ["bad.test"]
            """)
        let text = Explain.text(p)
        #expect(text.contains("allow           api.test:8443  ports 8443  p.toml: network.allow"))
        #expect(text.contains("deny            bad.test  every port  p.toml: network.deny"))
        #expect(text.contains("link-local (169.254.0.0/16 fe80::/10)"))
        #expect(text.contains("shared (100.64.0.0/10)") && text.contains("translation (64:ff9b:1::/48 2002::/16)"))
        #expect(text.contains("IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) addresses are judged by the IPv4 address they carry"))
        #expect(text.contains("explicitly      10.1.2.3:5432 allowed although private"))
        #expect(text.contains("HTTP_PROXY HTTPS_PROXY ALL_PROXY NO_PROXY"))
        #expect(!text.contains("http://127.0.0.1:3128 HTTP"), "variable values are never shown")
        let j = try #require(JSONSerialization.jsonObject(with: Data(ExplainJSON.render(p).utf8)) as? [String: Any])
        let n = try #require(j["network"] as? [String: Any])
        let allow = try #require(n["allow"] as? [[String: Any]])
        #expect(allow.first?["rule"] as? String == "api.test:8443" && allow.first?["ports"] as? [Int] == [8443]
                && allow.first?["origin"] as? String == "p.toml: network.allow")
        #expect(n["explicitly_allowed"] as? [String] == ["10.1.2.3:5432"])
        #expect((n["refused_classes"] as? [[String: Any]])?.map { $0["class"] as? String }
                == ["loopback", "private", "shared", "link-local", "multicast", "unspecified",
                    "protocol-assignments", "translation", "reserved"])
        #expect((n["refused_classes"] as? [[String: Any]])?.first { $0["class"] as? String == "shared" }?["ranges"] as? [String] == ["100.64.0.0/10"])
        #expect(n["judged_by_ipv4"] as? [String] == ["::ffff:0:0/96", "64:ff9b::/96"])
        #expect((n["proxy_variables"] as? [String])?.contains("HTTPS_PROXY") == true)
        #expect(n["capture_ports"] as? [Int] == [8443], "ports of allow name rules only")
        #expect(n["log"] is NSNull)
    }

    @Test func nat64RangesLiftTheClassesOfTheIPv4TheyCarry() throws {
        let p = try plan("""
            [network]
            mode = "allow"
            allow = ["[64:ff9b::a00:0/104]:443", "[64:ff9b::/96]:8443", "[fd00::1]:443", "93.184.216.34", "[64:ff9b::808:808]:443"]
            """)
        let x = try #require(p.egress).explicitlyAllowed
        #expect(x.map(\.rule.text) == ["[64:ff9b::a00:0/104]:443", "[64:ff9b::/96]:8443", "[fd00::1]:443"])
        #expect(x.map { $0.classes.map(\.rawValue) } == [["private"], IPAddress.Restricted.allCases.filter { $0 != .translation }.map(\.rawValue), ["private"]])
    }

    @Test func badRulesAndMisplacedKeysAreErrors() {
        let e1 = errors("[network]\nmode = \"allow\"\nallow = [\"*\", \"*.com\", \"fd00::1\"]\n")
        #expect(e1.count == 3 && e1.allSatisfy { $0.key == "network.allow" && $0.line == 3 }, "\(e1)")
        let e2 = errors("[network]\nallow = [\"api.test\"]\n")
        #expect(e2.contains { $0.key == "network.allow" && $0.message.contains("needs network.mode = \"allow\"") }, "\(e2)")
        let e3 = errors("[network]\nmode = \"allow\"\nhosts = { \"api.test\" = \"not-an-ip\" }\n")
        #expect(e3.contains { $0.message.contains("is not an IP address") }, "\(e3)")
        let e4 = errors("[network]\nmode = \"allow\"\nlog = \"relative.jsonl\"\n")
        #expect(e4.contains { $0.key == "network.log" }, "\(e4)")
        let e5 = errors("[network]\nmode = \"allow\"\nlog = \"/nonexistent-mcpbox-dir/net.jsonl\"\n")
        #expect(e5.contains { $0.key == "network.log" && $0.message.contains("does not exist") }, "\(e5)")
    }

    @Test func logInsideAWritableBindIsRefused() {
        let s = Scratch()
        let rw = s.mkdir("rw")
        s.write("base.toml", "")
        s.write("p.toml", "[filesystem]\nread_write = [\"\(rw)\"]\n[network]\nmode = \"allow\"\nlog = \"\(rw)/net.jsonl\"\n")
        let e = Fixture.errors("p", dirs: [s.path])
        #expect(e.contains { $0.key == "network.log" && $0.message.contains("the server may write") }, "\(e)")
    }

    /// The stderr line for a refused destination: the name is the server's choice, so a newline
    /// in it must not start a line that passes for mcpbox's own.
    @Test func refusalNoticeEscapesTheServersBytes() {
        let evil = "x.test\nmcpbox: network: all clear\u{1b}[2K"
        let r = EgressProxy.Refusal(host: evil, port: 443, address: nil, reason: "no allow rule for \(evil):443", last: false)
        let line = EgressSession.refusalNotice(r, profileFile: "/p/srv.toml")
        #expect(line == "mcpbox: network: refused x.test\\nmcpbox: network: all clear\\x1b[2K:443: no allow rule for x.test\\nmcpbox: network: all clear\\x1b[2K:443 (network.allow of /p/srv.toml names what may be reached; --verbose shows every decision)\n", "\(line)")
        let v6 = EgressProxy.Refusal(host: nil, port: 80, address: IPAddress("fd00::1"), reason: "private address fd00::1", last: true)
        let two = EgressSession.refusalNotice(v6, profileFile: "/p/srv.toml").split(separator: "\n")
        #expect(two.count == 2 && two[0].hasPrefix("mcpbox: network: refused [fd00::1]:80: private address fd00::1 (")
                && two[1].hasPrefix("mcpbox: network: further refused destinations"), "\(two)")
    }

    @Test func sharedHostingWildcardIsWarned() throws {
        let p = try plan("[network]\nmode = \"allow\"\nallow = [\"*.amazonaws.com\"]\n")
        #expect(p.warnings.contains { $0.contains("*.amazonaws.com") && $0.contains("shared host") })
    }

    @Test func landlockConnectPortsKeepTheEgressListeners() throws {
        let s = Scratch()
        s.write("base.toml", "")
        s.write("p.toml", "[network]\nmode = \"allow\"\nallow = [\"api.test:8443\", \"10.0.0.1:5432\"]\n[landlock]\ntcp_connect = [443]\n")
        let h = HostContext(callerUid: HostFS.uid, callerGid: HostFS.gid, environment: [("HOME", "/root"), ("PATH", "/usr/bin:/bin")],
                            accounts: Accounts(), landlockABI: 6)
        let p = try Fixture.plan("p", dirs: [s.path], host: h).get()
        #expect(p.landlock.tcpConnect == [443, 3128, 53, 8443], "proxy, DNS over TCP and the captured port are kept; address rules are proxied")
        #expect(p.landlock.notes.contains { $0.contains("3128, 53, 8443 added for network.mode = \"allow\"") })
        #expect(!p.landlock.notes.contains { $0.contains("host's network is shared") })
    }
}
