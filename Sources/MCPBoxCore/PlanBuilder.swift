/// Facts about the host that a plan depends on; tests build their own.
public struct HostContext: Sendable {
    public var callerUid: UInt32
    public var callerGid: UInt32
    /// mcpbox's environment, in order.
    public var environment: [(String, String)]
    public var accounts: Accounts
    /// The kernel's Landlock ABI (`LandlockPolicy.probeABI`); 0 = no Landlock.
    public var landlockABI: Int
    /// Whether mcpbox can create a memory cgroup here, and why (decides `memory = "?SIZE"`).
    public var memoryCgroup: (usable: Bool, reason: String)
    /// Whether mcpbox can create a cpu cgroup here, and why (`limits.cpu` is refused when not).
    public var cpuCgroup: (usable: Bool, reason: String)
    /// The caller's per-user inotify budget here (`user.max_inotify_instances`, `..._watches`).
    public var inotifyBudget: (instances: UInt64, watches: UInt64)?
    /// The hard limits mcpbox runs under (see `HostLimits`).
    public var limits: HostLimits
    /// The caller's supplementary groups (`getgroups`).
    public var callerGroups: [UInt32]
    /// The running mcpbox executable; a read-write bind may not touch it.
    public var executablePath: String?

    public init(callerUid: UInt32, callerGid: UInt32, environment: [(String, String)], accounts: Accounts,
                landlockABI: Int = 0,
                memoryCgroup: (usable: Bool, reason: String) = (true, "test host"),
                cpuCgroup: (usable: Bool, reason: String) = (true, "test host"),
                inotifyBudget: (instances: UInt64, watches: UInt64)? = (128, 8192),
                limits: HostLimits = .unlimited,
                callerGroups: [UInt32] = [], executablePath: String? = nil) {
        self.inotifyBudget = inotifyBudget
        self.callerUid = callerUid
        self.callerGid = callerGid
        self.environment = environment
        self.accounts = accounts
        self.landlockABI = landlockABI
        self.memoryCgroup = memoryCgroup
        self.cpuCgroup = cpuCgroup
        self.limits = limits
        self.callerGroups = callerGroups
        self.executablePath = executablePath
    }

    /// The running process's own view of the host.
    public static func current() -> HostContext {
        HostContext(callerUid: HostFS.uid, callerGid: HostFS.gid, environment: HostFS.environment(), accounts: Accounts(),
                    landlockABI: LandlockPolicy.probeABI(),
                    memoryCgroup: Cgroups.memoryUsable(), cpuCgroup: Doctor.cpuUsable(), inotifyBudget: currentInotifyBudget(),
                    limits: .current(),
                    callerGroups: HostFS.groups(), executablePath: HostFS.executablePath())
    }

    /// This user namespace's inotify limits per user, nil when /proc/sys does not say.
    static func currentInotifyBudget() -> (instances: UInt64, watches: UInt64)? {
        func value(_ name: String) -> UInt64? {
            HostFS.readFile("/proc/sys/user/" + name, limit: 64).flatMap { UInt64($0.filter { $0 != "\n" }) }
        }
        guard let instances = value("max_inotify_instances"), let watches = value("max_inotify_watches") else { return nil }
        return (instances, watches)
    }

    /// One variable of mcpbox's environment (the first, as in `environmentDictionary`), without
    /// building the dictionary.
    public subscript(env name: String) -> String? {
        environment.first { $0.0 == name }?.1
    }

    public var environmentDictionary: [String: String] {
        // Sized once: growing by doubling rehashes every variable several times per launch.
        var d = [String: String](minimumCapacity: environment.count)
        for (k, v) in environment where d[k] == nil { d[k] = v }
        return d
    }
}

/// Turns a resolved `Profile` and the command line into a `SandboxPlan`: every decision of the launch.
public struct PlanBuilder {
    public static let defaultPath = "/usr/local/bin:/usr/bin:/bin"
    public static let hostname = "mcpbox"
    public static let defaultTmpfsSize: UInt64 = 64 << 20
    public static let defaultOpenFiles: UInt64 = 1024
    public static let defaultShutdownGrace = 2.0
    /// The sandbox's inotify instances and watches are this fraction of the host user's budget
    /// (ucounts nest: what the sandbox uses counts against the host user too).
    public static let inotifyShare: UInt64 = 4

    /// Syscalls whose re-enabling through `seccomp.allow` deserves a warning: every syscall the
    /// presets refuse outright (the seccomp tables are the one list), plus the argument-filtered
    /// ones whose filter an explicit allow widens.
    public static let dangerousSyscalls: Set<String> = Set(Seccomp.refusedSyscalls).union(["unshare", "personality"])

    /// Warnings that depend on who runs mcpbox, not on the profile; `check` shows them as notes.
    public static let invocationWarningPrefix = "identity: "
    /// Warnings that predict EACCES for the server; `run` prints them on stderr too.
    public static let accessWarningPrefix = invocationWarningPrefix + "access: "
    /// Limits the host decided (an optional memory limit not applied); run prints them too.
    public static let limitsWarningPrefix = invocationWarningPrefix + "limits: "

    static let secretWords = ["TOKEN", "SECRET", "KEY", "PASSWORD", "PASS", "CREDENTIAL", "AUTH"]

    /// Whether a variable's name looks like it holds a secret.
    static func looksSecret(_ name: String) -> Bool {
        // ASCII names (nearly all) by their bytes; any other by Unicode upper-casing (`ß` is `SS`).
        guard name.utf8.allSatisfy({ $0 < 0x80 }) else {
            let upper = name.uppercased()
            return secretWords.contains { upper.contains($0) }
        }
        return lowercaseSecretWords.contains { ASCII.containsCaseInsensitive(name, $0) }
    }
    private static let lowercaseSecretWords = secretWords.map { $0.lowercased() }

    public private(set) var profile: Profile
    public let host: HostContext
    /// The command after `--` (empty: use the profile's `command`).
    public let commandLine: [String]
    /// `run` needs a command; `explain` and `check` can show a plan without one.
    public let requireCommand: Bool
    /// The plan `mcpbox grant` reads: a bind the account cannot reach is what it fixes, so that
    /// refusal does not stop it (never set for `run` or `explain`).
    public var forGrant = false
    /// The places the shell start-up files name, read once per plan (`runLaterPlaces` serves
    /// both the read-write binds' checks and the logs').
    let startupPlaces = StartupPlacesMemo()

    public init(profile: Profile, host: HostContext, command: [String] = [], requireCommand: Bool = false) {
        self.profile = profile
        self.host = host
        self.commandLine = command
        self.requireCommand = requireCommand
    }

    struct Draft {
        var mounts: [Mount] = []

        /// Whether a mount at `target` (its path compared by bytes) with this origin is planned.
        func hasMount(at target: String, origin: String) -> Bool {
            mounts.contains { Paths.same($0.target, target) && $0.origin == origin }
        }

        /// Whether a mount at `target` (its path compared by bytes) of this kind is planned.
        func hasMount(at target: String, kind: Mount.Kind) -> Bool {
            mounts.contains { Paths.same($0.target, target) && $0.kind == kind }
        }
        var warnings: [String] = []
        var sink = DiagnosticSink()
        var skipped: [String] = []
        var gitProtected: [String] = []
        var hgProtected: [String] = []
        var gitWatched: [String] = []
        var gitTrees: [GitProtection.Tree] = []
        var accepted: [AcceptedGrant] = []
        var acknowledged: [AcknowledgedWarning] = []
        /// Host mounts below a bind's source that the bind carries into the sandbox (binds are
        /// recursive), still visible there: each is judged as a bind of its own, with the
        /// bind's mode (`carriedMounts`). Keyed by target: the bind that carries it.
        var carried: [PathKey: Mount] = [:]
        var carriedMounts: [Mount] = []
        /// `SandboxPlan.sourceIdentities`.
        var sourceIdentities: [PathKey: FileIdentity] = [:]
        /// The system's and the caller's global git and hg configuration, scanned once per
        /// plan for the read-write binds that hold no repository (`protectGitConfiguration`,
        /// `protectMercurial`).
        var gitGlobalScan: GitConfigScan.Result?
        var hgGlobalScan: HgProtection.Scan?

        /// Adds `warning`, or records it as acknowledged by `entry`.
        mutating func warn(_ warning: String, acknowledgedBy entry: Sourced<String>?) {
            guard let e = entry else { warnings.append(warning); return }
            let a = AcknowledgedWarning(warning: warning, origin: "\(Paths.basename(e.file)):\(e.line): \(e.key)")
            if !acknowledged.contains(a) { acknowledged.append(a) }
        }
    }

