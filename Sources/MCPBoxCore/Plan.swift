import MCPBoxNetwork
import MCPBoxProtocol

/// The fully resolved, validated description of one sandbox: a pure value.
///
/// `Profile` + command line → `SandboxPlan` (see `PlanBuilder`). `explain` renders it,
/// `run` compiles and executes it; neither computes restrictions on its own, so the
/// dry run can never disagree with the launch.
public struct SandboxPlan: Sendable, Equatable {
    /// The profile name or path as given on the command line.
    public var profileName: String
    /// Every profile file that contributed, base first, the named profile last (absolute paths).
    public var profileFiles: [String]
    public var description: String?

    /// argv of the server; `argv[0]` as the user wrote it.
    public var argv: [String]
    /// `argv[0]` resolved against the sandbox's view (absolute path inside the sandbox),
    /// or nil when it cannot be found there (the launch then exits 127).
    public var executable: String?
    /// Working directory inside the sandbox (absolute).
    public var cwd: String
    /// Hostname set in the UTS namespace.
    public var hostname: String

    public var identity: Identity
    /// Namespaces unshared for the sandbox; always all of `Namespace.allCases`.
    public var namespaces: [Namespace]
    /// The filesystem view, in the order it is built (parents before children).
    public var mounts: [Mount]
    public var network: NetworkMode
    public var seccomp: SeccompPolicy
    /// The complete environment of the server, in order (names unique).
    public var environment: [EnvVar]
    public var limits: Limits
    /// Things a careful user should know; `check --strict` fails on any.
    public var warnings: [String]
    /// Optional paths (`?` prefix) that were absent on the host and so are not in `mounts`.
    public var skippedOptional: [String] = []
    /// The object each bind source was when the plan was made, before any check looked at it
    /// (by the source's bytes): `run` binds nothing else (a directory renamed into its place
    /// since is refused, ESTALE), so the checks judged what the sandbox shows.
    public var sourceIdentities: [PathKey: FileIdentity] = [:]
    /// Host mounts below the binds' sources that the binds carry into the sandbox (binds are
    /// recursive), each as a bind of what it shows, at its place inside; judged like binds.
    public var carriedMounts: [Mount] = []
    /// Git directories inside read-write binds whose configuration-bearing entries are bound
    /// read-only (host paths); see `GitProtection`.
    public var gitProtected: [String] = []
    /// Host paths that must not appear during the session (a `commondir` the server could plant
    /// in a git directory to redirect host git's configuration): `run` moves aside any that do.
    public var gitWatched: [String] = []
    /// Mercurial `.hg` directories whose configuration is bound read-only; see `HgProtection`.
    public var hgProtected: [String] = []
    /// Read-write binds holding repositories, walked after the session: a `.git` that appeared
    /// (a nested repository or submodule host git would enter) is moved aside.
    public var gitTrees: [GitProtection.Tree] = []
    /// The second wall, derived from `mounts` and `network` (see `LandlockPolicy.derive`).
    public var landlock: LandlockPolicy = .none
    /// `[isolation]`: mcpbox's own child stage (native) or gVisor's runsc.
    public var isolation: IsolationPlan = .native
    /// Why exec of `executable` would fail inside the sandbox (a missing or unusable
    /// interpreter, no execute permission); `run` exits with its status before launching.
    public var execProblem: ExecProblem?
    /// Dangerous grants the profile acknowledged with `filesystem.accept`, as `explain` lists them.
    public var accepted: [AcceptedGrant] = []
    /// Lint warnings acknowledged by the profile.
    public var acknowledged: [AcknowledgedWarning] = []
    /// caller-remap only: the caller's supplementary groups, which the server keeps on the host
    /// (setgroups is denied in its user namespace); empty in the other modes.
    public var keptGroups: [UInt32] = []
    /// Names of `keptGroups` known to /etc/group.
    public var keptGroupNames: [UInt32: String] = [:]
    /// `network.mode = "allow"`: the decided rules the proxy applies; nil otherwise.
    public var egress: EgressPlan?
    /// `[tools]` / `[prompts]`: what the MCP layer enforces on the stdio pipes; nil when no such
    /// key is set (the relay then moves bytes without reading them).
    public var mcp: MCPPlan?
    /// `[audit]`: the audit log (nil: off). When set, `mcp` is set too (the layer frames the traffic).
    public var audit: AuditPlan?
    /// `[packages]`: each package tool's cache, registry and offline decision.
    public var packages: [PackageCache] = []

