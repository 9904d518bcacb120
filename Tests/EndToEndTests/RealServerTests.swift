import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Real servers from PyPI (mcp-server-time, mcp-server-git) under the shipped `time` and `git`
/// profiles, driven through `mcpbox run` by the real Python MCP SDK client (Fixtures/mcp_client.py).
@Suite("Real MCP servers through mcpbox", .enabled(if: TestSupport.isRoot, "creates throwaway accounts: run as root (CI does)"))
struct RealServerTests {
    enum Launch: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// Root without `[user]`: the shipped profile as is.
        case rootShippedProfile = "root, shipped profile"
        /// Root with a profile that extends the shipped one and names a dedicated account.
        case rootDedicatedAccount = "root, dedicated account"
        var testDescription: String { rawValue }
    }

    @Test("mcp-server-time under `time`: initialize, list tools, call tools, clean close", arguments: Launch.allCases)
    func time(launch: Launch) throws {
        let env = try E2EEnvironment(launch: launch, shippedProfile: "time")
        defer { env.cleanUp() }

        let out = try env.runClient(args: ["run", env.profile, "--profile-path", TestSupport.profilesDir], calls: [
            ["tool": "get_current_time", "arguments": ["timezone": "UTC"]],
            ["tool": "convert_time", "arguments": ["source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"]],
        ])
        out.expectCleanSession(server: "mcp-time")
        #expect(out.tools.contains("get_current_time") && out.tools.contains("convert_time"), "tools: \(out.tools)")
        try #require(out.calls.count == 2, "calls: \(out.calls)")
        #expect(!out.calls[0].isError && out.calls[0].text.contains("\"timezone\": \"UTC\""), "get_current_time: \(out.calls[0].text)")
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        #expect(out.calls[0].text.contains("\"datetime\": \"\(year)") || out.calls[0].text.contains("\"datetime\": \"\(year + 1)"),
                "get_current_time returned an implausible date: \(out.calls[0].text)")
        #expect(!out.calls[1].isError && out.calls[1].text.contains("T21:00:00+09:00"),
                "convert_time 12:00 UTC → Tokyo should be 21:00 (+09:00): \(out.calls[1].text)")
    }

    @Test("mcp-server-git under `git`: reads and commits in its repository, clean close", arguments: Launch.allCases)
    func gitInRepository(launch: Launch) throws { try Self.gitInRepository(launch: launch, runtime: nil) }

    /// Also run under `[isolation] runtime = "gvisor"` by GVisorRealServerTests.
    static func gitInRepository(launch: Launch, runtime: String?) throws {
        let env = try E2EEnvironment(launch: launch, shippedProfile: "git", runtime: runtime)
        defer { env.cleanUp() }
        let repos = try env.makeRepositories()
        let message = "commit from the sandbox \(env.token)"

        let out = try env.runClient(args: ["run", env.profile, "--profile-path", TestSupport.profilesDir, "--set", "repo=\(repos.repo)"], calls: [
            ["tool": "git_status", "arguments": ["repo_path": repos.repo]],
            ["tool": "git_log", "arguments": ["repo_path": repos.repo]],
            ["tool": "git_add", "arguments": ["repo_path": repos.repo, "files": ["new-file.txt"]]],
            ["tool": "git_commit", "arguments": ["repo_path": repos.repo, "message": message]],
            ["tool": "git_log", "arguments": ["repo_path": repos.repo]],
        ])
        out.expectCleanSession(server: "mcp-git")
        #expect(out.tools.contains("git_status") && out.tools.contains("git_commit"), "tools: \(out.tools)")
        try #require(out.calls.count == 5, "calls: \(out.calls)")
        for call in out.calls { #expect(!call.isError, "\(call.tool) failed inside the sandbox: \(call.text)") }
        #expect(out.calls[0].text.contains("new-file.txt"), "git_status should list the untracked file: \(out.calls[0].text)")
        #expect(out.calls[1].text.contains("initial commit \(env.token)"), "git_log: \(out.calls[1].text)")
        #expect(out.calls[4].text.contains(message), "git_log after commit: \(out.calls[4].text)")

        // The host sees the commit, and the objects the server wrote belong to the server's account.
        let log = try runProcess(["/usr/bin/git", "-C", repos.repo, "log", "--format=%s"])
        #expect(log.stdoutText.contains(message), "host git log lacks the server's commit: \(log.stdoutText) \(log.stderr)")
        let head = try runProcess(["/usr/bin/git", "-C", repos.repo, "rev-parse", "HEAD"])
        let hash = head.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        if hash.count == 40 {
            let object = "\(repos.repo)/.git/objects/\(hash.prefix(2))/\(hash.dropFirst(2))"
            #expect(ownerUID(of: object) == env.serverUID, "commit object \(object) owner \(String(describing: ownerUID(of: object))), expected uid \(env.serverUID)")
        }
    }

    @Test("mcp-server-git on a repository its account may not write: status and log work, add and commit fail, the host repository is unchanged",
          arguments: Launch.allCases)
    func gitReadOnlyRepository(launch: Launch) throws { try Self.gitReadOnlyRepository(launch: launch, runtime: nil) }

    /// Also run under `[isolation] runtime = "gvisor"` by GVisorRealServerTests.
    static func gitReadOnlyRepository(launch: Launch, runtime: String?) throws {
        let env = try E2EEnvironment(launch: launch, shippedProfile: "git", runtime: runtime)
        defer { env.cleanUp() }
        let repos = try env.makeRepositories()
        // Owner root, group the server's: without group write the account may only read it.
        let r = try runProcess(["/bin/chmod", "-R", "g-w", repos.repo])
        try #require(r.status == 0, "\(r.stderr)")
        let before = try runProcess(["/usr/bin/git", "-C", repos.repo, "rev-parse", "HEAD"]).stdoutText

        let out = try env.runClient(args: ["run", env.profile, "--profile-path", TestSupport.profilesDir, "--set", "repo=\(repos.repo)"], calls: [
            ["tool": "git_status", "arguments": ["repo_path": repos.repo]],
            ["tool": "git_log", "arguments": ["repo_path": repos.repo]],
            ["tool": "git_add", "arguments": ["repo_path": repos.repo, "files": ["new-file.txt"]]],
            ["tool": "git_commit", "arguments": ["repo_path": repos.repo, "message": "must not land \(env.token)"]],
        ])
        out.expectCleanSession(server: "mcp-git")
        try #require(out.calls.count == 4, "calls: \(out.calls)")
        #expect(!out.calls[0].isError && out.calls[0].text.contains("new-file.txt"), "git_status: \(out.calls[0].text)")
        #expect(!out.calls[1].isError && out.calls[1].text.contains("initial commit \(env.token)"), "git_log: \(out.calls[1].text)")
        #expect(out.calls[2].isError && out.calls[2].text.contains("Permission denied"), "git_add on a read-only repository: \(out.calls[2].text)")
        #expect(out.calls[3].isError, "git_commit on a read-only repository: \(out.calls[3].text)")
        let after = try runProcess(["/usr/bin/git", "-C", repos.repo, "rev-parse", "HEAD"]).stdoutText
        #expect(before == after && !before.isEmpty, "the repository's HEAD moved: \(before) → \(after)")
        let staged = try runProcess(["/usr/bin/git", "-C", repos.repo, "diff", "--cached", "--name-only"]).stdoutText
        #expect(staged.isEmpty, "something was staged: \(staged)")
        #expect(!FileManager.default.fileExists(atPath: repos.repo + "/.git/index.lock"))
    }

    @Test("mcp-server-git as client configs write it: the repository comes from its own --repository (no --set)",
          arguments: Launch.allCases)
    func gitRepositoryFromServerArguments(launch: Launch) throws {
        let env = try E2EEnvironment(launch: launch, shippedProfile: "git")
        defer { env.cleanUp() }
        let repos = try env.makeRepositories()
        let server = try TestSupport.venv() + "/bin/mcp-server-git"
        let out = try env.runClient(args: ["run", env.profile, "--profile-path", TestSupport.profilesDir, "--",
                                           server, "--repository", repos.repo], calls: [
            ["tool": "git_status", "arguments": ["repo_path": repos.repo]],
            ["tool": "git_add", "arguments": ["repo_path": repos.repo, "files": ["new-file.txt"]]],
            ["tool": "git_commit", "arguments": ["repo_path": repos.repo, "message": "via --repository \(env.token)"]],
        ])
        out.expectCleanSession(server: "mcp-git")
        try #require(out.calls.count == 3, "calls: \(out.calls)")
        for call in out.calls { #expect(!call.isError, "\(call.tool) failed inside the sandbox: \(call.text)") }
        let log = try runProcess(["/usr/bin/git", "-C", repos.repo, "log", "--format=%s"])
        #expect(log.stdoutText.contains("via --repository \(env.token)"), "host git log: \(log.stdoutText) \(log.stderr)")
    }

    @Test("mcp-server-git unconfined by its own --repository: the sandbox alone hides a sibling repository", arguments: Launch.allCases)
    func gitSiblingInvisible(launch: Launch) throws { try Self.gitSiblingInvisible(launch: launch, runtime: nil) }

    /// Also run under `[isolation] runtime = "gvisor"` by GVisorRealServerTests.
    static func gitSiblingInvisible(launch: Launch, runtime: String?) throws {
        let env = try E2EEnvironment(launch: launch, shippedProfile: "git", runtime: runtime)
        defer { env.cleanUp() }
        let repos = try env.makeRepositories()
        let server = try TestSupport.venv() + "/bin/mcp-server-git"

        // No --repository: the server itself would serve any path (outside the sandbox it reads the sibling).
        let out = try env.runClient(args: ["run", env.profile, "--profile-path", TestSupport.profilesDir, "--set", "repo=\(repos.repo)", "--", server], calls: [
            ["tool": "git_status", "arguments": ["repo_path": repos.sibling]],
            ["tool": "git_show", "arguments": ["repo_path": repos.sibling, "revision": "HEAD"]],
            ["tool": "git_log", "arguments": ["repo_path": repos.sibling]],
            ["tool": "git_status", "arguments": ["repo_path": repos.repo]],
        ])
        out.expectCleanSession(server: "mcp-git")
        try #require(out.calls.count == 4, "calls: \(out.calls)")
        for call in out.calls.prefix(3) {
            #expect(call.isError, "\(call.tool) on the sibling repository SUCCEEDED: \(call.text.prefix(500))")
            #expect(!call.text.contains(repos.siblingSecret), "\(call.tool) leaked the sibling's content")
        }
        #expect(!out.calls[3].isError && out.calls[3].text.contains("new-file.txt"),
                "control: git_status on the granted repository should work: \(out.calls[3].text)")
    }
}

