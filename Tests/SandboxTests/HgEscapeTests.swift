import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Host Mercurial runs the hooks and extensions of an `.hg/hgrc` owned by the user running it
/// (and what it `%include`s, and the scripts it names). A hostile server with a read-write tree
/// plants them; afterwards real host `hg` runs there as the caller and as root, and no canary
/// the payloads would touch may appear. Found by a red-team pass; fails on the build before
/// `HgProtection`.
@Suite("Delayed escape through a writable Mercurial repository", .serialized,
       .enabled(if: TestSupport.isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/hg"),
                "creates throwaway accounts and runs host hg: run as root with mercurial installed (CI does)"))
struct HgEscapeTests {
    @Test("caller-remap: a repository the server creates is moved aside, and host hg runs nothing of it")
    func callerRemapNewRepository() throws {
        let s = try Scenario(dedicated: false, repository: false)
        defer { s.cleanUp() }
        let script = """
            cd \(s.work)
            for r in proj a/b/deep; do
              mkdir -p $r && hg init $r || exit 3
              printf '[hooks]\\npre-status = touch \(s.canaries)/hook-%s\\nprecommit = touch \(s.canaries)/commit-%s\\n[extensions]\\nevil = \(s.work)/evil.py\\n' ${r##*/} ${r##*/} > $r/.hg/hgrc
            done
            printf 'open("\(s.canaries)/extension", "w").close()\\n' > evil.py
            echo planted
            """
        let run = try s.mcpbox(["run"], command: ["/bin/sh", "-c", script])
        #expect(run.status == 0 && run.stdoutText.contains("planted"), "exit \(run.status): \(run.stdoutText) \(run.stderr.suffix(2000))")
        #expect(run.stderr.contains("mcpbox-quarantine"), "mcpbox did not say what it moved aside: \(run.stderr.suffix(2000))")
        for dir in ["proj", "a/b/deep"] {
            s.runHostHg(in: s.work + "/" + dir)
            let root = try runProcess(s.hostHg(as: s.caller) + ["-R", s.work + "/" + dir, "root"], environment: s.env, timeout: 60)
            #expect(root.status != 0, "host hg still finds a repository in \(dir): \(root.stdoutText)")
        }
        let fired = (try? FileManager.default.contentsOfDirectory(atPath: s.canaries)) ?? []
        #expect(fired.isEmpty, "host hg ran the server's payloads: \(fired.sorted())")
    }