    public init(profileName: String, profileFiles: [String], description: String?, argv: [String],
                executable: String?, cwd: String, hostname: String, identity: Identity,
                namespaces: [Namespace], mounts: [Mount], network: NetworkMode,
                seccomp: SeccompPolicy, environment: [EnvVar], limits: Limits, warnings: [String]) {
        self.profileName = profileName
        self.profileFiles = profileFiles
        self.description = description
        self.argv = argv
        self.executable = executable
        self.cwd = cwd
        self.hostname = hostname
        self.identity = identity
        self.namespaces = namespaces
        self.mounts = mounts
        self.network = network
        self.seccomp = seccomp
        self.environment = environment
        self.limits = limits
        self.warnings = warnings
    }
}

/// A grant that would be refused but that the profile acknowledged (`filesystem.accept`).
/// A lint warning the profile acknowledges (`[network|env|seccomp] accept`): not a warning any more,
/// but listed by `explain`.
public struct AcknowledgedWarning: Sendable, Equatable {
    /// The warning's text, as it would have been shown.
    public var warning: String
    /// The accept entry: "p.toml:5: network.accept".
    public var origin: String

    public init(warning: String, origin: String) {
        self.warning = warning
        self.origin = origin
    }
}

public struct AcceptedGrant: Sendable, Equatable {
    /// The host path acknowledged.
    public var path: String
    /// What the grant exposes, e.g. "credentials (.ssh), read-only".
    public var reason: String
    /// The accept entry: "p.toml:5: filesystem.accept".
    public var origin: String

    public init(path: String, reason: String, origin: String) {
        self.path = path
        self.reason = reason
        self.origin = origin
    }
}

/// Who the server runs as, inside the sandbox and as the host sees it.
public struct Identity: Sendable, Equatable {
    public enum Mechanism: String, Sendable, Equatable {
        /// mcpbox started by root with `[user] name`: the real system account.
        case rootAccount = "root-account"
        /// mcpbox started by root without `[user]`: the unprivileged overflow account (nobody).
        case rootNobody = "root-nobody"
        /// An ordinary caller with `[user] name`: mapped with newuidmap/newgidmap from /etc/subuid, /etc/subgid.
        case subordinate = "subordinate-map"
        /// An ordinary caller without `[user]`: the caller's own uid, remapped in a user namespace.
        case callerRemap = "caller-remap"
    }
    public var mechanism: Mechanism
    /// Account name shown inside (synthesized /etc/passwd).
    public var userName: String
    public var groupName: String
    /// uid/gid inside the sandbox (never 0).
    public var insideUid: UInt32
    public var insideGid: UInt32
    /// uid/gid the host sees for the server's processes and files (never 0).
    public var hostUid: UInt32
    public var hostGid: UInt32
    /// HOME inside the sandbox.
    public var home: String
    /// uid/gid of whoever started mcpbox.
    public var callerUid: UInt32
    public var callerGid: UInt32

    public init(mechanism: Mechanism, userName: String, groupName: String, insideUid: UInt32,
                insideGid: UInt32, hostUid: UInt32, hostGid: UInt32, home: String,
                callerUid: UInt32, callerGid: UInt32) {
        self.mechanism = mechanism
        self.userName = userName
        self.groupName = groupName
        self.insideUid = insideUid
        self.insideGid = insideGid
        self.hostUid = hostUid
        self.hostGid = hostGid
        self.home = home
        self.callerUid = callerUid
        self.callerGid = callerGid
    }
}

public enum Namespace: String, Sendable, Equatable, CaseIterable {
    case user, mount, pid, net, ipc, uts, cgroup
}

/// One entry of the filesystem view.
public struct Mount: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A host path bound at `target`; `readOnly` false only for `read_write`.
        case bind(source: String, readOnly: Bool)
        /// A private in-memory filesystem (`tmpfs` key, `/tmp`, `/dev/shm`), size in bytes.
        case tmpfs(sizeBytes: UInt64)
        /// A fresh procfs with read-only and masked paths.
        case proc
        /// A minimal /dev (null, zero, full, random, urandom, tty-less) with a private /dev/shm.
        case dev
        /// A file synthesized by mcpbox (e.g. /etc/passwd, /etc/group, /etc/hosts) with these bytes.
        case file(contents: String)
        /// `hide`: the path stays present but empty (an empty read-only tmpfs over a directory,
        /// an empty file over a file).
        case hide(isDirectory: Bool)
        /// A symbolic link with this text, mirrored from the host where the bound path is a symlink
        /// whose target the sandbox sees at the same place anyway (`/bin` → `usr/bin` on merged-/usr
        /// systems): the host's layout, without a bind.
        case symlink(to: String)
    }
    /// Absolute path inside the sandbox.
    public var target: String
    public var kind: Kind
    /// Which profile file and key asked for it ("base.toml: filesystem.read_only"), for explain.
    public var origin: String
    public init(target: String, kind: Kind, origin: String) {
        self.target = target
        self.kind = kind
        self.origin = origin
    }
}

