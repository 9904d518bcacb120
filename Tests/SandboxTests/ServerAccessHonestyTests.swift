import Foundation
import MCPBoxTestSupport
import Testing

/// `explain` judged the command and the working directory as the caller (root) sees them, not
/// as the server's account does, and missed what a mask or the profile's own filter does to the
/// command: it promised a start that `run` then refused (125) or failed (126, 127). Found by an
/// explain-against-run fuzzer. Each case: `explain` now says what `run` does, and `run` does it.
/// Every test fails on the build before the change.
@Suite("explain judges the command and cwd as the server's account",
       .enabled(if: TestSupport.isRoot, "root-nobody mode and a test account: run as root (CI does)"))
struct ServerAccessHonestyTests {
    struct Outcome {
        var explain: ProcessResult
        var run: ProcessResult
    }

    /// `explain` and `run` of `profile` with `command`, as root or as `account`.
    static func both(_ profile: String, _ command: [String], as account: TestAccount? = nil) throws -> Outcome {
        let mcpbox = try TestSupport.mcpboxBinary()
        var prefix: [String] = []
        if let a = account {
            prefix = ["/usr/bin/setpriv", "--reuid", String(a.uid), "--regid", String(a.gid), "--clear-groups", "--"]
        }
        let env = ["PATH": "/usr/bin:/bin", "HOME": "/tmp"]
        let explain = try runProcess(prefix + [mcpbox, "explain", profile, "--profile-path", TestSupport.profilesDir, "--"] + command,
                                     environment: env, currentDirectory: "/", timeout: 60)
        let run = try runProcess(prefix + [mcpbox, "run", profile, "--profile-path", TestSupport.profilesDir, "--"] + command,
                                 environment: env, currentDirectory: "/", timeout: 60)
        return Outcome(explain: explain, run: run)
    }

    @Test("a cwd the server's account may not enter: explain refuses as run does")
    func cwdNotEnterable() throws {
        let tmp = try TempDir(prefix: "mcpbox-cwd-access")
        defer { tmp.remove() }
        let priv = try tmp.makeDir("tree/priv", mode: 0o700)
        chmod(tmp.path + "/tree", 0o755)
        let profile = try tmp.write("p.toml", "cwd = \(tomlString(priv))\n[filesystem]\nread_only = [\(tomlString(tmp.path + "/tree"))]\n")
        let o = try Self.both(profile, ["/bin/true"])
        #expect(o.run.status == 125, "run: \(o.run.status) \(o.run.stderr.suffix(1500))")
        #expect(o.explain.status == 125, "explain: \(o.explain.status) \(o.explain.stdoutText.suffix(1500)) \(o.explain.stderr.suffix(1500))")
        #expect(o.explain.stderr.contains("may not enter \(priv)"), "explain: \(o.explain.stderr.suffix(1500))")

        // Searchable by others: both start it.
        chmod(priv, 0o711)
        let ok = try Self.both(profile, ["/bin/true"])
        #expect(ok.explain.status == 0 && ok.run.status == 0, "explain \(ok.explain.status), run \(ok.run.status): \(ok.run.stderr.suffix(1500))")
    }

    @Test("a command the server's account may not execute: explain says FAILS, run exits 126")
    func commandNotExecutableByTheAccount() throws {
        let tmp = try TempDir(prefix: "mcpbox-exec-access")
        defer { tmp.remove() }
        let (bin, tool) = try Self.tool(in: tmp, mode: 0o744)  // root may run it, others only read it
        let profile = try tmp.write("p.toml", "[filesystem]\nread_only = [\(tomlString(bin))]\n")
        let o = try Self.both(profile, [tool])
        #expect(o.run.status == 126, "run: \(o.run.status) \(o.run.stderr.suffix(1500))")
        #expect(o.explain.status == 0 && o.explain.stdoutText.contains("FAILS: \(tool) is not executable by the server's account")
                && o.explain.stdoutText.contains("run would exit 126"), "explain: \(o.explain.stdoutText.suffix(2500))")

