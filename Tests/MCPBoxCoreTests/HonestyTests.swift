import Foundation
import Testing
@testable import MCPBoxCore

/// The dry run tells the truth: what `explain` shows is what `run` enforces, and `explain`
/// refuses what `run` would refuse (issue 7, part 7).
@Suite struct HonestyTests {
    func profileDir(_ text: String) -> Scratch {
        let s = Scratch()
        s.write("base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        s.write("p.toml", text)
        return s
    }

    func host(_ limits: HostLimits) -> HostContext {
        var h = Fixture.host()
        h.limits = limits
        return h
    }

    @Test("a limit above the caller's hard limit is refused, not lowered")
    func limitsAboveTheHardLimit() throws {
        let ceiling = HostLimits(openFiles: 100, processes: 50, pageSize: 4096)
        let s = profileDir("[limits]\nopen_files = 101\nprocesses = 51\n")
        let errs = Fixture.errors("p", dirs: [s.path], host: host(ceiling))
        let files = try #require(errs.first { $0.key == "limits.open_files" }, "\(errs)")
        #expect(files.line == 2 && files.message.contains("above the hard limit mcpbox runs under (100 open files)"), "\(files)")
        #expect(files.hint?.contains("ulimit -Hn") == true)
        let procs = try #require(errs.first { $0.key == "limits.processes" }, "\(errs)")
        #expect(procs.line == 3 && procs.message.contains("(50 processes)"), "\(procs)")
        // At the ceiling is fine; the default follows a ceiling below it.
        let ok = profileDir("[limits]\nopen_files = 100\nprocesses = 50\n")
        let plan = try #require(Fixture.plan("p", dirs: [ok.path], host: host(ceiling)).plan)
        #expect(plan.limits.openFiles == 100 && plan.limits.processes == 50)
        let empty = profileDir("")
        let dflt = try #require(Fixture.plan("p", dirs: [empty.path], host: host(ceiling)).plan)
        #expect(dflt.limits.openFiles == 100)
        #expect(Explain.text(dflt).contains("open_files      100 (RLIMIT_NOFILE)"))
    }

    @Test("a memory limit where no memory cgroup is usable is refused by explain, as run would refuse it")
    func memoryWithoutCgroupRefused() throws {
        var h = Fixture.host()
        h.memoryCgroup = (false, "no cgroup memory controller is mounted at /sys/fs/cgroup/memory")
        let hard = profileDir("[limits]\nmemory = \"512MiB\"\n")
        let errs = Fixture.errors("p", dirs: [hard.path], host: h)
        let e = try #require(errs.first { $0.key == "limits.memory" }, "\(errs)")
        #expect(e.line == 2 && e.message.contains("cannot be applied here") && e.message.contains("no cgroup memory controller"), "\(e)")
        #expect(e.hint?.contains("?512MiB") == true)
        // The optional form is shown as not applied instead, never silently.
        let optional = profileDir("[limits]\nmemory = \"?512MiB\"\n")
        let plan = try #require(Fixture.plan("p", dirs: [optional.path], host: h).plan)
        #expect(plan.limits.memoryBytes == nil)
        #expect(Explain.text(plan).contains("not applied"))
    }

    @Test("processes counts pid 1, so it must leave room for the server")
    func processesCountsPid1() throws {
        let s = profileDir("[limits]\nprocesses = 1\n")
        let errs = Fixture.errors("p", dirs: [s.path])
        #expect(errs.contains { $0.key == "limits.processes" && $0.message.contains("at least 2") }, "\(errs)")
        let ok = profileDir("[limits]\nprocesses = 64\n")
        let plan = try #require(Fixture.plan("p", dirs: [ok.path]).plan)
        #expect(Explain.text(plan).contains("processes       64 (RLIMIT_NPROC: every task in the sandbox, threads and mcpbox's pid 1 included)"))
    }

    @Test("the /dev row shows the size its /dev/shm gets")
    func devShmSizeShown() throws {
        let s = profileDir("[limits]\ntmpfs_size = \"8MiB\"\n")
        let plan = try #require(Fixture.plan("p", dirs: [s.path]).plan)
        #expect(Explain.rows(plan).first { $0.mode == "dev" }?.sizeBytes == 8 << 20)
    }

    @Test("sizes the kernel would round to pages are refused")
    func pageRounding() throws {
        let ceiling = HostLimits(openFiles: nil, processes: nil, pageSize: 4096)
        let s = profileDir("[limits]\nmemory = 1000000\ntmpfs_size = \"1000\"\n")
        let errs = Fixture.errors("p", dirs: [s.path], host: host(ceiling))
        #expect(errs.contains { $0.key == "limits.memory" && $0.message.contains("round it down to 999424") }, "\(errs)")
        #expect(errs.contains { $0.key == "limits.tmpfs_size" && $0.message.contains("round it up to 4096") }, "\(errs)")
        let ok = profileDir("[limits]\nmemory = \"512MB\"\ntmpfs_size = \"64MiB\"\n")
        #expect(Fixture.plan("p", dirs: [ok.path], host: host(ceiling)).plan != nil)
    }

    @Test("network.mode = \"allow\" refuses a memory limit below its floor, optional or not; other modes do not")
    func egressMemoryFloor() throws {
        var h = Fixture.host()
        h.memoryCgroup = (true, "writable")
        let floor = PlanBuilder.egressMemoryFloor
        for memory in ["\"4KiB\"", "\"64KiB\"", "8192", "\"1MiB\"", "\"?64KiB\"", "\(floor - 4096)"] {
            let s = profileDir("[network]\nmode = \"allow\"\n[limits]\nmemory = \(memory)\n")
            let errs = Fixture.errors("p", dirs: [s.path], host: h)
            let e = try #require(errs.first { $0.key == "limits.memory" }, "\(memory): \(errs)")
            #expect(e.line == 4 && e.message.contains("is below 2MiB, the least a sandbox with network.mode = \"allow\" (p.toml: network.mode) may have")
                    && e.message.contains("network helper"), "\(memory): \(e)")
            #expect(e.hint == "set limits.memory to at least \"2MiB\"", "\(e)")
        }
        for memory in ["\"2MiB\"", "\"?2MiB\"", "\"1GiB\""] {
            let s = profileDir("[network]\nmode = \"allow\"\n[limits]\nmemory = \(memory)\n")
            #expect(Fixture.plan("p", dirs: [s.path], host: h).plan != nil, "\(memory): \(Fixture.errors("p", dirs: [s.path], host: h))")
        }
        // Only mcpbox's egress helper needs the floor.
        let none = profileDir("[limits]\nmemory = \"64KiB\"\n")
        #expect(Fixture.plan("p", dirs: [none.path], host: h).plan?.limits.memoryBytes == 64 << 10)
    }

