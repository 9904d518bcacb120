import Foundation
import Testing
@testable import MCPBoxCore

/// Host git reads the system's and the user's global configuration in every repository. mcpbox
/// judged it only for a read-write bind that held or lay in a repository, so a bind holding none
/// that an absolute `include.path`, `core.hooksPath` or `init.templateDir` of `~/.gitconfig`
/// pointed into let the server plant what host git then ran everywhere, as the user: a hook the
/// next `git clone` copied and ran, an fsmonitor the next `git status` ran (red-team pass,
/// 2026-12-02; fails before the fix). `init.templateDir` was not looked at even in a repository.
/// A scratch `home` holding `home/work`, which `p.toml` (in `profiles`) binds read-write; the
/// server (root without `[user]`: nobody) may write it when `serverWrites`.
struct HomeWithBind {
    let s = Scratch()
    let profiles = Scratch()
    let home: String, work: String, file: String

    init(serverWrites: Bool = false) {
        home = s.mkdir("home")
        work = s.mkdir("home/work")
        if serverWrites { chown(work, 65534, 65534) }
        file = profiles.write("p.toml", "[filesystem]\nread_write = [\(HonestyCLITests.tomlQuoted(work))]\n")
    }
}

@Suite(.serialized, .enabled(if: geteuid() == 0, "launches sandboxes as root (CI does)"))
struct GlobalConfigWithoutRepositoryTests {
    let shipped = ["--profile-path", Fixture.shippedProfiles]

    /// explain and run of `file` both exit 125 with a message every one of `words` is part of.
    func expectBothRefuse(_ file: String, env: [String: String], _ words: [String], _ name: String = "") throws {
        for command in ["explain", "run"] {
            let r = try CLI.run([command, file] + shipped + ["--", "/bin/true"], env: env)
            #expect(r.status == 125 && words.allSatisfy { r.stderr.contains($0) }, "\(name) \(command): \(r.status) \(r.stderr)")
        }
    }

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
        try expectBothRefuse(file, env: env, ["include.path", "\(inc)/extra.cfg does not exist, so the server could create it"])
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

    /// A command in the global configuration that mcpbox cannot read word by word (a shell
    /// function as `credential.helper`, common in ~/.gitconfig) is the user's own, for every
    /// repository: said, not refused, for a bind holding no repository as for one holding a
    /// repository. (The check of binds without one, 47877a0, refused every such bind: the
    /// global files were taken for the repository's own.)
    @Test("an opaque command or protocol.allow in the global git configuration does not refuse a bind holding no repository")
    func opaqueGlobalCommandWarns() throws {
        let s = Scratch()
        let home = s.mkdir("home")
        let work = s.mkdir("work")
        chown(work, 65534, 65534)  // the server (root without [user]: nobody) writes there
        let profiles = Scratch()
        let file = profiles.write("p.toml", "[filesystem]\nread_write = [\(HonestyCLITests.tomlQuoted(work))]\n")
        // ...and `protocol.allow = always`, refused where a repository's .gitmodules is writable:
        // a bind without one has none (one the server makes is swept aside at the end).
        s.write("home/.gitconfig", "[credential]\n\thelper = \"!f() { echo password=$TOKEN; }; f\"\n[protocol]\n\tallow = always\n")
        let env = ["HOME": home]
        let explain = try CLI.run(["explain", file] + shipped + ["--", "/bin/true"], env: env)
        #expect(explain.status == 0, "\(explain.stderr)")
        #expect((explain.stdout + explain.stderr).contains("credential.helper"), "no warning: \(explain.stdout) \(explain.stderr)")
        let run = try CLI.run(["run", file] + shipped + ["--", "/bin/sh", "-c", "echo ok > \(work)/w.txt"], env: env)
        #expect(run.status == 0 && FileManager.default.fileExists(atPath: work + "/w.txt"), "\(run.stderr)")
    }

    /// ...but such a command that writes out a path inside a read-write bind (`$HOME/work/x.sh`
    /// in a shell function, a `cd` into the bind) runs what the server plants there, at the
    /// next `git status` in any repository: refused, for a bind with or without a repository.
    /// (A warning alone before: mcpbox could not read the command word by word.)
    @Test("an opaque command in the global git configuration naming a path inside a read-write bind is refused", arguments: [false, true])
    func opaqueGlobalCommandIntoTheBind(repository: Bool) throws {
        let h = HomeWithBind(serverWrites: true)
        let (s, work, file) = (h.s, h.work, h.file)
        if repository {
            try Fixture.tool("/usr/bin/git", ["init", "-q", work])
        }
        let env = ["HOME": h.home]
        for value in ["f() { $HOME/work/x.sh; }; f", "sh -c 'cd \(work) && ./x.sh'"] {
            s.write("home/.gitconfig", "[core]\n\tfsmonitor = \"\(value)\"\n")
            try expectBothRefuse(file, env: env, ["core.fsmonitor", "inside a path the server may write"], value)
        }
    }

