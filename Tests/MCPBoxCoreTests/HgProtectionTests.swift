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
}
