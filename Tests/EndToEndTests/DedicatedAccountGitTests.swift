import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The README's one-time steps for the shipped `git` profile started by root: `mcpbox user add`,
/// a profile naming that account, and `mcpbox grant` (POSIX ACLs on the repository); then
/// mcp-server-git, driven by the Python SDK client, commits.
@Suite(.serialized, .enabled(if: TestSupport.isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/setfacl"), "needs root and setfacl"))
struct DedicatedAccountGitTests {
    @Test func rootStartedGitCommitsAfterTheOneTimeSteps() throws {
        let mcpbox = try TestSupport.mcpboxBinary()
        let venv = try TestSupport.venv()
        let tmp = try TempDir(prefix: "mcpbox-acl-git")
        defer { tmp.remove() }
        var env = E2EEnvironment.environment(venv: venv, home: tmp.path)
        // A client entry's `env` names who commits; the server's commits carry it (they were
        // authored "nobody <nobody@mcpbox>" whatever the client said: found running real servers).
        env["GIT_AUTHOR_NAME"] = "Alice Author"
        env["GIT_AUTHOR_EMAIL"] = "alice@example.invalid"
        env["GIT_COMMITTER_NAME"] = "Carol Committer"
        env["GIT_COMMITTER_EMAIL"] = "carol@example.invalid"
        let token = String(UInt64.random(in: 0..<UInt64.max), radix: 36)

        // Step 1: the account.
        let name = "mcpgit-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        let add = try runProcess([mcpbox, "user", "add", name])
        #expect(add.status == 0, "\(add.stderr)")
        defer { _ = try? runProcess([mcpbox, "user", "remove", name]) }

        // A repository owned by root, closed to everyone else for writing (as `git init` makes it).
        let repo = try tmp.makeDir("repo")
        let git = ["/usr/bin/git", "-c", "user.name=mcpbox test", "-c", "user.email=test@mcpbox.invalid", "-c", "init.defaultBranch=main"]
        _ = try tmp.write("repo/README", "hello\n")
        for step in [["init", "-q", repo], ["-C", repo, "add", "README"], ["-C", repo, "commit", "-q", "-m", "initial \(token)"]] {
            let r = try runProcess(git + step)
            try #require(r.status == 0, "git \(step): \(r.stderr)")
        }
        _ = try tmp.write("repo/new-file.txt", "new\n")

        // Step 2: a profile extending the shipped one with the account.
        try tmp.makeDir("profiles")
        let profile = try tmp.write("profiles/my-git.toml", "extends = \"git\"\n[user]\nname = \"\(name)\"\n")
        let args = ["--profile-path", TestSupport.profilesDir, "--set", "repo=\(repo)"]
        let warned = try runProcess([mcpbox, "explain", profile] + args, environment: env)
        #expect(warned.stdoutText.contains("\(repo) is not writable by the server's account"), "\(warned.stdoutText)")

        // Step 3: ACLs (mcpbox grant): the account may read and write the tree, and what is created later inherits it.
        let grant = try runProcess([mcpbox, "grant", profile] + args, environment: env)
        try #require(grant.status == 0, "\(grant.stderr)")
        #expect(grant.stdoutText.contains("granted \(name) rwX on \(repo) (the whole tree"), "\(grant.stdoutText)")
        defer { _ = try? runProcess([mcpbox, "revoke", profile] + args, environment: env) }
        let clean = try runProcess([mcpbox, "explain", profile] + args, environment: env)
        #expect(clean.status == 0)
        #expect(!clean.stdoutText.contains("is not writable by the server's account"), "\(clean.stdoutText)")

        let message = "commit from the dedicated account \(token)"
        let config: [String: Any] = [
            "command": mcpbox, "args": ["run", profile] + args, "timeout": 120, "env": env,
            "calls": [
                ["tool": "git_add", "arguments": ["repo_path": repo, "files": ["new-file.txt"]]],
                ["tool": "git_commit", "arguments": ["repo_path": repo, "message": message]],
            ] as [[String: Any]],
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
        let client = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures/mcp_client.py").path
        let r = try runProcess([venv + "/bin/python", client, json], environment: env, timeout: 180)
        let out = try JSONDecoder().decode(ClientOutput.self, from: r.stdout)
        try #require(out.calls.count == 2, "\(r.stderr.suffix(2000))")
        for call in out.calls { #expect(!call.isError, "\(call.tool): \(call.text)") }
        let log = try runProcess(["/usr/bin/git", "-C", repo, "log", "--format=%s"])
        #expect(log.stdoutText.contains(message), "\(log.stdoutText) \(log.stderr)")
        let who = try runProcess(["/usr/bin/git", "-C", repo, "log", "-1", "--format=%an <%ae> / %cn <%ce>"])
        #expect(who.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "Alice Author <alice@example.invalid> / Carol Committer <carol@example.invalid>",
                "\(who.stdoutText) \(who.stderr)")
        let account = try #require(getpwnam(name)).pointee.pw_uid
        let head = try runProcess(["/usr/bin/git", "-C", repo, "rev-parse", "HEAD"])
        let hash = head.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(ownerUID(of: repo + "/.git/objects/\(hash.prefix(2))/\(hash.dropFirst(2))") == account)
    }
}
