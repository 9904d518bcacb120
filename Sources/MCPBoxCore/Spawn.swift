import CSandbox
import MCPBoxNetwork
#if canImport(Glibc)
import Glibc
#endif

/// A launch that failed before the server ran: which stage, which errno, and where.
public struct SpawnError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `enum mcpbox_stage` of the C child stage.
    public var stage: Int32
    /// The errno the stage failed with.
    public var code: Int32
    /// The mount target (mount stages), or the path the stage was about.
    public var target: String?

    public init(stage: Int32, code: Int32, target: String? = nil) {
        self.stage = stage
        self.code = code
        self.target = target
    }

    /// mcpbox's exit status: 127 when the command is not found, 126 when it cannot be
    /// executed, 125 for every other setup failure.
    public var exitCode: Int32 {
        guard stage == Int32(MCPBOX_STAGE_EXEC.rawValue) else { return 125 }
        return code == ENOENT ? 127 : 126
    }

    /// Short name of the stage, as printed.
    public var stageName: String {
        switch UInt32(stage) {
        case MCPBOX_STAGE_CLONE.rawValue: return "creating namespaces (clone)"
        case MCPBOX_STAGE_SYNC.rawValue: return "releasing the sandbox"
        case MCPBOX_STAGE_PDEATHSIG.rawValue: return "parent-death signal"
        case MCPBOX_STAGE_IDENTITY_SETUP.rawValue: return "identity setup"
        case MCPBOX_STAGE_MOUNT_PRIVATE.rawValue: return "making mounts private"
        case MCPBOX_STAGE_MOUNT_ROOT.rawValue: return "root tmpfs"
        case MCPBOX_STAGE_MOUNT_BIND.rawValue: return "bind mount"
        case MCPBOX_STAGE_MOUNT_TMPFS.rawValue: return "tmpfs mount"
        case MCPBOX_STAGE_MOUNT_PROC.rawValue: return "proc mount"
        case MCPBOX_STAGE_MOUNT_DEV.rawValue: return "dev mount"
        case MCPBOX_STAGE_MOUNT_FILE.rawValue: return "synthesized file"
        case MCPBOX_STAGE_MOUNT_HIDE.rawValue: return "hide"
        case MCPBOX_STAGE_MOUNT_TARGET.rawValue: return "mount point"
        case MCPBOX_STAGE_MOUNT_SOURCE.rawValue: return "bind source"
        case MCPBOX_STAGE_PIVOT_ROOT.rawValue: return "pivot_root"
        case MCPBOX_STAGE_REMOUNT_ROOT.rawValue: return "read-only root"
        case MCPBOX_STAGE_HOSTNAME.rawValue: return "hostname"
        case MCPBOX_STAGE_LOOPBACK.rawValue: return "loopback"
        case MCPBOX_STAGE_RLIMIT.rawValue: return "rlimits"
        case MCPBOX_STAGE_FORK_SERVER.rawValue: return "forking the server"
        case MCPBOX_STAGE_SETSID.rawValue: return "setsid"
        case MCPBOX_STAGE_STDIO.rawValue: return "stdio"
        case MCPBOX_STAGE_CLOSE_FDS.rawValue: return "closing fds"
        case MCPBOX_STAGE_CHDIR.rawValue: return "cwd"
        case MCPBOX_STAGE_CAPS.rawValue: return "dropping capabilities"
        case MCPBOX_STAGE_SETGROUPS.rawValue: return "setgroups"
        case MCPBOX_STAGE_SETGID.rawValue: return "setresgid"
        case MCPBOX_STAGE_SETUID.rawValue: return "setresuid"
        case MCPBOX_STAGE_SECUREBITS.rawValue: return "securebits"
        case MCPBOX_STAGE_NO_NEW_PRIVS.rawValue: return "no_new_privs"
        case MCPBOX_STAGE_SECCOMP.rawValue: return "seccomp"
        case MCPBOX_STAGE_EXEC.rawValue: return "exec"
        case MCPBOX_STAGE_UID_MAP.rawValue: return "uid/gid map"
        case MCPBOX_STAGE_CGROUP.rawValue: return "cgroup"
        case MCPBOX_STAGE_SIGNALS.rawValue: return "signal mask"
        case MCPBOX_STAGE_LANDLOCK.rawValue: return "landlock"
        case MCPBOX_STAGE_KEYRING.rawValue: return "session keyring"
        default: return "stage \(stage)"
        }
    }

    /// What to do about it, when there is something useful to say.
    public var hint: String? {
        switch UInt32(stage) {
        case MCPBOX_STAGE_CLONE.rawValue:
            return "the kernel refused new namespaces; check that user namespaces are enabled "
                + "(sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone, AppArmor "
                + "kernel.apparmor_restrict_unprivileged_userns)"
        case MCPBOX_STAGE_UID_MAP.rawValue:
            return "the uid/gid map of the sandbox could not be written; for [user] name as an "
                + "ordinary user, the account's uid and gid must lie in your /etc/subuid and "
                + "/etc/subgid ranges and newuidmap/newgidmap must be installed"
        case MCPBOX_STAGE_MOUNT_SOURCE.rawValue:
            if code == ESTALE { return "the host path was replaced after mcpbox checked it; nothing was bound" }
            if code == ELOOP { return "a component of the host path is a symlink now; nothing was bound" }
            if code == ENOENT { return "the host path does not exist; create it or mark it optional with `?`" }
            return "check the host path in the profile"
        case MCPBOX_STAGE_MOUNT_TARGET.rawValue:
            if code == ELOOP { return "a component of the path inside the sandbox is a symlink; mcpbox never mounts through one" }
            if code == EROFS { return "the mount point would have to be created inside a read-only bind; create it on the host" }
            if code == ENOENT { return "a path to hide must exist" }
            return nil
        case MCPBOX_STAGE_EXEC.rawValue:
            if code == ENOENT { return "command not found inside the sandbox; bind the directory that holds it and its interpreter" }
            return "the command cannot be executed inside the sandbox"
        case MCPBOX_STAGE_CHDIR.rawValue:
            if code == EACCES || code == EPERM {
                return "the server's account may not enter the working directory; give it access, or set [user] name to an account that has it"
            }
            return "the working directory does not exist inside the sandbox; bind it or change `cwd`"
        case MCPBOX_STAGE_SECCOMP.rawValue:
            return "the kernel refused the seccomp filter; mcpbox never runs a server without one"
        case MCPBOX_STAGE_LANDLOCK.rawValue:
            return "the kernel refused the Landlock ruleset the plan requires; mcpbox never runs a server with less than explain shows (landlock.mode = \"off\" turns the second wall off)"
        case MCPBOX_STAGE_RLIMIT.rawValue:
            if code == EPERM { return "a limit is above the hard limit mcpbox runs under; raise it (ulimit -H) or lower the profile's [limits]" }
            return nil
        case MCPBOX_STAGE_CGROUP.rawValue:
            return "memory and cpu limits need a writable cgroup hierarchy (run as root, or remove [limits] memory/cpu)"
        default:
            return nil
        }
    }

    /// `mcpbox: <stage> <target>: <strerror> (<hint>)`.
    public var description: String {
        var s = "mcpbox: \(stageName)"
        if let target { s += " \(target)" }
        s += ": " + String(cString: strerror(code))
        if let hint { s += " (\(hint))" }
        return s
    }
}