public enum NetworkMode: String, Sendable, Equatable {
    /// Own network namespace, loopback only.
    case none
    /// Own network namespace, loopback only, plus the hosts of `SandboxPlan.egress`, reached
    /// through mcpbox's proxy (MCPBoxNetwork).
    case allow
    /// The host's network (no network namespace). explain warns loudly.
    case host
}

public struct SeccompPolicy: Sendable, Equatable {
    public enum Preset: String, Sendable, Equatable, CaseIterable {
        /// Allow-list that runs Python, Node, git and shell tools.
        case `default`
        /// Deny-list of the dangerous syscalls only, for exotic runtimes.
        case permissive
    }
    public enum DefaultAction: String, Sendable, Equatable, CaseIterable {
        case errno, kill, log
    }
    public var preset: Preset
    /// Extra syscalls allowed on top of the preset (validated names).
    public var allow: [String]
    /// Syscalls refused on top of the preset (validated names); wins over `allow`.
    public var deny: [String]
    public var defaultAction: DefaultAction

    /// The keyring syscalls, refused by both presets unless `allow` names them.
    public static let keyringSyscalls: Set<String> = ["keyctl", "add_key", "request_key"]

    /// Whether the filter lets the server use a keyring: then it gets a new, empty session
    /// keyring of its own (otherwise it would inherit the session keyring of whoever started
    /// mcpbox, and could read and change that caller's keys).
    public var reachesKeyrings: Bool {
        allow.contains { Self.keyringSyscalls.contains($0) && !deny.contains($0) }
    }

    public init(preset: Preset, allow: [String], deny: [String], defaultAction: DefaultAction) {
        self.preset = preset
        self.allow = allow
        self.deny = deny
        self.defaultAction = defaultAction
    }
}

public struct EnvVar: Sendable, Equatable {
    public var name: String
    public var value: String
    /// "pass" (copied from mcpbox's environment), "set" (profile), or "default" (mcpbox's own).
    public var origin: String
    public init(name: String, value: String, origin: String) {
        self.name = name
        self.value = value
        self.origin = origin
    }
}

public struct Limits: Sendable, Equatable {
    /// The inodes each tmpfs of `size` bytes may hold (`mcpbox_tmpfs_inodes` in mounts.c: one per
    /// KiB, at least 4096), so a flood of empty files cannot take more kernel memory than its size.
    public static func tmpfsInodes(_ size: UInt64) -> UInt64 { max(4096, size / 1024) }

    /// Bytes; nil = unlimited.
    public var memoryBytes: UInt64?
    /// An optional limit (`memory = "?SIZE"`): its size, and why it is applied or not.
    public var optionalMemory: OptionalMemory?
    /// The sandbox user namespace's inotify instance and watch limits; nil = the host's.
    public var inotifyInstances: UInt64?
    public var inotifyWatches: UInt64?
    /// Maximum number of processes/threads in the sandbox; nil = unlimited.
    public var processes: UInt64?
    /// RLIMIT_NOFILE.
    public var openFiles: UInt64
    /// Cores (e.g. 1.0, 0.5); nil = unlimited.
    public var cpu: Double?
    /// Wall-clock limit in seconds; 0 = unlimited.
    public var wallTimeSeconds: Double
    /// Size of each tmpfs that does not name its own, bytes.
    public var tmpfsSizeBytes: UInt64
    /// When mcpbox itself ends the server (the client is gone, or `wall_time`): how long the
    /// server gets before each of mcpbox's own SIGTERM and SIGKILL, seconds.
    public var shutdownGraceSeconds: Double

    public init(memoryBytes: UInt64?, processes: UInt64?, openFiles: UInt64, cpu: Double?,
                wallTimeSeconds: Double, tmpfsSizeBytes: UInt64, shutdownGraceSeconds: Double) {
        self.memoryBytes = memoryBytes
        self.optionalMemory = nil
        self.inotifyInstances = nil
        self.inotifyWatches = nil
        self.processes = processes
        self.openFiles = openFiles
        self.cpu = cpu
        self.wallTimeSeconds = wallTimeSeconds
        self.tmpfsSizeBytes = tmpfsSizeBytes
        self.shutdownGraceSeconds = shutdownGraceSeconds
    }
}

/// `[limits] memory = "?SIZE"`: applied (then also in `Limits.memoryBytes`) when the host has a
/// usable memory cgroup, else not, with the reason either way.
public struct OptionalMemory: Sendable, Equatable {
    public var bytes: UInt64
    public var applied: Bool
    public var reason: String

    public init(bytes: UInt64, applied: Bool, reason: String) {
        self.bytes = bytes
        self.applied = applied
        self.reason = reason
    }
}

