import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A server with write access to a git repository (the shipped `git` profile) tries every way to
/// make host git run its code later (Fixtures/hostile/hostile_git.py); afterwards real host git
/// runs the everyday commands in that repository, as its owner and as root, and no canary the
/// payloads would touch may appear. One launch per identity mode.
@Suite("Delayed escape through a writable git repository", .serialized,
       .enabled(if: TestSupport.isRoot, "creates throwaway accounts: run as root (CI does)"))
struct GitEscapeTests {
    enum Mode: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// Root starts mcpbox with the shipped profile as is: the server runs as nobody.
        case rootNobody = "root, shipped profile (nobody)"
        /// Root starts mcpbox for a dedicated account.
        case rootAccount = "root, dedicated account"
        /// An ordinary user starts mcpbox for an account in their subordinate ids.
        case subordinate = "ordinary user, subordinate account"
        var testDescription: String { rawValue }
    }

    @Test("host git runs nothing the server wrote", arguments: Mode.allCases)
    func hostGitRunsNothing(mode: Mode) throws {
        let s = try Scenario(mode: mode)
        defer { s.cleanUp() }
        let run = try s.runServer()
        #expect(run.status == 0, "mcpbox run exited \(run.status): \(run.stderr.suffix(3000))")
        let report = (try? JSONSerialization.jsonObject(with: run.stdout) as? [String: [String: Any]]) ?? [:]
        try #require(!report.isEmpty, "no report from the hostile server: \(run.stderr.suffix(3000)) \(run.stdoutText.prefix(500))")
        // The server's legitimate work still works, and the hostile writes into what host git
        // runs were refused (the others are harmless by ownership or moved aside).
        #expect(report["legit_commit"]?["written"] as? Bool == true, "the server could not commit: \(report["legit_commit"] ?? [:])")
        // (config.worktree is read only when the configuration enables it, which it cannot.)
        for name in report.keys where (name.hasPrefix("config_") && name != "config_worktree") || name.hasPrefix("hook_") || name == "info_attributes"
            || name == "objects_alternates" || name == "hooks_dir_renamed" || name == "gitdir_renamed" {
            #expect(report[name]?["written"] as? Bool == false, "\(name) was written: \(report[name] ?? [:])")
        }
        // These attacks must reach their state inside the sandbox (else the host-side check
        // below proves nothing); what protects the host is the sweep after the session.
        for name in ["nested_gitlink", "hidden_nested_gitlink", "submodule_gitdir", "linked_worktree", "commondir", "rebase_exec",
                     "lookalike_links", "lookalike_commondir"] {
            #expect(report[name]?["written"] as? Bool == true, "the \(name) attack did not get set up: \(report[name] ?? [:])")
        }
        #expect(run.stderr.contains("commondir"), "mcpbox did not say it moved the planted commondir aside: \(run.stderr.suffix(2000)) \(report["commondir"] ?? [:])")

        s.runHostGit()
        let fired = (try? FileManager.default.contentsOfDirectory(atPath: s.canaries)) ?? []
        #expect(fired.isEmpty, "host git ran the server's payloads: \(fired.sorted())")
        // Host git still sees the server's commit (no safe.directory anywhere on the host).
        let log = try runProcess(s.hostGit(as: s.owner) + ["-C", s.repo, "log", "--format=%s"], environment: s.hostEnv)
        #expect(log.stdoutText.contains("legit commit from the sandbox"), "host git log: \(log.stdoutText) \(log.stderr)")
    }

    @Test("caller-remap: a read-write repository is refused (host git would trust the server's files)")
    func callerRemapRefused() throws {
        let s = try Scenario(mode: nil)
        defer { s.cleanUp() }
        let run = try s.runServer()
        #expect(run.status == 125, "exit \(run.status): \(run.stderr)")
        #expect(run.stderr.contains("caller-remap") && run.stderr.contains("dedicated account"), "\(run.stderr)")
        #expect(run.stdout.isEmpty, "the server ran: \(run.stdoutText.prefix(500))")
        let explain = try s.mcpbox(["explain"])
        #expect(explain.status == 125 && explain.stderr.contains("caller-remap"), "explain must refuse too: \(explain.status) \(explain.stderr)")
        s.runHostGit()
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: s.canaries)) ?? []).isEmpty)
    }

    @Test("a commondir left in a repository's .git is refused at the next launch")
    func plantedCommonDirRefused() throws {
        let s = try Scenario(mode: .rootAccount)
        defer { s.cleanUp() }
        _ = try s.tmp.write("work/repo/.git/commondir", "../elsewhere\n")
        let explain = try s.mcpbox(["explain"])
        #expect(explain.status == 125 && explain.stderr.contains("commondir"), "\(explain.status) \(explain.stderr)")
    }

    @Test("configuration naming the worktree (husky's hooksPath, an included file): the server cannot change what it names")
    func configurationNamingTheWorktree() throws {
        let s = try Scenario(mode: .rootAccount)
        defer { s.cleanUp() }
        _ = try s.tmp.makeDir("work/repo/.husky/_")
        _ = try s.tmp.write("work/repo/.gitconfig.local", "[user]\n\tname = local\n")
        let git = ["/usr/bin/git", "-C", s.repo, "config"]
        for cmd in [git + ["core.hooksPath", ".husky/_"], git + ["include.path", "../.gitconfig.local"],
                    ["/bin/chgrp", "-R", String(s.server!.gid), s.repo], ["/bin/chmod", "-R", "g+rwX", s.repo]] {
            let r = try runProcess(cmd, environment: s.hostEnv)
            try #require(r.status == 0, "\(cmd): \(r.stderr)")
        }
        try FileManager.default.removeItem(atPath: s.script)
        try FileManager.default.copyItem(atPath: HostileRun.fixtures + "/hostile_git_config.py", toPath: s.script)
        let run = try s.runServer()
        #expect(run.status == 0, "mcpbox run exited \(run.status): \(run.stderr.suffix(3000))")
        let report = (try? JSONSerialization.jsonObject(with: run.stdout) as? [String: [String: Any]]) ?? [:]
        try #require(report.count == 7, "no report from the hostile server: \(run.stderr.suffix(3000)) \(run.stdoutText.prefix(500))")
        #expect(report["legit_write"]?["written"] as? Bool == true, "\(report["legit_write"] ?? [:])")
        for name in report.keys where name != "legit_write" {
            #expect(report[name]?["written"] as? Bool == false, "\(name) was written: \(report[name] ?? [:])")
        }
        s.runHostGit()
        let fired = (try? FileManager.default.contentsOfDirectory(atPath: s.canaries)) ?? []
        #expect(fired.isEmpty, "host git ran the server's payloads: \(fired.sorted())")
    }

    /// husky 9's files as `npx husky` writes them: every hook in `.husky/_` sources `h`.
    static let huskyDispatcher = """
        #!/usr/bin/env sh
        [ "$HUSKY" = "2" ] && set -x
        n=$(basename "$0")
        s=$(dirname "$(dirname "$0")")/$n

        [ ! -f "$s" ] && exit 0

        if [ -f "$HOME/.huskyrc" ]; then
        	echo "husky - '~/.huskyrc' is DEPRECATED, please move your code to ~/.config/husky/init.sh"
        fi
        i="${XDG_CONFIG_HOME:-$HOME/.config}/husky/init.sh"
        [ -f "$i" ] && . "$i"

        [ "${HUSKY-}" = "0" ] && exit 0

        export PATH="node_modules/.bin:$PATH"
        sh -e "$s" "$@"
        c=$?

        [ $c != 0 ] && echo "husky - $n script failed (code $c)"
        [ $c = 127 ] && echo "husky - command not found in PATH=$PATH"
        exit $c

        """

    /// A husky 9 repository (hooks in `.husky/_` dispatching to `.husky/NAME`), with
    /// `node_modules/.bin` unless `withBin` is false, writable by the server's group.
    static func huskyRepository(_ s: Scenario, withBin: Bool = true) throws {
        _ = try s.tmp.makeDir("work/repo/.husky/_")
        _ = try s.tmp.write("work/repo/.husky/_/h", huskyDispatcher, mode: 0o755)
        for hook in ["pre-commit", "post-commit", "commit-msg"] {
            _ = try s.tmp.write("work/repo/.husky/_/\(hook)", "#!/usr/bin/env sh\n. \"$(dirname \"$0\")/h\"\n", mode: 0o755)
        }
        _ = try s.tmp.write("work/repo/.husky/_/.gitignore", "*\n")
        _ = try s.tmp.write("work/repo/.husky/pre-commit", "true\n", mode: 0o644)
        if withBin {
            _ = try s.tmp.makeDir("work/repo/node_modules")
            _ = try s.tmp.makeDir("work/repo/node_modules/.bin")
        }
        for cmd in [["/usr/bin/git", "-C", s.repo, "config", "core.hooksPath", ".husky/_"],
                    ["/bin/chgrp", "-R", String(s.server!.gid), s.repo], ["/bin/chmod", "-R", "g+rwX", s.repo]] {
            let r = try runProcess(cmd, environment: s.hostEnv)
            try #require(r.status == 0, "\(cmd): \(r.stderr)")
        }
    }

    @Test("husky 9: the server cannot change the hook scripts its dispatcher runs, nor put an `sh` in node_modules/.bin")
    func huskyDispatchTargetsProtected() throws {
        let s = try Scenario(mode: .rootAccount)
        defer { s.cleanUp() }
        try Self.huskyRepository(s)
        try FileManager.default.removeItem(atPath: s.script)
        try FileManager.default.copyItem(atPath: HostileRun.fixtures + "/hostile_husky.py", toPath: s.script)
        let explain = try s.mcpbox(["explain"])
        #expect(explain.status == 0, "\(explain.stderr)")
        for path in ["\(s.repo)/.husky ", "\(s.repo)/node_modules/.bin "] {
            #expect(explain.stdoutText.contains(path) && explain.stdoutText.contains("git protection (core.hookspath: husky)"),
                    "explain does not show \(path)as protected: \(explain.stdoutText)")
        }
        let run = try s.runServer()
        #expect(run.status == 0, "mcpbox run exited \(run.status): \(run.stderr.suffix(3000))")
        let report = (try? JSONSerialization.jsonObject(with: run.stdout) as? [String: [String: Any]]) ?? [:]
        try #require(report.count == 6, "no report from the hostile server: \(run.stderr.suffix(3000)) \(run.stdoutText.prefix(500))")
        #expect(report["legit_write"]?["written"] as? Bool == true, "\(report["legit_write"] ?? [:])")
        for name in report.keys where name != "legit_write" {
            #expect(report[name]?["written"] as? Bool == false, "\(name) was written: \(report[name] ?? [:])")
        }
        s.runHostGit()
        let fired = (try? FileManager.default.contentsOfDirectory(atPath: s.canaries)) ?? []
        #expect(fired.isEmpty, "host git ran the server's payloads through husky: \(fired.sorted())")
        // The dispatcher still works for the owner: their own hook ran (it is `true`), and commits went in.
        let log = try runProcess(s.hostGit(as: nil) + ["-C", s.repo, "log", "--format=%s"], environment: s.hostEnv)
        #expect(log.stdoutText.contains("host commit"), "\(log.stdoutText) \(log.stderr)")
    }

    @Test("husky 9 without node_modules/.bin: refused (the server could create it, first in the hooks' PATH)")
    func huskyWithoutBinRefused() throws {
        let s = try Scenario(mode: .rootAccount)
        defer { s.cleanUp() }
        try Self.huskyRepository(s, withBin: false)
        for sub in [["explain"], ["run"]] {
            let r = try s.mcpbox(sub, command: sub == ["run"] ? ["/bin/true"] : [])
            #expect(r.status == 125 && r.stderr.contains("\(s.repo)/node_modules/.bin") && r.stderr.contains("husky"),
                    "\(sub): \(r.status) \(r.stderr)")
        }
    }

    /// One repository, its owner, the server's account, and the hostile server's files.
    struct Scenario {
        var tmp: TempDir
        var repo: String
        var canaries: String
        var owner: TestAccount?
        var server: TestAccount?
        var binary: String
        var profile: String
        var configFile: String
        var script: String

        var hostEnv: [String: String] { ["PATH": "/usr/bin:/bin", "HOME": tmp.path, "LANG": "C.UTF-8"] }

        /// `mode` nil: an ordinary user without `[user]` (caller remap).
        init(mode: Mode?) throws {
            tmp = try TempDir(prefix: "mcpbox-gitescape")
            chmod(tmp.path, 0o755)
            do {
                let caller: TestAccount? = (mode == .subordinate || mode == nil) ? try TestAccount.create(prefix: "mcpbox-gitown") : nil
                owner = caller
                switch mode {
                case .rootAccount, .subordinate: server = try TestAccount.create(prefix: "mcpbox-gitsrv")
                case .rootNobody, nil: server = nil
                }
                if mode == .subordinate, let caller, let server {
                    let grant = try runProcess(["/usr/sbin/usermod", "--add-subuids", "\(server.uid)-\(server.uid)",
                                                "--add-subgids", "\(server.gid)-\(server.gid)", caller.name])
                    guard grant.status == 0 else { throw SupportError("usermod: \(grant.stderr)") }
                }
                canaries = try tmp.makeDir("canaries", mode: 0o777)
                repo = try tmp.makeDir("work/repo")
                _ = try tmp.write("work/repo/README", "hello\n")
                // Directories of the owner's, where a server may write (a git directory it made
                // there passes host git's ownership check).
                _ = try tmp.makeDir("work/repo/docs/api")
                let git = ["/usr/bin/git", "-c", "user.name=owner", "-c", "user.email=owner@invalid", "-c", "init.defaultBranch=main"]
                for step in [["init", "-q", repo], ["-C", repo, "add", "README"], ["-C", repo, "commit", "-q", "-m", "initial"]] {
                    let r = try runProcess(git + step, environment: ["PATH": "/usr/bin:/bin", "HOME": tmp.path])
                    guard r.status == 0 else { throw SupportError("git \(step): \(r.stderr)") }
                }
                // The owner's repository; the server's group may write it (as `mcpbox grant`-style
                // access would allow), directories setgid so what it creates stays shared.
                let ownerSpec = caller.map { "\($0.uid):\($0.gid)" } ?? "0:0"
                let group = server?.gid ?? 65534
                for cmd in [["/bin/chown", "-R", ownerSpec, tmp.sub("work")],
                            ["/bin/chgrp", "-R", String(group), repo],
                            ["/bin/chmod", "-R", "g+rwX", repo],
                            ["/usr/bin/find", repo, "-type", "d", "-exec", "/bin/chmod", "g+s", "{}", "+"]] {
                    let r = try runProcess(cmd)
                    guard r.status == 0 else { throw SupportError("\(cmd): \(r.stderr)") }
                }
                let bin = try tmp.makeDir("bin")
                script = bin + "/hostile_git.py"
                try FileManager.default.copyItem(atPath: HostileRun.fixtures + "/hostile_git.py", toPath: script)
                chmod(script, 0o644)
                binary = tmp.sub("mcpbox")
                try FileManager.default.copyItem(atPath: try TestSupport.mcpboxBinary(), toPath: binary)
                chmod(binary, 0o755)
                configFile = try tmp.write("bin/config.json", String(decoding: try JSONSerialization.data(
                    withJSONObject: ["repo": repo, "canary_dir": canaries]), as: UTF8.self))
                var text = "description = \"the shipped git profile, hostile-server test\"\nextends = [\"git\"]\n\n"
                if let server { text += "[user]\nname = \(tomlString(server.name))\n\n" }
                text += "[filesystem]\nread_only = [\(tomlString(bin))]\n"
                profile = try tmp.write("git-escape.toml", text)
            } catch {
                owner?.delete()
                server?.delete()
                tmp.remove()
                throw error
            }
        }

        func cleanUp() {
            server?.delete()
            owner?.delete()
            tmp.remove()
        }

        /// Runs `mcpbox SUBCOMMAND profile …` as the owner (root when the owner is root).
        func mcpbox(_ sub: [String], command: [String] = []) throws -> ProcessResult {
            var argv = owner.map { ["/usr/bin/setpriv", "--reuid=\($0.uid)", "--regid=\($0.gid)", "--clear-groups", "--"] } ?? []
            argv += [binary] + sub + [profile, "--profile-path", TestSupport.profilesDir, "--set", "repo=\(repo)"]
            if !command.isEmpty { argv += ["--"] + command }
            return try runProcess(argv, environment: hostEnv, currentDirectory: "/", timeout: 180)
        }

        func runServer() throws -> ProcessResult {
            try mcpbox(["run"], command: [try TestSupport.systemPython(), script, configFile, "--repository", repo])
        }

        func hostGit(as account: TestAccount?) -> [String] {
            (account.map { ["/usr/bin/setpriv", "--reuid=\($0.uid)", "--regid=\($0.gid)", "--clear-groups", "--"] } ?? [])
                + ["/usr/bin/git", "-c", "user.name=host", "-c", "user.email=host@invalid"]
        }

        /// The everyday host git commands, as the owner and as root, in the repository and in
        /// every repository-looking directory the server left in it.
        func runHostGit() {
            var accounts: [TestAccount?] = [owner]
            if owner != nil { accounts.append(nil) }
            for account in accounts {
                let git = hostGit(as: account)
                for args in [["rebase", "--continue"], ["status"], ["diff"], ["diff", "--cached"], ["log", "-1", "-p"], ["show"],
                             ["commit", "-q", "--allow-empty", "-m", "host commit"], ["add", "-A"],
                             ["commit", "-q", "-m", "host commit of the server's files"],
                             ["submodule", "update", "--init", "--recursive"], ["submodule", "status"],
                             ["worktree", "list"], ["fetch", "-q", "."], ["gc", "-q", "--auto"]] {
                    _ = try? runProcess(git + ["-C", repo] + args, environment: hostEnv, timeout: 60)
                }
                for sub in ["sub", "nested", "w", "evil-common", "lookalike/sub", "docs", "docs/api"] {
                    _ = try? runProcess(git + ["-C", repo + "/" + sub, "status"], environment: hostEnv, timeout: 60)
                    _ = try? runProcess(git + ["-C", repo + "/" + sub, "fetch", "-q", "origin"], environment: hostEnv, timeout: 60)
                }
            }
        }
    }
}
