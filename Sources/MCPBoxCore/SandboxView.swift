/// Answers "what is at this path inside the sandbox?" from a mount list, by looking at the host
/// objects behind the binds. Symlinks are followed as the sandbox would follow them.
public struct SandboxView: Sendable {
    public enum Entry: Sendable, Equatable {
        case missing
        case directory
        /// A regular file; `hostPath` is where it is on the host (nil for synthesized files).
        case file(hostPath: String?, executable: Bool)
    }

    let mounts: [Mount]
    /// The mounts at this target are left out: the view of a list built without them, with
    /// no copy of the list (the plan's passes ask it once per mount).
    let excluded: String?

    /// Answers already given, with the directories each lookup passed (`memoizing` views only:
    /// the plan's view, asked about the command, its interpreters and the cwd several times).
    final class Memo: @unchecked Sendable {
        /// Keyed by the path's bytes: `String` equality is canonical equivalence, and `café` in
        /// NFC and in NFD are two files to the kernel.
        var answers: [PathKey: (entry: Entry, visited: [(String, HostFS.Info)])] = [:]
    }
    let memo: Memo?

    /// The view of `mounts`, without those at `target` when one is given. A `memoizing` view
    /// answers each path once: the host objects behind it are examined at its first lookup.
    public init(mounts: [Mount], excluding target: String? = nil, memoizing: Bool = false) {
        self.mounts = mounts
        excluded = target
        memo = memoizing ? Memo() : nil
    }

    /// The mount visible at `path`: the innermost `hide` at or above it if any (masks are
    /// mounted last, over everything below them), else the innermost mount at or above it.
    func covering(_ path: String) -> Mount? { Self.covering(path, in: mounts, excluding: excluded) }

    /// `covering` in `mounts` leaving out every mount at `excluded` (as a view built without them).
    static func covering(_ path: String, in mounts: [Mount], excluding excluded: String? = nil) -> Mount? {
        // Indices and byte lengths: every candidate is `path` or an ancestor of it, so the longer
        // in bytes is the longer in characters (and the inner one), without counting characters.
        var best = -1, bestLength = -1
        var mask = -1, maskLength = -1
        for i in mounts.indices where Paths.isWithin(path, mounts[i].target) && !Self.isExcluded(mounts[i].target, excluded) {
            let length = mounts[i].target.utf8.count
            if mounts[i].isHide {
                if length >= maskLength { mask = i; maskLength = length }
            } else if length >= bestLength {
                best = i
                bestLength = length
            }
        }
        return mask >= 0 ? mounts[mask] : best >= 0 ? mounts[best] : nil
    }

    /// Whether `target` is the excluded one, by its bytes (`String`'s `==` is canonical equivalence).
    static func isExcluded(_ target: String, _ excluded: String?) -> Bool {
        excluded.map { Paths.same(target, $0) } ?? false
    }

    /// Whether `path` is a mount target or a directory created to hold one.
    func isSkeleton(_ path: String) -> Bool {
        mounts.contains { !Self.isExcluded($0.target, excluded) && Paths.isWithin($0.target, path) }
    }

    /// Host path behind a sandbox path, when it lies in a bind (no symlink resolution).
    public func hostPath(_ path: String) -> String? {
        guard let m = covering(path), case .bind(let source, _) = m.kind else { return nil }
        return Paths.join(source, Paths.remainder(path, under: m.target))
    }

    /// Whether `path` is inside a bind (read-only or read-write) of the view.
    public func isBound(_ path: String) -> Bool { hostPath(path) != nil }

    /// What the sandbox would see at `path`, following symlinks (up to 40). `visit` is called
    /// with the host path and `lstat` of every directory from a bind that the lookup passes
    /// through or ends at, in order (what the kernel checks search permission on).
    public func lookup(_ path: String, visit: ((String, HostFS.Info) -> Void)? = nil) -> Entry {
        guard let memo else { return resolve(path, visit: visit) }
        let key = PathKey(path)
        if let hit = memo.answers[key] {
            if let visit { for (host, info) in hit.visited { visit(host, info) } }
            return hit.entry
        }
        var visited: [(String, HostFS.Info)] = []
        let entry = resolve(path) { visited.append(($0, $1)) }
        memo.answers[key] = (entry, visited)
        if let visit { for (host, info) in visited { visit(host, info) } }
        return entry
    }