    /// The package caches `[packages]` added as read-write binds (see `PackageTools`).
    var packageCacheDirs: Set<String> = []
    /// False for `check`: a missing package cache is listed as skipped instead of created.
    public var createPackageCaches = true

    /// Builds the plan, or throws every error found.
    public func build() throws(ProfileError) -> SandboxPlan {
        // The mount table as it is now (read once per plan: a process may plan again later).
        HostFS.forgetMounts()
        guard !profile.packageManagers.isEmpty else { return try buildResolved() }
        // [packages]: the caches, variables and registry rules become ordinary profile entries.
        let identity = try host.accounts.resolveIdentity(userName: profile.userName, callerUid: host.callerUid, callerGid: host.callerGid)
        var b = self
        let argv = commandLine.isEmpty ? (profile.command?.value ?? []) : commandLine
        let (caches, warnings) = try PackageTools.apply(&b.profile, command: argv, host: host, identity: identity, create: createPackageCaches)
        b.packageCacheDirs = Set(caches.map(\.directory))
        var plan = try b.buildResolved()
        plan.packages = caches
        plan.warnings += warnings
        return plan
    }

    func buildResolved() throws(ProfileError) -> SandboxPlan {
        var d = Draft()
        d.skipped = profile.skippedOptional
        let env = host.environmentDictionary

        var identity: Identity?
        do {
            identity = try host.accounts.resolveIdentity(userName: profile.userName, callerUid: host.callerUid, callerGid: host.callerGid)
        } catch {
            for x in error.diagnostics { d.sink.add(x) }
        }
        let id = identity ?? Identity(mechanism: .callerRemap, userName: "user", groupName: "user", insideUid: 1, insideGid: 1,
                                      hostUid: 1, hostGid: 1, home: "/home/user", callerUid: host.callerUid, callerGid: host.callerGid)
        d.warnings += profile.loadWarnings
        if id.mechanism == .rootNobody {
            d.warnings.append(Self.invocationWarningPrefix + "the server runs as the shared `nobody` account (uid 65534), like other services may; set [user] name to a dedicated account")
        }

        let network = profile.networkMode?.value ?? .none
        let namespaces = Namespace.allCases.filter { !(network == .host && $0 == .net) }
        let limits = buildLimits(&d)

        let seccomp = SeccompPolicy(preset: profile.seccompPreset?.value ?? .default,
                                    allow: profile.seccompAllow.map(\.value).filter { n in !profile.seccompDeny.contains { $0.value == n } },
                                    deny: profile.seccompDeny.map(\.value),
                                    defaultAction: profile.seccompDefaultAction?.value ?? .errno)

        buildMounts(&d, identity: id, network: network, limits: limits)

        // Command.
        let argv = commandLine.isEmpty ? (profile.command?.value ?? []) : commandLine
        if argv.isEmpty && requireCommand {
            d.sink.add(Diagnostic(file: profile.files.last, key: "command",
                                  "no command to run", hint: "give one after `--`, or set command = [...] in the profile"))
        }
        var venvBin: String?
        var hostExecutable: String?
        if let program = argv.first, profile.bindCommand?.value == true {
            (hostExecutable, venvBin) = bindCommand(program, &d, env: env)
            if let script = Self.interpretedScript(argv) { bindScript(script, &d, env: env) }
        }
        if let first = argv.first, first.contains("/"), !first.isAbsolutePath || Paths.normalize(first) == nil {
            let fromProfile = commandLine.isEmpty ? profile.command : nil
            d.sink.add(Diagnostic(file: fromProfile?.file, line: fromProfile?.line, key: "command",
                                  "program path \"\(first)\" must be absolute and free of `..`",
                                  hint: first.hasPrefix("~") || first.hasPrefix("$HOME") ? Paths.absoluteHint(first)
                                      : "write an absolute path inside the sandbox, or a bare name looked up in PATH"))
        }

        // Environment.
        var environment: [EnvVar] = [
            EnvVar(name: "PATH", value: venvBin.map { $0 + ":" + Self.defaultPath } ?? Self.defaultPath, origin: "default"),
            EnvVar(name: "HOME", value: id.home, origin: "default"),
            EnvVar(name: "USER", value: id.userName, origin: "default"),
            EnvVar(name: "LOGNAME", value: id.userName, origin: "default"),
            EnvVar(name: "TMPDIR", value: "/tmp", origin: "default"),
            EnvVar(name: "LANG", value: "C.UTF-8", origin: "default"),
        ]
        var position = Dictionary(uniqueKeysWithValues: environment.enumerated().map { ($1.name, $0) })
        func put(_ v: EnvVar) {
            if let i = position[v.name] {
                environment[i] = v
            } else {
                position[v.name] = environment.count
                environment.append(v)
            }
        }
        for p in profile.envPass {
            if HostFS.nonUTF8Environment.contains(p.value), env[p.value] != nil {
                d.sink.add(p.diagnostic("the value of \(p.value) in mcpbox's environment is not valid UTF-8: the server would get it changed",
                                        hint: "give it a UTF-8 value, or remove it from env.pass"))
                continue
            }
            if let value = env[p.value] { put(EnvVar(name: p.value, value: value, origin: "pass")) }
            if Self.looksSecret(p.value) {
                d.warn("env.pass: `\(p.value)` looks like a secret; the server can read it (\(p.origin))",
                       acknowledgedBy: profile.envAccept.first { $0.value == p.value })
            }
        }
        for r in profile.secretReferences {
            let where_ = r.key == "command" ? "; in the command line every host user can read it (/proc/PID/cmdline)" : ""
            d.warn("\(r.key): expands `${\(r.value)}`, which looks like a secret; the server can read it\(where_) (\(Paths.basename(r.file)):\(r.line))",
                   acknowledgedBy: profile.envAccept.first { $0.value == r.value })
        }
        for s in profile.envSet {
            put(s.value)
            // A secret copied under another name is the same secret (`GH = "${GITHUB_TOKEN}"`
            // passed the check that `pass = ["GITHUB_TOKEN"]` fails).
            if let secret = profile.envSetReferences[s.value.name]?.first(where: Self.looksSecret) {
                d.warn("env.set: `\(s.value.name)` is set from `${\(secret)}`, which looks like a secret; the server can read it (\(s.origin))",
                       acknowledgedBy: profile.envAccept.first { $0.value == s.value.name || $0.value == secret })
            }
        }
        // Egress (mode "allow"): the proxy variables win over env.pass and env.set.
        if network == .allow { for v in EgressPlanner.environment { put(v) } }

        // Executable, as the sandbox sees it.
        d.mounts = Self.ordered(d.mounts)
        let view = SandboxView(mounts: d.mounts, memoizing: true)
        carryMounts(&d, view: view)
        var executable: String?
        if let program = argv.first {
            if let hostExecutable {
                executable = hostExecutable
            } else if program.isAbsolutePath {
                switch view.lookup(program) {
                case .file, .directory: executable = Paths.normalize(program)
                case .missing:
                    // bind_command does not bind a directory; exec of it fails with EACCES all the same.
                    if profile.bindCommand?.value == true, let n = Paths.normalize(program), HostFS.info(n)?.isDirectory == true {
                        executable = n
                    }
                }
            } else if !program.contains("/") {
                let path = environment.first { $0.name == "PATH" }?.value ?? ""
                for dir in path.split(separator: ":") where dir.isAbsolutePath {
                    let candidate = Paths.join(Paths.normalize(String(dir)) ?? String(dir), program)
                    if case .file(_, true) = view.lookup(candidate) { executable = candidate; break }
                }
            }
        }

        // Working directory.
        let cwd = profile.cwd?.value ?? id.home
        if view.lookup(cwd) != .directory {
            if let c = profile.cwd {
                d.sink.add(c.diagnostic("\(cwd) is not a directory inside the sandbox", hint: "bind it with filesystem.read_only or read_write"))
            } else if let bind = d.mounts.filter({ m in
                if case .bind = m.kind { Paths.isWithin(cwd, m.target) } else { false }
            }).max(by: { $0.target.utf8.count < $1.target.utf8.count }) {
                // mcpbox mounts a HOME of its own only outside binds: the profile's bind decides.
                let at = location(of: bind)
                d.sink.add(Diagnostic(file: at.file, line: at.line, key: at.key,
                                      "the server's home directory \(cwd) (its working directory) lies inside \(bind.target), bound from the host (\(bind.origin)), where it is not a directory; mcpbox gives the server a HOME of its own only outside binds",
                                      hint: "bind a narrower directory than \(bind.target), or set cwd to a directory inside the sandbox"))
            } else {
                d.sink.add(Diagnostic(key: "cwd", "the home directory \(cwd) is not a directory inside the sandbox"))
            }
        } else if identity != nil, let (dir, info) = unsearchable(cwd, view: view, identity: id, capabilities: true) {
            // The server's chdir, before it drops its capabilities: the kernel's EACCES there.
            let text = "the server's account (uid \(id.hostUid)) may not enter \(cwd) inside the sandbox: \(dir) on the host has owner \(info.uid), mode \(String(info.mode & 0o7777, radix: 8))\(HostFS.accessACL(dir) == nil ? "" : " and an ACL") (run would fail: cwd: permission denied)"
            let hint = "give the account access (chmod o+x, or setfacl -m u:ACCOUNT:X), or set [user] name to an account that has it, or change cwd"
            if let c = profile.cwd { d.sink.add(c.diagnostic(text, hint: hint)) } else { d.sink.add(Diagnostic(key: "cwd", text, hint: hint)) }
        }

        warn(&d, seccomp: seccomp, network: network)
        if identity != nil { warnAccess(&d, identity: id) }
        checkGrants(&d, identity: identity)

        // A server must never be able to edit its own jail.
        for m in d.mounts + d.carriedMounts {
            guard case .bind(let source, false) = m.kind else { continue }
            for f in profile.files where Paths.isWithin(f, source) {
                d.sink.add(Diagnostic(file: f, key: "filesystem.read_write",
                                      "refused: this profile lies inside \(m.target), which the server may write (\(m.origin))",
                                      hint: "keep profiles outside the directories they grant write access to"))
            }
            // Nor replace a symlink the profile is reached through (`ln -sfn wide.toml p.toml`).
            for link in profile.links where Paths.isWithin(link, source) {
                d.sink.add(Diagnostic(key: "filesystem.read_write",
                                      "refused: the profile is reached through the symbolic link \(link), which lies inside \(m.target), which the server may write (\(m.origin)): the server could point it at another profile",
                                      hint: "name the profile by its real path, or keep the link outside the directories the profile grants write access to"))
            }
        }
        // Nor reach it by another name: a hard link, or the same directory seen through another mount.
        let rwBinds = (d.mounts + d.carriedMounts).compactMap { m -> (source: String, target: String, origin: String)? in
            if case .bind(let source, false) = m.kind { (source, m.target, m.origin) } else { nil }
        }
        for f in profile.files where !rwBinds.contains(where: { Paths.isWithin(f, $0.source) }) {
            if let (message, hint) = ProfileAliases.problem(f, writable: rwBinds) {
                d.sink.add(Diagnostic(file: f, key: "filesystem.read_write", message, hint: hint))
            }
        }

        // Nor plant a symlink in a writable path that a later launch would follow to a bind source.
        let writable = (d.mounts + d.carriedMounts).compactMap { m -> String? in if case .bind(let source, false) = m.kind { source } else { nil } }
        for m in d.mounts {
            guard case .bind = m.kind, let link = Self.symlinkInside(m.target, writable) else { continue }
            d.sink.add(Diagnostic(key: "filesystem",
                                  "refused: \(m.target) (\(m.origin)) is reached through the symlink \(link), which lies in a path the server may write",
                                  hint: "name the real path in the profile, or keep the symlink outside the read_write paths"))
        }

        checkMaskedMounts(&d)
        checkMountPoints(&d, identity: id)
        let landlock = landlockPolicy(mounts: d.mounts, network: network, sink: &d.sink)
        let egress = EgressPlanner.build(profile, network: network, mounts: d.mounts, sink: &d.sink, warnings: &d.warnings)
        let audit = AuditPlan.build(profile, env: env, mounts: d.mounts, sink: &d.sink, warnings: &d.warnings)
        // Each log's place, judged against the places gathered once for both.
        var logs: [(path: String, what: String, diagnostic: (String, String) -> Diagnostic)] = []
        if let a = audit {
            logs.append((a.path, "audit log", { m, h in self.profile.auditLog?.diagnostic(m, hint: h) ?? Diagnostic(key: "audit.log", m, hint: h) }))
        }
        if let log = profile.networkLog, egress?.policy.logPath != nil {
            logs.append((log.value, "network log", { m, h in log.diagnostic(m, hint: h) }))
        }
        for (log, problem) in zip(logs, logPlaceProblems(logs.map { ($0.path, $0.what) })) {
            if let (message, hint) = problem { d.sink.add(log.diagnostic(message, hint)) }
        }

        let pins = PinPlanner.config(profile, host: host, writable: writable, sink: &d.sink)

        try d.sink.throwIfAny()
        guard let identity else { throw ProfileError(Diagnostic("identity could not be resolved")) }
        var plan = SandboxPlan(profileName: profile.name, profileFiles: profile.files, description: profile.description?.value,
                               argv: argv, executable: executable, cwd: cwd, hostname: Self.hostname, identity: identity,
                               namespaces: namespaces, mounts: d.mounts, network: network, seccomp: seccomp,
                               environment: environment, limits: limits, warnings: d.warnings)
        plan.skippedOptional = d.skipped
        plan.sourceIdentities = d.sourceIdentities
        plan.carriedMounts = d.carriedMounts
        plan.gitProtected = d.gitProtected
        plan.hgProtected = d.hgProtected
        plan.gitWatched = d.gitWatched
        plan.gitTrees = d.gitTrees
        plan.landlock = landlock
        plan.isolation = IsolationPlan.build(profile, environment: env)
        plan.execProblem = executable.flatMap { ExecCheck.problem($0, view: view, cwd: plan.cwd) }
        if plan.execProblem == nil, let e = executable, view.lookup(e) == .missing {
            // Bound with bind_command, and masked by a hide above it.
            plan.execProblem = ExecCheck.directoryProblem(e)
                ?? ExecProblem(exitStatus: 127, message: "\(e) is bound but not visible inside the sandbox: a filesystem.hide above it masks it (exec: no such file)",
                               hint: "remove the hide that covers it, or run a program outside the hidden directory")
        }
        if plan.execProblem == nil, let e = executable { plan.execProblem = execAccessProblem(e, view: view, identity: identity, seccomp: seccomp) }
        plan.accepted = d.accepted
        plan.acknowledged = d.acknowledged
        if identity.mechanism == .callerRemap {
            plan.keptGroups = host.callerGroups.filter { $0 != identity.hostGid }.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
            for g in plan.keptGroups { plan.keptGroupNames[g] = host.accounts.groupName(gid: g) }
        }
        plan.egress = egress
        plan.mcp = MCPPlan.build(profile, audit: audit != nil)
        if profile.toolsConfirm == nil, let t = profile.toolsConfirmTimeout {
            plan.warnings.append("tools.confirm_timeout: has no effect without [tools] confirm (\(t.origin))")
        }
        plan.audit = audit
        plan.mcp?.policy.pins = pins
        return plan
    }

