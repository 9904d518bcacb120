/// Replays the C mount stage (`mounts.c`, `mcpbox_build_root`) against the host without
/// mounting anything, so the plan builder refuses every plan whose launch would fail at a
/// mount point: `explain` and `run` agree. The rules it mirrors:
/// - targets are resolved component by component with RESOLVE_NO_SYMLINKS: a symlink on the
///   way, or at the target itself, fails (ELOOP);
/// - a missing directory or mount-point file is created, which needs a writable place (the
///   root tmpfs, a tmpfs, a read-write bind); inside a read-only bind, a `hide` mask, the
///   sandbox's /dev or /proc it fails (EROFS);
/// - a directory mount (directory bind, tmpfs, proc, dev) needs a directory, a file bind a
///   non-directory; `hide` needs an existing entry of the kind it masks; a synthesized file or
///   symlink needs a free name.
struct MountCheck {
    /// One mount the launch would fail at.
    struct Failure: Equatable {
        /// Index into the plan's mounts.
        var index: Int
        var message: String
        var hint: String
        /// Target of the mount that makes it fail (a read-only bind, a symlink's bind), if another.
        var blocker: String?
    }

    /// What a path holds at some point of the build.
    enum Entry: Equatable {
        case directory
        case file
        case symlink(String)
        /// Absent; `creatable` when the place it would be created in is writable. `holder`
        /// names the mount that decides it.
        case missing(creatable: Bool, holder: String?)
        /// Inside the sandbox's own /proc: nothing is mounted there.
        case opaque(holder: String)
    }

    /// The sandbox's /dev as `mounts.c` builds it (then read-only).
    static let devEntries: [String: Entry] = [
        "null": .file, "zero": .file, "full": .file, "random": .file, "urandom": .file,
        "fd": .symlink("/proc/self/fd"), "stdin": .symlink("/proc/self/fd/0"),
        "stdout": .symlink("/proc/self/fd/1"), "stderr": .symlink("/proc/self/fd/2"), "shm": .directory,
    ]

    /// Whether the launch may create an entry in this host directory of a read-write bind (pid 1
    /// creates mount points there with the server's host identity: a root-owned 0755 directory
    /// refused it, EACCES, while the check said nothing).
    var canCreateIn: (String) -> Bool = { _ in true }

    private var applied: [Mount] = []
    /// The index in `applied` of the last mount at each target, by the target's bytes (`String`
    /// equality is canonical equivalence: `caf\u{E9}` and `cafe\u{301}` are two paths to the
    /// kernel). A covering mount is found by looking up the path's own ancestors (a handful)
    /// instead of testing every mount applied (a profile with 1,000 paths took 0.4 s).
    private var lastAt: [PathKey: Int] = [:]
    /// Entries the build has created so far (directories and mount-point files), with the
    /// index in `applied` of the mount they were created in (-1: the root tmpfs). A mount
    /// applied later at or above them hides them. Keyed by bytes, like `lastAt`.
    private var created: [PathKey: (entry: Entry, owner: Int)] = [:]

    /// Every failure, in build order (the launch stops at the first).
    static func failures(_ mounts: [Mount], canCreateIn: @escaping (String) -> Bool = { _ in true }) -> [Failure] {
        var created: [String] = []
        return failures(mounts, canCreateIn: canCreateIn, hostCreated: &created)
    }

    /// `failures`, and in `hostCreated` the host paths the launch creates as mount points in
    /// read-write binds (they stay on the host after the session).
    static func failures(_ mounts: [Mount], canCreateIn: @escaping (String) -> Bool, hostCreated: inout [String]) -> [Failure] {
        var check = MountCheck()
        check.canCreateIn = canCreateIn
        var out: [Failure] = []
        for (i, m) in mounts.enumerated() {
            if let f = check.apply(m, index: i) { out.append(f) }
        }
        hostCreated = check.hostCreated
        return out
    }

    /// Host paths `create` made inside a bind (a read-write one: a read-only one creates nothing).
    private var hostCreated: [String] = []

    /// The mount visible at `path` now: the last one applied at or above it (a mount lands on
    /// whatever is visible at its target, so a later one at an ancestor shadows earlier ones below).
    private func covering(_ path: String) -> Mount? {
        coveringIndex(path).map { applied[$0] }
    }

    /// The last index `i` with `Paths.isWithin(path, applied[i].target)`: the targets that
    /// holds for are `/`, `path` itself and each of its prefixes that ends before a `/` byte.
    private func coveringIndex(_ path: String) -> Int? {
        var best = lastAt[PathKey(bytes: [UInt8(ascii: "/")])] ?? -1
        let bytes = Array(path.utf8)
        for k in bytes.indices where bytes[k] == UInt8(ascii: "/") {
            if let i = lastAt[PathKey(bytes: Array(bytes[..<k]))], i > best { best = i }
        }
        if let i = lastAt[PathKey(bytes: bytes)], i > best { best = i }
        return best >= 0 ? best : nil
    }