    private func resolve(_ path: String, visit: ((String, HostFS.Info) -> Void)?) -> Entry {
        guard var current = Paths.normalize(path) else { return .missing }
        var hops = 0
        restart: while true {
            let parts = Paths.components(current)
            var prefix = "/"
            for (i, part) in parts.enumerated() {
                prefix = Paths.join(prefix, String(part))
                let isLast = i == parts.count - 1
                guard let m = covering(prefix) else {
                    if isSkeleton(prefix) { if isLast { return .directory } else { continue } }
                    return .missing
                }
                switch m.kind {
                case .bind(let source, _):
                    let host = Paths.join(source, Paths.remainder(prefix, under: m.target))
                    guard let info = HostFS.info(host, follow: false) else {
                        if isSkeleton(prefix) { if isLast { return .directory } else { continue } }
                        return .missing
                    }
                    if info.isSymlink, m.target != prefix || !isSkeleton(prefix) {
                        hops += 1
                        guard hops <= 40, let link = HostFS.readLink(host) else { return .missing }
                        let rest = Paths.slashJoined(parts[(i + 1)...])
                        let base = link.isAbsolutePath ? link : Paths.join(Paths.dirname(prefix), link)
                        let joined = Paths.join(base, rest)
                        if let visit { visitLeftByDots(joined, visit: visit) }
                        guard let next = Self.resolveDots(joined) else { return .missing }
                        current = next
                        continue restart
                    }
                    if info.isDirectory { visit?(host, info) }
                    if isLast {
                        if info.isDirectory { return .directory }
                        guard let full = HostFS.info(host) else { return .missing }
                        return .file(hostPath: host, executable: full.isRegular && full.mode & 0o111 != 0)
                    }
                    if !info.isDirectory && !isSkeleton(prefix) { return .missing }
                case .hide(let isDirectory):
                    // Nothing below a mask is visible, mount points included.
                    if prefix == m.target && isLast { return isDirectory ? .directory : .file(hostPath: nil, executable: false) }
                    if prefix == m.target && isDirectory { continue }
                    return .missing
                case .file:
                    if prefix == m.target && isLast { return .file(hostPath: nil, executable: false) }
                    return .missing
                case .symlink(let link):
                    guard prefix == m.target else { return .missing }
                    hops += 1
                    guard hops <= 40 else { return .missing }
                    let rest = Paths.slashJoined(parts[(i + 1)...])
                    let base = link.isAbsolutePath ? link : Paths.join(Paths.dirname(prefix), link)
                    let joined = Paths.join(base, rest)
                    if let visit { visitLeftByDots(joined, visit: visit) }
                    guard let next = Self.resolveDots(joined) else { return .missing }
                    current = next
                    continue restart
                case .tmpfs, .proc, .dev:
                    if prefix == m.target || isSkeleton(prefix) { if isLast { return .directory } else { continue } }
                    return .missing
                }
            }
            return .directory
        }
    }

    /// The kernel searches every directory a `..` leaves (`priv/../bin` needs search permission
    /// on `priv`), which `resolveDots` drops as text: visits the directories `path` names before
    /// each `..`, as a lookup of each would.
    private func visitLeftByDots(_ path: String, visit: @escaping (String, HostFS.Info) -> Void) {
        guard !Paths.isNormalASCII(path) else { return }
        var kept: [Substring] = []
        for c in Paths.components(path) {
            if c == "." { continue }
            if c == ".." {
                _ = resolve("/" + Paths.slashJoined(kept), visit: visit)
                if !kept.isEmpty { kept.removeLast() }
                continue
            }
            kept.append(c)
        }
    }

    /// Normalizes a path that may contain `.` and `..` (as a symlink target can).
    static func resolveDots(_ path: String) -> String? {
        guard path.isAbsolutePath else { return nil }
        if Paths.isNormalASCII(path) { return path }
        var out: [Substring] = []
        for c in Paths.components(path) {
            if c == "." { continue }
            if c == ".." { if !out.isEmpty { out.removeLast() }; continue }
            out.append(c)
        }
        return "/" + Paths.slashJoined(out)
    }
}

extension Mount {
    /// Whether this is a `hide` mask (without copying the kind's payload out).
    var isHide: Bool {
        if case .hide = kind { return true }
        return false
    }
}
