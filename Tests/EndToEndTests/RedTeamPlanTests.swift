import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A red-team pass over the plan (the dry run never lies; a bad profile gets an error, never a
/// crash or a hang): each case failed on the build before its fix.
@Suite("red team: explain agrees with run; bad profiles are refused, not crashed on",
       .enabled(if: TestSupport.isRoot, "runs sandboxes: run as root (CI does)"))
struct RedTeamPlanTests {
    let tmp: TempDir
    let mcpbox: String

    init() throws {
        tmp = try TempDir(prefix: "mcpbox-redteam-plan")
        chmod(tmp.path, 0o755)
        mcpbox = try TestSupport.mcpboxBinary()
    }

    func profile(_ name: String, _ text: String) throws -> String {
        try tmp.write(name + ".toml", text)
    }

    func mcpboxRun(_ args: [String], timeout: Double = 60) throws -> ProcessResult {
        try runProcess([mcpbox] + args, environment: ["PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"], timeout: timeout)
    }

    @Test("sizes near 2^64 are explained exactly (no overflow trap), and one run cannot take is refused alike")
    func hugeSizes() throws {
        defer { tmp.remove() }
        for (key, value) in [("memory", "9223372036854771712"), ("tmpfs_size", "9223372036854771712"), ("memory", "1099511631872")] {
            let p = try profile("size", "extends = [\"base\"]\n[limits]\n\(key) = \"\(value)\"\n")
            for args in [["explain", p], ["explain", "--json", p], ["run", p, "--dry-run"], ["check", p]] {
                let r = try mcpboxRun(args + (args[0] == "check" ? [] : ["--", "/bin/true"]))
                #expect(r.status == 0, "\(args) \(key) = \(value): exit \(r.status) \(r.stderr.suffix(400))")
            }
            // Exactly the bytes applied, never a rounding ("1099511631872" is not 1.0TiB).
            let text = try mcpboxRun(["explain", p, "--", "/bin/true"]).stdoutText
            let shown = UInt64(value)! % 1024 == 0 ? "\(UInt64(value)! / 1024)KiB" : value
            #expect(text.contains(shown), "\(key): \(shown) not in the plan")
        }
        let p = try profile("page", "extends = [\"base\"]\n[limits]\ntmpfs_size = \"18446744073709551615\"\n")
        for args in [["check", p], ["explain", p, "--", "/bin/true"], ["run", p, "--", "/bin/true"]] {
            let r = try mcpboxRun(args)
            #expect(r.status == (args[0] == "check" ? 1 : 125) && (r.stderr + r.stdoutText).contains("not a whole number of 4096-byte pages"),
                    "\(args): exit \(r.status) \(r.stderr.suffix(400))")
        }
    }

    @Test("a list longer than 1024 entries (or extends naming more than 64 profiles) is refused at once, with file, line and key")
    func longLists() throws {
        defer { tmp.remove() }
        let cases = [
            ("extends = [" + Array(repeating: "\"base\"", count: 20_000).joined(separator: ",") + "]\n", "extends: 20000 entries"),
            ("extends = [" + Array(repeating: "\"base\"", count: 65).joined(separator: ",") + "]\n", "extends: 65 profiles"),
            ("extends = [\"base\"]\n[filesystem]\ntmpfs = [" + (0..<30_000).map { "\"/t\($0)\"" }.joined(separator: ",") + "]\n", ":3: filesystem.tmpfs: 30000 entries"),
            ("extends = [\"base\"]\n[network]\nmode = \"allow\"\nallow = [" + (0..<5000).map { "\"h\($0).example:443\"" }.joined(separator: ",") + "]\n", ":4: network.allow: 5000 entries"),
        ]
        let tables = [
            ("extends = [\"base\"]\n[network.hosts]\n" + (0..<2000).map { "\"h\($0).test\" = \"127.0.0.1\"\n" }.joined(), "network.hosts: 2000 entries"),
            ("extends = [\"base\"]\n[env.set]\n" + (0..<1100).map { "V\($0) = \"x\"\n" }.joined(), "env.set: 1100 entries"),
            ("extends = [\"base\"]\n[env]\nset = { BIG = \"" + String(repeating: "${HOME}", count: 30_000) + "\" }\n", "expands to more than 131072 bytes"),
        ]
        for (text, expected) in cases + tables {
            let p = try profile("long", text)
            let r = try mcpboxRun(["check", p], timeout: 20)
            #expect(!r.timedOut && r.seconds < 5 && r.status == 1 && r.stdoutText.contains(expected),
                    "\(expected): exit \(r.status) after \(r.seconds) s: \(r.stdoutText.prefix(300)) \(r.stderr.prefix(300))")
        }
    }

    @Test("the files of one profile and what it extends are read from at most 4 MiB in all")
    func totalSize() throws {
        defer { tmp.remove() }
        let filler = "# " + String(repeating: "x", count: 1000) + "\n"
        for i in 0..<5 {
            _ = try profile("part\(i)", "extends = [\(i == 0 ? "\"base\"" : "\"part\(i - 1)\"")]\n" + String(repeating: filler, count: 1000))
        }
        let r = try mcpboxRun(["check", "--profile-path", tmp.path, "part4"], timeout: 20)
        #expect(!r.timedOut && r.status == 1 && r.stdoutText.contains("larger than 4 MiB in all"), "exit \(r.status): \(r.stdoutText.prefix(400))")
    }

    @Test("hide of what mcpbox makes itself (its /proc, /dev, /tmp, /etc/hosts) is refused, not called invisible while the server sees it")
    func hideOwnMounts() throws {
        defer { tmp.remove() }
        for path in ["/proc/cpuinfo", "/dev/shm", "/etc/hosts", "/tmp", "/home"] {
            let p = try profile("hide", "extends = [\"base\"]\n[filesystem]\nhide = [\"\(path)\"]\n")
            let explain = try mcpboxRun(["explain", p, "--", "/bin/true"])
            let run = try mcpboxRun(["run", p, "--", "/bin/cat", path == "/tmp" || path == "/dev/shm" ? "/dev/null" : path])
            #expect(explain.status == 125 && explain.stderr.contains("which mcpbox makes itself"), "\(path): \(explain.stderr.suffix(300))")
            #expect(run.status == 125 && run.stderr.contains("which mcpbox makes itself"), "\(path): run exit \(run.status)")
            #expect(!explain.stdoutText.contains("invisible anyway") && !explain.stderr.contains("invisible anyway"))
        }
        // A path further inside a tmpfs of mcpbox's holds nothing at the start: still "invisible anyway".
        let inTmp = try tmp.write("in-tmp", "host file\n")
        let p = try profile("hide2", "extends = [\"base\"]\n[filesystem]\nhide = [\"\(inTmp)\", \"?/dev/kmsg\"]\n")
        let explain = try mcpboxRun(["explain", p, "--", "/bin/true"])
        #expect(explain.status == 0 && explain.stdoutText.contains("invisible anyway"), "\(explain.stderr.suffix(300))")
    }

    @Test("exec: a 6th nested #!, a relative #! interpreter, an empty #! line and a damaged ELF fail in explain exactly as in run")
    func execAgreement() throws {
        defer { tmp.remove() }
        let dir = try tmp.makeDir("x")
        chmod(dir, 0o755)
        var previous = "/bin/true"
        for i in 1...6 {
            _ = try tmp.write("x/s\(i)", "#!\(previous)\n", mode: 0o755)
            previous = dir + "/s\(i)"
        }
        _ = try tmp.write("x/rel", "#!bin/sh\necho hi\n", mode: 0o755)
        _ = try tmp.write("x/empty", "#!\n", mode: 0o755)
        _ = try tmp.write("x/badelf", "\u{7f}ELF garbage", mode: 0o755)
        _ = try tmp.write("x/ibadelf", "#!\(dir)/badelf\n", mode: 0o755)
        // Another machine's program and a relocatable object: ENOEXEC (126).
        var elf = try Data(contentsOf: URL(fileURLWithPath: "/usr/bin/true"))
        elf[18] = 0xb7
        elf[19] = 0
        try elf.write(to: URL(fileURLWithPath: dir + "/foreign"))
        elf = try Data(contentsOf: URL(fileURLWithPath: "/usr/bin/true"))
        elf[16] = 1
        try elf.write(to: URL(fileURLWithPath: dir + "/relocatable"))
        chmod(dir + "/foreign", 0o755)
        chmod(dir + "/relocatable", 0o755)
        // `..` after a symlink: the kernel resolves it from the link's target, not by text.
        _ = try tmp.makeDir("x/sub")
        try #require(symlink("/usr/bin", dir + "/sub/lnk") == 0)
        _ = try tmp.write("x/dotdot", "#!\(dir)/sub/lnk/../bin/sh\nexit 0\n", mode: 0o755)
        let p = try profile("exec", "extends = [\"base\"]\n[filesystem]\nread_only = [\"\(dir)\"]\n")
        for (name, status) in [("s5", 0), ("s6", 126), ("rel", 127), ("empty", 126), ("badelf", 126), ("ibadelf", 126),
                               ("foreign", 126), ("relocatable", 126), ("dotdot", 0)] {
            let explain = try mcpboxRun(["explain", "--json", p, "--", dir + "/" + name])
            let json = try JSONSerialization.jsonObject(with: explain.stdout) as? [String: Any]
            let problem = (json?["command"] as? [String: Any])?["exec_problem"] as? [String: Any]
            let run = try mcpboxRun(["run", p, "--", dir + "/" + name])
            #expect(run.status == Int32(status), "\(name): run exit \(run.status) \(run.stderr.suffix(300))")
            if status == 0 {
                #expect(problem == nil, "\(name): \(String(describing: problem))")
            } else {
                #expect(problem?["exit_status"] as? Int == status, "\(name): explain said \(String(describing: problem))")
            }
        }
    }

    @Test("bytes that are not UTF-8 in an argument, a passed variable or a variable a path expands are refused, never changed")
    func notUTF8() throws {
        defer { tmp.remove() }
        let bad = try tmp.makeDir("d") + "/\u{FFFD}"   // what a changed `\xff` would name
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        let pass = try profile("pass", "extends = [\"base\"]\n[env]\npass = [\"XV\"]\n")
        let set = try profile("set", "extends = [\"base\"]\n[filesystem]\nread_only = [\"${dir}\"]\n")
        let d = tmp.path + "/d"
        let cases: [(String, String)] = [
            ("exec \"$0\" run base -- /bin/sh -c 'printf %s \"$1\"' sh \"$(printf 'a\\377b')\"", "argument 8 is not valid UTF-8 (a\u{FFFD}b): mcpbox would pass it changed"),
            ("XV=\"$(printf 'a\\377b')\" exec \"$0\" run \(pass) -- /bin/sh -c 'printf %s \"$XV\"'", "the value of XV in mcpbox's environment is not valid UTF-8"),
            ("exec \"$0\" explain \(set) --set dir=\"\(d)/$(printf '\\377')\" -- /bin/true", "is not valid UTF-8"),
            ("dir=\"\(d)/$(printf '\\377')\" exec \"$0\" explain \(set) -- /bin/true", "comes from the environment, where its value is not valid UTF-8"),
        ]
        for (script, expected) in cases {
            let r = try runProcess(["/bin/sh", "-c", script, mcpbox], environment: ["PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"])
            #expect(r.status == 125 && r.stderr.contains(expected), "\(script): exit \(r.status) \(r.stdoutText.prefix(200)) \(r.stderr.suffix(300))")
            #expect(!r.stdoutText.contains("\u{FFFD}") && !r.stdoutText.contains(bad), "\(script): \(r.stdoutText.prefix(300))")
        }
        // The variables the profile search path is built from.
        for name in ["HOME", "MCPBOX_PROFILE_PATH", "XDG_CONFIG_HOME"] {
            let r = try runProcess(["/bin/sh", "-c", "\(name)=\"/tmp/h$(printf '\\377')h\" exec \"$0\" explain base -- /bin/true", mcpbox],
                                   environment: ["PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"])
            #expect(r.status == 125 && r.stderr.contains("\(name) is not valid UTF-8: mcpbox cannot name the profile directory"), "\(name): \(r.stderr.suffix(300))")
        }
        // An unrelated variable that is not UTF-8 changes nothing.
        let ok = try runProcess(["/bin/sh", "-c", "XV=\"$(printf 'a\\377b')\" exec \"$0\" run base -- /bin/true", mcpbox],
                                environment: ["PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"])
        #expect(ok.status == 0, "\(ok.stderr.suffix(300))")
    }

    @Test("runtime = \"gvisor\" with a runsc that is not gVisor's (it writes no log): run fails (125), never reports the server's status without a server")
    func fakeRunsc() throws {
        defer { tmp.remove() }
        let p = try profile("gv", "extends = [\"base\"]\n[isolation]\nruntime = \"gvisor\"\nrunsc = \"/bin/true\"\n")
        let r = try mcpboxRun(["run", p, "--", "/bin/sh", "-c", "echo hi; exit 3"])
        #expect(r.status == 125 && r.stderr.contains("without writing runsc's log: it is not gVisor's runsc"), "exit \(r.status): \(r.stderr.suffix(400))")
        #expect(!r.stdoutText.contains("hi"))
    }

    @Test("a host bind mount of the home inside a bound directory: its credentials are refused (the path checks cannot see them); hidden, the run works")
    func homeMountedInsideBind() throws {
        defer { tmp.remove() }
        let home = try tmp.makeDir("home")
        _ = try tmp.makeDir("home/.ssh", mode: 0o755)
        _ = try tmp.write("home/.ssh/id_rsa", "canary-key\n")
        let proj = try tmp.makeDir("proj")
        let m = try tmp.makeDir("proj/m")
        let mount = try runProcess(["/bin/mount", "--bind", home, m])
        try #require(mount.status == 0, "mount --bind: \(mount.stderr)")
        defer { _ = try? runProcess(["/bin/umount", m]) }
        let env = ["PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8"]
        let p = try profile("mnt", "extends = [\"base\"]\n[filesystem]\nread_only = [\"\(proj)\"]\n")
        let run = try runProcess([mcpbox, "run", p, "--", "/bin/cat", m + "/.ssh/id_rsa"], environment: env)
        #expect(run.status == 125 && run.stderr.contains("exposes the credentials \(m)/.ssh") && !run.stdoutText.contains("canary-key"),
                "exit \(run.status): \(run.stdoutText) \(run.stderr.suffix(400))")
        let explain = try runProcess([mcpbox, "explain", p, "--", "/bin/true"], environment: env)
        #expect(explain.status == 125 && explain.stderr.contains("the host mount at \(m) shows \(home)"), "\(explain.stderr.suffix(400))")
        let hidden = try profile("mnt2", "extends = [\"base\"]\n[filesystem]\nread_only = [\"\(proj)\"]\nhide = [\"\(m)/.ssh\"]\n")
        let ok = try runProcess([mcpbox, "run", hidden, "--", "/bin/sh", "-c", "cat \(m)/.ssh/id_rsa; exit 0"], environment: env)
        #expect(ok.status == 0 && !ok.stdoutText.contains("canary-key"), "exit \(ok.status): \(ok.stdoutText) \(ok.stderr.suffix(400))")
    }

    /// A second red-team pass: a mount point to create inside a read-write bind whose host
    /// directory the server's account may not write passed `explain` and failed `run` (EACCES).
    @Test("a mount point the launch would have to create in a read-write bind the server's account may not write: refused by explain as by run")
    func mountPointInUnwritableReadWriteBind() throws {
        defer { tmp.remove() }
        let rw = try tmp.makeDir("rw", mode: 0o755)
        let p = try profile("mp", "extends = [\"base\"]\n[filesystem]\nread_write = [\"\(rw)\"]\ntmpfs = [\"\(rw)/new\"]\n")
        let explain = try mcpboxRun(["explain", p, "--", "/bin/true"])
        #expect(explain.status == 125 && explain.stderr.contains("whose host directory the server's account may not write"), "exit \(explain.status): \(explain.stderr.suffix(500))")
        let run = try mcpboxRun(["run", p, "--", "/bin/true"])
        #expect(run.status == 125, "exit \(run.status): \(run.stderr.suffix(500))")
        #expect(!FileManager.default.fileExists(atPath: rw + "/new"))
        // Owned by the server's account without its write bit (0555): refused alike.
        #expect(chown(rw, 65534, 65534) == 0 && chmod(rw, 0o555) == 0)
        let owner = try mcpboxRun(["explain", p, "--", "/bin/true"])
        #expect(owner.status == 125, "exit \(owner.status): \(owner.stderr.suffix(300))")
        // Owned by the server's account (nobody here), writable: both work.
        #expect(chmod(rw, 0o755) == 0)
        let ok = try mcpboxRun(["run", p, "--", "/bin/true"])
        let okExplain = try mcpboxRun(["explain", p, "--", "/bin/true"])
        #expect(ok.status == 0 && okExplain.status == 0, "exit \(ok.status): \(ok.stderr.suffix(500))")
    }
}