    @Test("caller-remap: mcpbox SIGKILLed while the server runs: the sweep guard moves the new .hg aside")
    func callerRemapGuardSweeps() throws {
        let s = try Scenario(dedicated: false, repository: false)
        defer { s.cleanUp() }
        let script = """
            trap '' TERM HUP INT
            cd \(s.work) && hg init proj || exit 3
            printf '[hooks]\\npre-status = touch \(s.canaries)/guard\\n' > proj/.hg/hgrc
            echo planted
            while :; do sleep 1; done
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = Array(s.asCaller().dropFirst()) + [s.binary, "run", s.profile, "--profile-path", TestSupport.profilesDir, "--", "/bin/sh", "-c", script]
        p.environment = s.env
        p.currentDirectoryURL = URL(fileURLWithPath: "/")
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        let planted = String(decoding: output.fileHandleForReading.readData(ofLength: 8), as: UTF8.self)
        try #require(planted.hasPrefix("planted"), "the server did not plant: \(planted)")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let hg = s.work + "/proj/.hg"
        let deadline = Date().addingTimeInterval(20)
        while FileManager.default.fileExists(atPath: hg) && Date() < deadline { usleep(100_000) }
        #expect(!FileManager.default.fileExists(atPath: hg), "the guard did not move \(hg) aside")
        let log = (try? String(contentsOfFile: s.env["XDG_STATE_HOME"]! + "/mcpbox/quarantine.log", encoding: .utf8)) ?? ""
        #expect(log.contains(hg) && log.contains("Mercurial"), "quarantine log: \(log)")
        s.runHostHg(in: s.work + "/proj")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: s.canaries)) ?? []).isEmpty, "host hg ran the server's hook")
    }

    @Test("caller-remap: a read-write bind of a repository is refused by run and explain")
    func callerRemapRepositoryRefused() throws {
        let s = try Scenario(dedicated: false, repository: true)
        defer { s.cleanUp() }
        let run = try s.mcpbox(["run"], command: ["/bin/sh", "-c", "printf '[hooks]\\npre-status = touch \(s.canaries)/hook\\n' >> \(s.repo)/.hg/hgrc; echo planted"])
        #expect(run.status == 125 && run.stderr.contains("Mercurial repository") && run.stderr.contains("caller-remap"), "exit \(run.status): \(run.stderr)")
        #expect(!run.stdoutText.contains("planted"), "the server ran")
        let explain = try s.mcpbox(["explain"])
        #expect(explain.status == 125 && explain.stderr.contains("Mercurial repository"), "explain must refuse too: \(explain.status) \(explain.stderr)")
        s.runHostHg(in: s.repo)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: s.canaries)) ?? []).isEmpty)
    }

    @Test("dedicated account: the caller's hgrc, what it includes and the hook it names stay read-only; host hg runs nothing the server wrote")
    func dedicatedAccountExistingRepository() throws {
        let s = try Scenario(dedicated: true, repository: true)
        defer { s.cleanUp() }
        let explain = try s.mcpbox(["explain"])
        #expect(explain.status == 0, "\(explain.stderr)")
        // The hook's script with its directory (what lies beside a script runs with it).
        for path in [".hg/hgrc", "local.rc", "tools"] {
            let line = explain.stdoutText.split(separator: "\n").first { $0.contains(s.repo + "/" + path) && $0.contains("mcpbox: hg protection") }
            #expect(line != nil, "explain does not show \(path) bound read-only: \(explain.stdoutText)")
        }
        #expect(explain.stdoutText.contains("\(s.repo)/.hg: hgrc"), "explain has no hg line: \(explain.stdoutText)")
        #expect(explain.stdoutText.contains("\(s.repo)/.hg/hgrc-not-shared must not appear"), "\(explain.stdoutText)")
        let hook = "touch \(s.canaries)/%s"
        let script = """
            cd \(s.repo)
            try() { if sh -c "$2" 2>/dev/null; then echo "written $1"; else echo "refused $1"; fi; }
            try hgrc "printf '[hooks]\\npre-status.x = \(hook)\\n' hgrc >> .hg/hgrc"
            try include "printf '[hooks]\\npre-status.y = \(hook)\\n' include >> local.rc"
            try script "printf 'touch \(s.canaries)/script\\n' > tools/check.sh"
            try notshared "printf '[ui]\\neditor = \(hook)\\n' notshared > .hg/hgrc-not-shared"
            try nested "hg init nested && printf '[hooks]\\npre-status = \(hook)\\n' nested > nested/.hg/hgrc"
            echo done
            """
        let run = try s.mcpbox(["run"], command: ["/bin/sh", "-c", script])
        #expect(run.status == 0 && run.stdoutText.contains("done"), "exit \(run.status): \(run.stdoutText) \(run.stderr.suffix(2000))")
        for name in ["hgrc", "include", "script"] {
            #expect(run.stdoutText.contains("refused \(name)"), "\(name): \(run.stdoutText)")
        }
        for name in ["notshared", "nested"] {
            #expect(run.stdoutText.contains("written \(name)"), "the \(name) attack did not get set up: \(run.stdoutText)")
        }
        #expect(run.stderr.contains("hgrc-not-shared") && run.stderr.contains("nested/.hg"), "mcpbox did not say what it moved aside: \(run.stderr.suffix(2000))")
        let said = s.runHostHg(in: s.repo) + s.runHostHg(in: s.repo + "/nested")
        let fired = (try? FileManager.default.contentsOfDirectory(atPath: s.canaries)) ?? []
        #expect(fired.isEmpty, "host hg ran the server's payloads: \(fired.sorted())")
        // The caller's own hook still runs (host hg works there, with its configuration).
        #expect(said.contains("hg status in \(s.repo): 0"), "\(said)")
    }

    @Test("dedicated account: a repository without .hg/hgrc is refused (the server could create one)")
    func missingHgrcRefused() throws {
        let s = try Scenario(dedicated: true, repository: true)
        defer { s.cleanUp() }
        unlink(s.repo + "/.hg/hgrc")
        let explain = try s.mcpbox(["explain"])
        #expect(explain.status == 125 && explain.stderr.contains("touch \(s.repo)/.hg/hgrc"), "\(explain.status) \(explain.stderr)")
    }

    struct Scenario {
        let tmp: TempDir
        /// The ordinary user starting mcpbox (nil: root, with a dedicated account for the server).
        let caller: TestAccount?
        let server: TestAccount?
        let work: String, repo: String, canaries: String, binary: String, profile: String, env: [String: String]

        init(dedicated: Bool, repository: Bool) throws {
            tmp = try TempDir(prefix: "mcpbox-hgescape")
            chmod(tmp.path, 0o755)
            var made: [TestAccount] = []
            do {
                caller = dedicated ? nil : try TestAccount.create(prefix: "mcpbox-hgown")
                server = dedicated ? try TestAccount.create(prefix: "mcpbox-hgsrv") : nil
                made = [caller, server].compactMap { $0 }
                let home = try tmp.makeDir("home", mode: 0o755)
                work = try tmp.makeDir("home/work")
                repo = work + "/repo"
                canaries = try tmp.makeDir("canaries", mode: 0o777)
                env = ["PATH": "/usr/bin:/bin", "HOME": home, "XDG_STATE_HOME": home + "/.local/state", "LANG": "C.UTF-8"]
                if repository {
                    let r = try runProcess(["/usr/bin/hg", "init", repo], environment: env)
                    guard r.status == 0 else { throw SupportError("hg init: \(r.stderr)") }
                    _ = try tmp.write("home/work/repo/README", "hello\n")
                    _ = try tmp.makeDir("home/work/repo/tools")
                    _ = try tmp.write("home/work/repo/tools/check.sh", "true\n")
                    _ = try tmp.write("home/work/repo/local.rc", "")
                    _ = try tmp.write("home/work/repo/.hg/hgrc", "%include ../local.rc\n[hooks]\npre-status.check = sh tools/check.sh\n")
                }
                // The caller's tree; in the dedicated case the server may write all of it (as a
                // group grant would allow), the caller's configuration included.
                let owner = caller.map { "\($0.uid):\($0.gid)" } ?? "0:0"
                for cmd in [["/bin/chown", "-R", owner, home], ["/bin/chmod", "-R", "a+rwX", work]] {
                    let r = try runProcess(cmd)
                    guard r.status == 0 else { throw SupportError("\(cmd): \(r.stderr)") }
                }
                binary = tmp.sub("mcpbox")
                try FileManager.default.copyItem(atPath: try TestSupport.mcpboxBinary(), toPath: binary)
                chmod(binary, 0o755)
                var text = "[filesystem]\nread_write = [\(tomlString(repository ? repo : work))]\n"
                if let server { text = "[user]\nname = \(tomlString(server.name))\n\n" + text }
                profile = try tmp.write("hg-escape.toml", text)
            } catch {
                for a in made { a.delete() }
                tmp.remove()
                throw error
            }
        }

        func cleanUp() {
            server?.delete()
            caller?.delete()
            tmp.remove()
        }

        func asCaller() -> [String] {
            caller.map { ["/usr/bin/setpriv", "--reuid=\($0.uid)", "--regid=\($0.gid)", "--clear-groups", "--"] } ?? []
        }

        func mcpbox(_ sub: [String], command: [String] = []) throws -> ProcessResult {
            var argv = asCaller() + [binary] + sub + [profile, "--profile-path", TestSupport.profilesDir]
            if !command.isEmpty { argv += ["--"] + command }
            return try runProcess(argv, environment: env, currentDirectory: "/", timeout: 180)
        }

        func hostHg(as account: TestAccount?) -> [String] {
            (account.map { ["/usr/bin/setpriv", "--reuid=\($0.uid)", "--regid=\($0.gid)", "--clear-groups", "--"] } ?? [])
                + ["/usr/bin/hg", "--config", "ui.username=host <host@invalid>"]
        }

        /// Everyday host hg commands in `dir`, as the caller and as root; returns what they said.
        @discardableResult
        func runHostHg(in dir: String) -> String {
            var accounts: [TestAccount?] = [caller]
            if caller != nil { accounts.append(nil) }
            var said = ""
            for account in accounts {
                for args in [["status"], ["diff"], ["log", "-l", "1"], ["addremove"], ["commit", "-m", "host commit"], ["summary"]] {
                    let r = try? runProcess(hostHg(as: account) + ["--cwd", dir] + args, environment: env, currentDirectory: "/", timeout: 60)
                    said += "hg \(args.joined(separator: " ")) in \(dir): \(r.map { "\($0.status) \($0.stdoutText) \($0.stderr)" } ?? "not run")\n"
                }
            }
            return said
        }
    }
}
