import MCPBoxNetwork
import MCPBoxProtocol

/// A value from a profile with the file and line it came from.
///
/// Equatable only where `T` is (a conditional conformance): a constraint on `T` itself would
/// make the runtime look up `T: Equatable` in every conformance record of the binary the first
/// time each `Sourced<T>` is used, a cost every launch paid.
public struct Sourced<T: Sendable>: Sendable {
    public var value: T
    /// Absolute path of the profile file.
    public var file: String
    public var line: Int
    /// Dotted key ("filesystem.read_only").
    public var key: String

    public init(_ value: T, file: String, line: Int, key: String) {
        self.value = value
        self.file = file
        self.line = line
        self.key = key
    }

    /// "base.toml: filesystem.read_only", as explain shows it.
    public var origin: String { "\(Paths.basename(file)): \(key)" }

    func diagnostic(_ message: String, hint: String? = nil) -> Diagnostic {
        Diagnostic(file: file, line: line, key: key, message, hint: hint)
    }
}

extension Sourced: Equatable where T: Equatable {}

/// One `[network] hosts` entry: a name answered with these addresses.
public struct HostMapping: Sendable, Equatable {
    public var name: String
    public var addresses: [IPAddress]
}

/// A filesystem path from a profile, expanded and normalized.
public struct PathEntry: Sendable, Equatable {
    public var path: String
    /// Written with a leading `?`: skipped silently when absent on the host.
    public var optional: Bool
}

/// A resolved profile: every file of the `extends` chain merged, variables expanded, keys validated.
///
/// Merge rules: lists are appended (base first) and de-duplicated, tables merge key-wise,
/// scalars from the later (child) profile win.
public struct Profile: Sendable, Equatable {
    /// The name or path given on the command line.
    public var name: String
    /// Every contributing file (real paths), base first, the named profile last.
    public var files: [String] = []
    /// The symbolic links followed to reach them (each in its real directory): replacing one
    /// replaces a profile, so none may lie where the server can write.
    public var links: [String] = []
    /// Secret-looking variables expanded outside env.set (`command = ["x", "--token=${GH_TOKEN}"]`).
    public var secretReferences: [Sourced<String>] = []
    /// What loading noticed that the plan states as warnings (a diamond's order).
    public var loadWarnings: [String] = []

    public var description: Sourced<String>?
    public var command: Sourced<[String]>?
    public var cwd: Sourced<String>?
    public var userName: Sourced<String>?

    public var readOnly: [Sourced<PathEntry>] = []
    public var readWrite: [Sourced<PathEntry>] = []
    public var tmpfs: [Sourced<PathEntry>] = []
    public var hide: [Sourced<PathEntry>] = []
    /// `filesystem.accept`: host paths whose dangerous grant the profile acknowledges (see `GrantChecks`).
    public var accept: [Sourced<PathEntry>] = []
    public var bindCommand: Sourced<Bool>?
    /// `[network] accept`, `[env] accept`, `[seccomp] accept`: lint warnings the profile acknowledges.
    public var networkAccept: [Sourced<String>] = []
    public var envAccept: [Sourced<String>] = []
    public var seccompAccept: [Sourced<String>] = []

    public var networkMode: Sourced<NetworkMode>?
    /// `[network] allow` / `deny` (mode "allow"), appended across `extends`.
    public var networkAllow: [Sourced<EgressRule>] = []
    public var networkDeny: [Sourced<EgressRule>] = []
    /// `[network] hosts`: name → addresses; a later profile overrides a name.
    public var networkHosts: [Sourced<HostMapping>] = []
    public var networkLog: Sourced<String>?

    public var envPass: [Sourced<String>] = []
    /// `env.set`, in first-definition order; a later profile overrides the value.
    public var envSet: [Sourced<EnvVar>] = []
    /// The variables each `env.set` value expands (name → `${…}` names), from the profile that set it.
    public var envSetReferences: [String: [String]] = [:]

    public var seccompPreset: Sourced<SeccompPolicy.Preset>?
    public var seccompAllow: [Sourced<String>] = []
    public var seccompDeny: [Sourced<String>] = []
    public var seccompDefaultAction: Sourced<SeccompPolicy.DefaultAction>?

    public var memory: Sourced<UInt64>?
    /// `memory = "?SIZE"`: applied when a memory cgroup is usable, else left out and said so.
    public var memoryOptional = false
    public var processes: Sourced<UInt64>?
    public var openFiles: Sourced<UInt64>?
    public var cpu: Sourced<Double>?
    public var wallTime: Sourced<Double>?
    public var tmpfsSize: Sourced<UInt64>?
    public var shutdownGrace: Sourced<Double>?

    public var landlockMode: Sourced<LandlockMode>?
    /// `landlock.tcp_bind` / `tcp_connect`: nil when no profile of the chain sets the key.
    public var landlockTCPBind: [Sourced<UInt16>]?
    public var landlockTCPConnect: [Sourced<UInt16>]?
    /// `[isolation] runtime` and `runsc` (the runsc program's absolute path).
    public var isolationRuntime: Sourced<IsolationRuntime>?
    public var isolationRunsc: Sourced<String>?

    /// `[tools]` / `[prompts]` allow (nil: no layer sets it) and deny globs, appended across `extends`.
    public var toolsAllow: [Sourced<String>]?
    public var toolsDeny: [Sourced<String>] = []
    public var promptsAllow: [Sourced<String>]?
    public var promptsDeny: [Sourced<String>] = []
    /// `[resources]` allow (nil: no layer sets it) and deny globs over URIs, appended across `extends`.
    public var resourcesAllow: [Sourced<String>]?
    public var resourcesDeny: [Sourced<String>] = []
    /// `[tools] pin` / `pin_first_use`: nil = not set (pinning off).
    public var toolsPin: Sourced<PinMode>?
    public var toolsPinFirstUse: Sourced<Bool>?
    /// `[tools] confirm` globs (nil: no layer sets it), appended across `extends`.
    public var toolsConfirm: [Sourced<String>]?
    /// `[tools] confirm_timeout` in seconds: nil = not set (`MCPPolicy.defaultConfirmTimeout`).
    public var toolsConfirmTimeout: Sourced<Double>?
    /// `[client] sampling` / `elicitation` / `roots`: nil = not set (allowed).
    public var clientSampling: Sourced<Bool>?
    public var clientElicitation: Sourced<Bool>?
    /// `[client] elicitation = "form"`: allowed, form mode only (set with `clientElicitation`).
    public var clientElicitationFormOnly = false
    public var clientRoots: Sourced<Bool>?
    /// `[audit]` (see `AuditPlan`): nil = not set.
    public var auditLog: Sourced<AuditLogSetting>?
    public var auditPayloads: Sourced<AuditPayloads>?
    public var auditRequired: Sourced<Bool>?
    public var auditMaxSize: Sourced<UInt64>?
    public var auditKeep: Sourced<UInt64>?
    /// `[packages] managers` (appended across `extends`) and `offline` (see `PackageTools`).
    public var packageManagers: [Sourced<PackageManager>] = []
    public var packageOffline: Sourced<PackageOffline>?

