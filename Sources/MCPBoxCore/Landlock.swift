import CSandbox
import MCPBoxNetwork

/// `[landlock] mode`: whether the second wall must, may or must not be built.
public enum LandlockMode: String, Sendable, Equatable, CaseIterable {
    /// Refuse to start (125) unless the kernel enforces Landlock.
    case require
    /// Enforce it where the kernel has Landlock; run without it (and say so) where it has not.
    case bestEffort = "best-effort"
    /// Never apply it.
    case off
}

/// Landlock access rights (uapi `linux/landlock.h`), with the ABI each appeared in.
public struct LandlockAccess: OptionSet, Sendable, Equatable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let execute = LandlockAccess(rawValue: 1 << 0)
    public static let writeFile = LandlockAccess(rawValue: 1 << 1)
    public static let readFile = LandlockAccess(rawValue: 1 << 2)
    public static let readDir = LandlockAccess(rawValue: 1 << 3)
    public static let removeDir = LandlockAccess(rawValue: 1 << 4)
    public static let removeFile = LandlockAccess(rawValue: 1 << 5)
    public static let makeChar = LandlockAccess(rawValue: 1 << 6)
    public static let makeDir = LandlockAccess(rawValue: 1 << 7)
    public static let makeReg = LandlockAccess(rawValue: 1 << 8)
    public static let makeSock = LandlockAccess(rawValue: 1 << 9)
    public static let makeFifo = LandlockAccess(rawValue: 1 << 10)
    public static let makeBlock = LandlockAccess(rawValue: 1 << 11)
    public static let makeSym = LandlockAccess(rawValue: 1 << 12)
    /// ABI 2: link or rename a file into another directory.
    public static let refer = LandlockAccess(rawValue: 1 << 13)
    /// ABI 3.
    public static let truncate = LandlockAccess(rawValue: 1 << 14)
    /// ABI 5: ioctl on character and block devices.
    public static let ioctlDev = LandlockAccess(rawValue: 1 << 15)

    /// Every filesystem right the kernel of `abi` knows (all of them are handled: denied
    /// unless a rule grants them).
    public static func filesystem(abi: Int) -> LandlockAccess {
        guard abi >= 1 else { return [] }
        var all = LandlockAccess(rawValue: (1 << 13) - 1)
        if abi >= 2 { all.insert(.refer) }
        if abi >= 3 { all.insert(.truncate) }
        if abi >= 5 { all.insert(.ioctlDev) }
        return all
    }

    /// Read-only binds, synthesized files: read and run what is there.
    public static let readExecute: LandlockAccess = [.readFile, .readDir, .execute]
    /// Read-write binds and tmpfs mounts: everything the mount view lets the server do there
    /// (device nodes excepted: `nodev` mounts, and mknod needs a capability anyway).
    public static let readWrite: LandlockAccess = readExecute.union([
        .writeFile, .removeDir, .removeFile, .makeDir, .makeReg, .makeSock, .makeFifo, .makeSym,
        .refer, .truncate, .ioctlDev,
    ])
    /// /proc: read only.
    public static let readOnly: LandlockAccess = [.readFile, .readDir]
    /// The shipped /dev nodes: read, write (`> /dev/null` truncates), ioctl.
    public static let device: LandlockAccess = [.readFile, .writeFile, .truncate, .ioctlDev]

    static let names: [(LandlockAccess, String)] = [
        (.execute, "execute"), (.writeFile, "write_file"), (.readFile, "read_file"), (.readDir, "read_dir"),
        (.removeDir, "remove_dir"), (.removeFile, "remove_file"), (.makeChar, "make_char"), (.makeDir, "make_dir"),
        (.makeReg, "make_reg"), (.makeSock, "make_sock"), (.makeFifo, "make_fifo"), (.makeBlock, "make_block"),
        (.makeSym, "make_sym"), (.refer, "refer"), (.truncate, "truncate"), (.ioctlDev, "ioctl_dev"),
    ]

    /// The kernel's names of the rights, lower case (`read_file`, …), in bit order.
    public var names: [String] { Self.names.filter { contains($0.0) }.map(\.1) }
}

/// One filesystem rule: `access` beneath `path` (a path of the sandbox's view).
public struct LandlockRule: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// A read-only bind or a synthesized file.
        case readOnly = "ro"
        /// A read-write bind or a tmpfs.
        case readWrite = "rw"
        /// The new procfs.
        case proc
        /// A device node of the minimal /dev.
        case device = "dev"
    }
    public var path: String
    public var kind: Kind
    /// Already limited to what the probed ABI handles.
    public var access: LandlockAccess
    /// The mount the rule comes from (its origin, as explain shows it).
    public var origin: String
}

