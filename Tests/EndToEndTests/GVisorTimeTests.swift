import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The shipped `time` profile as a dedicated account with `[isolation] runtime = "gvisor"`: the
/// real Python SDK client talks to mcp-server-time running in gVisor's kernel, through mcpbox's
/// relay and MCP layer (a `[tools] deny` proves the layer is in front).
@Suite("gVisor runtime: mcp-server-time", .enabled(if: TestSupport.isRoot && GVisorSupport.runsc != nil, "needs root and runsc"))
struct GVisorTimeTests {
    @Test("`time` under gvisor: initialize, list tools, call a tool, denied tool refused by mcpbox, clean close")
    func timeUnderGVisor() throws {
        let env = try E2EEnvironment(launch: .rootDedicatedAccount, shippedProfile: "time")
        defer { env.cleanUp() }
        let profile = try env.tmp.write("profiles/time-gvisor.toml", """
            extends = [\(tomlString(env.profile))]

            [isolation]
            runtime = "gvisor"

            [tools]
            deny = ["convert_time"]

            """)
        let out = try env.runClient(args: ["run", profile, "--profile-path", TestSupport.profilesDir], calls: [
            ["tool": "get_current_time", "arguments": ["timezone": "UTC"]],
            ["tool": "convert_time", "arguments": ["source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"]],
        ])
        out.expectCleanSession(server: "mcp-time")
        #expect(out.tools.contains("get_current_time") && !out.tools.contains("convert_time"), "tools: \(out.tools)")
        try #require(out.calls.count == 2, "calls: \(out.calls)")
        #expect(!out.calls[0].isError && out.calls[0].text.contains("\"timezone\": \"UTC\""), "get_current_time: \(out.calls[0].text)")
        #expect(out.calls[1].isError && out.calls[1].code == -32602 && out.calls[1].text.contains("Unknown tool: convert_time"),
                "convert_time should be refused by mcpbox's MCP layer: \(out.calls[1])")
    }

    @Test("`time` under gvisor started by an ordinary user (runsc in mcpbox's user namespace): the same session")
    func timeUnderGVisorAsOrdinaryUser() throws {
        let env = try E2EEnvironment(launch: .rootShippedProfile, shippedProfile: "time")
        defer { env.cleanUp() }
        let caller = try TestAccount.create(prefix: "mcpbox-gvtime")
        defer { caller.delete() }
        try GVisorSupport.grantSubordinateIds(to: caller)
        let runtime = try env.tmp.makeDir("xdg-runtime", mode: 0o700)
        try #require(chown(runtime, caller.uid, caller.gid) == 0)
        let binary = env.tmp.sub("mcpbox")
        try FileManager.default.copyItem(atPath: env.mcpbox, toPath: binary)
        chmod(binary, 0o755)
        try env.tmp.makeDir("profiles")
        let profile = try env.tmp.write("profiles/time-gvisor.toml", """
            extends = ["time"]

            [isolation]
            runtime = "gvisor"

            [tools]
            deny = ["convert_time"]

            """)
        // The client starts mcpbox as the ordinary user, with its private runtime directory.
        let out = try env.runClient(command: "/usr/bin/env", args: [
            "XDG_RUNTIME_DIR=\(runtime)", "/usr/bin/setpriv", "--reuid", String(caller.uid), "--regid", String(caller.gid), "--clear-groups", "--",
            binary, "run", profile, "--profile-path", TestSupport.profilesDir,
        ], calls: [
            ["tool": "get_current_time", "arguments": ["timezone": "UTC"]],
            ["tool": "convert_time", "arguments": ["source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"]],
        ])
        out.expectCleanSession(server: "mcp-time")
        #expect(out.tools.contains("get_current_time") && !out.tools.contains("convert_time"), "tools: \(out.tools) \(out.stderr)")
        try #require(out.calls.count == 2, "calls: \(out.calls) \(out.stderr)")
        #expect(!out.calls[0].isError && out.calls[0].text.contains("\"timezone\": \"UTC\""), "get_current_time: \(out.calls[0].text)")
        #expect(out.calls[1].isError && out.calls[1].code == -32602 && out.calls[1].text.contains("Unknown tool: convert_time"),
                "convert_time should be refused by mcpbox's MCP layer: \(out.calls[1])")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: runtime + "/mcpbox/gvisor")) ?? []).isEmpty)
    }
}
