import Foundation
import Testing
@testable import MCPBoxCore

/// Red team: what a bind resolves to, not only the path the profile spells. A symlink to the
/// host's /proc (or a procfs mounted elsewhere) bound the host's processes; a symlink to a
/// device under /dev was bound without the device warning.
@Suite struct HostTrustGrantTests {
    func plan(_ profile: String, _ dir: Scratch) -> Result<SandboxPlan, ProfileError> {
        dir.write("base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        dir.write("p.toml", profile)
        return Fixture.plan("p", dirs: [dir.path])
    }

    @Test("a symlink to host /proc is refused like /proc itself, read-only and read-write")
    func procThroughSymlink() throws {
        let s = Scratch()
        let link = s.path + "/proc-link"
        #expect(symlink("/proc/self", link) == 0)
        let procfs = s.path + "/sys-link"
        #expect(symlink("/proc/sys/kernel", procfs) == 0)
        for (key, path) in [("read_only", link), ("read_write", link), ("read_only", procfs)] {
            guard case .failure(let e) = plan("[filesystem]\n\(key) = [\"\(path)\"]\n", s) else {
                Issue.record("\(key) \(path) was not refused")
                continue
            }
            #expect(e.diagnostics.contains { $0.key == "filesystem.\(key)" && $0.line == 2 && $0.message.contains("part of the host's /proc") },
                    "\(e.diagnostics)")
        }
    }

    @Test("a symlink to a directory under /dev is warned like a bind under /dev")
    func deviceThroughSymlink() throws {
        let s = Scratch()
        let link = s.path + "/shm-link"
        #expect(symlink("/dev/shm", link) == 0)
        let p = try #require(plan("[filesystem]\nread_only = [\"\(link)\"]\n", s).plan)
        #expect(p.warnings.contains { $0.contains("\(link) exposes a host device") }, "\(p.warnings)")
    }
}

/// Red team: MCP clients' own configuration files are run-later places for an MCP sandbox: a
/// server that adds an entry there (or unwraps its own) runs unsandboxed at the client's next
/// start. So is direnv's allow list (it decides which `.envrc` files run).
@Suite struct ClientConfigGrantTests {
    @Test("a read-write bind of (or containing) an MCP client's configuration or direnv's allow list is refused unless accepted")
    func clientConfigurationRefused() throws {
        let h = Scratch(), s = Scratch()
        let home = h.mkdir("home")
        for place in [".claude", ".cursor", ".codex", ".gemini", ".config/Claude", ".local/share/direnv"] {
            h.mkdir("home/" + place)
        }
        h.write("home/.claude.json", "{}\n")
        s.write("base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        let env = ["HOME": home]
        for place in [".claude", ".cursor", ".codex", ".gemini", ".config/Claude", ".local/share/direnv"] {
            let path = home + "/" + place
            s.write("p.toml", "[filesystem]\nread_write = [\"\(path)\"]\n")
            guard case .failure(let e) = Fixture.plan("p", dirs: [s.path], env: env) else {
                Issue.record("read-write \(path) was not refused")
                continue
            }
            #expect(e.diagnostics.contains { $0.line == 2 && $0.key == "filesystem.read_write" && $0.message.contains("\(path) (")
                && $0.message.contains("which the host runs or trusts later") }, "\(e.diagnostics)")
            s.write("p.toml", "[filesystem]\nread_write = [\"\(path)\"]\naccept = [\"\(path)\"]\n")
            #expect(Fixture.errors("p", dirs: [s.path], env: env).isEmpty, "accept did not acknowledge \(path)")
        }
        // A directory holding ~/.claude.json (the home itself is refused on its own account).
        s.write("p.toml", "[filesystem]\nread_write = [\"\(home)/.config\"]\n")
        guard case .failure(let e) = Fixture.plan("p", dirs: [s.path], env: env) else {
            Issue.record("read-write ~/.config was not refused")
            return
        }
        #expect(e.diagnostics.contains { $0.message.contains("\(home)/.config/Claude") }, "\(e.diagnostics)")
    }
}

