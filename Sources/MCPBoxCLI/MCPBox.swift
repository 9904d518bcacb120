import ArgumentParser
import MCPBoxCore
import MCPBoxNetwork
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The `mcpbox` command: run, explain, check.
public struct MCPBox: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "mcpbox",
        abstract: "Run MCP servers in a sandbox.",
        discussion: "Exit status of `run`: the server's own; 128+N when signal N ended it; 125 when mcpbox failed (including command-line errors), 126 when the command cannot be executed, 127 when it is not found inside the sandbox.",
        version: MCPBoxVersion.current,
        subcommands: [Run.self, ExplainCommand.self, Check.self, Profiles.self, DoctorCommand.self, UserCommand.self, GrantCommand.self, RevokeCommand.self, SweepGuardCommand.self, WrapCommand.self, UnwrapCommand.self, AuditCommand.self, ExportCommand.self, EgressProxyCommand.self, ToolsCommand.self])
    public init() {}

    /// Parses and runs; command-line errors exit 125 with an `mcpbox:` message on stderr.
    public static func main() {
        // From argv itself: `CommandLine.arguments`'s first use looks its array type up by
        // mangled name (about 0.1 ms of every start).
        var arguments: [String] = []
        arguments.reserveCapacity(Int(CommandLine.argc))
        for i in 1..<max(1, Int(CommandLine.argc)) {
            guard let arg = CommandLine.unsafeArgv[i] else { continue }
            guard let text = String(validatingCString: arg) else {
                // Read as text, its bad bytes would become U+FFFD: the server would get another
                // argument, a --set path would name another directory.
                Stderr.write("mcpbox: argument \(i) is not valid UTF-8 (\(Explain.visible(String(cString: arg)))): mcpbox would pass it changed; give it in UTF-8")
                Glibc.exit(125)
            }
            arguments.append(text)
        }
        main(arguments)
    }

    /// Parses `arguments` and runs the chosen command; never returns.
    public static func main(_ arguments: [String]) -> Never {
        // Inside a gVisor sandbox, before anything that would outlive the exec of the server.
        if arguments.first == EgressForwarder.subcommand { Glibc.exit(EgressForwarder.main(arguments)) }
        // A closed 0-2 would be reused by the next open (the relay's signalfd as "stdin"):
        // give it /dev/null. A write to a vanished reader must fail with EPIPE, not kill mcpbox
        // (the server's own SIGPIPE disposition is reset in the child stage).
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) < 0 {
            _ = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)
        }
        signal(SIGPIPE, SIG_IGN)
        if let fast = FastRun.parse(arguments) {
            ExitArena.enabled = true
            Glibc.exit(Run.execute(profile: fast.profile, options: fast.options, dryRun: fast.dryRun, command: fast.command))
        }
        if let fast = FastExplain.parse(arguments) {
            ExitArena.enabled = true
            Glibc.exit(ExplainCommand.execute(profile: fast.profile, options: fast.options, json: fast.json, command: fast.command))
        }
        if let problem = usageProblem(arguments) {
            Stderr.write(problem)
            Glibc.exit(125)
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Glibc.exit(0)
        } catch let code as ExitCode {
            Glibc.exit(code.rawValue)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                Glibc.exit(0)
            }
            Stderr.write(message.hasPrefix("Error: ") ? "mcpbox: " + message.dropFirst(7) : "mcpbox: " + message)
            Glibc.exit(125)
        }
    }
}

extension MCPBox {
    /// The names `mcpbox SUBCOMMAND` accepts.
    static var subcommandNames: [String] {
        configuration.subcommands.compactMap { $0.configuration.commandName } + ["help"]
    }

