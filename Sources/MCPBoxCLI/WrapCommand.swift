import ArgumentParser
import MCPBoxClients
import MCPBoxCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Options shared by `wrap` and `unwrap`.
struct WrapArguments: ParsableArguments {
    @Argument(help: "A client configuration file (default: every known client's configuration that exists).", completion: .file())
    var files: [String] = []

    @Option(name: .customLong("client"), help: ArgumentHelp("Read FILE as this client's format: \(ClientKind.allCases.map(\.rawValue).joined(separator: ", ")) (default: guessed from the path).", valueName: "NAME"))
    var client: String?

    @Option(name: .customLong("server"), help: ArgumentHelp("Only this server entry (repeatable).", valueName: "NAME"))
    var servers: [String] = []

    @Flag(help: "Apply without asking (for scripts).")
    var yes = false

    @Flag(name: .customLong("dry-run"), help: "Only show the diff; write nothing.")
    var dryRun = false

    @Option(name: .customLong("profile-path"), help: ArgumentHelp("Directory searched first for existing profile NAMEs (repeatable, or colon-separated); an entry whose profile is found through it gets it as --profile-path.", valueName: "DIR"))
    var profilePath: [String] = []

    func session(_ mode: WrapSession.Mode) throws -> WrapSession {
        let host = HostContext.current()
        let env = host.environmentDictionary
        var forced: ClientKind?
        if let c = client {
            guard let k = ClientKind(rawValue: c) else {
                Stderr.write("mcpbox: --client \(Explain.visible(c)): unknown client; one of \(ClientKind.allCases.map(\.rawValue).joined(separator: ", "))")
                throw ExitCode(125)
            }
            forced = k
        }
        let cwd = HostFS.realPath(".") ?? "/"
        let locations: [ClientConfigs.Location]
        if files.isEmpty {
            // One file reached twice (a symlinked HOME, the project being the home) is edited once.
            var seen = Set<String>()
            locations = ClientConfigs.discover(environment: env, cwd: cwd).filter { forced == nil || $0.client == forced }
                .filter { seen.insert(HostFS.realPath($0.path) ?? $0.path).inserted }
            if locations.isEmpty {
                let looked = ClientConfigs.candidates(environment: env, cwd: cwd).filter { forced == nil || $0.client == forced }
                Stderr.write("mcpbox: no client configuration found; looked at:\n" + looked.map { "  \($0.path) (\($0.client.rawValue))" }.joined(separator: "\n")
                    + "\ngive the file: mcpbox \(mode == .wrap ? "wrap" : "unwrap") FILE [--client NAME]")
                throw ExitCode(125)
            }
        } else {
            var seen = Set<String>()
            locations = files.map { f in
                let path = f.hasPrefix("/") ? f : cwd + "/" + f
                return ClientConfigs.Location(path: path, client: forced ?? ClientKind.guess(path: path))
            }.filter { seen.insert(HostFS.realPath($0.path) ?? $0.path).inserted }
        }
        guard let dir = ClientConfigs.profileDirectory(environment: env) else {
            Stderr.write("mcpbox: neither XDG_CONFIG_HOME nor HOME is an absolute path: no profile directory to write to")
            throw ExitCode(125)
        }
        if mode == .wrap, let home = env["HOME"], dir != home + "/.config/mcpbox/profiles" {
            Stderr.write("mcpbox: note: starter profiles go to \(Explain.visible(dir)) (XDG_CONFIG_HOME); a client started without the same XDG_CONFIG_HOME will not find them there")
        }
        guard let me = ClientConfigs.selfExecutable(argv0: CommandLine.arguments.first ?? "", path: env["PATH"] ?? "", cwd: cwd) else {
            Stderr.write("mcpbox: cannot find mcpbox's own path (/proc/self/exe)")
            throw ExitCode(125)
        }
        // The client starts mcpbox without wrap's --profile-path and (as a rule) without its
        // MCPBOX_PROFILE_PATH: an entry whose profile wrap resolved through those directories
        // carries them as --profile-path (absolute: the client's working directory is not ours).
        let given = Self.givenDirectories(profilePath: profilePath, environment: env, cwd: cwd)
        var clientEnv = env
        clientEnv["MCPBOX_PROFILE_PATH"] = nil
        let loader = ProfileLoader(searchPath: ProfileLoader.defaultSearchPath(profilePath: given, environment: clientEnv),
                                   variables: [:], environment: env, callerUid: host.callerUid, commandLine: [])
        let clientLoader = ProfileLoader(searchPath: ProfileLoader.defaultSearchPath(profilePath: [], environment: clientEnv),
                                         variables: [:], environment: env, callerUid: host.callerUid, commandLine: [])
        var session = WrapSession(mode: mode, files: locations,
                                  options: WrapOptions(mcpbox: me, servers: Set(servers), path: env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
                                                       isSelf: Self.sameFileAsSelf),
                                  profileDirectory: dir, existingProfile: { loader.locate($0, relativeTo: nil) })
        var needsGiven: [String: Bool] = [:]
        session.runOptions = { name in
            guard !given.isEmpty else { return [] }
            if needsGiven[name] == nil { needsGiven[name] = Self.resolvesDifferently(name, loader, clientLoader) }
            return needsGiven[name] == true ? given.flatMap { ["--profile-path", $0] } : []
        }
        session.dryRun = dryRun
        session.yes = yes
        session.interactive = isatty(0) == 1
        session.confirm = {
            Stderr.write("Apply these changes? [y/N] ")
            guard let answer = readLine() else { return false }
            return ["y", "yes"].contains(answer.filter { !$0.isWhitespace }.lowercased())
        }
        session.err = { Stderr.write($0) }
        session.verifyProfile = { path in
            do {
                _ = try ProfileSelection(profilePath: profilePath).planForCheck(path, command: [], requireCommand: false, check: true)
                return []
            } catch let e as ProfileError {
                return e.diagnostics.map { Explain.visible("\($0)") }
            } catch {
                return [Explain.visible("\(error)")]
            }
        }
        return session
    }
}