    /// Finds the host mounts each bind carries into the sandbox (`Draft.carried`): a bind is
    /// recursive, so whatever is mounted below its source on the host (a bind mount of another
    /// directory, a procfs, a USB stick) comes with it, under another name than the one the
    /// profile gave. Each that stays visible is judged as a bind of its own: a procfs is refused
    /// here, the rest by the checks that follow (`checkGrants` and the jail checks).
    func carryMounts(_ d: inout Draft, view: SandboxView) {
        for m in d.mounts {
            guard case .bind(let source, _) = m.kind else { continue }
            // (The binds added after the profile's own: what they are before the checks.)
            if d.sourceIdentities[PathKey(source)] == nil, let id = HostFS.identity(source).map({ FileIdentity(dev: $0.dev, ino: $0.ino) }) { d.sourceIdentities[PathKey(source)] = id }
        }
        let found = Self.carried(by: d.mounts, view: view)
        func refuse(_ m: Mount, _ message: String, hint: String) {
            let at = location(of: m)
            d.sink.add(Diagnostic(file: at.file, line: at.line, key: at.key, "refused: " + message, hint: hint))
        }
        for m in found.undecodable {
            refuse(m, "\(m.target) holds a host mount whose path is not valid UTF-8; the bind would carry it into the sandbox (binds are recursive), and mcpbox cannot name it to judge it",
                   hint: "unmount it or rename its mount point, or bind a directory that holds no such mount")
        }
        for c in found.mounts where d.carried[PathKey(c.mount.target)] == nil {
            if HostFS.mountRootDeleted(c.point) {
                refuse(c.carrier, "\(c.carrier.target) holds the host mount \(c.point) of a file or directory deleted since (it has no name any more), which the sandbox would show at \(c.mount.target): mcpbox cannot judge what it is",
                       hint: "unmount it, or bind a directory that holds no such mount")
            } else if Paths.isWithin(c.point, "/proc") || HostFS.isProcFS(c.point) {
                refuse(c.carrier, "\(c.carrier.target) holds the host mount \(c.point), a procfs (the host's processes), which the sandbox would show at \(c.mount.target): binds are recursive",
                       hint: "unmount it, or bind a directory that holds no procfs")
            } else {
                d.carried[PathKey(c.mount.target)] = c.carrier
                d.carriedMounts.append(c.mount)
            }
        }
    }