/// A running sandbox: its pid 1 and the parent's ends of the launch pipes.
public struct Sandbox: Sendable {
    /// pid (in mcpbox's namespace) of the sandbox's pid 1.
    public let pid: pid_t
    let errorFD: Int32
    let syncFD: Int32
    let cgroups: Cgroups?
    /// What each mount index is called in messages: the target, and the host source of binds.
    let targets: [String]
    /// The server's executable inside the sandbox, named by exec failures.
    let executable: String
    /// The path of each Landlock rule, named by Landlock failures.
    var landlockPaths: [String] = []
    /// A pidfd of pid 1 when it is the relay host's child (`Spawn.start(hostParent:)`), else -1.
    var pidfd: Int32 = -1

    /// Reads the error pipe to EOF: nil once the server has exec'd, else why it did not.
    /// Closes the error pipe.
    public func awaitExec() -> SpawnError? {
        var record = mcpbox_child_error()
        let want = MemoryLayout<mcpbox_child_error>.size
        var got = 0
        while got < want {
            let n = withUnsafeMutableBytes(of: &record) { buf in
                read(errorFD, buf.baseAddress! + got, want - got)
            }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            got += n
        }
        close(errorFD)
        guard got == want else { return nil }
        let names = record.stage == Int32(MCPBOX_STAGE_LANDLOCK.rawValue) ? landlockPaths
            : record.stage == Int32(MCPBOX_STAGE_CGROUP.rawValue) ? (cgroups?.dirs ?? []) : targets
        var target = record.index >= 0 && Int(record.index) < names.count ? names[Int(record.index)] : nil
        if record.stage == Int32(MCPBOX_STAGE_EXEC.rawValue) { target = executable }
        return SpawnError(stage: record.stage, code: record.err, target: target)
    }

