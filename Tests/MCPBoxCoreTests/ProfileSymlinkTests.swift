import Foundation
import Testing
@testable import MCPBoxCore

/// A profile named through a symlink was checked only at its target: whoever could replace the
/// link (in a world-writable directory, an attacker's own link in /tmp, or the server itself in
/// the profile's read_write grant) swapped the profile for another file the checks accept, such
/// as one with `mode = "host"`. Found by a red-team pass; fails before the fix.
@Suite("Profiles reached through symlinks")
struct ProfileSymlinkTests {
    static let strict = "extends = [\"base\"]\n[network]\nmode = \"none\"\n"

    func setUp() -> Scratch {
        let s = Scratch()
        s.write("safe/base.toml", "")
        s.write("safe/strict.toml", Self.strict)
        return s
    }

    func link(_ target: String, at path: String) {
        try? FileManager.default.removeItem(atPath: path)
        #expect(symlink(target, path) == 0)
    }

    @Test("a link in a directory others may write is refused, naming the link")
    func worldWritableDirectory() throws {
        let s = setUp()
        let ww = s.mkdir("ww", mode: 0o777)
        link(s.path + "/safe/strict.toml", at: ww + "/prof.toml")
        let errors = Fixture.errors(ww + "/prof.toml", dirs: [s.path + "/safe"])
        #expect(errors.contains { $0.message.contains("symbolic link \(ww)/prof.toml") && $0.message.contains("writable by group or others") }, "\(errors)")
        // By its real path it loads.
        #expect(Fixture.errors(s.path + "/safe/strict.toml", dirs: [s.path + "/safe"]).isEmpty)
    }

    @Test("a link owned by someone else, even in a sticky directory, is refused")
    func foreignLinkInStickyDirectory() throws {
        let s = setUp()
        let sticky = s.mkdir("sticky", mode: 0o1777)
        link(s.path + "/safe/strict.toml", at: sticky + "/planted.toml")
        try #require(lchown(sticky + "/planted.toml", 4242, 4242) == 0, "needs root")
        let errors = Fixture.errors(sticky + "/planted.toml", dirs: [s.path + "/safe"])
        #expect(errors.contains { $0.message.contains("symbolic link \(sticky)/planted.toml, owned by uid 4242") }, "\(errors)")
    }

    @Test("a link in a directory the profile grants read-write is refused by the plan")
    func linkInsideOwnReadWriteGrant() throws {
        let s = setUp()
        let work = s.mkdir("rw/work")
        s.write("safe/strict.toml", Self.strict + "[filesystem]\nread_write = [\"\(work)\"]\n")
        link(s.path + "/safe/strict.toml", at: work + "/p.toml")
        let errors = Fixture.errors(work + "/p.toml", dirs: [s.path + "/safe"])
        #expect(errors.contains { $0.message.contains("reached through the symbolic link \(work)/p.toml") && $0.message.contains("may write") }, "\(errors)")
        // A directory symlink on the way counts too.
        link(s.path + "/safe", at: work + "/profs")
        let viaDir = Fixture.errors(work + "/profs/strict.toml", dirs: [s.path + "/safe"])
        #expect(viaDir.contains { $0.message.contains("symbolic link \(work)/profs") }, "\(viaDir)")
    }

    @Test("a link in an ordinary directory of the caller's is followed as before")
    func ordinaryLinkLoads() throws {
        let s = setUp()
        let mine = s.mkdir("mine")
        link("../safe/strict.toml", at: mine + "/p.toml")
        #expect(Fixture.errors(mine + "/p.toml", dirs: [s.path + "/safe"]).isEmpty)
        let links = HostFS.symlinks(on: mine + "/p.toml")
        #expect(links?.map(\.link) == [mine + "/p.toml"])
    }

    /// 800 files deep overflowed the stack (SIGSEGV, exit 139).
    @Test("an extends chain deeper than the limit is an error, not a crash")
    func deepChain() throws {
        let s = setUp()
        let n = ProfileLoader.maxExtendsDepth + 20
        for i in 0..<n { s.write("deep/c\(i).toml", i == n - 1 ? "" : "extends = [\"./c\(i + 1).toml\"]\n") }
        let errors = Fixture.errors(s.path + "/deep/c0.toml", dirs: [s.path + "/safe"])
        #expect(errors.contains { $0.message.contains("nests more than \(ProfileLoader.maxExtendsDepth) profiles deep") }, "\(errors.prefix(3))")
    }
}

/// Review findings on the fixes above; each fails before its fix.
@Suite("Profiles: relative search directories, canonical equivalence, secrets in the command")
struct ProfileReviewTests {
    @Test("a relative --profile-path is walked as named: a link in a world-writable directory is refused")
    func relativeSearchDirectory() throws {
        let s = Scratch()
        s.write("safe/base.toml", "")
        s.write("safe/strict.toml", "[network]\nmode = \"none\"\n")
        let ww = s.mkdir("ww", mode: 0o777)
        #expect(symlink(s.path + "/safe/strict.toml", ww + "/prof.toml") == 0)
        // The scratch directory as a path relative to the test process's working directory.
        let cwd = FileManager.default.currentDirectoryPath
        let up = String(repeating: "../", count: Paths.components(cwd).count)
        let relative = up + String(ww.dropFirst())
        let loader = Fixture.loader([relative, s.path + "/safe"])
        #expect(loader.locateNamed("prof", relativeTo: nil)?.named.isAbsolutePath == true)
        do {
            _ = try loader.load("prof")
            Issue.record("loaded through a link in a world-writable directory")
        } catch {
            #expect(error.diagnostics.contains { $0.message.contains("writable by group or others") }, "\(error.diagnostics)")
        }
    }

    @Test("two hides only canonically equivalent are two hides")
    func equivalentHidesBothKept() throws {
        let s = Scratch()
        s.write("p/base.toml", "")
        s.write("tree/caf\u{E9}/secret", "s1")
        s.write("tree/cafe\u{301}/secret", "s2")
        let t = s.path + "/tree"
        s.write("p/a.toml", "[filesystem]\nread_only = [\"\(t)\"]\nhide = [\"\(t)/caf\u{E9}\", \"\(t)/cafe\u{301}\"]\n")
        let plan = try #require(Fixture.plan(s.path + "/p/a.toml", dirs: [s.path + "/p"]).plan)
        let hidden = plan.mounts.filter(\.isHide).map { Array($0.target.utf8) }
        #expect(hidden.contains(Array((t + "/caf\u{E9}").utf8)) && hidden.contains(Array((t + "/cafe\u{301}").utf8)), "\(plan.mounts.map(\.target))")
    }

    @Test("a secret-looking variable expanded into the command is warned about")
    func secretInCommand() throws {
        let s = Scratch()
        s.write("p/base.toml", "")
        s.write("p/a.toml", "command = [\"/bin/echo\", \"--token=${GITHUB_TOKEN}\", \"${HOME}\"]\n")
        let plan = try #require(Fixture.plan(s.path + "/p/a.toml", dirs: [s.path + "/p"], env: ["GITHUB_TOKEN": "ghp_x"]).plan)
        #expect(plan.warnings.contains { $0.contains("command: expands `${GITHUB_TOKEN}`") && $0.contains("/proc/PID/cmdline") }, "\(plan.warnings)")
        #expect(plan.warnings.filter { $0.contains("looks like a secret") }.count == 1, "\(plan.warnings)")
    }
}