/// One `[tools]` / `[prompts]` glob with where it was set.
public struct NameRule: Sendable, Equatable {
    public var pattern: String
    public var origin: String
}

/// One `[client]` key as set.
public struct ClientKey: Sendable, Equatable {
    public var name: String
    public var allowed: Bool
    public var origin: String
    /// `elicitation = "form"`: allowed in form mode only.
    public var formOnly = false
}

/// The MCP layer's part of the plan: the policy `run` hands to the relay, with the rules' origins.
public struct MCPPlan: Sendable, Equatable {
    public var policy: MCPPolicy
    public var toolsAllow: [NameRule]?
    public var toolsDeny: [NameRule]
    public var promptsAllow: [NameRule]?
    public var promptsDeny: [NameRule]
    /// `[client]` keys as set, with their origins (name, allowed, origin).
    public var clientKeys: [ClientKey]
    /// Where `[tools] pin` / `pin_first_use` were set (the config is in `policy.pins`).
    public var pinOrigin: String?
    public var pinFirstUseOrigin: String?
    /// `[tools] confirm` globs with their origins (nil: not set).
    public var toolsConfirm: [NameRule]?
    /// Where `[tools] confirm_timeout` was set (nil: the default).
    public var confirmTimeoutOrigin: String?
    /// `[resources]` globs over URIs with their origins.
    public var resourcesAllow: [NameRule]?
    public var resourcesDeny: [NameRule] = []

    /// nil when the profile sets none of the MCP layer's keys (`audit`: the audit log is on).
    public static func build(_ profile: Profile, audit: Bool = false) -> MCPPlan? {
        func rules(_ l: [Sourced<String>]) -> [NameRule] { l.map { NameRule(pattern: $0.value, origin: $0.origin) } }
        let hasTools = profile.toolsAllow != nil || !profile.toolsDeny.isEmpty
        let hasPrompts = profile.promptsAllow != nil || !profile.promptsDeny.isEmpty
        let clientKeys = [("sampling", profile.clientSampling), ("elicitation", profile.clientElicitation), ("roots", profile.clientRoots)]
            .compactMap { name, v in
                v.map { ClientKey(name: name, allowed: $0.value, origin: $0.origin, formOnly: name == "elicitation" && profile.clientElicitationFormOnly) }
            }
        let hasPin = profile.toolsPin.map { $0.value != .off } ?? false
        let hasResources = profile.resourcesAllow != nil || !profile.resourcesDeny.isEmpty
        guard hasTools || hasPrompts || !clientKeys.isEmpty || hasPin || profile.toolsConfirm != nil || hasResources || audit else { return nil }
        let gate = clientKeys.isEmpty ? nil : ClientGate(sampling: profile.clientSampling?.value ?? true,
                                                          elicitation: profile.clientElicitation?.value ?? true,
                                                          roots: profile.clientRoots?.value ?? true,
                                                          elicitationURL: !profile.clientElicitationFormOnly)
        let policy = MCPPolicy(
            tools: hasTools ? NamePolicy(allow: profile.toolsAllow?.map(\.value), deny: profile.toolsDeny.map(\.value)) : nil,
            prompts: hasPrompts ? NamePolicy(allow: profile.promptsAllow?.map(\.value), deny: profile.promptsDeny.map(\.value)) : nil,
            client: gate)
        var plan = MCPPlan(policy: policy, toolsAllow: profile.toolsAllow.map(rules), toolsDeny: rules(profile.toolsDeny),
                           promptsAllow: profile.promptsAllow.map(rules), promptsDeny: rules(profile.promptsDeny), clientKeys: clientKeys)
        plan.pinOrigin = profile.toolsPin?.origin
        plan.pinFirstUseOrigin = profile.toolsPinFirstUse?.origin
        plan.policy.confirm = profile.toolsConfirm?.map(\.value)
        if let t = profile.toolsConfirmTimeout {
            plan.policy.confirmTimeout = t.value
            plan.confirmTimeoutOrigin = t.origin
        }
        if hasResources {
            plan.policy.resources = NamePolicy(allow: profile.resourcesAllow?.map(\.value), deny: profile.resourcesDeny.map(\.value))
            plan.resourcesAllow = profile.resourcesAllow.map(rules)
            plan.resourcesDeny = rules(profile.resourcesDeny)
        }
        plan.toolsConfirm = profile.toolsConfirm.map(rules)
        return plan
    }
}

/// Device and inode of a host object.
public struct FileIdentity: Sendable, Equatable {
    public var dev: UInt64
    public var ino: UInt64
    public init(dev: UInt64, ino: UInt64) { self.dev = dev; self.ino = ino }
}
