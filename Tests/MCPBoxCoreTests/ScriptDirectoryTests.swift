import Foundation
import Testing
@testable import MCPBoxCore

/// A script host git or hg runs from inside a read-write bind was bound read-only by itself,
/// but a script runs with what lies beside it: Python imports its own directory's modules
/// first (a planted `json.py` ran when host git ran a protected `fsmonitor.py`), hg loads an
/// extension's `__pycache__` (a planted `.pyc` ran), a shell script sources its neighbours
/// (red-team pass, 2026-12-02; each fails before the change). Its directory is now bound
/// read-only, and one at the top of the bind refused unless acknowledged.
@Suite(.serialized, .enabled(if: geteuid() == 0, "launches sandboxes as root (CI does)"))
struct ScriptDirectoryTests {
    let shipped = ["--profile-path", Fixture.shippedProfiles]

    @Test("git: a script the configuration runs is bound read-only with its directory; one at the top of the bind is refused")
    func gitScriptDirectory() throws {
        let s = Scratch()
        let home = s.mkdir("home")
        let repo = s.mkdir("repo")
        try Fixture.tool("/usr/bin/git", ["init", "-q", repo])
        s.write("repo/tools/fsmon.py", "import json\n")
        // (`git config -f`: after the chown below, git refuses to work in a repository root does not own.)
        try Fixture.tool("/usr/bin/git", ["config", "-f", repo + "/.git/config", "core.fsmonitor", "python3 tools/fsmon.py"])
        for dir in [repo, repo + "/tools"] { chown(dir, 65534, 65534) }
        let profiles = Scratch()
        let file = profiles.write("p.toml", "[filesystem]\nread_write = [\(HonestyCLITests.tomlQuoted(repo))]\n")
        let env = ["HOME": home]
        let explain = try CLI.run(["explain", file] + shipped + ["--", "/bin/true"], env: env)
        #expect(explain.status == 0 && explain.stdout.contains("\(repo)/tools ") && explain.stdout.contains("mcpbox: git protection (core.fsmonitor)"),
                "\(explain.stdout) \(explain.stderr)")
        let run = try CLI.run(["run", file] + shipped + ["--", "/bin/sh", "-c",
                               "echo 'open(\"/tmp/planted\",\"w\")' > \(repo)/tools/json.py; echo ok > \(repo)/work.txt; true"], env: env)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: repo + "/tools/json.py"), "the server planted a module beside the script host git runs")
        #expect(FileManager.default.fileExists(atPath: repo + "/work.txt"), "the rest of the repository stays writable")

        // At the top of the worktree: its directory is the bind itself. Refused; acknowledged, the file alone.
        s.write("repo/fsmon.sh", "#!/bin/sh\n")
        try Fixture.tool("/usr/bin/git", ["config", "-f", repo + "/.git/config", "core.fsmonitor", "./fsmon.sh"])
        for command in ["explain", "run"] {
            let r = try CLI.run([command, file] + shipped + ["--", "/bin/true"], env: env)
            #expect(r.status == 125 && r.stderr.contains("runs \(repo)/fsmon.sh, which lies at the top of \(repo)"), "\(command): \(r.status) \(r.stderr)")
        }
        let accepted = profiles.write("a.toml", "[filesystem]\nread_write = [\(HonestyCLITests.tomlQuoted(repo))]\naccept = [\(HonestyCLITests.tomlQuoted(repo))]\n")
        let ok = try CLI.run(["explain", accepted] + shipped + ["--", "/bin/true"], env: env)
        #expect(ok.status == 0 && ok.stdout.contains("\(repo)/fsmon.sh"), "\(ok.stdout) \(ok.stderr)")
    }

    @Test("hg: an extension the global configuration loads from a bind is bound read-only with its directory, __pycache__ included")
    func hgExtensionDirectory() throws {
        let h = HomeWithBind(serverWrites: true)
        let (s, work, file) = (h.s, h.work, h.file)
        s.write("home/work/lib/ext.py", "\n")
        s.write("home/.hgrc", "[extensions]\nx = ~/work/lib/ext.py\n")
        chown(work + "/lib", 65534, 65534)
        let env = ["HOME": h.home]
        let run = try CLI.run(["run", file] + shipped + ["--", "/bin/sh", "-c",
                               "mkdir \(work)/lib/__pycache__; echo x > \(work)/lib/planted.py; echo ok > \(work)/w.txt; true"], env: env)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work + "/lib/__pycache__") && !FileManager.default.fileExists(atPath: work + "/lib/planted.py"),
                "the server wrote beside the extension host hg loads")
        #expect(FileManager.default.fileExists(atPath: work + "/w.txt"))
        // At the top of the bind: refused.
        s.write("home/work/ext2.py", "\n")
        s.write("home/.hgrc", "[extensions]\nx = ~/work/ext2.py\n")
        let r = try CLI.run(["explain", file] + shipped + ["--", "/bin/true"], env: env)
        #expect(r.status == 125 && r.stderr.contains("\(work)/ext2.py, which Mercurial configuration names (extensions.x), lies at the top of the read-write bind"),
                "\(r.status) \(r.stderr)")
    }
}
