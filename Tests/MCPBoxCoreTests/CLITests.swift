import Foundation
import Testing
@testable import MCPBoxCore

/// Runs the built `mcpbox` binary.
enum CLI {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// `$MCPBOX_BIN`, else the `mcpbox` built next to the test bundle, else `.build/debug/mcpbox`.
    static func binary() throws -> String {
        if let env = ProcessInfo.processInfo.environment["MCPBOX_BIN"], !env.isEmpty { return env }
        var candidates: [String] = []
        if let exe = HostFS.executablePath() {
            var dir = Paths.dirname(exe)
            for _ in 0..<4 {
                candidates.append(dir + "/mcpbox")
                dir = Paths.dirname(dir)
            }
        }
        candidates.append(Fixture.packageRoot + "/.build/debug/mcpbox")
        guard let found = candidates.first(where: { HostFS.isExecutableFile($0) }) else {
            throw CLIError(message: "no mcpbox binary: build it or set MCPBOX_BIN (looked at \(candidates))")
        }
        return found
    }

    struct CLIError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static func run(_ args: [String], env: [String: String] = [:]) throws -> Output {
        try execute(try binary(), args, environment: usualEnvironment(env))
    }

    /// The test's environment without a profile path, with a private XDG_CONFIG_HOME and `env` on top.
    static func usualEnvironment(_ env: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["MCPBOX_PROFILE_PATH"] = nil
        environment["XDG_CONFIG_HOME"] = Scratch().path
        for (k, v) in env { environment[k] = v }
        return environment
    }

    /// Blocks the calling (non-async) test thread until `task` finishes.
    static func waitFor<T: Sendable>(_ task: Task<T, Never>) -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task { box.value = await task.value; done.signal() }
        done.wait()
        return box.value!
    }

    final class ResultBox<T>: @unchecked Sendable { var value: T? }

    /// Runs `executable ARGS` with stdin from /dev/null and collects its output.
    static func execute(_ executable: String, _ args: [String], environment: [String: String]) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        // stderr on its own thread: a chatty child must not block on a full pipe we are not reading.
        let errors = Task.detached { err.fileHandleForReading.readDataToEndOfFile() }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = waitFor(errors)
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

@Suite(.serialized) struct CLITests {
    let shipped = ["--profile-path", Fixture.shippedProfiles]

    @Test func everyShippedProfilePassesCheckStrict() throws {
        let repo = Scratch()
        let names = try FileManager.default.contentsOfDirectory(atPath: Fixture.shippedProfiles)
            .filter { $0.hasSuffix(".toml") }.map { String($0.dropLast(5)) }.sorted()
        #expect(names.contains("base") && names.contains("python") && names.contains("node")
                && names.contains("time") && names.contains("git"))
        // filesystem names its directories with --set (the server takes them as bare arguments).
        let output = Scratch()
        let dirs = ["--set", "input=\(repo.path)", "--set", "output=\(output.path)"]
        let r = try CLI.run(["check", "--strict", "--set", "repo=\(repo.path)"] + dirs + shipped + names)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        for n in names { #expect(r.stdout.contains("/\(n).toml: OK\n"), "\(r.stdout)") }
        #expect(r.stderr.isEmpty)
        // The files themselves, as a user's repository of profiles would be checked: no --set.
        let files = names.map { Fixture.shippedProfiles + "/\($0).toml" }
        let plain = try CLI.run(["check", "--strict"] + dirs + files)
        #expect(plain.status == 0, "\(plain.stdout)\(plain.stderr)")
        #expect(plain.stdout.contains("`${repo}` comes from the server command"), "\(plain.stdout)")
    }

    @Test func checkReportsErrorsAndWarnings() throws {
        let s = Scratch()
        s.write("base.toml", "")
        let bad = s.write("bad.toml", "[netwrok]\nmode = \"none\"\n")
        s.write("loud.toml", "[network]\nmode = \"host\"\n")
        var r = try CLI.run(["check", "--profile-path", s.path, "bad", "loud"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("error: \(bad):1: netwrok: unknown key (did you mean `network`?)"), "\(r.stdout)")
        #expect(r.stdout.contains("loud.toml: OK with 1 warning"))
        r = try CLI.run(["check", "--profile-path", s.path, "loud"])
        #expect(r.status == 0)
        r = try CLI.run(["check", "--strict", "--profile-path", s.path, "loud"])
        #expect(r.status == 1)
    }

    @Test func explainAndDryRunPrintTheSame() throws {
        let repo = Scratch()
        let explain = try CLI.run(["explain", "git", "--set", "repo=\(repo.path)"] + shipped)
        #expect(explain.status == 0, "\(explain.stderr)")
        #expect(explain.stdout.hasPrefix("mcpbox plan for profile `git`"))
        let dry = try CLI.run(["run", "--dry-run", "git", "--set", "repo=\(repo.path)"] + shipped)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout == explain.stdout)
        let json = try CLI.run(["explain", "--json", "time"] + shipped + ["--", "sh", "-c", "date"])
        let obj = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(obj?["schema"] as? Int == 1)
        #expect((obj?["command"] as? [String: Any])?["argv"] as? [String] == ["sh", "-c", "date"])
    }

