import CSandbox
import MCPBoxCore
#if canImport(Glibc)
import Glibc
#endif

/// gVisor for an ordinary user. runsc sets up its sandbox and file proxy (gofer) with root's
/// rights, and `runsc --rootless` maps runsc's root to the caller's own uid: its gofer then
/// shows the caller's files as uid 0 inside, so a server running as the caller's uid in gVisor
/// cannot use its own read-write binds, and files it creates cannot be given its uid (the
/// gofer's chown to an unmapped id fails with EINVAL). Instead mcpbox makes the user namespace
/// itself, with newuidmap/newgidmap and two subordinate ids of the caller's: runsc runs as uid 0
/// there (a subordinate id on the host), its sandbox as "nobody" (the other one), and the
/// server's ids (the caller's, or a `[user]` account from the caller's subordinate range) map to
/// themselves, so the server's files are its own on the host as under the native runtime.
public struct GVisorUserNamespace: Sendable, Equatable {
    /// Host ids of runsc's root (runsc and its gofer) and of gVisor's sandbox (65534 inside).
    public var rootUid: UInt32, rootGid: UInt32, nobodyUid: UInt32, nobodyGid: UInt32
    /// Host ids mapped to themselves: the caller's (owner of the bundle directory) and the server's.
    public var ownUids: [UInt32], ownGids: [UInt32]

    static let newuidmap = "/usr/bin/newuidmap"
    static let newgidmap = "/usr/bin/newgidmap"
    /// runsc runs gVisor's sandbox as this id of its namespace (hard-wired in runsc).
    static let nobody: UInt32 = 65534

    /// `inside outside count` triples for newuidmap / newgidmap.
    var uidMap: [String] { Self.map(root: rootUid, nobody: nobodyUid, own: ownUids) }
    var gidMap: [String] { Self.map(root: rootGid, nobody: nobodyGid, own: ownGids) }

    /// Explain's `runtime.user_namespace`: each map as `[inside, outside, count]` triples and
    /// the host ids of runsc (and its gofer) and of gVisor's sandbox (runsc's own under
    /// network.mode = "host", where runsc gives its sandbox no user namespace).
    func node(_ plan: SandboxPlan) -> Node {
        let host = plan.network == .host
        func triples(_ args: [String]) -> Node {
            .array(stride(from: 0, to: args.count - 2, by: 3).map { i in .array(args[i..<(i + 3)].map { .uint(UInt64($0) ?? 0) }) })
        }
        return .object([("uid_map", triples(uidMap)), ("gid_map", triples(gidMap)),
                        ("runsc", .object([("uid", .uint(UInt64(rootUid))), ("gid", .uint(UInt64(rootGid)))])),
                        ("sandbox", .object([("uid", .uint(UInt64(host ? rootUid : nobodyUid))), ("gid", .uint(UInt64(host ? rootGid : nobodyGid)))]))])
    }

    static func map(root: UInt32, nobody: UInt32, own: [UInt32]) -> [String] {
        var out = ["0", "\(root)", "1"]
        for id in own { out += ["\(id)", "\(id)", "1"] }
        return out + ["\(Self.nobody)", "\(nobody)", "1"]
    }