    @Test("a bind of a character or block device is refused, whatever accepts it; a directory holding one is not")
    func deviceBindsRefused() throws {
        let s = profileDir("")
        let link = s.path + "/zero-link"
        #expect(symlink("/dev/zero", link) == 0)
        for (key, path, extra) in [("read_only", "/dev/null", "accept = [\"/dev/null\"]\n"), ("read_write", "/dev/null", ""),
                                   ("read_only", link, "")] {
            s.write("p.toml", "[filesystem]\n\(key) = [\"\(path)\"]\n" + extra)
            let errs = Fixture.errors("p", dirs: [s.path])
            let e = try #require(errs.first { $0.key == "filesystem.\(key)" }, "\(key) \(path): \(errs)")
            #expect(e.line == 2 && e.message.contains("refused: \(path)") && e.message.contains("is a character device: binds are mounted nodev"), "\(e)")
            #expect(e.hint?.contains("null, zero, full, random, urandom") == true, "\(e)")
        }
        s.mkdir("devs")
        #expect(mknod(s.path + "/devs/null", S_IFCHR | 0o666, 0x103 /* makedev(1, 3): null */) == 0 || geteuid() != 0)
        s.write("p.toml", "[filesystem]\nread_only = [\"\(s.path)/devs\"]\n")
        #expect(Fixture.plan("p", dirs: [s.path]).plan != nil, "\(Fixture.errors("p", dirs: [s.path]))")
    }

    @Test("the personality note names what happens to other values under each default action")
    func personalityNote() {
        func note(_ action: SeccompPolicy.DefaultAction) -> String? {
            Seccomp.summary(SeccompPolicy(preset: .default, allow: [], deny: [], defaultAction: action))
                .notes.first { $0.hasPrefix("personality:") }
        }
        #expect(note(.log) == "personality: PER_LINUX, PER_LINUX32, UNAME26 and the query allowed; other values allowed and logged (default_action = \"log\")")
        #expect(note(.errno)?.hasSuffix("other values refused (EPERM)") == true)
        #expect(note(.kill)?.hasSuffix("other values: process killed") == true)
    }

    @Test("control characters in paths are escaped in explain's text; JSON stays valid")
    func controlCharactersEscaped() throws {
        let s = profileDir("")
        let evil = s.mkdir("a\nWARNINGS\n  (none)\u{1b}[2J\u{202e}x")
        s.write("p.toml", "[filesystem]\nread_only = [\(tomlString(evil))]\n")
        let plan = try #require(Fixture.plan("p", dirs: [s.path]).plan)
        let text = Explain.text(plan)
        #expect(!text.unicodeScalars.contains { $0 == "\u{1b}" || $0 == "\u{202e}" })
        #expect(text.contains("a\\nWARNINGS\\n  (none)\\x1b[2J\\u{202e}x"), "\(text)")
        #expect(text.components(separatedBy: "\nWARNINGS\n").count == 2)
        let json = ExplainJSON.render(plan)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let fs = try #require(object["filesystem"] as? [String: Any])
        let mounts = try #require(fs["mounts"] as? [[String: Any]])
        #expect(mounts.contains { $0["path"] as? String == evil }, "\(json)")
        #expect(Explain.visible(Explain.visible("\t\u{7f}\u{85}")) == "\\t\\x7f\\x85")
    }