    private mutating func append(_ m: Mount) {
        lastAt[PathKey(m.target)] = applied.count
        applied.append(m)
    }

    private mutating func create(_ path: String, _ e: Entry) {
        if let m = covering(path), case .bind(let source, false) = m.kind {
            hostCreated.append(Paths.join(source, Paths.remainder(path, under: m.target)))
        }
        created[PathKey(path)] = (e, coveringIndex(path) ?? -1)
    }

    /// What the build sees at `path` now.
    func entry(_ path: String) -> Entry {
        if let c = created[PathKey(path)], c.owner == (coveringIndex(path) ?? -1) { return c.entry }
        guard let m = covering(path) else {
            return path == "/" ? .directory : .missing(creatable: true, holder: nil)
        }
        let atTarget = m.target == path
        switch m.kind {
        case .bind(let source, let readOnly):
            let host = Paths.join(source, Paths.remainder(path, under: m.target))
            guard let info = HostFS.info(host, follow: false) else {
                return .missing(creatable: !readOnly && canCreateIn(Paths.dirname(host)), holder: m.target)
            }
            if info.isSymlink { return .symlink(HostFS.readLink(host) ?? "?") }
            return info.isDirectory ? .directory : .file
        case .tmpfs:
            return atTarget ? .directory : .missing(creatable: true, holder: m.target)
        case .dev:
            if atTarget { return .directory }
            let rest = Paths.remainder(path, under: m.target)
            // /dev/shm is a writable tmpfs of its own; the rest of /dev is read-only.
            return Self.devEntries[rest] ?? .missing(creatable: rest.hasPrefix("shm/"), holder: m.target)
        case .proc:
            return atTarget ? .directory : .opaque(holder: m.target)
        case .file:
            return atTarget ? .file : .missing(creatable: false, holder: m.target)
        case .hide(let isDirectory):
            if atTarget { return isDirectory ? .directory : .file }
            return .missing(creatable: false, holder: m.target)
        case .symlink(let link):
            return atTarget ? .symlink(link) : .missing(creatable: false, holder: m.target)
        }
    }

    /// What a mount needs at its target.
    enum Need { case directory, file, existingDirectory, existingFile, freeName }

    static func need(_ m: Mount) -> Need {
        switch m.kind {
        case .bind(let source, _): return HostFS.info(source)?.isDirectory == false ? .file : .directory
        case .tmpfs, .proc, .dev: return .directory
        case .hide(let isDirectory): return isDirectory ? .existingDirectory : .existingFile
        case .file, .symlink: return .freeName
        }
    }

    private static func blockerText(_ holder: String?) -> String {
        guard let holder else { return "" }
        return " (inside \(holder))"
    }

    /// Applies `m`; the failure the launch would stop at, if any.
    private mutating func apply(_ m: Mount, index: Int) -> Failure? {
        if m.target == "/" {
            append(m)
            guard case .bind = m.kind else {
                return Failure(index: index, message: "/ can only be a bind", hint: "remove it", blocker: nil)
            }
            return nil
        }
        let parts = Paths.components(m.target)
        var prefix = "/"
        for (i, part) in parts.enumerated() {
            prefix = Paths.join(prefix, String(part))
            let last = i == parts.count - 1
            let e = entry(prefix)
            if !last {
                switch e {
                case .directory: continue
                case .symlink(let link):
                    return Failure(index: index, message: "\(prefix) is a symbolic link inside the sandbox (to \(link)); mcpbox never mounts through one",
                                   hint: "name the real path in the profile", blocker: covering(prefix)?.target)
                case .file:
                    return Failure(index: index, message: "\(prefix) is a file inside the sandbox, not a directory",
                                   hint: "remove the entry, or bind the directory it should be in", blocker: covering(prefix)?.target)
                case .missing(let creatable, let holder):
                    guard creatable else { return missingFailure(m, index: index, path: prefix, holder: holder) }
                    create(prefix, .directory)
                case .opaque(let holder):
                    return Failure(index: index, message: "\(m.target) lies in \(holder), which the sandbox builds itself",
                                   hint: "remove it", blocker: holder)
                }
                continue
            }
            let need = Self.need(m)
            switch (e, need) {
            case (.directory, .directory), (.directory, .existingDirectory), (.file, .file), (.file, .existingFile):
                break
            case (.symlink(let link), _):
                let what: String
                if case .hide = m.kind { what = "hide the path it points to instead" }
                else { what = "name the path it points to, or remove this entry (the sandbox follows the link to whatever is visible there)" }
                return Failure(index: index, message: "\(m.target) is a symbolic link inside the sandbox (to \(link)); mcpbox never mounts onto one",
                               hint: what, blocker: covering(m.target).flatMap { $0.target == m.target ? nil : $0.target })
            case (.missing(let creatable, let holder), .directory), (.missing(let creatable, let holder), .file),
                 (.missing(let creatable, let holder), .freeName):
                guard creatable else { return missingFailure(m, index: index, path: m.target, holder: holder) }
                create(m.target, need == .directory ? .directory : .file)
            case (.missing, _):
                return Failure(index: index, message: "\(m.target) does not exist inside the sandbox", hint: "remove it from filesystem.hide", blocker: nil)
            case (.directory, .freeName), (.file, .freeName):
                return Failure(index: index, message: "\(m.target) exists already inside the sandbox", hint: "remove one of the two", blocker: covering(m.target)?.target)
            case (.file, _):
                return Failure(index: index, message: "\(m.target) is a file inside the sandbox; \(Self.describe(m)) needs a directory there",
                               hint: "name a directory", blocker: covering(m.target)?.target)
            case (.directory, _):
                return Failure(index: index, message: "\(m.target) is a directory inside the sandbox; \(Self.describe(m)) needs a file there",
                               hint: "name a file", blocker: covering(m.target)?.target)
            case (.opaque(let holder), _):
                return Failure(index: index, message: "\(m.target) lies in \(holder), which the sandbox builds itself",
                               hint: "remove it", blocker: holder)
            }
        }
        append(m)
        return nil
    }

