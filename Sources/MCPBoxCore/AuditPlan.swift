import MCPBoxEvents
import MCPBoxProtocol

/// `[audit] log`: a path, the default path (`true`), or off (`false`).
public enum AuditLogSetting: Sendable, Equatable {
    case path(String)
    case defaultPath
    case off
}

/// The audit log's part of the plan (`[audit]`): where mcpbox writes one record per MCP
/// exchange, outside the sandbox, as the invoking user.
public struct AuditPlan: Sendable, Equatable {
    /// Absolute path of the log (parent directories are created 0700 at run time).
    public var path: String
    public var payloads: AuditPayloads
    /// A log that cannot be written stops the session (true) or is warned about once (false).
    public var required: Bool
    public var rotation: LogRotation
    /// Where each setting came from (explain), by key; "default" when not set.
    public var origins: [String: String]

    public static let defaultMaxSize: UInt64 = 10 << 20
    public static let defaultKeep = 5
    public static let maxKeep: UInt64 = 1000

    /// The default log of `profileName`: `${XDG_STATE_HOME:-$HOME/.local/state}/mcpbox/audit/NAME.jsonl`
    /// (NAME is the profile's file name without `.toml` when a path was given).
    static func defaultPath(profileName: String, env: [String: String]) -> String? {
        var base: String
        if let x = env["XDG_STATE_HOME"], x.isAbsolutePath, let n = Paths.normalize(x) {
            base = n
        } else if let h = env["HOME"], h.isAbsolutePath, let n = Paths.normalize(h) {
            base = Paths.join(n, ".local/state")
        } else {
            return nil
        }
        var name = Paths.basename(profileName)
        if name.hasSuffix(".toml") { name = String(name.dropLast(5)) }
        name = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
        if name.isEmpty || name.hasPrefix(".") { name = "profile" + name }
        base = Paths.join(base, "mcpbox/audit")
        return Paths.join(base, name + ".jsonl")
    }

    /// nil when audit is off (no `[audit]` key, or `log = false`); errors for a log the server
    /// could write, warnings for one it could read and for `required = false`.
    static func build(_ profile: Profile, env: [String: String], mounts: [Mount], sink: inout DiagnosticSink,
                      warnings: inout [String]) -> AuditPlan? {
        let anyKey = profile.auditLog != nil || profile.auditPayloads != nil || profile.auditRequired != nil
            || profile.auditMaxSize != nil || profile.auditKeep != nil
        guard anyKey, profile.auditLog?.value != .off else { return nil }
        var origins: [String: String] = [:]
        let path: String
        switch profile.auditLog?.value {
        case .path(let p)?:
            path = p
            origins["log"] = profile.auditLog!.origin
        default:
            guard let p = defaultPath(profileName: profile.name, env: env) else {
                let d = profile.auditLog?.diagnostic("the default audit log needs XDG_STATE_HOME or HOME (an absolute path)",
                                                     hint: "set audit.log to an absolute path")
                    ?? Diagnostic(key: "audit.log", "the default audit log needs XDG_STATE_HOME or HOME (an absolute path)",
                                  hint: "set audit.log to an absolute path")
                sink.add(d)
                return nil
            }
            path = p
            origins["log"] = profile.auditLog.map { $0.origin + " = true (default path)" } ?? "default (an [audit] key is set)"
        }
        let logOrigin = profile.auditLog
        for m in mounts {
            guard case .bind(let source, let readOnly) = m.kind else { continue }
            guard Paths.isWithin(path, source) || Paths.isWithin(path, m.target) else { continue }
            if !readOnly {
                let message = "refused: the audit log \(path) lies inside \(m.target), which the server may write (\(m.origin))"
                let hint = "keep the audit log outside the directories the server may write"
                sink.add(logOrigin?.diagnostic(message, hint: hint) ?? Diagnostic(key: "audit.log", message, hint: hint))
            } else {
                warnings.append("audit.log: the server can read the audit log \(path) through \(m.target) (\(m.origin)); a server running as the log's owner (caller-remap) could also hold its .lock file and make every session writing it give up after \(Int(EventSink.lockWait)) s; keep it outside the sandbox's view")
            }
        }
        // The same through another name: a symlink on the way, or a host bind mount.
        let writable = mounts.compactMap { m -> (source: String, target: String)? in
            if case .bind(let source, false) = m.kind, !Paths.isWithin(path, source), !Paths.isWithin(path, m.target) { (source, m.target) } else { nil }
        }
        if let alias = LogPaths.writableAlias(path, writable: writable) {
            let origin = mounts.first { $0.target == alias.target }?.origin ?? "filesystem.read_write"
            let message = "refused: the audit log \(path) lies inside \(alias.target), which the server may write (\(origin)): \(alias.via) is \(alias.source) or lies inside it"
            let hint = "keep the audit log outside the directories the server may write, under every name"
            sink.add(logOrigin?.diagnostic(message, hint: hint) ?? Diagnostic(key: "audit.log", message, hint: hint))
        }
        let required = profile.auditRequired?.value ?? true
        // A path no log can live at: refused as run would refuse it; with required = false run
        // goes on unlogged, which explain states as a warning.
        if let (message, hint) = LogPaths.problem(path, makesParents: true, what: "audit log") {
            if required {
                sink.add(logOrigin?.diagnostic(message, hint: hint) ?? Diagnostic(key: "audit.log", message, hint: hint))
            } else {
                warnings.append("audit.log: \(message.dropFirst("refused: ".count)); with required = false the session will not be logged (\(hint))")
            }
        }
        if !required {
            warnings.append("audit.required = false: if the audit log cannot be written, the session continues unlogged after one warning (\(profile.auditRequired!.origin))")
        }
        origins["payloads"] = profile.auditPayloads?.origin ?? "default"
        origins["required"] = profile.auditRequired?.origin ?? "default"
        origins["max_size"] = profile.auditMaxSize?.origin ?? "default"
        origins["keep"] = profile.auditKeep?.origin ?? "default"
        return AuditPlan(path: path, payloads: profile.auditPayloads?.value ?? .none, required: required,
                         rotation: LogRotation(maxSize: profile.auditMaxSize?.value ?? defaultMaxSize,
                                               keep: profile.auditKeep.map { Int($0.value) } ?? defaultKeep),
                         origins: origins)
    }