    /// Optional (`?`) paths absent on the host, as written after expansion.
    public var skippedOptional: [String] = []
    /// `check` only: variables declared with `from_arg` that were not given, with their flags;
    /// the keys that use them were left out (see `ProfileLoader.placeholdersForCheck`).
    public var unresolvedFromArg: [String: [String]] = [:]
    /// The directories searched for profile NAMEs when this profile was loaded (set by `ProfileLoader`);
    /// a read-write bind may not touch them.
    public var searchPath: [String] = []

    public init(name: String) { self.name = name }

    /// Merges `child` over `self`.
    mutating func merge(_ child: Profile) {
        files.append(contentsOf: child.files)
        links.append(contentsOf: child.links)
        loadWarnings.append(contentsOf: child.loadWarnings)
        secretReferences.append(contentsOf: child.secretReferences)
        // Written out field by field: key paths would be instantiated at run time, on every launch.
        if let v = child.description { description = v }
        if let v = child.command { command = v }
        if let v = child.cwd { cwd = v }
        if let v = child.userName { userName = v }
        Self.appendPaths(&readOnly, child.readOnly)
        Self.appendPaths(&readWrite, child.readWrite)
        Self.appendPaths(&tmpfs, child.tmpfs)
        Self.appendPaths(&hide, child.hide)
        Self.appendPaths(&accept, child.accept)
        if let v = child.bindCommand { bindCommand = v }
        Self.appendNames(&networkAccept, child.networkAccept)
        Self.appendNames(&envAccept, child.envAccept)
        Self.appendNames(&seccompAccept, child.seccompAccept)
        if let v = child.networkMode { networkMode = v }
        for r in child.networkAllow where !networkAllow.contains(where: { $0.value.text == r.value.text }) { networkAllow.append(r) }
        for r in child.networkDeny where !networkDeny.contains(where: { $0.value.text == r.value.text }) { networkDeny.append(r) }
        for h in child.networkHosts {
            if let i = networkHosts.firstIndex(where: { $0.value.name == h.value.name }) { networkHosts[i] = h } else { networkHosts.append(h) }
        }
        if let v = child.networkLog { networkLog = v }
        Self.appendNames(&envPass, child.envPass)
        var envIndex = [String: Int](envSet.enumerated().map { ($1.value.name, $0) }, uniquingKeysWith: { a, _ in a })
        for (k, v) in child.envSetReferences { envSetReferences[k] = v }
        for e in child.envSet {
            if let i = envIndex[e.value.name] { envSet[i] = e } else { envIndex[e.value.name] = envSet.count; envSet.append(e) }
        }
        if let v = child.seccompPreset { seccompPreset = v }
        Self.appendNames(&seccompAllow, child.seccompAllow)
        Self.appendNames(&seccompDeny, child.seccompDeny)
        if let v = child.seccompDefaultAction { seccompDefaultAction = v }
        if let v = child.memory { memory = v; memoryOptional = child.memoryOptional }
        if let v = child.processes { processes = v }
        if let v = child.openFiles { openFiles = v }
        if let v = child.cpu { cpu = v }
        if let v = child.wallTime { wallTime = v }
        if let v = child.tmpfsSize { tmpfsSize = v }
        if let v = child.shutdownGrace { shutdownGrace = v }
        if let v = child.landlockMode { landlockMode = v }
        if let v = child.landlockTCPBind { landlockTCPBind = Self.appendPorts(landlockTCPBind, v) }
        if let v = child.landlockTCPConnect { landlockTCPConnect = Self.appendPorts(landlockTCPConnect, v) }
        if let v = child.isolationRuntime { isolationRuntime = v }
        if let v = child.isolationRunsc { isolationRunsc = v }
        if let v = child.toolsAllow { var l = toolsAllow ?? []; Self.appendNames(&l, v); toolsAllow = l }
        Self.appendNames(&toolsDeny, child.toolsDeny)
        if let v = child.promptsAllow { var l = promptsAllow ?? []; Self.appendNames(&l, v); promptsAllow = l }
        Self.appendNames(&promptsDeny, child.promptsDeny)
        if let v = child.resourcesAllow { var l = resourcesAllow ?? []; Self.appendNames(&l, v); resourcesAllow = l }
        Self.appendNames(&resourcesDeny, child.resourcesDeny)
        if let v = child.toolsPin { toolsPin = v }
        if let v = child.toolsPinFirstUse { toolsPinFirstUse = v }
        if let v = child.toolsConfirm { var l = toolsConfirm ?? []; Self.appendNames(&l, v); toolsConfirm = l }
        if let v = child.clientSampling { clientSampling = v }
        if let v = child.clientElicitation { clientElicitation = v; clientElicitationFormOnly = child.clientElicitationFormOnly }
        if let v = child.toolsConfirmTimeout { toolsConfirmTimeout = v }
        if let v = child.clientRoots { clientRoots = v }
        if let v = child.auditLog { auditLog = v }
        if let v = child.auditPayloads { auditPayloads = v }
        if let v = child.auditRequired { auditRequired = v }
        if let v = child.auditMaxSize { auditMaxSize = v }
        if let v = child.auditKeep { auditKeep = v }
        for m in child.packageManagers where !packageManagers.contains(where: { $0.value == m.value }) { packageManagers.append(m) }
        if let v = child.packageOffline { packageOffline = v }
        var skipped = Set(skippedOptional)
        for s in child.skippedOptional where skipped.insert(s).inserted { skippedOptional.append(s) }
        unresolvedFromArg.merge(child.unresolvedFromArg) { a, _ in a }
    }

    /// Appends the entries whose path is not listed yet (linear: profiles can hold long lists).
    private static func appendPaths(_ list: inout [Sourced<PathEntry>], _ more: [Sourced<PathEntry>]) {
        // By bytes: two paths only canonically equivalent are two files (a second `hide` of the
        // NFD spelling was dropped as a duplicate of the NFC one, and its file stayed visible).
        var seen = Set(list.map { Array($0.value.path.utf8) })
        for e in more where seen.insert(Array(e.value.path.utf8)).inserted { list.append(e) }
    }

    private static func appendPorts(_ list: [Sourced<UInt16>]?, _ more: [Sourced<UInt16>]) -> [Sourced<UInt16>] {
        var out = list ?? []
        for e in more where !out.contains(where: { $0.value == e.value }) { out.append(e) }
        return out
    }

    private static func appendNames(_ list: inout [Sourced<String>], _ more: [Sourced<String>]) {
        var seen = Set(list.map { $0.value })
        for e in more where seen.insert(e.value).inserted { list.append(e) }
    }
}

/// The keys a profile may hold, per table ("" = top level).
public enum ProfileSchema {
    public static let tables: [String: [String]] = [
        "": ["description", "extends", "command", "cwd", "variables", "user", "filesystem", "network", "env", "seccomp", "limits", "landlock", "tools", "prompts", "resources", "client", "audit", "packages", "isolation"],
        "user": ["name"],
        "filesystem": ["read_only", "read_write", "tmpfs", "hide", "accept", "bind_command"],
        "network": ["mode", "allow", "deny", "hosts", "log", "accept"],
        "env": ["pass", "set", "accept"],
        "seccomp": ["preset", "allow", "deny", "default_action", "accept"],
        "tools": ["allow", "deny", "pin", "pin_first_use", "confirm", "confirm_timeout"],
        "prompts": ["allow", "deny"],
        "resources": ["allow", "deny"],
        "client": ["sampling", "elicitation", "roots"],
        "audit": ["log", "payloads", "required", "max_size", "keep"],
        "packages": ["managers", "offline"],
        "landlock": ["mode", "tcp_bind", "tcp_connect"],
        "isolation": ["runtime", "runsc"],
        "limits": ["memory", "processes", "open_files", "cpu", "wall_time", "tmpfs_size", "shutdown_grace"],
    ]
}