/// Red team: a relative PATH entry makes every read-write bind a directory on the caller's PATH
/// whenever they work there; the absolute-entry check passed it silently.
@Suite struct RelativePathEntryTests {
    @Test("a relative or empty PATH entry is warned (a note for check) when the plan has a read-write bind; absolute-only PATH is quiet")
    func relativePathEntriesWarned() throws {
        let w = Scratch(), s = Scratch()
        let work = w.mkdir("work")
        s.write("base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        s.write("p.toml", "[filesystem]\nread_write = [\"\(work)\"]\n")
        for (path, shown) in [(".:/usr/bin:/bin", "`.`"), ("/usr/bin::/bin", "an empty entry"), ("node_modules/.bin:/usr/bin", "`node_modules/.bin`")] {
            let env = ["PATH": path]
            let p = try #require(Fixture.plan("p", dirs: [s.path], env: env, host: Fixture.host(env: env)).plan)
            #expect(p.warnings.contains { $0.hasPrefix(PlanBuilder.invocationWarningPrefix) && $0.contains("your PATH holds the relative \(shown)")
                && $0.contains(work) }, "\(path): \(p.warnings)")
        }
        let env = ["PATH": "/usr/bin:/bin"]
        let quiet = try #require(Fixture.plan("p", dirs: [s.path], env: env, host: Fixture.host(env: env)).plan)
        #expect(!quiet.warnings.contains { $0.contains("your PATH") }, "\(quiet.warnings)")
        s.write("ro.toml", "[filesystem]\nread_only = [\"\(work)\"]\n")
        let readOnly = try #require(Fixture.plan("ro", dirs: [s.path], env: ["PATH": ".:/usr/bin"], host: Fixture.host(env: ["PATH": ".:/usr/bin"])).plan)
        #expect(!readOnly.warnings.contains { $0.contains("your PATH") }, "\(readOnly.warnings)")
    }
}

