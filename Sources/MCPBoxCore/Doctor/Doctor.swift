import CSandbox
#if canImport(Glibc)
import Glibc
#endif

/// `mcpbox doctor`: what this kernel and this caller give mcpbox, each feature probed the way a
/// launch uses it, with what a missing one disables and how to fix it.
public enum Doctor {
    public enum Status: String, Sendable {
        case works
        /// Works with gaps (named in the detail).
        case partial
        case missing
        /// Not applicable to this caller or host (information only).
        case info = "n/a"
    }

    public struct Finding: Sendable, Equatable {
        public var name: String
        public var status: Status
        public var detail: String
        /// What does not work without it (empty when it works).
        public var disables: String = ""
        public var fix: String = ""
        /// Without it `run` cannot start any server.
        public var essential: Bool = false
    }

    /// The host facts the findings are judged from; `current()` reads them.
    public struct Facts: Sendable {
        public var uid: UInt32
        public var userName: String?
        public var kernelRelease: String
        /// nil: the sysctl does not exist on this kernel.
        public var maxUserNamespaces: Int?
        public var unprivilegedUsernsClone: Int?
        public var apparmorRestrictUserns: Int?
        /// 0 when all namespaces were created, else the errno, with the step (1 user, 2 the others).
        public var namespaceProbe: (errno: Int32, step: Int32)
        /// `/proc/sys/kernel/seccomp/actions_avail`, nil when absent (no seccomp filter support).
        public var seccompActions: [String]?
        public var landlockABI: Int
        public var cgroupV2: Bool
        public var memory: (usable: Bool, reason: String)
        public var cpu: (usable: Bool, reason: String)
        /// Path of newuidmap/newgidmap and whether it can map for others (setuid root or file capabilities).
        public var newuidmap: (path: String?, privileged: Bool)
        public var newgidmap: (path: String?, privileged: Bool)
        public var subuid: [Accounts.SubordinateRange]
        public var subgid: [Accounts.SubordinateRange]

        public static func current() -> Facts {
            let uid = getuid()
            let accounts = Accounts()
            let name = accounts.user(uid: uid)?.name
            var step: Int32 = 0
            let err = mcpbox_probe_namespaces(&step)
            let owners = Set([name, String(uid)].compactMap { $0 })
            return Facts(uid: uid, userName: name, kernelRelease: Doctor.sysfile("/proc/sys/kernel/osrelease") ?? "unknown",
                         maxUserNamespaces: Doctor.sysfile("/proc/sys/user/max_user_namespaces").flatMap { Int($0) },
                         unprivilegedUsernsClone: Doctor.sysfile("/proc/sys/kernel/unprivileged_userns_clone").flatMap { Int($0) },
                         apparmorRestrictUserns: Doctor.sysfile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").flatMap { Int($0) },
                         namespaceProbe: (err, step),
                         seccompActions: Doctor.sysfile("/proc/sys/kernel/seccomp/actions_avail").map { $0.split(separator: " ").map(String.init) },
                         landlockABI: LandlockPolicy.probeABI(), cgroupV2: Cgroups.isV2(),
                         memory: Cgroups.memoryUsable(), cpu: Doctor.cpuUsable(),
                         newuidmap: Doctor.helper("newuidmap"), newgidmap: Doctor.helper("newgidmap"),
                         subuid: accounts.subuid.filter { owners.contains($0.owner) },
                         subgid: accounts.subgid.filter { owners.contains($0.owner) })
        }
    }

