#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The resource ceilings mcpbox itself runs under: a sandbox can lower them, never raise them
/// (raising a hard rlimit needs CAP_SYS_RESOURCE in the initial user namespace, which pid 1 of
/// a new user namespace never has, even when root starts mcpbox).
public struct HostLimits: Sendable, Equatable {
    /// RLIMIT_NOFILE hard limit, bounded by `fs.nr_open`; nil = unlimited.
    public var openFiles: UInt64?
    /// RLIMIT_NPROC hard limit; nil = unlimited.
    public var processes: UInt64?
    /// The page size: cgroup memory limits round down to it, tmpfs sizes round up.
    public var pageSize: UInt64

    public init(openFiles: UInt64?, processes: UInt64?, pageSize: UInt64) {
        self.openFiles = openFiles
        self.processes = processes
        self.pageSize = pageSize
    }

    /// No ceilings (tests that do not care).
    public static let unlimited = HostLimits(openFiles: nil, processes: nil, pageSize: 4096)

    /// `getrlimit(2)` of this process, `/proc/sys/fs/nr_open` and `sysconf(_SC_PAGESIZE)`.
    public static func current() -> HostLimits {
        func hard(_ resource: UInt32) -> UInt64? {
            var rl = rlimit()
            guard getrlimit(__rlimit_resource_t(resource), &rl) == 0, rl.rlim_max != rlim_t.max else { return nil }  // RLIM_INFINITY
            return UInt64(rl.rlim_max)
        }
        var files = hard(7)  // RLIMIT_NOFILE
        if let text = HostFS.readFile("/proc/sys/fs/nr_open", limit: 64),
           let nrOpen = UInt64(text.trimmingSpaces().split(separator: "\n").first ?? "") {
            files = min(files ?? nrOpen, nrOpen)
        }
        let page = sysconf(Int32(_SC_PAGESIZE))
        return HostLimits(openFiles: files, processes: hard(6 /* RLIMIT_NPROC */),
                          pageSize: page > 0 ? UInt64(page) : 4096)
    }
}

extension PlanBuilder {
    /// The smallest `limits.memory` a `network.mode = "allow"` sandbox may have. pid 1's network
    /// helper makes the egress listeners inside the sandbox, in its memory cgroup; below about
    /// 384KiB the kernel memory of those sockets (and of the namespace) is refused or the OOM
    /// killer takes the helper, and `run` fails with "the sandbox's network helper sent no
    /// listener". Measured (kernel 6.18, cgroup v1, root; 100 runs of `/bin/true` each): 352KiB
    /// failed so 2 times in 100 (320KiB once in 40, everything to 248KiB always), 384KiB never;
    /// from 512KiB every run exited 0 (below it the OOM killer often ended pid 1 or the server
    /// instead). 2MiB is 4 times that, for kernels whose namespaces cost more.
    /// `value` rounded up to a multiple of `unit`, as text ("more than 2^64 bytes" past the range).
    static func roundedUp(_ value: UInt64, _ unit: UInt64) -> String {
        let (q, r) = value.quotientAndRemainder(dividingBy: unit)
        let (up, over) = (q + (r == 0 ? 0 : 1)).multipliedReportingOverflow(by: unit)
        return over ? "more than 2^64 bytes" : "\(up)"
    }

    public static let egressMemoryFloor: UInt64 = 2 << 20