/// The Landlock side of a plan: derived from the same mounts and network mode, never from
/// anything else, so explain shows what the launch applies.
public struct LandlockPolicy: Sendable, Equatable {
    public var mode: LandlockMode
    /// Where the mode was set ("base.toml: landlock.mode"), or "mcpbox default".
    public var origin: String
    /// The kernel's Landlock ABI, probed with landlock_create_ruleset; 0 = no Landlock.
    public var abi: Int
    /// Filesystem rights denied unless a rule grants them (empty when not enforced).
    public var handledFS: LandlockAccess
    public var rules: [LandlockRule]
    /// TCP ports the server may bind (`landlock.tcp_bind`); nil = not restricted (key unset, or ABI < 4).
    public var tcpBind: [UInt16]?
    /// TCP ports the server may connect to (`landlock.tcp_connect`); nil = not restricted.
    public var tcpConnect: [UInt16]?
    /// Abstract unix sockets and signals limited to the sandbox (ABI 6+).
    public var scoped: Bool
    /// What the second wall does not cover, in plain words (explain prints each).
    public var notes: [String]

    /// Applied by `run` on the native runtime: mode is not `off` and the kernel has Landlock.
    public var enforced: Bool { mode != .off && abi > 0 }
    /// `[isolation] runtime = "gvisor"`: the server runs in gVisor's kernel, which the host's
    /// Landlock never reaches (best-effort drops it; `require` is refused).
    public var underGVisor = false
    /// What the server runs under: enforced, on the native runtime.
    public var applied: Bool { enforced && !underGVisor }

    public init(mode: LandlockMode, origin: String, abi: Int, handledFS: LandlockAccess, rules: [LandlockRule],
                tcpBind: [UInt16]?, tcpConnect: [UInt16]?, scoped: Bool, notes: [String]) {
        self.mode = mode
        self.origin = origin
        self.abi = abi
        self.handledFS = handledFS
        self.rules = rules
        self.tcpBind = tcpBind
        self.tcpConnect = tcpConnect
        self.scoped = scoped
        self.notes = notes
    }

    /// Nothing applied (plans built by hand in tests, before a mode is chosen).
    public static let none = LandlockPolicy(mode: .off, origin: "mcpbox default", abi: 0, handledFS: [], rules: [],
                                            tcpBind: nil, tcpConnect: nil, scoped: false, notes: [])

