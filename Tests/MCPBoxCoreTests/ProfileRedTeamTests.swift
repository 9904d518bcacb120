import Foundation
import Testing
@testable import MCPBoxCore

/// What two red-team passes (explain against run, and the TOML parser against Python's
/// tomllib) found in profile loading and planning: values applied other than as written,
/// restrictions dropped without a word, keys TOML tells apart taken for one. Each failed
/// before its fix.
@Suite struct ProfileRedTeamTests {
    func errors(_ profile: String, base: String = "[filesystem]\nread_only = [\"/usr\"]\n") -> [Diagnostic] {
        let s = Scratch()
        s.write("base.toml", base)
        s.write("p.toml", profile)
        return Fixture.errors("p", dirs: [s.path])
    }

    func plan(_ profile: String, landlockABI: Int? = nil) throws -> SandboxPlan {
        let s = Scratch()
        s.write("base.toml", "[filesystem]\nread_only = [\"/usr\"]\n")
        s.write("p.toml", profile)
        var host = Fixture.host()
        if let landlockABI { host.landlockABI = landlockABI }
        return try Fixture.plan("p", dirs: [s.path], host: host).get()
    }

    func expectRefused(_ profile: String, key: String, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let errs = errors(profile)
        #expect(errs.contains { $0.key == key && $0.message.contains(fragment) && $0.line != nil }, "\(errs)", sourceLocation: sourceLocation)
    }

