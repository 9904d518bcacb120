import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import MCPBoxCore

/// What a read-write bind around a repository left writable although `explain` listed it as
/// protected (a red-team pass planted code through each and host git ran it; each case passed
/// the plan before its fix).
@Suite struct GitLookalikeTests {
    func git(_ args: [String]) throws { try Fixture.git(args) }

    func scratch(binding bind: String) -> Scratch {
        let s = Scratch()
        s.write("profiles/base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        s.write("profiles/p.toml", "[filesystem]\nread_write = [\"\(s.path)/\(bind)\"]\n")
        return s
    }

    func messages(_ s: Scratch) -> [String] {
        Fixture.errors("p", dirs: [s.path + "/profiles"], host: Fixture.host(uid: 0, gid: 0)).map(\.message)
    }

    @Test("a `.git` that is neither a git directory nor a gitfile (a symlink, a dangling one, an empty directory) is refused: the server could make it a git directory of its own")
    func lookalikesRefused() throws {
        let s = scratch(binding: "tree")
        try git(["init", "-q", s.path + "/elsewhere/real"])
        s.mkdir("tree/empty/.git")
        s.mkdir("tree/linked")
        #expect(symlink(s.path + "/elsewhere/real/.git", s.path + "/tree/linked/.git") == 0)
        s.mkdir("tree/dangling")
        #expect(symlink("/nonexistent-mcpbox-git", s.path + "/tree/dangling/.git") == 0)
        let errors = messages(s)
        for (dir, what) in [("empty", "a directory that is not a git directory"), ("linked", "a symlink (to \(s.path)/elsewhere/real/.git)"),
                            ("dangling", "a symlink (to /nonexistent-mcpbox-git)")] {
            #expect(errors.contains { $0.contains("\(s.path)/tree/\(dir)/.git is \(what), inside a read-write bind") }, "\(dir): \(errors)")
        }
        // The bind itself named `.git`, empty: the server would make its parent a repository.
        let t = scratch(binding: "wt/.git")
        t.mkdir("wt/.git")
        #expect(messages(t).contains { $0.contains("\(t.path)/wt/.git is a directory that is not a git directory") }, "\(messages(t))")
    }

    @Test("a hook that is a symlink into the read-write tree: its target is bound read-only too; one to a missing file, or a hook with another hard link, is refused")
    func linkedHooks() throws {
        let s = scratch(binding: "repo")
        try git(["init", "-q", s.path + "/repo"])
        let hooks = s.path + "/repo/.git/hooks"
        s.write("repo/scripts/pre-commit", "#!/bin/sh\n", mode: 0o755)
        #expect(symlink("../../scripts/pre-commit", hooks + "/pre-commit") == 0)
        let plan = try #require(Fixture.plan("p", dirs: [s.path + "/profiles"], host: Fixture.host(uid: 0, gid: 0)).plan)
        let target = s.path + "/repo/scripts/pre-commit"
        #expect(plan.mounts.contains { $0.target == target && $0.kind == .bind(source: target, readOnly: true) }, "\(plan.mounts.map(\.target))")

        s.write("repo/scripts/post-checkout", "#!/bin/sh\n", mode: 0o755)
        #expect(link(s.path + "/repo/scripts/post-checkout", hooks + "/post-checkout") == 0)
        #expect(symlink("../../scripts/not-yet", hooks + "/pre-push") == 0)
        let errors = messages(s)
        #expect(errors.contains { $0.contains("\(hooks)/post-checkout, which host git reads or runs") && $0.contains("has 2 hard links") }, "\(errors)")
        #expect(errors.contains { $0.contains("\(hooks)/pre-push, which host git runs") && $0.contains("a symlink to a path that does not exist") }, "\(errors)")
    }

    @Test("core.hooksPath: a hook there that is a symlink to a script in the tree gets the script bound read-only")
    func hooksPathSymlink() throws {
        let s = scratch(binding: "repo")
        try git(["init", "-q", s.path + "/repo"])
        try git(["-C", s.path + "/repo", "config", "core.hooksPath", ".githooks"])
        s.write("repo/tools/pc", "#!/bin/sh\n", mode: 0o755)
        s.mkdir("repo/.githooks")
        #expect(symlink("../tools/pc", s.path + "/repo/.githooks/pre-commit") == 0)
        let plan = try #require(Fixture.plan("p", dirs: [s.path + "/profiles"], host: Fixture.host(uid: 0, gid: 0)).plan)
        let target = s.path + "/repo/tools/pc"
        #expect(plan.mounts.contains { $0.target == target && $0.kind == .bind(source: target, readOnly: true) }, "\(plan.mounts.map(\.target))")
    }

    @Test("the repository's config with another hard link is refused")
    func hardLinkedConfig() throws {
        let s = scratch(binding: "repo")
        try git(["init", "-q", s.path + "/repo"])
        #expect(link(s.path + "/repo/.git/config", s.path + "/repo/config-copy") == 0)
        #expect(messages(s).contains { $0.contains("\(s.path)/repo/.git/config, which host git reads or runs") }, "\(messages(s))")
    }

    /// A second red-team pass: only the last link of a hook's symlink chain was bound read-only,
    /// and a script a wrapper or an option-taking interpreter runs was not protected.
    @Test("a hook reached through a symlink in the read-write tree is refused; a command's script behind a wrapper, or after an option's value, is bound read-only")
    func chainsAndWrappers() throws {
        let s = scratch(binding: "repo")
        try git(["init", "-q", s.path + "/repo"])
        s.write("repo/tools/real-hook", "#!/bin/sh\n", mode: 0o755)
        #expect(symlink("real-hook", s.path + "/repo/tools/link2") == 0)
        #expect(symlink("../../tools/link2", s.path + "/repo/.git/hooks/pre-commit") == 0)
        let errors = messages(s)
        #expect(errors.contains { $0.contains("leads through the symlink \(s.path)/repo/tools/link2 in a path the server may write") }, "\(errors)")

        let t = scratch(binding: "repo")
        try git(["init", "-q", t.path + "/repo"])
        // Each in a directory of its own: a script is bound read-only with its directory.
        t.write("repo/a/pg.sh", "#!/bin/sh\n")
        t.write("repo/b/fsm7.js", "\n")
        t.write("repo/c/req.js", "\n")
        try git(["-C", t.path + "/repo", "config", "core.pager", "nice sh a/pg.sh"])
        try git(["-C", t.path + "/repo", "config", "merge.m.driver", "node --require ./c/req.js b/fsm7.js"])
        let plan = try #require(Fixture.plan("p", dirs: [t.path + "/profiles"], host: Fixture.host(uid: 0, gid: 0)).plan)
        for dir in ["a", "b", "c"] {
            let path = t.path + "/repo/" + dir
            #expect(plan.mounts.contains { $0.target == path && $0.kind == .bind(source: path, readOnly: true) }, "\(dir): \(plan.mounts.map(\.target))")
        }
    }

    /// A third red-team pass: the hop check followed names lexically, so a symlinked directory
    /// outside the binds (or `..` after one) led it away from a link the server could re-point.
    @Test("a hook's chain through a symlinked directory outside the bind is judged where the kernel walks it")
    func chainThroughSymlinkedDirectory() throws {
        let s = scratch(binding: "gw")
        try git(["init", "-q", s.path + "/gw/repo"])
        s.write("gw/tools/real.sh", "#!/bin/sh\n", mode: 0o755)
        #expect(symlink("real.sh", s.path + "/gw/tools/hopA") == 0)
        s.mkdir("gout")
        #expect(symlink(s.path + "/gw/tools", s.path + "/gout/lnk") == 0)
        #expect(symlink(s.path + "/gout/lnk/hopA", s.path + "/gw/repo/.git/hooks/pre-commit") == 0)
        let errors = messages(s)
        #expect(errors.contains { $0.contains("leads through the symlink \(s.path)/gw/tools/hopA in a path the server may write") }, "\(errors)")
    }

    /// A fourth red-team pass: values the scanner cannot judge word by word ran planted scripts.
    @Test("the repository's own command values mcpbox cannot judge are refused (acknowledgeable); protocol.ext.allow = user is refused; a hooksPath under /proc is refused")
    func opaqueRepositoryValues() throws {
        let s = scratch(binding: "repo")
        try git(["init", "-q", s.path + "/repo"])
        try git(["-C", s.path + "/repo", "config", "alias.vr", "!sh $PWD/s_var.sh"])
        try git(["-C", s.path + "/repo", "config", "protocol.ext.allow", "user"])
        try git(["-C", s.path + "/repo", "config", "core.hooksPath", "/proc/self/cwd/myhooks"])
        let errors = messages(s)
        #expect(errors.contains { $0.contains("alias.vr) = !sh $PWD/s_var.sh: mcpbox cannot tell which files") }, "\(errors)")
        #expect(errors.contains { $0.contains("protocol.ext.allow) = user lets a URL") }, "\(errors)")
        #expect(errors.contains { $0.contains("core.hookspath) = /proc/self/cwd/myhooks: mcpbox cannot tell") }, "\(errors)")
        s.write("profiles/p.toml", "[filesystem]\nread_write = [\"\(s.path)/repo\"]\naccept = [\"\(s.path)/repo\"]\n")
        #expect(!messages(s).contains { $0.contains("alias.vr") }, "\(messages(s))")
    }
}
