import MCPBoxNetwork
import MCPBoxProtocol

/// Renders a `SandboxPlan` as the text that `explain` and `run --dry-run` print.
public enum Explain {
    /// One row of the filesystem table.
    public struct MountRow: Sendable, Equatable {
        public var path: String
        /// Host path for binds; nil for everything mcpbox creates.
        public var source: String?
        /// ro, rw, tmpfs, hidden, proc, dev, file, symlink (then `source` is the link's text).
        public var mode: String
        public var sizeBytes: UInt64?
        public var origin: String
    }

    /// The caller's supplementary groups the server keeps in caller-remap mode, as explain says it.
    public static func keptGroupsText(_ plan: SandboxPlan) -> String {
        guard !plan.keptGroups.isEmpty else { return "(none): you have no supplementary groups" }
        return plan.keptGroups.map { g in plan.keptGroupNames[g].map { "\(g) (\($0))" } ?? "\(g)" }.joined(separator: ", ")
            + ": your supplementary groups stay with the server (setgroups is denied in its user namespace; inside they show as 65534); "
            + "the host grants it what they grant you"
    }

    public static func rows(_ plan: SandboxPlan) -> [MountRow] {
        plan.mounts.map { m in
            switch m.kind {
            case .bind(let source, let ro): MountRow(path: m.target, source: source, mode: ro ? "ro" : "rw", sizeBytes: nil, origin: m.origin)
            case .tmpfs(let size): MountRow(path: m.target, source: nil, mode: "tmpfs", sizeBytes: size, origin: m.origin)
            case .proc: MountRow(path: m.target, source: nil, mode: "proc", sizeBytes: nil, origin: m.origin)
            // The size is that of its private /dev/shm (tmpfs_size, as launched).
            case .dev: MountRow(path: m.target, source: nil, mode: "dev", sizeBytes: plan.limits.tmpfsSizeBytes, origin: m.origin)
            case .file(let c): MountRow(path: m.target, source: nil, mode: "file", sizeBytes: UInt64(c.utf8.count), origin: m.origin)
            case .hide: MountRow(path: m.target, source: nil, mode: "hidden", sizeBytes: nil, origin: m.origin)
            case .symlink(let link): MountRow(path: m.target, source: link, mode: "symlink", sizeBytes: nil, origin: m.origin)
            }
        }
    }

    /// The identity mechanism in plain words.
    public static func mechanismText(_ id: Identity) -> String {
        switch id.mechanism {
        case .rootAccount:
            "mcpbox was started by root; the server runs as the dedicated account `\(id.userName)`: the host sees uid \(id.hostUid)"
        case .rootNobody:
            "mcpbox was started by root without [user]; the server runs as the shared `nobody` account: the host sees uid \(id.hostUid)"
        case .subordinate:
            "your subordinate id range maps the account `\(id.userName)` (newuidmap/newgidmap): the host sees uid \(id.hostUid), a different user than you"
        case .callerRemap:
            "your own uid remapped in a user namespace: the host sees the server as you (uid \(id.hostUid)), so it can touch what you can within its filesystem view"
        }
    }

    public static func networkText(_ mode: NetworkMode) -> String {
        switch mode {
        case .none: "none: own network namespace, loopback only; nothing outside the sandbox is reachable"
        case .host: "host: the host's network is shared (no network namespace)"
        case .allow: "allow: only the allowed hosts, through mcpbox's proxy; own network namespace, no route out"
        }
    }

    /// `networkText`, with the allow-mode summary when the plan has one.
    public static func networkText(_ plan: SandboxPlan) -> String {
        plan.egress.map(EgressPlanner.summary) ?? networkText(plan.network)
    }

    /// The ports a rule covers, as explain shows them.
    static func ports(_ r: EgressRule) -> String {
        r.effectivePorts.map(String.init).joined(separator: ",")
    }

    public static func presetText(_ p: SeccompPolicy.Preset) -> String {
        switch p {
        case .default: "default (allow-list)"
        case .permissive: "permissive (deny-list of dangerous syscalls only)"
        }
    }

    public static func actionText(_ a: SeccompPolicy.DefaultAction) -> String {
        switch a {
        case .errno: "errno (refused with EPERM)"
        case .kill: "kill (the process is killed)"
        case .log: "log (allowed and logged)"
        }
    }