/// What the Python client reported.
struct ClientOutput: Decodable {
    struct Call: Decodable, CustomStringConvertible {
        var tool: String
        var is_error: Bool
        var text: String
        /// The JSON-RPC error code when the call failed at the protocol level.
        var code: Int?
        var isError: Bool { is_error }
        var description: String { "\(tool)(error: \(is_error)): \(text.prefix(300))" }
    }
    var server: String?
    var tools: [String]
    var calls: [Call]
    var close_seconds: Double?
    var escalated: Bool
    var returncode: Int?
    var error: String?
    /// With `clientFeatures`: the requests the server made of the client, in order.
    var client_requests: [String]?
    /// mcpbox's stderr (the client's errlog).
    var stderr: String = ""

    enum CodingKeys: String, CodingKey { case server, tools, calls, close_seconds, escalated, returncode, error, client_requests }

    func expectCleanSession(server expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(error == nil, "client error: \(error ?? "") — mcpbox stderr: \(stderr.suffix(1500))", sourceLocation: sourceLocation)
        #expect(server == expected, "server name \(server ?? "nil"), expected \(expected) — mcpbox stderr: \(stderr.suffix(1500))",
                sourceLocation: sourceLocation)
        #expect(!escalated, "closing stdin did not end mcpbox within the SDK's 2 s grace: the client escalated to signals (close took \(close_seconds ?? -1) s)",
                sourceLocation: sourceLocation)
        #expect(returncode == 0, "mcpbox exit status \(String(describing: returncode)) after a clean close, expected 0 — stderr: \(stderr.suffix(1500))",
                sourceLocation: sourceLocation)
        if let close_seconds {
            #expect(close_seconds < 2.0, "close took \(close_seconds) s", sourceLocation: sourceLocation)
        }
    }
}

