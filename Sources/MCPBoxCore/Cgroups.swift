import CSandbox
#if canImport(Glibc)
import Glibc
#endif

/// Per-sandbox cgroups for the limits no rlimit can express: `memory` and `cpu`.
///
/// `processes` is not here: it is RLIMIT_NPROC, which since Linux 5.14 counts the tasks of a
/// uid *per user namespace* (ucounts), and every sandbox has its own user namespace, so it
/// bounds exactly the sandbox's tasks and works for unprivileged callers too.
///
/// cgroup v1 (`/sys/fs/cgroup/{memory,cpu}/mcpbox/NAME`) or v2 (`/sys/fs/cgroup/mcpbox/NAME`
/// when the unified hierarchy is mounted there with the controllers). The parent creates the
/// groups, writes the limits and opens the files to join before clone. On v1 pid 1 joins
/// itself first thing, through the `tasks` files (see `launch.c`); on v2 the parent joins it
/// while it builds its root, and pid 1 waits for the join before it roots its cgroup
/// namespace or forks the server. The groups are removed after pid 1 has been reaped. No writable hierarchy means no launch: a
/// limit the profile asks for is never silently dropped.
///
/// `memory` covers socket buffers too: cgroup v2 charges them to `memory.max` itself; on v1
/// `memory.kmem.tcp.limit_in_bytes` gets the same value (no such file, no launch).
///
/// A group is named `PID-START-RANDOM` after the mcpbox that made it (pid and start time in
/// clock ticks, so a reused pid is told apart). An mcpbox killed by SIGKILL cannot remove its
/// groups; every launch sweeps the ones whose mcpbox is gone (`sweep`).
public struct Cgroups: Sendable {
    /// Directories created, deepest last.
    let dirs: [String]
    /// Open files to join, one per directory (closed after the join): v1's `tasks`, which pid 1
    /// writes itself, or v2's `cgroup.procs`, which the parent writes pid 1's pid to.
    let procsFDs: [Int32]
    /// Whether pid 1 joins itself (v1 `tasks` files) rather than being joined by the parent.
    var joinedByPid1 = false

    static let root = "/sys/fs/cgroup"

    /// Creates the groups `limits` needs, or nil when it needs none; named after `owner`, the
    /// mcpbox process that removes them.
    static func create(for limits: Limits, owner: pid_t = getpid()) throws(SpawnError) -> Cgroups? {
        guard limits.memoryBytes != nil || limits.cpu != nil else { return nil }
        let name = "\(owner)-\(Cgroups.startTime(of: owner) ?? 0)-\(UInt32.random(in: 0...UInt32.max))"
        var made = Cgroups(dirs: [], procsFDs: [])
        do {
            if isV2() {
                try made.makeV2(name: name, limits: limits)
            } else {
                made.joinedByPid1 = true
                if let bytes = limits.memoryBytes {
                    let dir = try made.makeV1(controller: "memory", name: name)
                    try Cgroups.write("\(dir)/memory.limit_in_bytes", "\(bytes)")
                    if access("\(dir)/memory.memsw.limit_in_bytes", F_OK) == 0 {
                        try Cgroups.write("\(dir)/memory.memsw.limit_in_bytes", "\(bytes)")
                    }
                    // Socket buffers are kernel memory v1 does not charge to limit_in_bytes.
                    try Cgroups.write("\(dir)/memory.kmem.tcp.limit_in_bytes", "\(bytes)")
                }
                if let cpu = limits.cpu {
                    let dir = try made.makeV1(controller: "cpu", name: name)
                    try Cgroups.write("\(dir)/cpu.cfs_period_us", "100000")
                    try Cgroups.write("\(dir)/cpu.cfs_quota_us", "\(try Cgroups.quota(cpu))")
                }
            }
        } catch {
            made.closeProcsFDs()
            made.remove()
            throw error
        }
        return made
    }