    /// The message for a command line that cannot be meant as written (exit 125), or nil:
    /// nothing at all (usage), an unknown subcommand (did you mean), or `run`/`explain` with a
    /// server command but no `--` before it.
    static func usageProblem(_ arguments: [String]) -> String? {
        guard let first = arguments.first else {
            return helpMessage() + "\nmcpbox: no command given (see above)"
        }
        if first.hasPrefix("-") { return nil }
        guard subcommandNames.contains(first) else {
            return "mcpbox: unknown command `\(Explain.visible(first))`\(Suggest.didYouMean(first, in: subcommandNames))\n"
                + "Usage: mcpbox <subcommand>  (mcpbox --help lists them)"
        }
        guard first == "run" || first == "explain" else { return nil }
        var positionals: [String] = []
        var i = 1
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" { return nil }
            if a == "--set" || a == "--profile-path" {
                i += 2
                continue
            }
            if !a.hasPrefix("-") { positionals.append(a) }
            i += 1
        }
        guard positionals.count > 1 else { return nil }
        let rest = positionals.dropFirst().map { Explain.visible($0) }.joined(separator: " ")
        return "mcpbox: unexpected argument `\(Explain.visible(positionals[1]))`: did you forget `--` before the server's command?\n"
            + "  e.g. mcpbox \(first) \(Explain.visible(positionals[0])) -- \(rest)"
    }

    /// Profile names for shell completion: every NAME on the default search path.
    @Sendable static func completeProfileNames(_ words: [String], _ index: Int, _ prefix: String) -> [String] {
        let env = HostContext.current().environmentDictionary
        let dirs = ProfileLoader.labelledSearchPath(profilePath: [], environment: env)
        return ProfileLoader.listProfiles(dirs).filter { $0.wins && $0.name.hasPrefix(prefix) }.map(\.name)
    }
}

/// Writes to mcpbox's stderr (stdout belongs to the server or to explain/check output).
enum Stderr {
    static func write(_ text: String) { Launcher.printError(text) }
}

/// Options shared by the commands that resolve a profile.
struct ProfileOptions: ParsableArguments {
    @Option(name: .customLong("set"), help: ArgumentHelp("Define a profile variable ${K}.", valueName: "K=V"))
    var sets: [String] = []

    @Option(name: .customLong("profile-path"), help: ArgumentHelp("Directory searched first for profile NAMEs (repeatable, or colon-separated).", valueName: "DIR"))
    var profilePath: [String] = []

    /// The plain values, for planning.
    var selection: ProfileSelection { ProfileSelection(sets: sets, profilePath: profilePath) }
}

/// Which profile variables and search path a command was given (`--set`, `--profile-path`).
struct ProfileSelection: Equatable {
    var sets: [String] = []
    var profilePath: [String] = []

    /// Parsed `--set` values.
    func variables() throws(ProfileError) -> [String: String] {
        // Sized once: the first resize of a `[String: String]` looks its storage type up by name
        // (a scan of every conformance record, about 0.1 ms).
        var vars = [String: String](minimumCapacity: sets.count)
        var problems: [Diagnostic] = []
        for s in sets {
            guard let eq = s.firstIndex(of: "="), eq != s.startIndex else {
                problems.append(Diagnostic("--set \(s): expected K=V", hint: "e.g. --set repo=/srv/repo"))
                continue
            }
            let name = String(s[..<eq])
            guard ProfileLoader.isVariableName(name) else {
                problems.append(Diagnostic("--set \(s): invalid variable name `\(name)`", hint: "letters, digits and _ only"))
                continue
            }
            vars[name] = String(s[s.index(after: eq)...])
        }
        if !problems.isEmpty { throw ProfileError(problems) }
        return vars
    }

    /// Loads the profile and builds the plan: the one place both `run` and `explain` get it from.
    func plan(_ profile: String, command: [String], requireCommand: Bool, host: HostContext = .current()) throws(ProfileError) -> SandboxPlan {
        try planForCheck(profile, command: command, requireCommand: requireCommand, host: host, check: false).plan
    }

    /// `plan`, or for `check` (`check: true`) with `from_arg` variables allowed to stay undefined.
    func planForCheck(_ profile: String, command: [String], requireCommand: Bool, host: HostContext = .current(),
                      check: Bool, grant: Bool = false) throws(ProfileError) -> (plan: SandboxPlan, unresolved: [String: [String]]) {
        let env = host.environmentDictionary
        if let problem = ProfileLoader.searchPathProblem(environment: env) { throw ProfileError([problem]) }
        var loader = ProfileLoader(searchPath: ProfileLoader.defaultSearchPath(profilePath: profilePath, environment: env),
                                   variables: try variables(), environment: env, callerUid: host.callerUid,
                                   commandLine: command)
        loader.placeholdersForCheck = check
        let resolved = try loader.load(profile)
        var builder = PlanBuilder(profile: resolved, host: host, command: command, requireCommand: requireCommand)
        builder.forGrant = grant
        builder.createPackageCaches = !check
        let plan = try builder.build()
        return (plan, resolved.unresolvedFromArg)
    }
}

