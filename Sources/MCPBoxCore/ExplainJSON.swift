import MCPBoxEvents
import MCPBoxProtocol
import MCPBoxNetwork

/// Renders a `SandboxPlan` as `explain --json` (schema 1, documented in the README).
///
/// Written by hand, without Foundation; keys in a fixed order so output is deterministic.
public enum ExplainJSON {
    /// A JSON string literal (the event log's quoting: one JSON writer for every output).
    public static func string(_ s: String) -> String { Event.quote(s) }

    static func strings(_ a: [String]) -> String { "[" + a.map(string).joined(separator: ", ") + "]" }

    static func number(_ d: Double) -> String {
        if d == d.rounded() && abs(d) < 1e15 { return String(Int64(d)) }
        return String(d)
    }

    static func optional<T>(_ v: T?, _ f: (T) -> String) -> String { v.map(f) ?? "null" }

    /// A small pretty-printing writer (2-space indent).
    struct Writer {
        var out = ""
        var indent = 0
        var first = [true]

        mutating func separator() {
            if !first[first.count - 1] { out += "," }
            first[first.count - 1] = false
            out += "\n" + String(repeating: "  ", count: indent)
        }
        mutating func open(_ key: String?, _ bracket: String) {
            separator()
            if let key { out += string(key) + ": " }
            out += bracket
            indent += 1
            first.append(true)
        }
        mutating func close(_ bracket: String) {
            indent -= 1
            let empty = first.removeLast()
            if !empty { out += "\n" + String(repeating: "  ", count: indent) }
            out += bracket
        }
        mutating func field(_ key: String, _ raw: String) {
            separator()
            out += string(key) + ": " + raw
        }
        mutating func element(_ raw: String) {
            separator()
            out += raw
        }
    }