    /// explain's AUDIT rows.
    static func explainLines(_ audit: AuditPlan?) -> [(String, String)] {
        guard let a = audit else {
            return [("log", "off: no [audit] key; nothing of the MCP traffic is recorded")]
        }
        var out: [(String, String)] = [
            ("log", "\(a.path)  (\(a.origins["log"] ?? ""))"),
            ("written", "by mcpbox outside the sandbox as the invoking user: mode 0600, O_APPEND|O_NOFOLLOW, parent directories created 0700"),
            ("records", "one per exchange (request joined with its response by id), both directions, server→client requests included; "
                + "one per notification and per protocol violation (the server's up to its budget, below); session start and end; initialize with client/server names, versions, capabilities"),
            ("payloads", payloadWords(a.payloads) + "  (\(a.origins["payloads"] ?? ""))"),
            ("chain", "every record ends with prev = sha256 of the line before; `mcpbox audit verify \(a.path)` checks it"),
            ("rotation", "at \(Units.formatSize(a.rotation.maxSize)), keeping \(a.rotation.keep) rotated file\(a.rotation.keep == 1 ? "" : "s") (\(a.path).1 …, made read-only 0400)"),
            ("server budget", "\(Units.formatSize(UInt64(AuditTrail.serverBudget(maxSize: a.rotation.maxSize)))) (max_size / 4) of records per session for what "
                + "the server alone sends (its notifications, its requests to the client, lines that are no message); past it each is counted, "
                + "not written: one mcp.summary per method (\(AuditTrail.maxSummarizedMethods) at most, the rest together) before session.end; "
                + "the client's requests and refusals are always written"),
        ]
        out.append(("required", a.required
            ? "true: if the log cannot be opened the server does not start (exit 125); a failed write ends the session (exit 125)"
            : "false: WARNING a log that cannot be written is warned about once and the session continues unlogged"))
        return out
    }

    static func payloadWords(_ p: AuditPayloads) -> String {
        switch p {
        case .none: return "none: method, id, tool name and argument keys only, no values"
        case .redacted: return "redacted: params and results, with values under secret-looking keys and secret-looking strings masked"
        case .full: return "full: params and results as sent (secrets included)"
        }
    }
}

extension ProfileFileReader {
    /// `[audit]`: log (path or boolean), payloads, required, max_size, keep.
    mutating func readAudit(_ t: TOMLTable) {
        for e in t.entries {
            switch e.key {
            case "log":
                if case .bool(let b) = e.value.kind {
                    layer.auditLog = Sourced(b ? .defaultPath : .off, file: file, line: e.value.line, key: "audit.log")
                    continue
                }
                guard case .string = e.value.kind else { typeError(e, "audit.log", expected: "a path or a boolean"); continue }
                guard let l = string(e, "audit.log", expand: true) else { continue }
                if let n = Paths.normalize(l.value), l.value.isAbsolutePath, n != "/" {
                    layer.auditLog = Sourced(.path(n), file: file, line: l.line, key: "audit.log")
                } else {
                    sink.add(l.diagnostic("path \"\(l.value)\" must be absolute and free of `..`", hint: Paths.absoluteHint(l.value)))
                }
            case "payloads": layer.auditPayloads = enumValue(e, "audit.payloads", AuditPayloads.self)
            case "required": layer.auditRequired = bool(e, "audit.required")
            case "max_size": layer.auditMaxSize = size(e, "audit.max_size")
            case "keep":
                guard case .integer(let v) = e.value.kind else { typeError(e, "audit.keep", expected: "an integer"); continue }
                guard v >= 0, UInt64(v) <= AuditPlan.maxKeep else {
                    sink.add(diag(e.value.line, "audit.keep", "must be from 0 to \(AuditPlan.maxKeep), found \(v)",
                                  hint: "the number of rotated files kept (0: none, the log restarts when full)"))
                    continue
                }
                layer.auditKeep = Sourced(UInt64(v), file: file, line: e.value.line, key: "audit.keep")
            default: unknownKey(e, table: "audit")
            }
        }
    }
}
