import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A hostile server (Fixtures/hostile) tries every escape from inside a real `mcpbox run`;
/// each check is its own test case, run once per launch mode.
@Suite("Hostile server", .enabled(if: TestSupport.isRoot, "creates throwaway accounts: run as root (CI does)"))
struct HostileTests {
    static let dedicated = HostileRun.perform(.dedicatedAccount)
    static let unprivileged = HostileRun.perform(.unprivilegedCaller)

    @Test("root launch with [user] name: escape fails / legit op works", arguments: HostileRun.checkNames)
    func dedicatedAccount(check: String) {
        Self.dedicated.expect(check)
    }

    @Test("unprivileged launch (caller remap): escape fails / legit op works", arguments: HostileRun.checkNames)
    func unprivilegedCaller(check: String) {
        Self.unprivileged.expect(check)
    }

    @Test("root launch with [user] name: a file the server wrote is owned by the dedicated account")
    func dedicatedOwner() {
        Self.dedicated.expectOwner()
    }

    @Test("unprivileged launch: a file the server wrote is owned by the caller, never root")
    func unprivilegedOwner() {
        Self.unprivileged.expectOwner()
    }

    @Test("the hostile server reports exactly the checks this suite knows")
    func checkListInSync() {
        for run in [Self.dedicated, Self.unprivileged] {
            guard run.launchFailure == nil else { continue }
            let unknown = Set(run.results.keys).subtracting(HostileRun.checkNames)
            #expect(unknown.isEmpty, "\(run.mode): checks missing from HostileRun.checkNames: \(unknown.sorted())")
        }
    }
}

/// One launch of the hostile server and everything observed about it.
struct HostileRun: Sendable {
    enum Mode: String, Sendable {
        /// Root starts mcpbox; the profile names a dedicated system account.
        case dedicatedAccount = "root+[user]"
        /// An ordinary user (created for the test) starts mcpbox via setpriv; no [user].
        case unprivilegedCaller = "unprivileged"
        /// Root exports the `dedicatedAccount` profile as an OCI bundle and runs it with crun
        /// (ExportCrunTests).
        case crunBundle = "crun bundle"
        /// Root runs the `dedicatedAccount` profile with `[isolation] runtime = "gvisor"`
        /// (GVisorHostileTests).
        case gvisor = "gvisor"
        /// An ordinary user (created for the test, with a subordinate id range) runs the
        /// `unprivilegedCaller` profile with `[isolation] runtime = "gvisor"` (GVisorHostileTests).
        case gvisorOrdinaryUser = "gvisor, ordinary user"

        /// Whether an ordinary user starts mcpbox (via setpriv), without `[user]`.
        var ordinaryCaller: Bool { self == .unprivilegedCaller || self == .gvisorOrdinaryUser }
    }

    struct Check: Sendable {
        var ok: Bool
        var detail: String
        var kind: String
    }

    /// Every check hostile.py and hostile_sys.c report, in the order of issue 3 item 7.
    static let checkNames: [String] = [
        // filesystem
        "etc_shadow_unreadable", "host_file_unreadable", "home_and_root_unlistable", "ro_bind_unwritable",
        "usr_unwritable", "root_unwritable", "symlink_escape", "mknod", "proc_core_pattern_unwritable",
        "proc_sysrq_trigger_unwritable", "proc_sensitive_files_masked", "pid1_cmdline_blank", "nested_ro_bind_unmovable",
        "hidden_path_masked_and_unmovable", "setuid_bits_refused", "openat2_enosys",
        // processes and privileges
        "host_processes_invisible", "host_process_unsignalable", "fork_bomb_contained", "ptrace", "chroot", "chroot_raw", "setuid_0",
        "setuid0_raw", "unshare_user", "unshare_mount", "clone_newuser", "clone3_enosys", "setns", "mount", "umount",
        // dangerous syscalls
        "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "kexec_load",
        "kexec_file_load", "init_module", "finit_module", "open_by_handle_at", "syslog", "process_vm_readv",
        // other ABIs
        "ptrace_x32", "ptrace_int80", "i386_abi_refused", "x32_abi_refused",
        // terminal and devices
        "tiocsti_fd0", "tiocsti_fd1", "tiocsti_fd2", "tiocsti_high_bits", "tioclinux", "tty_ioctls_filtered_on_any_fd", "fcntl_setlease_refused", "dev_tty_unopenable", "no_block_devices_or_kmsg",
        // network
        "host_tcp_listener_unreachable", "host_abstract_socket_unreachable", "host_unix_socket_file_unreachable",
        "vsock_refused", "dns_fails", "only_loopback_interface",
        // inherited state and privileges
        "inherited_fds_closed", "env_secret_hidden", "capabilities_empty",
        // legitimate operations
        "not_uid_0", "own_session", "passwd_names_user", "read_ro_dir", "write_rw_dir", "write_tmp", "threads",
        "shell", "git", "node", "loopback_works", "raw_syscall_probe_ran",
    ]

