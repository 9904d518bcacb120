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
}
