#if canImport(Glibc)
import Glibc
#endif

/// MCP clients' and editors' project configuration: what a client reads from the directory it
/// opens as a project and starts or runs without asking again. A server in a read-write bind
/// that could write `.mcp.json` (or `.vscode/mcp.json`, `.cursor/mcp.json`, `.claude/settings.json`
/// hooks, `.vscode/tasks.json`) would have the client start a server of its choosing,
/// unsandboxed, at its next start — or rewrite the entry that sandboxes it.
///
/// Like git's configuration (see `GitProtection`): each such entry a read-write bind exposes is
/// bound read-only at every launch (a mount point cannot be renamed, replaced or unlinked, nor
/// can the directories holding it), and every entry of these names that appears during the
/// session is moved aside afterwards.
public enum ClientConfigProtection {
    /// Entry names, each with what reads it.
    public static let entries: [(name: String, what: String)] = [
        (".mcp.json", "Claude Code's project MCP servers"),
        (".claude", "Claude Code's project settings (hooks, MCP servers)"),
        (".vscode", "VS Code's workspace MCP servers, tasks and settings"),
        (".cursor", "Cursor's project MCP servers and rules"),
        (".codex", "Codex's project configuration (MCP servers)"),
        (".gemini", "Gemini CLI's project settings (MCP servers)"),
        (".zed", "Zed's project settings (context servers)"),
        (".roo", "Roo Code's project MCP servers"),
        (".continue", "Continue's project configuration (MCP servers)"),
        // Found missing by a red-team pass (2026-12-03): clients that read a project's own MCP
        // servers from these.
        ("opencode.json", "opencode's project configuration (MCP servers)"),
        ("opencode.jsonc", "opencode's project configuration (MCP servers)"),
        (".opencode", "opencode's project directory (plugins, MCP servers)"),
        (".kiro", "Kiro's project settings (MCP servers, hooks)"),
        (".amazonq", "Amazon Q Developer's workspace MCP servers"),
        ("crush.json", "Crush's project configuration (MCP servers)"),
        (".crush.json", "Crush's project configuration (MCP servers)"),
        (".qwen", "Qwen Code's project settings (MCP servers)"),
        (".junie", "Junie's project MCP servers"),
        (".kilocode", "Kilo Code's project MCP servers"),
    ]
    /// `entries`' names as bytes, for the walk.
    static let names: [[UInt8]] = entries.map { Array($0.name.utf8) }
    /// Entries bound read-only in one plan at most: each is a mount.
    public static let limit = 256

    /// What reads the entry named `name`, else nil when it is none of `entries`.
    public static func what(_ name: String) -> String? {
        entries.first { $0.name == name }?.what
    }

    /// The first component of `path` (a host path) that is one of `entries`, as a path, else nil.
    static func enclosing(_ path: String) -> (path: String, what: String)? {
        var prefix = ""
        for part in Paths.components(path) {
            prefix.append("/")
            prefix.append(contentsOf: part)
            if let w = what(String(part)) { return (prefix, w) }
        }
        return nil
    }
}

extension PlanBuilder {
    /// Binds read-only each client configuration entry the read-write bind `m` (host path
    /// `source`) exposes, as the walk `e` found them; refuses a bind that lies inside one, and
    /// an entry that is a symlink (the server could re-point it). An entry the profile accepts
    /// by its own path (`[filesystem] accept`) stays writable.
    func protectClientConfigs(_ d: inout Draft, _ m: Mount, source: String, exposure e: GitProtection.Exposure) {
        let origin = "mcpbox: client configuration protection"
        if let inside = ClientConfigProtection.enclosing(source),
           !acknowledged([m.target, source, inside.path], reason: "read-write \(inside.what) (\(inside.path))", &d) {
            refuse(&d, m, "\(m.target) is or lies inside \(inside.path), \(inside.what): the client would start or run what the server writes there, outside any sandbox",
                   hint: Self.acceptHint(inside.path, "bind another directory"))
            return
        }
        var count = d.mounts.filter { $0.origin == origin }.count
        for path in e.clientConfigs {
            // The walk of `source` found it: an entry below the bind's root, never the root itself.
            guard let what = ClientConfigProtection.what(Paths.basename(path)) else { continue }
            if acknowledged([path], reason: "read-write \(what) (\(path))", &d) { continue }
            guard let info = HostFS.info(path, follow: false) else { continue }
            if info.isSymlink {
                refuse(&d, m, "\(path) (\(what)) is a symlink inside a read-write bind: the server could re-point it at configuration of its own, which the client would run",
                       hint: Self.acceptHint(path, "replace the symlink with what it points to, or bind a narrower path"))
                continue
            }
            // A file bound read-only still changes through another hard link of it, which may lie
            // where the server writes (red-team pass, 2026-12-03).
            if let linked = Self.hardLinkedFile(in: path, devices: writableDevices(d)) {
                refuse(&d, m, "\(linked.path), part of \(what), has \(linked.links) hard links: the server could change it through another name inside a path it may write, which mcpbox cannot find",
                       hint: "make it a file of its own: cp -p \(linked.path) \(linked.path).copy && mv \(linked.path).copy \(linked.path)")
                continue
            }
            let target = Paths.join(m.target, Paths.remainder(path, under: source))
            if d.hasMount(at: target, origin: origin) { continue }
            count += 1
            if count > ClientConfigProtection.limit {
                refuse(&d, m, "\(m.target) holds more than \(ClientConfigProtection.limit) MCP client or editor configuration entries (.mcp.json, .vscode, .claude, …), each of which mcpbox would bind read-only",
                       hint: "bind a narrower path")
                return
            }
            d.mounts.append(Mount(target: target, kind: .bind(source: path, readOnly: true), origin: origin))
        }
    }

    /// The devices of the plan's read-write binds: a hard link lies on its file's file system.
    func writableDevices(_ d: Draft) -> Set<UInt64> {
        Set(d.mounts.compactMap { m -> UInt64? in
            guard case .bind(let source, false) = m.kind else { return nil }
            return HostFS.identity(source)?.dev
        })
    }

    /// The first regular file at or under `path` (depth 4, 4096 entries) with more than one
    /// hard link, on one of `devices`; nil when none.
    static func hardLinkedFile(in path: String, devices: Set<UInt64>) -> (path: String, links: UInt64)? {
        var budget = 4096
        func visit(_ p: String, depth: Int) -> (path: String, links: UInt64)? {
            var st = stat()
            guard budget > 0, lstat(p, &st) == 0 else { return nil }
            budget -= 1
            switch st.st_mode & S_IFMT {
            case S_IFREG where st.st_nlink > 1 && devices.contains(UInt64(st.st_dev)): return (p, UInt64(st.st_nlink))
            case S_IFDIR where depth < 4:
                for name in HostFS.listDirectory(p, limit: budget) {
                    if let hit = visit(Paths.join(p, name), depth: depth + 1) { return hit }
                }
                return nil
            default: return nil
            }
        }
        return visit(path, depth: 0)
    }
}
