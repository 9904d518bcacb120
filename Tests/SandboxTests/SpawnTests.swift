import CSandbox
import Foundation
import MCPBoxTestSupport
import Testing
@testable import MCPBoxCore
#if canImport(Glibc)
import Glibc
#endif

/// `renameat2(2)` from the C library (declared only under _GNU_SOURCE).
@_silgen_name("renameat2")
private func c_renameat2(_ olddirfd: Int32, _ oldpath: UnsafePointer<CChar>, _ newdirfd: Int32, _ newpath: UnsafePointer<CChar>, _ flags: UInt32) -> Int32

/// The launch mechanism itself, with plans built directly: namespaces, credentials, the
/// filesystem view, pid 1, exit statuses, and failures that name their stage.
@Suite(.enabled(if: geteuid() == 0, "needs root: real namespaces and accounts"))
struct SpawnTests {
    @Test("many fds open in mcpbox (a client that leaks them): the server still starts under a low open_files, and inherits none")
    func manyInheritedFdsDoNotHitTheServersNofileLimit() throws {
        // Fill fd numbers up to past the server's limit, so the lowest free fd lies above it.
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        while held.last.map({ $0 < 200 }) ?? true {
            let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
            try #require(fd >= 0)
            held.append(fd)
        }
        let limits = Limits(memoryBytes: nil, processes: nil, openFiles: 64, cpu: nil, wallTimeSeconds: 0,
                            tmpfsSizeBytes: 8 << 20, shutdownGraceSeconds: 2)
        let r = try SpawnFixture.run(SpawnFixture.shell("ls /proc/self/fd | wc -l; ulimit -n", limits: limits))
        #expect(r.failure == nil, "\(String(describing: r.failure))")
        #expect(r.status == 0, "\(r.stderr)")
        // 0, 1, 2 and the directory ls reads.
        #expect(r.stdout.split(separator: "\n").map(String.init) == ["4", "64"], "\(r.stdout)")
    }

