import Foundation
import Testing
@testable import MCPBoxCore

/// Profile + command line → SandboxPlan.
@Suite struct PlanTests {
    /// Host account files for identity tests.
    func accounts(_ s: Scratch, subuid: String = "", subgid: String = "") -> Accounts {
        s.write("etc/passwd", """
            root:x:0:0:root:/root:/bin/bash
            alice:x:1000:1000:Alice:/home/alice:/bin/bash
            mcp-git:x:990:990::/nonexistent:/usr/sbin/nologin
            svc:x:991:991::/nonexistent:/bin/false
            toor:x:0:995::/root:/usr/sbin/nologin
            shelly:x:992:992::/home/shelly:/bin/sh
            """)
        s.write("etc/group", "root:x:0:\nalice:x:1000:\nmcp-git:x:990:\n")
        s.write("etc/subuid", subuid)
        s.write("etc/subgid", subgid)
        return Accounts(root: s.path)
    }

    func profileDir(_ text: String, in parent: String? = nil) -> Scratch {
        let s = parent.map { Scratch(in: $0) } ?? Scratch()
        s.write("base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        s.write("p.toml", text)
        return s
    }

    @Test func identityRootWithoutUserIsNobody() throws {
        let s = profileDir("")
        let host = Fixture.host(uid: 0, gid: 0, accounts: accounts(s))
        let plan = try #require(Fixture.plan("p", dirs: [s.path], host: host).plan)
        #expect(plan.identity.mechanism == .rootNobody)
        #expect(plan.identity.hostUid == 65534 && plan.identity.hostGid == 65534)
        #expect(plan.identity.home == "/home/nobody")
        #expect(plan.warnings.contains { $0.contains("shared `nobody` account") })
    }

    @Test func identityRootWithDedicatedAccount() throws {
        let s = profileDir("[user]\nname = \"mcp-git\"\n")
        let host = Fixture.host(uid: 0, gid: 0, accounts: accounts(s))
        let plan = try #require(Fixture.plan("p", dirs: [s.path], host: host).plan)
        #expect(plan.identity == Identity(mechanism: .rootAccount, userName: "mcp-git", groupName: "mcp-git", insideUid: 990,
                                          insideGid: 990, hostUid: 990, hostGid: 990, home: "/home/mcp-git", callerUid: 0, callerGid: 0))
        #expect(plan.environment.first { $0.name == "HOME" }?.value == "/home/mcp-git")
        #expect(plan.environment.first { $0.name == "USER" }?.value == "mcp-git")
        #expect(plan.cwd == "/home/mcp-git")
        #expect(plan.mounts.contains { $0.target == "/home/mcp-git" && $0.kind == .tmpfs(sizeBytes: 64 << 20) })
        let passwd = plan.mounts.first { $0.target == "/etc/passwd" }
        #expect(passwd?.kind == .file(contents: "root:x:0:0:root:/root:/usr/sbin/nologin\nmcp-git:x:990:990::/home/mcp-git:/bin/sh\n"))
        #expect(plan.mounts.first { $0.target == "/etc/group" }?.kind == .file(contents: "root:x:0:\nmcp-git:x:990:\n"))
        // /bin/false also counts as a non-login shell.
        let svc = profileDir("[user]\nname = \"svc\"\n")
        #expect(Fixture.plan("p", dirs: [svc.path], host: Fixture.host(uid: 0, gid: 0, accounts: accounts(svc))).plan?.identity.hostUid == 991)
    }

    @Test func identityRefusals() {
        for (name, fragment, hint) in [
            ("ghost", "the account `ghost` does not exist", "useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ghost"),
            ("alice", "can log in (shell /bin/bash)", "usermod --shell /usr/sbin/nologin alice"),
            ("shelly", "can log in (shell /bin/sh)", "usermod"),
            ("toor", "has uid/gid 0", "dedicated unprivileged account"),
        ] {
            let s = profileDir("description = \"x\"\n[user]\nname = \"\(name)\"\n")
            let errs = Fixture.errors("p", dirs: [s.path], host: Fixture.host(uid: 0, gid: 0, accounts: accounts(s)))
            #expect(errs.count == 1, "\(errs)")
            #expect(errs.first?.message.contains(fragment) == true, "\(errs)")
            #expect(errs.first?.hint?.contains(hint) == true, "\(errs)")
            #expect(errs.first?.key == "user.name" && errs.first?.line == 3 && errs.first?.file == s.path + "/p.toml")
        }
    }

    @Test func identityOrdinaryCaller() throws {
        let s = profileDir("[user]\nname = \"mcp-git\"\n")
        let ok = accounts(s, subuid: "alice:100000:65536\n1000:990:1\n", subgid: "alice:990:10\n")
        var plan = try #require(Fixture.plan("p", dirs: [s.path], host: Fixture.host(uid: 1000, gid: 1000, accounts: ok)).plan)
        #expect(plan.identity.mechanism == .subordinate)
        #expect(plan.identity.hostUid == 990 && plan.identity.insideUid == 990)

        let bad = accounts(s, subuid: "alice:100000:65536\n", subgid: "alice:100000:65536\n")
        let errs = Fixture.errors("p", dirs: [s.path], host: Fixture.host(uid: 1000, gid: 1000, accounts: bad))
        #expect(errs.count == 2, "\(errs)")
        #expect(errs[0].hint == "as root, add the line `alice:990:1` to \(s.path)/etc/subuid")
        #expect(errs[1].hint == "as root, add the line `alice:990:1` to \(s.path)/etc/subgid")

        let none = profileDir("")
        plan = try #require(Fixture.plan("p", dirs: [none.path], host: Fixture.host(uid: 1000, gid: 1000, accounts: accounts(none))).plan)
        #expect(plan.identity == Identity(mechanism: .callerRemap, userName: "alice", groupName: "alice", insideUid: 1000, insideGid: 1000,
                                          hostUid: 1000, hostGid: 1000, home: "/home/alice", callerUid: 1000, callerGid: 1000))
        #expect(Explain.text(plan).contains("the host sees the server as you (uid 1000)"))
    }

    @Test func mountsAreOrderedAndComplete() throws {
        let s = profileDir("")
        let h = Scratch()
        let repo = h.mkdir("repo")
        h.mkdir("repo/sub")
        h.write("repo/.env", "SECRET=1")
        s.write("p.toml", """
            [filesystem]
            read_write = ["\(repo)"]
            read_only = ["\(repo)/sub"]
            tmpfs = ["/var/cache/x"]
            hide = ["\(repo)/.env"]
            """)
        let plan = try #require(Fixture.plan("p", dirs: [s.path]).plan)
        let targets = plan.mounts.map(\.target)
        for (i, a) in targets.enumerated() {
            for b in targets[(i + 1)...] where b != a {
                #expect(!Paths.isWithin(a, b), "\(b) must come before its child \(a): \(targets)")
            }
        }
        #expect(plan.mounts.last == Mount(target: repo + "/.env", kind: .hide(isDirectory: false), origin: "p.toml: filesystem.hide"))
        #expect(plan.mounts.contains(Mount(target: repo, kind: .bind(source: repo, readOnly: false), origin: "p.toml: filesystem.read_write")))
        #expect(plan.mounts.contains(Mount(target: repo + "/sub", kind: .bind(source: repo + "/sub", readOnly: true), origin: "p.toml: filesystem.read_only")))
        #expect(plan.mounts.contains(Mount(target: "/tmp", kind: .tmpfs(sizeBytes: 64 << 20), origin: "mcpbox default")))
        #expect(plan.mounts.contains(Mount(target: "/var/cache/x", kind: .tmpfs(sizeBytes: 64 << 20), origin: "p.toml: filesystem.tmpfs")))
        #expect(plan.mounts.contains { $0.target == "/proc" && $0.kind == .proc })
        #expect(plan.mounts.contains { $0.target == "/dev" && $0.kind == .dev })
        #expect(plan.mounts.contains { $0.target == "/etc/hosts" })
        #expect(plan.namespaces == Namespace.allCases)
        #expect(plan.hostname == "mcpbox")
    }

    @Test func mergedUsrSymlinksAreMirrored() throws {
        guard let link = HostFS.readLink("/bin"), HostFS.realPath("/bin") == "/usr/bin" else { return }
        let s = profileDir("")
        let plan = try #require(Fixture.plan("p", dirs: [s.path]).plan)
        let bin = plan.mounts.first { $0.target == "/bin" }
        #expect(bin?.kind == .symlink(to: link))
        #expect(SandboxView(mounts: plan.mounts).lookup("/bin/sh") == SandboxView(mounts: plan.mounts).lookup("/usr/bin/sh"))
        // /usr/lib under /usr adds nothing and is dropped.
        let redundant = profileDir("[filesystem]\nread_only = [\"/usr/lib\"]\n")
        #expect(Fixture.plan("p", dirs: [redundant.path]).plan?.mounts.contains { $0.target == "/usr/lib" } == false)
    }

    @Test func symlinkStaysABindUnlessItsTargetIsVisibleReadOnly() throws {
        // Outside /tmp: a link inside a tmpfs mcpbox mounts is never mirrored.
        let s = profileDir("", in: "/var/tmp")
        let h = Scratch(in: "/var/tmp")
        let real = h.mkdir("real")
        h.write("real/f", "x")
        let link = h.path + "/link"
        #expect(symlink("real", link) == 0)
        func kind(_ text: String) throws -> Mount.Kind? {
            s.write("p.toml", text)
            return try #require(Fixture.plan("p", dirs: [s.path]).plan).mounts.first { $0.target == link }?.kind
        }
        // Target bound read-only at the same path: mirrored.
        #expect(try kind("[filesystem]\nread_only = [\"\(real)\", \"\(link)\"]\n") == .symlink(to: "real"))
        // Target not visible: the link's object is bound.
        #expect(try kind("[filesystem]\nread_only = [\"\(link)\"]\n") == .bind(source: real, readOnly: true))
        // Target visible but writable: a read-only link must not become a way to write it.
        #expect(try kind("[filesystem]\nread_only = [\"\(link)\"]\nread_write = [\"\(real)\"]\n") == .bind(source: real, readOnly: true))
        // Something hidden inside the target: the bind keeps its own view.
        #expect(try kind("[filesystem]\nread_only = [\"\(real)\", \"\(link)\"]\nhide = [\"\(real)/f\"]\n") == .bind(source: real, readOnly: true))
    }

    @Test func hideMasksEveryPathThatShowsTheHiddenObject() throws {
        let s = profileDir("", in: "/var/tmp")
        let srv = s.mkdir("srv")
        s.mkdir("srv/data")
        s.write("srv/data/.env", "SECRET=1")
        let alias = s.path + "/alias"
        #expect(symlink("srv/data", alias) == 0)
        s.write("p.toml", """
            [filesystem]
            read_only = ["\(srv)", "\(alias)", "\(srv)/data"]
            read_write = []
            hide = ["\(srv)/data/.env"]
            """)
        let plan = try #require(Fixture.plan("p", dirs: [s.path]).plan)
        let hidden = Set(plan.mounts.filter { if case .hide = $0.kind { true } else { false } }.map(\.target))
        // The hidden file as written, and through the second bind of the same directory.
        #expect(hidden.isSuperset(of: [srv + "/data/.env", alias + "/.env"]), "\(plan.mounts.map(\.target))")
        for path in hidden {
            #expect(SandboxView(mounts: plan.mounts).lookup(path) == .file(hostPath: nil, executable: false))
        }

        // A bind of a directory inside a hidden one is masked whole.
        s.write("q.toml", """
            [filesystem]
            read_only = ["\(srv)", "\(alias)"]
            hide = ["\(srv)/data"]
            """)
        let q = try #require(Fixture.plan("q", dirs: [s.path]).plan)
        #expect(q.mounts.contains { $0.target == alias && $0.kind == .hide(isDirectory: true) }, "\(q.mounts)")
    }

    @Test func bindsTheServerCannotUseAreNamed() throws {
        let s = profileDir("")
        let h = Scratch()
        let closed = h.mkdir("closed")
        let open = h.mkdir("open")
        chmod(closed, 0o700)
        chmod(open, 0o777)
        s.write("p.toml", "[filesystem]\nread_write = [\"\(closed)\", \"\(open)\"]\n")
        // Root without [user]: the server is uid 65534, which owns neither directory.
        let plan = try #require(Fixture.plan("p", dirs: [s.path], host: Fixture.host(uid: 0, gid: 0)).plan)
        let access = plan.warnings.filter { $0.hasPrefix(PlanBuilder.accessWarningPrefix) }
        #expect(access.count == 1, "\(plan.warnings)")
        #expect(access.first?.contains("\(closed) is not writable by the server's account (uid 65534)") == true, "\(access)")
    }

    @Test func etcBoundMeansNoSynthesizedFiles() throws {
        let s = profileDir("[filesystem]\nread_only = [\"/etc\"]\n")
        let plan = try #require(Fixture.plan("p", dirs: [s.path]).plan)
        #expect(!plan.mounts.contains { if case .file = $0.kind { true } else { false } })
    }

    @Test func environment() throws {
        let s = profileDir("""
            [env]
            pass = ["LANG", "MY_API_TOKEN", "ABSENT_VAR"]
            set = { TZ = "UTC", PATH = "/usr/bin" }
            """)
        let env = ["LANG": "de_DE.UTF-8", "MY_API_TOKEN": "s3cr3t", "OTHER": "dropped"]
        let plan = try #require(Fixture.plan("p", dirs: [s.path], env: env).plan)
        #expect(plan.environment.map(\.name) == ["PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "LANG", "MY_API_TOKEN", "TZ"])
        #expect(plan.environment.first { $0.name == "PATH" } == EnvVar(name: "PATH", value: "/usr/bin", origin: "set"))
        #expect(plan.environment.first { $0.name == "LANG" } == EnvVar(name: "LANG", value: "de_DE.UTF-8", origin: "pass"))
        #expect(plan.warnings.contains { $0.contains("`MY_API_TOKEN` looks like a secret") })
        #expect(!plan.warnings.contains { $0.contains("LANG") })
        // Explain never shows values.
        #expect(!Explain.text(plan).contains("s3cr3t"))
        #expect(!ExplainJSON.render(plan).contains("s3cr3t"))
    }

    @Test func executableResolution() throws {
        let s = profileDir("")
        var plan = try #require(Fixture.plan("p", dirs: [s.path], command: ["sh", "-c", "true"]).plan)
        #expect(plan.executable == "/usr/bin/sh")
        #expect(plan.argv == ["sh", "-c", "true"])
        plan = try #require(Fixture.plan("p", dirs: [s.path], command: ["/bin/sh"]).plan)
        #expect(plan.executable == "/bin/sh")
        plan = try #require(Fixture.plan("p", dirs: [s.path], command: ["no-such-program-x"]).plan)
        #expect(plan.executable == nil)
        // A host program outside the view is not found.
        let tool = s.write("tool", "#!/bin/sh\n", mode: 0o755)
        plan = try #require(Fixture.plan("p", dirs: [s.path], command: [tool]).plan)
        #expect(plan.executable == nil)
        let errs = Fixture.errors("p", dirs: [s.path], command: ["./tool"])
        #expect(errs.first?.message.contains("must be absolute") == true)
    }

    @Test func commandRequiredForRun() throws {
        let s = profileDir("")
        let profile = try Fixture.loader([s.path]).load("p")
        #expect(throws: ProfileError.self) {
            try PlanBuilder(profile: profile, host: Fixture.host(), requireCommand: true).build()
        }
        #expect(try PlanBuilder(profile: profile, host: Fixture.host(), requireCommand: false).build().argv == [])
    }

    @Test func cwdMustBeVisible() {
        let s = profileDir("cwd = \"/srv\"\n")
        let errs = Fixture.errors("p", dirs: [s.path])
        #expect(errs.count == 1)
        #expect(errs.first?.key == "cwd" && errs.first?.line == 1 && errs.first?.message.contains("not a directory inside the sandbox") == true)
    }

    @Test func bindCommandVirtualenv() throws {
        let s = Scratch()
        let prefix = s.mkdir("prefix/bin")
        s.write("prefix/bin/python3.11", "#!/bin/sh\n", mode: 0o755)
        s.mkdir("prefix/lib")
        let venv = s.mkdir("venv")
        s.write("venv/pyvenv.cfg", "home = \(prefix)\ninclude-system-site-packages = false\n")
        s.mkdir("venv/bin")
        symlink(prefix + "/python3.11", venv + "/bin/python")
        let tool = s.write("venv/bin/my-server", "#!\(venv)/bin/python\n", mode: 0o755)
        let profiles = profileDir("[filesystem]\nbind_command = true\n")
        let env = ["PATH": "\(venv)/bin:/usr/bin"]
        let plan = try #require(Fixture.plan("p", dirs: [profiles.path], env: env, command: ["my-server", "--x"]).plan)
        #expect(plan.executable == tool)
        #expect(plan.argv == ["my-server", "--x"])
        #expect(plan.mounts.contains(Mount(target: venv, kind: .bind(source: venv, readOnly: true), origin: "p.toml: filesystem.bind_command")))
        #expect(plan.mounts.contains(Mount(target: s.path + "/prefix", kind: .bind(source: s.path + "/prefix", readOnly: true), origin: "p.toml: filesystem.bind_command")))
        #expect(plan.environment.first?.value == "\(venv)/bin:/usr/local/bin:/usr/bin:/bin")
        #expect(Explain.text(plan).contains("bind_command"))

        // Outside a venv: the file itself.
        let lone = s.write("lone/bin/tool", "#!/bin/sh\n", mode: 0o755)
        let p2 = try #require(Fixture.plan("p", dirs: [profiles.path], command: [lone]).plan)
        #expect(p2.executable == lone)
        #expect(p2.mounts.contains(Mount(target: lone, kind: .bind(source: lone, readOnly: true), origin: "p.toml: filesystem.bind_command")))

        // Without bind_command nothing is added.
        let off = profileDir("")
        let p3 = try #require(Fixture.plan("p", dirs: [off.path], env: env, command: ["my-server"]).plan)
        #expect(p3.executable == nil)
        #expect(!p3.mounts.contains { $0.target == venv })
    }

    @Test("a bind reached through a symlink inside a read-write path is refused (the server could plant it)")
    func symlinkInWritablePathIsRefused() throws {
        let s = Scratch()
        let repo = s.mkdir("repo")
        s.mkdir("repo/meta")
        let secret = s.mkdir("secret")
        symlink(secret, repo + "/meta/hooks")
        symlink(repo + "/meta/hooks", s.path + "/outside-link")
        let profiles = profileDir("[filesystem]\nread_write = [\"\(repo)\"]\nread_only = [\"\(repo)/meta/hooks\", \"\(s.path)/outside-link\"]\n")
        let errs = Fixture.errors("p", dirs: [profiles.path])
        #expect(errs.count == 2)
        #expect(errs.allSatisfy { $0.message.contains("through the symlink \(repo)/meta/hooks") })

        // The same paths as real directories are fine; so is a symlink outside writable paths.
        unlink(repo + "/meta/hooks")
        s.mkdir("repo/meta/hooks")
        unlink(s.path + "/outside-link")
        symlink(secret, s.path + "/outside-link")
        let plan = try #require(Fixture.plan("p", dirs: [profiles.path]).plan)
        #expect(plan.mounts.contains(Mount(target: s.path + "/outside-link", kind: .bind(source: secret, readOnly: true),
                                           origin: "p.toml: filesystem.read_only")))
    }

    @Test("bind_command binds nothing a virtualenv in a read-write path names")
    func bindCommandVirtualenvInWritablePath() throws {
        let s = Scratch()
        let elsewhere = s.mkdir("elsewhere/bin")
        let repo = s.mkdir("repo")
        let venv = s.mkdir("repo/venv")
        s.write("repo/venv/pyvenv.cfg", "home = \(elsewhere)\n")
        s.mkdir("repo/venv/bin")
        let tool = s.write("repo/venv/bin/my-server", "#!/bin/sh\n", mode: 0o755)
        let profiles = profileDir("[filesystem]\nbind_command = true\nread_write = [\"\(repo)\"]\n")
        let plan = try #require(Fixture.plan("p", dirs: [profiles.path], command: [tool]).plan)
        #expect(plan.executable == tool)
        #expect(!plan.mounts.contains { Paths.isWithin($0.target, s.path + "/elsewhere") })
        #expect(plan.warnings.contains { $0.contains("the virtualenv \(venv) lies in \(repo)") })
    }

    @Test func warnings() throws {
        let s = Scratch()
        let h = Scratch()
        let dir = h.mkdir("dir")
        let sock = h.write("dir/agent.sock", "")
        s.write("base.toml", "")
        s.write("p.toml", """
            [filesystem]
            read_write = ["\(dir)"]
            read_only = ["\(sock)"]
            [network]
            mode = "host"
            [seccomp]
            preset = "permissive"
            allow = ["bpf"]
            """)
        let plan = try #require(Fixture.plan("p", dirs: [s.path]).plan)
        let w = plan.warnings.joined(separator: "\n")
        #expect(w.contains("agent.sock is a socket"))
        #expect(w.contains("network.mode = \"host\""))
        #expect(w.contains("preset = \"permissive\""))
        #expect(w.contains("`bpf` re-enables a dangerous system call"))
        #expect(!plan.namespaces.contains(.net))
        // No memory limit is not a warning; a quiet profile has none.
        let quiet = profileDir("")
        #expect(Fixture.plan("p", dirs: [quiet.path], host: Fixture.host(uid: 1000, gid: 1000)).plan?.warnings == [])
    }
}