    /// The host mounts below the binds' sources that `view` still shows (not under a later
    /// mount: the sandbox's /proc, a tmpfs, a hide), each as a bind of what it shows (a bind
    /// mount of `~/.ssh/keys` is `~/.ssh/keys`, not a directory of the bound tree), at its place
    /// inside, with the bind that carries it and its mount point; and the binds that carry one
    /// whose path is not UTF-8.
    static func carried(by mounts: [Mount], view: SandboxView) -> (mounts: [(mount: Mount, carrier: Mount, point: String)], undecodable: [Mount]) {
        var out: [(mount: Mount, carrier: Mount, point: String)] = [], undecodable: [Mount] = []
        for m in mounts {
            guard case .bind(let source, let readOnly) = m.kind else { continue }
            let below = HostFS.mountPoints(below: source)
            if below.undecodable { undecodable.append(m) }
            for mp in below.paths {
                let target = Paths.join(m.target, Paths.remainder(mp, under: source))
                guard let shown = view.hostPath(target), Paths.same(shown, mp) else { continue }
                // Read-only when the bind is (run sets it on the whole tree), and when the host
                // mount itself is: a read-write bind keeps a nested mount's own read-only flag
                // (red-team pass, 2026-12-03: explain said rw where the server got EROFS).
                let ro = readOnly || HostFS.isReadOnlyMount(mp)
                out.append((Mount(target: target, kind: .bind(source: HostFS.mountShows(mp) ?? mp, readOnly: ro), origin: m.origin), m, mp))
            }
        }
        return (out, undecodable)
    }

    // MARK: Mounts

    func buildMounts(_ d: inout Draft, identity: Identity, network: NetworkMode, limits: Limits) {
        var binds: [(entry: Sourced<PathEntry>, readOnly: Bool)] = profile.readOnly.map { ($0, true) } + profile.readWrite.map { ($0, false) }
        for ro in profile.readOnly {
            if let rw = profile.readWrite.first(where: { Paths.same($0.value.path, ro.value.path) }) {
                d.sink.add(rw.diagnostic("\(rw.value.path) is also listed in filesystem.read_only (\(Paths.basename(ro.file)):\(ro.line))",
                                         hint: "list each path once, in read_only or read_write"))
            }
        }
        binds.removeAll { b in b.readOnly && profile.readWrite.contains { Paths.same($0.value.path, b.entry.value.path) } }
        for b in binds {
            let path = b.entry.value.path
            if path == "/proc" || Paths.isWithin(path, "/proc") || path == "/dev" {
                d.sink.add(b.entry.diagnostic("\(path) cannot be bound from the host; the sandbox gets its own",
                                              hint: "remove it"))
                continue
            }
            if let t = profile.tmpfs.first(where: { Paths.same($0.value.path, path) }) {
                d.sink.add(t.diagnostic("\(path) is listed both as a tmpfs and in \(b.entry.key) (\(Paths.basename(b.entry.file)):\(b.entry.line))",
                                        hint: "list each path once"))
                continue
            }
            guard let source = HostFS.realPath(path) else {
                if HostFS.info(path) != nil {
                    d.sink.add(b.entry.diagnostic("path \(path) exists, but its real path is not valid UTF-8, so mcpbox cannot name it to the kernel",
                                                  hint: "rename the directory or file it leads to"))
                } else if !b.entry.value.optional {
                    d.sink.add(b.entry.diagnostic("path \(path) does not exist", hint: "create it, or mark it optional with a leading ?"))
                } else if !d.skipped.contains(path) {
                    d.skipped.append(path)
                }
                continue
            }
            // The same through a symlink (`--set repo=/srv/link` with link -> /proc/PID), or a
            // procfs mounted elsewhere: the host's processes, never the sandbox's own.
            if Paths.isWithin(source, "/proc") || HostFS.isProcFS(source) {
                d.sink.add(b.entry.diagnostic("\(path) resolves to \(source), part of the host's /proc, which cannot be bound from the host; the sandbox gets its own",
                                              hint: "remove it"))
                continue
            }
            // Every bind is nodev: a device node bound from the host opens for no one (EACCES),
            // while explain would show it as granted, and it would cover the sandbox's own node.
            if let kind = HostFS.deviceKind(source) {
                let resolved = source == path ? "" : " (\(source))"
                let nodes = LandlockPolicy.deviceNodes.map { Paths.basename($0) }.joined(separator: ", ")
                d.sink.add(b.entry.diagnostic("refused: \(path)\(resolved) is a \(kind): binds are mounted nodev, so the server could not open it (Permission denied), and no accept changes that",
                                              hint: "remove it; the sandbox's own /dev already has \(nodes) and a private /dev/shm"))
                continue
            }
            if Paths.isWithin(path, "/dev") || Paths.isWithin(source, "/dev"), !acknowledged([path], reason: "host device", &d) {
                d.warnings.append("\(b.entry.key): \(path) exposes a host device to the server (\(b.entry.origin))")
            }
            if let id = HostFS.identity(source).map({ FileIdentity(dev: $0.dev, ino: $0.ino) }) { d.sourceIdentities[PathKey(source)] = id }
            d.mounts.append(Mount(target: path, kind: .bind(source: source, readOnly: b.readOnly), origin: b.entry.origin))
        }
        for t in profile.tmpfs {
            let path = t.value.path
            if path == "/" || path == "/proc" || path == "/dev" {
                d.sink.add(t.diagnostic("\(path) cannot be a tmpfs", hint: "remove it"))
                continue
            }
            if d.mounts.contains(where: { Paths.same($0.target, path) }) { continue }
            d.mounts.append(Mount(target: path, kind: .tmpfs(sizeBytes: limits.tmpfsSizeBytes), origin: t.origin))
        }
        if !d.mounts.contains(where: { $0.target == "/tmp" }) {
            d.mounts.append(Mount(target: "/tmp", kind: .tmpfs(sizeBytes: limits.tmpfsSizeBytes), origin: "mcpbox default"))
        }
        d.mounts.append(Mount(target: "/proc", kind: .proc, origin: "mcpbox default"))
        d.mounts.append(Mount(target: "/dev", kind: .dev, origin: "mcpbox default"))
        if network == .host, let n = profile.networkMode {
            let resolv = "/etc/resolv.conf"
            if !SandboxView(mounts: d.mounts).isBound(resolv), let source = HostFS.realPath(resolv) {
                d.mounts.append(Mount(target: resolv, kind: .bind(source: source, readOnly: true), origin: n.origin))
            }
        }
        if network == .allow, !SandboxView(mounts: d.mounts).isBound("/etc/resolv.conf") {
            d.mounts.append(Mount(target: "/etc/resolv.conf", kind: .file(contents: EgressPlanner.resolvConf), origin: "mcpbox: network.mode allow"))
        }
        let view = SandboxView(mounts: d.mounts)
        let files: [(String, String)] = [
            ("/etc/passwd", "root:x:0:0:root:/root:/usr/sbin/nologin\n\(identity.userName):x:\(identity.insideUid):\(identity.insideGid)::\(identity.home):/bin/sh\n"),
            ("/etc/group", "root:x:0:\n\(identity.groupName):x:\(identity.insideGid):\n"),
            ("/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t\(Self.hostname)\n"),
        ]
        for (path, contents) in files where !view.isBound(path) {
            d.mounts.append(Mount(target: path, kind: .file(contents: contents), origin: "mcpbox: identity"))
        }
        if !d.mounts.contains(where: { m in
            Paths.isWithin(identity.home, m.target) && { if case .bind = m.kind { true } else if case .tmpfs = m.kind { true } else { false } }()
        }) {
            d.mounts.append(Mount(target: identity.home, kind: .tmpfs(sizeBytes: limits.tmpfsSizeBytes), origin: "mcpbox: HOME"))
        }
        let withBinds = SandboxView(mounts: d.mounts)
        /// The mount mcpbox makes itself (procfs, /dev, a tmpfs, a file it writes) that shows
        /// `path` in the sandbox, when the deepest mount over it is one of those, not a bind.
        func ownMount(over path: String) -> Mount? {
            var best: Mount?
            for m in d.mounts where !m.isHide && Paths.isWithin(path, m.target) {
                if best == nil || m.target.utf8.count > best!.target.utf8.count { best = m }
            }
            if let best, case .bind = best.kind { return nil }
            if let best, case .symlink = best.kind { return nil }
            return best
        }
        /// A hide no bind shows: "invisible anyway", unless the sandbox shows something there
        /// that mcpbox makes itself; hide (which covers host paths bound in) cannot make that
        /// vanish, and saying "invisible anyway" would be false.
        func notShown(_ h: Sourced<PathEntry>) {
            let path = h.value.path
            // Or one of those inside it (`/home` holds the sandbox's HOME, `/etc` its passwd).
            let inside = d.mounts.first { m in
                guard !m.isHide, Paths.isWithin(m.target, path) else { return false }
                if case .bind = m.kind { return false }
                if case .symlink = m.kind { return false }
                return true
            }
            // What the sandbox shows at the path itself: a mount of mcpbox's there (or inside it),
            // anything of its /proc (the host's kernel, CPUs, memory), or a node of its /dev. A
            // path further inside a tmpfs holds nothing at the start, as the hide would make it.
            let shown = ownMount(over: path).flatMap { m -> Mount? in
                if Paths.same(m.target, path) { return m }
                switch m.kind {
                case .proc: return m
                case .dev:
                    let first = Paths.components(Paths.remainder(path, under: m.target)).first.map(String.init) ?? ""
                    return PlanBuilder.devEntries.contains(first) ? m : nil
                default: return nil
                }
            }
            if let m = shown ?? inside {
                d.sink.add(h.diagnostic("\(path) \(Paths.same(path, m.target) ? "is" : Paths.isWithin(path, m.target) ? "lies in" : "holds") \(m.target), which mcpbox makes itself (\(m.origin)), not a host path bound into the sandbox: hide cannot cover it, and the server would still see it",
                                        hint: "remove it from filesystem.hide"))
            } else {
                d.warnings.append("filesystem.hide: \(path) is not inside any bound path, so it is invisible anyway (\(h.origin))")
            }
        }
        // Host mounts below the binds' sources, which come with them (see `carryMounts`).
        let carried = profile.hide.isEmpty ? [] : Self.carried(by: d.mounts, view: withBinds).mounts.map(\.mount)
        for h in profile.hide {
            let path = h.value.path
            guard let info = HostFS.info(path) else {
                if !withBinds.isBound(path) {
                    notShown(h)
                } else if !h.value.optional {
                    d.sink.add(h.diagnostic("path \(path) does not exist", hint: "mark it optional with a leading ?"))
                }
                continue
            }
            // Every place the sandbox shows the hidden host object: the path itself where it is
            // bound, and wherever a bind shows it under another name (`/lib` as a bind of
            // `/usr/lib`; a bind reached through a symlink, whose source is the real path; a host
            // bind mount of a directory on the way, the same directory at another path; a bind of
            // a directory inside the hidden one). Before, a hide whose path was not bound as
            // written was dropped as "invisible anyway" while a symlinked bind showed the object.
            let hidden = withBinds.hostPath(path) ?? HostFS.realPath(path) ?? path
            var places: [(target: String, isDirectory: Bool)] = []
            if withBinds.isBound(path) { places.append((path, info.isDirectory)) }
            let ancestors = Self.ancestorIdentities(hidden)
            let hiddenId = HostFS.identity(hidden)
            // The host mounts the binds carry show it too (a bind mount of a directory above it).
            for m in d.mounts + carried {
                guard case .bind(let source, _) = m.kind else { continue }
                if let a = ancestors.first(where: { $0.path == source })
                    ?? HostFS.identity(source).flatMap({ id in ancestors.first { $0.dev == id.dev && $0.ino == id.ino } }) {
                    places.append((Paths.join(m.target, Paths.remainder(hidden, under: a.path)), info.isDirectory))
                } else if Paths.isWithin(source, hidden)
                            // The same, as objects: a directory inside it reached through another
                            // mount of its file system (a host mount inside a bind showing it).
                            || (hiddenId.map { h in Self.ancestorIdentities(source).contains { $0.dev == h.dev && $0.ino == h.ino } } ?? false) {
                    places.append((m.target, HostFS.info(source)?.isDirectory ?? true))
                }
            }
            if places.isEmpty {
                notShown(h)
                continue
            }
            for place in places {
                d.mounts.removeAll { Paths.same($0.target, place.target) && $0.isHide }
                d.mounts.append(Mount(target: place.target, kind: .hide(isDirectory: place.isDirectory), origin: h.origin))
            }
        }
        protectGitRepositories(&d, identity: identity)
        d.mounts = Self.ordered(Self.withMirroredSymlinks(Self.withoutRedundantBinds(Self.withoutShadowedHides(Self.withoutBindsOnSymlinks(d.mounts)))))
    }