    /// A 64-bit little-endian ELF header followed by `phnum` program headers (one PT_INTERP
    /// pointing at `interp` when given), with fields a hostile file might lie about.
    func elf(phnum: UInt16 = 1, phentsize: UInt16 = 56, phoff: UInt64 = 64, interp: [UInt8]? = Array("/lib/ld.so\0".utf8),
             interpLength: UInt64? = nil) -> [UInt8] {
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        var h: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8)
        h += le(UInt16(2)) + le(UInt16(62)) + le(UInt32(1)) + le(UInt64(0)) + le(phoff) + le(UInt64(0))
        h += le(UInt32(0)) + le(UInt16(64)) + le(phentsize) + le(phnum) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0))
        let dataOffset = UInt64(64 + 56)
        var ph = le(UInt32(interp == nil ? 1 : 3)) + le(UInt32(4)) + le(dataOffset) + le(UInt64(0)) + le(UInt64(0))
        ph += le(interpLength ?? UInt64(interp?.count ?? 0)) + le(UInt64(0)) + le(UInt64(1))
        return h + ph + (interp ?? [])
    }

    @Test("the executable's interpreters are read with hard limits; lies in the file are ignored, never trusted")
    func elfAndShebangParsing() throws {
        let s = Scratch()
        func interp(_ bytes: [UInt8]) -> String? {
            let f = s.write("f", "")
            FileManager.default.createFile(atPath: f, contents: Data(bytes))
            return ExecCheck.interpreter(ofHostFile: f)?.0
        }
        #expect(interp(elf()) == "/lib/ld.so")
        #expect(interp(elf(interp: nil)) == nil)                          // static: no PT_INTERP
        #expect(interp(elf(phnum: 0xFFFF)) == nil)                        // table beyond the file / the cap
        #expect(interp(elf(phentsize: 57)) == nil)
        #expect(interp(elf(phoff: UInt64.max - 10)) == nil)
        #expect(interp(elf(interpLength: 1 << 40)) == nil)                // interpreter string beyond the file
        #expect(interp(elf(interp: Array("/lib/ld.so".utf8))) == nil)     // not NUL-terminated
        #expect(interp(Array(elf().prefix(30))) == nil)                   // truncated header
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var bytes = elf()
            for _ in 0..<8 { bytes[Int.random(in: 16..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            _ = interp(bytes)
        }
        #expect(interp(Array("#!  /usr/bin/env python3 -u\nprint(1)\n".utf8)) == "/usr/bin/env")
        #expect(interp(Array("#!/bin/sh".utf8)) == "/bin/sh")
        #expect(interp(Array("#!\n".utf8)) == nil)
        #expect(ExecCheck.interpreter(ofHostFile: "/bin/true")?.0 == "/lib64/ld-linux-x86-64.so.2")
    }

    @Test("explain names an interpreter the sandbox cannot see, and a file without execute permission")
    func execProblems() throws {
        let s = Scratch()
        let bin = s.mkdir("bin")
        let script = s.write("bin/script", "#!/opt/nothere/python3\n", mode: 0o755)
        let plain = s.write("bin/plain", "#!/bin/sh\n", mode: 0o644)
        let ok = s.write("bin/ok", "#!/bin/sh\n", mode: 0o755)
        let dir = profileDir("[filesystem]\nread_only = [\"\(bin)\"]\n")
        var plan = try #require(Fixture.plan("p", dirs: [dir.path], command: [script]).plan)
        #expect(plan.execProblem?.exitStatus == 127)
        #expect(plan.execProblem?.message == "\(script) needs the #! interpreter /opt/nothere/python3, which is not visible inside the sandbox")
        #expect(plan.execProblem?.hint.contains("\"/opt/nothere\" to filesystem.read_only") == true)
        #expect(Explain.text(plan).contains("exec            FAILS: \(script) needs the #! interpreter /opt/nothere/python3"))
        // A script whose interpreter is a virtualenv's python: the hint names the virtualenv, not its
        // bin/ (found running real servers; fails before the fix).
        let venv = s.mkdir("venv")
        s.mkdir("venv/bin")
        s.write("venv/pyvenv.cfg", "home = /usr/bin\n")
        let venvScript = s.write("bin/venv-script", "#!\(venv)/bin/python\n", mode: 0o755)
        plan = try #require(Fixture.plan("p", dirs: [dir.path], command: [venvScript]).plan)
        #expect(plan.execProblem?.hint.contains("\"\(venv)\" to filesystem.read_only") == true, "\(plan.execProblem?.hint ?? "")")
        plan = try #require(Fixture.plan("p", dirs: [dir.path], command: [plain]).plan)
        #expect(plan.execProblem?.exitStatus == 126)
        plan = try #require(Fixture.plan("p", dirs: [dir.path], command: [ok]).plan)
        #expect(plan.execProblem == nil)
        plan = try #require(Fixture.plan("p", dirs: [dir.path], command: ["sh"]).plan)
        #expect(plan.execProblem == nil, "/usr/bin/sh and its ELF interpreter are visible through base")
    }

    func tomlString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if u.value < 0x20 || u.value == 0x7f {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