/// A temp dir, optionally a dedicated account and a profile extending a shipped one.
struct E2EEnvironment {
    let launch: RealServerTests.Launch
    let tmp: TempDir
    let account: TestAccount?
    /// Profile argument for `mcpbox run`: the shipped name, or a path to the wrapper profile.
    let profile: String
    let token = String(UInt64.random(in: 0..<UInt64.max), radix: 36)
    let venv: String
    let mcpbox: String
    /// Host uid the server runs as (from `mcpbox explain --json`).
    let serverUID: UInt32
    let serverGID: UInt32

    /// `runtime`: when given, the profile is wrapped once more with `[isolation] runtime = RUNTIME`.
    init(launch: RealServerTests.Launch, shippedProfile: String, runtime: String? = nil) throws {
        self.launch = launch
        venv = try TestSupport.venv()
        mcpbox = try TestSupport.mcpboxBinary()
        tmp = try TempDir(prefix: "mcpbox-e2e")
        var profile: String
        switch launch {
        case .rootShippedProfile:
            account = nil
            profile = shippedProfile
        case .rootDedicatedAccount:
            let a: TestAccount
            do { a = try TestAccount.create(prefix: "mcpbox-e2e") } catch { tmp.remove(); throw error }
            account = a
            try tmp.makeDir("profiles")
            profile = try tmp.write("profiles/\(shippedProfile)-dedicated.toml", """
                description = "the shipped `\(shippedProfile)` profile, as a dedicated account"
                extends = [\(tomlString(shippedProfile))]

                [user]
                name = \(tomlString(a.name))

                """)
        }
        do {
        if let runtime {
            try tmp.makeDir("profiles")
            profile = try tmp.write("profiles/\(shippedProfile)-\(runtime).toml", """
                extends = [\(tomlString(profile))]

                [isolation]
                runtime = \(tomlString(runtime))

                """)
        }
        } catch {
            account?.delete()
            tmp.remove()
            throw error
        }
        self.profile = profile
        let work = try tmp.makeDir("work")
        let explain = try runProcess([mcpbox, "explain", profile, "--profile-path", TestSupport.profilesDir,
                                      "--set", "repo=\(work)", "--json"], environment: Self.environment(venv: venv, home: tmp.path))
        struct Explain: Decodable {
            struct Identity: Decodable {
                struct IDs: Decodable { var uid: UInt32; var gid: UInt32 }
                var host: IDs
            }
            var identity: Identity
        }
        guard explain.status == 0, let parsed = try? JSONDecoder().decode(Explain.self, from: explain.stdout) else {
            account?.delete()
            tmp.remove()
            throw SupportError("mcpbox explain \(profile) --json failed (exit \(explain.status)): \(explain.stderr)")
        }
        serverUID = parsed.identity.host.uid
        serverGID = parsed.identity.host.gid
    }