/// Parses one profile file into a `Profile` layer (no `extends` resolution), collecting every error.
struct ProfileFileReader {
    let file: String
    let variables: [String: String]
    let environment: [String: String]
    var sink = DiagnosticSink()
    var layer: Profile
    /// This file's `[variables] NAME.from_arg`: the first flag of each, for hints.
    var declaredFromArg: [String: String] = [:]
    /// `check` only: `from_arg` variables of the chain that may stay undefined, with their flags.
    var placeholders: [String: [String]] = [:]
    /// Built-in variables that are not defined for this invocation, with the reason; a `?` path
    /// using one is skipped (and listed as skipped), any other use is an error.
    var unavailable: [String: String] = [:]
    /// The `--set` variables alone, and the chain's `from_arg` flags: where a value came from.
    var setVariables: [String: String] = [:]
    var fromArgFlags: [String: [String]] = [:]
    /// Set by `expand` when it met an unavailable built-in variable.
    private var metUnavailable = false
    /// While expanding a `?` path: an unavailable built-in variable skips it without an error.
    private var quietUnavailable = false

    init(file: String, name: String, variables: [String: String], environment: [String: String]) {
        self.file = file
        self.variables = variables
        self.environment = environment
        self.layer = Profile(name: name)
        self.layer.files = [file]
    }

    func diag(_ line: Int?, _ key: String?, _ message: String, hint: String? = nil) -> Diagnostic {
        Diagnostic(file: file, line: line, key: key, message, hint: hint)
    }

    // MARK: Typed accessors

    mutating func typeError(_ entry: TOMLEntry, _ key: String, expected: String) {
        sink.add(diag(entry.value.line, key, "expected \(expected), found \(entry.value.typeName)"))
    }

    mutating func string(_ e: TOMLEntry, _ key: String, expand: Bool) -> Sourced<String>? {
        guard case .string(let s) = e.value.kind else { typeError(e, key, expected: "a string"); return nil }
        guard expand else { return Sourced(s, file: file, line: e.value.line, key: key) }
        guard let x = self.expand(s, line: e.value.line, key: key) else { return nil }
        return Sourced(x, file: file, line: e.value.line, key: key)
    }

    /// The most entries one list of a profile may hold: every list is judged against others
    /// (mounts against mounts and places, names against names), so its length bounds the work.
    public static let maxListEntries = 1024

    /// Whether the array `e` is within `maxListEntries`; a diagnostic when it is not.
    mutating func withinListLimit(_ e: TOMLEntry, _ key: String, count: Int) -> Bool {
        guard count > Self.maxListEntries else { return true }
        sink.add(diag(e.value.line, key, "\(count) entries; a list or table holds at most \(Self.maxListEntries)",
                      hint: "shorten it (for paths, a common parent directory covers many)"))
        return false
    }

