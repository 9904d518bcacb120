import Foundation
import Testing
@testable import MCPBoxCore

/// The git config reader, what it finds, and what the plan makes of configuration naming paths
/// the server may write.
@Suite struct GitConfigScanTests {
    func keys(_ text: String) -> [String] {
        GitConfigScan.parse(text).entries.map { "\($0.key)=\($0.value ?? "<bool>")" }
    }

    @Test func syntax() {
        let text = "\u{FEFF}# comment\n; another\n[core]\n\tbare = false\n\tfilemode\n[remote \"Or\\\"ig\"]\n url = x ; trailing\n"
            + "[Section.SubSec]\nKey = v\n[a] b = inline\n[x]\nv = \"  quoted ; # \"  tail  \n"
            + "w = one\\\n two\r\nesc = a\\tb\\\\c\\\"d\\n\n"
        #expect(keys(text) == ["core.bare=false", "core.filemode=<bool>", "remote.Or\"ig.url=x", "section.subsec.key=v",
                               "a.b=inline", "x.v=  quoted ; #   tail", "x.w=one two", "x.esc=a\tb\\c\"d\n"])
        #expect(GitConfigScan.parse(text).error == nil)
        let lines = GitConfigScan.parse("[a]\nx=1\n\n  y = 2\n").entries.map(\.line)
        #expect(lines == [2, 4])
    }

    @Test func syntaxErrorsAreReportedWithTheEntriesBefore() {
        for (text, line) in [("[a]\nx = \"open\n", 2), ("[a]\nx = bad\\q\n", 2), ("[a\nx=1\n", 1),
                             ("[a \"sub]\n", 1), ("[a \"s\" x]\n", 1), ("[]\n", 1), ("[a]\n1x = 2\n", 2),
                             ("[a]\nk v\n", 2), ("[a]\nk # c\n", 2), ("[a]\nk = \"x\\\n", 2), ("[a]\nok = 1\n[b!]\n", 3)] {
            let r = GitConfigScan.parse(text)
            #expect(r.error?.line == line, "\(text.debugDescription): \(String(describing: r.error))")
        }
        #expect(GitConfigScan.parse("[a]\nok = 1\n[b!]\n").entries.map(\.key) == ["a.ok"])
    }

    /// `git config ARGUMENTS --list -z` run in `home` with no system file, as `KEY=VALUE` (a
    /// boolean written without a value: `KEY=<bool>`); nil when git refuses.
    func realGitList(_ arguments: [String], home: String, environment: [String: String] = [:]) throws -> [String]? {
        let r = Process()
        r.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        r.arguments = ["config"] + arguments + ["--list", "-z"]
        r.currentDirectoryURL = URL(fileURLWithPath: home)
        r.environment = ["PATH": "/usr/bin:/bin", "HOME": home, "GIT_CONFIG_NOSYSTEM": "1"].merging(environment) { _, b in b }
        let out = Pipe()
        r.standardOutput = out
        r.standardError = FileHandle.nullDevice
        try r.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        r.waitUntilExit()
        guard r.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).split(separator: "\0").map { item in
            item.firstIndex(of: "\n").map { "\(item[..<$0])=\(item[item.index(after: $0)...])" } ?? "\(item)=<bool>"
        }
    }

    /// The same texts read by real git (`git config -f FILE --list -z`): the same entries, or
    /// both refuse.
    @Test func agreesWithRealGit() throws {
        let s = Scratch()
        let texts = ["[core]\n\tbare = false\n\tfilemode\n", "[remote \"Or\\\"ig\"]\n url = x ; c\n", "[Section.SubSec]\nKey = v\n",
                     "[a] b = inline\n", "[x]\nv = \"  quoted ; # \"  tail  \n", "[x]\nw = one\\\n two\r\n", "[x]\ne = a\\tb\\\\c\\\"d\n",
                     "x=1\n[a]\n", "[a.B \"c\"]\nk=1\n", "[a]\nk = \"x\\\n", "[a]\nk # c\n", "[a]\nk=a\\q\n", "[a \"s\" x]\n", "[]\nk=1\n",
                     "[a]\n1x = 2\n", "[a]\nk v\n", "[a\nk=1\n", "[a]\nk=\"unterminated\n", "[a]\n\tk\t=\t\tv\tw\t\n", "[a]k=1\n[b]\n\tx-y = \"\"\n",
                     "\u{FEFF}[a]\nk=1\n", "[a \"\"]\nk=1\n", "[a]\nk=\\\n\n", "[a]\nk=x\\\n;c\n", "[a]\n  k  \n",
                     // `\f` and `\v` are no blanks to git (red-team pass, 2026-12-02: mcpbox trimmed them).
                     "[a]\nk = v\u{0C}\n", "[a]\nk = v\u{0B}w \u{0C} x\n", "\u{0C}[a]\nk=1\n", "[a]\n\u{0B}k=1\n", "[a \u{0C}\"s\"]\nk=1\n"]
        for (n, text) in texts.enumerated() {
            let file = s.write("c\(n)", text)
            let ours = GitConfigScan.parse(text)
            guard let git = try realGitList(["-f", file], home: s.path) else {
                #expect(ours.error != nil, "git refuses \(text.debugDescription), mcpbox reads \(ours.entries)")
                continue
            }
            #expect(ours.error == nil && keys(text) == git, "\(text.debugDescription): git \(git), mcpbox \(keys(text)) \(String(describing: ours.error))")
        }
    }

    /// `GIT_CONFIG_PARAMETERS` (what `git -c` hands to the git commands it runs, which a caller
    /// may export) read as real git reads it (`git config --list -z` with only that set): the
    /// same entries, or git refuses the list where mcpbox finds it incomplete. It was not read at
    /// all (left alone in the 2026-12-02 note): `'core.fsmonitor'='/srv/w/x.sh'` ran unjudged.
    @Test func parametersAsGitReadsThem() throws {
        let s = Scratch()
        let texts = ["'core.fsmonitor'='/srv/w/x.sh'", "'core.fsmonitor=/srv/w/x.sh'", "'core.bare'", "'core.bare'=",
                     "'a.b=1' 'Remote.Or\"ig.URL'='u v'", "'a.k'='it'\\''s' \t\n 'a.j=x'\\!'y'", "  'a.k=1'",
                     "'a.k'='v'x", "'a.k'x", "'a.k=1' junk", "'a.k", "'a.k'='v", "'=v'", "'nodot=1'", "'a.k'=v",
                     "'a.Sub.Sec.Name=  spaced = '", "'  core.editor  =vi'", "'a.k=1'\u{0C}'a.j=2'", "",
                     // A combining mark fused `=` or `.` with it for Swift's `Character` (red-team pass, 2026-12-03).
                     "'core.fsmonitor=\u{301};/srv/w/x.sh'", "'filter.\u{301}x.clean'='/srv/w/x.sh'", "'a.b\u{301}.c=1'"]
        for text in texts {
            let ours = GitConfigScan.parameterEntries(text)
            guard let git = try realGitList([], home: s.path, environment: ["GIT_CONFIG_PARAMETERS": text]) else {
                #expect(!ours.complete, "git refuses \(text.debugDescription), mcpbox reads \(ours.entries)")
                continue
            }
            let mine = ours.entries.map { "\($0.key)=\($0.value ?? "<bool>")" }
            #expect(ours.complete && mine == git, "\(text.debugDescription): git \(git), mcpbox \(mine)")
        }
    }

    /// `GIT_CONFIG_COUNT` read as git's `strtoul` reads it (blanks and a sign before the digits):
    /// `" 1"` was no count to mcpbox while git read the entry (red-team pass, 2026-12-03). Each
    /// count against real git, with two entries defined: as many entries, or git refuses.
    @Test func countAsGitReadsIt() throws {
        let s = Scratch()
        for text in [" 1", "+1", "\t2", "01", "2", "-0", "-1", "1 ", "0x1", "", " ", "+", "99999999999999999999", "3"] {
            let env = ["GIT_CONFIG_COUNT": text, "GIT_CONFIG_KEY_0": "a.k", "GIT_CONFIG_VALUE_0": "1", "GIT_CONFIG_KEY_1": "a.j", "GIT_CONFIG_VALUE_1": "2"]
            let git = try realGitList([], home: s.path, environment: env)
            let ours = GitConfigScan.configCount(text)
            if let git {
                #expect(ours == git.count, "\(text.debugDescription): git \(git), mcpbox \(String(describing: ours))")
            } else {
                // git refuses the count, or dies at the missing third key: either way it runs nothing.
                #expect(ours == nil || ours! > 2, "\(text.debugDescription): git refuses, mcpbox \(String(describing: ours))")
            }
        }
    }

    /// A combining mark after ASCII punctuation makes one `Character` of both in Swift, where git
    /// and the shell read the ASCII byte: an alias `!\u{301};/srv/w/x.sh` ran the script at
    /// `git zz` but failed `hasPrefix("!")`; such text is refused as unreadable (red-team pass,
    /// 2026-12-03). Letters with marks (a decomposed `é` in a name) stay readable.
    @Test func fusedCharactersAreRefused() {
        #expect(GitConfigScan.fusedASCII("!\u{301};/srv/w/x.sh") != nil)
        #expect(GitConfigScan.fusedASCII("filter.\u{301}x.clean") != nil)
        #expect(GitConfigScan.fusedASCII("a\r\nb") != nil)
        #expect(GitConfigScan.fusedASCII("Jose\u{301} Zoe\u{308}") == nil)
        #expect(GitConfigScan.fusedASCII("plain ascii; /srv/w/x.sh") == nil)
        #expect(GitConfigScan.fusedASCII("caf\u{E9} \u{1F600}") == nil)
        let scan = GitConfigScan.scan(gitDir: nil, homes: [], environment: [("env", GitConfigScan.entry(key: "alias.zz", value: "!\u{301};/srv/w/x.sh")!)])
        #expect(scan.problems.contains { $0.contains("alias.zz") && $0.contains("U+301") }, "\(scan.problems)")
    }

    /// git ends a value at a NUL byte (it keeps it as a C string): refused as unreadable, not
    /// resolved in full to another file (red-team pass, 2026-12-02). `~NAME/` is that account's
    /// home and `%(prefix)/` git's installation prefix, in path values and includes; quotes join
    /// what they hold to a word of a command mcpbox cannot read word by word.
    @Test func valuesAsGitReadsThem() {
        #expect(GitConfigScan.parse(Array("[core]\n\tfsmonitor = /srv/w/a.sh".utf8) + [0] + Array("x\n".utf8)).error?.reason == "a NUL byte in a value")
        #expect(GitConfigScan.resolve("~root/../srv/x", base: "/", home: nil) == "/srv/x")
        #expect(GitConfigScan.resolve("~no-such-account-here/x", base: "/", home: nil) == nil)
        #expect(GitConfigScan.includePaths("%(prefix)/../srv/w/inc.cfg", from: "/home/u/.gitconfig", homes: []).contains("/srv/w/inc.cfg"))
        #expect(GitConfigScan.opaqueCommandPaths("\"$HOME\"/proj/h.sh; echo ${HOME}/b '/srv/w/c.sh'", homes: ["/home/u"])
                == ["/home/u/proj/h.sh", "/home/u/b", "/srv/w/c.sh"])
        #expect(GitConfigScan.isInterpreter("/usr/bin/python3.11") && GitConfigScan.isInterpreter("perl5.36") && !GitConfigScan.isInterpreter("make"))
    }

    /// Garbage of every kind: no crash, bounded, and either entries or an error.
    @Test func adversarialInputNeverCrashes() {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt8 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: seed >> 56)
        }
        let alphabet = Array("[]\"\\=;#\n\r\t abcK.-0\u{0}é".utf8)
        for n in 0..<2000 {
            let bytes = (0..<(n % 97)).map { _ in n % 2 == 0 ? next() : alphabet[Int(next()) % alphabet.count] }
            _ = GitConfigScan.parse(bytes)
        }
        for text in ["\\", "\"", "[", "[a", "[a \"", "[a \"\\", "[a]\nk=\\", "[a]\nk=\"", "[a]\nk", "\r", "\r\n\r\n[a]k"] {
            _ = GitConfigScan.parse(text)
        }
        let long = "[a]\n" + String(repeating: "k = " + String(repeating: "\\\n", count: 1000) + "v\n", count: 100)
        #expect(GitConfigScan.parse(long).entries.count == 100)
        #expect(GitConfigScan.parse("[" + String(repeating: "a", count: 5000) + "]\n").error != nil)
    }

    @Test func keysThatNameWhatGitRuns() {
        func use(_ line: String) -> GitConfigScan.Use? {
            GitConfigScan.parse(line).entries.first.flatMap(GitConfigScan.use(of:))
        }
        #expect(use("[core]\nhooksPath = .husky/_") == .path)
        #expect(use("[include]\npath = ../x") == .include)
        #expect(use("[includeIf \"gitdir:~/w/\"]\npath = x") == .include)
        #expect(use("[core]\nfsmonitor = ./fsm") == .command)
        #expect(use("[core]\nfsmonitor = true") == nil)
        #expect(use("[alias]\nst = status") == nil)
        #expect(use("[alias]\nx = !./run") == .command)
        #expect(use("[pager]\nlog = false") == nil)
        #expect(use("[pager]\nlog = ./p") == .command)
        // An alias's name may hold a dot: `git foo.bar` at a terminal runs `pager.foo.bar` (it was
        // not judged: left alone in the 2026-12-02 note).
        #expect(use("[pager \"foo\"]\nbar = /srv/w/p.sh") == .command)
        #expect(use("[pager \"foo\"]\nbar = off") == nil)
        #expect(use("[gpg \"ssh\"]\nprogram = ./g") == .command)
        #expect(use("[filter \"lfs\"]\nprocess = git-lfs filter-process") == .command)
        #expect(use("[diff \"x\"]\ntextconv = ./t") == .command)
        #expect(use("[merge \"x\"]\ndriver = ./m %O %A %B") == .command)
        #expect(use("[protocol \"ext\"]\nallow = always") == .flag)
        #expect(use("[protocol]\nallow = always") == .flag)
        #expect(use("[protocol \"ext\"]\nallow = never") == nil)
        #expect(use("[user]\nname = x") == nil)
    }

    @Test func commandWordsNamingFiles() {
        #expect(GitConfigScan.commandPaths("./x.sh --foo") == ["./x.sh"])
        #expect(GitConfigScan.commandPaths("less -R") == [])
        #expect(GitConfigScan.commandPaths("!sh -c './evil; true'") == ["./evil"])
        #expect(GitConfigScan.commandPaths("FOO=1 tools/a b") == ["tools/a"])
        #expect(GitConfigScan.commandPaths("node scripts/x.js --y") == ["scripts/x.js"])
        #expect(GitConfigScan.commandPaths("\"/opt/my tool/bin\" x") == ["/opt/my tool/bin"])
        #expect(GitConfigScan.commandPaths("/usr/bin/env ./e") == ["/usr/bin/env", "./e"])
        #expect(GitConfigScan.commandPaths("$HOME/x") == [])
    }

    @Test("an interpreter's script is a file even without a `/` (`sh fsm.sh` runs fsm.sh from the worktree's top); inline code is not; a Python module is looked for there first")
    func interpreterScriptsWithoutASlash() {
        #expect(GitConfigScan.commandPaths("sh fsm.sh") == ["fsm.sh"])
        #expect(GitConfigScan.commandPaths("!bash -e hook.sh arg") == ["hook.sh"])
        #expect(GitConfigScan.commandPaths("python3 tool.py") == ["tool.py"])
        #expect(GitConfigScan.commandPaths("perl -e 'print 1'") == [])
        #expect(GitConfigScan.commandPaths("python3 -m pkg.tool x") == ["pkg/tool.py"])
        #expect(GitConfigScan.commandPaths("sh -") == [])
        // Wrappers run the rest as a command (a second red-team pass: `nice sh pg.sh` ran pg.sh).
        #expect(GitConfigScan.commandPaths("nice sh pg.sh") == ["pg.sh"])
        #expect(GitConfigScan.commandPaths("nice -n 5 sh pg.sh") == ["pg.sh"])
        #expect(GitConfigScan.commandPaths("timeout -s KILL 5 bash x.sh") == ["x.sh"])
        #expect(GitConfigScan.commandPaths("nohup ./run.sh") == ["./run.sh"])
        // Every other word is judged where it names an existing file.
        #expect(GitConfigScan.argumentWords("node --require ./req.js fsm7.js") == ["./req.js", "fsm7.js"])
        #expect(GitConfigScan.argumentWords("!FOO=1 tool --config=cfg.js -v $HOME/x `y`") == ["cfg.js"])
    }

    /// A fourth red-team pass: forms whose files cannot be told word by word (14 bypasses).
    @Test("a value whose files cannot be told word by word is opaque: variables, substitutions, braces, keywords, eval, cd, xargs, here-documents, continued lines, /proc paths")
    func opaqueValues() {
        for v in ["!sh $PWD/s.sh", "sh $PWD/fsm.sh", "!bash -c 'cat s_bra{ce,}.sh | sh'", "!cat s_co\\\nnt.sh | sh",
                  "!sh -c 'if true; then sh s.sh; fi'", "!sh -c '{ sh s.sh; }'", "!sh -c 'for f in d/*; do sh $f; done'",
                  "!eval 'sh s.sh'", "!bash -c 'sh ~+/s.sh'", "!cd sub && sh s.sh", "!xargs sh < list.txt", "!sh <<EOF"] {
            #expect(GitConfigScan.opaque(v, command: true) != nil, "\(v)")
        }
        #expect(GitConfigScan.opaque("/proc/self/cwd/myhooks", command: false) != nil)
        for v in ["less -R", "!git log --graph | less", "sh fsm.sh", "!true|sh s6.sh", "/usr/bin/vim"] {
            #expect(GitConfigScan.opaque(v, command: true) == nil, "\(v)")
        }
    }

    /// A third red-team pass: only the first simple command of a line was read.
    @Test("every simple command of a line counts: after ; && || |, inside $( ) and backquotes, a file fed to standard input, behind busybox")
    func wholeCommandLines() {
        #expect(GitConfigScan.commandPaths("true; sh s1.sh") == ["s1.sh"])
        #expect(GitConfigScan.commandPaths("!sh -c \"true && sh s2.sh\"") == ["s2.sh"])
        #expect(GitConfigScan.commandPaths("!. ./s3.s?") == ["./s3.s?"])
        #expect(GitConfigScan.commandPaths("!sh < s4.sh") == ["s4.sh"])
        #expect(GitConfigScan.argumentWords("!sh \"$(echo s5.sh)\"").contains("s5.sh"))
        #expect(GitConfigScan.commandPaths("!true|sh s6.sh") == ["s6.sh"])
        #expect(GitConfigScan.argumentWords("!cat s[7].sh | sh") == ["s[7].sh"])
        #expect(GitConfigScan.commandPaths("!cd sub && sh s10.sh") == ["s10.sh"])
        #expect(GitConfigScan.commandPaths("busybox sh s9.sh") == ["s9.sh"])
        #expect(GitConfigScan.commandPaths("!x `sh s11.sh`") == ["s11.sh"])
        #expect(GitConfigScan.commandPaths("less -R > out.txt") == [])
    }

    @Test("commands git runs from tar, send-email, git gui and instaweb settings")
    func moreCommandKeys() {
        func use(_ line: String) -> GitConfigScan.Use? {
            GitConfigScan.parse(line).entries.first.flatMap(GitConfigScan.use(of:))
        }
        #expect(use("[tar \"txz\"]\ncommand = tools/xz.sh") == .command)
        #expect(use("[sendemail]\ncccmd = scripts/get_maintainer.pl") == .command)
        #expect(use("[sendemail \"work\"]\ntocmd = ./to.sh") == .command)
        #expect(use("[sendemail]\nsmtpserver = /usr/local/bin/msmtp") == .command)
        #expect(use("[sendemail]\nsmtpserver = smtp.example.org") == nil)
        #expect(use("[guitool \"lint\"]\ncmd = tools/lint") == .command)
        #expect(use("[instaweb]\nhttpd = ./httpd.sh") == .command)
    }

    @Test func resolution() {
        #expect(GitConfigScan.resolve("../.gitconfig.local", base: "/r/.git", home: nil) == "/r/.gitconfig.local")
        #expect(GitConfigScan.resolve("~/c", base: "/r", home: "/home/o") == "/home/o/c")
        #expect(GitConfigScan.resolve("~x/c", base: "/r", home: "/home/o") == nil)
        #expect(GitConfigScan.resolve("../../../../a", base: "/r", home: nil) == "/a")
        #expect(GitConfigScan.resolve("/abs/./p/", base: "/r", home: nil) == "/abs/p")
    }

    @Test func scanFollowsIncludesAndResolvesPaths() {
        let s = Scratch()
        s.write("r/.git/config", "[core]\n\thooksPath = .husky/_\n[include]\n\tpath = ../.gitconfig.local\n[includeIf \"onbranch:x\"]\n\tpath = ~/inc\n")
        s.write("r/.gitconfig.local", "[core]\n\tpager = ./pager.sh -R\n[include]\n\tpath = .gitconfig.local\n")
        s.write("home/inc", "[alias]\n\tx = !bin/x\n")
        let r = GitConfigScan.scan(gitDir: s.path + "/r/.git", homes: [s.path + "/home", s.path + "/other"])
        #expect(r.problems.isEmpty, "\(r.problems)")
        #expect(r.files == [s.path + "/r/.git/config", s.path + "/r/.gitconfig.local", s.path + "/home/inc"])
        let found = r.findings.map { "\($0.key) \($0.path ?? "-")" }
        // In git's order: an included file's entries where the include is.
        #expect(found == ["core.hookspath \(s.path)/r/.husky/_", "include.path \(s.path)/r/.gitconfig.local",
                          "core.pager \(s.path)/r/pager.sh", "include.path \(s.path)/r/.gitconfig.local",
                          "includeif.onbranch:x.path \(s.path)/home/inc", "includeif.onbranch:x.path \(s.path)/other/inc", "alias.x \(s.path)/r/bin/x"], "\(found)")
    }

    /// Included files were remembered in a `Set<String>`, whose membership is canonical
    /// equivalence: after `caf\u{E9}` an include of the other file `cafe\u{301}` was taken for one
    /// already read and skipped, with what it makes git run. Fails before the fix.
    @Test func includesWithCanonicallyEquivalentNamesAreBothRead() {
        let s = Scratch()
        s.write("r/.git/config", "[include]\n\tpath = ../caf\u{E9}\n\tpath = ../cafe\u{301}\n")
        s.write("r/caf\u{E9}", "[core]\n\tpager = less\n")
        s.write("r/cafe\u{301}", "[core]\n\tfsmonitor = ./planted.sh\n")
        let r = GitConfigScan.scan(gitDir: s.path + "/r/.git", homes: [])
        #expect(r.files.count == 3, "\(r.files)")
        #expect(r.findings.contains { $0.key == "core.fsmonitor" && $0.path == s.path + "/r/planted.sh" },
                "\(r.findings.map { "\($0.key) \($0.path ?? "-")" })")
    }

    @Test func scanIsBounded() {
        let s = Scratch()
        s.write("r/.git/config", "[include]\npath = ../i0\n")
        for n in 0..<20 { s.write("r/i\(n)", "[include]\npath = i\(n + 1)\n") }
        let deep = GitConfigScan.scan(gitDir: s.path + "/r/.git", homes: [])
        #expect(deep.problems.contains { $0.contains("deep") }, "\(deep.problems)")
        s.write("r/.git/config", "[core]\npager = less\n" + String(repeating: "#", count: GitConfigScan.fileLimit))
        let large = GitConfigScan.scan(gitDir: s.path + "/r/.git", homes: [])
        #expect(large.problems.contains { $0.contains("larger") }, "\(large.problems)")
        s.write("r/.git/config", "[core]\npager = \"less\n")
        #expect(GitConfigScan.scan(gitDir: s.path + "/r/.git", homes: []).problems.contains { $0.contains("line 2") })
    }

    // MARK: the plan

    /// A real repository at `s/repo`, bound read-write, its configuration extended by `config`.
    func setUp(config: [[String]]) throws -> Scratch {
        let s = Scratch()
        s.mkdir("repo")
        for args in [["init", "-q", s.path + "/repo"]] + config.map({ ["-C", s.path + "/repo", "config"] + $0 }) {
            let r = Process()
            r.executableURL = URL(fileURLWithPath: "/usr/bin/git")
            r.arguments = args
            try r.run()
            r.waitUntilExit()
            try #require(r.terminationStatus == 0)
        }
        s.write("profiles/base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        s.write("profiles/p.toml", "[filesystem]\nread_write = [\"\(s.path)/repo\"]\n")
        return s
    }

    func plan(_ s: Scratch) -> (plan: SandboxPlan?, errors: [Diagnostic]) {
        let r = Fixture.plan("p", dirs: [s.path + "/profiles"], host: Fixture.host(uid: 0, gid: 0))
        return (r.plan, Fixture.errors("p", dirs: [s.path + "/profiles"], host: Fixture.host(uid: 0, gid: 0)))
    }

    @Test func huskyHooksPathAndIncludedFileBoundReadOnly() throws {
        let s = try setUp(config: [["core.hooksPath", ".husky/_"], ["include.path", "../.gitconfig.local"]])
        s.mkdir("repo/.husky/_")
        s.write("repo/.gitconfig.local", "[core]\n\tpager = ./tools/pager\n")
        s.write("repo/tools/pager", "#!/bin/sh\ncat\n", mode: 0o755)
        let plan = try #require(plan(s).plan, "\(plan(s).errors)")
        // A script with its directory (what lies beside it runs with it); an included file alone.
        for (path, key) in [("repo/.husky/_", "core.hookspath"), ("repo/.gitconfig.local", "include.path"), ("repo/tools", "core.pager")] {
            let p = s.path + "/" + path
            let m = plan.mounts.first { $0.target == p }
            #expect(m?.kind == .bind(source: p, readOnly: true) && m?.origin == "mcpbox: git protection (\(key))", "\(path): \(String(describing: m))")
        }
        #expect(Explain.text(plan).contains("mcpbox: git protection (core.hookspath)"))
    }

    @Test func missingTargetsRefused() throws {
        let s = try setUp(config: [["core.hooksPath", ".husky/_"], ["include.path", "../.gitconfig.local"], ["alias.x", "!scripts/x.sh"]])
        let errors = plan(s).errors
        for (path, key) in [("repo/.husky/_", "core.hookspath"), ("repo/.gitconfig.local", "include.path"), ("repo/scripts/x.sh", "alias.x")] {
            #expect(errors.contains {
                $0.message.contains("\(s.path)/repo's configuration (\(s.path)/repo/.git/config: \(key)) names \(s.path)/\(path), inside a path the server may write")
                    && $0.message.contains("does not exist") && $0.hint?.contains("create it") == true
            }, "\(key): \(errors)")
        }
        #expect(plan(s).plan == nil)
    }

    /// `~/` is the home of whoever may run host git there: here the caller's `HOME`, bound read-write.
    @Test func homeIncludeInsideTheBindRefusedWhenMissing() throws {
        let s = try setUp(config: [["include.path", "~/extra.inc"]])
        // The home bound read-write is itself a refused grant: acknowledge it, so what is left
        // is the configuration's own refusal.
        s.write("profiles/p.toml", "[filesystem]\nread_write = [\"\(s.path)/repo\"]\naccept = [\"\(s.path)/repo\"]\n")
        let r = Fixture.plan("p", dirs: [s.path + "/profiles"], host: Fixture.host(uid: 0, gid: 0, env: ["HOME": s.path + "/repo"]))
        #expect(r.plan == nil)
        #expect(Fixture.errors("p", dirs: [s.path + "/profiles"], host: Fixture.host(uid: 0, gid: 0, env: ["HOME": s.path + "/repo"])).contains {
            $0.message.contains("include.path) names \(s.path)/repo/extra.inc")
        })
    }

    @Test func symlinkInsideTheBindRefused() throws {
        let s = try setUp(config: [["core.hooksPath", "hooks-link"]])
        try FileManager.default.createSymbolicLink(atPath: s.path + "/repo/hooks-link", withDestinationPath: ".git/hooks")
        #expect(plan(s).errors.contains { $0.message.contains("symlink") && $0.message.contains("core.hookspath") }, "\(plan(s).errors)")
    }

    @Test func pathsOutsideTheBindsAndPathCommandsAreLeftAlone() throws {
        let s = try setUp(config: [["core.pager", "less -R"], ["core.editor", "/usr/bin/vi"], ["core.hooksPath", "/usr/share"]])
        let plan = try #require(plan(s).plan, "\(plan(s).errors)")
        #expect(!plan.mounts.contains { $0.origin.hasPrefix("mcpbox: git protection (") })
    }

    @Test func configurationNamingAnAncestorOfTheBindOrEnablingExtRefused() throws {
        let s = try setUp(config: [["core.hooksPath", ".."], ["protocol.ext.allow", "always"]])
        let errors = plan(s).errors
        #expect(errors.contains { $0.message.contains("core.hookspath") && $0.message.contains("which holds \(s.path)/repo") }, "\(errors)")
        #expect(errors.contains { $0.message.contains("protocol.ext.allow") && $0.hint?.contains("--unset") == true }, "\(errors)")
    }
}