    /// What the sandbox's /dev holds (nodes, links, mounts), for `hide`'s judgement.
    static let devEntries: Set<String> = ["null", "zero", "full", "random", "urandom", "tty", "console", "ptmx", "pts",
                                          "shm", "mqueue", "fd", "stdin", "stdout", "stderr", "core"]

    /// Binds read-only what host git would run or trust in every git directory a read-write bind
    /// exposes, watches what cannot be bound, and refuses what cannot be protected (see
    /// `GitProtection`).
    func protectGitRepositories(_ d: inout Draft, identity: Identity) {
        let origin = "mcpbox: git protection"
        defer {
            // run's sweep guard needs somewhere to log what it moves aside (see `SweepGuard`).
            if (!d.gitWatched.isEmpty || !d.gitTrees.isEmpty) && SweepGuard.logPath() == nil {
                d.sink.add(Diagnostic(key: "filesystem.read_write",
                                      "no home directory for the git sweep guard's quarantine log",
                                      hint: "set HOME or XDG_STATE_HOME to an absolute path"))
            }
        }
        for m in d.mounts {
            guard case .bind(let source, false) = m.kind else { continue }
            // mcpbox's own package cache: host git never runs there, and only this profile's
            // sandboxes see it (uv keeps git dependencies as repositories in it).
            if packageCacheDirs.contains(m.target) { continue }
            // `/` or a home read-write is refused by the grant checks unless accepted: no walk
            // of the whole tree just to refuse it anyway.
            if source == "/" || callerHomes().contains(where: { Paths.isWithin($0, source) }),
               profile.acceptEntry(for: m.target) == nil, profile.acceptEntry(for: source) == nil { continue }
            let e = GitProtection.exposure(of: source)
            if e.truncated {
                refuse(&d, m, "\(m.target) holds more than \(GitProtection.walkLimit) directories, too many to check for git repositories whose configuration host git would run",
                       hint: "bind a narrower path")
                continue
            }
            if let dir = e.unreadable.first ?? e.unrepresentable.first {
                refuse(&d, m, "\(m.target) holds \(dir), which mcpbox cannot check for git repositories whose configuration host git would run (it cannot be listed, or its name is not valid UTF-8)",
                       hint: "make it readable and give it a UTF-8 name, or bind a narrower path")
                continue
            }
            protectClientConfigs(&d, m, source: source, exposure: e)
            if identity.mechanism == .callerRemap && e.touchesRepository {
                let gitRepo = e.enclosingRepository ?? e.worktrees.first ?? e.gitDirs.first
                let repo = gitRepo ?? e.enclosingHgRepository ?? e.hgRepos.first ?? m.target
                let (tool, command) = gitRepo == nil && e.unrepresentable.isEmpty ? ("hg", "hg status") : ("git", "git status")
                let kind = tool == "git" ? "git" : "Mercurial"
                if !acknowledged([m.target, source], reason: "read-write \(kind) repository \(repo) in caller-remap mode: host \(tool) trusts the files the server writes there, hooks and configuration included", &d) {
                    refuse(&d, m, "\(m.target) is or holds the \(kind) repository \(repo), and the server would run as you (caller-remap): host \(tool) trusts every file you own there, so the server could make your next `\(command)` run its code",
                           hint: Self.acceptHint(m.target, "run the server as a dedicated account: [user] name = an account of its own, with its uid and gid in your /etc/subuid and /etc/subgid (see Identity in the README)"))
                }
                continue
            }
            protectMercurial(&d, m, source: source, exposure: e, identity: identity)
            // A `.git` that is neither a git directory nor a gitfile (a symlink, dangling or not;
            // an empty directory; anything else) holds nothing to protect, yet the server can
            // replace or fill it with a git directory of its own, which host git then reads and
            // runs as the repository's (and the sweep left it alone as a known entry). So can it
            // the bind itself when that is named `.git`.
            var lookalike = false
            for w in e.worktrees + (Paths.basename(source) == ".git" ? [Paths.dirname(source)] : []) {
                let entry = Paths.join(w, ".git")
                guard Paths.isWithin(entry, source), let info = HostFS.info(entry, follow: false) else { continue }
                // A gitfile inside the bind is bound read-only; the bind itself cannot be: the
                // server would point it at a git directory of its own.
                if info.isRegular, entry == source {
                    refuse(&d, m, "\(entry) is a gitfile (it names \(w)'s git directory) bound read-write: the server could point it at a git directory of its own, whose configuration and hooks host git would run at the next `git status` in \(w)",
                           hint: "bind the worktree \(w) instead (its gitfile is then bound read-only), or bind the gitfile read-only")
                    lookalike = true
                    continue
                }
                if info.isRegular || (info.isDirectory && GitProtection.isGitDir(entry)) { continue }
                let what = info.isSymlink ? "a symlink (\(HostFS.readLink(entry).map { "to \($0)" } ?? "unreadable"))"
                    : info.isDirectory ? "a directory that is not a git directory" : "neither a directory nor a file"
                refuse(&d, m, "\(entry) is \(what), inside a read-write bind: the server could make it a git directory of its own, whose configuration and hooks host git would run at the next `git status` in \(w)",
                       hint: info.isSymlink ? "replace the symlink with the git directory it points to, remove it, or bind a narrower path"
                           : "remove it, or bind a narrower path")
                lookalike = true
            }
            if lookalike { continue }
            var gitDirs = e.gitDirs
            if let g = e.enclosingGitDir {
                if let entry = GitProtection.guardedEntries.first(where: { Paths.isWithin(source, Paths.join(g, $0)) }) {
                    refuse(&d, m, "\(m.target) is part of git's configuration (\(Paths.join(g, entry))): host git would run what the server writes there",
                           hint: "bind the repository's worktree or the whole git directory instead")
                    continue
                }
                gitDirs.insert(g, at: 0)
            }
            // A bind inside a worktree (`repo/src`): the repository's git directory is out of the
            // server's reach, but its configuration may name paths inside the bind.
            if let repo = e.enclosingRepository, e.enclosingGitDir == nil, HostFS.info(Paths.join(repo, ".git"))?.isDirectory == true,
               let g = HostFS.realPath(Paths.join(repo, ".git")), !gitDirs.containsPath(g) {
                protectGitConfiguration(&d, gitDir: g, bind: m)
            } else if let repo = e.enclosingRepository, e.enclosingGitDir == nil,
                      HostFS.info(Paths.join(repo, ".git"), follow: false)?.isRegular == true,
                      let g = GitConfigScan.gitfileTarget(worktree: repo) {
                // ...or, for a linked worktree or submodule, its gitfile's.
                protectGitConfiguration(&d, gitDir: g, bind: m, worktree: repo)
            }
            for g in gitDirs {
                if let planted = Self.plantedCommonDir(g) {
                    refuse(&d, m, "\(planted) exists, but git writes a `commondir` only in a linked worktree's git directory: it redirects host git's configuration and may have been planted by a server",
                           hint: "inspect it and remove it (`rm \(planted)`) if you did not create it")
                    continue
                }
                if let missing = GitProtection.requiredEntries.first(where: { HostFS.info(Paths.join(g, $0.name), follow: false) == nil }) {
                    let path = Paths.join(g, missing.name)
                    refuse(&d, m, "\(g) has no \(missing.name), so the server could create one that host git would \(missing.directory ? "run hooks from" : "read its configuration from")",
                           hint: "create it: \(missing.directory ? "mkdir" : "touch") \(path)")
                    continue
                }
                for name in GitProtection.guardedEntries {
                    let path = Paths.join(g, name)
                    guard let info = HostFS.info(path, follow: false), Paths.isWithin(path, source) else { continue }
                    let target = Paths.join(m.target, Paths.remainder(path, under: source))
                    if info.isSymlink {
                        d.sink.add(Diagnostic(key: "filesystem.read_write",
                                              "refused: \(path) is a symlink inside a read-write bind, so mcpbox cannot keep the server from changing what host git reads there (\(m.origin))",
                                              hint: "replace the symlink with what it points to"))
                        continue
                    }
                    d.mounts.append(Mount(target: target, kind: .bind(source: path, readOnly: true), origin: origin))
                    if ["config", "config.worktree", "commondir", "gitdir", "hooks"].contains(name) {
                        protectLinks(&d, path, what: "\(g)'s \(name)", bind: m)
                    }
                }
                d.gitProtected.append(g)
                d.gitWatched += GitProtection.watched(in: g)
                protectGitConfiguration(&d, gitDir: g, bind: m)
            }
            // A gitfile (`.git` naming a git directory elsewhere: a linked worktree, a submodule)
            // stays what it is: the server could point it at a git directory of its own.
            for w in e.worktrees {
                let gitfile = Paths.join(w, ".git")
                guard HostFS.info(gitfile, follow: false)?.isRegular == true else { continue }
                d.mounts.append(Mount(target: Paths.join(m.target, Paths.remainder(gitfile, under: source)),
                                      kind: .bind(source: gitfile, readOnly: true), origin: origin))
                // Its git directory's configuration (and its common directory's, for a linked
                // worktree) is resolved from this worktree: `core.hooksPath = .husky/_` names
                // a directory here (a submodule's git directory, found by the walk too, was
                // resolved from itself above).
                if let g = GitConfigScan.gitfileTarget(worktree: w) {
                    protectGitConfiguration(&d, gitDir: g, bind: m, worktree: w)
                }
            }
            // A bind holding no repository: host git's system and global configuration, read in
            // every repository, may still name a path inside it (an absolute `include.path`,
            // `core.hooksPath` or `init.templateDir`): the server would plant what host git runs
            // everywhere (red-team pass, 2026-12-02).
            if gitDirs.isEmpty && e.enclosingRepository == nil && e.worktrees.isEmpty {
                protectGitConfiguration(&d, gitDir: nil, bind: m)
            }
            // Every read-write tree is swept, not only those that held a repository at launch: in
            // caller-remap mode a repository the server creates anywhere is the caller's, which
            // host git trusts (no "dubious ownership"); with an account of its own the server can
            // still make a git directory of files inside a directory the owner made, which passes
            // that check (git looks at the directory, not at the files in it).
            if HostFS.info(source)?.isDirectory == true {
                let hgKnown = (e.hgRepos + [e.enclosingHgRepository].compactMap { $0 }.filter { Paths.same($0, source) }).map { Paths.join($0, ".hg") }
                // Worktrees by their `.git` entry (see `GitProtection.sweep`); paths told apart by
                // their bytes, as the sweep does (`String` equality is canonical equivalence).
                var known: [String] = []
                for k in e.worktrees.map({ Paths.join($0, ".git") }) + e.gitDirs + hgKnown
                where !known.contains(where: { Paths.same($0, k) }) { known.append(k) }
                d.gitTrees.append(GitProtection.Tree(root: source, known: known, knownClientConfigs: e.clientConfigs))
            }
        }
    }