    /// The profile's limits exactly as `run` enforces them, or an error for each one it could
    /// not enforce as written: above mcpbox's own hard limit, below what the sandbox needs, or
    /// not a whole number of the kernel's units (which would be rounded silently).
    func buildLimits(_ d: inout Draft) -> Limits {
        let ceiling = host.limits
        var openFiles = Self.defaultOpenFiles
        if let o = profile.openFiles {
            openFiles = o.value
            if let max = ceiling.openFiles, o.value > max {
                d.sink.add(o.diagnostic("\(o.value) is above the hard limit mcpbox runs under (\(max) open files), which no sandbox can raise",
                                        hint: "raise the hard limit before starting mcpbox (ulimit -Hn, or LimitNOFILE= in a systemd unit), or lower limits.open_files"))
            }
        } else if let max = ceiling.openFiles, max < openFiles {
            // The default follows the ceiling; explain shows the value run sets.
            openFiles = max
        }
        if let p = profile.processes {
            if p.value < 2 {
                d.sink.add(p.diagnostic("must be at least 2: mcpbox's pid 1 inside the sandbox counts as one of the sandbox's processes, the server as another",
                                        hint: "set limits.processes = 2 for a server that never forks"))
            } else if let max = ceiling.processes, p.value > max {
                d.sink.add(p.diagnostic("\(p.value) is above the hard limit mcpbox runs under (\(max) processes), which no sandbox can raise",
                                        hint: "raise the hard limit before starting mcpbox (ulimit -Hu, or LimitNPROC= in a systemd unit), or lower limits.processes"))
            }
        }
        if let m = profile.memory, m.value % ceiling.pageSize != 0 {
            d.sink.add(m.diagnostic("\(m.value) bytes is not a whole number of \(ceiling.pageSize)-byte pages; the kernel would round it down to \(m.value / ceiling.pageSize * ceiling.pageSize)",
                                    hint: "use a multiple of \(Units.formatSize(ceiling.pageSize)), such as \"512MiB\""))
        }
        // The kernel keeps a memory limit in pages, at most LONG_MAX / page size of them, and
        // sets any larger value to that one (explain would state a limit other than the one applied).
        if let m = profile.memory, ceiling.pageSize > 0, m.value / ceiling.pageSize > UInt64(Int64.max) / ceiling.pageSize {
            let largest = UInt64(Int64.max) / ceiling.pageSize * ceiling.pageSize
            d.sink.add(m.diagnostic("\(Units.formatSize(m.value)) is above the largest memory limit the kernel keeps (\(largest) bytes), which it would apply instead",
                                    hint: "remove limits.memory for no limit, or give a smaller size such as \"64GiB\""))
        }
        if let t = profile.tmpfsSize, t.value % ceiling.pageSize != 0 {
            d.sink.add(t.diagnostic("\(t.value) bytes is not a whole number of \(ceiling.pageSize)-byte pages; the kernel would round it up to \(Self.roundedUp(t.value, ceiling.pageSize))",
                                    hint: "use a multiple of \(Units.formatSize(ceiling.pageSize)), such as \"64MiB\""))
        }
        if let m = profile.memory, m.value < Self.egressMemoryFloor, let mode = profile.networkMode, mode.value == .allow {
            // Optional ("?") or not: judged alike on every host, like the page rule above; where
            // an optional limit applies, run would fail just the same.
            let size = m.value % 1024 == 0 ? Units.formatSize(m.value) : "\(m.value) bytes"
            d.sink.add(m.diagnostic("\(size) is below \(Units.formatSize(Self.egressMemoryFloor)), the least a sandbox with network.mode = \"allow\" (\(mode.origin)) may have: mcpbox's network helper makes the egress listeners inside the sandbox, charged to this limit, and fails to start below about 384KiB",
                                    hint: "set limits.memory to at least \"\(Units.formatSize(Self.egressMemoryFloor))\""))
        }
        var optionalMemory: OptionalMemory?
        if let m = profile.memory {
            if profile.memoryOptional {
                optionalMemory = OptionalMemory(bytes: m.value, applied: host.memoryCgroup.usable, reason: host.memoryCgroup.reason)
                if !host.memoryCgroup.usable {
                    d.warnings.append(Self.limitsWarningPrefix + "memory \"?\(Units.formatSize(m.value))\" not applied: "
                        + host.memoryCgroup.reason + "; the server runs without a memory limit")
                }
            } else if !host.memoryCgroup.usable {
                // run would fail creating the cgroup: refuse here too, with the reason.
                d.sink.add(m.diagnostic("cannot be applied here: \(host.memoryCgroup.reason)",
                                        hint: "run as root or delegate a cgroup, or write memory = \"?\(Units.formatSize(m.value))\" to apply it only where it can be"))
            }
        }
        if let c = profile.cpu, !host.cpuCgroup.usable {
            // run would fail creating the cgroup: refuse here too, with the reason.
            d.sink.add(c.diagnostic("cannot be applied here: \(host.cpuCgroup.reason)",
                                    hint: "run as root or delegate a cgroup with the cpu controller, or remove limits.cpu"))
        }
        var limits = Limits(memoryBytes: optionalMemory.map { $0.applied ? $0.bytes : nil } ?? profile.memory?.value,
                            processes: profile.processes?.value,
                            openFiles: openFiles, cpu: profile.cpu?.value,
                            wallTimeSeconds: profile.wallTime?.value ?? 0,
                            tmpfsSizeBytes: profile.tmpfsSize?.value ?? Self.defaultTmpfsSize,
                            shutdownGraceSeconds: profile.shutdownGrace?.value ?? Self.defaultShutdownGrace)
        limits.optionalMemory = optionalMemory
        if let budget = host.inotifyBudget {
            limits.inotifyInstances = max(1, budget.instances / Self.inotifyShare)
            limits.inotifyWatches = max(1, budget.watches / Self.inotifyShare)
        }
        return limits
    }
}
