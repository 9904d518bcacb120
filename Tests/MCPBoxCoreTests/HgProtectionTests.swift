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

    /// The hgrc reader trims as Foundation's `trimmingCharacters(in:)` did before mcpbox stopped
    /// linking Foundation: every kind of blank and newline, at either end, and nothing inside.
    @Test func trimmingMatchesFoundation() {
        let blanks: [Character] = [" ", "\t", "\u{A0}", "\u{1680}", "\u{2003}", "\u{202F}", "\u{3000}", "\u{200B}", "\u{FEFF}"]
        let newlines: [Character] = ["\n", "\r", "\u{0B}", "\u{0C}", "\u{85}", "\u{2028}", "\u{2029}"]
        let others: [Character] = ["a", "/", "\"", "'", "`", "(", ")", "é", "e\u{301}", "\u{1F600}", "\u{301}"]
        let all = blanks + newlines + others
        var cases: [String] = ["", "   ", "a b", " \u{301}x"]
        for a in all { for b in all { cases += [String([a, b]), String([a, "x", b]), String([b, a, "y", "y", a])] } }
        for c in cases {
            #expect(c.trimmingScalars(where: HgText.isSpace) == c.trimmingCharacters(in: .whitespaces), "\(Array(c.unicodeScalars))")
            #expect(c.trimmingScalars(where: HgText.isSpaceOrNewline) == c.trimmingCharacters(in: .whitespacesAndNewlines), "\(Array(c.unicodeScalars))")
            #expect(c.trimmingScalars(where: HgText.isQuoteOrParen) == c.trimmingCharacters(in: CharacterSet(charactersIn: "\"'`()")), "\(Array(c.unicodeScalars))")
            #expect(Substring(c).trimmingScalars(where: HgText.isSpace) == c.trimmingCharacters(in: .whitespaces))
        }
    }

    @Test("a hook's interpreter script is a file even without a `/` (`sh hook.sh` runs hook.sh from the repository's root)")
    func interpreterScriptWithoutASlash() {
        #expect(HgProtection.commandPaths(section: "hooks", key: "pre-status", value: "sh hook.sh", repo: "/r", homes: []) == ["/r/hook.sh"])
        #expect(HgProtection.commandPaths(section: "hooks", key: "pre-status", value: "python3 -u tools/h.py", repo: "/r", homes: []) == ["/r/tools/h.py"])
        #expect(HgProtection.commandPaths(section: "hooks", key: "pre-status", value: "echo hi", repo: "/r", homes: []) == [])
    }
}
