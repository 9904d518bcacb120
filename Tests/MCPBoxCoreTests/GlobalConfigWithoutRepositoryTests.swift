import Foundation
import Testing
@testable import MCPBoxCore

/// Host git reads the system's and the user's global configuration in every repository. mcpbox
/// judged it only for a read-write bind that held or lay in a repository, so a bind holding none
/// that an absolute `include.path`, `core.hooksPath` or `init.templateDir` of `~/.gitconfig`
/// pointed into let the server plant what host git then ran everywhere, as the user: a hook the
/// next `git clone` copied and ran, an fsmonitor the next `git status` ran (red-team pass,
/// 2026-12-02; fails before the fix). `init.templateDir` was not looked at even in a repository.
@Suite(.serialized, .enabled(if: geteuid() == 0, "launches sandboxes as root (CI does)"))
struct GlobalConfigWithoutRepositoryTests {
    let shipped = ["--profile-path", Fixture.shippedProfiles]

    @Test("a bind holding no repository that the global git configuration names: protected, or refused where it cannot be")
    func globalConfigurationIntoABindWithoutRepository() throws {
        let s = Scratch()
        let home = s.mkdir("home")
        let inc = s.mkdir("inc")
        let tmpl = s.mkdir("tmpl/hooks")
        let profiles = Scratch()
        let file = profiles.write("p.toml", "[filesystem]\nread_write = [\(HonestyCLITests.tomlQuoted(inc)), \(HonestyCLITests.tomlQuoted(Paths.dirname(tmpl)))]\n")
        let env = ["HOME": home]
        // An include not there yet: the server would create it. Refused by explain and run alike.
        s.write("home/.gitconfig", "[include]\n\tpath = \(inc)/extra.cfg\n")
        for command in ["explain", "run"] {
            let r = try CLI.run([command, file] + shipped + ["--", "/bin/true"], env: env)
            #expect(r.status == 125 && r.stderr.contains("include.path") && r.stderr.contains("\(inc)/extra.cfg does not exist, so the server could create it"),
                    "\(command): \(r.status) \(r.stderr)")
        }
        // A hooks directory and a template directory that exist: bound read-only, the server's writes fail.
        s.mkdir("inc/hooks")
        // The server (root without [user]: nobody) may write the bind and the hook directories.
        for dir in [inc, inc + "/hooks", tmpl] { chown(dir, 65534, 65534) }
        s.write("home/.gitconfig", "[core]\n\thooksPath = \(inc)/hooks\n[init]\n\ttemplateDir = \(Paths.dirname(tmpl))\n")
        let explain = try CLI.run(["explain", file] + shipped + ["--", "/bin/true"], env: env)
        #expect(explain.status == 0, "\(explain.stderr)")
        #expect(explain.stdout.contains("mcpbox: git protection (core.hookspath)") && explain.stdout.contains("mcpbox: git protection (init.templatedir)"), "\(explain.stdout)")
        let run = try CLI.run(["run", file] + shipped + ["--", "/bin/sh", "-c",
                               "echo planted > \(inc)/hooks/pre-commit; echo planted > \(tmpl)/post-checkout; echo ok > \(inc)/work.txt; true"], env: env)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: inc + "/hooks/pre-commit") && !FileManager.default.fileExists(atPath: tmpl + "/post-checkout"),
                "the server planted a hook host git runs: \(run.stderr)")
        // The rest of the bind stays the server's to write.
        #expect(FileManager.default.fileExists(atPath: inc + "/work.txt"))
    }

    /// The same for Mercurial: `~/.hgrc` `%include`s a file in a bind holding no repository; the
    /// server wrote a hook there that the next host `hg status` anywhere ran as root.
    @Test("a bind holding no Mercurial repository that the global hg configuration names: protected, or refused where it cannot be")
    func globalHgConfigurationIntoABindWithoutRepository() throws {
        let s = Scratch()
        let home = s.mkdir("home")
        let inc = s.mkdir("inc")
        chown(inc, 65534, 65534)
        let profiles = Scratch()
        let file = profiles.write("p.toml", "[filesystem]\nread_write = [\(HonestyCLITests.tomlQuoted(inc))]\n")
        let env = ["HOME": home]
        s.write("home/.hgrc", "%include \(inc)/team.hgrc\n")
        for command in ["explain", "run"] {
            let r = try CLI.run([command, file] + shipped + ["--", "/bin/true"], env: env)
            #expect(r.status == 125 && r.stderr.contains("\(inc)/team.hgrc, which your Mercurial configuration names (%include)") && r.stderr.contains("does not exist yet"),
                    "\(command): \(r.status) \(r.stderr)")
        }
        let team = s.write("inc/team.hgrc", "[ui]\nusername = team\n", mode: 0o666)
        let run = try CLI.run(["run", file] + shipped + ["--", "/bin/sh", "-c",
                               "printf '[hooks]\\npre-status = touch /tmp/planted\\n' >> \(team); echo ok > \(inc)/work.txt; true"], env: env)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try String(contentsOfFile: team, encoding: .utf8) == "[ui]\nusername = team\n", "the server wrote the file host hg includes")
        #expect(FileManager.default.fileExists(atPath: inc + "/work.txt"))
    }

    /// The README said a read-write bind that is itself a `.git` gitfile is refused; it was bound
    /// read-write, and the server rewrote it to `gitdir: /elsewhere`, redirecting host git in that
    /// worktree to a git directory of its choosing (red-team pass, 2026-12-02; fails before the fix).
    @Test("a gitfile bound read-write by itself is refused; its worktree bound read-write keeps it read-only")
    func gitfileBoundByItself() throws {
        let s = Scratch()
        try Fixture.git(["init", "-q", s.path + "/main"])
        try Fixture.git(["-C", s.path + "/main", "commit", "-q", "--allow-empty", "-m", "init"])
        try Fixture.git(["-C", s.path + "/main", "worktree", "add", "-q", s.path + "/linked"])
        let gitfile = s.path + "/linked/.git"
        #expect(FileManager.default.fileExists(atPath: gitfile))
        let profiles = Scratch()
        let file = profiles.write("p.toml", "[filesystem]\nread_write = [\(HonestyCLITests.tomlQuoted(gitfile))]\n")
        for command in ["explain", "run"] {
            let r = try CLI.run([command, file] + shipped + ["--", "/bin/true"], env: ["HOME": s.path])
            #expect(r.status == 125 && r.stderr.contains("\(gitfile) is a gitfile") && r.stderr.contains("p.toml:2: filesystem.read_write"),
                    "\(command): \(r.status) \(r.stderr)")
        }
        let worktree = profiles.write("p.toml", "[filesystem]\nread_write = [\(HonestyCLITests.tomlQuoted(s.path + "/linked"))]\n")
        let explain = try CLI.run(["explain", worktree] + shipped + ["--", "/bin/true"], env: ["HOME": s.path])
        #expect(explain.stdout.contains("\(gitfile)") && explain.stdout.contains("mcpbox: git protection"), "\(explain.status) \(explain.stdout) \(explain.stderr)")
    }
}