    /// Found running real servers: `mcpbox run git --set repo=/typo` said "git.toml:13:
    /// filesystem.read_write: path /typo does not exist (… mark it optional with a leading ?)":
    /// the shipped file blamed, and a fix that would have dropped the repository. Fails before.
    @Test("a missing path whose value the command line gave says where it came from and how to fix it there")
    func missingGivenPathNamesItsOrigin() {
        let s = Scratch()
        s.write("base.toml", "")
        s.write("p.toml", "[variables]\nrepo = { from_arg = [\"--repository\", \"-r\"] }\n[filesystem]\nread_write = [\"${repo}\"]\nread_only = [\"/nonexistent-mcpbox-test\"]\n")
        let set = Fixture.errors("p", dirs: [s.path], vars: ["repo": "/nonexistent-mcpbox-a"])
        #expect(set.contains { $0.message == "path /nonexistent-mcpbox-a does not exist (${repo} comes from --set repo=/nonexistent-mcpbox-a)"
                    && $0.hint == "create it, or pass an existing path: --set repo=PATH" }, "\(set)")
        let arg = Fixture.errors("p", dirs: [s.path], command: ["mcp-server-git", "--repository", "/nonexistent-mcpbox-b"])
        #expect(arg.contains { $0.message == "path /nonexistent-mcpbox-b does not exist (${repo} comes from the server's argument --repository or -r /nonexistent-mcpbox-b)"
                    && $0.hint == "create it, or give an existing path there" }, "\(arg)")
        // A path the profile wrote itself keeps the profile's fix.
        #expect(set.contains { $0.message == "path /nonexistent-mcpbox-test does not exist" && $0.hint?.contains("leading ?") == true }, "\(set)")
    }

    @Test("a value finer than the kernel's or the relay's resolution is refused, not rounded")
    func finerThanResolution() throws {
        // Before: accepted, and applied as 0.01 cores, 1000ms, 0ms (the server killed at once), 1ms.
        expectRefused("[limits]\ncpu = 0.01000000000001", key: "limits.cpu", "not a whole number of microseconds")
        expectRefused("[limits]\ncpu = 0.015000000001", key: "limits.cpu", "not a whole number of microseconds")
        expectRefused("[limits]\nwall_time = \"1.0000000001s\"", key: "limits.wall_time", "not a whole number of milliseconds")
        expectRefused("[limits]\nwall_time = \"0.0000000001ms\"", key: "limits.wall_time", "not a whole number of milliseconds")
        expectRefused("[limits]\nshutdown_grace = \"0.0005s\"", key: "limits.shutdown_grace", "not a whole number of milliseconds")
        expectRefused("[tools]\nconfirm = [\"*\"]\nconfirm_timeout = 1e-300", key: "tools.confirm_timeout", "not a whole number of milliseconds")
        expectRefused("[tools]\nconfirm = [\"*\"]\nconfirm_timeout = 0.0015", key: "tools.confirm_timeout", "not a whole number of milliseconds")
        // Past a Double's precision the digits written round to a value that passes: judged on
        // the digits (red-team pass, 2026-12-03; before: accepted as 0.01, 1 and 1 s).
        expectRefused("[limits]\ncpu = 0.010000000000000001", key: "limits.cpu", "use at most 5 decimals")
        expectRefused("[limits]\ncpu = 1.000000000000000000001", key: "limits.cpu", "use at most 5 decimals")
        expectRefused("[limits]\ncpu = 1_000.000_000_000_000_000_01e-3", key: "limits.cpu", "use at most 5 decimals")
        expectRefused("[tools]\nconfirm = [\"*\"]\nconfirm_timeout = 1.0000000000000000001", key: "tools.confirm_timeout", "not a whole number of milliseconds")
        #expect(Units.decimalPlaces("0.010") == 2 && Units.decimalPlaces("1.5e3") == 0 && Units.decimalPlaces("25e-4") == 4
                && Units.decimalPlaces("1_0.0_5") == 2 && Units.decimalPlaces("+inf") == nil && Units.decimalPlaces("12.5E+1") == 0)
        // Exact values still pass, however they are written.
        for ok in ["cpu = 0.01", "cpu = 0.12345", "cpu = 1.5", "cpu = 4096", "cpu = 1.2345e0", "cpu = 1234.5e-3", "cpu = 0.500000000", "wall_time = \"1.5s\"", "wall_time = \"0.007s\"",
                   "wall_time = \"1.500000s\"", "wall_time = \"0.1m\"", "shutdown_grace = \"250ms\"", "wall_time = \"0.001h\""] {
            #expect(errors("[limits]\n" + ok).isEmpty, "\(ok): \(errors("[limits]\n" + ok))")
        }
        let p = try plan("[limits]\nwall_time = \"0.007s\"\ncpu = 0.07\n[tools]\nconfirm = [\"*\"]\nconfirm_timeout = 0.5")
        #expect(p.limits.wallTimeSeconds == 0.007)
        #expect(Units.cpuQuota(0.07) == 7000)
        #expect(p.mcp?.policy.confirmTimeout == 0.5)
    }

    @Test("a memory limit the kernel would apply as no limit is refused")
    func memoryAboveTheKernelsLargest() throws {
        // Before: explain showed 16777215TiB while the cgroup held the kernel's maximum (no limit).
        expectRefused("[limits]\nmemory = \"16777215TiB\"", key: "limits.memory", "above the largest memory limit the kernel keeps")
        expectRefused("[limits]\nmemory = \"8388608TiB\"", key: "limits.memory", "above the largest memory limit the kernel keeps")
        expectRefused("[limits]\nmemory = \"9223372036854775808\"", key: "limits.memory", "above the largest memory limit the kernel keeps")
        // The largest itself is kept as written (and read back the same).
        #expect(errors("[limits]\nmemory = \"9223372036854771712\"").isEmpty)
        #expect(errors("[limits]\nmemory = \"8388607TiB\"").isEmpty)
    }

    @Test("a TCP port rule that would not be applied is refused: landlock off, or gVisor")
    func portRulesNotApplied() throws {
        // Before: a child's landlock.mode = "off" dropped the parent's tcp_connect without a word,
        // and under gVisor explain said "connect: only port 8080" while any port connected.
        let s = Scratch()
        s.write("base.toml", "[filesystem]\nread_only = [\"/usr\"]\n")
        s.write("parent.toml", "[network]\nmode = \"host\"\naccept = [\"host\"]\n[landlock]\ntcp_connect = [8080]\n")
        s.write("child.toml", "extends = [\"parent\"]\n[landlock]\nmode = \"off\"\n")
        let off = Fixture.errors("child", dirs: [s.path])
        #expect(off.contains { $0.key == "landlock.tcp_connect" && $0.message.contains("landlock.mode = \"off\"") && $0.file == s.path + "/parent.toml" }, "\(off)")
        s.write("bind.toml", "[landlock]\nmode = \"off\"\ntcp_bind = [8000]\n")
        #expect(Fixture.errors("bind", dirs: [s.path]).contains { $0.key == "landlock.tcp_bind" })
        s.write("g.toml", "extends = [\"parent\"]\n[isolation]\nruntime = \"gvisor\"\n")
        let g = Fixture.errors("g", dirs: [s.path])
        #expect(g.contains { $0.key == "landlock.tcp_connect" && $0.message.contains("gVisor") }, "\(g)")
    }

    @Test("under gVisor explain says Landlock is not applied, in text and JSON")
    func landlockUnderGVisor() throws {
        let p = try plan("[isolation]\nruntime = \"gvisor\"\n", landlockABI: 7)
        try #require(p.landlock.abi == 7)
        let text = Explain.text(p)
        #expect(text.contains("NOT APPLIED: the server runs in gVisor's kernel"), "\(text)")
        #expect(!text.contains("enforced (kernel Landlock ABI"))
        let json = ExplainJSON.render(p)
        #expect(json.contains("\"enforced\": false"), "\(json)")
        // The native runtime is unchanged.
        let native = try plan("[filesystem]\nread_only = [\"/usr\"]\n", landlockABI: 7)
        #expect(Explain.text(native).contains("enforced (kernel Landlock ABI"))
    }

    @Test("a NUL in any path or name of a profile is refused with file, line and key")
    func nulRefused() throws {
        // Before: the kernel cut each at the NUL: /etc/hostname bound for "/etc/hostname\0/x",
        // all of /etc/ssl hidden for "/etc/ssl\0zz", and `extends` loaded `other` for "other\0.toml".
        expectRefused("[filesystem]\nread_only = [\"/usr\", \"/etc/hostname\\u0000/x\"]", key: "filesystem.read_only", "NUL")
        expectRefused("[filesystem]\nread_only = [\"/etc\"]\nhide = [\"/etc/ssl\\u0000zz\"]", key: "filesystem.hide", "NUL")
        expectRefused("[audit]\nlog = \"/tmp/a\\u0000x\"", key: "audit.log", "NUL")
        expectRefused("[isolation]\nrunsc = \"/bin/true\\u0000x\"", key: "isolation.runsc", "NUL")
        let s = Scratch()
        s.write("base.toml", "[filesystem]\nread_only = [\"/usr\"]\n")
        s.write("other", "[filesystem]\nread_only = [\"/usr\"]\n")
        s.write("child.toml", "extends = [\"\(s.path)/other\\u0000.toml\"]\n")
        let e = Fixture.errors("child", dirs: [s.path])
        #expect(e.contains { $0.key == "extends" && $0.line == 1 && $0.message.contains("NUL") }, "\(e)")
    }

    @Test("keys are compared by their bytes, as TOML compares them")
    func keysByBytes() throws {
        // Before: "duplicate key" for é written precomposed and decomposed, and for K and the Kelvin sign.
        let nfc = try TOML.parse("\"\u{E9}\" = 1\n\"e\u{301}\" = 2\nK = 3\n\"\u{212A}\" = 4\n")
        #expect(nfc.entries.count == 4)
        #expect(nfc["e\u{301}"]?.value == TOMLValue(.integer(2), line: 2))
        #expect(nfc["\u{212A}"]?.value == TOMLValue(.integer(4), line: 4))
        #expect(nfc["K"]?.value == TOMLValue(.integer(3), line: 3))
        // A real duplicate is still one.
        #expect(throws: TOMLError.self) { try TOML.parse("\"\u{E9}\" = 1\n\"\u{E9}\" = 2\n") }
        #expect(throws: TOMLError.self) { try TOML.parse("[a.\"e\u{301}\"]\n[a.\"e\u{301}\"]\n") }
        let p = try plan("[env.set]\n\"A\" = \"1\"\n")
        #expect(p.environment.contains { $0.name == "A" && $0.value == "1" })
    }

    @Test("a read_write bind of a read-only host file system is stated: the server's writes fail")
    func readWriteOnReadOnlyMount() throws {
        // Before: explain said rw without a word, and run's writes failed with EROFS.
        guard geteuid() == 0 else { return }
        let s = Scratch()
        let mnt = s.mkdir("ro")
        let run = { (tool: String, args: [String]) throws in try Fixture.tool(tool, args) }
        try run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k,mode=755", "mcpbox-test-ro", mnt])
        defer { try? run("/bin/umount", ["-l", mnt]) }
        try run("/bin/mkdir", [mnt + "/sub"])
        try run("/bin/mount", ["-o", "remount,ro", mnt])
        let warned = try plan("[filesystem]\nread_only = [\"/usr\"]\nread_write = [\"\(mnt)/sub\"]\n")
        #expect(warned.warnings.contains { $0.contains("\(mnt)/sub lies on a file system mounted read-only on the host") && $0.contains("EROFS") }, "\(warned.warnings)")
        try run("/bin/mount", ["-o", "remount,rw", mnt])
        let quiet = try plan("[filesystem]\nread_only = [\"/usr\"]\nread_write = [\"\(mnt)/sub\"]\n")
        #expect(!quiet.warnings.contains { $0.contains("mounted read-only") }, "\(quiet.warnings)")
    }

    @Test("a home directory a bind hides is blamed on that bind, with file, line and key")
    func homeInsideABind() {
        // Before: only "cwd: the home directory /home/... is not a directory inside the sandbox",
        // naming a key the profile never set.
        let e = errors("[filesystem]\nread_only = [\"/\"]\n", base: "")
        #expect(e.contains { $0.key == "filesystem.read_only" && $0.line == 2 && $0.message.contains("lies inside /, bound from the host") }, "\(e)")
    }

    @Test("a profile name whose file is not a regular file says so")
    func nameNotARegularFile() throws {
        // Before: "profile `dir` not found" (with "did you mean") for an existing directory or FIFO.
        let s = Scratch()
        s.write("base.toml", "[filesystem]\nread_only = [\"/usr\"]\n")
        _ = s.mkdir("dir.toml")
        try #require(mkfifo(s.path + "/fifo.toml", 0o644) == 0)
        let dir = Fixture.errors("dir", dirs: [s.path])
        #expect(dir.contains { $0.message.contains("not found as a regular file (\(s.path)/dir.toml is a directory)") }, "\(dir)")
        let fifo = Fixture.errors("fifo", dirs: [s.path])
        #expect(fifo.contains { $0.message.contains("\(s.path)/fifo.toml is not a regular file") }, "\(fifo)")
    }

    @Test("a table made only on the way to a header's table may be given keys by dotted keys, once")
    func implicitTableByDottedKeys() throws {
        // Before: `[a.b.c]` then `[a]` `b.d = 1` was refused (Python's tomllib accepts it).
        let doc = try TOML.parse("[a.b.c]\n[a]\nb.d = 1\nb.e = 2\n[a.b.f]\n")
        guard case .table(let a)? = doc["a"]?.value.kind, case .table(let b)? = a["b"]?.value.kind else {
            Issue.record("\(doc)")
            return
        }
        #expect(b.keys == ["c", "d", "e", "f"])
        // As tomllib: defined by dotted keys now, so not again by a header; nor c, defined by one.
        #expect(throws: TOMLError.self) { try TOML.parse("[a.b.c]\n[a]\nb.d = 1\n[a.b]\n") }
        #expect(throws: TOMLError.self) { try TOML.parse("[a.b.c]\n[a]\nb.c.t = 1\n") }
        #expect(throws: TOMLError.self) { try TOML.parse("[[a.b]]\n[a]\nb.y = 2\n") }
    }

    @Test("allowing a system call every policy answers ENOSYS is an error, not a silent no-op")
    func neverAllowedSyscalls() {
        // Before: accepted, explain said "added (none)", and openat2 stayed ENOSYS.
        expectRefused("[seccomp]\nallow = [\"openat2\"]", key: "seccomp.allow", "\"openat2\" cannot be allowed")
        expectRefused("[seccomp]\nallow = [\"clone3\"]", key: "seccomp.allow", "\"clone3\" cannot be allowed")
        // Denying them stays possible (EPERM instead of ENOSYS).
        #expect(errors("[seccomp]\ndeny = [\"openat2\", \"clone3\"]").isEmpty)
    }

    @Test("a mount point the launch creates on the host, in a read-write bind, is stated")
    func mountPointCreatedOnTheHost() throws {
        // Before: explain listed the tmpfs only; the launch left /…/newdir on the host.
        let s = Scratch()
        let dir = s.mkdir("rw", mode: 0o777)
        let plan1 = try plan("[filesystem]\nread_only = [\"/usr\"]\nread_write = [\"\(dir)\"]\ntmpfs = [\"\(dir)/newdir/sub\"]\n")
        let said = plan1.warnings.filter { $0.contains("the launch creates it on the host") }
        #expect(said.count == 2 && said[0].contains("mount point \(dir)/newdir does not exist") && said[1].contains("\(dir)/newdir/sub does not exist"), "\(plan1.warnings)")
        _ = s.mkdir("rw/newdir", mode: 0o777)
        _ = s.mkdir("rw/newdir/sub", mode: 0o777)
        let plan2 = try plan("[filesystem]\nread_only = [\"/usr\"]\nread_write = [\"\(dir)\"]\ntmpfs = [\"\(dir)/newdir/sub\"]\n")
        #expect(!plan2.warnings.contains { $0.contains("the launch creates it on the host") }, "\(plan2.warnings)")
    }

    @Test("an env.set key in an error message reads back as the same key")
    func envSetKeyQuoted() {
        let e = errors("[env.set]\n\"\" = \"x\"\n\"A=B\" = \"y\"\n")
        #expect(e.contains { $0.key == "env.set.\"\"" }, "\(e)")
        #expect(e.contains { $0.key == "env.set.\"A=B\"" }, "\(e)")
    }
}