    /// Whether `create` can make a memory group here (what `memory = "?SIZE"` depends on), with
    /// the reason in words. Checks the controller and write access; creating the group at launch
    /// can still fail, and then the launch fails like for any limit.
    static func memoryUsable() -> (usable: Bool, reason: String) {
        let uid = getuid()
        func writable(_ parent: String, _ base: String) -> Bool {
            access(parent, F_OK) == 0 ? access(parent, W_OK) == 0 : access(base, W_OK) == 0
        }
        if isV2() {
            let available = (try? readSmall("\(root)/cgroup.controllers")) ?? ""
            guard available.split(separator: " ").contains("memory") else {
                return (false, "the cgroup v2 hierarchy at \(root) has no memory controller")
            }
            guard writable("\(root)/mcpbox", root), access("\(root)/cgroup.subtree_control", W_OK) == 0 else {
                return (false, "\(root) is not writable by uid \(uid) (run as root, or delegate a cgroup)")
            }
            if let outer = callerLimitReason("memory") { return (false, outer) }
            return (true, "cgroup v2 memory controller writable")
        }
        let base = "\(root)/memory"
        guard access("\(base)/cgroup.procs", F_OK) == 0 else {
            return (false, "no cgroup memory controller is mounted at \(base)")
        }
        guard access("\(base)/memory.kmem.tcp.limit_in_bytes", F_OK) == 0 else {
            return (false, "\(base) has no memory.kmem.tcp.limit_in_bytes (socket buffers would escape the limit)")
        }
        guard writable("\(base)/mcpbox", base) else {
            return (false, "\(base) is not writable by uid \(uid) (run as root, or delegate a cgroup)")
        }
        if let outer = callerLimitReason("memory") { return (false, outer) }
        return (true, "cgroup v1 memory controller writable")
    }