/// Prints the errors and exits 125.
func fail(_ error: ProfileError) -> ExitCode {
    // One line per diagnostic, control characters escaped (paths come from users' files).
    Stderr.write(error.diagnostics.map { Explain.visible("mcpbox: \($0)") }.joined(separator: "\n"))
    return ExitCode(125)
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an MCP server inside the sandbox described by PROFILE.")

    @Argument(help: "Profile NAME or path to a .toml file.", completion: .custom(MCPBox.completeProfileNames))
    var profile: String

    @OptionGroup var options: ProfileOptions

    @Flag(name: .customLong("dry-run"), help: "Print the plan (exactly what `explain` prints) and exit.")
    var dryRun = false

    @Flag(name: .customLong("verbose"), help: "Write every egress decision (network.mode = \"allow\") to stderr as JSON lines, unless network.log names a file.")
    var verbose = false

    @Argument(parsing: .postTerminator, help: "The server command (after `--`); default: the profile's `command`.")
    var command: [String] = []

    func run() throws {
        let status = Run.execute(profile: profile, options: options.selection, dryRun: dryRun, command: command, verbose: verbose)
        if status != 0 { throw ExitCode(status) }
    }

    /// Builds the plan and prints it (`--dry-run`) or launches it; returns the exit status.
    static func execute(profile: String, options: ProfileSelection, dryRun: Bool, command: [String], verbose: Bool = false) -> Int32 {
        let plan: SandboxPlan
        do { plan = try options.plan(profile, command: command, requireCommand: true) } catch { return fail(error).rawValue }
        if dryRun {
            switch RuntimeView.text(plan) {
            case .success(let text): print(text, terminator: "")
            case .failure(let r): return RuntimeView.refuse(r)
            }
            return 0
        }
        // Every warning `explain` shows, once per launch, before the server's own stderr.
        for w in plan.warnings {
            var text = Substring(w)
            for prefix in [PlanBuilder.accessWarningPrefix, PlanBuilder.limitsWarningPrefix] where text.hasPrefix(prefix) {
                text = text.dropFirst(prefix.count)
            }
            Stderr.write(Explain.visible("mcpbox: warning: " + String(text)))
        }
        // Every grant the profile accepted, at every launch: a profile file another server could
        // write (one outside mcpbox's own directories, inside that server's read-write grant)
        // could otherwise gain an accepted grant no one would hear of until `explain`.
        for a in plan.accepted {
            Stderr.write(Explain.visible("mcpbox: warning: accepted: \(a.path): \(a.reason) (\(a.origin))"))
        }
        let status = plan.isolation.runtime == .gvisor ? RuntimeView.launch(plan, verbose: verbose) : Launcher.run(plan, verbose: verbose)
        if status == 0 { PackageTools.sessionSucceeded(plan) }
        return status
    }
}

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show the effective restrictions of PROFILE without running anything.")

    @Argument(help: "Profile NAME or path to a .toml file.", completion: .custom(MCPBox.completeProfileNames))
    var profile: String

    @OptionGroup var options: ProfileOptions

    @Flag(help: "Print JSON (schema 1) instead of text.")
    var json = false

    @Argument(parsing: .postTerminator, help: "The server command (after `--`); default: the profile's `command`.")
    var command: [String] = []

    func run() throws {
        let status = ExplainCommand.execute(profile: profile, options: options.selection, json: json, command: command)
        if status != 0 { throw ExitCode(status) }
    }

    /// Builds the plan and prints its explanation; returns the exit status.
    static func execute(profile: String, options: ProfileSelection, json: Bool, command: [String]) -> Int32 {
        let plan: SandboxPlan
        do { plan = try options.plan(profile, command: command, requireCommand: false) } catch { return fail(error).rawValue }
        switch json ? RuntimeView.json(plan) : RuntimeView.text(plan) {
        case .success(let out): print(out, terminator: "")
        case .failure(let r): return RuntimeView.refuse(r)
        }
        return 0
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate and lint profiles; non-zero on errors (with --strict, on warnings too).")

    @Flag(help: "Fail on warnings too.")
    var strict = false

    @OptionGroup var options: ProfileOptions

    @Argument(help: "Profile NAMEs or paths.", completion: .custom(MCPBox.completeProfileNames))
    var profiles: [String]

    func run() throws {
        var failed = false
        for p in profiles {
            do {
                let (plan, unresolved) = try options.selection.planForCheck(p, command: [], requireCommand: false, check: true)
                let name = plan.profileFiles.last ?? p
                let lint = plan.warnings.filter { !$0.hasPrefix(PlanBuilder.invocationWarningPrefix) }
                let notes = plan.warnings.filter { $0.hasPrefix(PlanBuilder.invocationWarningPrefix) }
                if lint.isEmpty {
                    print("\(name): OK")
                } else {
                    print("\(name): OK with \(lint.count) warning\(lint.count == 1 ? "" : "s")")
                    for w in lint { print(Explain.visible("  warning: \(w)")) }
                    if strict { failed = true }
                }
                for n in notes { print(Explain.visible("  note: \(n)")) }
                for (name, flags) in unresolved.sorted(by: { $0.key < $1.key }) {
                    print("  note: `${\(name)}` comes from the server command (\(flags.joined(separator: " or ")) VALUE) or --set \(name)=VALUE; "
                        + "not given here, so the keys that use it were not checked")
                }
                if !plan.argv.isEmpty && plan.executable == nil {
                    print(Explain.visible("  note: `\(plan.argv[0])` is not found inside the sandbox on this host (run would exit 127; \(Explain.notFoundHint(plan.argv[0])))"))
                }
                if let x = plan.execProblem {
                    print(Explain.visible("  note: \(x.message) (run would exit \(x.exitStatus); \(x.hint))"))
                }
                switch RuntimeView.prepare(plan) {
                case .failure(let r)?:
                    failed = true
                    print(Explain.visible("  error: run would refuse: \(r.message) (\(r.hint))"))
                case .success(let p)?:
                    for w in p.warnings { print(Explain.visible("  warning: \(w)")) }
                    if strict && !p.warnings.isEmpty { failed = true }
                    for row in p.rows where row.status != .carried {
                        print(Explain.visible("  note: gvisor: \(row.restriction) \(row.status.rawValue): \(row.detail)"))
                    }
                case nil: break
                }
            } catch {
                failed = true
                print("\(p): \(error.count) error\(error.count == 1 ? "" : "s")")
                for d in error.diagnostics { print(Explain.visible("  error: \(d)")) }
            }
        }
        if failed { throw ExitCode(1) }
    }
}

