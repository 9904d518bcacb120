import Foundation
import Testing
@testable import MCPBoxCore

/// The rough edges a new user hits first (issue 10, item 5): exit statuses, hints, discovery.
@Suite(.serialized) struct RoughEdgeTests {
    let shipped = ["--profile-path", Fixture.shippedProfiles]

    /// A scratch profile directory with `bc.toml` (base plus bind_command) and `plain.toml` (base only).
    func profiles() -> Scratch {
        let s = Scratch()
        s.write("bc.toml", "extends = \"base\"\n[filesystem]\nbind_command = true\n")
        s.write("plain.toml", "extends = \"base\"\n")
        return s
    }

    @Test func nonExecutableFileAndDirectoryExit126() throws {
        let p = profiles()
        let host = Scratch()
        let file = host.write("server.py", "print('x')\n", mode: 0o644)
        let dir = host.mkdir("serverdir")
        let path = ["--profile-path", p.path] + shipped

        let notExec = try CLI.run(["run"] + path + ["bc", "--", file])
        #expect(notExec.status == 126, "\(notExec.stderr)")
        #expect(notExec.stderr.contains("\(file) is not executable inside the sandbox"), "\(notExec.stderr)")
        #expect(notExec.stderr.contains("permission denied"))
        let isDir = try CLI.run(["run"] + path + ["bc", "--", dir])
        #expect(isDir.status == 126, "\(isDir.stderr)")
        #expect(isDir.stderr.contains("\(dir) is a directory"), "\(isDir.stderr)")

        // explain flags both, with the status run would exit with.
        for target in [file, dir] {
            let e = try CLI.run(["explain"] + path + ["bc", "--", target])
            #expect(e.status == 0, "\(e.stderr)")
            #expect(e.stdout.contains("FAILS: ") && e.stdout.contains("run would exit 126"), "\(e.stdout)")
        }
        // A directory the profile binds itself: 126 too.
        p.write("dirbound.toml", "extends = \"base\"\n[filesystem]\nread_only = [\"\(host.path)\"]\n")
        let bound = try CLI.run(["run"] + path + ["dirbound", "--", dir])
        #expect(bound.status == 126, "\(bound.stderr)")
        #expect(bound.stderr.contains("is a directory inside the sandbox"), "\(bound.stderr)")

        // Not bound at all: 127, and no "give an absolute path" for a path that is absolute.
        let unbound = try CLI.run(["run"] + path + ["plain", "--", file])
        #expect(unbound.status == 127)
        #expect(unbound.stderr.contains("exists on the host but is not bound"), "\(unbound.stderr)")
        #expect(!unbound.stderr.contains("give an absolute path"))
        let absent = try CLI.run(["run"] + path + ["plain", "--", host.path + "/nothing-here"])
        #expect(absent.status == 127)
        #expect(absent.stderr.contains("does not exist on the host either"), "\(absent.stderr)")
        #expect(!absent.stderr.contains("give an absolute path"))
        // A bare name: that hint still applies.
        let bare = try CLI.run(["run"] + path + ["plain", "--", "no-such-program-xyz"])
        #expect(bare.status == 127)
        #expect(bare.stderr.contains("give an absolute path"), "\(bare.stderr)")
    }