    /// The group mcpbox runs in, or one above it, when it limits `controller` ("memory" or
    /// "cpu"): its path in the hierarchy and the limit in words; nil when none does.
    ///
    /// mcpbox's own groups are made at the top of the hierarchy (`mcpbox/NAME`), outside the
    /// caller's: a server moved into one would escape a tighter limit of the client's group (a
    /// systemd `MemoryMax=`), which its processes are under as long as they stay where they
    /// were started (red-team pass, 2026-12-03). `memoryUsable` and `cpuUsable` count such a
    /// limit as a reason mcpbox cannot apply its own: an optional memory limit is then not
    /// applied (the server stays under the caller's), a required one is refused.
    static func callerLimit(_ controller: String) -> (group: String, limit: String)? {
        guard let text = HostFS.readFile("/proc/self/cgroup", limit: 1 << 16) else { return nil }
        let v2 = isV2()
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3 else { continue }
            if v2 {
                guard f[0] == "0", f[1].isEmpty else { continue }
            } else {
                guard f[1].split(separator: ",").contains(Substring(controller)) else { continue }
            }
            var group = String(f[2])
            let base = v2 ? root : "\(root)/\(controller)"
            while group.hasPrefix("/") {
                let dir = group == "/" ? base : base + group
                // On v2 the server moves out for every controller at once: any limit counts.
                if let l = v2 ? v2Limit(in: dir) : limit(controller, in: dir, v2: false) { return (group, l) }
                if group == "/" { break }
                group = Paths.dirname(group)
            }
            return nil
        }
        return nil
    }

    /// The limit on `controller` that the group directory `dir` sets, in words; nil for none.
    static func limit(_ controller: String, in dir: String, v2: Bool) -> String? {
        func read(_ name: String) -> String? {
            try? readSmall("\(dir)/\(name)")
        }
        if controller == "memory" {
            guard let t = read(v2 ? "memory.max" : "memory.limit_in_bytes"), t != "max",
                  let n = UInt64(t), n < 1 << 62 else { return nil }
            return "memory to \(Units.formatSize(n))"
        }
        if v2 {
            let parts = (read("cpu.max") ?? "max").split(separator: " ")
            guard parts.count == 2, parts[0] != "max", let q = Double(parts[0]), let p = Double(parts[1]), p > 0 else { return nil }
            return "cpu to \(Explain.formatNumber(q / p)) cores"
        }
        guard let q = read("cpu.cfs_quota_us").flatMap(Double.init), q > 0,
              let p = read("cpu.cfs_period_us").flatMap(Double.init), p > 0 else { return nil }
        return "cpu to \(Explain.formatNumber(q / p)) cores"
    }

    /// Any limit a cgroup v2 directory sets that a process moved out of it would escape: memory
    /// (`memory.max`, `memory.high`, `memory.swap.max`), cpu (`cpu.max`), tasks (`pids.max`),
    /// I/O (`io.max`); in words, nil for none.
    static func v2Limit(in dir: String) -> String? {
        if let l = limit("memory", in: dir, v2: true) ?? limit("cpu", in: dir, v2: true) { return l }
        func read(_ name: String) -> String? { try? readSmall("\(dir)/\(name)") }
        for name in ["memory.high", "memory.swap.max", "pids.max"] {
            if let t = read(name), t != "max", !t.isEmpty { return "\(name) to \(t)" }
        }
        if let t = read("io.max"), !t.isEmpty { return "io.max (\(t))" }
        return nil
    }

    /// Why mcpbox cannot make a group of its own for `controller` exactly as a profile writes
    /// it, nil when it can: `callerLimit`, or a limit someone set on the `mcpbox` group that
    /// holds mcpbox's groups (a sandbox's limit under it is not the profile's: the kernel applies
    /// the smaller, shared with every other sandbox, and refuses a larger cpu quota at launch).
    static func callerLimitReason(_ controller: String) -> String? {
        if let (group, limit) = callerLimit(controller) {
            return "mcpbox runs in the cgroup \(group), which limits \(limit): a group of mcpbox's own lies outside it, and the server would escape that limit"
        }
        let v2 = isV2()
        let parent = v2 ? "\(root)/mcpbox" : "\(root)/\(controller)/mcpbox"
        if let limit = limit(controller, in: parent, v2: v2) {
            return "\(parent), which holds mcpbox's groups, limits \(limit) for all of them together: a sandbox's own limit there would not be the profile's (remove that limit)"
        }
        return nil
    }

    /// The directories holding mcpbox's groups: v2's, or v1's memory and cpu ones.
    static func parents() -> [String] {
        isV2() ? ["\(root)/mcpbox"] : ["\(root)/memory/mcpbox", "\(root)/cpu/mcpbox"]
    }

    /// Removes the groups left by an mcpbox that is gone (killed by SIGKILL before it could
    /// remove them). Only names of mcpbox's own form (`PID-START-RANDOM`, or `PID-RANDOM` from
    /// earlier versions) whose mcpbox no longer runs, and only when the group holds no process
    /// (rmdir refuses a populated group anyway). Returns the groups removed.
    @discardableResult
    static func sweep() -> [String] {
        var removed: [String] = []
        for parent in parents() {
            guard let dir = opendir(parent) else { continue }
            // Every launch sweeps, and each running sandbox has a group here: the names are
            // judged on their bytes and the owner's start time is read into a stack buffer
            // (with 300 sandboxes running, strings and arrays per group cost a launch about
            // 1 ms of CPU).
            var stale: [String] = []
            while let entry = readdir(dir) {
                guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
                let verdict = withUnsafeBytes(of: entry.pointee.d_name) { raw -> Bool in
                    Cgroups.ownerGone(raw.prefix(while: { $0 != 0 }))
                }
                if verdict {
                    stale.append(withUnsafeBytes(of: entry.pointee.d_name) { raw in
                        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                    })
                }
            }
            closedir(dir)
            for name in stale {
                let group = "\(parent)/\(name)"
                guard let procs = try? readSmall("\(group)/cgroup.procs"), procs.isEmpty else { continue }
                if rmdir(group) == 0 { removed.append(group) }
            }
        }
        return removed
    }

    /// Whether `name` is a group of mcpbox's form (`PID-START-RANDOM`, or `PID-RANDOM` from
    /// earlier versions, decimal digits only) whose mcpbox no longer runs.
    static func ownerGone(_ name: Slice<UnsafeRawBufferPointer>) -> Bool {
        var pidValue: UInt64 = 0, second: UInt64 = 0, current: UInt64 = 0
        var count = 0, digits = 0
        for byte in name {
            if byte == UInt8(ascii: "-") {
                guard digits > 0, count < 2 else { return false }
                if count == 0 { pidValue = current } else { second = current }
                count += 1
                digits = 0
                current = 0
                continue
            }
            guard byte >= 48, byte <= 57, digits < 19 else { return false }
            current = current * 10 + UInt64(byte - 48)
            digits += 1
        }
        guard digits > 0, count == 1 || count == 2, pidValue > 0, pidValue <= UInt64(Int32.max) else { return false }
        let pid = Int32(pidValue)
        if count == 2 { return startTime(of: pid) != second }
        return !(kill(pid, 0) == 0 || errno == EPERM)
    }

    /// The start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat), nil
    /// when it does not run (a zombie does not: a killed mcpbox whose parent died too waits
    /// for init to reap it, and its groups are left to sweep meanwhile).
    public static func startTime(of pid: Int32) -> UInt64? {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1088) { buf -> UInt64? in
            guard let base = buf.baseAddress else { return nil }
            // "/proc/PID/stat" built in place.
            var path: [CChar] = Array("/proc/".utf8CString.dropLast())
            path.reserveCapacity(32)
            var digits: [CChar] = []
            var v = pid
            repeat { digits.append(CChar(48 + v % 10)); v /= 10 } while v > 0
            path += digits.reversed()
            path += "/stat".utf8CString
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            let n = read(fd, base, 1024)
            close(fd)
            guard n > 0 else { return nil }
            // After "pid (comm) ", field 3 (state) comes first: field 22 is the 20th.
            var i = n - 1
            while i >= 0 && base[i] != UInt8(ascii: ")") { i -= 1 }
            guard i >= 0 else { return nil }
            i += 1
            var field = 0
            var value: UInt64 = 0
            var inField = false
            while i < n {
                let c = base[i]
                if c == UInt8(ascii: " ") || c == UInt8(ascii: "\n") {
                    if inField {
                        if field == 20 { return value }
                        inField = false
                    }
                } else {
                    if !inField {
                        inField = true
                        field += 1
                        value = 0
                    }
                    // field 1 here is the state: a zombie (Z) or a dead task (X) does not run
                    if field == 1 && (c == UInt8(ascii: "Z") || c == UInt8(ascii: "X")) { return nil }
                    if field == 20 {
                        guard c >= 48, c <= 57 else { return nil }
                        value = value &* 10 &+ UInt64(c - 48)
                    }
                }
                i += 1
            }
            return inField && field == 20 ? value : nil
        }
    }

    /// Whether the unified hierarchy is mounted at /sys/fs/cgroup (pure cgroup v2).
    static func isV2() -> Bool {
        access("\(root)/cgroup.controllers", F_OK) == 0
    }

    private mutating func makeV1(controller: String, name: String) throws(SpawnError) -> String {
        let base = "\(Cgroups.root)/\(controller)"
        guard access("\(base)/cgroup.procs", F_OK) == 0 else {
            throw SpawnError(stage: Int32(MCPBOX_STAGE_CGROUP.rawValue), code: ENOENT,
                             target: "\(base) (the \(controller) controller is not mounted)")
        }
        try Cgroups.mkdirOK("\(base)/mcpbox")
        let dir = "\(base)/mcpbox/\(name)"
        try add(dir)
        return dir
    }

    private mutating func makeV2(name: String, limits: Limits) throws(SpawnError) {
        var needed: [String] = []
        if limits.memoryBytes != nil { needed.append("memory") }
        if limits.cpu != nil { needed.append("cpu") }
        let available = (try? Cgroups.readSmall("\(Cgroups.root)/cgroup.controllers")) ?? ""
        for c in needed where !available.split(separator: " ").contains(Substring(c)) {
            throw SpawnError(stage: Int32(MCPBOX_STAGE_CGROUP.rawValue), code: ENOENT,
                             target: "\(Cgroups.root) (no \(c) controller)")
        }
        let enable = needed.map { "+\($0)" }.joined(separator: " ")
        try Cgroups.write("\(Cgroups.root)/cgroup.subtree_control", enable)
        try Cgroups.mkdirOK("\(Cgroups.root)/mcpbox")
        try Cgroups.write("\(Cgroups.root)/mcpbox/cgroup.subtree_control", enable)
        let dir = "\(Cgroups.root)/mcpbox/\(name)"
        try add(dir)
        if let bytes = limits.memoryBytes {
            try Cgroups.write("\(dir)/memory.max", "\(bytes)")
            if access("\(dir)/memory.swap.max", F_OK) == 0 {
                try Cgroups.write("\(dir)/memory.swap.max", "0")
            }
        }
        if let cpu = limits.cpu {
            try Cgroups.write("\(dir)/cpu.max", "\(try Cgroups.quota(cpu)) 100000")
        }
    }

    /// Creates `dir` and opens the file pid 1 joins through (`tasks` on v1, `cgroup.procs` on v2).
    private mutating func add(_ dir: String) throws(SpawnError) {
        guard mkdir(dir, 0o755) == 0 else { throw Cgroups.failure(dir) }
        let fd = open("\(dir)/\(joinedByPid1 ? "tasks" : "cgroup.procs")", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = Cgroups.failure(dir)
            rmdir(dir)
            throw e
        }
        self = Cgroups(dirs: dirs + [dir], procsFDs: procsFDs + [fd], joinedByPid1: joinedByPid1)
    }

    /// CFS quota in microseconds per 100 ms period for `cpu` cores; a value the profile check
    /// would have refused fails here too (EINVAL), never rounded or clamped.
    static func quota(_ cpu: Double) throws(SpawnError) -> Int {
        guard let q = Units.cpuQuota(cpu) else {
            throw SpawnError(stage: Int32(MCPBOX_STAGE_CGROUP.rawValue), code: EINVAL, target: "limits.cpu = \(cpu)")
        }
        return q
    }

    /// Closes the cgroup.procs files (after pid 1 joined).
    func closeProcsFDs() {
        for fd in procsFDs { close(fd) }
    }

    /// Removes the groups (they are empty once pid 1 is reaped: the pid namespace is gone).
    func remove() {
        for dir in dirs.reversed() {
            for _ in 0..<100 {
                if rmdir(dir) == 0 || errno == ENOENT { break }
                guard errno == EBUSY else { break }
                usleep(1000)
            }
        }
    }

    private static func failure(_ path: String) -> SpawnError {
        SpawnError(stage: Int32(MCPBOX_STAGE_CGROUP.rawValue), code: errno, target: path)
    }

    private static func mkdirOK(_ dir: String) throws(SpawnError) {
        if mkdir(dir, 0o755) != 0 && errno != EEXIST { throw failure(dir) }
    }

    private static func write(_ path: String, _ value: String) throws(SpawnError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path) }
        defer { close(fd) }
        let n = value.withCString { Glibc.write(fd, $0, strlen($0)) }
        guard n == value.utf8.count else { throw failure(path) }
    }

    private static func readSmall(_ path: String) throws(SpawnError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path) }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buf, buf.count)
        guard n >= 0 else { throw failure(path) }
        return String(decoding: buf[0..<n], as: UTF8.self).split(whereSeparator: { $0 == "\n" }).first.map(String.init) ?? ""
    }
}