    /// Global configuration the plan read otherwise than host git and hg do (red-team pass,
    /// 2026-12-02; each ran a file the server could write in the bind, and each fails before
    /// the change): quotes inside a command's word, `%(prefix)/`, an interpreter with a version
    /// and a script not there yet, `\f` after a path (no blank to git); hg's `$HOME` and
    /// `${HOME}` in `%include` and extension paths, an encode filter, a variable it cannot expand.
    @Test("global git and hg configuration read as git and hg read it: a file it runs inside the bind is refused", arguments: [
        (".gitconfig", "[core]\n\tfsmonitor = \\\"$HOME\\\"/work/h.sh\n", "core.fsmonitor"),
        (".gitconfig", "[include]\n\tpath = %(prefix)/../WORK/inc.cfg\n", "WORK/inc.cfg does not exist"),
        (".gitconfig", "[core]\n\tfsmonitor = python3.11 WORK/fsmon.py\n", "WORK/fsmon.py does not exist"),
        (".gitconfig", "[core]\n\tfsmonitor = WORK/fsm.sh\u{0C}\n", "core.fsmonitor"),
        (".hgrc", "%include $HOME/work/inc.rc\n", "WORK/inc.rc, which your Mercurial configuration names (%include)"),
        (".hgrc", "[extensions]\nx = ${HOME}/work/ext.py\n", "WORK/ext.py, which your Mercurial configuration names (extensions.x)"),
        (".hgrc", "[encode]\n** = pipe: WORK/enc.sh\n", "WORK/enc.sh, which your Mercurial configuration names (encode.**)"),
        (".hgrc", "%include $MCPBOX_TEST_UNSET_VARIABLE/team.rc\n", "mcpbox cannot tell what your Mercurial configuration makes host hg load"),
        // A second pass: a symlinked directory outside the bind on the way (`~/lnk` → the bind),
        // an assignment's value, a combining mark hiding a quote, `]` or `=`, hg hooks read as
        // the shell reads them, hg keys that run programs, a relative extension path.
        (".gitconfig", "[include]\n\tpath = ~/lnk/d/inc.cfg\n", "WORK/d/inc.cfg"),
        (".gitconfig", "[core]\n\tfsmonitor = ~/lnk/d/fsm.sh\n", "WORK/d/fsm.sh"),
        (".gitconfig", "[core]\n\tfsmonitor = BASH_ENV=WORK/h2.sh bash -c :\n", "WORK/h2.sh"),
        (".gitconfig", "[core]\n\tfsmonitor = \"echo 'x'\u{301} >/dev/null; WORK/h3.sh\"\n", "WORK/h3.sh"),
        (".hgrc", "%include ~/lnk/d/inc.rc\n", "WORK/d/inc.rc"),
        (".hgrc", "[hooks]\npre-status = sh<WORK/h4.sh\n", "WORK/h4.sh"),
        (".hgrc", "[hooks]\npre-status = X=WORK/h5.sh; $X\n", "WORK/h5.sh"),
        (".hgrc", "[hooks]\npre-status = \\WORK/h9.sh\n", "WORK/h9.sh"),
        // (Since 2026-12-03 refused whole: the mark fuses with `]`.)
        (".hgrc", "[hooks]\u{301}\npre-status = WORK/h6.sh\n", "joins `]` with U+301"),
        (".hgrc", "[hgk]\npath = WORK/h7.sh\n", "WORK/h7.sh"),
        (".hgrc", "[fix]\nx:command = WORK/h8.sh\n", "WORK/h8.sh"),
        (".hgrc", "[extensions]\nx = tools/ext.py\n", "is a relative path, which hg resolves from wherever it runs"),
    ])
    func readAsGitAndHgReadIt(file name: String, content: String, words: String) throws {
        let h = HomeWithBind()
        let (s, home, work, file) = (h.s, h.home, h.work, h.file)
        // The script `fsm.sh` exists (and would be bound read-only): git runs `fsm.sh\f`.
        s.write("home/work/fsm.sh", "#!/bin/sh\n")
        #expect(symlink(work, home + "/lnk") == 0)
        s.write("home/" + name, content.replacingOccurrences(of: "WORK", with: work))
        let r = try CLI.run(["explain", file] + shipped + ["--", "/bin/true"], env: ["HOME": home])
        let expected = words.replacingOccurrences(of: "WORK", with: work)
        #expect(r.status == 125 && r.stderr.contains(expected), "\(content.debugDescription): \(r.status) \(r.stderr)")
    }

