import Foundation
import Testing
@testable import MCPBoxCore

/// Host git reads the system and global configuration too (`/etc/gitconfig`, `~/.gitconfig`,
/// `$XDG_CONFIG_HOME/git/config`), and resolves a relative `core.hooksPath` there from the top
/// of whatever repository it runs in: `git config --global core.hooksPath .githooks` (versioned
/// per-repository hooks) makes every repository's `.githooks` a hooks directory. In a read-write
/// bind the server could write `.githooks/pre-commit`, run by the user's next `git commit`.
/// Found by a red-team pass: before the fix only the repository's own configuration was read.
@Suite struct GlobalGitConfigTests {
    /// A repository at `s/repo` (real git), bound read-write, and a home at `s/home`.
    func setUp() throws -> Scratch {
        let s = Scratch()
        s.mkdir("repo")
        s.mkdir("home")
        let r = Process()
        r.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        r.arguments = ["init", "-q", s.path + "/repo"]
        try r.run()
        r.waitUntilExit()
        try #require(r.terminationStatus == 0)
        s.write("profiles/base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        s.write("profiles/p.toml", "[filesystem]\nread_write = [\"\(s.path)/repo\"]\n")
        return s
    }

    func plan(_ s: Scratch, env: [String: String]) -> (plan: SandboxPlan?, errors: [Diagnostic]) {
        let host = Fixture.host(uid: 0, gid: 0, env: env)
        return (Fixture.plan("p", dirs: [s.path + "/profiles"], host: host).plan,
                Fixture.errors("p", dirs: [s.path + "/profiles"], host: host))
    }

    @Test("a relative core.hooksPath in ~/.gitconfig that does not exist in the repository yet is refused")
    func globalHooksPathMissingRefused() throws {
        let s = try setUp()
        s.write("home/.gitconfig", "[core]\n\thooksPath = .githooks\n")
        let errors = plan(s, env: ["HOME": s.path + "/home"]).errors
        #expect(errors.contains {
            $0.message.contains("(\(s.path)/home/.gitconfig: core.hookspath) names \(s.path)/repo/.githooks, inside a path the server may write")
                && $0.message.contains("does not exist")
        }, "\(errors)")
    }

    @Test("what the global configuration names inside the repository is bound read-only", arguments: ["home/.gitconfig", "xdg/git/config"])
    func globalNamesBoundReadOnly(_ file: String) throws {
        let s = try setUp()
        s.write(file, "[core]\n\thooksPath = .githooks\n\tfsmonitor = tools/fsmonitor\n")
        s.mkdir("repo/.githooks")
        s.write("repo/tools/fsmonitor", "#!/bin/sh\n", mode: 0o755)
        let r = plan(s, env: ["HOME": s.path + "/home", "XDG_CONFIG_HOME": s.path + "/xdg"])
        let p = try #require(r.plan, "\(r.errors)")
        for (path, key) in [("repo/.githooks", "core.hookspath"), ("repo/tools", "core.fsmonitor")] {
            let full = s.path + "/" + path
            let m = p.mounts.first { $0.target == full }
            #expect(m?.kind == .bind(source: full, readOnly: true) && m?.origin == "mcpbox: git protection (\(key))", "\(path): \(String(describing: m))")
        }
    }
}
