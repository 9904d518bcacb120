import MCPBoxCore

/// `SandboxPlan` → OCI runtime bundle (runtime-spec 1.x `config.json`, a root skeleton and the
/// synthesized files), with the carry-over report. Pure: `OCIBundle.write` does the I/O.
public enum OCIExport {
    /// Where bind sources come from.
    public enum Rootfs: String, Sendable, CaseIterable {
        /// Binds name the host paths: the bundle runs on this machine, as `mcpbox run` would.
        case host
        /// Binds name placeholders inside the bundle (`binds/…`), created empty, for the user to
        /// fill before running the bundle elsewhere.
        case empty
    }

    public static let ociVersion = "1.0.2"

    /// The report's row for `[isolation] runtime = "gvisor"` (only such plans have one).
    public static let isolationRow = "isolation runtime gvisor"

    /// Builds the bundle for `plan`. `isDirectory` tells whether a host bind source is a
    /// directory (nil = absent), which decides the kind of mount point. For crun and runc
    /// (`forGVisor` false) directory binds also get `rnosuid`/`rnodev` and each tmpfs its inode
    /// cap (`nr_inodes`); gVisor's runsc refuses the first and ignores the second.
    public static func build(_ plan: SandboxPlan, rootfs: Rootfs, forGVisor: Bool = false, isDirectory: (String) -> Bool?) throws -> OCIBundle {
        let recursive = forGVisor ? [] : ["rnosuid", "rnodev"]
        func inodes(_ size: UInt64) -> [String] { forGVisor ? [] : ["nr_inodes=\(Limits.tmpfsInodes(size))"] }
        var rows: [Carryover] = []
        var files: [OCIBundle.Entry] = [.dir("rootfs")]
        var mounts: [Node] = []
        var masked: [String] = []
        var readonly: [String] = []
        var rootPath = "rootfs"
        var rootReadonly = true
        /// Targets that are mounts (their contents come from the mount, not from rootfs/).
        var mounted: [String] = []
        var placeholders: [String] = []

        func underMount(_ path: String) -> Bool {
            // By bytes, as the kernel compares paths (a Character prefix test does not see a `/`
            // a combining mark follows).
            mounted.contains { $0 != "/" && Paths.isWithin(path, $0) }
        }
        func mountPoint(_ target: String, directory: Bool) {
            if !underMount(target) { files.append(directory ? .dir("rootfs" + target) : .file("rootfs" + target, "")) }
            mounted.append(target)
        }
        func mount(_ target: String, _ type: String, _ source: String, _ options: [String]) {
            mounts.append(.object([("destination", .string(target)), ("type", .string(type)),
                                   ("source", .string(source)), ("options", .array(options.map(Node.string)))]))
        }
        /// Every bind so far (the plan's and the carried mounts), with its mode.
        var boundSoFar: [(target: String, source: String, ro: Bool)] = []
        var pinned = Set<[UInt8]>()
        /// As the child stage's pin_dir: every directory between a read-write bind and a mount
        /// nested in it is bound onto itself, so the server cannot rename it (EBUSY) and put a
        /// path of its own where the nested mount was planned.
        /// Targets of the tmpfs, hide, proc and dev mounts so far (nothing of the host shows there).
        var nonBinds: [String] = []
        /// Decided per directory, as run's pin_dir does: pinned, from its source, only where the
        /// innermost mount holding it is a read-write bind (review, 2026-12-03: a read-only bind,
        /// a read-only carried mount or a tmpfs inside a read-write bind got read-write self-binds
        /// of the outer bind's host directories, which made part of them writable or showed what
        /// the tmpfs covers).
        /// The walk starts at the innermost bind holding the target: a self-bind of a directory
        /// above a mount made before it would cover that mount.
        func pin(_ target: String) -> Int {
            func holds(_ t: String, _ dir: String) -> Bool { !Paths.same(dir, t) && (t == "/" || Paths.isWithin(dir, t)) }
            guard let outer = boundSoFar.filter({ holds($0.target, target) })
                .max(by: { $0.target.utf8.count < $1.target.utf8.count }), !outer.ro else { return 0 }
            var count = 0
            var dir = outer.target
            let parts = Paths.components(Paths.remainder(target, under: outer.target)).dropLast()
            for part in parts {
                dir += "/" + part
                guard !pinned.contains(Array(dir.utf8)), !mounted.contains(where: { Paths.same($0, dir) }) else { continue }
                let bind = boundSoFar.filter { holds($0.target, dir) }.max { $0.target.utf8.count < $1.target.utf8.count }
                let other = nonBinds.filter { holds($0, dir) }.max { $0.utf8.count < $1.utf8.count }
                guard let holder = bind, !holder.ro, other.map({ $0.utf8.count <= holder.target.utf8.count }) ?? true else { continue }
                pinned.insert(Array(dir.utf8))
                mount(dir, "bind", Paths.join(holder.source, Paths.remainder(dir, under: holder.target)), ["rbind", "rw", "nosuid", "nodev"] + recursive)
                count += 1
            }
            return count
        }
        func pinNote(_ n: Int) -> String { n == 0 ? "" : "; \(n) parent director\(n == 1 ? "y" : "ies") bound onto \(n == 1 ? "itself" : "themselves") (unrenameable, as under run)" }

        // Host mounts nested in a bind (`SandboxPlan.carriedMounts`): run's binds are recursive
        // and keep them, each read-only where the plan says; a runtime's rbind need not (crun 1.8
        // showed neither a read-only nor a tmpfs one: the server wrote through the first and read
        // what the second hides on the host; red-team pass, 2026-12-03). So each is a mount of
        // its own, right after the last bind that holds it (the one that carries it).
        var carriedAfter: [Int: [Mount]] = [:]
        for c in plan.carriedMounts {
            guard let i = plan.mounts.lastIndex(where: { b in
                if case .bind = b.kind { return !Paths.same(b.target, c.target) && (b.target == "/" || Paths.isWithin(c.target, b.target)) }
                return false
            }) else {
                rows.append(Carryover("mount \(c.target)", .dropped, "a host mount inside a bind, but no bind of the plan holds it"))
                continue
            }
            carriedAfter[i, default: []].append(c)
        }
        func carry(_ index: Int) {
            for c in carriedAfter[index] ?? [] {
                guard case .bind(let source, let ro) = c.kind else { continue }
                let directory = isDirectory(source) ?? true
                var src = source
                if rootfs == .empty {
                    src = "binds" + c.target
                    files.append(directory ? .dir(src) : .file(src, ""))
                    placeholders.append("\(src) <- \(source)")
                }
                mounted.append(c.target)
                boundSoFar.append((c.target, src, ro))
                mount(c.target, "bind", src, ["rbind", ro ? "ro" : "rw", "nosuid", "nodev"] + (directory ? recursive : []))
                // A read-write file: crun keeps neither nosuid nor nodev on it (as for the plan's).
                let fileFlags = !ro && !directory && !forGVisor
                rows.append(Carryover("mount \(c.target)", rootfs == .host && !fileFlags ? .carried : .partial,
                                      "a host mount inside a bind, bound \(ro ? "ro" : "rw") from " + (rootfs == .host ? source : "\(src) (placeholder for \(source))")
                                      + (fileFlags ? "; a read-write file bind: crun (1.8) keeps neither nosuid nor nodev on it" : "")))
            }
        }

        for (index, m) in plan.mounts.enumerated() {
            defer { carry(index) }
            switch m.kind {
            case .bind(let source, let ro):
                if m.target == "/" {
                    rootPath = rootfs == .host ? source : "binds/root"
                    rootReadonly = ro
                    if rootfs == .empty { files.append(.dir("binds/root")); placeholders.append("binds/root <- \(source)") }
                    rows.append(Carryover("root \(source)", .carried, "root.path, readonly \(ro)"))
                    mounted.append("/")
                    continue
                }
                let directory = isDirectory(source) ?? true
                let pins = pin(m.target)
                mountPoint(m.target, directory: directory)
                var src = source
                if rootfs == .empty {
                    src = "binds" + m.target
                    files.append(directory ? .dir(src) : .file(src, ""))
                    placeholders.append("\(src) <- \(source)")
                }
                // `rnosuid`/`rnodev` too: crun applies plain nosuid/nodev to a read-write rbind only as
                // recursive flags (run's read-write binds hold device nodes that do not open).
                // (directories only: crun opens the target of a recursive flag as a directory).
                mount(m.target, "bind", src, ["rbind", ro ? "ro" : "rw", "nosuid", "nodev"] + (directory ? recursive : []))
                boundSoFar.append((m.target, src, ro))
                // A read-write file bind: crun keeps neither nosuid nor nodev on it, and refuses
                // the recursive flags on a file; a device node put there before the bundle runs
                // would open (under run it does not).
                let fileFlags = !ro && !directory && !forGVisor
                rows.append(Carryover("mount \(m.target)", rootfs == .host && !fileFlags ? .carried : .partial,
                                      "bind \(ro ? "ro" : "rw") from " + (rootfs == .host ? source : "\(src) (placeholder for \(source): fill it before running)")
                                      + pinNote(pins)
                                      + (fileFlags ? "; a read-write file bind: crun (1.8) keeps neither nosuid nor nodev on it, so a device node or setuid file put at \(source) before the bundle runs would work there (not under run)" : "")))
            case .tmpfs(let size):
                let pins = pin(m.target)
                mountPoint(m.target, directory: true)
                nonBinds.append(m.target)
                mount(m.target, "tmpfs", "tmpfs", ["nosuid", "nodev", "mode=1777", "size=\(size)"] + inodes(size))
                rows.append(Carryover("mount \(m.target)", .carried, "tmpfs size=\(size)" + (forGVisor ? "" : " nr_inodes=\(Limits.tmpfsInodes(size))") + pinNote(pins)))
            case .proc:
                mountPoint(m.target, directory: true)
                nonBinds.append(m.target)
                mount(m.target, "proc", "proc", ["nosuid", "nodev", "noexec"])
                readonly += SandboxLayout.procReadOnly.map { m.target + "/" + $0 }
                masked += (SandboxLayout.procMaskedFiles + SandboxLayout.procMaskedDirs).map { m.target + "/" + $0 }
                rows.append(Carryover("mount \(m.target)", .carried, "proc; readonlyPaths and maskedPaths as mcpbox's"))
            case .dev:
                mountPoint(m.target, directory: true)
                nonBinds.append(m.target)
                mount(m.target, "tmpfs", "tmpfs", ["nosuid", "noexec", "mode=755", "size=65536"])
                for node in SandboxLayout.devNodes {
                    mounted.append(m.target + "/" + node)
                    mount(m.target + "/" + node, "bind", "/dev/" + node, ["bind", "nosuid", "noexec"])
                }
                mounted.append(m.target + "/shm")
                mount(m.target + "/shm", "tmpfs", "shm", ["nosuid", "nodev", "noexec", "mode=1777", "size=\(plan.limits.tmpfsSizeBytes)"] + inodes(plan.limits.tmpfsSizeBytes))
                // run makes the tmpfs read-only once its nodes are in; "ro" in its options would
                // keep the runtime from adding the spec's default devices, so it is a readonly
                // path, which runtimes apply after those (the nodes and shm, mounts of their own,
                // stay writable, as under run).
                readonly.append(m.target)
                rows.append(Carryover("mount \(m.target)", .partial,
                    "tmpfs with null, zero, full, random, urandom bound from the host and a private writable shm, read-only (readonlyPaths) as under run; the runtime adds the "
                    + "spec's default devices too (tty, console, ptmx) and its own fd/stdin/stdout/stderr links, and its read-only remount of the tmpfs may leave off nosuid and noexec (crun does; nothing can be written there)"))
            case .file(let contents):
                _ = pin(m.target)
                mountPoint(m.target, directory: false)
                let src = "files" + m.target
                files.append(.file(src, contents))
                mount(m.target, "bind", src, ["bind", "ro", "nosuid", "nodev"])
                rows.append(Carryover("mount \(m.target)", .carried, "synthesized file written to \(src), bound read-only"))
            case .hide(let isDir):
                let pins = pin(m.target)
                mounted.append(m.target)
                if isDir { nonBinds.append(m.target) }
                if isDir {
                    mount(m.target, "tmpfs", "tmpfs", ["ro", "nosuid", "nodev", "noexec", "mode=555", "size=4096"])
                } else {
                    files.append(.file("files/.empty", ""))
                    mount(m.target, "bind", "files/.empty", ["bind", "ro", "nosuid", "nodev", "noexec"])
                }
                rows.append(Carryover("hide \(m.target)", .carried, (isDir ? "empty read-only tmpfs over it" : "empty read-only file over it") + pinNote(pins)))
            case .symlink(let to):
                if underMount(m.target) {
                    rows.append(Carryover("symlink \(m.target)", .dropped, "lies under a mount; OCI mounts cannot create links"))
                } else {
                    files.append(.symlink("rootfs" + m.target, to))
                    rows.append(Carryover("symlink \(m.target)", .carried, "link in the root skeleton -> \(to)"))
                }
            }
        }
        rows.insert(Carryover("root", .carried, rootPath == "rootfs"
            ? "rootfs/: empty skeleton of mount points, read-only (as mcpbox's read-only tmpfs root)"
            : "root.path \(rootPath), readonly \(rootReadonly)"), at: 0)

        // Identity.
        let id = plan.identity
        let userNS = plan.namespaces.contains(.user)
        var process: [(String, Node)] = [("terminal", .bool(false))]
        process.append(("user", .object([("uid", .uint(UInt64(id.insideUid))), ("gid", .uint(UInt64(id.insideGid))),
                                         ("additionalGids", .array([]))])))
        rows.append(Carryover("identity", .carried, userNS
            ? "user namespace mapping uid \(id.insideUid)->\(id.hostUid), gid \(id.insideGid)->\(id.hostGid); process runs as \(id.insideUid):\(id.insideGid) (\(id.userName))"
            : "process runs as \(id.insideUid):\(id.insideGid)"))
        if !plan.keptGroups.isEmpty {
            rows.append(Carryover("supplementary groups", .carried, "none inside the container (mcpbox keeps the caller's on the host; the export drops them, stricter)"))
        }
        var args = plan.argv
        if let exe = plan.executable, !args.isEmpty { args[0] = exe }
        if plan.executable == nil, let program = plan.argv.first {
            rows.append(Carryover("command", .partial, "`\(program)` is not found inside the sandbox on this host (run would exit 127); args[0] left as written"))
        }
        if let problem = plan.execProblem {
            rows.append(Carryover("command", .partial, "the command cannot run inside this sandbox: \(problem.message)"))
        }
        process.append(("args", .array(args.map(Node.string))))
        process.append(("env", .array(plan.environment.map { .string($0.name + "=" + $0.value) })))
        process.append(("cwd", .string(plan.cwd)))
        let caps: Node = .array([])
        process.append(("capabilities", .object([("bounding", caps), ("effective", caps), ("inheritable", caps),
                                                  ("permitted", caps), ("ambient", caps)])))
        rows.append(Carryover("capabilities", .carried, "every set empty"))
        var rlimits: [Node] = [rlimit("RLIMIT_CORE", 1)]
        rlimits.append(rlimit("RLIMIT_NOFILE", plan.limits.openFiles))
        rows.append(Carryover("open_files", .carried, "RLIMIT_NOFILE \(plan.limits.openFiles)"))
        if let n = plan.limits.processes {
            rlimits.append(rlimit("RLIMIT_NPROC", n))
            rows.append(Carryover("processes", .carried, "RLIMIT_NPROC \(n) (counted per uid in the container's user namespace) and linux.resources.pids.limit \(n) (every task of the container; applied by the runtime's cgroup manager)"))
        }
        process.append(("rlimits", .array(rlimits)))
        process.append(("noNewPrivileges", .bool(true)))
        rows.append(Carryover("no_new_privs", .carried, "process.noNewPrivileges"))
        rows.append(Carryover("securebits", .dropped, "runtime-spec has no securebits; with every capability set empty and no_new_privs there is nothing left for them to guard"))
        rows.append(Carryover("environment", .carried, "process.env: \(plan.environment.count) variables, values as resolved now (pass-through values are fixed at export time, in plain text: config.json is 0600)"))

        // Namespaces and network.
        var namespaces: [Node] = []
        for ns in plan.namespaces {
            if ns == .net && plan.network == .host { continue }
            let name: String
            switch ns {
            case .user: name = "user"
            case .mount: name = "mount"
            case .pid: name = "pid"
            case .net: name = "network"
            case .ipc: name = "ipc"
            case .uts: name = "uts"
            case .cgroup: name = "cgroup"
            }
            namespaces.append(.object([("type", .string(name))]))
        }
        rows.append(Carryover("namespaces", .carried, plan.namespaces.map(\.rawValue).joined(separator: ", ")))
        switch plan.network {
        case .none: rows.append(Carryover("network none", .carried, "own network namespace, loopback only"))
        case .host: rows.append(Carryover("network host", .carried, "no network namespace (the host's network, as under run)"))
        case .allow:
            rows.append(Carryover("network allow", .dropped, "no egress proxy in an OCI bundle: the container gets its own network namespace with loopback only, so the allowed hosts are unreachable (stricter, not wider)"))
        }
        rows.append(Carryover("hostname", .carried, plan.hostname))

        // seccomp.
        let seccomp = try OCISeccomp.translate(plan.seccomp)
        rows.append(Carryover("seccomp", seccomp.differences.isEmpty ? .carried : .partial,
            "\(plan.seccomp.preset.rawValue) preset, default \(plan.seccomp.defaultAction.rawValue): one filter with the same per-syscall decisions"
            + (seccomp.differences.isEmpty ? "" : "; " + seccomp.differences.joined(separator: "; "))))

        // Resources.
        var resources: [(String, Node)] = []
        if let mem = plan.limits.memoryBytes {
            resources.append(("memory", .object([("limit", .uint(mem)), ("swap", .uint(mem))])))
            rows.append(Carryover("memory", .partial, "linux.resources.memory.limit and swap \(mem) (applied by the runtime's cgroup manager; the kernel OOM-kills the container past it); "
                + "socket buffers are not limited on cgroup v1, where run also writes memory.kmem.tcp.limit_in_bytes (cgroup v2 counts them in memory.max)"))
        } else if let o = plan.limits.optionalMemory {
            rows.append(Carryover("memory (optional)", .dropped, "not applied in the plan on this host: \(o.reason)"))
        }
        if let cpu = plan.limits.cpu {
            let period: UInt64 = 100_000
            resources.append(("cpu", .object([("quota", .int(Int64((cpu * Double(period)).rounded()))), ("period", .uint(period))])))
            rows.append(Carryover("cpu", .carried, "linux.resources.cpu quota/period for \(cpu) cores (applied by the runtime's cgroup manager)"))
        }
        if let n = plan.limits.processes {
            resources.append(("pids", .object([("limit", .int(Int64(n)))])))
        }
        if plan.limits.wallTimeSeconds > 0 {
            rows.append(Carryover("wall_time", .dropped, "the runtime has no wall-clock limit; stop the container from outside"))
        }
        if plan.limits.inotifyInstances != nil || plan.limits.inotifyWatches != nil {
            rows.append(Carryover("inotify limits", .dropped, "set by mcpbox in the sandbox's user namespace through /proc/sys/user; runtime-spec sysctls cannot order it before /proc/sys turns read-only"))
        }

        // What runs around the sandbox under `mcpbox run` only.
        if plan.landlock.enforced {
            rows.append(Carryover("landlock", .dropped, "runtime-spec has no Landlock; the mounts alone draw the wall (the second wall is missing)"))
        }
        if plan.mcp != nil {
            rows.append(Carryover("MCP policy layer ([tools]/[prompts]/[client])", .dropped, "enforced by mcpbox's relay on the stdio pipes; a runtime hands the server its stdio directly"))
        }
        rows.append(Carryover("stdio relay", .dropped, "the runtime passes its own stdin/stdout/stderr to the server (mcpbox passes pipes it owns)"))
        if !plan.gitWatched.isEmpty || !plan.gitTrees.isEmpty {
            rows.append(Carryover("git protection (after the session)", .dropped, "mcpbox moves aside a planted commondir or nested .git after the session; nothing runs after a runtime's container"))
        }
        rows.append(Carryover("lifetime", .partial, "mcpbox kills the sandbox when the client goes; under a runtime, the container ends with its own pid 1 or when stopped"))
        // A bundle names no runtime: whoever runs it picks one, and runc or crun put the server
        // straight on the host kernel, which `[isolation] runtime = "gvisor"` was chosen to avoid.
        if plan.isolation.runtime == .gvisor {
            rows.append(Carryover(isolationRow, .dropped, "a native OCI runtime (runc, crun) runs the server on the host kernel; run the bundle with runsc to keep gVisor's kernel in between "
                + "(as mcpbox does: runsc --oci-seccomp, the bundle without its user namespace and id maps, which runsc refuses)"))
        }

        var linux: [(String, Node)] = []
        if userNS {
            linux.append(("uidMappings", .array([mapping(id.insideUid, id.hostUid)])))
            linux.append(("gidMappings", .array([mapping(id.insideGid, id.hostGid)])))
        }
        linux.append(("namespaces", .array(namespaces)))
        if !resources.isEmpty { linux.append(("resources", .object(resources))) }
        linux.append(("maskedPaths", .array(masked.map(Node.string))))
        linux.append(("readonlyPaths", .array(readonly.map(Node.string))))
        linux.append(("seccomp", seccomp.node))

        let config: Node = .object([
            ("ociVersion", .string(ociVersion)),
            ("process", .object(process)),
            ("root", .object([("path", .string(rootPath)), ("readonly", .bool(rootReadonly))])),
            ("hostname", .string(plan.hostname)),
            ("mounts", .array(mounts)),
            ("annotations", .object([("org.mcpbox.profile", .string(plan.profileName)),
                                     ("org.mcpbox.version", .string(MCPBoxVersion.current))])),
            ("linux", .object(linux)),
        ])
        if rootfs == .empty {
            files.append(.file("binds.txt", "# Fill each placeholder with the host path it stands for before running the bundle.\n"
                + placeholders.map { $0 + "\n" }.joined()))
        }
        return OCIBundle(config: config, entries: files, rows: rows)
    }

    static func rlimit(_ type: String, _ value: UInt64) -> Node {
        .object([("type", .string(type)), ("hard", .uint(value)), ("soft", .uint(value))])
    }

    static func mapping(_ inside: UInt32, _ host: UInt32) -> Node {
        .object([("containerID", .uint(UInt64(inside))), ("hostID", .uint(UInt64(host))), ("size", .uint(1))])
    }
}

/// A built bundle: `config.json`, the files beside it, and the report.
public struct OCIBundle: Sendable {
    public enum Entry: Sendable, Equatable {
        case dir(String)
        case file(String, String)
        case symlink(String, String)

        public var path: String {
            switch self {
            case .dir(let p), .file(let p, _), .symlink(let p, _): return p
            }
        }
    }
    public var config: Node
    /// Paths relative to the bundle directory, parents before children.
    public var entries: [Entry]
    public var rows: [Carryover]
}
