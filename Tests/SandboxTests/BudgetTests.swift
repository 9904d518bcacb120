import Foundation
import Glibc
import MCPBoxTestSupport
import Testing

/// Host-wide budgets stay outside the sandbox's reach: a hostile server (Fixtures/budget) takes
/// what it can, bounded, and holds it while the test looks at the host side.
@Suite("Host-wide budgets", .serialized, .enabled(if: TestSupport.isRoot, "creates throwaway accounts and cgroups: run as root"))
struct BudgetTests {
    /// A running `mcpbox run PROFILE -- python3 budget.py ARGS`, with its first report line.
    struct Held {
        let run: RelayRun
        let report: String

        /// Closes stdin and returns mcpbox's status.
        @discardableResult
        func end() -> Int32 {
            endWithStderr().status
        }

        /// Closes stdin and returns mcpbox's status and stderr.
        func endWithStderr() -> (status: Int32, stderr: String) {
            run.closeInput()
            let err = Background { RelayRun.readAll(run.errors) }
            _ = RelayRun.readAll(run.output)
            return (run.wait().status, String(decoding: err.join(), as: UTF8.self))
        }
    }

    /// Writes a profile extending the shipped base with the fixture dir read-only, `extra` appended.
    static func profile(_ dir: TempDir, _ extra: String, readWrite: String? = nil) throws -> String {
        var text = "extends = [\"base\"]\n[filesystem]\nread_only = [\(tomlString(dir.sub("bin")))]\n"
        if let readWrite { text += "read_write = [\(tomlString(readWrite))]\n" }
        return try dir.write("budget.toml", text + extra + "\n")
    }

    /// A temp dir holding a copy of the fixture and of the mcpbox binary (reachable by any account).
    static func scratch() throws -> (TempDir, binary: String) {
        let dir = try TempDir(prefix: "mcpbox-budget")
        let bin = try dir.makeDir("bin")
        try FileManager.default.copyItem(atPath: RelayRun.fixture("../budget/budget.py"), toPath: bin + "/budget.py")
        chmod(bin + "/budget.py", 0o644)
        let binary = dir.sub("mcpbox")
        try FileManager.default.copyItem(atPath: try TestSupport.mcpboxBinary(), toPath: binary)
        chmod(binary, 0o755)
        return (dir, binary)
    }

    /// Starts the fixture (as `account` through setpriv when given) and waits for its report.
    static func start(_ dir: TempDir, binary: String, profile: String, _ args: [String],
                      as account: TestAccount? = nil) throws -> Held {
        var argv: [String] = []
        if let account {
            argv += ["/usr/bin/setpriv", "--reuid", String(account.uid), "--regid", String(account.gid), "--clear-groups", "--"]
        }
        argv += [binary, "run", profile, "--profile-path", TestSupport.profilesDir, "--",
                 try TestSupport.systemPython(), dir.sub("bin/budget.py")] + args
        let run = try RelayRun(argv: argv)
        let report = RelayRun.readLine(run.output) ?? ""
        let holding = RelayRun.readLine(run.output)
        if holding != "holding" {
            let err = String(decoding: RelayRun.readAll(run.errors), as: UTF8.self)
            Issue.record("budget.py \(args) did not report: \(report.debugDescription), stderr: \(err)")
        }
        return Held(run: run, report: report)
    }

    /// The numbers after the report's first word.
    static func numbers(_ report: String) -> [Int] {
        report.split(separator: " ").dropFirst().compactMap { Int($0) }
    }