    /// `runtime`: the `runtime` value as raw JSON (the CLI adds gVisor's report); nil = name
    /// and origin only.
    public static func render(_ plan: SandboxPlan, runtime: String? = nil) -> String {
        var w = Writer()
        w.out = "{"
        w.indent = 1
        w.field("schema", "1")
        w.field("mcpbox_version", string(MCPBoxVersion.current))

        w.open("profile", "{")
        w.field("name", string(plan.profileName))
        w.field("files", strings(plan.profileFiles))
        w.field("description", optional(plan.description, string))
        w.close("}")

        w.open("command", "{")
        w.field("argv", strings(plan.argv))
        w.field("executable", optional(plan.executable, string))
        w.field("exec_problem", optional(plan.execProblem) { p in
            "{\"exit_status\": \(p.exitStatus), \"message\": \(string(p.message)), \"hint\": \(string(p.hint))}"
        })
        w.field("cwd", string(plan.cwd))
        w.field("hostname", string(plan.hostname))
        w.close("}")

        let id = plan.identity
        w.open("identity", "{")
        w.field("mechanism", string(id.mechanism.rawValue))
        w.field("explanation", string(Explain.mechanismText(id)))
        w.field("user", string(id.userName))
        w.field("group", string(id.groupName))
        w.field("inside", "{\"uid\": \(id.insideUid), \"gid\": \(id.insideGid)}")
        w.field("host", "{\"uid\": \(id.hostUid), \"gid\": \(id.hostGid)}")
        w.field("caller", "{\"uid\": \(id.callerUid), \"gid\": \(id.callerGid)}")
        w.field("home", string(id.home))
        w.field("supplementary_groups", "[" + plan.keptGroups.map { String($0) }.joined(separator: ", ") + "]")
        w.close("}")

        w.field("namespaces", strings(plan.namespaces.map(\.rawValue)))

        w.open("filesystem", "{")
        w.field("root", string(Explain.rootKind(plan)))
        w.open("mounts", "[")
        for r in Explain.rows(plan) {
            w.element("{\"path\": \(string(r.path)), \"source\": \(optional(r.source, string)), \"mode\": \(string(r.mode)), "
                      + "\"size_bytes\": \(optional(r.sizeBytes) { String($0) }), \"origin\": \(string(r.origin))}")
        }
        w.close("]")
        w.field("carried", "[" + plan.carriedMounts.compactMap { c -> String? in
            guard case .bind(let source, let ro) = c.kind else { return nil }
            return "{\"path\": \(string(c.target)), \"shows\": \(string(source)), \"mode\": \(string(ro ? "ro" : "rw"))}"
        }.joined(separator: ", ") + "]")
        w.field("skipped_optional", strings(plan.skippedOptional))
        w.field("git_protected", strings(plan.gitProtected))
        w.field("git_watched", strings(plan.gitWatched))
        w.field("hg_protected", strings(plan.hgProtected))
        w.field("git_watched_trees", strings(plan.gitTrees.map(\.root)))
        w.field("accepted", "[" + plan.accepted.map {
            "{\"path\": \(string($0.path)), \"reason\": \(string($0.reason)), \"origin\": \(string($0.origin))}"
        }.joined(separator: ", ") + "]")
        w.close("}")

        w.open("network", "{")
        w.field("mode", string(plan.network.rawValue))
        w.field("explanation", string(Explain.networkText(plan)))
        if let e = plan.egress {
            func rules(_ name: String, _ list: [EgressRule]) {
                w.open(name, "[")
                for r in list {
                    // A deny rule without a port: `ports` empty and `every_port` true.
                    let ports = r.everyPort ? "" : r.effectivePorts.map(String.init).joined(separator: ", ")
                    w.element("{\"rule\": \(string(r.text)), \"ports\": [\(ports)], \"every_port\": \(r.everyPort), \"origin\": \(string(r.origin))}")
                }
                w.close("]")
            }
            rules("allow", e.policy.allow)
            rules("deny", e.policy.deny)
            w.open("hosts", "[")
            for h in e.hosts {
                w.element("{\"name\": \(string(h.name)), \"addresses\": \(strings(h.addresses.map(\.description))), \"origin\": \(string(h.origin))}")
            }
            w.close("]")
            w.open("refused_classes", "[")
            for c in IPAddress.Restricted.allCases {
                w.element("{\"class\": \(string(c.rawValue)), \"ranges\": \(strings(c.ranges))}")
            }
            w.close("]")
            w.field("judged_by_ipv4", strings(["::ffff:0:0/96", "64:ff9b::/96"]))
            w.field("explicitly_allowed", strings(e.explicitlyAllowed.map(\.rule.text)))
            w.field("proxy", string(e.proxyURL))
            w.field("proxy_variables", strings(e.variables))
            w.field("dns", string("127.0.0.1:53"))
            w.field("capture_ports", "[" + e.policy.capturePorts.map(String.init).joined(separator: ", ") + "]")
            w.field("log", optional(e.policy.logPath, string))
        }
        w.close("}")

        w.open("packages", "[")
        for c in plan.packages {
            w.element("{\"manager\": \(string(c.manager.rawValue)), \"cache\": \(string(c.directory)), \"registry\": \(string(c.registry)), "
                + "\"registry_origin\": \(string(c.registryOrigin)), \"hosts\": \(strings(c.hosts)), \"offline\": \(c.offline), "
                + "\"offline_reason\": \(string(c.offlineReason)), \"variables\": \(strings(c.variables))}")
        }
        w.close("]")

        w.open("tools", "{")
        w.field("layer", plan.mcp == nil ? "false" : "true")
        if let mcp = plan.mcp {
            w.field("max_message_bytes", String(mcp.policy.maxMessage))
            func rules(_ l: [NameRule]) -> String {
                "[" + l.map { "{\"pattern\": \(string($0.pattern)), \"origin\": \(string($0.origin))}" }.joined(separator: ", ") + "]"
            }
            w.field("tools_allow", mcp.toolsAllow.map(rules) ?? "null")
            w.field("tools_deny", rules(mcp.toolsDeny))
            w.field("prompts_allow", mcp.promptsAllow.map(rules) ?? "null")
            w.field("prompts_deny", rules(mcp.promptsDeny))
            w.field("pin", mcp.policy.pins.map {
                "{\"mode\": \(string($0.mode.rawValue)), \"first_use\": \($0.firstUse), \"file\": \(string($0.path)), \"origin\": \(optional(mcp.pinOrigin, string))}"
            } ?? "null")
            w.field("confirm", mcp.toolsConfirm.map(rules) ?? "null")
            w.field("confirm_timeout", "{\"seconds\": \(mcp.policy.confirmTimeout), \"origin\": \(optional(mcp.confirmTimeoutOrigin, string))}")
            w.field("resources_allow", mcp.resourcesAllow.map(rules) ?? "null")
            w.field("resources_deny", rules(mcp.resourcesDeny))
        }
        w.close("}")

        w.open("client", "{")
        for name in ["sampling", "elicitation", "roots"] {
            let key = plan.mcp?.clientKeys.first { $0.name == name }
            let modes = name != "elicitation" ? "" : key?.allowed == false ? ", \"modes\": []"
                : key?.formOnly == true ? ", \"modes\": [\"form\"]" : ", \"modes\": [\"form\", \"url\"]"
            w.field(name, "{\"allowed\": \(key?.allowed ?? true), \"origin\": \(optional(key?.origin, string))\(modes)}")
        }
        w.close("}")

        w.open("audit", "{")
        w.field("enabled", plan.audit == nil ? "false" : "true")
        if let a = plan.audit {
            w.field("log", string(a.path))
            w.field("payloads", string(a.payloads.rawValue))
            w.field("required", a.required ? "true" : "false")
            w.field("max_size_bytes", String(a.rotation.maxSize))
            w.field("keep", String(a.rotation.keep))
            // What the server alone sends: records up to this many bytes per session, then counted.
            w.field("server_budget_bytes", String(AuditTrail.serverBudget(maxSize: a.rotation.maxSize)))
            w.field("chain", string("sha256 of the previous line (prev); genesis 64 zeros"))
            w.field("profile_hash_of", string("profile files"))
        }
        w.close("}")

        let s = Seccomp.summary(plan.seccomp)
        w.open("seccomp", "{")
        w.field("preset", string(plan.seccomp.preset.rawValue))
        w.field("default_action", string(plan.seccomp.defaultAction.rawValue))
        w.field("allowed_count", String(s.allowedCount))
        w.field("added", strings(s.added))
        w.field("removed", strings(s.removed))
        w.field("notes", strings(s.notes))
        w.close("}")

        landlock(plan.landlock, &w)

        w.open("capabilities", "{")
        for set in Explain.capabilitySets { w.field(set, "[]") }
        w.field("no_new_privs", "true")
        w.field("securebits_locked", "true")
        w.close("}")

        w.field("environment", strings(plan.environment.map(\.name)))

        let l = plan.limits
        w.open("limits", "{")
        w.field("memory_bytes", optional(l.memoryBytes) { String($0) })
        if let o = l.optionalMemory {
            w.field("memory_optional", "{\"bytes\": \(o.bytes), \"applied\": \(o.applied), \"reason\": \(string(o.reason))}")
        }
        w.field("processes", optional(l.processes) { String($0) })
        w.field("open_files", String(l.openFiles))
        w.field("cpu", optional(l.cpu, number))
        w.field("wall_time_seconds", number(l.wallTimeSeconds))
        w.field("tmpfs_size_bytes", String(l.tmpfsSizeBytes))
        w.field("shutdown_grace_seconds", number(l.shutdownGraceSeconds))
        w.field("inotify_instances", optional(l.inotifyInstances) { String($0) })
        w.field("inotify_watches", optional(l.inotifyWatches) { String($0) })
        w.close("}")

        w.field("warnings", strings(plan.warnings))
        w.field("acknowledged_warnings", "[" + plan.acknowledged.map {
            "{\"warning\": \(string($0.warning)), \"origin\": \(string($0.origin))}"
        }.joined(separator: ", ") + "]")
        w.field("runtime", runtime ?? "{\"name\": \(string(plan.isolation.runtime.rawValue)), \"origin\": \(string(plan.isolation.origin))}")
        w.indent = 0
        w.out += "\n}\n"
        return w.out
    }
}