extension WrapArguments {
    /// Whether the absolute `command` is this very executable (same device and inode as
    /// `/proc/self/exe`): mcpbox installed or copied under another name.
    static let sameFileAsSelf: @Sendable (String) -> Bool = { command in
        guard command.hasPrefix("/") else { return false }
        var a = stat(), b = stat()
        return stat(command, &a) == 0 && stat("/proc/self/exe", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

    /// The directories wrap searches before the default ones (`--profile-path`, then
    /// MCPBOX_PROFILE_PATH; colon-separated lists split), made absolute against `cwd`.
    static func givenDirectories(profilePath: [String], environment env: [String: String], cwd: String) -> [String] {
        var dirs: [String] = []
        for p in profilePath { dirs += p.split(separator: ":").map(String.init) }
        if let e = env["MCPBOX_PROFILE_PATH"] { dirs += e.split(separator: ":").map(String.init) }
        var seen = Set<String>()
        return dirs.map { $0.hasPrefix("/") ? $0 : Paths.join(cwd, $0) }.filter { seen.insert($0).inserted }
    }

    /// Whether profile NAME, or a file of its `extends` chain, is another file (or none) for
    /// `client` than for `wrap`. The chain is compared as `check` loads it (an unset `from_arg`
    /// variable is no error); a profile that does not load either way is compared by its file.
    static func resolvesDifferently(_ name: String, _ wrap: ProfileLoader, _ client: ProfileLoader) -> Bool {
        let mine = wrap.locate(name, relativeTo: nil)
        guard mine == client.locate(name, relativeTo: nil) else { return true }
        var a = wrap, b = client
        a.placeholdersForCheck = true
        b.placeholdersForCheck = true
        guard mine != nil, let chain = try? a.load(name) else { return false }
        guard let theirs = try? b.load(name) else { return true }
        return chain.files != theirs.files
    }
}

struct WrapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wrap",
        abstract: "Rewrite MCP client configurations so each local server runs under `mcpbox run NAME --`, with a starter profile NAME.",
        discussion: "Shows a unified diff and asks (--yes for scripts, --dry-run to only show it). Keeps a backup FILE.mcpbox-backup-YYYYMMDDTHHMMSS; `mcpbox unwrap` restores the entries.")

    @OptionGroup var arguments: WrapArguments

    func run() throws {
        let status = try arguments.session(.wrap).run()
        if status != 0 { throw ExitCode(status) }
    }
}

struct UnwrapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unwrap",
        abstract: "Restore the entries `mcpbox wrap` rewrote to their original command and args.")

    @OptionGroup var arguments: WrapArguments

    func run() throws {
        let status = try arguments.session(.unwrap).run()
        if status != 0 { throw ExitCode(status) }
    }
}