struct Profiles: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profiles",
        abstract: "List every profile on the search path, where it comes from, and which one a NAME picks.")

    @Option(name: .customLong("profile-path"), help: ArgumentHelp("Directory searched first for profile NAMEs (repeatable, or colon-separated).", valueName: "DIR"))
    var profilePath: [String] = []

    func run() throws {
        let env = HostContext.current().environmentDictionary
        let dirs = ProfileLoader.labelledSearchPath(profilePath: profilePath, environment: env)
        print("search path (first match wins):")
        for (dir, origin) in dirs {
            let state = HostFS.info(dir)?.isDirectory == true ? "" : "  (absent)"
            print(Explain.visible("  \(origin.padding(19)) \(dir)\(state)"))
        }
        let all = ProfileLoader.listProfiles(dirs)
        let order = Dictionary(all.enumerated().map { ($1.path, $0) }, uniquingKeysWith: { a, _ in a })
        let sorted = all.sorted { $0.name != $1.name ? $0.name < $1.name : order[$0.path]! < order[$1.path]! }
        print("")
        if sorted.isEmpty { print("no profiles found"); return }
        let width = max(4, sorted.map(\.name.count).max() ?? 0) + 2
        print("NAME".padding(width) + "ORIGIN".padding(21) + "PATH")
        for p in sorted {
            print(Explain.visible(p.name.padding(width) + p.origin.padding(21) + p.path + (p.wins ? "" : "  (shadowed)")))
        }
    }
}

extension String {
    /// Left-aligned in `width` columns (never truncated).
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check what this kernel and user give mcpbox; non-zero when `run` cannot work here.")