/// Red team (2026-12-03): what shell start-up files source, and the PATH entries they add, are
/// run-later places wherever they are (`. ~/dotfiles/aliases.sh`, `export
/// PATH=~/dotfiles/bin:$PATH`): a read-write bind of a dotfiles repository ran the server's code
/// in root's next interactive shell. So are files tools read at every use that run commands
/// (`~/.lesskey`'s LESSOPEN, `~/.inputrc` macros), and a `~/x` PATH entry, which bash expands.
@Suite struct StartupFileGrantTests {
    /// A home directory to fill, and a profile directory with a `base` that binds /usr.
    func scratch() -> (home: Scratch, profiles: Scratch, path: String) {
        let h = Scratch(), s = Scratch()
        s.write("base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        return (h, s, h.mkdir("home"))
    }

    func refusal(_ bind: String, _ env: [String: String], _ s: Scratch) -> [String]? {
        s.write("p.toml", "[filesystem]\nread_write = [\"\(bind)\"]\n")
        guard case .failure(let e) = Fixture.plan("p", dirs: [s.path], env: env, host: Fixture.host(env: env)) else { return nil }
        return e.diagnostics.map(\.message)
    }

    @Test("what a start-up file sources (to depth), and the PATH directories it adds, are refused read-write; a path in a comment is not")
    func sourcedAndPathPlaces() throws {
        let (h, s, home) = scratch()
        h.mkdir("home/dotfiles/bin")
        h.write("home/dotfiles/aliases.sh", "alias ll='ls -l'\n")
        h.write("home/.bashrc", "[ -f ~/dotfiles/aliases.sh ] && . ~/dotfiles/aliases.sh\nexport PATH=\"$HOME/dotfiles/bin:$PATH\" # not ~/commented\n"
            + "source ${HOME}/shell/common.sh\n")
        h.mkdir("home/commented")
        h.write("home/shell/common.sh", "for f in ~/deeper/*.sh; do . \"$f\"; done\n")
        h.mkdir("home/deeper")
        let env = ["HOME": home, "PATH": "/usr/bin:/bin"]
        let dot = try #require(refusal(home + "/dotfiles", env, s), "the dotfiles bind was not refused")
        #expect(dot.contains { $0.contains("contains \(home)/dotfiles/aliases.sh (a file sourced by the shell start-up file \(home)/.bashrc)") }, "\(dot)")
        #expect(dot.contains { $0.contains("contains \(home)/dotfiles/bin (a PATH directory added by the shell start-up file \(home)/.bashrc)") }, "\(dot)")
        // Named by a file that .bashrc sources.
        let deeper = try #require(refusal(home + "/deeper", env, s), "a directory named by a sourced file was not refused")
        #expect(deeper.contains { $0.contains("\(home)/shell/common.sh") }, "\(deeper)")
        #expect(refusal(home + "/commented", env, s) == nil, "a path in a comment was refused")
        // The same bind without the start-up file's lines is accepted.
        h.write("home/.bashrc", "alias l=ls\n")
        h.write("home/shell/common.sh", "\n")
        #expect(refusal(home + "/dotfiles", env, s) == nil)
        #expect(refusal(home + "/deeper", env, s) == nil)
    }

    @Test("~/.lesskey and ~/.inputrc linked into a read-write bind are refused; a `~/x` PATH entry is refused like an absolute one")
    func toolFilesAndTildePath() throws {
        let (h, s, home) = scratch()
        h.write("home/dotfiles/lesskey", "#env\n")
        h.write("home/dotfiles/inputrc", "set bell-style none\n")
        #expect(symlink(home + "/dotfiles/lesskey", home + "/.lesskey") == 0)
        #expect(symlink(home + "/dotfiles/inputrc", home + "/.inputrc") == 0)
        let env = ["HOME": home, "PATH": "/usr/bin:/bin"]
        let m = try #require(refusal(home + "/dotfiles", env, s), "the dotfiles bind was not refused")
        #expect(m.contains { $0.contains("the target of") == false && $0.contains(".lesskey") && $0.contains("LESSOPEN") }, "\(m)")
        #expect(m.contains { $0.contains(".inputrc") && $0.contains("readline") }, "\(m)")
        h.mkdir("home/tools")
        for entry in ["~/tools", "~/tools/"] {
            let tilde = ["HOME": home, "PATH": "\(entry):/usr/bin:/bin"]
            let t = try #require(refusal(home + "/tools", tilde, s), "\(entry) on PATH was not refused")
            #expect(t.contains { $0.contains(GrantChecks.pathDirectoryWhat) }, "\(t)")
        }
    }

    /// Red team (2026-12-03): `.profile` sourcing `.bashrc` (Debian's default) read `.bashrc`
    /// one level down, and the files it sources lost a level of the four.
    @Test("each start-up file is read at the least depth it is reached at: four levels of sourcing below .bashrc count, whatever .profile does")
    func depthFromEachStartupFile() throws {
        let (h, s, home) = scratch()
        h.write("home/.profile", ". ~/.bashrc\n")
        h.write("home/.bashrc", ". ~/s/a\n")
        h.write("home/s/a", ". ~/s/b\n")
        h.write("home/s/b", ". ~/s/c\n")
        h.write("home/s/c", ". ~/s/d\n")
        h.write("home/s/d", ". ~/dotfiles/e.sh\n")
        h.mkdir("home/dotfiles")
        let env = ["HOME": home, "PATH": "/usr/bin:/bin"]
        let m = try #require(refusal(home + "/dotfiles", env, s), "a place four levels below .bashrc was not judged")
        #expect(m.contains { $0.contains("\(home)/dotfiles/e.sh (a file sourced by the shell start-up file \(home)/s/d)") }, "\(m)")
        // `~user/bin` on PATH: bash expands it under that account's home.
        #expect(PlanBuilder.pathEntry("~alice/bin", home: "/h", homeOf: { $0 == "alice" ? "/home/alice" : nil }) == "/home/alice/bin")
        #expect(PlanBuilder.pathEntry("~nobody-here/bin", home: "/h", homeOf: { _ in nil }) == nil)
    }

    /// Review (2026-12-03): a directory a start-up file only names (`export PROJECTS=~/src`,
    /// `XDG_CACHE_HOME=~/.cache`), or one cut before a variable, refused every bind inside it.
    @Test("a path a start-up file only names, or cuts before a variable, is judged only when a bind holds it")
    func namedPlacesOnlyWhenHeld() throws {
        let (h, s, home) = scratch()
        h.write("home/.bashrc", "export PROJECTS=~/src\nexport CACHE=~/cache/$USER/x\n. ~/dots/$HOSTNAME.sh\n")
        h.mkdir("home/src/app")
        h.mkdir("home/cache/sub")
        h.mkdir("home/dots/sub")
        let env = ["HOME": home, "PATH": "/usr/bin:/bin"]
        #expect(refusal(home + "/src/app", env, s) == nil, "a bind inside a named directory was refused")
        #expect(refusal(home + "/cache/sub", env, s) == nil, "a bind inside a named place cut before a variable was refused")
        let src = try #require(refusal(home + "/src", env, s), "a bind of the named directory itself was not refused")
        #expect(src.contains { $0.contains("a path named in the shell start-up file \(home)/.bashrc") }, "\(src)")
        #expect(refusal(home + "/cache", env, s) != nil, "a bind holding a cut place was not refused")
        // A sourced file cut before a variable lies somewhere below: a bind inside is refused too.
        let dots = try #require(refusal(home + "/dots/sub", env, s), "a bind inside the directory of a sourced file was refused")
        #expect(dots.contains { $0.contains("the directory of a file sourced by the shell start-up file \(home)/.bashrc") }, "\(dots)")
    }

    @Test("the start-up file scanner: random bytes never crash it, and every place is a normalized absolute path")
    func scannerRandomBytes() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("~/$HOME{}.:=;&|()<>`'\"#* \n\tsource ab/..".utf8)
        for _ in 0..<3000 {
            let n = Int.random(in: 0..<200, using: &rng)
            let bytes = (0..<n).map { _ in Bool.random(using: &rng) ? alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng) }
            for f in StartupFileScan.paths(in: bytes, home: "/h") {
                #expect(Paths.normalize(f.path) == f.path && f.path != "/" && f.path != "/h", "\(f.path) from \(bytes)")
            }
        }
        #expect(StartupFileScan.paths(in: Array(". ~/a/b/../c".utf8), home: "/h").isEmpty)
        #expect(StartupFileScan.paths(in: Array("x=$HOME/a/$V/b:~/c/*.sh:/d".utf8), home: "/h").map(\.path) == ["/h/a", "/h/c", "/d"])
        #expect(StartupFileScan.paths(in: Array("source ~/s.sh".utf8), home: "/h").map(\.sourced) == [true])
        // Quotes as the shell reads them: a quoted ` #` is no comment, a quoted space no break,
        // an escaped space part of the path (red-team pass, 2026-12-03).
        #expect(StartupFileScan.paths(in: Array("PS1='\\w # '; . ~/dot/a.sh".utf8), home: "/h").map(\.path) == ["/h/dot/a.sh"])
        let spaced = StartupFileScan.paths(in: Array(". \"$HOME/My Dotfiles/a.sh\" ~/my\\ dir/b".utf8), home: "/h").map(\.path)
        #expect(spaced.contains("/h/My Dotfiles/a.sh") && spaced.contains("/h/my dir/b"), "\(spaced)")
        // Defaults: what `${NAME:-WORD}` names when NAME is unset.
        #expect(StartupFileScan.paths(in: Array(". \"${XDG_CONFIG_HOME:-$HOME/.config}/shell/a.sh\"; export PATH=\"${D:-$HOME/dot}/bin:$PATH\"; : \"${E:=$HOME/e}\"".utf8), home: "/h").map(\.path)
                == ["/h/.config/shell/a.sh", "/h/dot/bin", "/h/e"])
        // Review (2026-12-03): what a quoted command string names counts (the second reading),
        // an unmatched quote hides nothing, `.` is `source` only in a command's place, a line
        // break ends a command, PATH directories are told apart from names, cut paths marked.
        func found(_ text: String) -> [String: (StartupFileScan.Use, Bool)] {
            Dictionary(StartupFileScan.paths(in: Array(text.utf8), home: "/h").map { ($0.path, ($0.use, $0.cut)) }, uniquingKeysWith: { a, _ in a })
        }
        let quoted = found("alias x='python3 ~/d2/x.py'\neval \"$(~/.local/bin/mise activate bash)\"\nPROMPT_COMMAND=\"source ~/d3/p.sh\"\necho don't\n. ~/d4/a.sh\n")
        #expect(quoted["/h/d2/x.py"] != nil, "\(quoted)")
        #expect(quoted["/h/.local/bin/mise"] != nil, "\(quoted)")
        #expect(quoted["/h/d3/p.sh"]?.0 == .sourced, "\(quoted)")
        #expect(quoted["/h/d4/a.sh"]?.0 == .sourced, "\(quoted)")
        let position = found("cp x .\nalias y=z\nfind . foo\n")
        #expect(position["/h/alias"] == nil && position["/h/foo"] == nil, "\(position)")
        let uses = found("export PATH=~/b1:$PATH\npath=(~/b2 $path)\nfish_add_path ~/b3\nexport P=~/src\n. ~/dots/$HOST.sh\n")
        #expect(uses["/h/b1"]?.0 == .path && uses["/h/b2"]?.0 == .path && uses["/h/b3"]?.0 == .path, "\(uses)")
        #expect(uses["/h/src"]?.0 == .named && uses["/h/dots"]?.1 == true, "\(uses)")
        // A second review (2026-12-03): `.` after a reserved word or a prefix command, csh's and
        // fish's PATH forms, `${PATH:+:$PATH}`, a quoted sourced path after an unmatched quote.
        let more = found("if [ -f ~/i ]; then . ~/i; fi\nbuiltin source ~/j\nset path = ( ~/cbin $path )\nset -gx PATH ~/fbin $PATH\nsetenv PATH ~/sbin:$PATH\nsetenv EDITOR ~/ed\nPATH=\"$HOME/pbin${PATH:+:$PATH}\"\necho don't\n. \"$HOME/q/env\"\n")
        #expect(more["/h/i"]?.0 == .sourced && more["/h/j"]?.0 == .sourced, "\(more)")
        #expect(more["/h/cbin"]?.0 == .path && more["/h/fbin"]?.0 == .path && more["/h/sbin"]?.0 == .path && more["/h/ed"]?.0 == .named, "\(more)")
        #expect(more["/h/pbin"]?.0 == .path && more["/h/q/env"]?.0 == .sourced, "\(more)")
        // Relative after `.` or `source`: from the home, where a login shell starts.
        #expect(StartupFileScan.paths(in: Array("[ -f .aliases ] && . .aliases; source dot/x.sh".utf8), home: "/h").map(\.path) == ["/h/.aliases", "/h/dot/x.sh"])
    }
}