    private func missingFailure(_ m: Mount, index: Int, path: String, holder: String?) -> Failure {
        let place: String
        if let h = holder, let c = lastAt[PathKey(h)].map({ applied[$0] }) {
            switch c.kind {
            case .bind(_, true): place = "the read-only bind of \(h)"
            case .bind: place = "the read-write bind of \(h), whose host directory the server's account may not write"
            case .dev: place = "the sandbox's own \(h)"
            case .hide: place = "the hidden (masked) \(h)"
            default: place = h
            }
        } else {
            place = holder ?? "/"
        }
        let hint = holder.map { h -> String in
            if case .bind(let source, let ro)? = lastAt[PathKey(h)].map({ applied[$0].kind }) {
                return "create \(Paths.join(source, Paths.remainder(path, under: h))) on the host, "
                    + (ro ? "bind \(h) read-write" : "give the server's account write access there") + ", or remove this entry"
            }
            return "remove this entry"
        } ?? "remove this entry"
        return Failure(index: index, message: "the mount point \(path) for \(Self.describe(m)) does not exist and cannot be created in \(place)",
                       hint: hint, blocker: holder)
    }

    static func describe(_ m: Mount) -> String {
        switch m.kind {
        case .bind(_, let ro): return ro ? "a read-only bind" : "a read-write bind"
        case .tmpfs: return "a tmpfs"
        case .proc: return "/proc"
        case .dev: return "/dev"
        case .file: return "a file mcpbox writes"
        case .hide: return "a hide mask"
        case .symlink: return "a symlink"
        }
    }
}

extension SandboxView {
    /// `path` with every symlink the sandbox would follow resolved (up to 40 hops), or nil.
    func resolve(_ path: String) -> String? {
        guard var current = Paths.normalize(path) else { return nil }
        var hops = 0
        restart: while true {
            let parts = Paths.components(current)
            var prefix = "/"
            for (i, part) in parts.enumerated() {
                prefix = Paths.join(prefix, String(part))
                var link: String?
                if let m = covering(prefix) {
                    switch m.kind {
                    case .symlink(let l) where m.target == prefix:
                        link = l
                    case .bind(let source, _) where m.target != prefix:
                        let host = Paths.join(source, Paths.remainder(prefix, under: m.target))
                        if HostFS.info(host, follow: false)?.isSymlink == true {
                            guard let l = HostFS.readLink(host) else { return nil }
                            link = l
                        }
                    default:
                        break
                    }
                }
                guard let link else { continue }
                hops += 1
                guard hops <= 40 else { return nil }
                let rest = Paths.slashJoined(parts[(i + 1)...])
                let base = link.isAbsolutePath ? link : Paths.join(Paths.dirname(prefix), link)
                guard let next = Self.resolveDots(Paths.join(base, rest)) else { return nil }
                current = next
                continue restart
            }
            return current
        }
    }
}