    func run() throws {
        let facts = Doctor.Facts.current()
        let findings = Doctor.findings(facts)
        print(Doctor.render(findings, facts: facts), terminator: "")
        if Doctor.runCannotWork(findings) { throw ExitCode(1) }
    }
}

struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage dedicated system accounts for servers (add and remove need root).",
        subcommands: [Add.self, Remove.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a locked system account NAME (own group, no home, nologin) for [user] name = \"NAME\".")

        @Argument(help: "The account's name.")
        var name: String

        @Option(name: .customLong("for"), help: ArgumentHelp("Add NAME's uid and gid to LOGIN's /etc/subuid and /etc/subgid, so LOGIN can run servers as NAME.", valueName: "LOGIN"))
        var forLogin: String?

        func run() throws {
            do {
                let m = try ManagedAccounts().add(name, forLogin: forLogin)
                print("created \(m.name) (uid \(m.uid), gid \(m.gid))" + (m.forLogin.map { "; added \($0):\(m.uid):1 to /etc/subuid and \($0):\(m.gid):1 to /etc/subgid" } ?? ""))
                print("use it with [user] name = \"\(m.name)\" in a profile; then give it access to the profile's paths with: mcpbox grant PROFILE")
            } catch {
                Stderr.write("mcpbox: user add: \(error)")
                throw ExitCode(125)
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an account `user add` made, and exactly the subordinate-id lines it added.")

        @Argument(help: "The account's name.")
        var name: String

        func run() throws {
            do {
                let m = try ManagedAccounts().remove(name)
                print("removed \(m.name) (uid \(m.uid), gid \(m.gid))" + (m.forLogin.map { " and its lines for \($0) in /etc/subuid and /etc/subgid" } ?? ""))
            } catch {
                Stderr.write("mcpbox: user remove: \(error)")
                throw ExitCode(125)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the accounts mcpbox manages.")

        func run() throws {
            let all = ManagedAccounts().list()
            if all.isEmpty { print("no accounts made by mcpbox user add"); return }
            print("NAME".padding(20) + "UID".padding(8) + "GID".padding(8) + "FOR")
            for m in all { print(m.name.padding(20) + String(m.uid).padding(8) + String(m.gid).padding(8) + (m.forLogin ?? "-")) }
        }
    }
}

extension ProfileOptions {
    /// The plan `grant` and `revoke` work from: built as for a launch, without the "cannot
    /// traverse" refusal those two commands exist to fix.
    static func grantPlan(_ profile: String, _ options: ProfileOptions) throws -> SandboxPlan {
        do { return try options.selection.planForCheck(profile, command: [], requireCommand: false, check: false, grant: true).plan } catch { throw fail(error) }
    }
}

struct GrantCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grant",
        abstract: "Give PROFILE's dedicated account exactly the access its binds need, with POSIX ACLs (root).")

    @Argument(help: "Profile NAME or path to a .toml file.", completion: .custom(MCPBox.completeProfileNames))
    var profile: String

    @OptionGroup var options: ProfileOptions

    func run() throws {
        let plan = try ProfileOptions.grantPlan(profile, options)
        do {
            let entries = try Grants().grant(plan, profile: profile)
            if entries.isEmpty { print("\(plan.identity.userName) can already use every path of `\(profile)`: nothing to grant") }
            for e in entries {
                print("granted \(plan.identity.userName) \(e.perm) on \(e.path)" + (e.kind == .tree ? " (the whole tree, and as default ACL)" : ""))
            }
        } catch {
            Stderr.write("mcpbox: grant: \(error)")
            throw ExitCode(125)
        }
    }
}

struct RevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Undo `mcpbox grant PROFILE`: every ACL it changed is put back as it was (root).")

    @Argument(help: "Profile NAME or path to a .toml file.", completion: .custom(MCPBox.completeProfileNames))
    var profile: String

    @OptionGroup var options: ProfileOptions

    func run() throws {
        let plan = try ProfileOptions.grantPlan(profile, options)
        do {
            let touched = try Grants().revoke(account: plan.identity.userName, profile: profile)
            print("revoked what was granted to \(plan.identity.userName) for `\(profile)` (\(touched.count) path\(touched.count == 1 ? "" : "s") restored)")
        } catch {
            Stderr.write("mcpbox: revoke: \(error)")
            throw ExitCode(125)
        }
    }
}