    /// Waits for pid 1 and returns mcpbox's exit status for it (exit code, or 128+N for
    /// signal N); then releases what the launch held (`finish`).
    public func wait() -> Int32 {
        let status = mcpbox_wait_gone(pid, pidfd)
        finish()
        return mcpbox_exit_status(status)
    }

    /// Releases the sync pipe (and pidfd) and removes the cgroups; call once pid 1 is gone.
    public func finish() {
        close(syncFD)
        if pidfd >= 0 { close(pidfd) }
        cgroups?.remove()
    }
}

/// Turns a plan into the C launch description and clones the sandbox.
public enum Spawn {
    /// The bytes of mcpbox's own argv strings, which the kernel lays out contiguously (what
    /// /proc/PID/cmdline reads); (nil, 0) if they are not contiguous.
    static func commandLineArea() -> (UnsafeMutablePointer<CChar>?, Int) {
        let argc = Int(CommandLine.argc)
        guard argc > 0, let first = CommandLine.unsafeArgv[0] else { return (nil, 0) }
        var end = first
        for i in 0..<argc {
            guard let arg = CommandLine.unsafeArgv[i], arg == end else { return (nil, 0) }
            end = arg + strlen(arg) + 1
        }
        return (first, end - first)
    }

    /// A close-on-exec pipe for one of the server's stdio streams, both ends >= 3; nil with
    /// errno on failure.
    ///
    /// The server runs as another uid than the pipe's creator (root, or the caller under a
    /// subordinate map), so the pipe is made mode 0666: otherwise reopening its own stdio
    /// through /dev/stdout (/proc/self/fd/1) fails with EACCES. Only holders of the pipe, or
    /// processes allowed to ptrace them, can reach it through /proc: nobody else gains access.
    public static func stdioPipe() -> (read: Int32, write: Int32)? {
        var fds: [Int32] = [-1, -1]
        guard mcpbox_pipe_cloexec(&fds) == 0 else { return nil }
        fchmod(fds[0], 0o666)
        return (fds[0], fds[1])
    }

    /// A mount as failure messages name it: `/target`, or `/target (host /source)` for binds.
    static func describe(_ m: Mount) -> String {
        if case .bind(let source, _) = m.kind, source != m.target { return "\(m.target) (host \(source))" }
        return m.target
    }

