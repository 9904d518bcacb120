import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `network.mode = "allow"` under `[isolation] runtime = "gvisor"`: the native egress suite's
/// client (Fixtures/egress/client.py) in a real runsc sandbox, against the same servers on the
/// host's 127.0.0.2, plus what only gVisor has: the Unix sockets bound into the sandbox, which the
/// server can use directly, bypassing the in-sandbox forwarder.
@Suite("gVisor egress (mode allow)", .enabled(if: TestSupport.isRoot && GVisorSupport.runsc != nil, "needs root and runsc"))
struct GVisorEgressTests {
    static let run = EgressRun.perform(unprivileged: false, gvisor: true)

    static let gvisorChecks = [
        "gvisor_socket_proxy_same_rules", "gvisor_socket_capture_raw_address_refused", "gvisor_socket_capture_uncaptured_port_refused",
        "gvisor_socket_capture_header_allowed_works", "gvisor_socket_dns_refuses_other_names", "gvisor_socket_dir_read_only",
        "gvisor_no_interface_but_lo",
    ]

    @Test("the native suite's checks, and the bound sockets give nothing more", arguments: EgressTests.checks + gvisorChecks)
    func check(_ check: String) { Self.run.expect(check) }

    @Test("the host saw only what mcpbox allowed; every decision is in the log, the socket bypasses too")
    func hostSide() {
        let run = Self.run
        run.expectHostSide()
        let captures = run.events.filter { $0["via"] as? String == "capture" }
        #expect(captures.contains { $0["host"] as? String == "api.test" && $0["decision"] as? String == "allowed" && ($0["bytes_in"] as? Int ?? 0) > 0 },
                "\(captures)")
        #expect(captures.contains { $0["decision"] as? String == "denied" && ($0["reason"] as? String ?? "").contains("direct connection to 127.0.0.2") },
                "\(captures)")
        #expect(captures.contains { $0["decision"] as? String == "denied" && ($0["reason"] as? String ?? "").contains("is not a captured port") },
                "\(captures)")
        let other = run.events.first { $0["host"] as? String == "other.test" && $0["via"] as? String == "proxy" }
        #expect(other?["decision"] as? String == "denied", "\(String(describing: other))")
    }

    func explain(_ profile: String, json: Bool = false, tmp: TempDir) throws -> ProcessResult {
        try runProcess([try TestSupport.mcpboxBinary(), "explain", profile] + (json ? ["--json"] : []) + ["--profile-path", TestSupport.profilesDir, "--", "/bin/true"],
                       environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": tmp.path], timeout: 60)
    }

    @Test("explain states what run does: runsc --host-uds=open, the forwarder, the loopback fake range")
    func explainStates() throws {
        let tmp = try TempDir(prefix: "mcpbox-gvegress")
        defer { tmp.remove() }
        let p = try tmp.write("a.toml", "extends = [\"base\"]\n[isolation]\nruntime = \"gvisor\"\n[network]\nmode = \"allow\"\nallow = [\"api.test:443\"]\n")
        let text = try explain(p, tmp: tmp)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdoutText.contains("--network=none --oci-seccomp") && text.stdoutText.contains("--host-uds=open"), "\(text.stdoutText)")
        #expect(text.stdoutText.contains("addresses in 127.198.0.0/16"), "\(text.stdoutText)")
        let json = try explain(p, json: true, tmp: tmp)
        let object = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any], "\(json.stderr)")
        let rows = try #require((object["runtime"] as? [String: Any])?["restrictions"] as? [[String: String]])
        let row = try #require(rows.first { $0["restriction"] == "network allow" }, "\(rows)")
        #expect(row["status"] == "carried" && row["detail"]!.contains("/.mcpbox/egress") && row["detail"]!.contains("0.0.0.0:443 (capture)"), "\(row)")
        #expect(rows.filter { $0["status"] != "carried" }.compactMap { $0["restriction"] } == ["landlock"], "\(rows)")
    }

    @Test("refused (125, never native): a mount over /.mcpbox, a runsc without --host-uds")
    func refusals() throws {
        let tmp = try TempDir(prefix: "mcpbox-gvegress")
        defer { tmp.remove() }
        let allow = "[network]\nmode = \"allow\"\nallow = [\"api.test:443\"]\n"
        let covered = try tmp.write("c.toml", "extends = [\"base\"]\n[isolation]\nruntime = \"gvisor\"\n[filesystem]\ntmpfs = [\"/.mcpbox\"]\n" + allow)
        // A runsc build without the flag: the real runsc, with --host-uds missing from its flag list.
        let old = try tmp.write("runsc", """
            #!/bin/sh
            if [ "$1" = flags ]; then \(GVisorSupport.runsc!) flags 2>&1 | grep -v -- -host-uds; exit 0; fi
            exec \(GVisorSupport.runsc!) "$@"

            """)
        chmod(old, 0o755)
        let oldRunsc = try tmp.write("o.toml", "extends = [\"base\"]\n[isolation]\nruntime = \"gvisor\"\nrunsc = \(tomlString(old))\n" + allow)
        for (profile, message) in [(covered, "which the mount /.mcpbox"), (oldRunsc, "needs runsc's --host-uds=open")] {
            #expect(try explain(profile, tmp: tmp).stderr.contains(message))
            let r = try runProcess([try TestSupport.mcpboxBinary(), "run", profile, "--profile-path", TestSupport.profilesDir, "--", "/bin/echo", "server-ran"],
                                   environment: ["PATH": "/usr/bin:/bin", "HOME": tmp.path], timeout: 60)
            #expect(r.status == 125 && r.stderr.contains(message) && !r.stdoutText.contains("server-ran"), "exit \(r.status): \(r.stderr)")
        }
    }
}