    /// `path` and each of its ancestors up to `/`, with the device and inode of each that exists
    /// (`HostFS.identity`, `lstat`: the paths compared here are real paths).
    static func ancestorIdentities(_ path: String) -> [(path: String, dev: UInt64, ino: UInt64)] {
        var out: [(path: String, dev: UInt64, ino: UInt64)] = []
        var p = path
        while true {
            if let id = HostFS.identity(p) { out.append((p, id.dev, id.ino)) }
            if p == "/" { break }
            p = Paths.dirname(p)
        }
        return out
    }


    /// `gitDir/commondir` when it exists where git never writes one: anywhere but a linked
    /// worktree's git directory (`<gitdir>/worktrees/NAME`).
    static func plantedCommonDir(_ gitDir: String) -> String? {
        let path = Paths.join(gitDir, "commondir")
        guard HostFS.info(path, follow: false) != nil else { return nil }
        let parent = Paths.dirname(gitDir)
        if Paths.basename(parent) == "worktrees" && GitProtection.isGitDir(Paths.dirname(parent)) { return nil }
        return path
    }

    /// A read-only bind of a host symlink whose target the sandbox sees at the same path anyway
    /// (`/bin` → `usr/bin` with `/usr` bound) becomes that symlink, created in the sandbox's own
    /// root: the host's layout, and one bind fewer per launch. Only where nothing else is mounted
    /// at, above or below the link, and the link's text names its real target directly.
    static func withMirroredSymlinks(_ mounts: [Mount]) -> [Mount] {
        mounts.map { m in
            guard case .bind(let source, true) = m.kind, !Paths.same(source, m.target),
                  HostFS.info(m.target, follow: false)?.isSymlink == true,
                  let link = HostFS.readLink(m.target), !link.isEmpty,
                  let resolved = SandboxView.resolveDots(link.isAbsolutePath ? link : Paths.join(Paths.dirname(m.target), link)),
                  Paths.same(resolved, source)
            else { return m }
            // (The view of every mount at another target, without copying the list per bind.)
            let view = SandboxView(mounts: mounts, excluding: m.target)
            // Same object, and read-only there too: the link must not widen what the bind allowed.
            guard !mounts.contains(where: { !Paths.same($0.target, m.target) && (Paths.isWithin(m.target, $0.target) || Paths.isWithin($0.target, m.target)) }),
                  view.hostPath(source).map { Paths.same($0, source) } == true, let holder = view.covering(source), case .bind(_, true) = holder.kind
            else { return m }
            // (A `hide` inside the target has an alias mask under the link by now: the first
            // condition keeps such a link a bind.)
            return Mount(target: m.target, kind: .symlink(to: link), origin: m.origin)
        }
    }

