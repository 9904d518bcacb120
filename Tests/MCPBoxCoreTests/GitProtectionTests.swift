import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import MCPBoxCore

/// Read-write binds around git repositories: what the plan protects, watches and refuses.
@Suite struct GitProtectionTests {
    /// A repository at `s/repo` made by real git, and a profile binding `bind` read-write.
    func setUp(bind: String = "repo", extra: String = "") throws -> Scratch {
        let s = Scratch()
        s.mkdir("repo")
        let r = Process()
        r.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        r.arguments = ["init", "-q", s.path + "/repo"]
        try r.run()
        r.waitUntilExit()
        try #require(r.terminationStatus == 0)
        s.write("profiles/base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        s.write("profiles/p.toml", "[filesystem]\nread_write = [\"\(s.path)/\(bind)\"]\n" + extra)
        return s
    }

    func rootHost() -> HostContext { Fixture.host(uid: 0, gid: 0) }

    @Test func configurationBearingEntriesBoundReadOnly() throws {
        let s = try setUp()
        let plan = try #require(Fixture.plan("p", dirs: [s.path + "/profiles"], host: rootHost()).plan)
        let git = s.path + "/repo/.git"
        for name in ["config", "hooks", "info", "objects/info"] {
            let m = plan.mounts.first { $0.target == git + "/" + name }
            #expect(m?.kind == .bind(source: git + "/" + name, readOnly: true), "\(name): \(String(describing: m))")
        }
        #expect(plan.gitProtected == [git])
        #expect(plan.gitWatched == ["commondir", "modules", "worktrees", "rebase-merge", "rebase-apply", "sequencer"].map { git + "/" + $0 })
        #expect(plan.gitTrees == [GitProtection.Tree(root: s.path + "/repo", known: [s.path + "/repo/.git"])])
        let text = Explain.text(plan)
        #expect(text.contains("mcpbox: git protection") && text.contains("git watch"))
    }

    @Test func nestedRepositoryDeepInsideIsFound() throws {
        let s = try setUp(bind: "tree")
        s.mkdir("tree/a/b/c")
        try FileManager.default.moveItem(atPath: s.path + "/repo", toPath: s.path + "/tree/a/b/repo")
        let plan = try #require(Fixture.plan("p", dirs: [s.path + "/profiles"], host: rootHost()).plan)
        #expect(plan.gitProtected == [s.path + "/tree/a/b/repo/.git"])
        #expect(plan.mounts.contains { $0.target == s.path + "/tree/a/b/repo/.git/hooks" })
    }

    @Test func gitfileBoundReadOnly() throws {
        let s = try setUp(bind: "tree")
        s.write("tree/wt/.git", "gitdir: /elsewhere/.git/worktrees/wt\n")
        let plan = try #require(Fixture.plan("p", dirs: [s.path + "/profiles"], host: rootHost()).plan)
        let f = s.path + "/tree/wt/.git"
        #expect(plan.mounts.contains { $0.target == f && $0.kind == .bind(source: f, readOnly: true) })
    }

    @Test func callerRemapRefused() throws {
        let s = try setUp()
        let errors = Fixture.errors("p", dirs: [s.path + "/profiles"], host: Fixture.host(uid: 4242, gid: 4242))
        #expect(errors.contains { $0.message.contains("caller-remap") && $0.message.contains(s.path + "/repo") }, "\(errors)")
    }

    @Test func callerRemapAcceptedExplicitly() throws {
        let s = try setUp(extra: "accept = [\"\(Scratch().path)/unrelated\"]\n")
        #expect(!Fixture.errors("p", dirs: [s.path + "/profiles"], host: Fixture.host(uid: 4242, gid: 4242)).isEmpty)
        s.write("profiles/p.toml", "[filesystem]\nread_write = [\"\(s.path)/repo\"]\naccept = [\"\(s.path)/repo\"]\n")
        let plan = try #require(Fixture.plan("p", dirs: [s.path + "/profiles"], host: Fixture.host(uid: 4242, gid: 4242)).plan)
        #expect(plan.accepted.contains { $0.path == s.path + "/repo" && $0.reason.contains("caller-remap") })
        #expect(Explain.text(plan).contains("accepted"))
    }

    @Test func bindInsideTheRepositoryIsRefusedInCallerRemapToo() throws {
        let s = try setUp(bind: "repo/src")
        s.mkdir("repo/src")
        let errors = Fixture.errors("p", dirs: [s.path + "/profiles"], host: Fixture.host(uid: 4242, gid: 4242))
        #expect(errors.contains { $0.message.contains("caller-remap") }, "\(errors)")
    }

    @Test func bindInsideTheWorktreeStillHasItsConfigurationScanned() throws {
        let s = try setUp(bind: "repo/src")
        s.mkdir("repo/src/hooks")
        s.write("repo/.git/config", "[core]\n\thooksPath = src/hooks\n")
        let plan = try #require(Fixture.plan("p", dirs: [s.path + "/profiles"], host: rootHost()).plan)
        let hooks = s.path + "/repo/src/hooks"
        #expect(plan.mounts.contains { $0.target == hooks && $0.kind == .bind(source: hooks, readOnly: true) }, "\(plan.mounts.map(\.target))")
    }

    @Test func bindingHooksReadWriteRefused() throws {
        let s = try setUp(bind: "repo/.git/hooks")
        let errors = Fixture.errors("p", dirs: [s.path + "/profiles"], host: rootHost())
        #expect(errors.contains { $0.message.contains("part of git's configuration") }, "\(errors)")
    }

    @Test func missingHooksDirectoryRefused() throws {
        let s = try setUp()
        try FileManager.default.removeItem(atPath: s.path + "/repo/.git/hooks")
        let errors = Fixture.errors("p", dirs: [s.path + "/profiles"], host: rootHost())
        #expect(errors.contains { $0.message.contains("has no hooks") && $0.hint?.contains("mkdir") == true }, "\(errors)")
        s.mkdir("repo/.git/hooks")
        try FileManager.default.removeItem(atPath: s.path + "/repo/.git/config")
        let noConfig = Fixture.errors("p", dirs: [s.path + "/profiles"], host: rootHost())
        #expect(noConfig.contains { $0.message.contains("has no config") && $0.hint?.contains("touch") == true }, "\(noConfig)")
    }

    @Test func plantedCommonDirRefusedButLinkedWorktreeAccepted() throws {
        let s = try setUp()
        s.write("repo/.git/commondir", "../x\n")
        let errors = Fixture.errors("p", dirs: [s.path + "/profiles"], host: rootHost())
        #expect(errors.contains { $0.message.contains("commondir") }, "\(errors)")
        #expect(PlanBuilder.plantedCommonDir(s.path + "/repo/.git") != nil)
        let wt = s.mkdir("repo/.git/worktrees/w")
        s.write("repo/.git/worktrees/w/commondir", "../..\n")
        #expect(PlanBuilder.plantedCommonDir(wt) == nil)
    }

    @Test func sweepMovesAsideWhatAppeared() throws {
        let s = try setUp()
        let root = s.path + "/repo"
        s.write("repo/.git/commondir", "../evil\n")
        s.mkdir("repo/nested/.git")
        let messages = GitProtection.sweep(watched: [root + "/.git/commondir", root + "/.git/modules"],
                                           trees: [GitProtection.Tree(root: root, known: [root + "/.git"])])
        #expect(messages.count == 2, "\(messages)")
        #expect(!FileManager.default.fileExists(atPath: root + "/.git/commondir"))
        #expect(!FileManager.default.fileExists(atPath: root + "/nested/.git"))
        #expect(FileManager.default.fileExists(atPath: root + "/.git/HEAD"))
    }

    /// Two sessions on one tree: the first one's sweep moved a `.git` (and a `.mcp.json`) aside
    /// on the host, which freed the name in the second session's mount namespace (its pins of
    /// the entries follow them); its server made new ones under the known names, and the sweep,
    /// which knew entries by path only, left them: host git ran the server's `core.fsmonitor` at
    /// the next `git status` (red-team pass, 2026-12-03). Fails before the fix.
    @Test func knownEntryReplacedSinceLaunchIsMovedAside() throws {
        let s = try setUp()
        let root = s.path + "/repo"
        s.write("repo/.mcp.json", "{}\n")
        s.mkdir("repo/sub/.git")
        let tree = GitProtection.Tree(root: root, known: [root + "/.git", root + "/sub/.git"],
                                      knownClientConfigs: [root + "/.mcp.json"])
        #expect(tree.identities.count == 3)
        // What the other session's sweep does on the host, then what the server makes.
        #expect(rename(root + "/sub/.git", root + "/sub/.git.aside") == 0)
        #expect(rename(root + "/.mcp.json", root + "/.mcp.json.aside") == 0)
        s.write("repo/sub/.git/config", "[core]\n\tfsmonitor = /tmp/x\n")
        s.write("repo/.mcp.json", "{\"mcpServers\":{}}\n")
        let messages = GitProtection.sweep(watched: [], trees: [tree])
        #expect(messages.count == 2, "\(messages)")
        #expect(!FileManager.default.fileExists(atPath: root + "/sub/.git"))
        #expect(!FileManager.default.fileExists(atPath: root + "/.mcp.json"))
        // The entries that are still the objects recorded stay.
        #expect(FileManager.default.fileExists(atPath: root + "/.git/HEAD"))
        #expect(FileManager.default.fileExists(atPath: root + "/sub/.git.aside"))
    }

    /// The same two sessions, with the objects put back: the second server renamed the `HEAD`
    /// the first sweep had moved aside back into a known bare git directory, and linked a known
    /// `.mcp.json` back from a hard link it had made beforehand: the same objects, so identity
    /// alone let them stay (red-team pass on the fix, 2026-12-03). Fails before the fix.
    @Test func knownObjectPutBackIsMovedAside() throws {
        // Left alone, the same entries stay; put back, they go.
        for putBack in [false, true] {
            let s = try setUp()
            let root = s.path + "/repo"
            s.write("repo/bare/HEAD", "ref: refs/heads/main\n")
            s.mkdir("repo/bare/objects")
            s.mkdir("repo/bare/refs")
            s.write("repo/.cache/x", "{}\n")
            #expect(link(root + "/.cache/x", root + "/.mcp.json") == 0)
            let tree = GitProtection.Tree(root: root, known: [root + "/.git", root + "/bare"], knownClientConfigs: [root + "/.mcp.json"])
            if putBack {
                usleep(20_000)  // past a coarse timestamp tick
                // The other session's sweep, then this session's server.
                #expect(rename(root + "/bare/HEAD", root + "/bare/HEAD.aside") == 0)
                #expect(rename(root + "/.mcp.json", root + "/.mcp.json.aside") == 0)
                #expect(rename(root + "/bare/HEAD.aside", root + "/bare/HEAD") == 0)
                #expect(link(root + "/.cache/x", root + "/.mcp.json") == 0)
            }
            let messages = GitProtection.sweep(watched: [], trees: [tree])
            #expect(messages.count == (putBack ? 2 : 0), "\(messages)")
            #expect(FileManager.default.fileExists(atPath: root + "/bare/HEAD") != putBack)
            #expect(FileManager.default.fileExists(atPath: root + "/.mcp.json") != putBack)
        }
    }

    /// A client configuration file bound read-only still changed through another hard link of
    /// it in the tree the server writes (red-team pass, 2026-12-03). Fails before the fix.
    @Test func hardLinkedClientConfigurationIsRefused() throws {
        let s = try setUp()
        s.write("repo/.cache/x", "{}\n")
        #expect(link(s.path + "/repo/.cache/x", s.path + "/repo/.mcp.json") == 0)
        s.write("repo/.vscode/tasks.json", "{}\n")
        let errors = Fixture.errors("p", dirs: [s.path + "/profiles"], host: rootHost())
        #expect(errors.contains { $0.message.contains("/repo/.mcp.json, part of Claude Code's project MCP servers, has 2 hard links") }, "\(errors)")
        #expect(!errors.contains { $0.message.contains(".vscode") }, "\(errors)")
        #expect(unlink(s.path + "/repo/.cache/x") == 0)
        #expect(Fixture.errors("p", dirs: [s.path + "/profiles"], host: rootHost()).isEmpty)
    }

    /// opencode, Kiro, Amazon Q, Crush, Qwen Code, Junie and Kilo Code read a project's own MCP
    /// servers too; a server's new `opencode.json` or `.kiro` stayed for them (red-team pass,
    /// 2026-12-03). Fails before the fix.
    @Test func newProjectConfigurationOfOtherClientsIsMovedAside() throws {
        let s = try setUp()
        let root = s.path + "/repo"
        let planted = ["opencode.json", "opencode.jsonc", ".opencode/plugin/p.js", ".kiro/settings/mcp.json",
                       ".amazonq/mcp.json", "crush.json", ".crush.json", ".qwen/settings.json", ".junie/mcp/mcp.json",
                       "sub/.kilocode/mcp.json"]
        for p in planted { s.write("repo/" + p, "{}\n") }
        let messages = GitProtection.sweep(watched: [], trees: [GitProtection.Tree(root: root, known: [root + "/.git"])])
        #expect(messages.count == planted.count, "\(messages)")
        for p in planted {
            let top = p.split(separator: "/").prefix(p.hasPrefix("sub/") ? 2 : 1).joined(separator: "/")
            #expect(!FileManager.default.fileExists(atPath: root + "/" + top), "\(top) is still there")
        }
    }

    /// A name the server chose went raw into the sweep's messages, which mcpbox prints and the
    /// sweep guard appends to its log: a newline forged a log line, an escape drove the terminal
    /// (red-team pass, 2026-12-03). Fails before the fix.
    @Test func sweepMessagesShowServerNamesEscaped() throws {
        let s = try setUp()
        let root = s.path + "/repo"
        s.mkdir("repo/b\u{1B}[31m\nFORGED-LOG-LINE/.git")
        let messages = GitProtection.sweep(watched: [], trees: [GitProtection.Tree(root: root, known: [root + "/.git"])])
        #expect(messages.count == 1, "\(messages)")
        #expect(messages.allSatisfy { !$0.contains("\n") && !$0.unicodeScalars.contains("\u{1B}") }, "\(messages)")
        #expect(messages.first?.contains("b\\x1b[31m\\nFORGED-LOG-LINE/.git") == true, "\(messages)")
    }

    /// The known repositories were a `Set<String>`, whose membership is canonical equivalence:
    /// beside a known `Kube/.git` the server made `\u{212A}ube/.git` (KELVIN SIGN), beside
    /// `café/.git` (U+00E9) it made `cafe\u{301}/.git`, and the sweep took each new repository for
    /// the known one and left it for host git. Fails before the fix.
    @Test("a new repository whose path is only canonically equivalent to a known one is moved aside",
          arguments: [("Kube", "\u{212A}ube"), ("caf\u{E9}", "cafe\u{301}"), ("cafe\u{301}", "caf\u{E9}"),
                      ("a;b", "a\u{37E}b"), ("x`", "x\u{1FEF}")])
    func canonicallyEquivalentNameIsAnotherRepository(_ known: String, _ planted: String) throws {
        let s = try setUp()
        let root = s.path + "/repo"
        s.mkdir("repo/\(known)/.git")
        let before = GitProtection.exposure(of: root).worktrees.map { $0 + "/.git" }
        try #require(before.contains(root + "/\(known)/.git"))
        s.mkdir("repo/\(planted)/.git")
        let plantedBytes = Array((root + "/\(planted)/.git").utf8)
        let messages = GitProtection.sweep(watched: [], trees: [GitProtection.Tree(root: root, known: before)])
        #expect(messages.count == 1, "\(messages)")
        #expect(!Self.existsBytes(plantedBytes), "the planted repository is still there: \(messages)")
        #expect(Self.existsBytes(Array((root + "/\(known)/.git").utf8)), "the known repository was moved")
    }

    /// The sweep gave up past its directory count and left the tree where host git would use it
    /// (a red-team pass: 400,100 directories, then a `.git` deep inside ran its fsmonitor).
    @Test("a tree grown past the sweep's count is moved aside whole (fail closed), never left in place unchecked")
    func treeTooLargeToSweepIsMovedAside() throws {
        let s = try setUp()
        let root = s.path + "/repo"
        let known = GitProtection.exposure(of: root).worktrees.map { $0 + "/.git" }
        for i in 0..<30 { s.mkdir("repo/many/d\(i)") }
        s.mkdir("repo/many/d29/zz/.git")
        let messages = GitProtection.sweep(watched: [], trees: [GitProtection.Tree(root: root, known: known)], limit: 10)
        #expect(!FileManager.default.fileExists(atPath: root), "\(messages)")
        #expect(messages.contains { $0.contains("holds more than 10 directories after the session") && $0.contains("the whole tree was moved to \(root).mcpbox-quarantine-") }, "\(messages)")
        let aside = try FileManager.default.contentsOfDirectory(atPath: s.path).filter { $0.hasPrefix("repo.mcpbox-quarantine-") }
        #expect(aside.count == 1 && FileManager.default.fileExists(atPath: s.path + "/" + aside[0] + "/many/d29/zz/.git"))
    }

    static func existsBytes(_ path: [UInt8]) -> Bool {
        var st = stat()
        return (path + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { lstat($0.baseAddress!, &st) } } == 0
    }

    @Test func nestedRepositoryUnderAGitDirectoryLookalikeIsFoundAndMovedAside() throws {
        let s = try setUp()
        let root = s.path + "/repo"
        let known = GitProtection.exposure(of: root).worktrees.map { $0 + "/.git" }
        s.write("repo/a/HEAD", "ref: refs/heads/main\n")
        s.mkdir("repo/a/objects")
        s.mkdir("repo/a/refs")
        s.mkdir("repo/a/sub/.git")
        let messages = GitProtection.sweep(watched: [], trees: [GitProtection.Tree(root: root, known: known)])
        #expect(messages.count == 2 && !FileManager.default.fileExists(atPath: root + "/a/sub/.git"), "\(messages)")
        // The look-alike is a new bare git directory itself: its HEAD is moved aside too.
        #expect(!FileManager.default.fileExists(atPath: root + "/a/HEAD"), "\(messages)")
    }

    @Test func namesThatAreNotUTF8AreWalkedAndRefused() throws {
        let s = try setUp(bind: "tree")
        s.mkdir("tree")
        let bad = Array((s.path + "/tree/d").utf8) + [0xFF]
        #expect((bad + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { Glibc.mkdir($0.baseAddress!, 0o755) } } == 0)
        let repo = bad + Array("/repo".utf8)
        for sub in ["", "/.git", "/.git/objects", "/.git/refs", "/.git/hooks"] {
            _ = (repo + Array(sub.utf8) + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { Glibc.mkdir($0.baseAddress!, 0o755) } }
        }
        let e = GitProtection.exposure(of: s.path + "/tree")
        #expect(e.unrepresentable.count == 1 && e.touchesRepository, "\(e)")
        let errors = Fixture.errors("p", dirs: [s.path + "/profiles"], host: rootHost())
        #expect(errors.contains { $0.message.contains("not valid UTF-8") }, "\(errors)")
        let remap = Fixture.errors("p", dirs: [s.path + "/profiles"], host: Fixture.host(uid: 4242, gid: 4242))
        #expect(!remap.isEmpty)
    }

    @Test func directoryTheWalkCannotOpenIsRefused() throws {
        // Deeper than PATH_MAX: the walk cannot open it, so it cannot know what it holds.
        let s = try setUp()
        var fd = open(s.path + "/repo", O_RDONLY | O_DIRECTORY)
        try #require(fd >= 0)
        let name = String(repeating: "d", count: 200)
        for _ in 0..<25 {
            try #require(mkdirat(fd, name, 0o755) == 0)
            let next = openat(fd, name, O_RDONLY | O_DIRECTORY)
            close(fd)
            fd = next
            try #require(fd >= 0)
        }
        close(fd)
        let e = GitProtection.exposure(of: s.path + "/repo")
        #expect(!e.unreadable.isEmpty, "\(e)")
        let errors = Fixture.errors("p", dirs: [s.path + "/profiles"], host: rootHost())
        #expect(errors.contains { $0.message.contains("cannot check") }, "\(errors)")
        // Leave something Scratch can delete: FileManager handles the depth itself.
    }

    @Test func walkIsBounded() throws {
        let s = Scratch()
        for i in 0..<30 { s.mkdir("d\(i)") }
        #expect(GitProtection.exposure(of: s.path, limit: 10).truncated)
        #expect(!GitProtection.exposure(of: s.path, limit: 100).truncated)
    }

    /// The sweep's rename happens in the parent reached without following symlinks: another
    /// sandbox on the same tree that swaps a directory on the way for a symlink (between the walk
    /// and the rename) cannot make mcpbox rename something outside the tree, such as its own pin
    /// store. Found by a red-team pass; the rename by path followed the symlink before the fix.
    @Test func moveAsideNeverFollowsASymlinkOnTheWay() throws {
        let s = Scratch()
        s.mkdir("tree/real")
        s.write("tree/real/HEAD", "ref: refs/heads/main\n")
        s.mkdir("outside/pins")
        s.write("outside/pins/victim.json", "{}")
        #expect(symlink(s.path + "/outside", s.path + "/tree/swapped") == 0)
        let tree = Array((s.path + "/tree").utf8)
        let redirected = GitProtection.moveAside(Array((s.path + "/tree/swapped/pins").utf8), within: tree, why: "test")
        #expect(FileManager.default.fileExists(atPath: s.path + "/outside/pins/victim.json"), "renamed outside the tree: \(redirected)")
        #expect(redirected.contains("could not be moved aside"), "\(redirected)")
        // The ordinary case still works, and says where it moved what.
        let moved = GitProtection.moveAside(Array((s.path + "/tree/real/HEAD").utf8), within: tree, why: "test")
        #expect(!FileManager.default.fileExists(atPath: s.path + "/tree/real/HEAD"), "\(moved)")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: s.path + "/tree/real")) ?? []
        #expect(left.count == 1 && left[0].hasPrefix("HEAD.mcpbox-quarantine-") && moved.contains(left[0]), "\(left) \(moved)")
    }
}