        // A directory on the way the account may not search.
        chmod(tool, 0o755)
        chmod(bin, 0o700)
        let dir = try Self.both(profile, [tool])
        #expect(dir.run.status == 126, "run: \(dir.run.status) \(dir.run.stderr.suffix(1500))")
        #expect(dir.explain.stdoutText.contains("may not search \(bin) on the way to \(tool)"), "explain: \(dir.explain.stdoutText.suffix(2500))")

        chmod(bin, 0o755)
        let ok = try Self.both(profile, [tool])
        #expect(ok.run.status == 0 && !ok.explain.stdoutText.contains("FAILS"), "run \(ok.run.status): \(ok.run.stderr.suffix(1500))")
    }

    @Test("a #! interpreter the server's account may not execute or reach: explain says FAILS (126), as run exits")
    func interpreterNotUsableByTheAccount() throws {
        let tmp = try TempDir(prefix: "mcpbox-interp-access")
        defer { tmp.remove() }
        let (bin, interp) = try Self.tool(in: tmp, mode: 0o700)
        let script = try tmp.write("bin/script", "#!\(interp)\n", mode: 0o755)
        let profile = try tmp.write("p.toml", "[filesystem]\nread_only = [\(tomlString(bin))]\n")
        let o = try Self.both(profile, [script])
        #expect(o.run.status == 126, "run: \(o.run.status) \(o.run.stderr.suffix(1500))")
        #expect(o.explain.stdoutText.contains("FAILS: \(script) needs the #! interpreter \(interp), which the server's account"),
                "explain: \(o.explain.stdoutText.suffix(2500))")

        // In a directory the account may not search.
        let priv = try tmp.makeDir("priv", mode: 0o700)
        let hidden = priv + "/sh"
        #expect(rename(interp, hidden) == 0)
        chmod(hidden, 0o755)
        _ = try tmp.write("bin/script", "#!\(hidden)\n", mode: 0o755)
        let p2 = try tmp.write("p2.toml", "[filesystem]\nread_only = [\(tomlString(bin)), \(tomlString(priv))]\naccept = [\(tomlString(priv))]\n")
        let d = try Self.both(p2, [script])
        #expect(d.run.status == 126, "run: \(d.run.status) \(d.run.stderr.suffix(1500))")
        #expect(d.explain.stdoutText.contains("needs the #! interpreter \(hidden), and the server's account (uid 65534) may not search \(priv)"),
                "explain: \(d.explain.stdoutText.suffix(2500))")
    }

    /// Found by a review: `..` in a symlink's target was removed as text, so the directory it
    /// leaves (which the kernel searches) was never judged; and the plan's memo keyed paths by
    /// `String`, which takes `café` in NFC and in NFD for one path.
    @Test("a symlink through a directory the account may not search (`priv/../bin`), and NFC/NFD names, are judged as exec judges them")
    func dotsAndNormalForms() throws {
        let tmp = try TempDir(prefix: "mcpbox-dots")
        defer { tmp.remove() }
        let (bin, tool) = try Self.tool(in: tmp, mode: 0o755)
        _ = try tmp.makeDir("priv", mode: 0o700)
        #expect(symlink("priv/../bin/tool", tmp.path + "/link") == 0)
        #expect(symlink("priv/../bin", tmp.path + "/link2") == 0)
        let profile = try tmp.write("p.toml", "[filesystem]\nread_only = [\(tomlString(tmp.path))]\n")
        let o = try Self.both(profile, [tmp.path + "/link"])
        #expect(o.run.status == 126, "run: \(o.run.status) \(o.run.stderr.suffix(1500))")
        #expect(o.explain.stdoutText.contains("may not search \(tmp.path)/priv on the way to \(tmp.path)/link"), "explain: \(o.explain.stdoutText.suffix(2500))")
        let cwd = try tmp.write("c.toml", "cwd = \(tomlString(tmp.path + "/link2"))\n[filesystem]\nread_only = [\(tomlString(tmp.path))]\n")
        let c = try Self.both(cwd, ["/bin/true"])
        #expect(c.run.status == 125 && c.explain.status == 125, "run \(c.run.status), explain \(c.explain.status): \(c.explain.stderr.suffix(1500))")
        _ = tool

        // `café` (NFC) names the interpreter `cafe\u{301}` (NFD), which does not exist.
        let nfc = bin + "/caf\u{E9}"
        _ = try tmp.write("bin/caf\u{E9}", "#!\(bin)/cafe\u{301}\n", mode: 0o755)
        let n = try Self.both(profile, [nfc])
        #expect(n.run.status == 127, "run: \(n.run.status) \(n.run.stderr.suffix(1500))")
        #expect(n.explain.stdoutText.contains("run would exit 127"), "explain: \(n.explain.stdoutText.suffix(2500))")
    }

    @Test("bind_command under a hide: explain says FAILS (127), as run exits")
    func boundCommandMaskedByAHide() throws {
        let tmp = try TempDir(prefix: "mcpbox-bind-hide")
        defer { tmp.remove() }
        let (bin, tool) = try Self.tool(in: tmp, mode: 0o755)
        let profile = try tmp.write("p.toml", "[filesystem]\nbind_command = true\nread_only = [\(tomlString(tmp.path))]\nhide = [\(tomlString(bin))]\n")
        let o = try Self.both(profile, [tool])
        #expect(o.run.status == 127, "run: \(o.run.status) \(o.run.stderr.suffix(1500))")
        #expect(o.explain.stdoutText.contains("FAILS: \(tool) is bound but not visible inside the sandbox")
                && o.explain.stdoutText.contains("run would exit 127"), "explain: \(o.explain.stdoutText.suffix(2500))")
    }

    @Test("seccomp.deny = [\"execve\"]: explain says FAILS (126), as run exits")
    func execveDenied() throws {
        let tmp = try TempDir(prefix: "mcpbox-deny-execve")
        defer { tmp.remove() }
        let profile = try tmp.write("p.toml", "extends = \"base\"\n[seccomp]\ndeny = [\"execve\"]\n")
        let o = try Self.both(profile, ["/bin/true"])
        #expect(o.run.status == 126, "run: \(o.run.status) \(o.run.stderr.suffix(1500))")
        #expect(o.explain.stdoutText.contains("FAILS: the seccomp policy refuses execve"), "explain: \(o.explain.stdoutText.suffix(2500))")
    }

    @Test("started by an ordinary user: a bind the user cannot read gets the access warning")
    func callerModeAccessWarning() throws {
        let account = try TestAccount.create(prefix: "mcpbox-acc")
        defer { account.delete() }
        let tmp = try TempDir(prefix: "mcpbox-caller-access")
        defer { tmp.remove() }
        let closed = try tmp.makeDir("closed", mode: 0o700)
        let profile = try tmp.write("p.toml", "extends = \"base\"\n[filesystem]\nread_only = [\(tomlString(closed))]\n")
        let o = try Self.both(profile, ["/bin/true"], as: account)
        #expect(o.explain.status == 0, "explain: \(o.explain.stderr.suffix(1500))")
        #expect(o.explain.stdoutText.contains("access: \(closed) is not readable by the server's account (uid \(account.uid))"),
                "explain: \(o.explain.stdoutText.suffix(3000))")
    }

    /// `TMP/bin/tool`, a copy of /bin/true with `mode`.
    static func tool(in tmp: TempDir, mode: mode_t) throws -> (bin: String, tool: String) {
        let bin = try tmp.makeDir("bin")
        let tool = bin + "/tool"
        let data = try #require(FileManager.default.contents(atPath: "/bin/true"))
        #expect(FileManager.default.createFile(atPath: tool, contents: data))
        chmod(tool, mode)
        return (bin, tool)
    }
}