    @Test func interpreterScriptDirectoryIsBoundReadOnly() throws {
        let p = profiles()
        let host = Scratch()
        let script = host.write("app/server.py", """
            import os, sys
            print('script ran:', sys.argv[-1])
            try:
                open(os.path.join(os.path.dirname(__file__), 'planted'), 'w')
                print('wrote')
            except OSError as e:
                print('errno', e.errno)

            """)
        let dir = Paths.dirname(script)
        let dirs = [p.path, Fixture.shippedProfiles]

        guard case .success(let plan) = Fixture.plan("bc", dirs: dirs, command: ["/usr/bin/python3", "-u", script, "ok"]) else {
            Issue.record("plan failed"); return
        }
        let m = plan.mounts.first { $0.target == dir }
        #expect(m?.kind == .bind(source: dir, readOnly: true), "\(plan.mounts.map(\.target))")
        #expect(m?.origin.contains("filesystem.bind_command") == true)
        // `-m module` and `-c code` name no script; a profile without bind_command binds nothing.
        for argv in [["/usr/bin/python3", "-m", "json.tool", script], ["/usr/bin/python3", "-c", "pass", script]] {
            guard case .success(let other) = Fixture.plan("bc", dirs: dirs, command: argv) else { Issue.record("plan failed"); return }
            #expect(!other.mounts.contains { $0.target == dir })
        }
        guard case .success(let plain) = Fixture.plan("plain", dirs: dirs, command: ["/usr/bin/python3", script]) else {
            Issue.record("plan failed"); return
        }
        #expect(!plain.mounts.contains { $0.target == dir })

        // For real: the script runs, and its directory is read-only inside.
        let r = try CLI.run(["run", "--profile-path", p.path] + shipped + ["bc", "--", "/usr/bin/python3", script, "ok"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "script ran: ok\nerrno \(EROFS)\n", "\(r.stdout)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/planted"))
    }

