import Testing
@testable import MCPBoxCLI

/// `run`'s fast command-line parser must accept exactly what ArgumentParser accepts, with the
/// same meaning, or decline (nil) so ArgumentParser handles it.
@Suite struct FastRunTests {
    static let accepted: [[String]] = [
        ["run", "time"],
        ["run", "time", "--", "mcp-server-time", "--local-timezone", "UTC"],
        ["run", "git", "--set", "repo=/srv/r", "--", "mcp-server-git", "--repository", "/srv/r"],
        ["run", "--set", "a=1", "git", "--set", "b=2", "--profile-path", "/etc/x", "--dry-run"],
        ["run", "--dry-run", "./p.toml", "--", "--weird", "--", "-x"],
        ["run", "p", "--profile-path", "/a:/b", "--", ""],
        ["run", "p", "--set", "k=", "--"],
    ]

    @Test(arguments: accepted)
    func agreesWithArgumentParser(_ argv: [String]) throws {
        let fast = try #require(FastRun.parse(argv), "fast path declined \(argv)")
        let parsed = try #require(try MCPBox.parseAsRoot(argv) as? Run)
        #expect(fast.profile == parsed.profile)
        #expect(fast.options == parsed.options.selection)
        #expect(fast.dryRun == parsed.dryRun)
        #expect(fast.command == parsed.command)
    }

    static let declined: [[String]] = [
        ["run"], ["run", "--help"], ["run", "-h"], ["run", "p", "q"], ["run", "--set"],
        ["run", "p", "--set", "--dry-run"], ["run", "p", "--dry-run", "--dry-run"], ["run", "--unknown", "p"],
        ["run", "--", "cmd"], ["explain", "p"], ["check", "p"], [], ["run", "p", "--set=a=1"],
    ]

    @Test(arguments: declined)
    func declinesEverythingElse(_ argv: [String]) {
        #expect(FastRun.parse(argv) == nil)
    }

    static let explainAccepted: [[String]] = [
        ["explain", "time"],
        ["explain", "time", "--json"],
        ["explain", "--json", "git", "--set", "repo=/srv/r", "--", "mcp-server-git", "--repository", "/srv/r"],
        ["explain", "--set", "a=1", "git", "--set", "b=2", "--profile-path", "/etc/x"],
        ["explain", "./p.toml", "--", "--weird", "--", "-x"],
        ["explain", "p", "--profile-path", "/a:/b", "--json", "--", ""],
        ["explain", "p", "--set", "k=", "--"],
    ]

    @Test(arguments: explainAccepted)
    func explainAgreesWithArgumentParser(_ argv: [String]) throws {
        let fast = try #require(FastExplain.parse(argv), "fast path declined \(argv)")
        let parsed = try #require(try MCPBox.parseAsRoot(argv) as? ExplainCommand)
        #expect(fast.profile == parsed.profile)
        #expect(fast.options == parsed.options.selection)
        #expect(fast.json == parsed.json)
        #expect(fast.command == parsed.command)
    }

    static let explainDeclined: [[String]] = [
        ["explain"], ["explain", "--help"], ["explain", "-h"], ["explain", "p", "q"], ["explain", "--set"],
        ["explain", "p", "--set", "--json"], ["explain", "p", "--json", "--json"], ["explain", "--unknown", "p"],
        ["explain", "--", "cmd"], ["run", "p"], ["check", "p"], [], ["explain", "p", "--set=a=1"],
        ["explain", "p", "--dry-run"], ["run", "p", "--json"],
    ]

    @Test(arguments: explainDeclined)
    func explainDeclinesEverythingElse(_ argv: [String]) {
        #expect(FastExplain.parse(argv) == nil)
    }
}
