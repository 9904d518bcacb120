import MCPBoxCore
#if canImport(Glibc)
import Glibc
#endif

@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func c_addclosefrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32

/// `[isolation] runtime = "gvisor"`: the plan's OCI bundle (`OCIExport`, the one translation)
/// run by gVisor's `runsc`, with mcpbox's relay, MCP layer, audit and git sweep in front of it.
///
/// runsc as packaged in Debian (20221219) refuses a user namespace in the bundle (its gofer
/// cannot start), so the bundle states none: the server's uid is the one gVisor's kernel gives
/// it, and on the host gVisor's sandbox (the server's code included, on the ptrace platform)
/// runs as nobody in runsc's own user namespace while its file proxy (gofer) runs as root with
/// reduced capabilities. runsc needs root for that setup: started by an ordinary user, mcpbox
/// runs runsc as root of a user namespace of its own (`GVisorUserNamespace`).
public enum GVisorRuntime {
    /// The bundle and the report, or why the plan cannot run under gVisor.
    public struct Prepared: Sendable {
        public var plan: SandboxPlan
        public var runsc: String
        public var bundle: OCIBundle
        /// The export's report, restated for gVisor: how each restriction is enforced there.
        public var rows: [Carryover]
        /// runsc's global flags (before `run`), state root and log excluded.
        public var flags: [String]
        /// Started by an ordinary user: the user namespace runsc runs in as root.
        public var userNamespace: GVisorUserNamespace? = nil
        /// What gVisor adds to the plan's warnings (in `plan.warnings` too): `run` prints them.
        public var warnings: [String] = []
    }