    /// Drops a bind that adds nothing: same mode and same host object as the bind it sits in.
    static func withoutRedundantBinds(_ mounts: [Mount]) -> [Mount] {
        mounts.filter { m in
            guard case .bind(let source, let ro) = m.kind, m.target != "/" else { return true }
            // (Without copying the list per bind: `others` is every mount at another target.)
            guard let parent = SandboxView.covering(m.target, in: mounts, excluding: m.target),
                  case .bind(let parentSource, let parentRO) = parent.kind, parentRO == ro else { return true }
            if mounts.contains(where: { o in
                if case .hide = o.kind, !Paths.same(o.target, m.target) { return Paths.isWithin(m.target, o.target) || Paths.isWithin(o.target, m.target) }
                return false
            }) { return true }
            return !Paths.same(Paths.join(parentSource, Paths.remainder(m.target, under: parent.target)), source)
        }
    }

    /// Build order: parents before children; `hide` entries last.
    static func ordered(_ mounts: [Mount]) -> [Mount] {
        func isHide(_ m: Mount) -> Bool { if case .hide = m.kind { true } else { false } }
        let main = mounts.filter { !isHide($0) }.sorted { Paths.precedes($0.target, $1.target) }
        let hides = mounts.filter(isHide).sorted { Paths.precedes($0.target, $1.target) }
        return main + hides
    }

    /// The first symlink that resolving `path` on the host goes through inside one of the
    /// `writable` (real) paths, or nil.
    static func symlinkInside(_ path: String, _ writable: [String]) -> String? {
        guard !writable.isEmpty else { return nil }
        return HostFS.symlinks(on: path)?.first { l in writable.contains { Paths.isWithin(l.link, $0) } }?.link
    }

    // MARK: bind_command