    /// The findings for `facts`, in a fixed order.
    public static func findings(_ f: Facts) -> [Finding] {
        var out: [Finding] = []
        let root = f.uid == 0

        // WSL.
        let release = f.kernelRelease.lowercased()
        if release.contains("microsoft") || release.contains("wsl") {
            if release.contains("wsl2") || !f.kernelRelease.hasSuffix("Microsoft") {
                out.append(Finding(name: "WSL", status: .works, detail: "WSL 2 (a real Linux kernel: \(f.kernelRelease)); the findings below apply to it"))
            } else {
                out.append(Finding(name: "WSL", status: .missing, detail: "WSL 1 (\(f.kernelRelease)) emulates Linux and has no namespaces, seccomp or Landlock",
                                   disables: "every sandbox", fix: "convert the distribution to WSL 2: wsl --set-version <distro> 2", essential: true))
            }
        } else {
            out.append(Finding(name: "WSL", status: .info, detail: "not WSL (kernel \(f.kernelRelease))"))
        }

        // User namespaces.
        var sysctls: [String] = []
        if let v = f.maxUserNamespaces { sysctls.append("user.max_user_namespaces=\(v)") }
        if let v = f.unprivilegedUsernsClone { sysctls.append("kernel.unprivileged_userns_clone=\(v)") }
        if let v = f.apparmorRestrictUserns { sysctls.append("kernel.apparmor_restrict_unprivileged_userns=\(v)") }
        let sysctlText = sysctls.isEmpty ? "" : " (" + sysctls.joined(separator: ", ") + ")"
        if f.namespaceProbe.errno == 0 {
            out.append(Finding(name: "user namespaces", status: .works,
                               detail: "created a user namespace and the mount, pid, network, IPC, UTS and cgroup namespaces in it\(sysctlText)"))
        } else {
            let what = f.namespaceProbe.step == 1 ? "creating a user namespace" : "creating the mount/pid/network/IPC/UTS/cgroup namespaces inside a user namespace"
            let why = f.namespaceProbe.errno < 0 ? "the probe could not run" : String(cString: strerror(f.namespaceProbe.errno))
            var fix = "enable user namespaces in the kernel (CONFIG_USER_NS)"
            if f.namespaceProbe.errno == ENOSPC {
                fix = "the user namespace limit is reached (user.max_user_namespaces counts every nesting level; a sandbox around mcpbox, "
                    + "such as bwrap --disable-userns or a container, may set it to forbid more): run mcpbox outside that sandbox, or raise the limit"
            } else if f.maxUserNamespaces == 0 {
                fix = "sysctl -w user.max_user_namespaces=15000 (and set it in /etc/sysctl.d/ to keep it)"
            } else if !root && f.unprivilegedUsernsClone == 0 {
                fix = "sysctl -w kernel.unprivileged_userns_clone=1 (and in /etc/sysctl.d/), or start mcpbox as root"
            } else if !root && f.apparmorRestrictUserns == 1 {
                fix = "AppArmor restricts unprivileged user namespaces: add /etc/apparmor.d/mcpbox with "
                    + "`abi <abi/4.0>, include <tunables/global> profile mcpbox /usr/local/bin/mcpbox flags=(unconfined) { userns, }` "
                    + "and run apparmor_parser -r /etc/apparmor.d/mcpbox (or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0), or start mcpbox as root"
            } else if f.namespaceProbe.errno == EPERM && (f.apparmorRestrictUserns == nil || root) {
                fix = "a seccomp filter or security module of the surrounding container denies it: run mcpbox on the host, or allow unshare/clone with CLONE_NEWUSER in the container"
            }
            out.append(Finding(name: "user namespaces", status: .missing, detail: "\(what) failed: \(why)\(sysctlText)",
                               disables: "every sandbox: run exits 125", fix: fix, essential: true))
        }

        // Seccomp.
        if let actions = f.seccompActions {
            let needed = ["errno", "kill_process", "allow"]
            let absent = needed.filter { !actions.contains($0) }
            if !absent.isEmpty {
                out.append(Finding(name: "seccomp", status: .missing, detail: "the kernel lacks the filter actions " + absent.joined(separator: ", "),
                                   disables: "every sandbox: the syscall filter cannot be installed", fix: "a kernel with CONFIG_SECCOMP_FILTER (Linux 4.14 or later)", essential: true))
            } else if !actions.contains("log") {
                out.append(Finding(name: "seccomp", status: .partial, detail: "filter actions: " + actions.joined(separator: " ") + "; no `log`",
                                   disables: "seccomp.default_action = \"log\"", fix: "a kernel with SECCOMP_RET_LOG (Linux 4.14 or later)"))
            } else {
                out.append(Finding(name: "seccomp", status: .works, detail: "filter actions: " + actions.joined(separator: " ")))
            }
        } else {
            out.append(Finding(name: "seccomp", status: .missing, detail: "/proc/sys/kernel/seccomp/actions_avail is absent: no seccomp filters",
                               disables: "every sandbox: the syscall filter cannot be installed", fix: "a kernel with CONFIG_SECCOMP_FILTER", essential: true))
        }

        // Landlock.
        let lsmFix = "a kernel with CONFIG_SECURITY_LANDLOCK (5.13+; 6.7+ for ABI 4 TCP rules, 6.12+ for ABI 6 scoping), with landlock in the lsm= boot parameter"
        switch f.landlockABI {
        case ..<1:
            out.append(Finding(name: "Landlock", status: .missing, detail: "landlock_create_ruleset reports no Landlock (ABI 0)",
                               disables: "the second wall: mode \"best-effort\" (the default) runs without it and explain says NOT ENFORCED; mode \"require\" refuses to start",
                               fix: lsmFix))
        case 1..<4:
            out.append(Finding(name: "Landlock", status: .partial, detail: "ABI \(f.landlockABI): filesystem rules only",
                               disables: "[landlock] tcp_bind/tcp_connect (refused under require), abstract-socket and signal scoping", fix: lsmFix))
        case 4..<6:
            out.append(Finding(name: "Landlock", status: .partial, detail: "ABI \(f.landlockABI): filesystem and TCP port rules",
                               disables: "abstract unix socket and signal scoping (ABI 6)", fix: lsmFix))
        default:
            out.append(Finding(name: "Landlock", status: .works, detail: "ABI \(f.landlockABI): filesystem, TCP port rules and scoping"))
        }

        // Cgroups.
        let hierarchy = f.cgroupV2 ? "cgroup v2" : "cgroup v1"
        let cgroupFix = root ? (f.cgroupV2 ? "enable the controller: echo +memory +cpu > /sys/fs/cgroup/cgroup.subtree_control"
                                           : "mount the memory and cpu controllers under /sys/fs/cgroup")
                             : "start mcpbox as root (the server still runs as its own account), or give uid \(f.uid) write access to the cgroup root"
        out.append(Finding(name: "memory limit", status: f.memory.usable ? .works : .missing, detail: "\(hierarchy): \(f.memory.reason)",
                           disables: f.memory.usable ? "" : "limits.memory: a profile with memory = \"SIZE\" is refused; \"?SIZE\" (base, node) runs without a limit and warns",
                           fix: f.memory.usable ? "" : cgroupFix))
        out.append(Finding(name: "cpu limit", status: f.cpu.usable ? .works : .missing, detail: "\(hierarchy): \(f.cpu.reason)",
                           disables: f.cpu.usable ? "" : "limits.cpu: a profile that sets it is refused", fix: f.cpu.usable ? "" : cgroupFix))
        out.append(Finding(name: "processes, open_files", status: .works, detail: "rlimits (RLIMIT_NPROC counted per user namespace), no cgroup needed"))

        // newuidmap/newgidmap and subordinate ranges: how an ordinary caller runs a server as another account.
        let tools = [("newuidmap", f.newuidmap), ("newgidmap", f.newgidmap)]
        let badTools = tools.filter { $0.1.path == nil || !$0.1.privileged }.map(\.0)
        let ranges = "subuid " + rangeText(f.subuid) + ", subgid " + rangeText(f.subgid)
        let who = f.userName ?? "uid \(f.uid)"
        if root {
            out.append(Finding(name: "newuidmap/newgidmap", status: .info,
                               detail: "not needed: root maps [user] accounts itself" + (badTools.isEmpty ? "" : " (\(badTools.joined(separator: ", ")) missing or unprivileged, which ordinary users would need)")))
        } else if !badTools.isEmpty {
            out.append(Finding(name: "newuidmap/newgidmap", status: .missing,
                               detail: badTools.joined(separator: ", ") + " not found, or neither setuid root nor with file capabilities",
                               disables: "[user] name when you start mcpbox (without it the server runs as you, remapped)",
                               fix: "apt-get install uidmap (Debian/Ubuntu) or shadow-utils; ls -l /usr/bin/newuidmap should show -rwsr-xr-x root"))
        } else if f.subuid.isEmpty || f.subgid.isEmpty {
            out.append(Finding(name: "subordinate ids", status: .missing, detail: "\(who) has \(ranges) in /etc/subuid and /etc/subgid",
                               disables: "[user] name when you start mcpbox (without it the server runs as you, remapped)",
                               fix: "as root, add the account's uid to /etc/subuid and its gid to /etc/subgid for \(who) (e.g. `\(who):UID:1`), or usermod --add-subuids/--add-subgids"))
        } else {
            out.append(Finding(name: "newuidmap/newgidmap", status: .works, detail: "setuid helpers present; \(who) has \(ranges): [user] accounts with ids in these ranges can be used"))
        }
        return out
    }

