import Foundation
import MCPBoxTestSupport
import Testing

/// An MCP client built with the official Swift SDK (modelcontextprotocol/swift-sdk 0.12.1, the
/// separate package in Tests/SwiftSDKClient) drives mcp-server-time through `mcpbox run time`.
@Suite("Swift SDK client through mcpbox", .enabled(if: TestSupport.isRoot, "end-to-end runs of the shipped profiles need root (CI runs as root)"))
struct SwiftSDKClientTests {
    /// The report line printed by `mcp-sdk-client` (Tests/SwiftSDKClient).
    struct Report: Decodable {
        var ok: Bool
        var step: String?
        var error: String?
        var serverName: String?
        var protocolVersion: String?
        var tools: [String]
        var callText: String?
        var callIsError: Bool?
        var mcpboxStatus: Int32?
        var exitSeconds: Double?
        var trailingStdoutBytes: Int?
        var mcpboxStderr: String
    }

    /// Builds the SDK client package in its own scratch directory and returns the executable's path.
    static func buildClient() throws -> String {
        let root = TestSupport.packageRoot.path
        let args = ["/usr/bin/env", "swift", "build", "--package-path", root + "/Tests/SwiftSDKClient",
                    "--scratch-path", root + "/.build-sdkclient", "--product", "mcp-sdk-client"]
        let build = try runProcess(args, timeout: 1800)
        guard !build.timedOut, build.status == 0 else {
            throw SupportError("building Tests/SwiftSDKClient failed (exit \(build.status)\(build.timedOut ? ", timed out after 1800 s" : "")): "
                + "\(args.joined(separator: " "))\n\(build.stdoutText.suffix(3000))\n\(build.stderr.suffix(3000))")
        }
        let binPath = try runProcess(args + ["--show-bin-path"], timeout: 300)
        let dir = binPath.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        let client = dir + "/mcp-sdk-client"
        guard binPath.status == 0, FileManager.default.isExecutableFile(atPath: client) else {
            throw SupportError("no mcp-sdk-client after the build (bin path `\(dir)`): \(binPath.stderr)")
        }
        return client
    }

    @Test("initialize, list tools, call get_current_time, close stdin: mcpbox exits 0 on its own",
          .timeLimit(.minutes(40)))
    func timeServer() throws {
        let mcpbox = try TestSupport.mcpboxBinary()
        let venv = try TestSupport.venv()
        let client = try Self.buildClient()
        let home = try TempDir(prefix: "mcpbox-sdkclient")
        defer { home.remove() }

        let env = ["PATH": "\(venv)/bin:/usr/local/bin:/usr/bin:/bin", "HOME": home.path, "LANG": "C.UTF-8",
                   "SDK_CLIENT_STEP_TIMEOUT": "90"]
        let argv = [client, mcpbox, "time", "--profile-path", TestSupport.profilesDir, "--", venv + "/bin/mcp-server-time"]
        let r = try runProcess(argv, environment: env, currentDirectory: home.path, timeout: 600)
        try #require(!r.timedOut, "mcp-sdk-client overran 600 s: \(r.stderr.suffix(2000))")
        let report: Report
        do {
            report = try JSONDecoder().decode(Report.self, from: r.stdout)
        } catch {
            Issue.record("mcp-sdk-client exited \(r.status) without a JSON report: stdout \(r.stdoutText.prefix(1000)) stderr \(r.stderr.suffix(2000))")
            return
        }
        let context = "step \(report.step ?? "-"): \(report.error ?? "-"); mcpbox stderr: \(report.mcpboxStderr)"
        #expect(r.status == 0 && report.ok, "the Swift SDK session failed (client exit \(r.status)), \(context)")
        #expect(report.serverName == "mcp-time", "serverInfo.name: \(report.serverName ?? "nil")")
        #expect(report.protocolVersion?.isEmpty == false, "no protocolVersion negotiated")
        #expect(report.tools.contains("get_current_time") && report.tools.contains("convert_time"), "tools: \(report.tools)")

        let text = report.callText ?? ""
        #expect(report.callIsError == false, "get_current_time isError=\(String(describing: report.callIsError)): \(text)")
        #expect(text.contains("\"timezone\": \"UTC\"") && text.contains("+00:00"), "get_current_time UTC: \(text)")
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        #expect(text.contains("\"datetime\": \"\(year)") || text.contains("\"datetime\": \"\(year + 1)"),
                "get_current_time returned an implausible date: \(text)")

        // The end of the session: stdin closed, then mcpbox exits 0 by itself, promptly, adding nothing to stdout.
        #expect(report.mcpboxStatus == 0, "mcpbox exit status after stdin closed: \(String(describing: report.mcpboxStatus)), \(context)")
        #expect((report.exitSeconds ?? .infinity) < 30, "mcpbox took \(String(describing: report.exitSeconds)) s to exit after stdin closed")
        #expect(report.trailingStdoutBytes == 0, "stdout after the session closed: \(String(describing: report.trailingStdoutBytes)) bytes")
        // Only the warning explain shows too (root without [user] runs the server as nobody), printed once at launch.
        let complaints = report.mcpboxStderr.split(separator: "\n").filter { $0.contains("mcpbox:") }
        #expect(complaints.allSatisfy { $0.hasPrefix("mcpbox: warning: identity: the server runs as the shared `nobody` account") } && complaints.count <= 1,
                "mcpbox complained on stderr: \(report.mcpboxStderr)")
    }
}