    /// The shipped /dev nodes (mounts.c, mount_dev).
    public static let deviceNodes = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]

    /// Derives the rules from the plan's mounts: read/execute beneath read-only binds and
    /// synthesized files, everything but device creation beneath read-write binds and tmpfs
    /// mounts, read beneath /proc, read/write on the /dev nodes and all of /dev/shm, and
    /// nothing anywhere else (the root tmpfs itself, /dev's listing included). TCP bind and
    /// connect are limited to `tcpBind` / `tcpConnect` when given (ABI 4+; nil leaves that
    /// one to the network mode); abstract unix sockets and signals are scoped to the sandbox
    /// (ABI 6+). Every mask is limited to `abi`.
    public static func derive(mounts: [Mount], network: NetworkMode, mode: LandlockMode, origin: String,
                              abi: Int, tcpBind: [UInt16]? = nil, tcpConnect: [UInt16]? = nil) -> LandlockPolicy {
        guard mode != .off, abi > 0 else {
            return LandlockPolicy(mode: mode, origin: origin, abi: abi, handledFS: [], rules: [], tcpBind: nil,
                                  tcpConnect: nil, scoped: false, notes: [])
        }
        let handled = LandlockAccess.filesystem(abi: abi)
        var rules: [LandlockRule] = []
        func add(_ path: String, _ kind: LandlockRule.Kind, _ access: LandlockAccess, _ origin: String) {
            rules.append(LandlockRule(path: path, kind: kind, access: access.intersection(handled), origin: origin))
        }
        var writable: [String] = []
        // A directory mask hides every mount below it: the launch never makes those, so no rule
        // may name them (the path would not exist in the view).
        let masks = mounts.compactMap { m -> String? in if case .hide(true) = m.kind { m.target } else { nil } }
        for m in mounts where !masks.contains(where: { $0 != m.target && Paths.isWithin(m.target, $0) }) {
            switch m.kind {
            case .bind(_, let readOnly):
                add(m.target, readOnly ? .readOnly : .readWrite, readOnly ? .readExecute : .readWrite, m.origin)
                if !readOnly { writable.append(m.target) }
            case .tmpfs:
                add(m.target, .readWrite, .readWrite, m.origin)
                writable.append(m.target)
            case .file:
                add(m.target, .readOnly, .readFile, m.origin)
            case .proc:
                add(m.target, .proc, .readOnly, m.origin)
            case .dev:
                for node in deviceNodes { add(node, .device, .device, m.origin) }
                add(Paths.join(m.target, "shm"), .readWrite, .readWrite, m.origin)
                writable.append(Paths.join(m.target, "shm"))
            case .hide, .symlink:
                continue
            }
        }
        var notes: [String] = []
        // Rules only add up along a path: what lies beneath a writable rule keeps its rights.
        for m in mounts {
            guard let w = writable.first(where: { $0 != m.target && Paths.isWithin(m.target, $0) }) else { continue }
            switch m.kind {
            case .bind(_, true), .file:
                notes.append("\(m.target) is read-only through the mount view only: it lies inside \(w), where Landlock grants write")
            case .hide:
                notes.append("hidden \(m.target) is masked by the mount view only: it lies inside \(w), where Landlock grants write")
            default:
                break
            }
        }
        if mounts.contains(where: { if case .hide = $0.kind { true } else { false } }) {
            notes.append("`hide` is enforced by the mount view only: Landlock grants access beneath a path and cannot carve out a part of it")
        }
        if abi < 2 {
            notes.append("Landlock ABI 1: moving or linking a file into another directory fails with EXDEV")
        }
        let tcp = abi >= 4
        if !tcp && (tcpBind != nil || tcpConnect != nil) {
            notes.append("landlock.tcp_bind/tcp_connect are NOT enforced: the kernel's ABI \(abi) predates network rules (ABI 4)")
        } else if tcpBind == nil || tcpConnect == nil {
            let scope = switch network {
            case .none: "only the sandbox's own loopback is reachable (network.mode = \"none\")"
            case .allow: "only the sandbox's own loopback and mcpbox's egress listeners are reachable (network.mode = \"allow\")"
            case .host: "the host's network is shared (network.mode = \"host\")"
            }
            notes.append("TCP \(tcpBind == nil && tcpConnect == nil ? "bind and connect are" : tcpBind == nil ? "bind is" : "connect is") not limited to ports: \(scope); set landlock.tcp_bind / tcp_connect to name the ports")
        }
        if abi < 6 {
            notes.append("abstract unix sockets and signals are not scoped: the kernel's ABI \(abi) predates scoping (ABI 6)")
        }
        return LandlockPolicy(mode: mode, origin: origin, abi: abi, handledFS: handled, rules: rules,
                              tcpBind: tcp ? tcpBind : nil, tcpConnect: tcp ? tcpConnect : nil, scoped: abi >= 6, notes: notes)
    }

    /// The kernel's Landlock ABI (landlock_create_ruleset with LANDLOCK_CREATE_RULESET_VERSION);
    /// 0 when Landlock is absent or disabled.
    public static func probeABI() -> Int { Int(mcpbox_landlock_abi()) }

    /// explain's one-line status.
    public var statusText: String {
        if mode == .off { return "off: not applied (landlock.mode = \"off\"); only the mount view limits file access" }
        if underGVisor && mode == .bestEffort {
            return "NOT APPLIED: the server runs in gVisor's kernel ([isolation] runtime = \"gvisor\"), which the host's Landlock cannot reach (best-effort); only the mount view limits file access"
        }
        if abi > 0 { return "enforced (kernel Landlock ABI \(abi))" }
        if mode == .bestEffort {
            return "NOT ENFORCED: this kernel has no Landlock (best-effort); only the mount view limits file access"
        }
        return "required, but this kernel has no Landlock: run refuses to start"
    }

    /// explain's summary of the TCP restriction.
    public var tcpText: String {
        func ports(_ p: [UInt16]?) -> String {
            guard let p else { return "any port" }
            return p.isEmpty ? "no port (denied)" : "only port" + (p.count == 1 ? " " : "s ") + p.map(String.init).joined(separator: ", ")
        }
        return "bind: \(ports(tcpBind)); connect: \(ports(tcpConnect))"
    }

    /// explain's summary of the scoping.
    public var scopeText: String {
        guard enforced else { return "none" }
        return scoped ? "abstract unix sockets and signals limited to the sandbox" : "none (ABI \(abi) < 6)"
    }
}

