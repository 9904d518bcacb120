import Foundation
import Testing
@testable import MCPBoxCore

/// A read-write bind that is a linked worktree (`git worktree add`) or a submodule holds only a
/// gitfile; the configuration host git reads there is its git directory's and, for a linked
/// worktree, the main repository's (`commondir`), with relative paths resolved from the bound
/// worktree: husky's `core.hooksPath = .husky/_` names `.husky/_` inside the bind. Found by a
/// red-team pass: before the fix that configuration was never read, so the server could write
/// `.husky/_/pre-commit` and the user's next `git commit` in the worktree ran it.
@Suite struct LinkedWorktreeConfigTests {
    func git(_ args: [String]) throws { try Fixture.git(args) }

    /// `s/main` (husky's hooksPath in its config) with the linked worktree `s/wt`, bound read-write.
    func setUp() throws -> Scratch {
        let s = Scratch()
        try git(["init", "-q", s.path + "/main"])
        try git(["-C", s.path + "/main", "config", "core.hooksPath", ".husky/_"])
        try git(["-C", s.path + "/main", "commit", "-q", "--allow-empty", "-m", "x"])
        try git(["-C", s.path + "/main", "worktree", "add", "-q", s.path + "/wt"])
        s.write("profiles/base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        s.write("profiles/p.toml", "[filesystem]\nread_write = [\"\(s.path)/wt\"]\n")
        return s
    }

    func plan(_ s: Scratch) -> (plan: SandboxPlan?, errors: [Diagnostic]) {
        let host = Fixture.host(uid: 0, gid: 0, env: ["HOME": s.path + "/home"])
        return (Fixture.plan("p", dirs: [s.path + "/profiles"], host: host).plan,
                Fixture.errors("p", dirs: [s.path + "/profiles"], host: host))
    }

    @Test("the main repository's hooksPath, missing in the bound linked worktree, is refused")
    func missingHooksPathRefused() throws {
        let s = try setUp()
        let errors = plan(s).errors
        #expect(errors.contains {
            $0.message.contains("\(s.path)/wt's configuration (\(s.path)/main/.git/config: core.hookspath) names \(s.path)/wt/.husky/_, inside a path the server may write")
                && $0.message.contains("does not exist")
        }, "\(errors)")
    }

    @Test("a submodule's hooksPath, missing in its worktree inside the bound superproject, is refused")
    func submoduleHooksPathRefused() throws {
        let s = Scratch()
        try git(["init", "-q", s.path + "/lib"])
        try git(["-C", s.path + "/lib", "commit", "-q", "--allow-empty", "-m", "x"])
        try git(["init", "-q", s.path + "/super"])
        try git(["-C", s.path + "/super", "-c", "protocol.file.allow=always", "submodule", "add", "-q", s.path + "/lib", "sub"])
        try git(["-C", s.path + "/super/sub", "config", "core.hooksPath", ".husky/_"])
        s.write("profiles/base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        s.write("profiles/p.toml", "[filesystem]\nread_write = [\"\(s.path)/super\"]\n")
        let errors = plan(s).errors
        #expect(errors.contains {
            $0.message.contains("\(s.path)/super/sub's configuration (\(s.path)/super/.git/modules/sub/config: core.hookspath) names \(s.path)/super/sub/.husky/_")
                && $0.message.contains("does not exist")
        }, "\(errors)")
    }

    @Test("a bind inside a linked worktree: what the main repository's configuration names inside it is refused when missing")
    func bindInsideLinkedWorktree() throws {
        let s = try setUp()
        try git(["-C", s.path + "/main", "config", "core.fsmonitor", "src/fsmonitor"])
        s.mkdir("wt/src")
        s.write("profiles/p.toml", "[filesystem]\nread_write = [\"\(s.path)/wt/src\"]\n")
        let errors = plan(s).errors
        #expect(errors.contains {
            $0.message.contains("(\(s.path)/main/.git/config: core.fsmonitor) names \(s.path)/wt/src/fsmonitor, inside a path the server may write")
                && $0.message.contains("does not exist")
        }, "\(errors)")
    }

    @Test("the main repository's hooksPath inside the bound linked worktree is bound read-only")
    func hooksPathBoundReadOnly() throws {
        let s = try setUp()
        s.mkdir("wt/.husky/_")
        let r = plan(s)
        let p = try #require(r.plan, "\(r.errors)")
        let hooks = s.path + "/wt/.husky/_"
        let m = p.mounts.first { $0.target == hooks }
        #expect(m?.kind == .bind(source: hooks, readOnly: true) && m?.origin == "mcpbox: git protection (core.hookspath)", "\(String(describing: m))")
    }
}
