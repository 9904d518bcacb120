import Foundation
import Testing
@testable import MCPBoxCore

/// The Mercurial configuration reader: what an `.hg/hgrc` makes host hg run or read.
@Suite struct HgProtectionTests {
    @Test func namedPaths() {
        let tmp = Scratch()
        let repo = tmp.mkdir("repo")
        _ = tmp.mkdir("repo/.hg")
        tmp.write("repo/more.rc", "[hooks]\ncommit = ~/bin/notify\n")
        let hgrc = tmp.write("repo/.hg/hgrc", """
            # comment
            %include ../more.rc
            [hooks]
            pre-status = sh tools/check.sh --quiet
            precommit.py = python:\(repo)/hooks/check.py:run
            changegroup = python:hgext.notify.hook
            [extensions]
            local = tools/ext.py
            disabled = !
            rebase =
            [alias]
            st = status
            up2 = !./scripts/up.sh $1
            [merge-tools]
            mine.executable = /opt/mine/bin/merge
            mine.args = $local /not/a/command
            [ui]
            username = A <a@b/c>
            editor = ./ed
            [paths]
            default = ../upstream
            [trusted]
            users = alice, bob
            groups = staff
            """)
        let s = HgProtection.scan([hgrc], repo: repo, homes: ["/home/u"])
        #expect(s.named.map(\.path) == [repo + "/more.rc", "/home/u/bin/notify", repo + "/tools/check.sh", repo + "/hooks/check.py",
                                        repo + "/tools/ext.py", repo + "/scripts/up.sh", "/opt/mine/bin/merge", repo + "/ed"])
        #expect(s.named.map(\.key) == ["%include", "hooks.commit", "hooks.pre-status", "hooks.precommit.py", "extensions.local",
                                       "alias.up2", "merge-tools.mine.executable", "ui.editor"])
        #expect(s.trustedUsers == ["alice", "bob"] && s.trustedGroups == ["staff"])
        #expect(HgProtection.trusts(s, user: "bob", group: nil) && HgProtection.trusts(s, user: "x", group: "staff"))
        #expect(!HgProtection.trusts(s, user: "srv", group: "srv"))
        #expect(HgProtection.trusts(HgProtection.Scan(trustedUsers: ["*"]), user: "srv", group: "srv"))
    }

    @Test func continuationLinesAndMissingIncludes() {
        let tmp = Scratch()
        let repo = tmp.mkdir("repo")
        let hgrc = tmp.write("repo/hgrc", "[hooks]\nupdate = echo\n  ./long/hook.sh\n%include missing.rc\n")
        let s = HgProtection.scan([hgrc], repo: repo, homes: [])
        // A missing include is named (the server could create it), and not an error.
        #expect(s.named.map(\.path) == [repo + "/long/hook.sh", repo + "/missing.rc"])
        #expect(s.unreadable.isEmpty)
    }

    /// A line hg reads by bytes that Swift would read with ASCII punctuation fused to a combining
    /// mark (`!` + U+0301 in a shell alias) is refused as unreadable (red-team pass, 2026-12-03).
    @Test func fusedCharactersAreRefused() {
        let tmp = Scratch()
        let repo = tmp.mkdir("repo")
        let hgrc = tmp.write("repo/hgrc", "[alias]\nzz = !\u{301};/srv/w/x.sh\n[ui]\nusername = Jose\u{301}\n")
        let s = HgProtection.scan([hgrc], repo: repo, homes: [])
        #expect(s.problems.count == 1 && s.problems[0].contains("line 2") && s.problems[0].contains("U+301"), "\(s.problems)")
    }

    /// Lines as hg splits them, and values as hg continues them: a CRLF or CR-only file was one
    /// line to mcpbox (`"\r\n"` is one `Character`), a comment or blank line ended a value hg
    /// continues past it, and a byte order mark hid the first section: each hid a hook host hg
    /// runs (red-team follow-up, 2026-12-02; fails before the fix).
    @Test("CRLF and CR line ends, comments inside a continued value, a byte order mark: read as hg reads them",
          arguments: ["\r\n", "\r", "\n"])
    func linesAsHgReadsThem(_ end: String) {
        let tmp = Scratch()
        let repo = tmp.mkdir("repo")
        let text = ["\u{FEFF}[hooks]", "pre-status = echo", "# a comment", "  ./hidden/a.sh", "; another", "  ./hidden/b.sh", "   ",
                    "[extensions]", "x = ./hidden/ext.py"].joined(separator: end) + end
        let hgrc = tmp.write("repo/hgrc", text)
        let s = HgProtection.scan([hgrc], repo: repo, homes: [])
        #expect(s.named.map(\.path) == [repo + "/hidden/a.sh", repo + "/hidden/b.sh", repo + "/hidden/ext.py"], "\(s.named)")
        #expect(s.named.first?.key == "hooks.pre-status")
    }

    /// The hgrc reader trims as hg does (a bytes regex's `\s`, `bytes.strip()`): ASCII blanks
    /// only, `\v` and `\f` included, at either end, and nothing inside. (It trimmed as
    /// Foundation's `whitespaces`: U+00A0 after a hook's script was trimmed, and hg's shell ran
    /// another file; `\f` was kept. Red-team pass, 2026-12-02.) A `sharedpath` is still trimmed
    /// as Foundation's `whitespacesAndNewlines`.
    @Test func trimmingMatchesHg() {
        let blanks: [Character] = [" ", "\t", "\u{A0}", "\u{1680}", "\u{2003}", "\u{202F}", "\u{3000}", "\u{200B}", "\u{FEFF}"]
        let newlines: [Character] = ["\n", "\r", "\u{0B}", "\u{0C}", "\u{85}", "\u{2028}", "\u{2029}"]
        let others: [Character] = ["a", "/", "\"", "'", "`", "(", ")", "é", "e\u{301}", "\u{1F600}", "\u{301}"]
        let all = blanks + newlines + others
        var cases: [String] = ["", "   ", "a b", " \u{301}x"]
        for a in all { for b in all { cases += [String([a, b]), String([a, "x", b]), String([b, a, "y", "y", a])] } }
        for c in cases {
            #expect(c.trimmingScalars(where: HgText.isSpace) == c.trimmingCharacters(in: CharacterSet(charactersIn: " \t\n\u{0B}\u{0C}\r")), "\(Array(c.unicodeScalars))")
            #expect(c.trimmingScalars(where: HgText.isSpaceOrNewline) == c.trimmingCharacters(in: .whitespacesAndNewlines), "\(Array(c.unicodeScalars))")
            #expect(c.trimmingScalars(where: HgText.isQuoteOrParen) == c.trimmingCharacters(in: CharacterSet(charactersIn: "\"'`()")), "\(Array(c.unicodeScalars))")
            #expect(Substring(c).trimmingScalars(where: HgText.isSpace) == c.trimmingCharacters(in: CharacterSet(charactersIn: " \t\n\u{0B}\u{0C}\r")))
        }
    }

    @Test("a hook's interpreter script is a file even without a `/` (`sh hook.sh` runs hook.sh from the repository's root)")
    func interpreterScriptWithoutASlash() {
        #expect(HgProtection.commandPaths(section: "hooks", key: "pre-status", value: "sh hook.sh", repo: "/r", homes: []) == ["/r/hook.sh"])
        #expect(HgProtection.commandPaths(section: "hooks", key: "pre-status", value: "python3 -u tools/h.py", repo: "/r", homes: []) == ["/r/tools/h.py"])
        #expect(HgProtection.commandPaths(section: "hooks", key: "pre-status", value: "echo hi", repo: "/r", homes: []) == [])
    }

    /// What hg expands or runs that the scan did not see (red-team pass, 2026-12-02; each fails
    /// before the change): `$HOME`/`${HOME}` in an extension's or a python hook's path, quotes
    /// inside a hook's word, an interpreter with a version, fsmonitor's watchman, encode and
    /// decode filters, email's method; a continuation line starting with `\f`; a variable the
    /// scan cannot expand in an `%include` (a problem: refused).
    @Test("paths hg expands, and programs it runs outside the hook sections, are named")
    func expansionsAndOtherPrograms() throws {
        let h = ["/home/u"]
        func paths(_ section: String, _ key: String, _ value: String) -> [String] {
            HgProtection.commandPaths(section: section, key: key, value: value, repo: "/r", homes: h)
        }
        #expect(paths("extensions", "x", "$HOME/p/ext.py") == ["/home/u/p/ext.py"])
        #expect(paths("extensions", "x", "${HOME}/p/ext.py") == ["/home/u/p/ext.py"])
        #expect(paths("hooks", "pre-status", "python:${HOME}/p/hook.py:fn") == ["/home/u/p/hook.py"])
        #expect(paths("hooks", "pre-status", "\"$HOME\"/../w/h.sh") == ["/home/w/h.sh"])
        #expect(paths("hooks", "pre-status", "python3.11 tools/h.py") == ["/r/tools/h.py"])
        #expect(paths("hooks", "pre-status", "make x") == [])
        #expect(paths("fsmonitor", "watchman_exe", "/srv/w/watchman") == ["/srv/w/watchman"])
        #expect(paths("fsmonitor", "watchman_exe", "watchman") == [])
        #expect(paths("encode", "**", "pipe: /srv/w/enc.sh") == ["/srv/w/enc.sh"])
        #expect(paths("decode", "*.txt", "tempfile: sh dec.sh INFILE OUTFILE") == ["/r/dec.sh"])
        #expect(paths("encode", "**", "gunzip") == [])
        #expect(paths("email", "method", "/usr/sbin/sendmail") == ["/usr/sbin/sendmail"])
        #expect(paths("email", "method", "smtp") == [])
        // `python:PATH:function` names a file relative to the repository's root even without a `/`.
        #expect(paths("hooks", "pre-status", "python:h.py:run") == ["/r/h.py"])
        #expect(paths("hooks", "pre-status", "python:hgext.foo.bar") == [])
        let s = Scratch()
        let hgrc = s.write("hgrc", "[hooks]\npre-status = true\n\u{0C}/srv/w/h.sh\n%include $FOO/team.rc\n[extensions]\ny = $BAR/y.py\n")
        let scan = HgProtection.scan([hgrc], repo: "/r", homes: h)
        #expect(scan.named.contains { $0.path == "/srv/w/h.sh" }, "\(scan.named)")
        #expect(scan.problems.count == 2 && scan.problems[0].contains("%include $FOO/team.rc") && scan.problems[1].contains("extensions.y"), "\(scan.problems)")
        // A no-break space after the script is part of its name to hg (and the shell).
        let nbsp = s.write("nbsp", "[hooks]\npre-status = /srv/w/h.sh\u{A0}\n")
        #expect(HgProtection.scan([nbsp], repo: "/r", homes: h).named.map(\.path) == ["/srv/w/h.sh\u{A0}"])
    }

    @Test("with no repository, only absolute and `~/` paths are named: a relative one lies in whichever repository hg runs in")
    func noRepositoryNamesOnlyAbsolutePaths() {
        #expect(HgProtection.commandPaths(section: "hooks", key: "pre-status", value: "sh hook.sh /srv/h/b.sh ~/h/c.sh tools/d.sh", repo: nil, homes: ["/home/u"])
                == ["/srv/h/b.sh", "/home/u/h/c.sh"])
        #expect(HgProtection.commandPaths(section: "hooks", key: "pre-status", value: "$HOME/h/a.sh; ${HOME}/h/b.sh", repo: nil, homes: ["/home/u"])
                == ["/home/u/h/a.sh", "/home/u/h/b.sh"])
        #expect(HgProtection.commandPaths(section: "extensions", key: "x", value: "ext/x.py", repo: nil, homes: []) == [])
        #expect(HgProtection.commandPaths(section: "extensions", key: "x", value: "/opt/x.py", repo: nil, homes: []) == ["/opt/x.py"])
    }
}
