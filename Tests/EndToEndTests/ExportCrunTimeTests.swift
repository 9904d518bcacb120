import Foundation
import MCPBoxTestSupport
import Testing

/// The shipped `time` profile exported as an OCI bundle and run by crun: the real Python SDK
/// client talks to mcp-server-time through crun's own stdio.
@Suite("Export: mcp-server-time under crun", .enabled(if: TestSupport.isRoot && CrunRunner.crun != nil, "needs root and crun"))
struct ExportCrunTimeTests {
    @Test("exported `time` bundle: initialize, list tools, call tools, clean close through `crun run`")
    func timeThroughCrun() throws {
        let env = try E2EEnvironment(launch: .rootShippedProfile, shippedProfile: "time")
        defer { env.cleanUp() }
        let bundle = env.tmp.sub("bundle")
        let export = try runProcess([env.mcpbox, "export", "time", "--profile-path", TestSupport.profilesDir, "--format", "oci", "--output", bundle],
                                    environment: E2EEnvironment.environment(venv: env.venv, home: env.tmp.path))
        try #require(export.status == 0, "mcpbox export failed: \(export.stderr)")
        let id = "mcpbox-time-\(env.token)"
        defer { CrunRunner.delete(id) }
        let argv = CrunRunner.argv(bundle: bundle, id: id)
        let out = try env.runClient(command: argv[0], args: Array(argv.dropFirst()), calls: [
            ["tool": "get_current_time", "arguments": ["timezone": "UTC"]],
            ["tool": "convert_time", "arguments": ["source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"]],
        ])
        out.expectCleanSession(server: "mcp-time")
        #expect(out.tools.contains("get_current_time") && out.tools.contains("convert_time"), "tools: \(out.tools)")
        try #require(out.calls.count == 2, "calls: \(out.calls)")
        #expect(!out.calls[0].isError && out.calls[0].text.contains("\"timezone\": \"UTC\""), "get_current_time: \(out.calls[0].text)")
        #expect(!out.calls[1].isError && out.calls[1].text.contains("T21:00:00+09:00"), "convert_time: \(out.calls[1].text)")
    }
}