    /// Whether any finding makes `run` impossible.
    public static func runCannotWork(_ findings: [Finding]) -> Bool {
        findings.contains { $0.essential && $0.status == .missing }
    }

    /// The report as printed by `mcpbox doctor`.
    public static func render(_ findings: [Finding], facts: Facts) -> String {
        var lines = ["mcpbox doctor: kernel \(facts.kernelRelease), uid \(facts.uid)\(facts.userName.map { " (\($0))" } ?? "")"]
        let width = (findings.map(\.name.count).max() ?? 0) + 2
        for f in findings {
            let name = f.name + String(repeating: " ", count: max(1, width - f.name.count))
            lines.append(f.status.rawValue + String(repeating: " ", count: 9 - f.status.rawValue.count) + name + f.detail)
            if !f.disables.isEmpty { lines.append(String(repeating: " ", count: 9 + width) + "disables: " + f.disables) }
            if !f.fix.isEmpty { lines.append(String(repeating: " ", count: 9 + width) + "fix: " + f.fix) }
        }
        let blockers = findings.filter { $0.essential && $0.status == .missing }.map(\.name)
        lines.append(blockers.isEmpty ? "run: can work here (limits and walls as listed above)"
                                      : "run: CANNOT WORK here: " + blockers.joined(separator: ", ") + " missing")
        return lines.joined(separator: "\n") + "\n"
    }