extension LandlockPolicy {
    /// The C description (`struct mcpbox_landlock`) in `arena`, or nil when nothing is applied.
    func cDescription(_ arena: Arena) -> UnsafePointer<mcpbox_landlock>? {
        guard enforced else { return nil }
        let cRules = arena.allocate(mcpbox_landlock_rule.self, count: rules.count)
        for (i, r) in rules.enumerated() {
            cRules[i] = mcpbox_landlock_rule(path: arena.string(r.path), access: r.access.rawValue)
        }
        let ll = arena.allocate(mcpbox_landlock.self, count: 1)
        var net: UInt64 = 0
        if tcpBind != nil { net |= UInt64(MCPBOX_LL_NET_BIND_TCP) }
        if tcpConnect != nil { net |= UInt64(MCPBOX_LL_NET_CONNECT_TCP) }
        var portRules: [(UInt16, UInt64)] = []
        for p in tcpBind ?? [] { portRules.append((p, UInt64(MCPBOX_LL_NET_BIND_TCP))) }
        for p in tcpConnect ?? [] { portRules.append((p, UInt64(MCPBOX_LL_NET_CONNECT_TCP))) }
        let cPorts = arena.allocate(mcpbox_landlock_port.self, count: portRules.count)
        for (i, (port, access)) in portRules.enumerated() { cPorts[i] = mcpbox_landlock_port(port: UInt64(port), access: access) }
        var scope: UInt64 = 0
        if scoped { scope = UInt64(MCPBOX_LL_SCOPE_ABSTRACT_UNIX_SOCKET) | UInt64(MCPBOX_LL_SCOPE_SIGNAL) }
        ll.pointee = mcpbox_landlock(handled_fs: handledFS.rawValue, handled_net: net, scoped: scope,
                                     rules: UnsafePointer(cRules), n_rules: rules.count,
                                     ports: UnsafePointer(cPorts), n_ports: portRules.count)
        return UnsafePointer(ll)
    }
}

extension PlanBuilder {
    /// The plan's Landlock policy for `mounts`; `require` on a kernel without Landlock is an error.
    func landlockPolicy(mounts: [Mount], network: NetworkMode, sink: inout DiagnosticSink) -> LandlockPolicy {
        let mode = profile.landlockMode?.value ?? .bestEffort
        let origin = profile.landlockMode?.origin ?? "mcpbox default"
        if mode == .require && host.landlockABI == 0 {
            let m = profile.landlockMode
            sink.add(Diagnostic(file: m?.file, line: m?.line, key: "landlock.mode",
                                "\"require\", but this kernel has no Landlock (landlock_create_ruleset: not supported)",
                                hint: "run on Linux 5.13 or later with Landlock enabled (CONFIG_SECURITY_LANDLOCK, `landlock` in the lsm= boot list), or set landlock.mode = \"best-effort\""))
        }
        let bind = profile.landlockTCPBind, connect = profile.landlockTCPConnect
        // Nothing else limits TCP ports: a port rule that would not be applied is refused,
        // whichever layer of the profile wrote it.
        if let ports = bind?.first ?? connect?.first {
            if mode == .off {
                sink.add(ports.diagnostic("this port rule would not be applied: landlock.mode = \"off\" (\(origin)), and nothing else limits TCP ports",
                                          hint: "remove landlock.tcp_bind/tcp_connect, or set landlock.mode = \"best-effort\" or \"require\""))
            } else if profile.isolationRuntime?.value == .gvisor, let runtime = profile.isolationRuntime {
                sink.add(ports.diagnostic("this port rule would not be applied: [isolation] runtime = \"gvisor\" (\(runtime.origin)) runs the server in gVisor's kernel, which the host's Landlock cannot reach, and nothing else limits TCP ports",
                                          hint: "remove landlock.tcp_bind/tcp_connect (network.mode = \"none\" or \"allow\" limit the network under gVisor too), or use the native runtime"))
            }
        }
        if mode == .require && host.landlockABI > 0 && host.landlockABI < 4, let ports = bind?.first ?? connect?.first {
            sink.add(ports.diagnostic("\"require\" with TCP ports, but this kernel's Landlock ABI \(host.landlockABI) predates network rules (ABI 4, Linux 6.7)",
                                      hint: "remove landlock.tcp_bind/tcp_connect, or set landlock.mode = \"best-effort\" (explain then says they are not enforced)"))
        }
        // mode "allow": the server reaches its hosts only through mcpbox's listeners inside the
        // sandbox (the proxy, DNS over TCP, the captured ports), so a port list keeps them.
        var connectPorts = connect.map { $0.map(\.value) }
        var added: [UInt16] = []
        if network == .allow, let ports = connectPorts {
            let egress = [EgressPolicy.proxyPort, 53] + EgressPolicy(allow: profile.networkAllow.map(\.value), deny: []).capturePorts
            added = egress.filter { !ports.contains($0) }
            connectPorts = ports + added
        }
        var policy = LandlockPolicy.derive(mounts: mounts, network: network, mode: mode, origin: origin, abi: host.landlockABI,
                                           tcpBind: bind.map { $0.map(\.value) }, tcpConnect: connectPorts)
        policy.underGVisor = profile.isolationRuntime?.value == .gvisor
        if !added.isEmpty && policy.tcpConnect != nil {
            policy.notes.append("landlock.tcp_connect: \(added.map(String.init).joined(separator: ", ")) added for network.mode = \"allow\" (mcpbox's egress proxy, DNS stub and captured ports inside the sandbox)")
        }
        return policy
    }
}