    /// Configuration the caller's environment names (`GIT_CONFIG_GLOBAL`, `GIT_CONFIG_SYSTEM`,
    /// `GIT_CONFIG_COUNT`/`KEY_n`/`VALUE_n`, `GIT_CONFIG_PARAMETERS`, `HGRCPATH`), and variables of it in an hg hook's
    /// `python:` path, were not read (red-team pass, 2026-12-02; each fails before the change).
    @Test("configuration the environment names is read too")
    func environmentConfiguration() throws {
        let h = HomeWithBind()
        let (s, home, work, file) = (h.s, h.home, h.work, h.file)
        let cfg = s.mkdir("cfg")
        s.write("cfg/gitconfig", "[core]\n\tfsmonitor = \(work)/g1.sh\n")
        s.write("cfg/hgrc.d/x.rc", "[hooks]\npre-status = \(work)/h1.sh\n")
        let cases: [([String: String], String)] = [
            (["GIT_CONFIG_GLOBAL": cfg + "/gitconfig"], "\(work)/g1.sh"),
            (["GIT_CONFIG_SYSTEM": cfg + "/gitconfig"], "\(work)/g1.sh"),
            (["GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.fsmonitor", "GIT_CONFIG_VALUE_0": work + "/g2.sh"], "\(work)/g2.sh"),
            (["HGRCPATH": cfg + "/hgrc.d"], "\(work)/h1.sh"),
            // `git -c` hands its settings on in GIT_CONFIG_PARAMETERS (it was not read).
            (["GIT_CONFIG_PARAMETERS": "'core.fsmonitor'='\(work)/g3.sh'"], "\(work)/g3.sh"),
            (["GIT_CONFIG_PARAMETERS": "'user.name=x' 'core.fsmonitor=\(work)/g4.sh'"], "\(work)/g4.sh"),
            // Red-team pass, 2026-12-03: a combining mark fused with `=` or `.`, a count with a blank.
            (["GIT_CONFIG_PARAMETERS": "'core.fsmonitor=\u{301};\(work)/g6.sh'"], "\(work)/g6.sh"),
            (["GIT_CONFIG_PARAMETERS": "'filter.\u{301}x.clean'='\(work)/g7.sh'"], "into one character"),
            (["GIT_CONFIG_COUNT": " 1", "GIT_CONFIG_KEY_0": "core.fsmonitor", "GIT_CONFIG_VALUE_0": work + "/g5.sh"], "\(work)/g5.sh"),
        ]
        for (extra, words) in cases {
            let r = try CLI.run(["explain", file] + shipped + ["--", "/bin/true"], env: ["HOME": home].merging(extra) { a, _ in a })
            #expect(r.status == 125 && r.stderr.contains(words), "\(extra): \(r.status) \(r.stderr)")
        }
        s.write("home/.hgrc", "[hooks]\npre-status = python:$MCPBOX_TEST_DIR/work/x.py:run\n")
        let r = try CLI.run(["explain", file] + shipped + ["--", "/bin/true"], env: ["HOME": home, "MCPBOX_TEST_DIR": home])
        #expect(r.status == 125 && r.stderr.contains("\(work)/x.py"), "\(r.status) \(r.stderr)")
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
        try expectBothRefuse(file, env: env, ["\(inc)/team.hgrc, which your Mercurial configuration names (%include)", "does not exist yet"])
        let team = s.write("inc/team.hgrc", "[ui]\nusername = team\n", mode: 0o666)
        let run = try CLI.run(["run", file] + shipped + ["--", "/bin/sh", "-c",
                               "printf '[hooks]\\npre-status = touch /tmp/planted\\n' >> \(team); echo ok > \(inc)/work.txt; true"], env: env)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try String(contentsOfFile: team, encoding: .utf8) == "[ui]\nusername = team\n", "the server wrote the file host hg includes")
        #expect(FileManager.default.fileExists(atPath: inc + "/work.txt"))
        // A hook naming its script through `$HOME` or `${HOME}` (the shell expands both) was not
        // judged: the word starts with `$`.
        let work = s.mkdir("home/work")
        let homeFile = profiles.write("h.toml", "[filesystem]\nread_write = [\(HonestyCLITests.tomlQuoted(work))]\n")
        for hook in ["$HOME/work/x.sh", "sh ${HOME}/work/x.sh"] {
            s.write("home/.hgrc", "[hooks]\npre-status = \(hook)\n")
            let r = try CLI.run(["explain", homeFile] + shipped + ["--", "/bin/true"], env: env)
            #expect(r.status == 125 && r.stderr.contains("\(work)/x.sh, which your Mercurial configuration names (hooks.pre-status)"), "\(hook): \(r.status) \(r.stderr)")
        }
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
        try expectBothRefuse(file, env: ["HOME": s.path], ["\(gitfile) is a gitfile", "p.toml:2: filesystem.read_write"])
        let worktree = profiles.write("p.toml", "[filesystem]\nread_write = [\(HonestyCLITests.tomlQuoted(s.path + "/linked"))]\n")
        let explain = try CLI.run(["explain", worktree] + shipped + ["--", "/bin/true"], env: ["HOME": s.path])
        #expect(explain.stdout.contains("\(gitfile)") && explain.stdout.contains("mcpbox: git protection"), "\(explain.status) \(explain.stdout) \(explain.stderr)")
    }
}