    /// Why the plan cannot run under gVisor (run exits 125; explain and check refuse too).
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var hint: String
        public var description: String { "\(message) (\(hint))" }
    }

    /// The platform runsc runs the server's code on: ptrace works on any host (no /dev/kvm).
    public static let platform = "ptrace"

    /// Builds the bundle and the report for `plan`, or refuses it. Pure but for `geteuid`,
    /// `isDirectory`, for an ordinary user `rootless`, and in allow mode `mcpbox` (its static
    /// binary) and `hostUDS` (`runsc flags`), and `ownership` of bind sources (host facts).
    public static func prepare(_ plan: SandboxPlan, euid: uid_t = geteuid(),
                               isDirectory: (String) -> Bool? = BundleWriter.isDirectory,
                               rootless: (SandboxPlan) -> Result<GVisorUserNamespace, Refusal> = { GVisorUserNamespace.forCaller($0) },
                               mcpbox: () -> String? = GVisorEgress.staticSelf,
                               hostUDS: (String) -> Bool = GVisorEgress.runscHasHostUDS,
                               ownership: (String) -> GVisorUserNamespace.Ownership? = GVisorUserNamespace.ownership) -> Result<Prepared, Refusal> {
        let iso = plan.isolation
        let fix = "or set [isolation] runtime = \"native\""
        guard let runsc = iso.runsc else {
            return .failure(Refusal(message: "runtime = \"gvisor\" (\(iso.origin)): runsc not found (looked in \(iso.runscLookup))",
                                    hint: "install gVisor's runsc (Debian: apt-get install runsc) or name it with [isolation] runsc = \"/path/to/runsc\", " + fix))
        }
        var userNamespace: GVisorUserNamespace?
        if euid != 0 {
            switch rootless(plan) {
            case .success(let ns): userNamespace = ns
            case .failure(let r): return .failure(r)
            }
        }
        var forwarder: String?
        if plan.network == .allow {
            forwarder = mcpbox()
            if let r = GVisorEgress.refusal(plan, runsc: runsc, mcpbox: forwarder, hostUDS: hostUDS) { return .failure(r) }
        }
        if plan.landlock.mode == .require {
            return .failure(Refusal(message: "landlock.mode = \"require\" cannot hold under gVisor: the host's Landlock cannot be applied to a server running in gVisor's kernel",
                                    hint: "set landlock.mode = \"best-effort\" or \"off\" (gVisor's file proxy serves only the mounts), " + fix))
        }
        let id = plan.identity
        guard id.insideUid == id.hostUid, id.insideGid == id.hostGid, id.hostUid != 0, id.hostGid != 0 else {
            return .failure(Refusal(message: "the server's uid inside (\(id.insideUid)) differs from its host uid (\(id.hostUid)): gVisor gives the server the bundle's uid and runsc takes no user namespace",
                                    hint: "start mcpbox as root, " + fix))
        }
        var bundle: OCIBundle
        do {
            bundle = try OCIExport.build(plan, rootfs: .host, forGVisor: true, isDirectory: isDirectory)
        } catch {
            return .failure(Refusal(message: "the plan cannot be written as an OCI bundle: \(error)", hint: fix))
        }
        let errnos = seccompErrnos(bundle.config)
        bundle.config = gvisorConfig(bundle.config, plan: plan)
        if let forwarder { GVisorEgress.adapt(&bundle, plan: plan, mcpbox: forwarder) }
        if userNamespace != nil { GVisorUserNamespace.premakeMountPoints(&bundle, isDirectory: isDirectory) }
        var rows = bundle.rows.map { restate($0, plan: plan, errnos: errnos) }
        if let userNamespace { rows = userNamespace.restate(rows, plan: plan) }
        let lost = rows.filter { $0.status != .carried && !allowedLoss($0, plan: plan) }
        if !lost.isEmpty {
            return .failure(Refusal(message: "under gVisor these restrictions of the plan cannot be applied as under the native runtime: "
                                        + lost.map { "\($0.restriction) (\($0.detail))" }.joined(separator: "; "),
                                    hint: "change the profile so they are not needed, " + fix))
        }
        var flags = ["--platform=\(platform)", "--network=\(plan.network == .host ? "host" : "none")", "--oci-seccomp"]
        if !cgroupNeeded(plan) { flags.append("--ignore-cgroups") }
        if plan.network == .allow { flags.append(GVisorEgress.hostUDSFlag) }
        let warnings = userNamespace?.unusableBindWarnings(plan, ownership: ownership) ?? []
        var warned = plan
        warned.warnings += warnings
        return .success(Prepared(plan: warned, runsc: runsc, bundle: bundle, rows: rows, flags: flags, userNamespace: userNamespace, warnings: warnings))
    }

    /// Whether runsc must make a cgroup (memory or cpu limits).
    static func cgroupNeeded(_ plan: SandboxPlan) -> Bool { plan.limits.memoryBytes != nil || plan.limits.cpu != nil }

    /// Rows whose loss the profile allows: what best-effort or optional keys leave out, and
    /// what `run` itself stops at before starting (command not found, cannot execute).
    static func allowedLoss(_ row: Carryover, plan: SandboxPlan) -> Bool {
        switch row.restriction {
        case "landlock": return plan.landlock.mode == .bestEffort
        case "memory (optional)", "command": return true
        default: return false
        }
    }

    /// The export's row for a restriction, as it holds under gVisor with mcpbox in front.
    static func restate(_ row: Carryover, plan: SandboxPlan, errnos: Set<UInt64>) -> Carryover {
        let id = plan.identity
        let relay = "mcpbox's relay stays in front of runsc, as under the native runtime"
        switch row.restriction {
        case "identity":
            return Carryover(row.restriction, .carried, "the server runs as \(id.insideUid):\(id.insideGid) (\(id.userName)) in gVisor's kernel and files it creates are owned by \(id.hostUid):\(id.hostGid) on the host; "
                + "on the host gVisor's sandbox, the server's code included, runs as nobody (65534) in runsc's user namespace, its file proxy (gofer) as root with reduced capabilities; never the server as root")
        case "namespaces":
            return Carryover(row.restriction, .carried, plan.namespaces.filter { $0 != .user }.map(\.rawValue).joined(separator: ", ")
                + " inside gVisor's kernel; user: gVisor's kernel is the server's, and runsc puts its sandbox in a user namespace of its own (the bundle states none: runsc refuses one)")
        case "securebits":
            return Carryover(row.restriction, .carried, "gVisor's kernel gives the server every capability set empty and no_new_privs: nothing is left for securebits to guard")
        case "seccomp":
            let stricterOnly = seccompNotes(plan).allSatisfy { $0.hasPrefix("non-native ABIs") || $0.contains("instead of being allowed") }
            let errnos = errnos.subtracting([UInt64(EPERM), UInt64(ENOSYS), UInt64(EAFNOSUPPORT)])
            guard stricterOnly, errnos.isEmpty, plan.seccomp.defaultAction == .errno else {
                return Carryover(row.restriction, .partial, row.detail + (errnos.isEmpty ? "" : "; runsc returns EPERM instead of errno \(errnos.sorted())")
                    + (plan.seccomp.defaultAction == .errno ? "" : "; runsc's OCI seccomp has no \(plan.seccomp.defaultAction.rawValue) action as mcpbox applies it"))
            }
            return Carryover(row.restriction, .carried, "\(plan.seccomp.preset.rawValue) preset, default errno: applied by gVisor's kernel to the server's syscalls (runsc --oci-seccomp), the same allow/refuse decision per syscall; "
                + "refused socket families get EPERM instead of EAFNOSUPPORT, ENOSYS rules are the trace action (ENOSYS with no tracer, and ptrace is refused); "
                + "fcntl/ioctl values with high bits set get the default action (stricter); gVisor has no i386/x32 ABI: int 0x80 reaches the x86_64 table through the same filter; runsc's own seccomp filter guards the host kernel behind gVisor")
        case "mount /dev":
            return Carryover(row.restriction, .carried, "null, zero, full, random, urandom emulated by gVisor's kernel (its device files never reach a host device driver) and a private shm; gVisor's kernel adds its own /dev/ptmx and /dev/pts (pseudo-terminals inside gVisor, never a host tty) and a synthetic /sys of its own (not the host's sysfs); no console or block device")
        case "inotify limits":
            return Carryover(row.restriction, .carried, "the server's inotify is gVisor's, never the host's; its instances and watches live in the sandbox's memory")
        case "processes":
            return Carryover(row.restriction, .carried, "RLIMIT_NPROC \(plan.limits.processes ?? 0), applied by gVisor's kernel to the server's processes (no pids.max on runsc's cgroup: it would count gVisor's own threads)")
        case "memory":
            return Carryover(row.restriction, .carried, "runsc's cgroup (cgroupsPath mcpbox/...) holds gVisor's whole sandbox, its kernel and the server: limit \(plan.limits.memoryBytes ?? 0) bytes")
        case "cpu":
            return Carryover(row.restriction, .carried, "runsc's cgroup holds gVisor's whole sandbox: quota/period for \(plan.limits.cpu ?? 0) cores")
        case "wall_time":
            return Carryover(row.restriction, .carried, "enforced by " + relay)
        case "MCP policy layer ([tools]/[prompts]/[client])", "stdio relay":
            return Carryover(row.restriction, .carried, relay + ": the server's stdio is mcpbox's pipes")
        case "git protection (after the session)":
            return Carryover(row.restriction, .carried, "mcpbox sweeps after runsc has ended, as under the native runtime")
        case "lifetime":
            return Carryover(row.restriction, .carried, "runsc gets a parent-death SIGKILL and runs its sandbox attached: the sandbox dies with mcpbox; mcpbox removes the container at exit")
        case OCIExport.isolationRow:
            return Carryover(row.restriction, .carried, "runsc (platform \(platform)) runs the bundle: the server's system calls reach gVisor's kernel, never the host's directly")
        case "network allow":
            return GVisorEgress.row(plan)
        case "landlock":
            return Carryover(row.restriction, .dropped, "best-effort: the host's Landlock cannot reach a server in gVisor's kernel; gVisor's file proxy serves only the mounts")
        default:
            return row
        }
    }

    /// The `msg` of one line of runsc's JSON log (the whole line when it has none).
    static func logMessage(_ line: String) -> String {
        let key = Array("\"msg\":\"".utf8)
        let bytes = Array(line.utf8)
        guard bytes.count > key.count, let start = (0...(bytes.count - key.count)).first(where: { Array(bytes[$0..<($0 + key.count)]) == key }) else { return line }
        var out: [UInt8] = []
        var i = start + key.count
        while i < bytes.count && bytes[i] != UInt8(ascii: "\"") {
            if bytes[i] == UInt8(ascii: "\\") && i + 1 < bytes.count { i += 1 }
            out.append(bytes[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func seccompNotes(_ plan: SandboxPlan) -> [String] {
        (try? OCISeccomp.translate(plan.seccomp).differences) ?? ["untranslatable"]
    }

    /// The export's config.json as runsc takes it: no user namespace or id maps, a cgroup
    /// (named like mcpbox's own, so its sweep finds a leftover) when limits need one.
    static func gvisorConfig(_ config: Node, plan: SandboxPlan) -> Node {
        guard case .object(var top) = config else { return config }
        for (i, pair) in top.enumerated() where pair.0 == "linux" {
            guard case .object(var linux) = pair.1 else { continue }
            linux.removeAll { $0.0 == "uidMappings" || $0.0 == "gidMappings" }
            for (j, l) in linux.enumerated() where l.0 == "namespaces" {
                if case .array(let items) = l.1 {
                    linux[j].1 = .array(items.filter { $0["type"] != .string("user") })
                }
            }
            for (j, l) in linux.enumerated() where l.0 == "seccomp" {
                linux[j].1 = seccompForRunsc(l.1)
            }
            // runsc's cgroup holds gVisor's own kernel threads and gofer too: a pids.max there
            // would count them, not the server's processes (a Go runtime past it dies). The
            // server's process limit is RLIMIT_NPROC, which gVisor's kernel applies.
            for (j, l) in linux.enumerated() where l.0 == "resources" {
                if case .object(var r) = l.1 {
                    r.removeAll { $0.0 == "pids" }
                    linux[j].1 = .object(r)
                }
            }
            if cgroupNeeded(plan) {
                linux.insert(("cgroupsPath", .string("/mcpbox/\(getpid())-\(processStartTime())-\(UInt32.random(in: 0...UInt32.max))")), at: 0)
            }
            top[i].1 = .object(linux)
        }
        return .object(top)
    }

    /// runsc's OCI seccomp (20221219) answers every errno rule with EPERM. A rule returning
    /// ENOSYS (glibc's cue to fall back, as from clone3 to clone) becomes SCMP_ACT_TRACE: with no
    /// tracer, the kernel answers ENOSYS, and none can attach (the same filter refuses ptrace).
    static func seccompForRunsc(_ seccomp: Node) -> Node {
        guard case .object(var fields) = seccomp else { return seccomp }
        for (i, f) in fields.enumerated() where f.0 == "syscalls" {
            guard case .array(let rules) = f.1 else { continue }
            fields[i].1 = .array(rules.map { rule in
                guard case .object(var r) = rule, rule["action"] == .string("SCMP_ACT_ERRNO"),
                      rule["errnoRet"] == .uint(UInt64(ENOSYS)) || rule["errnoRet"] == .int(Int64(ENOSYS)) else { return rule }
                r.removeAll { $0.0 == "errnoRet" }
                for (k, pair) in r.enumerated() where pair.0 == "action" { r[k].1 = .string("SCMP_ACT_TRACE") }
                return .object(r)
            })
        }
        return .object(fields)
    }

    /// The errno values of the plan's seccomp rules that runsc cannot return as such: besides
    /// EPERM (its only errno) and ENOSYS (by the trace action), EAFNOSUPPORT (refused socket
    /// families) becomes EPERM, still a refusal; any other value is not carried.
    static func seccompErrnos(_ config: Node) -> Set<UInt64> {
        guard case .array(let rules)? = config["linux"]?["seccomp"]?["syscalls"] else { return [] }
        var out = Set<UInt64>()
        for r in rules {
            switch r["errnoRet"] {
            case .uint(let u)?: out.insert(u)
            case .int(let i)?: out.insert(UInt64(max(0, i)))
            default: break
            }
        }
        return out
    }

    /// mcpbox's start time in clock ticks, as Cgroups names groups.
    static func processStartTime() -> UInt64 { RunscSandbox.startTime(of: getpid()) ?? 0 }

    /// Explain's section: the runtime and how each restriction is enforced under it.
    public static func explainText(_ prepared: Prepared) -> String {
        var out = "runtime: gvisor (runsc \(prepared.runsc) \(prepared.flags.joined(separator: " "))); the plan above runs as an OCI bundle in gVisor's kernel\n"
        out += CarryoverReport.text(format: "gvisor", rows: prepared.rows).split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n")
        return out
    }

    /// Explain's `runtime` JSON value.
    public static func explainNode(_ plan: SandboxPlan, _ prepared: Prepared?) -> Node {
        guard let prepared else {
            return .object([("name", .string(plan.isolation.runtime.rawValue)), ("origin", .string(plan.isolation.origin))])
        }
        return .object([
            ("name", .string("gvisor")), ("origin", .string(plan.isolation.origin)),
            ("runsc", .string(prepared.runsc)), ("flags", .array(prepared.flags.map(Node.string))),
            ("restrictions", .array(prepared.rows.map {
                .object([("restriction", .string($0.restriction)), ("status", .string($0.status.rawValue)), ("detail", .string($0.detail))])
            })),
        ] + (prepared.userNamespace.map { [("user_namespace", $0.node(plan))] } ?? []))
    }

    /// `run` under gVisor: the prepared bundle through `Launcher` with runsc as the sandbox.
    public static func run(_ plan: SandboxPlan, verbose: Bool = false) -> Int32 {
        switch prepare(plan) {
        case .failure(let r):
            Launcher.printError(Explain.visible("mcpbox: \(r.message) (\(r.hint))"))
            return 125
        case .success(let prepared):
            for w in prepared.warnings { Launcher.printError(Explain.visible("mcpbox: warning: " + w)) }
            return Launcher.run(plan, verbose: verbose, external: RunscSandbox(prepared))
        }
    }
}

/// One runsc container: bundle, state and log in a private temporary directory (0700, the
/// invoking user's), removed once it has ended. Started by an ordinary user, runsc (and its
/// `delete`) run in `prepared.userNamespace`.
final class RunscSandbox: ExternalSandbox {
    let prepared: GVisorRuntime.Prepared
    let id = "mcpbox-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    var dir: String?
    /// mode "allow": where `start` sends the egress sockets (`GVisorEgress`).
    var egressFD: Int32 = -1

    init(_ prepared: GVisorRuntime.Prepared) { self.prepared = prepared }

    func attachEgress(_ fd: Int32) { egressFD = fd }

    var globalFlags: [String] {
        guard let dir else { return [] }
        return ["--root=\(dir)/state", "--log=\(dir)/runsc.log"] + prepared.flags
    }

    func start(stdin: Int32, stdout: Int32, stderr: Int32) -> Result<pid_t, ExternalStartError> {
        let base: String
        switch Self.privateBase() {
        case .success(let b): base = b
        case .failure(let e): return .failure(e)
        }
        Self.sweep(base)
        if GVisorRuntime.cgroupNeeded(prepared.plan) { Self.sweepCgroups() }
        var template = Array((base + "/\(Self.prefix)\(getpid())-\(GVisorRuntime.processStartTime())-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            return .failure(ExternalStartError("gvisor: cannot create a private directory in \(base): \(String(cString: strerror(errno))) "))
        }
        let dir = String(cString: made)
        self.dir = dir
        do {
            _ = try BundleWriter.write(prepared.bundle, to: dir + "/bundle")
            try BundleWriter.mkdirs(dir + "/state")
        } catch {
            finish()
            return .failure(ExternalStartError("gvisor: cannot write the bundle: \(error)"))
        }
        if prepared.plan.network == .allow, let e = GVisorEgress.listen(dir + "/bundle/" + GVisorEgress.socketsDir, sendTo: egressFD) {
            finish()
            return .failure(e)
        }
        // setpriv gives runsc a parent-death SIGKILL (kept across exec): runsc then takes its
        // attached sandbox down with it when mcpbox dies.
        let argv = ["/usr/bin/setpriv", "--pdeathsig", "KILL", "--", prepared.runsc] + globalFlags
            + ["run", "--bundle", dir + "/bundle", id]
        switch spawn(argv, stdin: stdin, stdout: stdout, stderr: stderr) {
        case .success(let pid): return .success(pid)
        case .failure(let e):
            finish()
            return .failure(e)
        }
    }

    func spawn(_ argv: [String], stdin: Int32, stdout: Int32, stderr: Int32) -> Result<pid_t, ExternalStartError> {
        if let ns = prepared.userNamespace { return ns.spawn(argv, stdin: stdin, stdout: stdout, stderr: stderr) }
        var actions = posix_spawn_file_actions_t()
        var attr = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attr)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attr)
        }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        _ = c_addclosefrom(&actions, 3)
        var all = sigset_t(), none = sigset_t()
        sigfillset(&all)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setflags(&attr, Int16(0x80 /* POSIX_SPAWN_SETSID */ | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let cArgv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nil]
        defer { for p in cArgv + cEnv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgv, cEnv)
        guard rc == 0 else {
            return .failure(ExternalStartError("gvisor: cannot start \(argv[0]): \(String(cString: strerror(rc))) (install util-linux's setpriv and gVisor's runsc)"))
        }
        return .success(pid)
    }

    func failure(status: Int32) -> String? {
        guard let dir else { return nil }
        // gVisor's runsc opens its --log file first thing, even when all goes well: none means
        // the program named runsc never ran as runsc (`runsc = "/bin/true"` would exit 0 with no
        // server run at all).
        guard access(dir + "/runsc.log", F_OK) == 0 else {
            return "\(prepared.runsc) exited (status \(status)) without writing runsc's log: it is not gVisor's runsc, or it never ran the sandbox (runtime = \"gvisor\" never falls back to native; check [isolation] runsc, or set runtime = \"native\")"
        }
        guard let log = try? readSmall(dir + "/runsc.log") else { return nil }
        // runsc logs only its own errors here (no --debug): any line means runsc failed.
        let errors = log.split(separator: "\n").filter { $0.contains("\"level\":\"error\"") || $0.contains("\"level\":\"fatal\"") }
        guard !errors.isEmpty else { return nil }
        let message = errors.map { GVisorRuntime.logMessage(String($0)) }.joined(separator: "; ")
        return "runsc refused or failed to run the sandbox (exit \(status)): \(message) (runtime = \"gvisor\" never falls back to native; see `runsc --help`, or set [isolation] runtime = \"native\")"
    }

    func finish() {
        guard let dir else { return }
        // `runsc run` removes its container when it ends normally; one left behind (runsc
        // killed) still has state files here.
        if Self.hasEntries(dir + "/state") {
            if case .success(let pid) = spawnQuiet([prepared.runsc] + globalFlags + ["delete", "--force", id]) {
                var st: Int32 = 0
                while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
            }
        }
        Tree.remove(dir)
        self.dir = nil
    }

    static let prefix = "mcpbox-gvisor-"

    /// Where root's gVisor runs keep their bundles and runsc's state: root's own directory, never
    /// TMPDIR (an ordinary user's: `GVisorUserNamespace.baseDir`). Root hands these paths to
    /// runsc; in a directory another user can write, they could swap the bundle for their own
    /// between mcpbox writing it and runsc reading it.
    static let baseDir = "/run/mcpbox/gvisor"

    /// `baseDir`, created 0700 if missing; every directory on the way must be root's and
    /// writable by no one else, else the run is refused.
    static func privateBase() -> Result<String, ExternalStartError> {
        if geteuid() != 0 { return GVisorUserNamespace.privateBase() }
        for dir in ["/run/mcpbox", baseDir] where mkdir(dir, 0o700) != 0 && errno != EEXIST {
            return .failure(ExternalStartError("gvisor: cannot create \(dir): \(String(cString: strerror(errno)))"))
        }
        for dir in ["/", "/run", "/run/mcpbox", baseDir] {
            var st = stat()
            guard lstat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == 0, st.st_mode & 0o022 == 0 else {
                return .failure(ExternalStartError("gvisor: \(dir) must be a directory owned by root and writable by no one else "
                    + "(it holds the bundle root hands to runsc); fix its owner and mode (chown root: \(dir); chmod go-w \(dir))"))
            }
        }
        return .success(baseDir)
    }

    /// Removes the directories of gVisor runs whose mcpbox is gone (killed before it could
    /// remove its own; runsc and its sandbox died with it): named `PREFIX PID-START-RANDOM`,
    /// owned by this user, and PID no longer running with that start time.
    static func sweep(_ base: String) {
        guard let d = opendir(base) else { return }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix(prefix) { names.append(name) }
        }
        closedir(d)
        for name in names {
            let parts = name.dropFirst(prefix.count).split(separator: "-")
            guard parts.count == 3, let pid = Int32(parts[0]), let start = UInt64(parts[1]) else { continue }
            var st = stat()
            guard lstat(base + "/" + name, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == geteuid() else { continue }
            if startTime(of: pid) == start { continue }
            Tree.remove(base + "/" + name)
        }
    }

    /// Removes the cgroups runsc made for a gVisor run whose mcpbox is gone (runsc killed with
    /// it cannot remove them): `mcpbox/PID-START-RANDOM` in every hierarchy, empty, PID not
    /// running with that start time (mcpbox's own sweep covers only memory and cpu).
    static func sweepCgroups() {
        var parents = ["/sys/fs/cgroup/mcpbox"]
        if let d = opendir("/sys/fs/cgroup") {
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if !name.hasPrefix("."), e.pointee.d_type == UInt8(DT_DIR) { parents.append("/sys/fs/cgroup/\(name)/mcpbox") }
            }
            closedir(d)
        }
        for parent in parents {
            guard let d = opendir(parent) else { continue }
            var names: [String] = []
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if e.pointee.d_type == UInt8(DT_DIR) { names.append(name) }
            }
            closedir(d)
            for name in names {
                let parts = name.split(separator: "-", omittingEmptySubsequences: false)
                guard parts.count == 3, let pid = Int32(parts[0]), pid > 0, let start = UInt64(parts[1]), UInt32(parts[2]) != nil else { continue }
                if startTime(of: pid) == start { continue }
                rmdir(parent + "/" + name)
            }
        }
    }

    /// Start time of `pid` in clock ticks, nil when it does not run (as mcpbox's cgroup sweep reads it).
    static func startTime(of pid: Int32) -> UInt64? { Cgroups.startTime(of: pid) }

    static func hasEntries(_ path: String) -> Bool {
        guard let d = opendir(path) else { return false }
        defer { closedir(d) }
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { return true }
        }
        return false
    }

    func spawnQuiet(_ argv: [String]) -> Result<pid_t, ExternalStartError> {
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { if null >= 0 { close(null) } }
        guard null >= 0 else { return .failure(ExternalStartError("/dev/null")) }
        return spawn(argv, stdin: null, stdout: null, stderr: null)
    }

    func readSmall(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw ExportError(path) }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while out.count < 1 << 16 {
            let n = read(fd, &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Removes a directory tree without following links (lstat, unlink, rmdir).
enum Tree {
    static func remove(_ path: String, depth: Int = 0) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR && depth < 64 {
            if let d = opendir(path) {
                var names: [String] = []
                while let e = readdir(d) {
                    let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                    if name != "." && name != ".." { names.append(name) }
                }
                closedir(d)
                for n in names { remove(path + "/" + n, depth: depth + 1) }
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