    /// Starts the sandbox for `plan` with the server's stdio on the given fds (child ends
    /// of the relay pipes; the caller closes its copies afterwards). `bpf` is the compiled
    /// seccomp program (struct sock_filter[]). Returns once pid 1 has been released.
    /// `hostParent`: pid 1 becomes a child of the relay host (`mcpbox_host.h`), which relays
    /// and reaps it after `Launcher` hands the session over.
    public static func start(_ plan: SandboxPlan, bpf: [UInt8], stdin: Int32, stdout: Int32,
                             stderr: Int32, egressFD: Int32 = -1, hostParent: Bool = false) throws(SpawnError) -> Sandbox {
        guard let executable = plan.executable else {
            throw SpawnError(stage: Int32(MCPBOX_STAGE_EXEC.rawValue), code: ENOENT,
                             target: plan.argv.first)
        }
        let id = plan.identity
        guard id.insideUid != 0, id.hostUid != 0, id.insideGid != 0, id.hostGid != 0 else {
            // Defense in depth: the plan builder already refuses this.
            throw SpawnError(stage: Int32(MCPBOX_STAGE_IDENTITY_SETUP.rawValue), code: EPERM,
                             target: "uid 0")
        }
        guard !bpf.isEmpty, bpf.count % 8 == 0, bpf.count / 8 <= Int(UInt16.max) else {
            throw SpawnError(stage: Int32(MCPBOX_STAGE_SECCOMP.rawValue), code: EINVAL)
        }
        let arena = Arena()
        defer { arena.free() }

        // Only root can clone mounts in mcpbox's own mount namespace; an ordinary caller's
        // child re-opens and checks the sources itself (see mcpbox_launch.h).
        let privileged = geteuid() == 0
        var mounts = [mcpbox_mount]()
        mounts.reserveCapacity(plan.mounts.count)
        var rootBytes: UInt64 = 1 << 20
        for m in plan.mounts {
            var c = mcpbox_mount()
            c.source_tree = -1
            c.target = arena.string(m.target)
            switch m.kind {
            case .bind(let source, let readOnly):
                c.kind = Int32(readOnly ? MCPBOX_MOUNT_BIND_RO.rawValue : MCPBOX_MOUNT_BIND_RW.rawValue)
                // The plan's source is already the real path: it is opened as it stands, with
                // RESOLVE_NO_SYMLINKS, so a symlink swapped in since planning fails (ELOOP)
                // instead of being followed (no second realpath here).
                let canonical = arena.string(source)
                c.source = canonical
                var dev: UInt64 = 0, ino: UInt64 = 0, isDir: Int32 = 0
                if privileged {
                    // Root clones the checked fd itself: the child only attaches it.
                    c.source_tree = mcpbox_clone_source(canonical, readOnly ? 1 : 0, &dev, &ino, &isDir)
                    guard c.source_tree >= 0 else {
                        throw SpawnError(stage: Int32(MCPBOX_STAGE_MOUNT_SOURCE.rawValue), code: errno,
                                         target: source)
                    }
                    arena.adoptFD(c.source_tree)
                } else {
                    c.source_tree = -1
                    if mcpbox_check_source(canonical, &dev, &ino, &isDir) < 0 {
                        throw SpawnError(stage: Int32(MCPBOX_STAGE_MOUNT_SOURCE.rawValue), code: errno,
                                         target: source)
                    }
                }
                // The object the plan's checks looked at, or nothing: a directory renamed into
                // the checked path since (`renameat2(RENAME_EXCHANGE)`) is another object.
                if let planned = plan.sourceIdentities[PathKey(source)], planned != FileIdentity(dev: dev, ino: ino) {
                    throw SpawnError(stage: Int32(MCPBOX_STAGE_MOUNT_SOURCE.rawValue), code: ESTALE, target: source)
                }
                c.source_dev = dev
                c.source_ino = ino
                c.source_is_dir = isDir
            case .symlink(let link):
                c.kind = Int32(MCPBOX_MOUNT_SYMLINK.rawValue)
                c.data = arena.string(link)
                c.data_len = link.utf8.count
            case .tmpfs(let size):
                c.kind = Int32(MCPBOX_MOUNT_TMPFS.rawValue)
                c.size = size
            case .proc:
                c.kind = Int32(MCPBOX_MOUNT_PROC.rawValue)
            case .dev:
                c.kind = Int32(MCPBOX_MOUNT_DEV.rawValue)
                c.size = plan.limits.tmpfsSizeBytes
            case .file(let contents):
                c.kind = Int32(MCPBOX_MOUNT_FILE.rawValue)
                let bytes = Array(contents.utf8)
                c.data = arena.bytes(bytes)
                c.data_len = bytes.count
                rootBytes += UInt64(bytes.count) + 4096
            case .hide(let isDirectory):
                c.kind = Int32(isDirectory ? MCPBOX_MOUNT_HIDE_DIR.rawValue : MCPBOX_MOUNT_HIDE_FILE.rawValue)
            }
            mounts.append(c)
        }

        Cgroups.sweep()
        // Named after the process that removes them: the relay host when it takes the session.
        let cgroups = try Cgroups.create(for: plan.limits, owner: hostParent ? mcpbox_host_pid() : getpid())
        var ok = false
        defer { if !ok { cgroups?.remove() } }

        var launch = mcpbox_launch()
        // Every namespace, always (the plan lists them all); the network one unless the
        // profile asked for the host's network.
        var flags: Int32 = 0x1000_0000 | 0x0002_0000 | 0x2000_0000  // NEWUSER | NEWNS | NEWPID
        flags |= 0x0800_0000 | 0x0400_0000 | 0x0200_0000           // NEWIPC | NEWUTS | NEWCGROUP
        if plan.network != .host { flags |= 0x4000_0000 }           // NEWNET
        launch.clone_flags = flags
        launch.new_net = plan.network != .host ? 1 : 0
        if plan.egress != nil {
            // The network helper makes the proxy listener inside the sandbox's namespace and
            // sends it on this socket (mcpbox_egress.h).
            guard egressFD >= 0 else { throw SpawnError(stage: Int32(MCPBOX_STAGE_LOOPBACK.rawValue), code: EBADF, target: "egress") }
            launch.egress = 1
            launch.egress_fd = egressFD
            launch.egress_proxy_port = EgressPolicy.proxyPort
            let ports = plan.egress?.policy.capturePorts ?? []
            let buf = UnsafeMutablePointer<UInt16>.allocate(capacity: max(ports.count, 1))
            for (i, p) in ports.enumerated() { buf[i] = p }
            arena.adopt(raw: UnsafeMutableRawPointer(buf))
            launch.egress_capture_ports = UnsafePointer(buf)
            launch.n_egress_capture_ports = ports.count
        }

        launch.uid = id.insideUid
        launch.gid = id.insideGid
        switch id.mechanism {
        case .rootAccount, .rootNobody:
            launch.map_mode = Int32(MCPBOX_MAP_WRITE.rawValue)
            launch.uid_map = arena.string("\(id.insideUid) \(id.hostUid) 1\n")
            launch.gid_map = arena.string("\(id.insideGid) \(id.hostGid) 1\n")
            launch.deny_setgroups = 0
        case .callerRemap:
            launch.map_mode = Int32(MCPBOX_MAP_WRITE.rawValue)
            launch.uid_map = arena.string("\(id.insideUid) \(geteuid()) 1\n")
            launch.gid_map = arena.string("\(id.insideGid) \(getegid()) 1\n")
            launch.deny_setgroups = 1
        case .subordinate:
            launch.map_mode = Int32(MCPBOX_MAP_NEWUIDMAP.rawValue)
            launch.newuidmap_path = arena.string("/usr/bin/newuidmap")
            launch.newgidmap_path = arena.string("/usr/bin/newgidmap")
            launch.newuidmap_args = arena.constStringArray(["\(id.insideUid)", "\(id.hostUid)", "1"])
            launch.newgidmap_args = arena.constStringArray(["\(id.insideGid)", "\(id.hostGid)", "1"])
            launch.deny_setgroups = 0
        }

        launch.n_mounts = mounts.count
        launch.root_size = rootBytes
        launch.hostname = arena.string(plan.hostname)
        launch.cwd = arena.string(plan.cwd)
        launch.exec_path = arena.string(executable)
        launch.argv = arena.stringArray(plan.argv)
        launch.envp = arena.stringArray(plan.environment.map { "\($0.name)=\($0.value)" })

        launch.rlimit_nofile = plan.limits.openFiles
        launch.inotify_instances = plan.limits.inotifyInstances ?? 0
        launch.inotify_watches = plan.limits.inotifyWatches ?? 0
        if let processes = plan.limits.processes {
            // Exactly the profile's number, as /proc/self/limits shows it inside: pid 1 (the
            // reaper) runs as the same uid in the same user namespace and is one of them.
            launch.rlimit_nproc = processes
        }
        launch.stdin_fd = stdin
        launch.stdout_fd = stdout
        launch.stderr_fd = stderr
        (launch.argv_area, launch.argv_area_len) = Spawn.commandLineArea()
        launch.landlock = plan.landlock.cDescription(arena)
        launch.new_session_keyring = plan.seccomp.reachesKeyrings ? 1 : 0
        if hostParent {
            launch.host_parent = 1
            launch.host_fd = mcpbox_host_socket()
        }

        let procsFDs = cgroups?.procsFDs ?? []
        var spawned = mcpbox_spawned()
        var failure = mcpbox_child_error()
        let rc = bpf.withUnsafeBytes { program in
            mounts.withUnsafeBufferPointer { mountBuf in
                procsFDs.withUnsafeBufferPointer { procs in
                    launch.bpf = program.baseAddress
                    launch.bpf_len = UInt16(bpf.count / 8)
                    launch.mounts = mountBuf.baseAddress
                    if cgroups?.joinedByPid1 == true {
                        launch.cgroup_tasks_fds = procs.baseAddress
                        launch.n_cgroup_tasks_fds = procs.count
                    } else {
                        launch.cgroup_procs_fds = procs.baseAddress
                        launch.n_cgroup_procs_fds = procs.count
                    }
                    return mcpbox_launch_spawn(&launch, &spawned, &failure)
                }
            }
        }
        cgroups?.closeProcsFDs()
        if rc != 0 {
            throw SpawnError(stage: failure.stage, code: failure.err)
        }
        ok = true
        return Sandbox(pid: spawned.pid, errorFD: spawned.error_fd, syncFD: spawned.sync_fd,
                       cgroups: cgroups, targets: plan.mounts.map(Spawn.describe), executable: executable,
                       landlockPaths: plan.landlock.rules.map(\.path), pidfd: spawned.pidfd)
    }
}