    /// The namespace for `plan` started by the ordinary user `plan.identity.callerUid`, or why
    /// gVisor cannot run for them. `executable` is a host fact (the map helpers).
    public static func forCaller(_ plan: SandboxPlan, accounts: Accounts = Accounts(),
                                 executable: (String) -> Bool = { access($0, X_OK) == 0 }) -> Result<GVisorUserNamespace, GVisorRuntime.Refusal> {
        let fix = "or set [isolation] runtime = \"native\""
        let id = plan.identity
        if GVisorRuntime.cgroupNeeded(plan) {
            return .failure(GVisorRuntime.Refusal(
                message: "runtime = \"gvisor\" started by an ordinary user cannot apply limits.memory or limits.cpu: runsc makes its cgroup as root, and without root it runs as a subordinate id that cannot write the cgroup hierarchy",
                hint: "start mcpbox as root, or drop limits.cpu and write limits.memory as \"?SIZE\" (applied only where mcpbox can), " + fix))
        }
        for helper in [newuidmap, newgidmap] where !executable(helper) {
            return .failure(GVisorRuntime.Refusal(
                message: "runtime = \"gvisor\" started by an ordinary user needs \(helper) (mcpbox maps runsc's user namespace with it)",
                hint: "install it (Debian: apt-get install uidmap), or start mcpbox as root, " + fix))
        }
        let owners = Set([String(id.callerUid)] + (accounts.user(uid: id.callerUid).map { [$0.name] } ?? []))
        let callerName = accounts.user(uid: id.callerUid)?.name ?? String(id.callerUid)
        let own = [id.callerUid, id.hostUid], ownG = [id.callerGid, id.hostGid]
        // Never an id that names an account or group (another profile's `[user]` account from
        // the same range): that account would share its host id with runsc or gVisor's sandbox.
        let named = Set(accounts.users.map(\.uid)), namedG = Set(accounts.groups.map(\.gid) + accounts.users.map(\.gid))
        let uids = pick(accounts.subuid.filter { owners.contains($0.owner) }, excluding: Set(own).union(named))
        let gids = pick(accounts.subgid.filter { owners.contains($0.owner) }, excluding: Set(ownG).union(namedG))
        guard uids.count == 2, gids.count == 2 else {
            let missing = (uids.count < 2 ? [accounts.subuidPath] : []) + (gids.count < 2 ? [accounts.subgidPath] : [])
            return .failure(GVisorRuntime.Refusal(
                message: "runtime = \"gvisor\" started by an ordinary user needs two subordinate uids and two subordinate gids of \(callerName)'s (runsc runs as one, gVisor's sandbox as the other; never as \(callerName)'s own ids, root, or an id that names an account or group) and \(missing.joined(separator: " and ")) gives fewer",
                hint: "as root, give \(callerName) a range: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 \(callerName); or start mcpbox as root, " + fix))
        }
        func unique(_ ids: [UInt32]) -> [UInt32] { ids.reduce(into: []) { if !$0.contains($1) { $0.append($1) } } }
        return .success(GVisorUserNamespace(rootUid: uids[0], rootGid: gids[0], nobodyUid: uids[1], nobodyGid: gids[1],
                                            ownUids: unique(own), ownGids: unique(ownG)))
    }

    /// The two highest ids of `ranges` outside `excluding` (and never 0 or 65534): the top of a
    /// range is the part container tools hand out last.
    static func pick(_ ranges: [Accounts.SubordinateRange], excluding: Set<UInt32>) -> [UInt32] {
        var out: [UInt32] = []
        for r in ranges.sorted(by: { UInt64($0.start) + UInt64($0.count) > UInt64($1.start) + UInt64($1.count) }) where r.count > 0 {
            var id = UInt64(r.start) + UInt64(r.count) - 1
            while id >= UInt64(r.start) && out.count < 2 {
                let v = UInt32(truncatingIfNeeded: id)
                if id <= UInt64(UInt32.max - 1), v != 0, v != nobody, !excluding.contains(v), !out.contains(v) { out.append(v) }
                if id == 0 { break }
                id -= 1
            }
            if out.count == 2 { break }
        }
        return out
    }

    /// Owner, group and permission bits of a host path (stat(2), links followed); nil when absent.
    public typealias Ownership = (uid: UInt32, gid: UInt32, mode: UInt32)