    var mode: Mode
    /// Why no results exist (harness or mcpbox failure), with mcpbox's stderr.
    var launchFailure: String?
    var results: [String: Check] = [:]
    /// Host owner of the file the server wrote in its read-write dir, and who it must be.
    var writtenOwner: UInt32?
    var expectedOwner: UInt32 = 0
    var stderr = ""

    func expect(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        if let launchFailure {
            Issue.record("[\(mode.rawValue)] \(name): no result, \(launchFailure)", sourceLocation: sourceLocation)
            return
        }
        guard let c = results[name] else {
            Issue.record("[\(mode.rawValue)] \(name): the hostile server did not report this check", sourceLocation: sourceLocation)
            return
        }
        let what = c.kind == "legit" ? "legitimate operation FAILED" : "escape NOT prevented"
        #expect(c.ok, "[\(mode.rawValue)] \(name): \(what): \(c.detail)", sourceLocation: sourceLocation)
    }

    func expectOwner(sourceLocation: SourceLocation = #_sourceLocation) {
        if let launchFailure {
            Issue.record("[\(mode.rawValue)] no result, \(launchFailure)", sourceLocation: sourceLocation)
            return
        }
        guard let owner = writtenOwner else {
            Issue.record("[\(mode.rawValue)] the server's file is missing from the read-write dir on the host", sourceLocation: sourceLocation)
            return
        }
        #expect(owner != 0, "[\(mode.rawValue)] the server wrote a root-owned file on the host", sourceLocation: sourceLocation)
        #expect(owner == expectedOwner, "[\(mode.rawValue)] host owner of the server's file is uid \(owner), expected \(expectedOwner)",
                sourceLocation: sourceLocation)
    }

    static var fixtures: String {
        TestSupport.packageRoot.appendingPathComponent("Tests/SandboxTests/Fixtures/hostile").path
    }

    /// Sets up the fixtures, launches the hostile server under mcpbox, and cleans up everything.
    static func perform(_ mode: Mode) -> HostileRun {
        var run = HostileRun(mode: mode)
        do {
            try run.launch()
        } catch {
            run.launchFailure = "test harness: \(error)"
        }
        return run
    }

    private mutating func launch() throws {
        let mcpbox = try TestSupport.mcpboxBinary()
        let python = try TestSupport.systemPython()
        let tmp = try TempDir(prefix: "mcpbox-hostile")
        defer { tmp.remove() }
        let account = try TestAccount.create(prefix: mode == .dedicatedAccount ? "mcpbox-hostile" : "mcpbox-caller")
        defer { account.delete() }

        let token = String(UInt64.random(in: 0..<UInt64.max), radix: 36)
        let secretFile = try tmp.write("secret", "planted-host-secret-\(token)\n", mode: 0o644)
        let fdSecret = "parent-fd-secret-\(token)"
        let fdSecretFile = try tmp.write("fd-secret", fdSecret + "\n", mode: 0o600)
        let envSecret = "env-secret-\(token)"
        let roDir = try tmp.makeDir("ro", mode: 0o777)
        let roContent = "read-only content \(token)\n"
        let roFile = try tmp.write("ro/file", roContent, mode: 0o666)
        let rwDir = try tmp.makeDir("rw", mode: 0o755)
        let binDir = try tmp.makeDir("bin", mode: 0o755)
        let link = rwDir + "/link-to-secret"
        guard symlink(secretFile, link) == 0 else { throw SupportError("symlink: \(String(cString: strerror(errno)))") }
        guard chown(rwDir, account.uid, account.gid) == 0, lchown(link, account.uid, account.gid) == 0 else {
            throw SupportError("chown rw dir: \(String(cString: strerror(errno)))")
        }
        // A read-only bind and a hide mask nested in the read-write dir, each one level below a
        // directory the server owns (and would otherwise rename to put its own path there).
        let nestDir = try tmp.makeDir("rw/nest", mode: 0o755)
        let nestRO = try tmp.makeDir("rw/nest/ro", mode: 0o755)
        _ = try tmp.write("rw/nest/ro/hook", "original hook\n", mode: 0o644)
        let veilDir = try tmp.makeDir("rw/veil", mode: 0o755)
        let veiled = try tmp.write("rw/veil/secret", "veiled-\(token)\n", mode: 0o644)
        for dir in [nestDir, veilDir] where chown(dir, account.uid, account.gid) != 0 {
            throw SupportError("chown \(dir): \(String(cString: strerror(errno)))")
        }

        try FileManager.default.copyItem(atPath: Self.fixtures + "/hostile.py", toPath: binDir + "/hostile.py")
        chmod(binDir + "/hostile.py", 0o644)
        let sysBin = binDir + "/hostile_sys"
        try Self.compile(Self.fixtures + "/hostile_sys.c", to: sysBin)

        // A private copy of the binary: the unprivileged caller may not reach the build tree.
        let binary = tmp.sub("mcpbox")
        try FileManager.default.copyItem(atPath: mcpbox, toPath: binary)
        chmod(binary, 0o755)

        let tcp = try HostListener.tcpLoopback()
        defer { tcp.stop() }
        let abstractName = "mcpbox-hostile-\(token)"
        let abstract = try HostListener.abstractUnix(abstractName)
        defer { abstract.stop() }
        let sockPath = tmp.sub("host.sock")
        let unixFile = try HostListener.unixFile(sockPath)
        defer { unixFile.stop() }

        var profile = "description = \"hostile-server suite (\(mode.rawValue))\"\nextends = [\"base\"]\n\n"
        if !mode.ordinaryCaller {
            profile += "[user]\nname = \(tomlString(account.name))\n\n"
        }
        if mode == .gvisor || mode == .gvisorOrdinaryUser {
            // The memory limit holds gVisor's kernel too, where a forked Python process costs
            // about 4 MiB: the fork-bomb check's children under base's processes = 1024 exhaust
            // base's 1 GiB and the host's OOM killer ends the whole sandbox (contained, but no
            // report). At 128 processes the check sees fork fail, as under the native runtime.
            profile += "[isolation]\nruntime = \"gvisor\"\n\n[limits]\nprocesses = 128\n\n"
        }
        profile += """
            [filesystem]
            read_only = [\(tomlString(binDir)), \(tomlString(roDir)), \(tomlString(nestRO))]
            read_write = [\(tomlString(rwDir))]
            hide = [\(tomlString(veiled))]

            """
        let profilePath = try tmp.write("hostile.toml", profile, mode: 0o644)

        let config: [String: Any] = [
            "secret_file": secretFile, "ro_dir": roDir, "ro_file": roFile, "ro_content": roContent,
            "rw_dir": rwDir, "planted_symlink": link, "host_pid": Int(getpid()), "tcp_port": Int(tcp.port),
            "abstract_name": abstractName, "unix_path": sockPath, "fd_secret": fdSecret, "env_secret": envSecret,
            "sys_bin": sysBin, "nest_dir": nestDir, "nest_ro": nestRO, "veil_dir": veilDir, "veiled": veiled,
            "veiled_secret": "veiled-\(token)",
            "node": FileManager.default.isExecutableFile(atPath: "/usr/bin/node") ? "/usr/bin/node" : "",
        ]
        let configJSON = String(decoding: try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]), as: UTF8.self)
        let configFile = try tmp.write("bin/config.json", configJSON, mode: 0o644)

        // fd 7 is opened by root without close-on-exec and stays open through setpriv into mcpbox.
        var argv = ["/bin/sh", "-c", "exec 7<\"$0\" && exec \"$@\"", fdSecretFile]
        var env = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": tmp.path, "LANG": "C.UTF-8",
                   "MCPBOX_TEST_SECRET": envSecret]
        if mode == .gvisorOrdinaryUser {
            // runsc runs as two of the caller's subordinate ids; the bundle goes to its private
            // runtime directory (as systemd gives every login).
            try GVisorSupport.grantSubordinateIds(to: account)
            let runtime = try tmp.makeDir("xdg-runtime", mode: 0o700)
            guard chown(runtime, account.uid, account.gid) == 0 else { throw SupportError("chown \(runtime): \(String(cString: strerror(errno)))") }
            env["XDG_RUNTIME_DIR"] = runtime
        }
        if mode.ordinaryCaller {
            argv += ["/usr/bin/setpriv", "--reuid", String(account.uid), "--regid", String(account.gid), "--clear-groups", "--"]
        }
        let serverCommand = [python, binDir + "/hostile.py", configFile]
        let containerID = "mcpbox-hostile-\(token)"
        if mode == .crunBundle {
            let bundle = tmp.sub("bundle")
            let export = try runProcess([binary, "export", profilePath, "--profile-path", TestSupport.profilesDir, "--format", "oci",
                                         "--output", bundle, "--"] + serverCommand)
            guard export.status == 0 else {
                launchFailure = "mcpbox export exited \(export.status): \(export.stderr)"
                return
            }
            argv += CrunRunner.argv(bundle: bundle, id: containerID)
        } else {
            argv += [binary, "run", profilePath, "--profile-path", TestSupport.profilesDir, "--"] + serverCommand
        }
        defer { if mode == .crunBundle { CrunRunner.delete(containerID) } }
        expectedOwner = account.uid

        let result = try runProcess(argv, environment: env, keepStdinOpen: true, timeout: 300)
        stderr = result.stderr
        writtenOwner = ownerUID(of: rwDir + "/written-by-server")
        if result.timedOut {
            launchFailure = "mcpbox run timed out after \(Int(result.seconds)) s; stderr: \(result.stderr.suffix(2000))"
            return
        }
        guard let object = try? JSONSerialization.jsonObject(with: result.stdout) as? [String: [String: Any]] else {
            launchFailure = "mcpbox run exited \(result.status) without the hostile server's JSON; stderr: \(result.stderr.suffix(2000)); stdout: \(result.stdoutText.prefix(500))"
            return
        }
        for (name, value) in object {
            results[name] = Check(ok: value["ok"] as? Bool ?? false, detail: value["detail"] as? String ?? "",
                                  kind: value["kind"] as? String ?? "escape")
        }
        if result.status != 0 {
            launchFailure = "mcpbox run exited \(result.status) after the server reported; stderr: \(result.stderr.suffix(2000))"
        }
    }

    /// Compiles the raw-syscall prober, statically when the C library allows it.
    static func compile(_ source: String, to output: String) throws {
        var last = ""
        for flags in [["-static"], []] {
            let r = try runProcess(["/usr/bin/env", "cc"] + flags + ["-O1", "-o", output, source])
            if r.status == 0 {
                chmod(output, 0o755)
                return
            }
            last = r.stderr
        }
        throw SupportError("cc \(source) failed: \(last)")
    }
}