    static func environment(venv: String, home: String) -> [String: String] {
        ["PATH": "\(venv)/bin:/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8"]
    }

    func cleanUp() {
        account?.delete()
        tmp.remove()
    }

    struct Repositories {
        var repo: String
        var sibling: String
        var siblingSecret: String
    }

    /// A repository (owned by root, its group the server's with write access, one commit, one
    /// untracked file) and a world-readable sibling repository holding a secret.
    func makeRepositories() throws -> Repositories {
        let repo = try tmp.makeDir("work/repo")
        let sibling = try tmp.makeDir("work/sibling")
        let secret = "sibling-secret-\(token)"
        let git = ["/usr/bin/git", "-c", "user.name=mcpbox test", "-c", "user.email=test@mcpbox.invalid", "-c", "init.defaultBranch=main"]
        for (dir, file, content, message) in [(repo, "README", "hello\n", "initial commit \(token)"),
                                              (sibling, "secret.txt", secret + "\n", "sibling \(secret)")] {
            _ = try tmp.write(String(dir.dropFirst(tmp.path.count + 1)) + "/" + file, content)
            for step in [["init", "-q", dir], ["-C", dir, "add", file], ["-C", dir, "commit", "-q", "-m", message]] {
                let r = try runProcess(git + step)
                guard r.status == 0 else { throw SupportError("git \(step): \(r.stderr)") }
            }
        }
        _ = try tmp.write("work/repo/new-file.txt", "new\n")
        // Host git (root) keeps trusting its own repository; the server writes through its group.
        for cmd in [["/bin/chgrp", "-R", String(serverGID), repo], ["/bin/chmod", "-R", "g+rwX", repo],
                    ["/usr/bin/find", repo, "-type", "d", "-exec", "/bin/chmod", "g+s", "{}", "+"]] {
            let r = try runProcess(cmd)
            guard r.status == 0 else { throw SupportError("\(cmd): \(r.stderr)") }
        }
        _ = try runProcess(["/bin/chmod", "-R", "a+rX", sibling])
        return Repositories(repo: repo, sibling: sibling, siblingSecret: secret)
    }

    /// Runs the Python SDK client against `mcpbox ARGS`.
    func runClient(command: String? = nil, args: [String], calls: [[String: Any]], clientFeatures: Bool = false) throws -> ClientOutput {
        let config: [String: Any] = [
            "command": command ?? mcpbox, "args": args, "calls": calls, "timeout": 120,
            "env": Self.environment(venv: venv, home: tmp.path), "client_features": clientFeatures,
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
        let client = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures/mcp_client.py").path
        let r = try runProcess([venv + "/bin/python", client, json], environment: Self.environment(venv: venv, home: tmp.path), timeout: 180)
        guard !r.timedOut else { throw SupportError("the MCP client timed out; stderr: \(r.stderr.suffix(2000))") }
        do {
            var out = try JSONDecoder().decode(ClientOutput.self, from: r.stdout)
            out.stderr = r.stderr
            return out
        } catch {
            throw SupportError("the MCP client exited \(r.status) without a report: \(r.stderr.suffix(2000)) \(r.stdoutText.prefix(500))")
        }
    }
}