extension PlanBuilder {
    /// Drops a bind whose target lies inside another bind and goes through a symlink there
    /// that the sandbox already follows to the bind's own source, with the same mode
    /// (`/etc/localtime` with `/etc` and `/usr` bound read-only): the same object is visible
    /// there, and mcpbox never mounts onto or through a symlink.
    static func withoutBindsOnSymlinks(_ mounts: [Mount]) -> [Mount] {
        mounts.filter { m in
            guard case .bind(let source, let ro) = m.kind, m.target != "/" else { return true }
            // (The view of every mount at another target, without copying the list per bind.)
            let view = SandboxView(mounts: mounts, excluding: m.target)
            guard view.hostPath(m.target) != nil, let resolved = view.resolve(m.target), resolved != m.target,
                  let holder = view.covering(resolved), case .bind(_, let holderRO) = holder.kind, holderRO == ro,
                  let seen = view.hostPath(resolved), HostFS.realPath(seen) == source
            else { return true }
            // A mask at or below either path keeps the bind (and the check names the conflict).
            return mounts.contains { o in
                guard case .hide = o.kind, o.target != m.target else { return false }
                return Paths.isWithin(o.target, m.target) || Paths.isWithin(o.target, resolved)
            }
        }
    }

    /// Drops a `hide` inside a directory another `hide` masks already: nothing below a mask is
    /// reachable, and its mount point no longer exists once the outer mask is in place.
    static func withoutShadowedHides(_ mounts: [Mount]) -> [Mount] {
        let dirs = mounts.compactMap { m -> String? in if case .hide(true) = m.kind { m.target } else { nil } }
        return mounts.filter { m in
            guard case .hide = m.kind else { return true }
            return !dirs.contains { $0 != m.target && Paths.isWithin(m.target, $0) }
        }
    }

    /// Warns about every mount at or below a `hide`: masks are mounted last, over everything,
    /// so such a mount shows the server nothing while `explain` listed it among the mounts
    /// (`read_only = [h/sub]` with `hide = [h]` read as `h/sub ro`; the server saw no such path).
    func checkMaskedMounts(_ d: inout Draft) {
        let masks = d.mounts.filter(\.isHide)
        guard !masks.isEmpty else { return }
        for m in d.mounts where !m.isHide {
            guard let mask = masks.first(where: { Paths.isWithin(m.target, $0.target) }) else { continue }
            d.warnings.append("filesystem.hide: \(m.target) (\(m.origin)) lies \(mask.target == m.target ? "at" : "inside") \(mask.target), which `hide` masks (\(mask.origin)): nothing below a mask is visible, so the server never sees it; remove one of the two entries")
        }
    }

    /// Refuses, at the profile line that asked for it, every mount the launch would fail at.
    /// Only for an otherwise valid plan: earlier errors already name the entries at fault.
    func checkMountPoints(_ d: inout Draft, identity: Identity) {
        guard d.sink.isEmpty else { return }
        // pid 1 creates a missing mount point with the server's host uid and gids (the caller's
        // own groups kept in caller-remap mode), with no capability over the host directory.
        let gids = [identity.hostGid] + (identity.mechanism == .callerRemap ? host.callerGroups : [])
        let canCreate: (String) -> Bool = { dir in
            // (The owner too needs the write bit: a 0555 directory of the account's refused it.)
            guard let info = HostFS.info(dir) else { return true }
            return HostFS.permits(dir, info: info, uid: identity.hostUid, gids: gids, want: 0o3)
        }
        var hostCreated: [String] = []
        let failures = MountCheck.failures(d.mounts, canCreateIn: canCreate, hostCreated: &hostCreated)
        // Said at every launch that makes one (the next finds it there): the host changes.
        for path in hostCreated where failures.isEmpty {
            d.warnings.append("filesystem: the mount point \(path) does not exist: the launch creates it on the host, in a read-write bind, and it stays there after the session (create it yourself to have it from the start)")
        }
        for f in failures {
            let m = d.mounts[f.index]
            if let entry = profileEntry(for: m.target, kind: m.kind) ?? f.blocker.flatMap({ profileEntry(for: $0, kind: nil) }) {
                let what = entry.value.path == m.target ? "" : " (\(m.target), \(m.origin))"
                d.sink.add(entry.diagnostic("refused: \(f.message)\(what); the launch would fail there", hint: f.hint))
            } else {
                d.sink.add(Diagnostic(key: "filesystem", "refused: \(f.message) (\(m.origin)); the launch would fail there", hint: f.hint))
            }
        }
    }

    /// The profile entry that asked for a mount at `target`.
    func profileEntry(for target: String, kind: Mount.Kind?) -> Sourced<PathEntry>? {
        let lists: [[Sourced<PathEntry>]]
        switch kind {
        case .tmpfs?: lists = [profile.tmpfs]
        case .hide?: lists = [profile.hide, profile.readOnly, profile.readWrite]
        case .bind?: lists = [profile.readOnly, profile.readWrite]
        default: lists = [profile.readOnly, profile.readWrite, profile.tmpfs, profile.hide]
        }
        for list in lists {
            if let e = list.last(where: { $0.value.path == target }) { return e }
        }
        return nil
    }
}
