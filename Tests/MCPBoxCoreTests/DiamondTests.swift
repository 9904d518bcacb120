import Foundation
import Testing
@testable import MCPBoxCore

/// `a` extends `["./b.toml", "./c.toml"]` and `b` extends `c`: `c` is merged once, before `b`
/// (so `b`'s settings win, as `b` refines `c`), whatever `a`'s list order suggests. That was
/// silent: a reader of `a` expects `c`, listed last, to win. Now the plan says so. Found by a
/// red-team pass (the network mode came out `host` where `c` set `none`); fails before the fix.
@Suite("extends: a diamond is merged once, and the plan says where")
struct DiamondTests {
    @Test func diamondOrderIsStated() throws {
        let s = Scratch()
        s.write("p/base.toml", "")
        s.write("p/c.toml", "[network]\nmode = \"none\"\n")
        s.write("p/b.toml", "extends = [\"./c.toml\"]\n[env]\nset = { FROM = \"b\" }\n")
        s.write("p/a.toml", "extends = [\"./b.toml\", \"./c.toml\"]\n")
        let plan = try #require(Fixture.plan(s.path + "/p/a.toml", dirs: [s.path + "/p"]).plan)
        #expect(plan.profileFiles.map(Paths.basename) == ["base.toml", "c.toml", "b.toml", "a.toml"])
        #expect(plan.warnings.contains { $0.contains("`./c.toml` is listed after `./b.toml`") && $0.contains("a.toml:1") }, "\(plan.warnings)")
        // Without the diamond, no warning.
        s.write("p/x.toml", "")
        s.write("p/a2.toml", "extends = [\"./x.toml\", \"./c.toml\"]\n")
        let plain = try #require(Fixture.plan(s.path + "/p/a2.toml", dirs: [s.path + "/p"]).plan)
        #expect(!plain.warnings.contains { $0.contains("is listed after") }, "\(plain.warnings)")
    }

    /// The review's case: `b` lists `["x", "c"]` and `x` extends `c`, and the top profile reaches
    /// `c` first (`extends = ["c", "b"]`): `c` was already loaded when `b`'s list was read, so the
    /// warning was skipped, while `b`'s list order (c last) still loses to `x`. Fails before the fix.
    @Test func diamondBelowAnEarlierLoad() throws {
        let s = Scratch()
        s.write("p/base.toml", "")
        s.write("p/c.toml", "[limits]\nprocesses = 11\n")
        s.write("p/x.toml", "extends = [\"./c.toml\"]\n[limits]\nprocesses = 22\n")
        s.write("p/b.toml", "extends = [\"./x.toml\", \"./c.toml\"]\n")
        s.write("p/top.toml", "extends = [\"./c.toml\", \"./b.toml\"]\n")
        let plan = try #require(Fixture.plan(s.path + "/p/top.toml", dirs: [s.path + "/p"]).plan)
        #expect(plan.warnings.contains { $0.contains("`./c.toml` is listed after `./x.toml`") && $0.contains("b.toml:1") }, "\(plan.warnings)")
    }
}

/// `[env] pass = ["GITHUB_TOKEN"]` is warned about (and fails `check --strict`), but
/// `set = { GH = "${GITHUB_TOKEN}" }` gave the server the same token without a word. Found by a
/// red-team pass; fails before the fix.
@Suite("env.set copying a secret-looking variable is warned about like env.pass")
struct EnvSetSecretTests {
    @Test func copiedSecretIsWarned() throws {
        let s = Scratch()
        s.write("p/base.toml", "")
        s.write("p/a.toml", "[env]\nset = { GH = \"${GITHUB_TOKEN}\", TZ = \"UTC\", HOME_COPY = \"${HOME}\" }\n")
        let plan = try #require(Fixture.plan(s.path + "/p/a.toml", dirs: [s.path + "/p"], env: ["GITHUB_TOKEN": "hunter2"]).plan)
        #expect(plan.warnings.contains { $0.contains("`GH` is set from `${GITHUB_TOKEN}`, which looks like a secret") }, "\(plan.warnings)")
        #expect(plan.warnings.filter { $0.contains("env.set") }.count == 1, "\(plan.warnings)")
        // Acknowledged by env.accept naming either the variable set or the one copied.
        s.write("p/b.toml", "[env]\nset = { GH = \"${GITHUB_TOKEN}\" }\naccept = [\"GH\"]\n")
        let accepted = try #require(Fixture.plan(s.path + "/p/b.toml", dirs: [s.path + "/p"], env: ["GITHUB_TOKEN": "hunter2"]).plan)
        #expect(!accepted.warnings.contains { $0.contains("env.set") }, "\(accepted.warnings)")
    }
}