    @Test func credentialsAreEmptyAndFiltered() throws {
        let r = try SpawnFixture.run(SpawnFixture.shell(
            "id -u; id -g; id -G; grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status"))
        #expect(r.failure == nil, "\(String(describing: r.failure))")
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.prefix(3) == ["65534", "65534", "65534"])
        for key in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            #expect(SpawnFixture.statusField(r.stdout, key) == "0000000000000000", "\(key)")
        }
        #expect(SpawnFixture.statusField(r.stdout, "NoNewPrivs") == "1")
        #expect(SpawnFixture.statusField(r.stdout, "Seccomp") == "2")
    }

    @Test func pidOneIsAPrivilegelessReaperNotTheServer() throws {
        let r = try SpawnFixture.run(SpawnFixture.shell(
            // pid 1 drops its own capabilities once the server has exec'd (it sleeps in vfork
            // until then): wait for that, boundedly, rather than racing it.
            "echo $$; grep PPid /proc/$$/status; "
            + "for i in $(seq 200); do grep -q '^CapEff:.0000000000000000' /proc/1/status && break; sleep 0.01; done; "
            + "grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs):' /proc/1/status; "
            + "ls /proc | grep -c '^[0-9]'"))
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        // pid 2 is pid 1's short-lived network helper (reaped before the server starts).
        #expect(lines.first == "3")
        #expect(SpawnFixture.statusField(r.stdout, "PPid") == "1")
        for key in ["CapEff", "CapPrm", "CapBnd"] {
            #expect(SpawnFixture.statusField(r.stdout, key) == "0000000000000000", "pid 1 \(key)")
        }
        #expect(SpawnFixture.statusField(r.stdout, "NoNewPrivs") == "1")
        // pid 1, the shell, grep and ls: the host's processes are not visible.
        #expect((Int(lines.last ?? "") ?? 99) <= 5, "\(r.stdout)")
    }

    @Test func filesystemIsMinimalReadOnlyNosuidNodev() throws {
        // The mount view on its own: Landlock would also refuse listing / and /dev and writing
        // outside the plan (LandlockWallTests).
        let r = try SpawnFixture.run(SpawnFixture.shell("""
            ls -A / | tr '\\n' ' '; echo
            ls -A /dev | tr '\\n' ' '; echo
            cat /proc/self/mountinfo
            for p in /x /usr/x /dev/x /etc/x /proc/x; do touch $p 2>/dev/null && echo "WROTE $p"; done
            echo ok > /tmp/t && cat /tmp/t
            echo shm > /dev/shm/t && cat /dev/shm/t
            """, landlock: .off))
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(Set(lines[0].split(separator: " ").map(String.init))
                == ["bin", "dev", "etc", "lib", "lib64", "proc", "sbin", "tmp", "usr"])
        #expect(Set(lines[1].split(separator: " ").map(String.init))
                == ["fd", "full", "null", "random", "shm", "stderr", "stdin", "stdout", "urandom", "zero"])
        #expect(!r.stdout.contains("WROTE"), "\(r.stdout)")
        #expect(lines.suffix(2) == ["ok", "shm"])
        let devices: Set<String> = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]
        var seen = Set<String>()
        for line in lines where line.contains(" - ") {
            let f = line.split(separator: " ").map(String.init)
            let mountPoint = f[4], options = Set(f[5].split(separator: ",").map(String.init))
            seen.insert(mountPoint)
            #expect(options.contains("nosuid"), "\(mountPoint) lacks nosuid")
            if !devices.contains(mountPoint) {
                #expect(options.contains("nodev"), "\(line) lacks nodev")
            }
            if ["/", "/usr", "/bin", "/lib", "/dev", "/proc/sys"].contains(mountPoint) {
                #expect(options.contains("ro"), "\(mountPoint) is not read-only")
            }
        }
        #expect(seen.isSuperset(of: ["/", "/usr", "/proc", "/proc/sys", "/dev", "/dev/null", "/dev/shm", "/tmp"]))
    }

    /// The host's mount tree (the old root after pivot_root) is detached before the server
    /// starts, though pid 1 no longer waits for umount2 to return (launch.c, the net helper).
    @Test func theHostMountTreeIsGoneBeforeTheServerStarts() throws {
        for _ in 0..<5 {
            let r = try SpawnFixture.run(SpawnFixture.shell("cat /proc/self/mountinfo", landlock: .off))
            #expect(r.status == 0, "\(r.stderr)")
            let points = r.stdout.split(separator: "\n").compactMap { line -> String? in
                let f = line.split(separator: " ")
                return f.count > 4 ? String(f[4]) : nil
            }
            #expect(points.filter { $0 == "/" }.count == 1, "\(r.stdout)")
            #expect(!points.contains { $0 == "/sys" || $0.hasPrefix("/sys/") || $0 == "/run" || $0.hasPrefix("/run/") },
                    "\(r.stdout)")
        }
    }

    @Test func procIsPrivateMaskedAndReadOnly() throws {
        let r = try SpawnFixture.run(SpawnFixture.shell("""
            echo core > /proc/sys/kernel/core_pattern 2>/dev/null && echo WROTE-SYS
            wc -c < /proc/timer_list
            [ -e /proc/sysrq-trigger ] && { echo x > /proc/sysrq-trigger 2>/dev/null && echo WROTE-SYSRQ; }
            cat /proc/sys/kernel/hostname
            """))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.contains("WROTE"))
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "0", "/proc/timer_list is masked: \(r.stdout)")
        #expect(lines.last == "mcpbox-test")
    }

    @Test func loopbackIsUpAndTheOnlyInterface() throws {
        let py = "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); "
            + "c=socket.create_connection(s.getsockname(), timeout=2); print('lo-up')"
        let r = try SpawnFixture.run(SpawnFixture.shell(
            "hostname; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; /usr/bin/python3 -c \"\(py)\""))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.split(separator: "\n").map(String.init) == ["mcpbox-test", "lo", "lo-up"])
    }

    @Test func readWriteBindHideAndHostOwnership() throws {
        let dir = try TempDir(prefix: "mcpbox-spawn")
        defer { dir.remove() }
        try dir.makeDir("work", mode: 0o777)
        try dir.write("work/secret.env", "TOKEN=hunter2\n", mode: 0o644)
        try dir.makeDir("work/private")
        try dir.write("work/private/key", "KEY\n")
        try dir.write("work/readme", "hello\n")
        let plan = SpawnFixture.shell("""
            cat /work/readme; wc -c < /work/secret.env; ls -A /work/private | wc -l
            echo out > /work/out; echo x >> /work/secret.env 2>/dev/null && echo WROTE-HIDDEN; true
            """, extra: [
                Mount(target: "/work", kind: .bind(source: dir.sub("work"), readOnly: false), origin: "test"),
                Mount(target: "/work/secret.env", kind: .hide(isDirectory: false), origin: "test"),
                Mount(target: "/work/private", kind: .hide(isDirectory: true), origin: "test"),
            ], cwd: "/work")
        let r = try SpawnFixture.run(plan)
        #expect(r.status == 0, "\(r.stderr) \(r.stdout)")
        #expect(r.stdout.split(separator: "\n").map(String.init) == ["hello", "0", "0"])
        #expect(ownerUID(of: dir.sub("work/out")) == 65534)
        #expect(try String(contentsOfFile: dir.sub("work/secret.env"), encoding: .utf8) == "TOKEN=hunter2\n")
    }

    @Test func rootCanBindWhatOnlyRootCanReach() throws {
        // Below /root (0700): the parent, as root, clones the source; the sandbox user could
        // never have walked there itself.
        let dir = try TempDir(prefix: "mcpbox-spawn-rootonly", base: "/root")
        defer { dir.remove() }
        try dir.write("data", "only root reaches this\n", mode: 0o644)
        let r = try SpawnFixture.run(SpawnFixture.shell("cat /data/data",
            extra: [Mount(target: "/data", kind: .bind(source: dir.path, readOnly: true), origin: "test")]))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "only root reaches this\n")
    }

    @Test func mountsInsideNeverPropagateToTheHost() throws {
        // A shared host mount bound read-write, with a hide mask inside it: the mask must not
        // appear in the host's mount table.
        let dir = try TempDir(prefix: "mcpbox-spawn-shared")
        defer { dir.remove() }
        try dir.write("secret", "s\n")
        #expect(Glibc.mount(dir.path, dir.path, nil, UInt(MS_BIND), nil) == 0)
        defer { umount2(dir.path, Int32(MNT_DETACH)) }
        #expect(Glibc.mount(nil, dir.path, nil, UInt(MS_SHARED), nil) == 0)
        let r = try SpawnFixture.run(SpawnFixture.shell("wc -c < /work/secret", extra: [
            Mount(target: "/work", kind: .bind(source: dir.path, readOnly: false), origin: "test"),
            Mount(target: "/work/secret", kind: .hide(isDirectory: false), origin: "test")]))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "0\n")
        let table = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!table.contains(dir.path + "/secret"), "the hide mask leaked to the host")
        #expect(try String(contentsOfFile: dir.sub("secret"), encoding: .utf8) == "s\n")
    }

    @Test func synthesizedFilesAreExactAndReadOnly() throws {
        let r = try SpawnFixture.run(SpawnFixture.shell(
            "cat /etc/passwd; echo x >> /etc/passwd 2>/dev/null && echo WROTE; chmod 666 /etc/passwd 2>/dev/null && echo CHMOD; whoami"))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "nobody:x:65534:65534::/tmp:/bin/sh\nnobody\n")
    }

    @Test func serverCanReopenItsOwnStdio() throws {
        let r = try SpawnFixture.run(SpawnFixture.shell(
            "head -c 5 /dev/stdin; echo ' out' > /dev/stdout; echo err > /dev/stderr"), input: "hello world")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "hello out\n")
        #expect(r.stderr == "err\n")
    }

    @Test func exitStatusesAreTheServers() throws {
        #expect(try SpawnFixture.run(SpawnFixture.shell("exit 7")).status == 7)
        #expect(try SpawnFixture.run(SpawnFixture.shell("kill -KILL $$")).status == 137)
        #expect(try SpawnFixture.run(SpawnFixture.shell("kill -TERM $$")).status == 143)
    }

    @Test func signalsToPidOneReachTheServer() throws {
        let plan = SpawnFixture.shell(
            "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done")
        let r = try SpawnFixture.run(plan) { sandbox, out in
            var byte: UInt8 = 0
            var line = ""
            while read(out, &byte, 1) == 1, byte != 10 { line.append(Character(UnicodeScalar(byte))) }
            #expect(line == "ready")
            kill(sandbox.pid, SIGTERM)
        }
        #expect(r.stdout == "got-term\n")
        #expect(r.status == 3)
    }

    @Test func orphansDieWithTheServer() throws {
        let marker = "1\(UInt32.random(in: 100_000..<999_999))"
        let start = Date()
        let r = try SpawnFixture.run(SpawnFixture.shell("(setsid sleep \(marker) &) ; sleep \(marker) & echo started"))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Date().timeIntervalSince(start) < 10)
        usleep(100_000)
        let left = try runProcess(["/usr/bin/pgrep", "-f", "sleep \(marker)"])
        #expect(left.stdoutText.isEmpty, "leftover processes: \(left.stdoutText)")
    }

    @Test func inheritedDescriptorsAreClosed() throws {
        let opened = open("/etc/hostname", O_RDONLY)
        let leaked = fcntl(opened, F_DUPFD, 10)  // deliberately without FD_CLOEXEC
        close(opened)
        defer { close(leaked) }
        #expect(leaked > 2)
        let r = try SpawnFixture.run(SpawnFixture.shell("ls /proc/self/fd | tr '\\n' ' '"))
        #expect(r.status == 0, "\(r.stderr)")
        // 0-2 and the directory ls itself is reading.
        #expect(r.stdout.split(separator: " ").count == 4, "\(r.stdout)")
    }

    @Test func processLimitCountsOnlyTheSandbox() throws {
        var limits = SpawnFixture.shell("").limits
        limits.processes = 6
        let py = """
            import os, time
            n = 0
            try:
                for i in range(20):
                    if os.fork() == 0:
                        time.sleep(3); os._exit(0)
                    n += 1
            except BlockingIOError:
                print("EAGAIN")
            print(n)
            """
        var plan = SpawnFixture.shell("", limits: limits)
        plan.argv = ["/usr/bin/python3", "-c", py]
        plan.executable = "/usr/bin/python3"
        let r = try SpawnFixture.run(plan)
        #expect(r.status == 0, "\(r.stderr)")
        // Six tasks in the sandbox, exactly the profile's number: pid 1 (the reaper), python
        // itself and four forks.
        #expect(r.stdout == "EAGAIN\n4\n", "\(r.stdout) \(r.stderr)")
    }

    @Test func processLimitIsExactlyWhatTheSandboxSees() throws {
        var limits = SpawnFixture.shell("").limits
        limits.processes = 6
        let r = try SpawnFixture.run(SpawnFixture.shell("grep 'Max processes' /proc/self/limits", limits: limits))
        #expect(r.status == 0, "\(r.stderr)")
        let fields = r.stdout.split(separator: " ", omittingEmptySubsequences: true)
        #expect(fields.count >= 4 && fields[2] == "6" && fields[3] == "6", "\(r.stdout)")
    }

    /// RLIMIT_CORE 0 stops core files, but the kernel still hands the core of a crash to a `|`
    /// handler in core_pattern (a root program on the host); 1 stops both. Found by a red-team
    /// pass (the README said 0 kept the handler out of reach); fails on the build before.
    @Test func coreLimitIsOneSoNoDumpReachesAPipeHandler() throws {
        let r = try SpawnFixture.run(SpawnFixture.shell("grep 'Max core file size' /proc/self/limits"))
        #expect(r.status == 0, "\(r.stderr)")
        let fields = r.stdout.split(separator: " ", omittingEmptySubsequences: true)
        #expect(fields.count >= 6 && fields[4] == "1" && fields[5] == "1", "\(r.stdout)")
    }

    @Test func rlimitAboveTheHardLimitFailsInsteadOfBeingLowered() throws {
        var rl = rlimit()
        #expect(getrlimit(__rlimit_resource_t(7), &rl) == 0)  // RLIMIT_NOFILE
        try #require(rl.rlim_max != rlim_t.max, "needs a finite hard RLIMIT_NOFILE")
        var limits = SpawnFixture.shell("").limits
        limits.openFiles = UInt64(rl.rlim_max) + 1
        let r = try SpawnFixture.run(SpawnFixture.shell("grep 'Max open files' /proc/self/limits", limits: limits))
        #expect(r.status == 125, "\(r.stdout) \(r.stderr)")
        #expect(r.failure?.stageName == "rlimits" && r.failure?.code == EPERM, "\(String(describing: r.failure))")
    }

    @Test func memoryLimitIsACgroupRemovedAfterwards() throws {
        var limits = SpawnFixture.shell("").limits
        limits.memoryBytes = 48 << 20
        let big = SpawnFixture.shell(
            "/usr/bin/python3 -c 'b = bytearray(200 << 20); b[::4096] = b\"x\" * len(b[::4096]); print(\"ALLOCATED\")'",
            limits: limits)
        let r = try SpawnFixture.run(big)
        #expect(r.status != 0)
        #expect(!r.stdout.contains("ALLOCATED"))
        let small = SpawnFixture.shell("/usr/bin/python3 -c 'b = bytearray(8 << 20); print(\"fine\")'", limits: limits)
        let ok = try SpawnFixture.run(small)
        #expect(ok.status == 0 && ok.stdout == "fine\n", "\(ok.stderr)")
        let prefix = "\(getpid())-"
        let left = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/memory/mcpbox")) ?? []
        #expect(!left.contains { $0.hasPrefix(prefix) }, "cgroups left behind: \(left)")
    }

    @Test func cpuLimitIsWrittenAndTheCgroupNamespaceIsRootedThere() throws {
        var limits = SpawnFixture.shell("").limits
        limits.cpu = 0.5
        let plan = SpawnFixture.shell("echo ready; grep -E ':cpu(,|:)' /proc/self/cgroup; read x; true", limits: limits)
        var quota = ""
        let r = try SpawnFixture.run(plan) { _, out in
            var byte: UInt8 = 0
            while read(out, &byte, 1) == 1, byte != 10 {}
            let base = "/sys/fs/cgroup/cpu/mcpbox"
            let mine = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [])
                .filter { $0.hasPrefix("\(getpid())-") }
            #expect(mine.count == 1, "\(mine)")
            if let dir = mine.first {
                quota = (try? String(contentsOfFile: "\(base)/\(dir)/cpu.cfs_quota_us", encoding: .utf8)) ?? ""
            }
        }
        #expect(r.status == 0, "\(r.stderr)")
        #expect(quota == "50000\n")
        #expect(r.stdout.hasSuffix(":/\n"), "\(r.stdout)")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/cpu/mcpbox")) ?? []
        #expect(!left.contains { $0.hasPrefix("\(getpid())-") })
    }

    /// cgroup v1: pid 1 joins its group itself, before it starts anything, so the reaper and
    /// the server are both inside and the cgroup namespace is rooted there.
    @Test(.enabled(if: !Cgroups.isV2(), "cgroup v1 join"))
    func pid1AndTheServerAreInsideTheMemoryGroup() throws {
        var limits = SpawnFixture.shell("").limits
        limits.memoryBytes = 64 << 20
        let plan = SpawnFixture.shell("grep -h ':memory:' /proc/1/cgroup /proc/self/cgroup; echo ready; read x; true",
                                      limits: limits)
        var seen = "", tasks: [String] = [], pid1: pid_t = 0
        let r = try SpawnFixture.run(plan) { sandbox, out in
            var byte: UInt8 = 0
            while !seen.hasSuffix("ready\n"), read(out, &byte, 1) == 1 { seen.append(Character(UnicodeScalar(byte))) }
            pid1 = sandbox.pid
            if let dir = sandbox.cgroups?.dirs.first {
                tasks = ((try? String(contentsOfFile: "\(dir)/tasks", encoding: .utf8)) ?? "")
                    .split(separator: "\n").map(String.init)
            }
        }
        #expect(r.status == 0, "\(r.stderr)")
        let lines = seen.split(separator: "\n")
        #expect(lines.count == 3 && lines.prefix(2).allSatisfy { $0.hasSuffix(":memory:/") }, "\(seen)")
        // pid 1 and the shell: nothing of mcpbox, nothing else.
        #expect(tasks.count == 2 && tasks.contains("\(pid1)"), "\(tasks) (pid 1 is \(pid1))")
    }

    /// A join the kernel refuses stops the launch (exit 125, the group named), with nothing
    /// run and nothing left behind. Here: a real-time pid 1 and a cpu group with no real-time
    /// budget (cpu.rt_runtime_us = 0), which the kernel refuses to attach it to.
    @Test(.enabled(if: !Cgroups.isV2() && FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cpu/cpu.rt_runtime_us"),
                   "cgroup v1 with real-time group scheduling"))
    func aRefusedCgroupJoinStopsTheLaunch() throws {
        var limits = SpawnFixture.shell("").limits
        limits.cpu = 0.5
        let plan = SpawnFixture.shell("echo RAN", limits: limits)
        var param = sched_param(sched_priority: 1)
        try #require(sched_setscheduler(0, SCHED_FIFO, &param) == 0, "SCHED_FIFO: \(String(cString: strerror(errno)))")
        let r: SpawnFixture.Outcome
        do {
            defer {
                var normal = sched_param(sched_priority: 0)
                sched_setscheduler(0, SCHED_OTHER, &normal)
            }
            r = try SpawnFixture.run(plan)
        }
        let failure = try #require(r.failure, "the launch went ahead: \(r.stdout)")
        #expect(r.status == 125 && failure.exitCode == 125)
        #expect(failure.stageName == "cgroup" && failure.code == EINVAL, "\(failure.description)")
        #expect(failure.description.hasPrefix("mcpbox: cgroup /sys/fs/cgroup/cpu/mcpbox/\(getpid())-"), "\(failure.description)")
        #expect(!r.stdout.contains("RAN"))
        let left = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/cpu/mcpbox")) ?? []
        #expect(!left.contains { $0.hasPrefix("\(getpid())-") }, "cgroups left behind: \(left)")
    }

    @Test func hostNetworkModeKeepsTheHostStack() throws {
        let r = try SpawnFixture.run(SpawnFixture.shell(
            "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' '", network: .host))
        #expect(r.status == 0, "\(r.stderr)")
        let host = (try String(contentsOfFile: "/proc/net/dev", encoding: .utf8))
            .split(separator: "\n").dropFirst(2)
            .map { $0.split(separator: ":")[0].trimmingCharacters(in: .whitespaces) }.sorted()
        #expect(r.stdout == host.joined(separator: " ") + " ")
    }

    @Test func rootAccountRunsAsTheRealAccount() throws {
        let account = try TestAccount.create(prefix: "mcpbox-spawn")
        defer { account.delete() }
        let dir = try TempDir(prefix: "mcpbox-spawn-acct")
        defer { dir.remove() }
        try dir.makeDir("rw", mode: 0o777)
        let id = Identity(mechanism: .rootAccount, userName: account.name, groupName: account.name,
                          insideUid: account.uid, insideGid: account.gid, hostUid: account.uid,
                          hostGid: account.gid, home: "/tmp", callerUid: 0, callerGid: 0)
        let plan = SpawnFixture.shell("id -u; id -G; echo hi > /rw/f",
            extra: [Mount(target: "/rw", kind: .bind(source: dir.sub("rw"), readOnly: false), origin: "test")],
            identity: id)
        let r = try SpawnFixture.run(plan)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.split(separator: "\n").map(String.init) == ["\(account.uid)", "\(account.gid)"])
        #expect(ownerUID(of: dir.sub("rw/f")) == account.uid)
    }

    // MARK: failures

    @Test func missingBindSourceIsRefusedBeforeClone() throws {
        let plan = SpawnFixture.shell("true", extra: [
            Mount(target: "/data", kind: .bind(source: "/nonexistent/mcpbox-data", readOnly: true), origin: "test")])
        let r = try SpawnFixture.run(plan)
        let failure = try #require(r.failure)
        #expect(failure.exitCode == 125)
        #expect(failure.stage == Int32(MCPBOX_STAGE_MOUNT_SOURCE.rawValue))
        #expect(failure.description.hasPrefix("mcpbox: bind source /nonexistent/mcpbox-data: No such file or directory"))
        #expect(Launcher.run(plan) == 125)
    }

    @Test func symlinkSwappedInAfterPlanningIsNotFollowed() throws {
        // Planned while `sub` was a directory; by the launch it is a symlink to a secret.
        let dir = try TempDir(prefix: "mcpbox-swap")
        defer { dir.remove() }
        try dir.makeDir("sub")
        try dir.makeDir("secret")
        _ = try dir.write("secret/key", "SECRET")
        let plan = SpawnFixture.shell("cat /data/key", extra: [
            Mount(target: "/data", kind: .bind(source: dir.sub("sub"), readOnly: true), origin: "test")])
        #expect(rmdir(dir.sub("sub")) == 0)
        #expect(symlink(dir.sub("secret"), dir.sub("sub")) == 0)
        let r = try SpawnFixture.run(plan)
        let failure = try #require(r.failure, "the launch went ahead: \(r.stdout)")
        #expect(failure.stage == Int32(MCPBOX_STAGE_MOUNT_SOURCE.rawValue))
        #expect(failure.code == ELOOP, "\(failure.description)")
        #expect(!r.stdout.contains("SECRET"))
    }

    @Test("a directory exchanged into a checked bind source after planning (renameat2 RENAME_EXCHANGE) is not bound: ESTALE")
    func directoryExchangedAfterPlanningIsRefused() throws {
        // Planned (and checked) while `pub` held a public note; by the launch a directory the
        // plan never looked at has taken its name, with the same path all the way down.
        let dir = try TempDir(prefix: "mcpbox-exchange")
        defer { dir.remove() }
        chmod(dir.path, 0o755)
        try dir.makeDir("pub")
        try dir.makeDir("vault")
        _ = try dir.write("pub/note", "PUBLIC")
        _ = try dir.write("vault/key", "SECRET")
        let file = try dir.write("x.toml", "extends = [\"base\"]\n[filesystem]\nread_only = [\"\(dir.sub("pub"))\"]\n")
        let command = ["/bin/sh", "-c", "cat \(dir.sub("pub"))/*"]
        let loader = ProfileLoader(searchPath: [TestSupport.profilesDir], variables: [:],
                                   environment: ["HOME": "/root", "PATH": "/usr/bin:/bin"], callerUid: 0, commandLine: command)
        let plan = try PlanBuilder(profile: try loader.load(file), host: HostContext.current(), command: command).build()
        // The same plan, launched while nothing changed, shows the checked directory.
        let before = try SpawnFixture.run(plan)
        #expect(before.status == 0 && before.stdout.contains("PUBLIC"), "\(before.stderr)")
        let rc = c_renameat2(AT_FDCWD, dir.sub("pub"), AT_FDCWD, dir.sub("vault"), 2 /* RENAME_EXCHANGE */)
        try #require(rc == 0, "renameat2: \(errno)")
        let r = try SpawnFixture.run(plan)
        let failure = try #require(r.failure, "the launch went ahead: \(r.stdout)")
        #expect(failure.stage == Int32(MCPBOX_STAGE_MOUNT_SOURCE.rawValue) && failure.code == ESTALE, "\(failure.description)")
        #expect(failure.description.contains("replaced after mcpbox checked it"), "\(failure.description)")
        #expect(!r.stdout.contains("SECRET"))
    }

    @Test func childSideFailureNamesStageAndTarget() throws {
        let plan = SpawnFixture.shell("true", extra: [
            Mount(target: "/usr/mcpbox-not-there", kind: .hide(isDirectory: false), origin: "test")])
        let r = try SpawnFixture.run(plan)
        let failure = try #require(r.failure)
        #expect(r.status == 125)
        #expect(failure.exitCode == 125)
        #expect(failure.description.hasPrefix("mcpbox: mount point /usr/mcpbox-not-there: No such file or directory"),
                "\(failure.description)")
    }

    /// pid 1 builds its root while mcpbox joins it to its cgroup; a failure on either side
    /// of that join still names its stage and target, and leaves no cgroup behind.
    @Test func childSideFailureWithACgroupNamesStageAndTarget() throws {
        var plan = SpawnFixture.shell("true", extra: [
            Mount(target: "/usr/mcpbox-not-there", kind: .hide(isDirectory: false), origin: "test")])
        plan.limits.memoryBytes = 64 << 20
        for _ in 0..<5 {
            let r = try SpawnFixture.run(plan)
            let failure = try #require(r.failure)
            #expect(r.status == 125)
            #expect(failure.description.hasPrefix("mcpbox: mount point /usr/mcpbox-not-there: No such file or directory"),
                    "\(failure.description)")
        }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/memory/mcpbox")) ?? []
        #expect(!left.contains { $0.hasPrefix("\(getpid())-") }, "cgroups left behind: \(left)")
    }

    @Test func symlinkInTargetPathIsNeverFollowed() throws {
        let dir = try TempDir(prefix: "mcpbox-spawn-link")
        defer { dir.remove() }
        try dir.makeDir("rw")
        symlink("/etc", dir.sub("rw/link"))
        let plan = SpawnFixture.shell("true", extra: [
            Mount(target: "/rw", kind: .bind(source: dir.sub("rw"), readOnly: false), origin: "test"),
            Mount(target: "/rw/link/passwd", kind: .hide(isDirectory: false), origin: "test")])
        let r = try SpawnFixture.run(plan)
        let failure = try #require(r.failure)
        #expect(failure.stage == Int32(MCPBOX_STAGE_MOUNT_TARGET.rawValue))
        #expect(failure.code == ELOOP)
        #expect(r.status == 125)
    }

    @Test func execFailuresGive127And126() throws {
        var missing = SpawnFixture.shell("")
        missing.argv = ["/usr/bin/mcpbox-no-such-tool"]
        missing.executable = "/usr/bin/mcpbox-no-such-tool"
        let r1 = try SpawnFixture.run(missing)
        #expect(r1.failure?.exitCode == 127)
        #expect(r1.status == 127)

        var notExecutable = SpawnFixture.shell("")
        notExecutable.argv = ["/etc/passwd"]
        notExecutable.executable = "/etc/passwd"
        let r2 = try SpawnFixture.run(notExecutable)
        #expect(r2.failure?.exitCode == 126)
        #expect(r2.status == 126)

        var unresolved = SpawnFixture.shell("")
        unresolved.executable = nil
        #expect(Launcher.run(unresolved) == 127)
    }

    @Test func missingWorkingDirectoryIsAStageError() throws {
        let r = try SpawnFixture.run(SpawnFixture.shell("true", cwd: "/nowhere"))
        #expect(r.failure?.stage == Int32(MCPBOX_STAGE_CHDIR.rawValue))
        #expect(r.status == 125)
    }

    /// Through `mcpbox run` (its own process), never `Launcher.run` in the test process: the relay
    /// takes over the stdio of the process it runs in (it reopens fds 0 and 1 as descriptions of
    /// its own and closes fd 1 to give the client EOF), which in the test runner freed fd 1 for the
    /// next pipe and crossed later tests' pipes (a lost line of output, a test waiting forever).
    @Test func launcherRunsAndReturnsTheServersStatus() throws {
        let r = try runProcess([try TestSupport.mcpboxBinary(), "run", "base", "--profile-path", TestSupport.profilesDir,
                                "--", "/bin/sh", "-c", "echo out; echo err >&2; exit 42"], timeout: 60)
        #expect(r.status == 42, "\(r.stderr)")
        #expect(r.stdoutText == "out\n")
        #expect(r.stderr.hasSuffix("err\n"), "\(r.stderr)")
    }
}
