import Foundation
import Testing
@testable import MCPBoxCore

/// A small C program, compiled once per test run: installs a BPF program from a file
/// (no_new_privs, then seccomp(SECCOMP_SET_MODE_FILTER)) and then execs a command, makes one
/// raw syscall, or makes an x32 / int 0x80 syscall.
private let runnerSource = #"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static unsigned char program[65536];

int main(int argc, char **argv) {
    if (argc < 3) return 80;
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) { perror("open"); return 81; }
    ssize_t len = read(fd, program, sizeof program);
    close(fd);
    if (len <= 0 || len % 8 != 0) return 82;
    struct sock_fprog prog = { (unsigned short)(len / 8), (struct sock_filter *)program };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("no_new_privs"); return 83; }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) { perror("seccomp"); return 84; }
    const char *mode = argv[2];
    if (strcmp(mode, "exec") == 0) {
        execv(argv[3], argv + 3);
        perror("execv");
        return 85;
    }
    if (strcmp(mode, "raw") == 0) {
        unsigned long a[7] = {0};
        for (int i = 3; i < argc && i < 10; i++) a[i - 3] = strtoul(argv[i], NULL, 0);
        errno = 0;
        long r = syscall((long)a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
        int e = r < 0 ? errno : 0;
        if (r == 0 && (a[0] == SYS_clone || a[0] == SYS_fork)) _exit(0);
        printf("%ld %d\n", r, e);
        return 0;
    }
    if (strcmp(mode, "x32") == 0) {
        long r;
        __asm__ volatile ("syscall" : "=a"(r) : "a"(0x40000000L | 39) : "rcx", "r11", "memory");
        printf("%ld\n", r);
        return 0;
    }
    if (strcmp(mode, "int80") == 0) {
        long r;
        __asm__ volatile ("int $0x80" : "=a"(r) : "a"(20L) : "memory");
        printf("%ld\n", r);
        return 0;
    }
    return 86;
}
"""#

/// Where the runner is built: removed when the test process exits.
private let runnerDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("mcpbox-seccomp-tests-\(getpid())")

/// Builds the runner with the system C compiler into a fresh directory.
private let runnerPath: String = {
    let dir = runnerDirectory
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(at: runnerDirectory) }
    let source = dir.appendingPathComponent("runner.c")
    try! runnerSource.write(to: source, atomically: true, encoding: .utf8)
    let binary = dir.appendingPathComponent("runner").path
    let cc = Process()
    cc.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
    cc.arguments = ["-O1", "-o", binary, source.path]
    try! cc.run()
    cc.waitUntilExit()
    precondition(cc.terminationStatus == 0, "cc failed to build the seccomp runner")
    return binary
}()

private struct Outcome {
    var status: Int32
    var signaled: Bool
    var stdout: String
    var stderr: String
    var exitedZero: Bool { !signaled && status == 0 }
}

/// Runs the runner under `bpf` with `args` (after the filter file), in a scratch directory.
private func run(_ bpf: [UInt8], _ args: [String], cwd: String? = nil) throws -> Outcome {
    let file = FileManager.default.temporaryDirectory
        .appendingPathComponent("mcpbox-bpf-\(UUID().uuidString)")
    try Data(bpf).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: runnerPath)
    process.arguments = [file.path] + args
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    var environment = ProcessInfo.processInfo.environment
    environment["GIT_CONFIG_NOSYSTEM"] = "1"
    process.environment = environment
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = Pipe()
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Outcome(status: process.terminationStatus,
                   signaled: process.terminationReason == .uncaughtSignal,
                   stdout: String(decoding: outData, as: UTF8.self),
                   stderr: String(decoding: errData, as: UTF8.self))
}

/// One raw syscall under `bpf`: (return value, errno), or nil when the process was killed.
private func raw(_ bpf: [UInt8], _ numbers: UInt64...) throws -> (ret: Int, errno: Int32)? {
    let outcome = try run(bpf, ["raw"] + numbers.map { "0x" + String($0, radix: 16) })
    if outcome.signaled { return nil }
    let parts = outcome.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    guard parts.count == 2, let ret = Int(parts[0]), let err = Int32(parts[1]) else {
        Issue.record("runner printed \(outcome.stdout.debugDescription), stderr \(outcome.stderr)")
        return (Int.min, -1)
    }
    return (ret, err)
}

private func policy(_ preset: SeccompPolicy.Preset, _ action: SeccompPolicy.DefaultAction = .errno,
                    allow: [String] = [], deny: [String] = []) -> SeccompPolicy {
    SeccompPolicy(preset: preset, allow: allow, deny: deny, defaultAction: action)
}

private let allCombinations: [SeccompPolicy] = SeccompPolicy.Preset.allCases.flatMap { preset in
    SeccompPolicy.DefaultAction.allCases.map { policy(preset, $0) }
}

// x86_64 syscall numbers used below.
private let nrPtrace: UInt64 = 101, nrKeyctl: UInt64 = 250, nrBpf: UInt64 = 321
private let nrIoUringSetup: UInt64 = 425, nrClone3: UInt64 = 435, nrSocket: UInt64 = 41
private let nrIoctl: UInt64 = 16, nrClone: UInt64 = 56, nrUnshare: UInt64 = 272
private let nrSetns: UInt64 = 308, nrPersonality: UInt64 = 135, nrMount: UInt64 = 165
private let nrGetpmsg: UInt64 = 181, nrPidfdGetfd: UInt64 = 438, nrAddKey: UInt64 = 248
private let nrPerfEventOpen: UInt64 = 298, nrUserfaultfd: UInt64 = 323, nrProcessVmReadv: UInt64 = 310
private let nrUname: UInt64 = 63

@Suite("Seccomp tables and compiler")
struct SeccompCompilerTests {
    @Test("isKnownSyscall resolves through libseccomp")
    func knownSyscalls() {
        #expect(Seccomp.isKnownSyscall("ptrace"))
        #expect(!Seccomp.isKnownSyscall("ptrce"))
        #expect(!Seccomp.isKnownSyscall(""))
        #expect(Seccomp.isKnownSyscall("mseal"))
    }

    @Test("every table name is a native syscall and the lists do not overlap")
    func tablesResolve() {
        let names = SeccompTables.defaultAllowed + SeccompTables.refused + SeccompTables.guarded + ["personality"]
        for name in names {
            #expect(Seccomp.resolve(name) != nil, "\(name) is not a native syscall")
        }
        #expect(Set(SeccompTables.defaultAllowed).isDisjoint(with: SeccompTables.refused))
        #expect(Set(SeccompTables.defaultAllowed).isDisjoint(with: SeccompTables.guarded))
        #expect(Set(SeccompTables.defaultAllowed).count == SeccompTables.defaultAllowed.count)
        #expect(Set(SeccompTables.refused).count == SeccompTables.refused.count)
        // Shape skips deduplicating the default preset's candidates when nothing is added.
        #expect(Set(SeccompTables.guarded).count == SeccompTables.guarded.count)
    }

    @Test("every preset × default action compiles, and the embedded program is libseccomp's",
          arguments: allCombinations)
    func compilesAndMatchesEmbedded(_ policy: SeccompPolicy) throws {
        let fresh = try Seccomp.compileWithLibseccomp(policy)
        #expect(fresh.count % 8 == 0)
        #expect(fresh.count / 8 <= 4096)
        let embedded = Seccomp.precompiledProgram(policy)
        #expect(embedded == fresh, "run scripts/gen-seccomp")
        #expect(try Seccomp.compile(policy) == fresh)
    }

    @Test("the generated C source is current (MCPBOX_GEN_SECCOMP=1 rewrites it)")
    func generatedSourceIsCurrent() throws {
        let path = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/CSandbox/seccomp_precompiled.c")
        let expected = try Seccomp.precompiledCSource()
        if ProcessInfo.processInfo.environment["MCPBOX_GEN_SECCOMP"] == "1" {
            try expected.write(to: path, atomically: false, encoding: .utf8)
            print("seccomp: wrote \(path.path)")
        }
        let onDisk = try String(contentsOf: path, encoding: .utf8)
        #expect(onDisk == expected, "Sources/CSandbox/seccomp_precompiled.c is stale: run scripts/gen-seccomp")
    }

    @Test("allow/deny change the fingerprint and bypass the embedded programs")
    func customPoliciesCompileFresh() throws {
        let base = policy(.default)
        let custom = policy(.default, allow: ["ptrace"])
        #expect(Seccomp.fingerprint(base) != Seccomp.fingerprint(custom))
        #expect(Seccomp.fingerprint(base) != Seccomp.fingerprint(policy(.default, deny: ["ptrace"])))
        #expect(Seccomp.precompiledProgram(custom) == nil)
        #expect(try Seccomp.compile(custom) != Seccomp.compile(base))
        #expect(Seccomp.fingerprint(policy(.default, .kill)) != Seccomp.fingerprint(base))
    }

    @Test("an unknown syscall name is a typed error naming it")
    func unknownNameIsAnError() {
        for bad in [policy(.default, allow: ["ptrce"]), policy(.permissive, deny: ["ptrce"]),
                    policy(.permissive, allow: ["ptrce"])] {
            #expect(throws: SeccompError(code: .unknownSyscall, subject: "ptrce", errno: 0)) {
                try Seccomp.compile(bad)
            }
        }
        let message = SeccompError(code: .unknownSyscall, subject: "ptrce", errno: 0).description
        #expect(message.contains("\"ptrce\""))
    }

    @Test("summary counts and names what allow/deny change")
    func summaries() {
        let base = Seccomp.summary(policy(.default))
        #expect(base.allowedCount > 250)
        #expect(base.added.isEmpty && base.removed.isEmpty)
        for note in ["clone: namespace flags refused", "ioctl: TIOCSTI/TIOCLINUX refused",
                     "socket: AF_UNIX, AF_INET, AF_INET6, AF_NETLINK(route) only",
                     "non-native ABIs (i386, x32): process killed", "clone3: ENOSYS"] {
            #expect(base.notes.contains { $0.hasPrefix(note) }, "missing note \(note)")
        }

        let widened = Seccomp.summary(policy(.default, allow: ["ptrace", "read", "clone"]))
        #expect(widened.allowedCount == base.allowedCount + 1)
        #expect(widened.added == ["ptrace"])
        #expect(widened.notes.contains("allow clone: stays argument-filtered"))

        let narrowed = Seccomp.summary(policy(.default, allow: ["uname"], deny: ["uname", "ptrace", "socket"]))
        #expect(narrowed.allowedCount == base.allowedCount - 2)
        #expect(narrowed.removed == ["uname", "socket"])
        #expect(!narrowed.notes.contains { $0.hasPrefix("socket:") })

        let permissive = Seccomp.summary(policy(.permissive))
        #expect(permissive.allowedCount > base.allowedCount)
        #expect(permissive.allowedCount == Seccomp.nativeSyscallNames().count - SeccompTables.refused.count
            - SeccompTables.aioSyscalls.count - Shape.neverAllowed.count)
        let permissiveLess = Seccomp.summary(policy(.permissive, allow: ["ptrace"], deny: ["uname"]))
        #expect(permissiveLess.added == ["ptrace"] && permissiveLess.removed == ["uname"])
        #expect(permissiveLess.allowedCount == permissive.allowedCount)
    }

    @Test("allowed_count is the number of native syscalls the compiled stages let through (openat2, clone3: ENOSYS)")
    func allowedCountMatchesStages() {
        let variations = allCombinations + [policy(.default, allow: ["openat2", "ptrace"]), policy(.default, deny: ["openat2", "uname"]),
                                            policy(.permissive, deny: ["openat2"]), policy(.default, allow: ["clone3"])]
        for p in variations {
            let stages = SeccompProgram(p).stages
            let allowed = Seccomp.nativeSyscallNames().filter { name in
                // Refused outright by the guard: never allowed; refused only for some arguments: allowed, filtered.
                if stages[0].rules.contains(where: { $0.name == name && $0.args.isEmpty && $0.action != .allow }) { return false }
                guard stages.count > 1 else { return stages[0].defaultAction == .allow }
                return stages[1].rules.contains { $0.name == name && $0.action == .allow }
            }
            #expect(Seccomp.summary(p).allowedCount == allowed.count, "\(p): summary \(Seccomp.summary(p).allowedCount), stages \(allowed.count)")
            #expect(!allowed.contains("openat2") && !allowed.contains("clone3"), "\(p)")
        }
    }

    @Test("timing: embedded program vs libseccomp compile (printed, not asserted)")
    func timing() throws {
        let clock = ContinuousClock()
        for preset in SeccompPolicy.Preset.allCases {
            let p = policy(preset)
            let rounds = 50
            let fresh = try clock.measure { for _ in 0..<rounds { _ = try Seccomp.compileWithLibseccomp(p) } }
            let embedded = try clock.measure { for _ in 0..<rounds { _ = try Seccomp.compile(p) } }
            let instructions = try Seccomp.compile(p).count / 8
            print("seccomp timing \(preset.rawValue): libseccomp \(fresh / rounds), embedded \(embedded / rounds), "
                + "\(instructions) instructions, \(Seccomp.summary(p).allowedCount) syscalls allowed")
        }
    }
}

@Suite("Seccomp filters installed in a real process")
struct SeccompRuntimeTests {
    @Test("legitimate tools run under every preset × action", arguments: allCombinations)
    func toolsRun(_ policy: SeccompPolicy) throws {
        let bpf = try Seccomp.compile(policy)
        #expect(try run(bpf, ["exec", "/bin/true"]).exitedZero)
        let echo = try run(bpf, ["exec", "/bin/sh", "-c", "echo hi; ls / >/dev/null; cat /etc/hostname >/dev/null | sort; uname -a >/dev/null"])
        #expect(echo.exitedZero && echo.stdout == "hi\n", "\(echo)")
        let python = try run(bpf, ["exec", "/usr/bin/python3", "-c", """
            import asyncio, subprocess, threading, socket, tempfile, os
            results = []
            t = threading.Thread(target=lambda: results.append(subprocess.run(["/bin/echo", "sub"], capture_output=True).stdout))
            t.start(); t.join()
            async def main():
                p = await asyncio.create_subprocess_exec("/bin/true")
                await p.wait()
                await asyncio.sleep(0.01)
                return p.returncode
            rc = asyncio.run(main())
            a, b = socket.socketpair(); a.send(b"x"); assert b.recv(1) == b"x"
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.close()
            with tempfile.TemporaryDirectory() as d:
                open(os.path.join(d, "f"), "w").write("ok")
            print(results[0].decode().strip(), rc)
            """])
        #expect(python.exitedZero && python.stdout == "sub 0\n", "\(python)")
        let node = try run(bpf, ["exec", "/usr/bin/node", "-e",
            "require('child_process').execFileSync('/bin/true'); require('fs').readdirSync('/'); console.log('node ok')"])
        #expect(node.exitedZero && node.stdout == "node ok\n", "\(node)")

        let repo = FileManager.default.temporaryDirectory.appendingPathComponent("mcpbox-seccomp-git-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: repo, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: repo) }
        let git = try run(bpf, ["exec", "/bin/sh", "-c", """
            git init -q . && echo a > a && git add a && \
            git -c user.name=t -c user.email=t@t commit -qm one && git status --short && git log --oneline | wc -l
            """], cwd: repo.path)
        #expect(git.exitedZero && git.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(git)")
    }

    @Test("dangerous syscalls are refused in both presets", arguments: allCombinations)
    func dangerousRefused(_ policy: SeccompPolicy) throws {
        let bpf = try Seccomp.compile(policy)
        let killed = policy.defaultAction == .kill
        for call in [[nrPtrace, 0], [nrKeyctl, 0], [nrAddKey, 0], [nrBpf, 0], [nrIoUringSetup, 1, 0],
                     [nrMount, 0, 0, 0], [nrSetns, 0, 0], [nrPidfdGetfd, 0, 0, 0],
                     [nrPerfEventOpen, 0], [nrUserfaultfd, 0], [nrProcessVmReadv, 1]] {
            let result = try raw(bpf, call[0], call.count > 1 ? call[1] : 0, call.count > 2 ? call[2] : 0,
                                 call.count > 3 ? call[3] : 0)
            if killed {
                #expect(result == nil, "syscall \(call[0]) was not killed")
            } else {
                #expect(result?.ret == -1 && result?.errno == EPERM, "syscall \(call[0]): \(String(describing: result))")
            }
        }
        let unshareUser = try run(bpf, ["exec", "/usr/bin/unshare", "-U", "/bin/true"])
        #expect(!unshareUser.exitedZero)
        let python = try run(bpf, ["exec", "/usr/bin/python3", "-c", """
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            r = libc.syscall(101, 0, 0, 0, 0)
            print(r, ctypes.get_errno())
            """])
        if killed {
            #expect(python.signaled && python.status == SIGSYS)
        } else {
            #expect(python.stdout == "-1 \(EPERM)\n", "\(python)")
        }
    }

    @Test("argument filters: clone, clone3, unshare, fcntl, ioctl, socket, AIO", arguments: allCombinations)
    func argumentFilters(_ policy: SeccompPolicy) throws {
        let bpf = try Seccomp.compile(policy)
        let killed = policy.defaultAction == .kill
        func refused(_ result: (ret: Int, errno: Int32)?, _ errno: Int32, _ what: String) {
            if killed {
                #expect(result == nil, "\(what) was not killed")
            } else {
                #expect(result?.ret == -1 && result?.errno == errno, "\(what): \(String(describing: result))")
            }
        }
        // clone3 always answers ENOSYS, whatever the action.
        let clone3 = try raw(bpf, nrClone3, 0, 0)
        #expect(clone3?.ret == -1 && clone3?.errno == ENOSYS)
        refused(try raw(bpf, nrClone, 0x1000_0000 | 17, 0, 0, 0, 0), EPERM, "clone(CLONE_NEWUSER)")
        refused(try raw(bpf, nrClone, 0x4000_0000 | 17, 0, 0, 0, 0), EPERM, "clone(CLONE_NEWNET)")
        let plainClone = try raw(bpf, nrClone, 17, 0, 0, 0, 0)
        #expect((plainClone?.ret ?? -1) > 0, "plain clone: \(String(describing: plainClone))")
        refused(try raw(bpf, nrUnshare, 0x0002_0000), EPERM, "unshare(CLONE_NEWNS)")
        refused(try raw(bpf, nrUnshare, 0x80), EPERM, "unshare(CLONE_NEWTIME)")
        #expect(try raw(bpf, nrUnshare, 0x400)?.ret == 0, "unshare(CLONE_FILES) must work")

        refused(try raw(bpf, nrIoctl, 0, 0x5412, 0), EPERM, "ioctl(TIOCSTI)")
        refused(try raw(bpf, nrIoctl, 0, 0x1_0000_5412, 0), EPERM, "ioctl(TIOCSTI | high bits)")
        refused(try raw(bpf, nrIoctl, 0, 0x541C, 0), EPERM, "ioctl(TIOCLINUX)")
        // F_SETLEASE is refused; F_GETFL (3) still works. The AIO family answers ENOSYS.
        refused(try raw(bpf, 72, 0, 1024, 0), EPERM, "fcntl(F_SETLEASE)")
        refused(try raw(bpf, 72, 0, 0x1_0000_0400, 0), EPERM, "fcntl(F_SETLEASE | high bits)")
        #expect((try raw(bpf, 72, 0, 3, 0)?.ret ?? -1) >= 0, "fcntl(F_GETFL) must work")
        for nr in [206, 207, 208, 209, 210, 333] as [UInt64] {
            let aio = try raw(bpf, nr, 0, 0)
            #expect(aio?.ret == -1 && aio?.errno == ENOSYS, "AIO syscall \(nr): \(String(describing: aio))")
        }
        let tcgets = try raw(bpf, nrIoctl, 0, 0x5401, 0)
        #expect(tcgets?.errno == ENOTTY, "ioctl(TCGETS) on a pipe: \(String(describing: tcgets))")

        refused(try raw(bpf, nrSocket, 40, 1, 0), EAFNOSUPPORT, "socket(AF_VSOCK)")
        refused(try raw(bpf, nrSocket, 17, 3, 0), EAFNOSUPPORT, "socket(AF_PACKET)")
        refused(try raw(bpf, nrSocket, 16, 3, 9), EAFNOSUPPORT, "socket(AF_NETLINK, NETLINK_AUDIT)")
        refused(try raw(bpf, nrSocket, 0x1_0000_0001, 1, 0), EAFNOSUPPORT, "socket(AF_UNIX | high bits)")
        refused(try raw(bpf, nrSocket, 0, 1, 0), EAFNOSUPPORT, "socket(AF_UNSPEC)")
        for (family, type) in [(UInt64(1), UInt64(1)), (2, 1), (10, 2), (16, 3)] {
            let opened = try raw(bpf, nrSocket, family, type, 0)
            #expect((opened?.ret ?? -1) >= 0, "socket(\(family)) must work: \(String(describing: opened))")
        }
    }

    @Test("non-native ABIs kill the process: x32 and int 0x80", arguments: SeccompPolicy.Preset.allCases)
    func nonNativeABIs(_ preset: SeccompPolicy.Preset) throws {
        let bpf = try Seccomp.compile(policy(preset, .log))
        for mode in ["x32", "int80"] {
            let outcome = try run(bpf, [mode])
            #expect(outcome.signaled && outcome.status == SIGSYS, "\(mode): \(outcome)")
        }
    }

    @Test("the default preset's other syscalls get the default action; permissive allows them")
    func defaultActions() throws {
        let errno = try raw(Seccomp.compile(policy(.default, .errno)), nrGetpmsg)
        #expect(errno?.ret == -1 && errno?.errno == EPERM)
        #expect(try raw(Seccomp.compile(policy(.default, .kill)), nrGetpmsg) == nil)
        let logged = try raw(Seccomp.compile(policy(.default, .log)), nrGetpmsg)
        #expect(logged?.errno == ENOSYS, "log lets the syscall through to the kernel")
        let permissive = try raw(Seccomp.compile(policy(.permissive, .kill)), nrGetpmsg)
        #expect(permissive?.errno == ENOSYS)

        let defaultPersona = try Seccomp.compile(policy(.default))
        #expect(try raw(defaultPersona, nrPersonality, 0xffff_ffff)?.ret ?? -1 >= 0)
        #expect(try raw(defaultPersona, nrPersonality, 0x0040000)?.errno == EPERM, "ADDR_NO_RANDOMIZE")
        #expect(try raw(Seccomp.compile(policy(.permissive)), nrPersonality, 0xffff_ffff)?.ret ?? -1 >= 0)
    }

    @Test("profile allow adds, deny removes, deny wins")
    func allowAndDeny() throws {
        let allowed = try Seccomp.compile(policy(.default, allow: ["ptrace"]))
        // PTRACE_TRACEME succeeds when not already traced.
        #expect(try raw(allowed, nrPtrace, 0)?.ret == 0)
        let both = try Seccomp.compile(policy(.default, allow: ["ptrace"], deny: ["ptrace"]))
        #expect(try raw(both, nrPtrace, 0)?.errno == EPERM)

        for preset in SeccompPolicy.Preset.allCases {
            let denied = try Seccomp.compile(policy(preset, deny: ["uname", "socket", "clone3"]))
            #expect(try raw(denied, nrUname, 0)?.errno == EPERM)
            #expect(try raw(denied, nrSocket, 1, 1, 0)?.errno == EPERM, "deny socket removes it entirely")
            #expect(try raw(denied, nrClone3, 0, 0)?.errno == EPERM)
            #expect(try !run(denied, ["exec", "/bin/uname"]).exitedZero)
            #expect(try run(denied, ["exec", "/bin/true"]).exitedZero)
        }
        let permissiveAllow = try Seccomp.compile(policy(.permissive, allow: ["ptrace"]))
        #expect(try raw(permissiveAllow, nrPtrace, 0)?.ret == 0)
        let guardedAllow = try Seccomp.compile(policy(.default, allow: ["ioctl"]))
        #expect(try raw(guardedAllow, nrIoctl, 0, 0x5412, 0)?.errno == EPERM, "allow ioctl keeps its filter")
    }
}