    /// `TCP: ... mem PAGES` from /proc/net/sockstat (host-wide TCP buffer memory).
    static func tcpMemPages() -> Int {
        let text = (try? String(contentsOfFile: "/proc/net/sockstat", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("TCP:") {
            let f = line.split(separator: " ")
            if let i = f.firstIndex(of: "mem"), i + 1 < f.count, let v = Int(f[i + 1]) { return v }
        }
        return -1
    }

    static func aioNr() -> Int {
        Int(((try? String(contentsOfFile: "/proc/sys/fs/aio-nr", encoding: .utf8)) ?? "").filter(\.isNumber)) ?? -1
    }

    @Test("socket buffers count against [limits] memory: filling loopback TCP buffers cannot drain the host's TCP memory")
    func tcpMemory() throws {
        let (dir, binary) = try Self.scratch()
        defer { dir.remove() }
        let tight = try Self.profile(dir, "[limits]\nmemory = \"48MiB\"")
        var before = Self.tcpMemPages()
        var held = try Self.start(dir, binary: binary, profile: tight, ["tcp", "192"])
        var during = Self.tcpMemPages()
        let queued = Self.numbers(held.report).first ?? -1
        print("TCP buffers queued under memory = 48MiB: \(queued >> 20) MiB; host sockstat TCP mem +\((during - before) * 4096 >> 20) MiB")
        #expect(queued >= 0 && queued <= 48 << 20, "the sandbox queued \(queued) bytes of socket buffers")
        #expect((during - before) * 4096 < 64 << 20, "host TCP memory grew by \(during - before) pages")
        #expect(held.end() == 0)

        // Control, after (its sockets are freed lazily): with room to spare the fixture queues
        // its whole (bounded) 192 MiB and sockstat sees it, so the measurement above can fail.
        let roomy = try Self.profile(dir, "[limits]\nmemory = \"4GiB\"")
        before = Self.tcpMemPages()
        held = try Self.start(dir, binary: binary, profile: roomy, ["tcp", "192"])
        during = Self.tcpMemPages()
        #expect(Self.numbers(held.report).first == 192 << 20, "control: \(held.report)")
        #expect((during - before) * 4096 > 128 << 20, "control: sockstat TCP mem grew by only \(during - before) pages")
        #expect(held.end() == 0)
    }

    @Test("io_setup cannot take from the host's AIO budget (fs.aio-nr unchanged)")
    func aio() throws {
        let (dir, binary) = try Self.scratch()
        defer { dir.remove() }
        let plain = try Self.profile(dir, "")
        var before = Self.aioNr()
        var held = try Self.start(dir, binary: binary, profile: plain, ["aio"])
        #expect(Self.numbers(held.report) == [0, Int(ENOSYS)], "io_setup: \(held.report)")
        #expect(Self.aioNr() == before, "aio-nr went from \(before) to \(Self.aioNr())")
        #expect(held.end() == 0)

        // Control, after (contexts are freed lazily): explicitly allowed, io_setup takes from
        // aio-nr (bounded: 4 x 1024 events), so the check above can fail.
        let allowed = try Self.profile(dir, "[seccomp]\nallow = [\"io_setup\", \"io_destroy\"]")
        before = Self.aioNr()
        held = try Self.start(dir, binary: binary, profile: allowed, ["aio"])
        #expect(Self.numbers(held.report) == [4, 0], "control: \(held.report)")
        #expect(Self.aioNr() > before, "control: aio-nr did not grow")
        #expect(held.end() == 0)
    }

    @Test("caller remap: F_SETLEASE on the caller's own file is refused; the host opens it for writing without stalling")
    func lease() throws {
        let (dir, binary) = try Self.scratch()
        defer { dir.remove() }
        let account = try TestAccount.create(prefix: "mcpbox-lease")
        defer { account.delete() }
        let rw = try dir.makeDir("rw")
        let file = try dir.write("rw/file", "host data\n", mode: 0o644)
        chown(rw, account.uid, account.gid)
        chown(file, account.uid, account.gid)
        let held = try Self.start(dir, binary: binary, profile: try Self.profile(dir, "", readWrite: rw),
                                  ["lease", file], as: account)
        #expect(Self.numbers(held.report) == [-1, Int(EPERM)], "F_SETLEASE: \(held.report)")
        // With a read lease held, this open would fail with EWOULDBLOCK (and, blocking, stall
        // for lease-break-time).
        let fd = open(file, O_WRONLY | O_NONBLOCK)
        #expect(fd >= 0, "host open for writing: \(String(cString: strerror(errno)))")
        if fd >= 0 { close(fd) }
        let (status, stderr) = held.endWithStderr()
        #expect(status == 0)
        // An unprivileged caller has no memory cgroup here: base's optional limit is not applied,
        // and run says so.
        #expect(stderr.contains("mcpbox: warning: memory \"?1GiB\" not applied: "), "stderr: \(stderr)")
    }

    @Test("caller remap: exhausting inotify inside leaves the same host user able to create an instance outside")
    func inotify() throws {
        let (dir, binary) = try Self.scratch()
        defer { dir.remove() }
        let account = try TestAccount.create(prefix: "mcpbox-inotify")
        defer { account.delete() }
        let budget = Int(((try? String(contentsOfFile: "/proc/sys/user/max_inotify_instances", encoding: .utf8)) ?? "").filter(\.isNumber)) ?? 0
        #expect(budget > 1 && budget < 1000, "this host's inotify instance budget: \(budget)")
        let held = try Self.start(dir, binary: binary, profile: try Self.profile(dir, ""), ["inotify"], as: account)
        let got = Self.numbers(held.report)
        print("inotify instances the sandbox got: \(got.first ?? -1) of the host user's \(budget)")
        #expect(got.count == 2 && got[0] < budget && got[1] == Int(EMFILE), "inside: \(held.report)")
        let outside = try runProcess(["/usr/bin/setpriv", "--reuid", String(account.uid), "--regid", String(account.gid),
                                      "--clear-groups", "--", try TestSupport.systemPython(), "-c",
                                      "import ctypes; print(ctypes.CDLL(None).inotify_init1(0))"])
        #expect(outside.status == 0 && (Int(outside.stdoutText.filter { $0.isNumber || $0 == "-" }) ?? -1) >= 0,
                "the host user's own inotify_init1 failed: \(outside.stdoutText) \(outside.stderr)")
        #expect(held.end() == 0)
    }
}