    mutating func stringArray(_ e: TOMLEntry, _ key: String, expand: Bool) -> [Sourced<String>]? {
        guard case .array(let items) = e.value.kind else {
            let hint: String? = if case .string(let s) = e.value.kind { "write it as a list: \(key.split(separator: ".").last!) = [\"\(s)\"]" } else { nil }
            sink.add(diag(e.value.line, key, "expected an array of strings, found \(e.value.typeName)", hint: hint))
            return nil
        }
        guard withinListLimit(e, key, count: items.count) else { return nil }
        var out: [Sourced<String>] = []
        var ok = true
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item.kind else {
                sink.add(diag(item.line, key, "element \(i + 1): expected a string, found \(item.typeName)"))
                ok = false
                continue
            }
            if expand {
                guard let x = self.expand(s, line: item.line, key: key) else { ok = false; continue }
                out.append(Sourced(x, file: file, line: item.line, key: key))
            } else {
                out.append(Sourced(s, file: file, line: item.line, key: key))
            }
        }
        return ok ? out : nil
    }

    mutating func bool(_ e: TOMLEntry, _ key: String) -> Sourced<Bool>? {
        guard case .bool(let b) = e.value.kind else { typeError(e, key, expected: "a boolean (true or false)"); return nil }
        return Sourced(b, file: file, line: e.value.line, key: key)
    }

    mutating func positiveInteger(_ e: TOMLEntry, _ key: String) -> Sourced<UInt64>? {
        guard case .integer(let v) = e.value.kind else { typeError(e, key, expected: "an integer"); return nil }
        guard v > 0 else { sink.add(diag(e.value.line, key, "must be greater than 0, found \(v)")); return nil }
        return Sourced(UInt64(v), file: file, line: e.value.line, key: key)
    }

    mutating func size(_ e: TOMLEntry, _ key: String) -> Sourced<UInt64>? {
        let text: String
        switch e.value.kind {
        case .string(let s): text = s
        case .integer(let v) where v > 0: return Sourced(UInt64(v), file: file, line: e.value.line, key: key)
        default: typeError(e, key, expected: "a size string such as \"64MiB\""); return nil
        }
        guard let bytes = Units.size(text), bytes > 0 else {
            sink.add(diag(e.value.line, key, "invalid size \"\(text)\"",
                          hint: "a positive number with one of the units \(Units.sizeUnits.joined(separator: ", ")), e.g. \"64MiB\"; no unit means bytes"))
            return nil
        }
        return Sourced(bytes, file: file, line: e.value.line, key: key)
    }

    mutating func duration(_ e: TOMLEntry, _ key: String) -> Sourced<Double>? {
        let text: String
        switch e.value.kind {
        case .string(let s): text = s
        case .integer(0): return Sourced(0, file: file, line: e.value.line, key: key)
        default: typeError(e, key, expected: "a duration string such as \"3s\""); return nil
        }
        guard let seconds = Units.duration(text) else {
            sink.add(diag(e.value.line, key, "invalid duration \"\(text)\"",
                          hint: "a number with one of the units \(Units.durationUnits.joined(separator: ", ")), e.g. \"500ms\", \"3s\", \"2m\"; or \"0\""))
            return nil
        }
        guard seconds <= Units.maxDurationSeconds else {
            sink.add(diag(e.value.line, key, "\"\(text)\" is longer than mcpbox supports (\(Units.formatDuration(Units.maxDurationSeconds)))",
                          hint: "write \"0\" for no limit, or a duration up to \(Units.formatDuration(Units.maxDurationSeconds))"))
            return nil
        }
        guard Units.isWholeMilliseconds(text), Units.isWholeMilliseconds(seconds) else {
            sink.add(diag(e.value.line, key, "\"\(text)\" is not a whole number of milliseconds, the resolution mcpbox enforces",
                          hint: "round it, e.g. \"1500ms\" or \"1.5s\""))
            return nil
        }
        return Sourced(seconds, file: file, line: e.value.line, key: key)
    }

    mutating func enumValue<E: RawRepresentable & CaseIterable & Sendable & Equatable>(_ e: TOMLEntry, _ key: String, _: E.Type) -> Sourced<E>? where E.RawValue == String {
        guard case .string(let s) = e.value.kind else { typeError(e, key, expected: "a string"); return nil }
        guard let v = E(rawValue: s) else {
            let valid = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
            sink.add(diag(e.value.line, key, "invalid value \"\(s)\"", hint: "must be exactly \(valid)"))
            return nil
        }
        return Sourced(v, file: file, line: e.value.line, key: key)
    }

    // MARK: Variables and paths

    static func isVariableName(_ s: Substring) -> Bool {
        // ASCII (nearly every name) by its bytes, the same answer as the Characters give.
        if let first = s.utf8.first, s.utf8.allSatisfy({ $0 < 0x80 }) {
            func letter(_ b: UInt8) -> Bool { (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z") }
            func digit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
            let underscore = UInt8(ascii: "_")
            return (letter(first) || first == underscore) && s.utf8.allSatisfy { letter($0) || digit($0) || $0 == underscore }
        }
        guard let f = s.first, f.isLetter || f == "_" else { return false }
        return s.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" }
    }

    /// The variables `expand` met since this was last emptied (env.set's secret check).
    var referenced: [String] = []

    /// Expands `${name}` (from --set, then the environment); `$${` is a literal `${`.
    /// The longest string `${…}` expansion may make (the kernel's MAX_ARG_STRLEN, 32 pages).
    static let maxExpandedBytes = 128 << 10

    mutating func expand(_ s: String, line: Int, key: String) -> String? {
        guard s.utf8.contains(UInt8(ascii: "$")) else { return s }
        /// Past `maxExpandedBytes`: said once, and the expansion stops there.
        func tooLong(_ text: String) -> Bool {
            guard text.utf8.count > Self.maxExpandedBytes else { return false }
            sink.add(diag(line, key, "expands to more than \(Self.maxExpandedBytes) bytes, longer than any argument or variable a program can be started with",
                          hint: "pass a shorter value"))
            return true
        }
        var out = ""
        // By scalars, not characters: `}` followed by a combining mark is one character, which
        // is not `}` (`"${HOME}\u{301}x"` was refused as unterminated).
        var rest = s.unicodeScalars[...]
        var ok = true
        while let dollar = rest.firstIndex(of: "$") {
            out.unicodeScalars.append(contentsOf: rest[..<dollar])
            let after = rest[rest.index(after: dollar)...]
            if after.starts(with: "${".unicodeScalars) {
                out += "${"
                rest = after.dropFirst(2)
                continue
            }
            guard after.first == "{" else {
                out += "$"
                rest = after
                continue
            }
            guard let close = after.firstIndex(of: "}") else {
                sink.add(diag(line, key, "unterminated `${` in \"\(s)\"", hint: "write ${name}, or $${ for a literal ${"))
                return nil
            }
            let name = Substring(after[after.index(after: after.startIndex)..<close])
            rest = after[after.index(after: close)...]
            guard Self.isVariableName(name) else {
                sink.add(diag(line, key, "invalid variable name `${\(name)}`", hint: "letters, digits and _ only"))
                ok = false
                continue
            }
            let n = String(name)
            referenced.append(n)
            // A secret-looking variable expanded anywhere but env.set (which says so itself):
            // in `command` it is readable by every host user (/proc/PID/cmdline).
            if !key.hasPrefix("env.set."), PlanBuilder.looksSecret(n) {
                layer.secretReferences.append(Sourced(n, file: file, line: line, key: key))
            }
            if variables[n] == nil, let why = unavailable[n] {
                metUnavailable = true
                if !quietUnavailable {
                    sink.add(diag(line, key, "`${\(n)}` is not defined: \(why)",
                                  hint: "write the path optional (\"?${\(n)}/...\") to skip it then, or name the path"))
                }
                ok = false
                continue
            }
            let environment = ProfileLoader.builtinVariables.contains(n) ? [:] : self.environment
            if variables[n] == nil && environment[n] == nil, let flags = placeholders[n] {
                layer.unresolvedFromArg[n] = flags
                ok = false
                continue
            }
            guard let value = variables[n] ?? environment[n] else {
                sink.add(diag(line, key, "undefined variable `${\(n)}`",
                              hint: "pass --set \(n)=VALUE\(declaredFromArg[n].map { ", or \($0) VALUE in the server command" } ?? ""), or set \(n) in the environment"))
                ok = false
                continue
            }
            guard !value.isEmpty else {
                sink.add(diag(line, key, "variable `${\(n)}` is empty", hint: "pass a non-empty --set \(n)=VALUE"))
                ok = false
                continue
            }
            if variables[n] == nil, HostFS.nonUTF8Environment.contains(n) {
                // Read with its invalid bytes replaced: another path, or another value, than the caller's.
                sink.add(diag(line, key, "`${\(n)}` comes from the environment, where its value is not valid UTF-8: mcpbox would use it changed",
                              hint: "pass --set \(n)=VALUE in UTF-8"))
                ok = false
                continue
            }
            out += value
            // No argument or variable exec takes is longer (MAX_ARG_STRLEN, 128 KiB): stop here,
            // before a value that run could never pass grows without bound.
            if tooLong(out) { return nil }
        }
        out.unicodeScalars.append(contentsOf: rest)
        if ok, tooLong(out) { return nil }
        return ok ? out : nil
    }

    /// The first variable of `raw` whose value the command line gave, and where: `--set NAME=VALUE`,
    /// or the server's argument a `from_arg` names. Nil when every value is the profile's or the
    /// environment's.
    func givenValue(_ raw: String) -> (name: String, from: String)? {
        var rest = Substring(raw)
        while let open = rest.range(of: "${") {
            rest = rest[open.upperBound...]
            guard let close = rest.firstIndex(of: "}") else { return nil }
            let name = String(rest[..<close])
            rest = rest[rest.index(after: close)...]
            if let v = setVariables[name] { return (name, "--set \(name)=\(v)") }
            if let flags = fromArgFlags[name], variables[name] != nil {
                return (name, "the server's argument \(flags.joined(separator: " or ")) \(variables[name] ?? "")")
            }
        }
        return nil
    }

    /// Validates, expands and normalizes a filesystem list; missing non-optional paths are errors.
    mutating func pathList(_ e: TOMLEntry, _ key: String, mustExist: Bool) -> [Sourced<PathEntry>] {
        guard case .array(let items) = e.value.kind else {
            _ = stringArray(e, key, expand: false)
            return []
        }
        guard withinListLimit(e, key, count: items.count) else { return [] }
        var out: [Sourced<PathEntry>] = []
        for (i, item) in items.enumerated() {
            guard case .string(var raw) = item.kind else {
                sink.add(diag(item.line, key, "element \(i + 1): expected a path string, found \(item.typeName)"))
                continue
            }
            let optional = raw.hasPrefix("?")
            if optional { raw.removeFirst() }
            metUnavailable = false
            quietUnavailable = optional
            let expansion = expand(raw, line: item.line, key: key)
            quietUnavailable = false
            guard let expanded = expansion else {
                if optional && metUnavailable && !layer.skippedOptional.contains(raw) { layer.skippedOptional.append(raw) }
                continue
            }
            guard expanded.isAbsolutePath else {
                sink.add(diag(item.line, key, "path \"\(expanded)\" is not absolute", hint: Paths.absoluteHint(expanded)))
                continue
            }
            guard let path = Paths.normalize(expanded) else {
                sink.add(diag(item.line, key, "path \"\(expanded)\" contains `..`", hint: "write the path without `..` components"))
                continue
            }
            if mustExist, HostFS.info(path) == nil {
                if optional {
                    layer.skippedOptional.append(path)  // repeats are dropped by `merge`
                    continue
                }
                if let (name, from) = givenValue(raw) {
                    // The value is the user's, given on the command line: the fix is there, not
                    // in the profile (the message blamed the shipped file and asked for a `?`).
                    sink.add(diag(item.line, key, "path \(path) does not exist (${\(name)} comes from \(from))",
                                  hint: from.hasPrefix("--set") ? "create it, or pass an existing path: --set \(name)=PATH"
                                                                : "create it, or give an existing path there"))
                    continue
                }
                sink.add(diag(item.line, key, "path \(path) does not exist", hint: "create it, fix the path, or mark it optional with a leading ?: \"?\(raw)\""))
                continue
            }
            out.append(Sourced(PathEntry(path: path, optional: optional), file: file, line: item.line, key: key))
        }
        return out
    }

    // MARK: The file

    mutating func unknownKey(_ entry: TOMLEntry, table: String) {
        // Shown cut to 128 bytes (a key may be as long as the file), quoted as TOML writes it
        // where it is not bare (`"filesystem.read_only"` at the top level is one unknown key,
        // not the known one it reads as unquoted).
        let cut = entry.key.utf8.count <= 128 ? entry.key : String(decoding: entry.key.utf8.prefix(128), as: UTF8.self)
        let name = TOML.keySegment(cut) + (cut.utf8.count < entry.key.utf8.count ? "…" : "")
        let key = table.isEmpty ? name : "\(table).\(name)"
        let valid = ProfileSchema.tables[table] ?? []
        var hint: String?
        if let s = Units.suggestion(for: entry.key, among: valid) {
            hint = "did you mean `\(s)`?"
        } else if let home = ProfileSchema.tables.first(where: { $0.key != table && $0.value.contains(entry.key) })?.key {
            hint = home.isEmpty ? "`\(entry.key)` belongs at the top level" : "`\(entry.key)` belongs in [\(home)]"
        } else {
            hint = "valid keys: " + valid.joined(separator: ", ")
        }
        sink.add(diag(entry.keyLine, key, "unknown key", hint: hint))
    }

    mutating func subtable(_ entry: TOMLEntry) -> TOMLTable? {
        guard case .table(let t) = entry.value.kind else {
            sink.add(diag(entry.value.line, entry.key, "expected a table ([\(entry.key)]), found \(entry.value.typeName)"))
            return nil
        }
        return t
    }

    /// No key or string of a profile may hold a NUL (`\u0000`): the kernel would cut a path
    /// there, so explain would show more than the kernel gets (`/etc/ssl\u0000zz` hid all of
    /// /etc/ssl; `extends` loaded another file). `command` and `env` say so in their own words.
    mutating func refuseNUL(_ table: TOMLTable, prefix: String) {
        for e in table.entries {
            if prefix.isEmpty && (e.key == "command" || e.key == "env") { continue }
            let key = prefix.isEmpty ? TOML.keySegment(e.key) : prefix + "." + TOML.keySegment(e.key)
            if Self.hasNUL(e.key) {
                sink.add(diag(e.keyLine, key, "the key contains a NUL byte (\\u0000), which no name in a profile may hold"))
            }
            refuseNUL(e.value, key: key)
        }
    }

    static func hasNUL(_ s: String) -> Bool {
        s.utf8.withContiguousStorageIfAvailable { $0.contains(0) } ?? s.utf8.contains(0)
    }

    mutating func refuseNUL(_ value: TOMLValue, key: String) {
        switch value.kind {
        case .string(let s) where Self.hasNUL(s):
            sink.add(diag(value.line, key, "the value contains a NUL byte (\\u0000), which no path, name or value in a profile may hold: the kernel would cut it there",
                          hint: "remove the \\u0000"))
        case .array(let items): for item in items { refuseNUL(item, key: key) }
        case .table(let t): refuseNUL(t, prefix: key)
        default: break
        }
    }

    /// Reads the parsed document; returns the raw `extends` list (nil when the key is absent).
    mutating func read(_ doc: TOMLTable) -> [Sourced<String>]? {
        refuseNUL(doc, prefix: "")
        var extends: [Sourced<String>]? = nil
        if case .table(let vars)? = doc["variables"]?.value.kind {
            // Sized once: the first resize of a `[String: String]` looks its storage type up by
            // name (a scan of every conformance record, about 0.1 ms).
            if declaredFromArg.isEmpty { declaredFromArg = Dictionary(minimumCapacity: vars.entries.count) }
            for v in vars.entries { if let f = Self.fromArgFlags(v.value)?.first { declaredFromArg[v.key] = f } }
        }
        for entry in doc.entries {
            switch entry.key {
            case "description": layer.description = string(entry, "description", expand: false)
            case "extends":
                if case .string(let s) = entry.value.kind {
                    extends = [Sourced(s, file: file, line: entry.value.line, key: "extends")]
                } else {
                    extends = stringArray(entry, "extends", expand: false) ?? []
                    // As many as a chain may be deep: each is loaded and merged in turn.
                    if let n = extends?.count, n > ProfileLoader.maxExtendsDepth {
                        sink.add(diag(entry.value.line, "extends", "\(n) profiles; `extends` names at most \(ProfileLoader.maxExtendsDepth)",
                                      hint: "name each profile once, and extend fewer"))
                        extends = []
                    }
                }
            case "command":
                if let c = stringArray(entry, "command", expand: true) {
                    if c.isEmpty {
                        sink.add(diag(entry.value.line, "command", "must not be empty", hint: "remove the key, or give the program and its arguments"))
                    } else if let bad = c.first(where: { $0.value.contains("\0") }) {
                        // execve takes C strings: the server would get the text up to the NUL
                        // only, while explain showed all of it.
                        sink.add(bad.diagnostic("an argument contains a NUL byte, which a program's arguments cannot hold",
                                                hint: "remove the \\u0000"))
                    } else {
                        layer.command = Sourced(c.map(\.value), file: file, line: entry.value.line, key: "command")
                    }
                }
            case "cwd":
                if let c = string(entry, "cwd", expand: true) {
                    if !c.value.isAbsolutePath {
                        sink.add(c.diagnostic("path \"\(c.value)\" is not absolute", hint: Paths.absoluteHint(c.value)))
                    } else if let n = Paths.normalize(c.value) {
                        layer.cwd = Sourced(n, file: file, line: c.line, key: "cwd")
                    } else {
                        sink.add(c.diagnostic("path \"\(c.value)\" contains `..`", hint: "write the path without `..` components"))
                    }
                }
            case "variables": if let t = subtable(entry) { readVariables(t) }
            case "user": if let t = subtable(entry) { readUser(t) }
            case "filesystem": if let t = subtable(entry) { readFilesystem(t) }
            case "network": if let t = subtable(entry) { readNetwork(t) }
            case "env": if let t = subtable(entry) { readEnv(t) }
            case "seccomp": if let t = subtable(entry) { readSeccomp(t) }
            case "limits": if let t = subtable(entry) { readLimits(t) }
            case "landlock": if let t = subtable(entry) { readLandlock(t) }
            case "tools": if let t = subtable(entry) { readNames(t, table: "tools") }
            case "prompts": if let t = subtable(entry) { readNames(t, table: "prompts") }
            case "resources": if let t = subtable(entry) { readNames(t, table: "resources") }
            case "client": if let t = subtable(entry) { readClient(t) }
            case "audit": if let t = subtable(entry) { readAudit(t) }
            case "packages": if let t = subtable(entry) { readPackages(t) }
            case "isolation": if let t = subtable(entry) { readIsolation(t) }
            default: unknownKey(entry, table: "")
            }
        }
        return extends
    }

    /// The flags of `NAME = { from_arg = "--flag" | ["--flag", "-f"] }`, or nil if malformed.
    static func fromArgFlags(_ value: TOMLValue) -> [String]? {
        guard case .table(let t) = value.kind, let e = t.entries.first(where: { $0.key == "from_arg" }),
              t.entries.allSatisfy({ $0.key == "from_arg" || $0.key == "parent" }) else { return nil }
        let flags: [String]
        switch e.value.kind {
        case .string(let s): flags = [s]
        case .array(let items): flags = items.compactMap { if case .string(let s) = $0.kind { s } else { nil } }
        default: return nil
        }
        return !flags.isEmpty && flags.allSatisfy({ $0.count > 1 && $0.hasPrefix("-") && !$0.contains("=") }) ? flags : nil
    }

    /// `[variables] NAME.parent = true`: the variable is the directory holding the argument's path.
    static func fromArgParent(_ value: TOMLValue) -> Bool {
        guard case .table(let t) = value.kind, case .bool(let b)? = t["parent"]?.value.kind else { return false }
        return b
    }

    /// `[variables]`: validated here; their values are taken from the command line by the loader.
    mutating func readVariables(_ t: TOMLTable) {
        for e in t.entries {
            let key = "variables.\(e.key)"
            guard Self.isVariableName(Substring(e.key)) else {
                sink.add(diag(e.keyLine, key, "invalid variable name `\(e.key)`", hint: "letters, digits and _ only"))
                continue
            }
            guard case .table(let spec) = e.value.kind else {
                sink.add(diag(e.value.line, key, "expected a table, found \(e.value.typeName)",
                              hint: "\(e.key) = { from_arg = [\"--flag\"] }"))
                continue
            }
            for s in spec.entries where s.key != "from_arg" {
                if s.key == "parent" {
                    if case .bool = s.value.kind {} else { sink.add(diag(s.value.line, key + ".parent", "expected a boolean (true or false), found \(s.value.typeName)")) }
                    continue
                }
                let hint = Units.suggestion(for: s.key, among: ["from_arg", "parent"]).map { "did you mean `\($0)`?" } ?? "the keys are from_arg and parent"
                sink.add(diag(s.keyLine, key + "." + s.key, "unknown key", hint: hint))
            }
            guard let from = spec.entries.first(where: { $0.key == "from_arg" }) else {
                if spec.entries.allSatisfy({ $0.key == "from_arg" || $0.key == "parent" }) {
                    sink.add(diag(e.value.line, key, "missing from_arg", hint: "\(e.key) = { from_arg = [\"--flag\"] }"))
                }
                continue
            }
            var only = TOMLTable()
            only.entries = [from]
            if Self.fromArgFlags(TOMLValue(.table(only), line: from.value.line)) == nil {
                sink.add(diag(from.value.line, key + ".from_arg", "expected a flag or a list of flags such as \"--repository\"",
                              hint: "each starts with -, without =VALUE"))
            }
        }
    }

    mutating func readUser(_ t: TOMLTable) {
        for e in t.entries {
            switch e.key {
            case "name":
                guard let n = string(e, "user.name", expand: true) else { continue }
                let valid = !n.value.isEmpty && n.value.count <= 32 && n.value.first != "-"
                    && n.value.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" || $0 == "-" || $0 == "." }
                if valid { layer.userName = n } else {
                    sink.add(n.diagnostic("invalid account name \"\(n.value)\"", hint: "letters, digits, _, - and . only"))
                }
            default: unknownKey(e, table: "user")
            }
        }
    }

    mutating func readFilesystem(_ t: TOMLTable) {
        for e in t.entries {
            switch e.key {
            case "read_only": layer.readOnly = pathList(e, "filesystem.read_only", mustExist: true)
            case "read_write": layer.readWrite = pathList(e, "filesystem.read_write", mustExist: true)
            case "tmpfs": layer.tmpfs = pathList(e, "filesystem.tmpfs", mustExist: false)
            case "hide": layer.hide = pathList(e, "filesystem.hide", mustExist: true)
            case "accept": layer.accept = pathList(e, "filesystem.accept", mustExist: false)
            case "bind_command": layer.bindCommand = bool(e, "filesystem.bind_command")
            default: unknownKey(e, table: "filesystem")
            }
        }
    }

    mutating func readNetwork(_ t: TOMLTable) {
        for e in t.entries {
            switch e.key {
            case "mode":
                guard case .string(let s) = e.value.kind else { typeError(e, "network.mode", expected: "a string"); continue }
                if let m = NetworkMode(rawValue: s) {
                    layer.networkMode = Sourced(m, file: file, line: e.value.line, key: "network.mode")
                } else {
                    sink.add(diag(e.value.line, "network.mode", "invalid value \"\(s)\"", hint: "must be exactly \"none\", \"allow\" or \"host\" (lower case)"))
                }
            case "allow", "deny":
                let key = "network.\(e.key)"
                var rules: [Sourced<EgressRule>] = []
                for r in stringArray(e, key, expand: true) ?? [] {
                    switch EgressRule.parse(r.value, origin: r.origin) {
                    case .success(let rule): rules.append(Sourced(rule, file: file, line: r.line, key: key))
                    case .failure(let err): sink.add(r.diagnostic(err.message, hint: err.hint))
                    }
                }
                if e.key == "allow" { layer.networkAllow = rules } else { layer.networkDeny = rules }
            case "hosts":
                guard case .table(let t) = e.value.kind else {
                    typeError(e, "network.hosts", expected: "a table such as { \"api.test\" = \"127.0.0.1\" }")
                    continue
                }
                guard withinListLimit(e, "network.hosts", count: t.entries.count) else { continue }
                for h in t.entries {
                    let key = "network.hosts." + TOML.keySegment(h.key)
                    let name = h.key.lowercased()
                    guard EgressRule.isHostName(name), IPAddress(name) == nil else {
                        sink.add(diag(h.keyLine, key, "invalid host name \"\(h.key)\""))
                        continue
                    }
                    var texts: [Sourced<String>] = []
                    if case .array(let items) = h.value.kind {
                        texts = stringArray(h, key, expand: true) ?? []
                        if items.isEmpty { sink.add(diag(h.value.line, key, "needs at least one address")) }
                    } else if let one = string(h, key, expand: true) { texts = [one] }
                    var addresses: [IPAddress] = []
                    for t in texts {
                        if let a = IPAddress(t.value) { addresses.append(a) } else {
                            sink.add(t.diagnostic("\"\(t.value)\" is not an IP address", hint: "write an IPv4 or IPv6 address, without brackets or port"))
                        }
                    }
                    if !addresses.isEmpty {
                        layer.networkHosts.append(Sourced(HostMapping(name: name, addresses: addresses), file: file, line: h.value.line, key: key))
                    }
                }
            case "accept":
                for n in stringArray(e, "network.accept", expand: false) ?? [] {
                    if n.value == "host" { layer.networkAccept.append(n) } else {
                        sink.add(n.diagnostic("network.accept: unknown warning \"\(n.value)\"", hint: "the one network warning is \"host\" (mode = \"host\")"))
                    }
                }
            case "log":
                guard let l = string(e, "network.log", expand: true) else { continue }
                if let n = Paths.normalize(l.value), l.value.isAbsolutePath {
                    layer.networkLog = Sourced(n, file: file, line: l.line, key: "network.log")
                } else {
                    sink.add(l.diagnostic("path \"\(l.value)\" must be absolute and free of `..`", hint: Paths.absoluteHint(l.value)))
                }
            default: unknownKey(e, table: "network")
            }
        }
    }

    static func isEnvName(_ s: String) -> Bool {
        !s.isEmpty && !s.contains("=") && !s.contains("\0")
    }

    mutating func readEnv(_ t: TOMLTable) {
        for e in t.entries {
            switch e.key {
            case "pass":
                for n in stringArray(e, "env.pass", expand: false) ?? [] {
                    if Self.isEnvName(n.value) { layer.envPass.append(n) } else {
                        sink.add(n.diagnostic("invalid variable name \"\(n.value)\""))
                    }
                }
            case "accept":
                for n in stringArray(e, "env.accept", expand: false) ?? [] {
                    if Self.isEnvName(n.value) { layer.envAccept.append(n) } else {
                        sink.add(n.diagnostic("invalid variable name \"\(n.value)\"", hint: "name a variable of env.pass whose warning you acknowledge"))
                    }
                }
            case "set":
                guard case .table(let vars) = e.value.kind else {
                    typeError(e, "env.set", expected: "a table such as { TZ = \"UTC\" }")
                    continue
                }
                guard withinListLimit(e, "env.set", count: vars.entries.count) else { continue }
                for v in vars.entries {
                    let key = "env.set." + TOML.keySegment(v.key)
                    guard Self.isEnvName(v.key) else { sink.add(diag(v.keyLine, key, "invalid variable name")); continue }
                    referenced = []
                    guard let s = string(v, key, expand: true) else { continue }
                    if s.value.contains("\0") { sink.add(s.diagnostic("value contains a NUL byte")); continue }
                    layer.envSet.append(Sourced(EnvVar(name: v.key, value: s.value, origin: "set"), file: file, line: s.line, key: key))
                    layer.envSetReferences[v.key] = referenced
                }
            default: unknownKey(e, table: "env")
            }
        }
    }

    mutating func syscallList(_ e: TOMLEntry, _ key: String) -> [Sourced<String>] {
        var out: [Sourced<String>] = []
        for n in stringArray(e, key, expand: false) ?? [] {
            if !Seccomp.isKnownSyscall(n.value) {
                sink.add(n.diagnostic("unknown system call \"\(n.value)\"",
                                      hint: "use the syscall's name on this architecture, e.g. \"ptrace\", \"chmod\""))
            } else if key == "seccomp.allow", Shape.neverAllowed.contains(n.value) {
                // Allowing it would have changed nothing (explain: "added (none)"): say so.
                sink.add(n.diagnostic("\"\(n.value)\" cannot be allowed: every policy answers it ENOSYS (its flags sit in a struct the filter cannot inspect), and libc then falls back to \(n.value == "clone3" ? "clone" : "openat"), which the filter judges",
                                      hint: "remove it from seccomp.allow; programs work without it"))
            } else {
                out.append(n)
            }
        }
        return out
    }

    mutating func readSeccomp(_ t: TOMLTable) {
        for e in t.entries {
            switch e.key {
            case "preset": layer.seccompPreset = enumValue(e, "seccomp.preset", SeccompPolicy.Preset.self)
            case "allow": layer.seccompAllow = syscallList(e, "seccomp.allow")
            case "deny": layer.seccompDeny = syscallList(e, "seccomp.deny")
            case "default_action": layer.seccompDefaultAction = enumValue(e, "seccomp.default_action", SeccompPolicy.DefaultAction.self)
            case "accept":
                for n in stringArray(e, "seccomp.accept", expand: false) ?? [] {
                    if n.value == "permissive" || n.value == "log" || Seccomp.isKnownSyscall(n.value) { layer.seccompAccept.append(n) } else {
                        sink.add(n.diagnostic("seccomp.accept: unknown warning \"\(n.value)\"",
                                              hint: "acknowledge \"permissive\" (the preset), \"log\" (default_action) or a system call named in seccomp.allow"))
                    }
                }
            default: unknownKey(e, table: "seccomp")
            }
        }
    }

    /// `[tools]` / `[prompts]`: allow and deny globs over names (the MCP layer, see `MCPPolicy`).
    mutating func readNames(_ t: TOMLTable, table: String) {
        for e in t.entries {
            switch e.key {
            case "allow", "deny", "confirm" where e.key != "confirm" || table == "tools":
                let key = "\(table).\(e.key)"
                guard let list = stringArray(e, key, expand: false) else { continue }
                var ok: [Sourced<String>] = []
                for g in list {
                    if g.value.isEmpty || g.value.unicodeScalars.contains(where: { $0.value < 0x20 }) {
                        sink.add(g.diagnostic("invalid pattern \"\(g.value)\"", hint: "a name or a glob such as \"git_log*\" (no control characters)"))
                    } else {
                        ok.append(g)
                    }
                }
                switch (table, e.key) {
                case ("tools", "confirm"): layer.toolsConfirm = ok
                case ("tools", "allow"): layer.toolsAllow = ok
                case ("tools", _): layer.toolsDeny = ok
                case ("resources", "allow"): layer.resourcesAllow = ok
                case ("resources", _): layer.resourcesDeny = ok
                case (_, "allow"): layer.promptsAllow = ok
                default: layer.promptsDeny = ok
                }
            case "pin" where table == "tools": layer.toolsPin = enumValue(e, "tools.pin", PinMode.self)
            case "pin_first_use" where table == "tools": layer.toolsPinFirstUse = bool(e, "tools.pin_first_use")
            case "confirm_timeout" where table == "tools": layer.toolsConfirmTimeout = confirmTimeout(e)
            default: unknownKey(e, table: table)
            }
        }
    }

    /// `[client]`: what the server may ask of the client (booleans, or `"form"` for elicitation; absent = allowed).
    mutating func readClient(_ t: TOMLTable) {
        for e in t.entries {
            switch e.key {
            case "sampling": layer.clientSampling = bool(e, "client.sampling")
            case "elicitation":
                if case .string("form") = e.value.kind {
                    layer.clientElicitation = Sourced(true, file: file, line: e.value.line, key: "client.elicitation")
                    layer.clientElicitationFormOnly = true
                } else if case .bool = e.value.kind {
                    layer.clientElicitation = bool(e, "client.elicitation")
                    layer.clientElicitationFormOnly = false
                } else {
                    var found = e.value.typeName
                    if case .string(let t) = e.value.kind { found = "\"\(t)\"" }
                    sink.add(diag(e.value.line, "client.elicitation", "expected true, false or \"form\", found \(found)",
                                  hint: "\"form\" allows form-mode elicitation only (no URL mode)"))
                }
            case "roots": layer.clientRoots = bool(e, "client.roots")
            default: unknownKey(e, table: "client")
            }
        }
    }

    /// `[tools] confirm_timeout`: seconds, a number greater than 0 and at most a day.
    mutating func confirmTimeout(_ e: TOMLEntry) -> Sourced<Double>? {
        let key = "tools.confirm_timeout"
        let v: Double
        switch e.value.kind {
        case .integer(let i): v = Double(i)
        case .float(let f): v = f
        default: typeError(e, key, expected: "a number of seconds such as 120"); return nil
        }
        guard v.isFinite, v > 0, v <= 86_400 else {
            sink.add(diag(e.value.line, key, "must be a number of seconds greater than 0 and at most 86400, found \(v)",
                          hint: "how long a held tools/call waits for the user's answer, e.g. 120"))
            return nil
        }
        // The relay's timer counts whole milliseconds: 1e-300 would have waited 1ms. Judged on
        // the digits written too (`1.0000000000000000001` is the Double 1.0).
        guard v >= 0.001, Units.isWholeMilliseconds(v), (e.value.floatText.flatMap(Units.decimalPlaces) ?? 0) <= 3 else {
            sink.add(diag(e.value.line, key, "\(v) s is not a whole number of milliseconds, the resolution mcpbox enforces",
                          hint: "round it to at most 3 decimals, e.g. 120 or 0.5"))
            return nil
        }
        return Sourced(v, file: file, line: e.value.line, key: key)
    }

    /// `[packages]`: package tools whose per-profile cache and registries mcpbox provides.
    mutating func readPackages(_ t: TOMLTable) {
        for e in t.entries {
            switch e.key {
            case "managers":
                for n in stringArray(e, "packages.managers", expand: false) ?? [] {
                    if let m = PackageManager(rawValue: n.value) {
                        layer.packageManagers.append(Sourced(m, file: file, line: n.line, key: "packages.managers"))
                    } else {
                        sink.add(n.diagnostic("unknown package manager \"\(n.value)\"",
                                              hint: "must be exactly " + PackageManager.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")))
                    }
                }
            case "offline": layer.packageOffline = enumValue(e, "packages.offline", PackageOffline.self)
            default: unknownKey(e, table: "packages")
            }
        }
    }

    mutating func readLandlock(_ t: TOMLTable) {
        for e in t.entries {
            switch e.key {
            case "mode": layer.landlockMode = enumValue(e, "landlock.mode", LandlockMode.self)
            case "tcp_bind": layer.landlockTCPBind = portList(e, "landlock.tcp_bind")
            case "tcp_connect": layer.landlockTCPConnect = portList(e, "landlock.tcp_connect")
            default: unknownKey(e, table: "landlock")
            }
        }
    }

    mutating func readIsolation(_ t: TOMLTable) {
        for e in t.entries {
            switch e.key {
            case "runtime": layer.isolationRuntime = enumValue(e, "isolation.runtime", IsolationRuntime.self)
            case "runsc":
                guard case .string(let raw) = e.value.kind else { typeError(e, "isolation.runsc", expected: "a string"); continue }
                guard let s = expand(raw, line: e.value.line, key: "isolation.runsc") else { continue }
                guard s.isAbsolutePath, let n = Paths.normalize(s) else {
                    sink.add(diag(e.value.line, "isolation.runsc", "path \"\(s)\" is not absolute or contains `..`",
                                  hint: "give the runsc program's absolute path, e.g. \"/usr/bin/runsc\""))
                    continue
                }
                layer.isolationRunsc = Sourced(n, file: file, line: e.value.line, key: "isolation.runsc")
            default: unknownKey(e, table: "isolation")
            }
        }
    }

    /// A list of TCP port numbers (0-65535).
    mutating func portList(_ e: TOMLEntry, _ key: String) -> [Sourced<UInt16>]? {
        guard case .array(let items) = e.value.kind else {
            typeError(e, key, expected: "an array of port numbers such as [443]")
            return nil
        }
        var out: [Sourced<UInt16>] = []
        var ok = true
        for (i, item) in items.enumerated() {
            guard case .integer(let v) = item.kind, v >= 0, v <= 65535 else {
                let found = if case .integer(let v) = item.kind { String(v) } else { item.typeName }
                sink.add(diag(item.line, key, "element \(i + 1): expected a port number from 0 to 65535, found \(found)"))
                ok = false
                continue
            }
            out.append(Sourced(UInt16(v), file: file, line: item.line, key: key))
        }
        return ok ? out : nil
    }

    mutating func readLimits(_ t: TOMLTable) {
        for e in t.entries {
            switch e.key {
            case "memory":
                if case .string(let text) = e.value.kind, text.hasPrefix("?") {
                    guard let bytes = Units.size(String(text.dropFirst())), bytes > 0 else {
                        sink.add(diag(e.value.line, "limits.memory", "invalid size \"\(text)\"",
                                      hint: "\"?SIZE\" (applied when a memory cgroup is usable), e.g. \"?1GiB\""))
                        break
                    }
                    layer.memory = Sourced(bytes, file: file, line: e.value.line, key: "limits.memory")
                    layer.memoryOptional = true
                } else {
                    layer.memory = size(e, "limits.memory")
                }
            case "processes": layer.processes = positiveInteger(e, "limits.processes")
            case "open_files": layer.openFiles = positiveInteger(e, "limits.open_files")
            case "cpu":
                let v: Double?
                switch e.value.kind {
                case .float(let d): v = d
                case .integer(let i): v = Double(i)
                default: v = nil; typeError(e, "limits.cpu", expected: "a number of cores such as 1.0")
                }
                if let v {
                    // Judged on the digits written too: past a Double's precision the value
                    // rounds to one that passes (`0.010000000000000001` is 0.01).
                    if let text = e.value.floatText, let places = Units.decimalPlaces(text), places > 5 {
                        sink.add(diag(e.value.line, "limits.cpu", "\(text) cores is not a whole number of microseconds per 100ms period (the kernel's resolution); use at most 5 decimals"))
                    } else if let problem = Units.cpuProblem(v) { sink.add(diag(e.value.line, "limits.cpu", problem)) }
                    else { layer.cpu = Sourced(v, file: file, line: e.value.line, key: "limits.cpu") }
                }
            case "wall_time": layer.wallTime = duration(e, "limits.wall_time")
            case "tmpfs_size": layer.tmpfsSize = size(e, "limits.tmpfs_size")
            case "shutdown_grace": layer.shutdownGrace = duration(e, "limits.shutdown_grace")
            default: unknownKey(e, table: "limits")
            }
        }
    }
}