    @Test func commandLineMistakes() throws {
        let noDash = try CLI.run(["run", "base", "/bin/true"] + shipped)
        #expect(noDash.status == 125)
        #expect(noDash.stderr.contains("did you forget `--` before the server's command?"), "\(noDash.stderr)")
        #expect(noDash.stderr.contains("mcpbox run base -- /bin/true"))
        let explainNoDash = try CLI.run(["explain", "--set", "a=b", "time", "uvx", "x"])
        #expect(explainNoDash.status == 125)
        #expect(explainNoDash.stderr.contains("did you forget `--`"))

        let typo = try CLI.run(["rnu", "base"])
        #expect(typo.status == 125)
        #expect(typo.stderr.contains("unknown command `rnu`; did you mean `run`?"), "\(typo.stderr)")
        let typo2 = try CLI.run(["exlpain"])
        #expect(typo2.stderr.contains("did you mean `explain`?"), "\(typo2.stderr)")

        let bare = try CLI.run([])
        #expect(bare.status == 125)
        #expect(bare.stdout.isEmpty)
        #expect(bare.stderr.contains("USAGE: mcpbox <subcommand>"), "\(bare.stderr)")

        let version = try CLI.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout == MCPBoxVersion.current + "\n")
        let json = try CLI.run(["explain", "--json", "time"] + shipped)
        let obj = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(obj?["mcpbox_version"] as? String == MCPBoxVersion.current)
    }

    @Test func profileNotFoundListsNamesAndDidYouMean() throws {
        let r = try CLI.run(["run", "tiem", "--profile-path", Fixture.shippedProfiles, "--", "/bin/true"])
        #expect(r.status == 125)
        #expect(r.stderr.contains("profile `tiem` not found; did you mean `time`?"), "\(r.stderr)")
        #expect(r.stderr.contains("available: base, browser, everything-wrong, fetch, filesystem, git, node, npx, python, python-interpreter, sqlite, time, uvx"), "\(r.stderr)")
        let far = try CLI.run(["explain", "zzzzzzzz"] + shipped)
        #expect(far.status == 125)
        #expect(!far.stderr.contains("did you mean"))
        #expect(far.stderr.contains("available: "))
    }

    @Test func profilesCommandShowsOriginsAndWinner() throws {
        let first = Scratch()
        let second = Scratch()
        first.write("time.toml", "extends = \"base\"\n")
        second.write("mine.toml", "extends = \"base\"\n")
        second.write("notes.txt", "not a profile")
        let r = try CLI.run(["profiles", "--profile-path", first.path], env: ["MCPBOX_PROFILE_PATH": second.path])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains("--profile-path") && $0.hasSuffix(first.path) }, "\(r.stdout)")
        #expect(lines.contains { $0.contains("MCPBOX_PROFILE_PATH") && $0.hasSuffix(second.path) })
        let times = lines.filter { $0.hasPrefix("time ") }
        #expect(times.count >= 2, "\(r.stdout)")
        #expect(times.first?.hasSuffix(first.path + "/time.toml") == true, "\(times)")
        #expect(times.dropFirst().allSatisfy { $0.hasSuffix("(shadowed)") })
        #expect(lines.contains { $0.hasPrefix("mine ") && $0.contains("MCPBOX_PROFILE_PATH") })
        #expect(!r.stdout.contains("notes"))
        // The shipped directory is listed with its origin.
        #expect(lines.contains { $0.hasPrefix("base ") && ($0.contains("source tree") || $0.contains("shipped")) })
    }

    @Test func tildeAndHomeGetTheVariableHint() throws {
        let s = Scratch()
        s.write("base.toml", "")
        s.write("p.toml", "cwd = \"~\"\n[filesystem]\nread_only = [\"~/data\", \"$HOME/x\", \"rel/y\"]\n")
        let errors = Fixture.errors("p", dirs: [s.path]).map(\.description)
        #expect(errors.contains { $0.contains("\"~/data\" is not absolute") && $0.contains("write \"${HOME}/data\"") }, "\(errors)")
        #expect(errors.contains { $0.contains("\"$HOME/x\" is not absolute") && $0.contains("write \"${HOME}/x\"") }, "\(errors)")
        #expect(errors.contains { $0.contains("cwd") && $0.contains("write \"${HOME}\"") }, "\(errors)")
        #expect(errors.contains { $0.contains("\"rel/y\" is not absolute") && $0.contains("starting with /") })
        #expect(Paths.absoluteHint("~alice/x") == "write the full path, starting with /")
        let cmd = try CLI.run(["run"] + shipped + ["base", "--", "~/bin/server"])
        #expect(cmd.status == 125)
        #expect(cmd.stderr.contains("write \"${HOME}/bin/server\""), "\(cmd.stderr)")
    }

    @Test func acknowledgedWarningsPassStrictAndAreExplained() throws {
        let s = Scratch()
        s.write("loud.toml", "extends = \"base\"\n[network]\nmode = \"host\"\n[env]\npass = [\"MY_TOKEN\"]\n"
            + "[seccomp]\npreset = \"permissive\"\ndefault_action = \"log\"\nallow = [\"ptrace\"]\n")
        s.write("quiet.toml", "extends = \"loud\"\n[network]\naccept = [\"host\"]\n[env]\naccept = [\"MY_TOKEN\"]\n"
            + "[seccomp]\naccept = [\"permissive\", \"log\", \"ptrace\"]\n")
        s.write("half.toml", "extends = \"loud\"\n[network]\naccept = [\"host\"]\n")
        s.write("bad.toml", "extends = \"base\"\n[network]\naccept = [\"hots\"]\n[seccomp]\naccept = [\"nosuchcall\"]\n[env]\naccept = [\"A=B\"]\n")
        let path = ["--profile-path", s.path] + shipped

        let loud = try CLI.run(["check", "--strict"] + path + ["loud"])
        #expect(loud.status == 1)
        #expect(loud.stdout.contains("OK with 5 warnings"), "\(loud.stdout)")
        let quiet = try CLI.run(["check", "--strict"] + path + ["quiet"])
        #expect(quiet.status == 0, "\(quiet.stdout)")
        #expect(quiet.stdout.contains("quiet.toml: OK\n"), "\(quiet.stdout)")
        let half = try CLI.run(["check", "--strict"] + path + ["half"])
        #expect(half.status == 1)
        #expect(half.stdout.contains("OK with 4 warnings"), "\(half.stdout)")

        let explain = try CLI.run(["explain"] + path + ["quiet"])
        #expect(explain.stdout.contains("acknowledged: network.mode = \"host\""), "\(explain.stdout)")
        #expect(explain.stdout.contains("[quiet.toml:3: network.accept]"))
        #expect(explain.stdout.contains("acknowledged: env.pass: `MY_TOKEN`"))
        #expect(explain.stdout.contains("acknowledged: seccomp.allow: `ptrace`"))
        let json = try CLI.run(["explain", "--json"] + path + ["quiet"])
        let obj = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let acks = obj?["acknowledged_warnings"] as? [[String: String]] ?? []
        #expect(acks.count == 5, "\(json.stdout)")
        #expect(acks.contains { $0["origin"] == "quiet.toml:5: env.accept" })

        let bad = try CLI.run(["check"] + path + ["bad"])
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("network.accept: unknown warning \"hots\""), "\(bad.stdout)")
        #expect(bad.stdout.contains("seccomp.accept: unknown warning \"nosuchcall\""))
        #expect(bad.stdout.contains("invalid variable name \"A=B\""))
    }

    @Test func pathWarningsAreAcknowledgedByFilesystemAccept() throws {
        let s = Scratch()
        s.write("dev.toml", "extends = \"base\"\n[filesystem]\nread_only = [\"/dev/shm\"]\n")
        s.write("devok.toml", "extends = \"dev\"\n[filesystem]\naccept = [\"/dev/shm\"]\n")
        let dirs = [s.path, Fixture.shippedProfiles]
        guard case .success(let loud) = Fixture.plan("dev", dirs: dirs), case .success(let ok) = Fixture.plan("devok", dirs: dirs) else {
            Issue.record("plan failed"); return
        }
        #expect(loud.warnings.contains { $0.contains("exposes a host device") })
        #expect(!ok.warnings.contains { $0.contains("exposes a host device") })
        #expect(ok.accepted.contains { $0.path == "/dev/shm" && $0.reason == "host device" })
    }

    @Test func bashCompletionOffersProfileNames() throws {
        let bin = try CLI.binary()
        let s = Scratch()
        s.write("zebra-server.toml", "extends = \"base\"\n")
        let script = try CLI.run(["--generate-completion-script", "bash"])
        #expect(script.status == 0)
        let file = s.write("complete.bash", script.stdout)
        let driver = "source \(file); COMP_WORDS=(\(bin) run ze); COMP_CWORD=2; COMP_LINE='\(bin) run ze'; "
            + "COMP_POINT=${#COMP_LINE}; _mcpbox; printf '%s\\n' \"${COMPREPLY[@]}\""
        let r = try CLI.execute("/bin/bash", ["-c", driver], environment: CLI.usualEnvironment(["MCPBOX_PROFILE_PATH": s.path]))
        #expect(r.stdout.split(separator: "\n").contains("zebra-server"), "\(r.stdout)\(r.stderr)")
        let t = try CLI.execute("/bin/bash", ["-c", driver.replacingOccurrences(of: " ze", with: " ti")],
                                environment: CLI.usualEnvironment(["MCPBOX_PROFILE_PATH": Fixture.shippedProfiles]))
        #expect(t.stdout.split(separator: "\n") == ["time"], "\(t.stdout)\(t.stderr)")
    }

    @Test func manPagesAreGeneratedFromTheCommandDefinitions() throws {
        let out = Scratch()
        var env = ProcessInfo.processInfo.environment
        env["MCPBOX_BIN"] = try CLI.binary()
        let r = try CLI.execute(Fixture.packageRoot + "/scripts/manpage", [out.path], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        for page in ["mcpbox", "mcpbox.run", "mcpbox.explain", "mcpbox.check", "mcpbox.profiles"] {
            #expect(FileManager.default.fileExists(atPath: out.path + "/\(page).1"), "\(r.stdout)")
        }
        let top = HostFS.readFile(out.path + "/mcpbox.1") ?? ""
        #expect(top.contains(".Dt MCPBOX 1") && top.contains("Fl -version"), "\(top)")
        let run = HostFS.readFile(out.path + "/mcpbox.run.1") ?? ""
        #expect(run.contains("Fl -dry-run") && run.contains("Fl -profile-path"))
    }
}