    static func rangeText(_ ranges: [Accounts.SubordinateRange]) -> String {
        if ranges.isEmpty { return "none" }
        return ranges.map { r -> String in
            let last = UInt64(r.start) + UInt64(r.count) - 1
            return "\(r.start)-\(last)"
        }.joined(separator: ",")
    }

    static func sysfile(_ path: String) -> String? {
        HostFS.readFile(path, limit: 4096).map { String($0.split(whereSeparator: { $0 == "\n" || $0 == " " || $0 == "\t" }).joined(separator: " ")) }
    }

    /// Whether a cpu group can be made here (what `limits.cpu` needs).
    static func cpuUsable() -> (usable: Bool, reason: String) {
        let root = "/sys/fs/cgroup"
        if Cgroups.isV2() {
            let available = sysfile("\(root)/cgroup.controllers") ?? ""
            guard available.split(separator: " ").contains("cpu") else {
                return (false, "the cgroup v2 hierarchy at \(root) has no cpu controller")
            }
            guard access("\(root)/cgroup.subtree_control", W_OK) == 0,
                  access("\(root)/mcpbox", F_OK) == 0 ? access("\(root)/mcpbox", W_OK) == 0 : access(root, W_OK) == 0 else {
                return (false, "\(root) is not writable by uid \(getuid()) (run as root, or delegate a cgroup)")
            }
            if let outer = Cgroups.callerLimitReason("cpu") { return (false, outer) }
            return (true, "cgroup v2 cpu controller writable")
        }
        let base = "\(root)/cpu"
        guard access("\(base)/cpu.cfs_quota_us", F_OK) == 0 else { return (false, "no cgroup cpu controller with CFS quota at \(base)") }
        guard access("\(base)/mcpbox", F_OK) == 0 ? access("\(base)/mcpbox", W_OK) == 0 : access(base, W_OK) == 0 else {
            return (false, "\(base) is not writable by uid \(getuid()) (run as root, or delegate a cgroup)")
        }
        if let outer = Cgroups.callerLimitReason("cpu") { return (false, outer) }
        return (true, "cgroup v1 cpu controller writable")
    }

    /// The helper along the usual directories, and whether it is setuid root or carries file capabilities.
    static func helper(_ name: String) -> (path: String?, privileged: Bool) {
        for dir in ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"] {
            let path = dir + "/" + name
            guard let info = HostFS.info(path), info.isRegular else { continue }
            let setuid = info.uid == 0 && info.mode & 0o4000 != 0
            let caps = HostFS.hasXattr(path, "security.capability")
            return (path, setuid || caps)
        }
        return (nil, false)
    }
}