    /// What the sandbox's `/` is: an empty read-only tmpfs, or a bind of the host's `/`.
    public static func rootText(_ plan: SandboxPlan) -> String {
        guard let m = plan.mounts.first(where: { $0.target == "/" }), case .bind(_, let ro) = m.kind else {
            return "an empty read-only tmpfs; only these paths exist"
        }
        return "the host's / bound \(ro ? "read-only" : "read-write"); the entries below are mounted over it"
    }

    /// `filesystem.root` of explain --json: "tmpfs-readonly", "bind-readonly" or "bind-readwrite".
    public static func rootKind(_ plan: SandboxPlan) -> String {
        guard let m = plan.mounts.first(where: { $0.target == "/" }), case .bind(_, let ro) = m.kind else { return "tmpfs-readonly" }
        return ro ? "bind-readonly" : "bind-readwrite"
    }

    /// Capability sets shown by explain: all empty.
    public static let capabilitySets = ["bounding", "effective", "permitted", "inheritable", "ambient"]

    /// `s` with every control character (C0, DEL, C1) and bidirectional override escaped
    /// (`\n`, `\t`, `\x1b`, `\u{202e}`), so a path cannot forge lines or drive the terminal.
    /// Idempotent: an escaped string has none left.
    /// How to fix a command that is not found inside the sandbox.
    public static func notFoundHint(_ program: String) -> String {
        guard program.isAbsolutePath else { return "bind the directory that holds it, or give an absolute path" }
        if HostFS.exists(program) {
            return "it exists on the host but is not bound: add it or its directory to filesystem.read_only, or set filesystem.bind_command = true"
        }
        return "it does not exist on the host either"
    }