/// C memory (and detached mount trees) for one launch, released together once the clone
/// has copied them.
final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []
    private var fds: [Int32] = []
    private var allocated: [UnsafeMutableRawPointer] = []

    func adoptFD(_ fd: Int32) {
        fds.append(fd)
    }

    func string(_ s: String) -> UnsafePointer<CChar> {
        let p = strdup(s)!
        blocks.append(UnsafeMutableRawPointer(p))
        return UnsafePointer(p)
    }

    func adopt(_ p: UnsafeMutablePointer<CChar>) {
        blocks.append(UnsafeMutableRawPointer(p))
    }

    /// Frees `p` (from UnsafeMutablePointer.allocate) with the rest.
    func adopt(raw p: UnsafeMutableRawPointer) {
        allocated.append(p)
    }

    func bytes(_ b: [UInt8]) -> UnsafePointer<CChar> {
        let raw = malloc(max(b.count, 1))!
        b.withUnsafeBytes { src in
            if let base = src.baseAddress { memcpy(raw, base, b.count) }
        }
        blocks.append(raw)
        return UnsafePointer(raw.assumingMemoryBound(to: CChar.self))
    }

    /// Uninitialized memory for `count` values (at least one) of `type`.
    func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let raw = malloc(MemoryLayout<T>.stride * max(count, 1))!
        blocks.append(raw)
        return raw.bindMemory(to: T.self, capacity: max(count, 1))
    }

    func stringArray(_ items: [String]) -> UnsafePointer<UnsafeMutablePointer<CChar>?> {
        let raw = malloc(MemoryLayout<UnsafeMutablePointer<CChar>?>.stride * (items.count + 1))!
        let arr = raw.bindMemory(to: UnsafeMutablePointer<CChar>?.self, capacity: items.count + 1)
        for (i, s) in items.enumerated() {
            arr[i] = UnsafeMutablePointer(mutating: string(s))
        }
        arr[items.count] = nil
        blocks.append(raw)
        return UnsafePointer(arr)
    }

    func constStringArray(_ items: [String]) -> UnsafePointer<UnsafePointer<CChar>?> {
        UnsafeRawPointer(stringArray(items)).assumingMemoryBound(to: UnsafePointer<CChar>?.self)
    }

    func free() {
        for b in blocks { Glibc.free(b) }
        blocks.removeAll()
        for p in allocated { p.deallocate() }
        allocated.removeAll()
        for fd in fds { close(fd) }
        fds.removeAll()
    }
}