    /// Makes the host program (and its virtualenv and interpreter) visible; returns its path and the venv's bin dir.
    func bindCommand(_ program: String, _ d: inout Draft, env: [String: String]) -> (String?, String?) {
        guard let flag = profile.bindCommand else { return (nil, nil) }
        var found: String?
        if program.isAbsolutePath {
            // A regular file without an execute bit is bound too: exec then fails with 126, not 127.
            if let n = Paths.normalize(program), HostFS.info(n)?.isRegular == true { found = n }
        } else if !program.contains("/") {
            for dir in (env["PATH"] ?? "").split(separator: ":") where dir.isAbsolutePath {
                let candidate = Paths.join(Paths.normalize(String(dir)) ?? String(dir), program)
                if HostFS.isExecutableFile(candidate) { found = candidate; break }
            }
        }
        guard let file = found else { return (nil, nil) }
        let origin = flag.origin
        func add(_ path: String) {
            let view = SandboxView(mounts: d.mounts)
            if view.isBound(path) { return }
            guard let source = HostFS.realPath(path) else { return }
            d.mounts.append(Mount(target: path, kind: .bind(source: source, readOnly: true), origin: origin))
            d.mounts = Self.ordered(Self.withoutRedundantBinds(d.mounts))
        }
        func venvRoot(_ path: String) -> String? {
            var dir = Paths.dirname(path)
            while dir != "/" {
                if HostFS.info(dir + "/pyvenv.cfg")?.isRegular == true { return dir }
                dir = Paths.dirname(dir)
            }
            return nil
        }
        func ensureVisible() {
            if case .file = SandboxView(mounts: d.mounts).lookup(file) { return }
            add(file)
        }
        guard let venv = venvRoot(file) ?? HostFS.realPath(file).flatMap(venvRoot) else {
            ensureVisible()
            return (file, nil)
        }
        add(venv)
        let realVenv = HostFS.realPath(venv) ?? venv
        if let m = d.mounts.first(where: { m in
            if case .bind(let source, false) = m.kind { return Paths.isWithin(realVenv, source) } else { return false }
        }) {
            // The server may edit pyvenv.cfg and the venv's python links: bind nothing they name.
            d.warnings.append("filesystem.bind_command: the virtualenv \(venv) lies in \(m.target), which the server may write; its base interpreter is not bound from it (\(origin))")
            ensureVisible()
            return (file, Paths.join(venv, "bin"))
        }
        var prefixes: [String] = []
        if let cfg = HostFS.readFile(venv + "/pyvenv.cfg") {
            for line in cfg.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, String(parts[0]).trimmingSpaces() == "home" else { continue }
                if let home = Paths.normalize(String(parts[1]).trimmingSpaces()) { prefixes.append(Paths.dirname(home)) }
            }
        }
        for python in ["python", "python3"] {
            if let real = HostFS.realPath(venv + "/bin/" + python) { prefixes.append(Paths.dirname(Paths.dirname(real))) }
        }
        for p in prefixes where p != "/" && HostFS.info(p)?.isDirectory == true { add(p) }
        ensureVisible()
        return (file, Paths.join(venv, "bin"))
    }

    /// Programs that take a script file as their first non-option argument.
    static func isInterpreter(_ program: String) -> Bool {
        let name = Paths.basename(program)
        if name.hasPrefix("python"), name.dropFirst(6).allSatisfy({ $0.isNumber || $0 == "." }) { return true }
        return ["node", "nodejs", "bun", "deno", "ruby", "perl", "php", "bash", "sh", "dash", "zsh"].contains(name)
    }

    /// The absolute script path of `python /path/server.py` (an interpreter, options, then a
    /// script), or nil (`-m`/`-c`/`-e` forms, a relative path, no interpreter).
    static func interpretedScript(_ argv: [String]) -> String? {
        guard let program = argv.first, isInterpreter(program) else { return nil }
        for a in argv.dropFirst() {
            if ["-m", "-c", "-e", "--eval", "-p", "--print"].contains(a) { return nil }
            if a == "--" { continue }
            if a.hasPrefix("-") { continue }
            return a.isAbsolutePath ? Paths.normalize(a) : nil
        }
        return nil
    }

    /// bind_command for an interpreter's script: binds the directory holding it read-only (only
    /// the file when that directory is `/` or the caller's home).
    func bindScript(_ script: String, _ d: inout Draft, env: [String: String]) {
        guard let flag = profile.bindCommand, HostFS.info(script)?.isRegular == true else { return }
        let dir = Paths.dirname(script)
        let home = env["HOME"].flatMap(Paths.normalize)
        let target = dir == "/" || dir == home ? script : dir
        if SandboxView(mounts: d.mounts).isBound(target) { return }
        guard let source = HostFS.realPath(target) else { return }
        d.mounts.append(Mount(target: target, kind: .bind(source: source, readOnly: true), origin: flag.origin))
        d.mounts = Self.ordered(Self.withoutRedundantBinds(d.mounts))
    }

    // MARK: The server's own access

    /// The groups the server's account has on the host: its own, and in caller-remap mode the
    /// caller's supplementary groups, which it keeps.
    func serverGroups(_ id: Identity) -> [UInt32] {
        id.mechanism == .callerRemap ? [id.hostGid] + host.callerGroups : [id.hostGid]
    }

    /// The first directory from a bind on the way to `path` inside the sandbox (`path` itself
    /// included when it is a directory) that the server's account may not search, as the
    /// kernel judges it (owner, groups, mode bits, access ACL), with its host path and `lstat`.
    /// `capabilities`: the server still holds its capabilities in its user namespace (its
    /// chdir), which search any directory whose owner and group are both mapped there.
    func unsearchable(_ path: String, view: SandboxView, identity id: Identity, capabilities: Bool) -> (String, HostFS.Info)? {
        guard id.hostUid != 0 else { return nil }
        let groups = serverGroups(id)
        var denied: (String, HostFS.Info)?
        _ = view.lookup(path) { host, info in
            guard denied == nil else { return }
            if capabilities && info.uid == id.hostUid && info.gid == id.hostGid { return }
            if !HostFS.permits(host, info: info, uid: id.hostUid, gids: groups, want: 0o1) { denied = (host, info) }
        }
        return denied
    }

    /// Why the server's `execve` of `executable` would fail for reasons of its own account or
    /// its filter (the file and its interpreters are visible: ExecCheck): execve refused by the
    /// seccomp policy, a directory on the way it may not search, or no execute permission for it.
    func execAccessProblem(_ executable: String, view: SandboxView, identity: Identity?, seccomp: SeccompPolicy) -> ExecProblem? {
        if seccomp.deny.contains("execve") {
            return ExecProblem(exitStatus: 126, message: "the seccomp policy refuses execve (seccomp.deny), so the server's exec of \(executable) fails (operation not permitted)",
                               hint: "remove execve from seccomp.deny")
        }
        guard let id = identity, id.hostUid != 0 else { return nil }
        let uid = id.hostUid
        func owner(_ path: String, _ info: HostFS.Info) -> String {
            "owner \(info.uid), mode \(String(info.mode & 0o7777, radix: 8))\(HostFS.accessACL(path) == nil ? "" : " and an ACL")"
        }
        /// The account's search permission on the way to `path` and its execute permission on
        /// it; `notSearchable(dir)` and `notExecutable` word the problem.
        func judge(_ path: String, notSearchable: (String) -> String, notExecutable: String) -> ExecProblem? {
            if let (dir, info) = unsearchable(path, view: view, identity: id, capabilities: false) {
                return ExecProblem(exitStatus: 126, message: "\(notSearchable(dir)): \(owner(dir, info)) (exec: permission denied)",
                                   hint: "give the account access (chmod o+x, or setfacl -m u:ACCOUNT:X), or set [user] name to an account that has it")
            }
            if case .file(let host?, true) = view.lookup(path), let info = HostFS.info(host),
               !HostFS.permits(host, info: info, uid: uid, gids: serverGroups(id), want: 0o1) {
                return ExecProblem(exitStatus: 126, message: "\(notExecutable): \(owner(host, info)) (exec: permission denied)",
                                   hint: "chmod o+x it (or setfacl -m u:ACCOUNT:x), or set [user] name to an account that may run it")
            }
            return nil
        }
        if let p = judge(executable, notSearchable: { "the server's account (uid \(uid)) may not search \($0) on the way to \(executable)" },
                         notExecutable: "\(executable) is not executable by the server's account (uid \(uid))") { return p }
        // The interpreters exec loads, as ExecCheck follows them (which found them visible and
        // executable by someone): the account must search their directories and execute them.
        var file = executable
        for _ in 0..<3 {
            guard case .file(let host?, _) = view.lookup(file), let (interp, kind) = ExecCheck.interpreter(ofHostFile: host),
                  interp.isAbsolutePath else { return nil }
            let needs = "\(executable) needs the \(kind) \(interp)"
            if let p = judge(interp, notSearchable: { "\(needs), and the server's account (uid \(uid)) may not search \($0) on the way" },
                             notExecutable: "\(needs), which the server's account (uid \(uid)) may not execute") { return p }
            if kind == "ELF interpreter" { return nil }
            file = interp
        }
        return nil
    }

    // MARK: Warnings

    /// Names the binds whose top directory or file the server's host account cannot use (by
    /// owner, its groups (`serverGroups`), mode bits and the POSIX access ACL, as the kernel
    /// judges it): the launch works, but the server gets EACCES there. Who runs mcpbox decides
    /// this, so `check` shows it as a note.
    func warnAccess(_ d: inout Draft, identity: Identity) {
        guard identity.hostUid != 0 else { return }
        let groups = serverGroups(identity)
        for m in d.mounts {
            guard case .bind(let source, let ro) = m.kind, let info = HostFS.info(source) else { continue }
            var need: UInt32 = info.isDirectory ? 0o5 : 0o4
            if !ro { need |= 0o2 }
            guard !HostFS.permits(source, info: info, uid: identity.hostUid, gids: groups, want: need) else {
                if !ro, info.isDirectory { warnInnerAccess(&d, m, source: source, uid: identity.hostUid, gids: groups) }
                continue
            }
            let what = ro ? "readable" : "writable"
            let acl = HostFS.accessACL(source) == nil ? "" : " and its ACL"
            d.warnings.append(Self.accessWarningPrefix + "\(m.target) is not \(what) by the server's account (uid \(identity.hostUid)): "
                + "owner \(info.uid), mode \(String(info.mode & 0o7777, radix: 8))\(acl); it will get EACCES there (\(m.origin)). "
                + "Give the account access (chown/chmod, or setfacl -m u:ACCOUNT:\(ro ? "rX" : "rwX")), or set [user] name to an account that has it")
        }
    }

    /// Entries looked at directly inside a read-write directory bind.
    static let innerAccessScan = 128

    /// A read-write directory the account may write whose entries it may not: the entries
    /// directly inside (the first `innerAccessScan`), and a git repository's `.git/objects`,
    /// `.git/refs` and `.git/index`. Found running real servers: only the top directory was
    /// judged, and a SQLite server's database file, or git's index, failed with EACCES while
    /// `explain` said nothing.
    func warnInnerAccess(_ d: inout Draft, _ m: Mount, source: String, uid: UInt32, gids: [UInt32]) {
        var names = HostFS.listDirectory(source, limit: Self.innerAccessScan)
        if HostFS.info(source + "/.git", follow: false)?.isDirectory == true {
            names += [".git/objects", ".git/refs", ".git/index"]
        }
        var closed: [String] = []
        for n in names {
            guard let info = HostFS.info(source + "/" + n, follow: false), info.isDirectory || info.isRegular else { continue }
            let need: UInt32 = info.isDirectory ? 0o7 : 0o6
            if !HostFS.permits(source + "/" + n, info: info, uid: uid, gids: gids, want: need) { closed.append(n) }
        }
        guard !closed.isEmpty else { return }
        let shown = closed.prefix(3).map { Explain.visible($0) }.joined(separator: ", ") + (closed.count > 3 ? " and \(closed.count - 3) more" : "")
        d.warnings.append(Self.accessWarningPrefix + "\(m.target) is writable by the server's account (uid \(uid)), but not everything in it: "
            + "\(shown); the server gets EACCES changing \(closed.count == 1 ? "it" : "them") (\(m.origin)). "
            + "Give the account access to the whole tree (mcpbox grant PROFILE, or setfacl -R -m u:ACCOUNT:rwX), or set [user] name to an account that has it")
    }

    func warn(_ d: inout Draft, seccomp: SeccompPolicy, network: NetworkMode) {
        warnSockets(&d)
        // A read-write bind keeps the host mount's read-only flag: the server's writes fail.
        for m in d.mounts {
            guard case .bind(let source, false) = m.kind, ExecCheck.readOnlyMount(source) else { continue }
            d.warnings.append(Self.accessWarningPrefix + "\(m.target) lies on a file system mounted read-only on the host, which the sandbox's bind keeps: "
                + "the server's writes there fail (EROFS) although the profile grants read_write (\(m.origin)). Remount it read-write on the host, or grant it read_only")
        }
        if network == .host {
            d.warn("network.mode = \"host\": the server shares the host's network: it can reach every service on this machine and beyond (\(profile.networkMode?.origin ?? "profile"))",
                   acknowledgedBy: profile.networkAccept.first { $0.value == "host" })
        }
        if seccomp.preset == .permissive {
            d.warn("seccomp.preset = \"permissive\": only the dangerous syscalls are blocked, not an allow-list (\(profile.seccompPreset?.origin ?? "profile"))",
                   acknowledgedBy: profile.seccompAccept.first { $0.value == "permissive" })
        }
        for a in profile.seccompAllow where Self.dangerousSyscalls.contains(a.value) && seccomp.allow.contains(a.value) {
            d.warn("seccomp.allow: `\(a.value)` re-enables a dangerous system call (\(a.origin))",
                   acknowledgedBy: profile.seccompAccept.first { $0.value == a.value })
        }
        if seccomp.defaultAction == .log {
            d.warn("seccomp.default_action = \"log\": syscalls outside the policy are only logged, not refused (\(profile.seccompDefaultAction?.origin ?? "profile"))",
                   acknowledgedBy: profile.seccompAccept.first { $0.value == "log" })
        }
    }
}