    public static func visible(_ s: String) -> String {
        // Printable ASCII (nearly every line) needs no look at its scalars.
        var bytes = s
        if bytes.withUTF8({ !$0.contains { $0 < 0x20 || $0 >= 0x7F } }) { return s }
        guard s.unicodeScalars.contains(where: needsEscape) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            guard needsEscape(u) else { out.unicodeScalars.append(u); continue }
            switch u {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                let hex = String(u.value, radix: 16)
                out += u.value < 0x100 ? "\\x" + (hex.count < 2 ? "0" : "") + hex : "\\u{" + hex + "}"
            }
        }
        return out
    }

    static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        if v < 0x20 || (0x7F...0x9F).contains(v) { return true }
        return v >= 0xA0 && JSON.isInvisible(v)
    }

    /// Quotes an argument for display when it is not a plain word.
    public static func quote(_ s: String) -> String {
        let safe = s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0)) }
        if safe && !s.isEmpty { return s }
        return "'" + s.replacingAll("'", with: "'\\''") + "'"
    }

    public static func limitLines(_ l: Limits) -> [(String, String)] {
        [
            ("memory", l.optionalMemory.map { o in
                o.applied ? "\(Units.formatSize(o.bytes)) (optional \"?\": applied, \(o.reason))"
                    : "unlimited (optional \"?\(Units.formatSize(o.bytes))\" not applied: \(o.reason))"
            } ?? l.memoryBytes.map(Units.formatSize) ?? "unlimited"),
            ("processes", l.processes.map { "\($0) (RLIMIT_NPROC: every task in the sandbox, threads and mcpbox's pid 1 included)" } ?? "unlimited"),
            ("open_files", "\(l.openFiles) (RLIMIT_NOFILE)"),
            ("cpu", l.cpu.map { "\(formatNumber($0)) cores" } ?? "unlimited"),
            ("wall_time", l.wallTimeSeconds == 0 ? "unlimited" : Units.formatDuration(l.wallTimeSeconds)),
            ("tmpfs_size", "\(Units.formatSize(l.tmpfsSizeBytes)) each, and at most \(Limits.tmpfsInodes(l.tmpfsSizeBytes)) files and directories each (one per KiB, at least 4096)"),
            ("shutdown_grace", Units.formatDuration(l.shutdownGraceSeconds)),
            ("inotify", l.inotifyInstances.map { "\($0) instances, \(l.inotifyWatches.map { String($0) } ?? "the host's") watches "
                + "(1/\(PlanBuilder.inotifyShare) of the host user's budget)" } ?? "the host's per-user budget"),
        ]
    }

    static func formatNumber(_ d: Double) -> String {
        if d == d.rounded() && abs(d) < 1e15 { return String(Int64(d)) }
        return String(d)
    }

    static func pad(_ s: String, _ width: Int) -> String {
        let count = Paths.isASCII(s) ? s.utf8.count : s.count
        guard count < width else { return s }
        // One append of the whole run of spaces (each `append` pays a grapheme-boundary check).
        return s + spaces(width - count)
    }

    /// `n` spaces, written in place (`String(repeating:count:)` costs thousands of instructions a call).
    static func spaces(_ n: Int) -> String {
        String(unsafeUninitializedCapacity: n) { buf in
            buf.initialize(repeating: UInt8(ascii: " "))
            return n
        }
    }

    /// The TOOLS section's rows: the MCP layer's tool and prompt policy.
    static func mcpLines(_ mcp: MCPPlan?) -> [(String, String)] {
        guard let mcp else {
            return [("layer", "off: no [tools], [prompts], [resources] or [client] key; the relay moves bytes without reading them (every tool, prompt and resource reaches the client)")]
        }
        var out: [(String, String)] = [("layer", "on: newline-delimited JSON-RPC framed in both directions; a message over \(Units.formatSize(UInt64(mcp.policy.maxMessage))) ends the session")]
        out.append(("forwarding", "the client's bytes are read once to be judged and, where both ends are pipes, move on by reference; the server's are judged and sent from mcpbox's copy (pages the server put in its pipe could still change, or be read back out, after the verdict)"))
        func rules(_ kind: String, _ noun: String, _ allow: [NameRule]?, _ deny: [NameRule], method: String,
                   lists: String? = nil, code: Int = -32602) {
            guard allow != nil || !deny.isEmpty else {
                out.append((kind, "every \(noun) (no [\(kind)] allow or deny)"))
                return
            }
            if let allow {
                if allow.isEmpty { out.append(("\(kind) allow", "(empty: no \(noun) at all)")) }
                for r in allow { out.append(("\(kind) allow", "\(quote(r.pattern))  \(r.origin)")) }
            } else {
                out.append(("\(kind) allow", "(absent: every \(noun) not denied)"))
            }
            for r in deny { out.append(("\(kind) deny", "\(quote(r.pattern))  \(r.origin)")) }
            out.append(("\(kind) effect", "hidden from \(lists ?? kind + "/list") (every page); \(method) for a hidden \(noun) answered by mcpbox with \(code), never forwarded (deny wins; a \(noun) with a NUL character is never exposed)"))
        }
        rules("tools", "tool", mcp.toolsAllow, mcp.toolsDeny, method: "tools/call")
        rules("prompts", "prompt", mcp.promptsAllow, mcp.promptsDeny, method: "prompts/get")
        rules("resources", "resource URI", mcp.resourcesAllow, mcp.resourcesDeny, method: "resources/read (and subscribe)",
              lists: "resources/list and resources/templates/list", code: -32002)
        out += pinLines(mcp)
        if let confirm = mcp.toolsConfirm {
            for r in confirm { out.append(("confirm", "\(quote(r.pattern))  \(r.origin)")) }
            out.append(("confirm effect", confirm.isEmpty ? "(empty: no tool needs confirmation)"
                : "a matching tools/call waits for the user's answer, asked by mcpbox through the client's elicitation (form); forwarded only on accept; decline, cancel, an error or a client without elicitation → a tool error (isError) from mcpbox; under protocol 2026-07-28 the question is an input-required result and the answer comes in the client's retry"))
            if !confirm.isEmpty {
                let t = mcp.policy.confirmTimeout
                let seconds = t == t.rounded() ? String(Int(t)) : String(t)
                out.append(("confirm timeout", "\(seconds) s\(mcp.confirmTimeoutOrigin.map { "  " + $0 } ?? " (default)"): "
                            + "unanswered by then, the question is withdrawn (notifications/cancelled) and the call refused with a tool error; a late answer is ignored"))
            }
        }
        return out
    }

    /// The TOOLS section's pinning rows.
    static func pinLines(_ mcp: MCPPlan) -> [(String, String)] {
        guard let pin = mcp.policy.pins else {
            return [("pin", "off\(mcp.pinOrigin.map { "  " + $0 } ?? " (no [tools] pin key)"): tool definitions are not checked")]
        }
        let effect = pin.mode == .block
            ? "a new, changed or duplicate tool definition is hidden from tools/list (every page) and its tools/call refused with -32602 until approved; unapproved instructions are removed from the initialize (or server/discover) result"
            : "a new, changed or duplicate tool definition, or changed instructions, pass with a warning on stderr"
        return [("pin", "\(pin.mode.rawValue)  \(mcp.pinOrigin ?? "")"),
                ("pin effect", effect),
                ("pin first use", pin.firstUse
                    ? "true  \(mcp.pinFirstUseOrigin ?? ""): with no pin file yet, the first session's definitions are approved as seen"
                    : "false: nothing is approved until `mcpbox tools approve \(visible(pin.profile))`"),
                ("pin file", "\(visible(pin.path)) (SHA-256 of each definition's RFC 8785 canonical JSON; outside the sandbox)")]
    }

    /// The CLIENT section's rows: `[client]` gating, one row per feature.
    static func clientLines(_ mcp: MCPPlan?) -> [(String, String)] {
        let features = [("sampling", "sampling/createMessage: the client's model"),
                        ("elicitation", "elicitation/create: questions to the user"),
                        ("roots", "roots/list: the client's roots")]
        return features.map { name, what in
            guard let key = mcp?.clientKeys.first(where: { $0.name == name }) else {
                return (name, "allowed (default): \(what), as far as the client declares it")
            }
            if key.formOnly {
                return (name, "FORM ONLY: URL mode removed from the client's declared capabilities (initialize and 2026-07-28 per-request _meta) "
                        + "and from input-required results; the server's elicitation/create with mode \"url\" is answered by mcpbox with -32602 "
                        + "and never reaches the client; form mode allowed, as far as the client declares it  (\(key.origin))")
            }
            if key.allowed { return (name, "allowed: \(what), as far as the client declares it  (\(key.origin))") }
            return (name, "DENIED: removed from the client's declared capabilities; the server's \(what.split(separator: ":")[0]) is answered "
                    + "by mcpbox with -32601 and never reaches the client; under 2026-07-28 also removed from per-request _meta capabilities "
                    + "and from input-required results  (\(key.origin))")
        }
    }

    /// The complete text, deterministic for a given plan.
    /// The text as it is built: every line made `visible` and ended with a newline, its bytes
    /// appended to one buffer (`String.append` checks grapheme boundaries at every join; the
    /// bytes are decoded once at the end).
    struct Text {
        var bytes: [UInt8] = []
        init() { bytes.reserveCapacity(16384) }
        var text: String { String(decoding: bytes, as: UTF8.self) }
        mutating func append(_ line: String) {
            bytes.append(contentsOf: visible(line).utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
        mutating func append(contentsOf lines: [String]) { for l in lines { append(l) } }
        /// `  KEY` padded to `width` (at least two spaces after it), then `value`.
        mutating func row(_ key: String, _ value: String, width: Int) {
            let count = Paths.isASCII(key) ? key.utf8.count : key.count
            bytes.append(contentsOf: "  ".utf8)
            bytes.append(contentsOf: visible(key).utf8)
            bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: max(width, count + 2) - count))
            bytes.append(contentsOf: visible(value).utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
    }

    public static func text(_ plan: SandboxPlan) -> String {
        var out = Text()
        func kv(_ k: String, _ v: String, width: Int = 16) { out.row(k, v, width: width) }
        out.append("mcpbox plan for profile `\(plan.profileName)`")
        kv("files", plan.profileFiles.map(Paths.basename).joined(separator: " → "))
        for f in plan.profileFiles { kv("", f) }
        if let d = plan.description { kv("description", d) }

        out.append("")
        out.append("COMMAND")
        kv("argv", plan.argv.isEmpty ? "(none: give one after `--` or set `command`)" : plan.argv.map(quote).joined(separator: " "))
        if !plan.argv.isEmpty {
            kv("executable", plan.executable ?? "NOT FOUND inside the sandbox (run would exit 127; \(notFoundHint(plan.argv[0])))")
            if let p = plan.execProblem {
                kv("exec", "FAILS: \(p.message) (run would exit \(p.exitStatus); \(p.hint))")
            }
        }
        kv("cwd", plan.cwd)
        kv("hostname", plan.hostname)

        let id = plan.identity
        out.append("")
        out.append("IDENTITY")
        kv("mechanism", "\(id.mechanism.rawValue): \(mechanismText(id))")
        kv("inside", "uid \(id.insideUid) (\(id.userName)), gid \(id.insideGid) (\(id.groupName))")
        kv("host", "uid \(id.hostUid), gid \(id.hostGid)")
        kv("started by", "uid \(id.callerUid), gid \(id.callerGid)")
        kv("home", id.home)
        if id.mechanism == .callerRemap { kv("groups kept", keptGroupsText(plan)) }

        out.append("")
        out.append("NAMESPACES")
        let missing = Namespace.allCases.filter { !plan.namespaces.contains($0) }
        kv("new", plan.namespaces.map(\.rawValue).joined(separator: " "))
        if !missing.isEmpty { kv("shared", missing.map(\.rawValue).joined(separator: " ") + " (with the host)") }

        out.append("")
        out.append("FILESYSTEM (root: \(rootText(plan)))")
        let rows = rows(plan)
        let header = MountRow(path: "PATH", source: "SOURCE", mode: "MODE", sizeBytes: nil, origin: "ORIGIN")
        let cells = ([header] + rows).enumerated().map { (i, r) -> [String] in
            [r.path, r.source ?? "-", r.mode, i == 0 ? "SIZE" : (r.sizeBytes.map(Units.formatSize) ?? "-"), r.origin].map(visible)
        }
        var widths = [Int](repeating: 0, count: 4)
        for c in cells { for i in 0..<4 { widths[i] = max(widths[i], c[i].count) } }
        for c in cells {
            out.append("  " + (0..<4).map { pad(c[$0], widths[$0] + 2) }.joined() + c[4])
        }
        for c in plan.carriedMounts {
            guard case .bind(let source, let ro) = c.kind else { continue }
            kv("carried", visible("\(c.target) \(ro ? "ro" : "rw"): a host mount inside a bind (binds are recursive)\(Paths.same(source, c.target) ? "" : ", showing \(source)")"))
        }
        let absent = plan.skippedOptional.filter { $0.isAbsolutePath }
        let notHere = plan.skippedOptional.filter { !$0.isAbsolutePath }
        if !absent.isEmpty { kv("skipped", "optional paths absent on this host: " + absent.joined(separator: ", ")) }
        if !notHere.isEmpty {
            kv("skipped", "optional paths with a variable undefined here (${CALLER_HOME} is undefined when root starts mcpbox): "
                + notHere.joined(separator: ", "))
        }
        for g in plan.gitProtected {
            kv("git", "\(g): configuration, hooks, info, modules, worktrees and object alternates read-only (host git would run what they name)")
        }
        for h in plan.hgProtected {
            kv("hg", "\(h): hgrc, hgrc-not-shared and sharedpath read-only where present, with what they name inside a read-write bind (host hg would run its hooks and extensions)")
        }
        for w in plan.gitWatched {
            kv("git watch", "\(w) must not appear: run moves it aside if the server creates it")
        }
        for t in plan.gitTrees {
            kv("git watch", "new `.git` and `.hg` entries and git directories under \(t.root) (nested and bare repositories, submodules) are moved aside after the session")
        }
        if !plan.gitWatched.isEmpty || !plan.gitTrees.isEmpty {
            kv("git guard", "run starts a guard process (same user, own session) that does this sweep if mcpbox is killed first, "
                + "logging to \(SweepGuard.logPath() ?? "(no home directory: run refuses)")")
        }
        for a in plan.accepted { kv("accepted", "\(a.path): \(a.reason) (\(a.origin))") }

        out.append("")
        out.append("NETWORK")
        kv("mode", networkText(plan))
        if let e = plan.egress {
            if e.policy.allow.isEmpty { kv("allow", "(empty: nothing is reachable)") }
            for r in e.policy.allow { kv("allow", "\(r.text)  ports \(ports(r))  \(visible(r.origin))") }
            for r in e.policy.deny { kv("deny", "\(r.text)  \(r.everyPort ? "every port" : "ports \(ports(r))")  \(visible(r.origin))") }
            for h in e.hosts { kv("hosts", "\(h.name) = \(h.addresses.map(\.description).joined(separator: ", "))  \(visible(h.origin))") }
            kv("refused", "every address in these classes unless an allow rule names it: "
               + IPAddress.Restricted.allCases.map { "\($0.rawValue) (\($0.ranges.joined(separator: " ")))" }.joined(separator: ", ")
               + "; IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) addresses are judged by the IPv4 address they carry"
               + "; so is every address this host routes to itself (its own interfaces' and its local routes', looked up at each connection)")
            for x in e.explicitlyAllowed {
                kv("explicitly", "\(x.rule.text) allowed although \(x.classes.map(\.rawValue).joined(separator: "/"))  \(x.rule.origin)")
            }
            kv("proxy", "\(e.proxyURL) inside the sandbox (HTTP CONNECT and absolute-URI requests; TLS server name must match)")
            let connections = EgressProxy.maxConnections(memoryLimit: plan.limits.memoryBytes)
            kv("connections", "at most \(connections) at once (more get 503); their buffers in mcpbox, outside the sandbox's memory limit, "
               + "hold at most \(Units.formatSize(EgressProxy.tunnelBufferBound)) each, \(Units.formatSize(UInt64(connections) * EgressProxy.tunnelBufferBound)) in all"
               + (plan.limits.memoryBytes == nil ? "" : " (fewer connections for a smaller memory limit)"))
            kv("dns", "127.0.0.1:53 (UDP and TCP) answers allowed names with addresses in "
               + (plan.isolation.runtime == .gvisor ? FakeAddresses.loopback() : FakeAddresses()).range + " (at most \(FakeAddresses.maxNames) names a session, SERVFAIL past them), REFUSED otherwise; nothing is forwarded")
            kv("capture", e.policy.capturePorts.isEmpty ? "(no ports)" : "connect() to those addresses on ports \(e.policy.capturePorts.map(String.init).joined(separator: ",")) goes through the same checks")
            kv("variables", e.variables.joined(separator: " "))
            kv("log", e.policy.logPath.map { visible($0) + " (rotated at \(Units.formatSize(EgressPlanner.logRotation.maxSize)), keeping \(EgressPlanner.logRotation.keep) rotated files)" }
                ?? "none (run --verbose: stderr)")
        }

        if !plan.packages.isEmpty {
            out.append("")
            out.append("PACKAGES (per-profile download caches; see [packages])")
            for c in plan.packages {
                kv(c.manager.rawValue, "cache \(visible(c.directory)) read-write, this profile only (owner uid \(plan.identity.hostUid), mode 0700)")
                kv("registry", "\(visible(c.registry)) (\(visible(c.registryOrigin)))"
                   + (c.hosts.isEmpty ? (plan.network == .allow ? "" : "; not reachable: network.mode is \"\(plan.network.rawValue)\"") : "; allowed: " + c.hosts.joined(separator: " ")))
                kv("offline", (c.offline ? "yes: " : "no: ") + visible(c.offlineReason))
                kv("variables", c.variables.joined(separator: " "))
            }
        }

        out.append("")
        out.append("TOOLS")
        for line in mcpLines(plan.mcp) { kv(line.0, line.1) }

        out.append("")
        out.append("CLIENT (what the server may ask of the client)")
        for line in clientLines(plan.mcp) { kv(line.0, line.1) }

        out.append("")
        out.append("AUDIT")
        for line in AuditPlan.explainLines(plan.audit) { kv(line.0, visible(line.1)) }

        let s = Seccomp.summary(plan.seccomp)
        out.append("")
        out.append("SECCOMP")
        kv("preset", presetText(plan.seccomp.preset))
        kv("default action", actionText(plan.seccomp.defaultAction))
        kv("allowed", "\(s.allowedCount) system calls")
        kv("added", s.added.isEmpty ? "(none)" : s.added.joined(separator: " "))
        kv("removed", s.removed.isEmpty ? "(none)" : s.removed.joined(separator: " "))
        for n in s.notes { kv("note", n) }

        out.append("")
        out.append(contentsOf: landlockSection(plan.landlock))

        out.append("")
        out.append("CAPABILITIES")
        for set in capabilitySets { kv(set, "(none)") }
        kv("no_new_privs", "yes")
        kv("securebits", "locked")

        out.append("")
        out.append("ENVIRONMENT (names only)")
        let nameWidth = plan.environment.map { $0.name.count + 2 }.max() ?? 0
        for e in plan.environment { kv(e.name, e.origin, width: nameWidth) }

        out.append("")
        out.append("LIMITS")
        for (k, v) in limitLines(plan.limits) { kv(k, v) }

        out.append("")
        out.append("WARNINGS")
        if plan.warnings.isEmpty && plan.acknowledged.isEmpty { out.append("  (none)") }
        for w in plan.warnings { out.append("  ! " + w) }
        for a in plan.acknowledged { out.append("  acknowledged: \(a.warning) [\(a.origin)]") }
        return out.text
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: target) {
            out.append(contentsOf: rest[..<r.lowerBound])
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

extension Substring {
    func range(of target: String) -> Range<Index>? {
        let t = Array(target)
        guard !t.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i] == t[0] {
                var j = i
                var k = 0
                while k < t.count, j < endIndex, self[j] == t[k] { j = index(after: j); k += 1 }
                if k == t.count { return i..<j }
            }
            i = index(after: i)
        }
        return nil
    }
}