    public static func ownership(_ path: String) -> Ownership? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (st.st_uid, st.st_gid, UInt32(st.st_mode))
    }

    /// One warning for each bind the server cannot use as the profile asks: runsc's file proxy
    /// (gofer) runs as `rootUid`, and its capabilities cover only files whose owner and group
    /// are both mapped, so a bind source (or a directory above it) with another owner or group
    /// is reached only through its permission bits for others — even by its owner (a file of
    /// the caller's with a group of its own included). The run goes on: the server gets less,
    /// never more.
    func unusableBindWarnings(_ plan: SandboxPlan, ownership: (String) -> Ownership? = GVisorUserNamespace.ownership) -> [String] {
        let uids = Set(ownUids + [rootUid, nobodyUid]), gids = Set(ownGids + [rootGid, nobodyGid])
        var out: [String] = []
        for m in plan.mounts {
            guard case .bind(let source, let readOnly) = m.kind, source.hasPrefix("/") else { continue }
            // Search on every directory above, then read (and list) the source, and write it for read_write.
            var checks: [(String, UInt32, String)] = []
            var dir = ""
            for part in Paths.components(source).dropLast() {
                dir += "/" + part
                checks.append((dir, 0o1, "search"))
            }
            checks.append((source, readOnly ? 0o4 : 0o6, readOnly ? "read" : "read and write"))
            for (path, bits, what) in checks {
                guard let o = ownership(path), !(uids.contains(o.uid) && gids.contains(o.gid)) else { continue }
                let isDir = o.mode & 0o170000 == 0o040000
                let need = bits | (path == source && isDir ? 0o1 : 0)
                guard o.mode & need != need else { continue }
                let mode = String(o.mode & 0o7777, radix: 8)
                let chmodBits = (need & 0o4 != 0 ? "r" : "") + (need & 0o2 != 0 ? "w" : "") + (need & 0o1 != 0 ? (isDir ? "x" : "X") : "")
                let key = readOnly ? "read_only" : "read_write"
                out.append("gvisor: filesystem.\(key) \(source) (\(m.origin)) is unusable inside: runsc's file proxy cannot \(what) "
                    + (path == source ? "it" : "the directory \(path) above it") + " (owner \(o.uid), group \(o.gid), mode \(mode)): "
                    + "started by an ordinary user, runsc reaches only files whose owner and group are both mapped "
                    + "(uids \(uids.sorted().map(String.init).joined(separator: ", ")); gids \(gids.sorted().map(String.init).joined(separator: ", "))) "
                    + "and, for any other, what its permission bits allow everyone, even to its owner "
                    + "(fix: " + (uids.contains(o.uid) ? "chgrp \(o.uid == plan.identity.hostUid ? plan.identity.hostGid : plan.identity.callerGid) \(path), or " : "")
                    + "chmod o+\(chmodBits) \(path); or start mcpbox as root, or set [isolation] runtime = \"native\")")
                break
            }
        }
        return out
    }

    /// runsc's gofer creates each bind's missing mount point in the bundle's rootfs (the ones
    /// under a tmpfs or another mount too) as runsc's root, a subordinate id: the caller could
    /// not remove a directory of its. mcpbox writes them all with the bundle, as the caller;
    /// below a link of the skeleton the gofer resolves the target itself, so those stay its.
    static func premakeMountPoints(_ bundle: inout OCIBundle, isDirectory: (String) -> Bool?) {
        guard bundle.config["root"]?["path"] == .string("rootfs"), case .array(let mounts)? = bundle.config["mounts"] else { return }
        let links = Set(bundle.entries.compactMap { entry -> String? in
            if case .symlink(let p, _) = entry { return p }
            return nil
        })
        var known = Set(bundle.entries.map(\.path))
        for m in mounts {
            guard m["type"] == .string("bind"), case .string(let target)? = m["destination"], case .string(let source)? = m["source"],
                  target.hasPrefix("/"), target != "/" else { continue }
            let path = "rootfs" + target
            var parents: [String] = []
            var p = "rootfs"
            for part in Paths.components(target).dropLast() {
                p += "/" + part
                parents.append(p)
            }
            if links.contains(path) || parents.contains(where: links.contains) { continue }
            for parent in parents where known.insert(parent).inserted { bundle.entries.append(.dir(parent)) }
            guard known.insert(path).inserted else { continue }
            // Relative sources are the bundle's own synthesized files.
            bundle.entries.append(source.hasPrefix("/") && isDirectory(source) != false ? .dir(path) : .file(path, ""))
        }
    }

    /// The identity and namespaces rows of `rows`, as they hold with runsc in this namespace.
    func restate(_ rows: [Carryover], plan: SandboxPlan) -> [Carryover] {
        let id = plan.identity
        let others = ownUids.filter { $0 != id.hostUid }.map { ", \($0)->\($0) (the caller, owner of the bundle directory)" }.joined()
        let othersG = ownGids.filter { $0 != id.hostGid }.map { ", \($0)->\($0)" }.joined()
        let map = "uids 0->\(rootUid), \(id.hostUid)->\(id.hostUid)\(others), \(Self.nobody)->\(nobodyUid); gids 0->\(rootGid), \(id.hostGid)->\(id.hostGid)\(othersG), \(Self.nobody)->\(nobodyGid)"
        return rows.map { row in
            switch row.restriction {
            case "identity":
                return Carryover(row.restriction, .carried, "the server runs as \(id.insideUid):\(id.insideGid) (\(id.userName)) in gVisor's kernel and files it creates are owned by \(id.hostUid):\(id.hostGid) on the host; "
                    + "mcpbox was started by uid \(id.callerUid), not root: runsc runs as uid 0 of a user namespace mcpbox maps with newuidmap/newgidmap (\(map); \(rootUid), \(nobodyUid) and gids \(rootGid), \(nobodyGid) are subordinate ids of the caller's, no other host id is mapped, host root never), without the caller's supplementary groups; "
                    + "on the host gVisor's sandbox, the server's code included, runs as " + (plan.network == .host
                        ? "\(rootUid):\(rootGid) in mcpbox's namespace (network.mode = \"host\": runsc gives its sandbox no user namespace of its own) and the host's network namespace"
                        : "\(nobodyUid):\(nobodyGid) in a user namespace of runsc's nested in it")
                    + ", its file proxy (gofer) as \(rootUid):\(rootGid) with reduced capabilities in mcpbox's namespace (reaching only files of the mapped ids beyond what any user may); never the server as root")
            case "namespaces":
                return Carryover(row.restriction, .carried, plan.namespaces.filter { $0 != .user }.map(\.rawValue).joined(separator: ", ")
                    + " inside gVisor's kernel; user: gVisor's kernel is the server's; mcpbox puts runsc in a user namespace of its own (\(map)) and runsc its sandbox in one nested in it (the bundle states none)")
            default:
                return row
            }
        }
    }

    /// Starts `argv` as uid 0 of a new user namespace with these maps (mcpbox_userns_spawn).
    func spawn(_ argv: [String], stdin: Int32, stdout: Int32, stderr: Int32) -> Result<pid_t, ExternalStartError> {
        let cArgv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nil]
        let uidArgs: [UnsafePointer<CChar>?] = uidMap.map { UnsafePointer(strdup($0)) } + [nil]
        let gidArgs: [UnsafePointer<CChar>?] = gidMap.map { UnsafePointer(strdup($0)) } + [nil]
        let strings: [UnsafeMutablePointer<CChar>?] = [strdup(argv[0]), strdup(Self.newuidmap), strdup(Self.newgidmap)]
        defer {
            for p in cArgv + cEnv + strings { free(p) }
            for p in uidArgs + gidArgs { free(UnsafeMutableRawPointer(mutating: p)) }
        }
        var pid: pid_t = 0, stage: Int32 = 0, err: Int32 = 0
        var message = [CChar](repeating: 0, count: 512)
        let rc = cArgv.withUnsafeBufferPointer { a in
            cEnv.withUnsafeBufferPointer { e in
                uidArgs.withUnsafeBufferPointer { u in
                    gidArgs.withUnsafeBufferPointer { g in
                        var x = mcpbox_userns_exec(path: strings[0], argv: a.baseAddress, envp: e.baseAddress,
                                                   stdin_fd: stdin, stdout_fd: stdout, stderr_fd: stderr,
                                                   newuidmap_path: strings[1], newgidmap_path: strings[2],
                                                   uid_map_args: u.baseAddress, gid_map_args: g.baseAddress)
                        return mcpbox_userns_spawn(&x, &pid, &stage, &err, &message, message.count)
                    }
                }
            }
        }
        guard rc != 0 else { return .success(pid) }
        let helper = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: "\n").joined(separator: "; ")
        return .failure(ExternalStartError("gvisor: " + Self.describe(stage: stage, err: err, helper: helper, map: self)))
    }

    /// Why mcpbox_userns_spawn failed, in words.
    static func describe(stage: Int32, err: Int32, helper: String, map: GVisorUserNamespace) -> String {
        let reason = String(cString: strerror(err))
        switch UInt32(stage) {
        case MCPBOX_USERNS_CLONE.rawValue:
            return "cannot create a user namespace for runsc: \(reason) (unprivileged user namespaces must be enabled: sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0; or start mcpbox as root)"
        case MCPBOX_USERNS_UID_MAP.rawValue, MCPBOX_USERNS_GID_MAP.rawValue:
            let uid = stage == Int32(MCPBOX_USERNS_UID_MAP.rawValue)
            return "\(uid ? newuidmap : newgidmap) \((uid ? map.uidMap : map.gidMap).joined(separator: " ")) failed (exit \(err))"
                + (helper.isEmpty ? "" : ": \(helper)") + " (the subordinate ids must be the caller's in /etc/\(uid ? "subuid" : "subgid"), and \(uid ? newuidmap : newgidmap) setuid root)"
        case MCPBOX_USERNS_IDENTITY.rawValue:
            return "cannot become uid 0 of runsc's user namespace: \(reason)"
        case MCPBOX_USERNS_EXEC.rawValue:
            return "cannot start runsc in its user namespace: \(reason) (install util-linux's setpriv and gVisor's runsc)"
        default:
            return "cannot start runsc in its user namespace (stage \(stage)): \(reason)"
        }
    }

    /// Where an ordinary user's gVisor runs keep their bundles and runsc's state:
    /// `$XDG_RUNTIME_DIR/mcpbox/gvisor`, else `$XDG_STATE_HOME/mcpbox/gvisor`, else
    /// `~/.local/state/mcpbox/gvisor`; nil without an absolute one.
    static func baseDir(_ env: (String) -> String? = { getenv($0).map { String(cString: $0) } }) -> String? {
        if let x = env("XDG_RUNTIME_DIR").flatMap(Paths.normalize), x.hasPrefix("/") { return Paths.join(x, "mcpbox/gvisor") }
        if let x = env("XDG_STATE_HOME").flatMap(Paths.normalize), x.hasPrefix("/") { return Paths.join(x, "mcpbox/gvisor") }
        var home = env("HOME").flatMap(Paths.normalize)
        if home?.hasPrefix("/") != true, let pw = getpwuid(geteuid()), let dir = pw.pointee.pw_dir { home = Paths.normalize(String(cString: dir)) }
        guard let home, home.hasPrefix("/") else { return nil }
        return Paths.join(home, ".local/state/mcpbox/gvisor")
    }

    /// `baseDir`, created 0700 where missing, then checked on its real path: the directory must
    /// be the caller's, open to no one else, and every directory above it root's or the
    /// caller's and writable by no one else (a root-owned sticky one, like /tmp, only above a
    /// directory of the caller's or root's). Never TMPDIR: runsc reads the bundle from here.
    static func privateBase() -> Result<String, ExternalStartError> {
        guard let base = baseDir() else {
            return .failure(ExternalStartError("gvisor: no directory for the bundle (set XDG_RUNTIME_DIR, XDG_STATE_HOME or HOME to an absolute path)"))
        }
        var current = ""
        for part in Paths.components(base) {
            current += "/" + part
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                return .failure(ExternalStartError("gvisor: cannot create \(current): \(String(cString: strerror(errno)))"))
            }
        }
        guard let resolved = realpath(base, nil) else {
            return .failure(ExternalStartError("gvisor: cannot resolve \(base): \(String(cString: strerror(errno)))"))
        }
        let real = String(cString: resolved)
        free(resolved)
        if let problem = unsafeComponent(real, uid: geteuid()) { return .failure(ExternalStartError("gvisor: " + problem)) }
        return .success(real)
    }

    /// Why `path` (a real path) cannot hold an ordinary user's bundles, nil when it can.
    static func unsafeComponent(_ path: String, uid: uid_t) -> String? {
        var chain = ["/"]
        var current = ""
        for part in Paths.components(path) {
            current += "/" + part
            chain.append(current)
        }
        for (i, dir) in chain.enumerated() {
            var st = stat()
            guard lstat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
                return "\(dir) must be a directory (it holds the bundle runsc reads)"
            }
            if i == chain.count - 1 {
                guard st.st_uid == uid, st.st_mode & 0o077 == 0 else {
                    return "\(dir) must be owned by uid \(uid) and open to no one else (it holds the bundle runsc reads; fix: chmod 700 \(dir))"
                }
                continue
            }
            let sticky = st.st_uid == 0 && st.st_mode & S_ISVTX != 0
            guard st.st_uid == 0 || st.st_uid == uid, st.st_mode & 0o022 == 0 || sticky else {
                return "\(dir) must be owned by root or uid \(uid) and writable by no one else (whoever can rename entries in it could swap the bundle runsc reads; fix its owner and mode, or set XDG_RUNTIME_DIR to a private directory)"
            }
        }
        return nil
    }
}