    @Test func errorsGoToStderrWithExit125() throws {
        let s = Scratch()
        s.write("base.toml", "")
        let p = s.write("p.toml", "cwd = 1\n[limits]\nmemory = \"1 lightyear\"\n")
        for cmd in ["run", "explain"] {
            let r = try CLI.run([cmd, "--profile-path", s.path, "p", "--", "true"])
            #expect(r.status == 125)
            #expect(r.stdout.isEmpty)
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 2, "\(r.stderr)")
            #expect(lines.first == "mcpbox: \(p):1: cwd: expected a string, found integer")
            #expect(lines.last?.hasPrefix("mcpbox: \(p):3: limits.memory: invalid size \"1 lightyear\"") == true)
        }
        let missing = try CLI.run(["run", "git"] + shipped)
        #expect(missing.status == 125)
        #expect(missing.stderr.contains("undefined variable `${repo}`"))
        let usage = try CLI.run(["run", "--no-such-flag", "base"])
        #expect(usage.status == 125)
        #expect(usage.stderr.hasPrefix("mcpbox: "))
        #expect(usage.stdout.isEmpty)
        let nocmd = try CLI.run(["run", "base"] + shipped)
        #expect(nocmd.status == 125)
        #expect(nocmd.stderr.contains("command: no command to run"))
        let badSet = try CLI.run(["explain", "base", "--set", "novalue"] + shipped)
        #expect(badSet.status == 125)
        #expect(badSet.stderr.contains("--set novalue: expected K=V"))
    }

    @Test func profilePathEnvironmentVariable() throws {
        let s = Scratch()
        s.write("mine.toml", "description = \"mine\"\nextends = [\"base\"]\n")
        let r = try CLI.run(["explain", "--json", "mine"], env: ["MCPBOX_PROFILE_PATH": s.path + ":" + Fixture.shippedProfiles])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"description\": \"mine\""))
    }
    @Test("hostile: a planted key reached through a symlink in an optional bind is refused by run and explain (125); the server never reads it")
    func symlinkedCredentialsAreNeverRead() throws {
        let home = Scratch()
        home.mkdir(".ssh", mode: 0o755)
        let token = "canary-\(UInt64.random(in: 1...UInt64.max))"
        home.write(".ssh/id_canary", token + "\n", mode: 0o644)
        home.mkdir(".cache")
        #expect(symlink("../.ssh", home.path + "/.cache/uv") == 0)
        let s = Scratch()
        let profile = s.write("p.toml", "[filesystem]\nread_only = [\"?${HOME}/.cache/uv\"]\n")
        let env = ["HOME": home.path, "XDG_STATE_HOME": home.path + "/.local/state"]
        let args = ["--profile-path", s.path] + shipped + ["p", "--", "/bin/cat", home.path + "/.cache/uv/id_canary"]
        let run = try CLI.run(["run"] + args, env: env)
        #expect(run.status == 125, "\(run.stdout) \(run.stderr)")
        #expect(!run.stdout.contains(token))
        #expect(run.stderr.contains("mcpbox: \(profile):2: filesystem.read_only: refused: \(home.path)/.cache/uv (it resolves to \(home.path)/.ssh) exposes the credentials"), "\(run.stderr)")
        let explain = try CLI.run(["explain"] + args, env: env)
        #expect(explain.status == 125 && explain.stderr == run.stderr, "\(explain.stderr)")
        // Acknowledged: the grant is real (the server reads the key) and explain says so.
        s.write("p.toml", "[filesystem]\nread_only = [\"?${HOME}/.cache/uv\"]\naccept = [\"${HOME}/.ssh\"]\n")
        let accepted = try CLI.run(["run"] + args, env: env)
        #expect(accepted.status == 0 && accepted.stdout.contains(token), "\(accepted.stderr)")
        #expect(try CLI.run(["explain"] + args, env: env).stdout.contains("accepted        \(home.path)/.ssh: credentials (.ssh), read-only (p.toml:3: filesystem.accept)"))
    }

    @Test("hostile: root-started, a bind under a directory the account cannot traverse is refused; accepted, it is read")
    func rootStartedBindsDoNotWidenAccess() throws {
        guard HostFS.uid == 0 else { return }
        let h = Scratch()
        h.mkdir("closed", mode: 0o700)
        let data = h.mkdir("closed/data")
        let token = "secret-\(UInt64.random(in: 1...UInt64.max))"
        h.write("closed/data/secret", token, mode: 0o644)
        let s = Scratch()
        s.write("p.toml", "[filesystem]\nread_only = [\"\(data)\"]\n")
        let args = ["--profile-path", s.path] + shipped + ["p", "--", "/bin/cat", data + "/secret"]
        let run = try CLI.run(["run"] + args)
        #expect(run.status == 125 && !run.stdout.contains(token), "\(run.stdout) \(run.stderr)")
        #expect(run.stderr.contains("which the server's account (uid 65534) cannot traverse on the host"), "\(run.stderr)")
        #expect(try CLI.run(["explain"] + args).status == 125)
        s.write("p.toml", "[filesystem]\nread_only = [\"\(data)\"]\naccept = [\"\(data)\"]\n")
        let accepted = try CLI.run(["run"] + args)
        #expect(accepted.status == 0 && accepted.stdout == token, "\(accepted.stderr)")
    }

    @Test("run prints every warning explain shows, once, on stderr")
    func runPrintsWarningsOnce() throws {
        let s = Scratch()
        s.write("p.toml", "[env]\npass = [\"MY_TOKEN\"]\n[seccomp]\nallow = [\"ptrace\"]\n")
        let r = try CLI.run(["run", "--profile-path", s.path] + shipped + ["p", "--", "/bin/true"], env: ["MY_TOKEN": "x"])
        #expect(r.status == 0, "\(r.stderr)")
        let explain = try CLI.run(["explain", "--json", "--profile-path", s.path] + shipped + ["p"])
        let obj = try JSONSerialization.jsonObject(with: Data(explain.stdout.utf8)) as? [String: Any]
        let warnings = try #require(obj?["warnings"] as? [String])
        #expect(warnings.count >= 2)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        for w in warnings {
            let shown = w.hasPrefix(PlanBuilder.accessWarningPrefix) ? String(w.dropFirst(PlanBuilder.accessWarningPrefix.count)) : w
            #expect(lines.filter { $0 == "mcpbox: warning: " + shown }.count == 1, "\(w): \(r.stderr)")
        }
        #expect(lines.count == warnings.count, "\(r.stderr)")
    }

    @Test("caller-remap: the supplementary groups explain names are the ones the server keeps")
    func keptGroupsAreReal() throws {
        guard HostFS.uid == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { return }
        let h = Scratch()
        let token = "group-\(UInt64.random(in: 1...UInt64.max))"
        let file = h.write("shared", token, mode: 0o640)
        chown(file, 0, 100)
        let s = Scratch()
        s.write("p.toml", "[filesystem]\nread_only = [\"\(h.path)\"]\n")
        let setpriv = ["/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--groups", "100", "--", try CLI.binary()]
        func asNobody(_ args: [String]) throws -> CLI.Output {
            try CLI.execute(setpriv[0], Array(setpriv.dropFirst()) + args,
                            environment: ["PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "XDG_CONFIG_HOME": s.path + "/none"])
        }
        let explain = try asNobody(["explain", "--profile-path", s.path] + shipped + ["p"])
        #expect(explain.status == 0, "\(explain.stderr)")
        let users = Accounts().groupName(gid: 100).map { " (\($0))" } ?? ""
        #expect(explain.stdout.contains("groups kept     100\(users): your supplementary groups stay with the server"), "\(explain.stdout)")
        // The group really is kept: the server reads a file only group 100 may read.
        let run = try asNobody(["run", "--profile-path", s.path] + shipped + ["p", "--", "/bin/cat", file])
        #expect(run.status == 0 && run.stdout == token, "\(run.stdout) \(run.stderr)")
    }
    @Test("the home directory from the client (VS Code's ${workspaceFolder} via --set, or --repository) is refused by run and explain")
    func homeFromTheClientIsRefused() throws {
        let home = Scratch()
        let git = Fixture.shippedProfiles + "/git.toml"
        let line = try #require(try String(contentsOfFile: git, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.hasPrefix("read_write") }) + 1
        for args in [["--set", "repo=\(home.path)"], ["--", "mcp-server-git", "--repository", home.path]] {
            for cmd in ["run", "explain"] {
                let r = try CLI.run([cmd, "git"] + shipped + args, env: ["HOME": home.path])
                #expect(r.status == 125 && r.stdout.isEmpty, "\(r.stdout) \(r.stderr)")
                #expect(r.stderr.contains("mcpbox: \(git):\(line): filesystem.read_write: refused: \(home.path) is bound read-write and contains your home directory \(home.path)"), "\(r.stderr)")
            }
        }
    }
}
