import Foundation
import Testing
@testable import MCPBoxCore

@_silgen_name("setxattr")
private func c_setxattr(_ path: UnsafePointer<CChar>, _ name: UnsafePointer<CChar>, _ value: UnsafeRawPointer?, _ size: Int, _ flags: Int32) -> Int32

/// Dangerous grants through the real plan builder: refused with the fix, or accepted explicitly.
@Suite struct GrantTests {
    /// A temporary home with the places the checks look for, and a separate profile directory.
    struct World {
        let home = Scratch()
        let profiles = Scratch()
        let host = Scratch()

        init() {
            home.write(".bashrc", "echo hi\n")
            home.write(".ssh/id_canary", "canary-key\n", mode: 0o600)
            home.mkdir(".cache")
            home.mkdir(".config/gh")
            home.mkdir("src/project")
            profiles.write("base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        }

        var env: [String: String] { ["HOME": home.path] }

        func plan(_ text: String, command: [String] = [], host: HostContext? = nil) -> Result<SandboxPlan, ProfileError> {
            profiles.write("p.toml", text)
            return Fixture.plan("p", dirs: [profiles.path], env: env, command: command, host: host ?? Fixture.host(env: env))
        }

        func errors(_ text: String, command: [String] = [], host: HostContext? = nil) -> [Diagnostic] {
            switch plan(text, command: command, host: host) {
            case .success: return []
            case .failure(let e): return e.diagnostics
            }
        }
    }

    /// User-level Mercurial configuration runs hooks at the user's next `hg status` in any of
    /// their repositories, and the others are code the user's shell or tools run later: a
    /// read-write grant of one was accepted silently. Found by a red-team pass; fails before the fix.
    @Test("tool configuration that runs later (Mercurial's, nvm, Gradle, npm's cache…) is refused read-write unless accepted",
          arguments: [".config/hg", ".hgrc", ".nvm", ".oh-my-zsh", ".local/share/nvim", ".gradle", ".m2", ".rustup",
                      ".npm", ".cache/uv", ".cache/pip", "go/bin", ".pyenv",
                      // A later red-team pass: uv/pipx tool venvs, more shell start-up places,
                      // tool bins a GUI client's PATH lacks.
                      ".local/share/uv", ".local/share/pipx", ".bashrc.d", ".config/zsh", ".vscode-server", ".bun",
                      ".deno", ".volta", ".asdf", ".local/share/mise", ".config/mise",
                      // Red-team pass, 2026-12-02 (`~/.node_modules/lodash.js` ran at the host's next require()).
                      ".node_modules", ".rbenv", ".yarn", ".local/share/pnpm", ".npm-global", ".vscode-insiders", ".cursor-server",
                      ".config/Cursor/User", ".config/zed", ".codeium/windsurf", ".local/share/bash-completion", ".config/i3",
                      ".julia/config", ".terraform.d/plugins"])
    func toolConfigurationRunLater(_ place: String) throws {
        let w = World()
        let path = w.home.path + "/" + place
        if place == ".hgrc" { w.home.write(place, "[ui]\n") } else { _ = w.home.mkdir(place) }
        let errs = w.errors("[filesystem]\nread_write = [\"\(path)\"]\n")
        #expect(errs.contains { $0.key == "filesystem.read_write" && $0.message.contains(path) }, "\(errs)")
        #expect(w.errors("[filesystem]\nread_write = [\"\(path)\"]\naccept = [\"\(path)\"]\n").isEmpty)
    }

    /// A run-later directory's entries that are symlinks run their targets: `uv tool install`
    /// links ~/.local/bin/NAME into ~/.local/share/uv/tools, GNU stow links
    /// ~/.config/fish/config.fish into ~/dotfiles. A read-write bind of the target was silent.
    /// Found by a red-team pass; fails before the fix.
    @Test("a read-write bind holding the target of a symlink in a run-later directory is refused")
    func symlinkTargetsInRunLaterDirectories() throws {
        let w = World()
        let tool = w.home.write(".local/share/tools/mytool/bin/mytool", "#!/bin/sh\n", mode: 0o755)
        w.home.mkdir(".local/bin")
        #expect(symlink("../share/tools/mytool/bin/mytool", w.home.path + "/.local/bin/mytool") == 0)
        w.home.write("dotfiles/fish/config.fish", "set x 1\n")
        w.home.mkdir(".config/fish")
        #expect(symlink("../../dotfiles/fish/config.fish", w.home.path + "/.config/fish/config.fish") == 0)
        let toolDir = Paths.dirname(Paths.dirname(tool))
        let errs = w.errors("[filesystem]\nread_write = [\"\(toolDir)\"]\n")
        #expect(errs.contains { $0.message.contains("the target of the symlink \(w.home.path)/.local/bin/mytool") }, "\(errs)")
        let dot = w.errors("[filesystem]\nread_write = [\"\(w.home.path)/dotfiles\"]\n")
        #expect(dot.contains { $0.message.contains("the target of the symlink \(w.home.path)/.config/fish/config.fish") }, "\(dot)")
        // A read-write bind elsewhere is not affected.
        #expect(w.errors("[filesystem]\nread_write = [\"\(w.home.path)/src/project\"]\n").isEmpty)
    }

    @Test("mcpbox's own files: a read-write bind touching them is refused, and accept does not help")
    func protectedPlacesAreNeverAcceptable() throws {
        let w = World()
        // Inside a directory of the profile search path, and containing one.
        let inside = w.profiles.mkdir("sub")
        var errs = w.errors("[filesystem]\nread_write = [\"\(inside)\"]\naccept = [\"\(inside)\", \"\(w.profiles.path)\"]\n")
        #expect(errs.contains { $0.message.contains("lies inside \(w.profiles.path), a directory of the profile search path") && $0.line == 2
            && $0.key == "filesystem.read_write" && $0.hint?.contains("cannot be accepted") == true }, "\(errs)")
        let outer = Paths.dirname(w.profiles.path)
        #expect(w.errors("[filesystem]\nread_write = [\"\(outer)\"]\n").contains { $0.message.contains("contains \(w.profiles.path)") })

        // mcpbox's state and configuration under XDG_STATE_HOME / XDG_CONFIG_HOME, even before they exist.
        let state = w.host.mkdir("state")
        let config = w.host.mkdir("config")
        let host = Fixture.host(env: w.env.merging(["XDG_STATE_HOME": state, "XDG_CONFIG_HOME": config]) { $1 })
        errs = w.errors("[filesystem]\nread_write = [\"\(state)\", \"\(config)\"]\n", host: host)
        #expect(errs.contains { $0.message.contains("contains \(state)/mcpbox, mcpbox's state") }, "\(errs)")
        #expect(errs.contains { $0.message.contains("contains \(config)/mcpbox, mcpbox's configuration") }, "\(errs)")
        // The default state directory under the home.
        let local = w.home.mkdir(".local")
        errs = w.errors("[filesystem]\nread_write = [\"\(local)\"]\naccept = [\"\(local)/bin\"]\n")
        #expect(errs.contains { $0.message.contains("contains \(w.home.path)/.local/state/mcpbox") }, "\(errs)")
        #expect(!errs.contains { $0.message.contains(".local/bin") }, "\(errs)")

        // The mcpbox executable.
        let exe = w.host.write("bin/mcpbox", "", mode: 0o755)
        var withExe = Fixture.host(env: w.env)
        withExe.executablePath = exe
        errs = w.errors("[filesystem]\nread_write = [\"\(Paths.dirname(exe))\"]\n", host: withExe)
        #expect(errs.contains { $0.message.contains("contains \(exe), the mcpbox executable") }, "\(errs)")
    }

    @Test("a host bind mount of the home directory is still the home directory")
    func homeThroughAHostBindMount() throws {
        guard geteuid() == 0 else { return }
        let w = World()
        let alias = w.host.mkdir("alias")
        let r = Process()
        r.executableURL = URL(fileURLWithPath: "/bin/mount")
        r.arguments = ["--bind", w.home.path, alias]
        try r.run()
        r.waitUntilExit()
        try #require(r.terminationStatus == 0)
        defer {
            let u = Process()
            u.executableURL = URL(fileURLWithPath: "/bin/umount")
            u.arguments = [alias]
            try? u.run()
            u.waitUntilExit()
        }
        let errs = w.errors("[filesystem]\nread_write = [\"\(alias)\"]\nhide = [\"\(alias)/.ssh\"]\n")
        #expect(errs.contains { $0.message.contains("contains your home directory") }, "\(errs)")
    }

    @Test("the user's run-later places inside a read-write bind need an explicit accept, which explain lists")
    func runLaterPlacesNeedAcceptance() throws {
        let w = World()
        // ~/.bashrc is a symlink into a dotfiles directory the profile makes writable.
        let dotfiles = w.home.mkdir("dotfiles")
        w.home.write("dotfiles/bashrc", "echo dotfiles\n")
        unlink(w.home.path + "/.bashrc")
        #expect(symlink("dotfiles/bashrc", w.home.path + "/.bashrc") == 0)
        let errs = w.errors("[filesystem]\nread_write = [\"\(dotfiles)\"]\n")
        #expect(errs.count == 1, "\(errs)")
        #expect(errs.first?.message.contains("contains \(w.home.path)/.bashrc (shell start-up file)") == true, "\(errs)")
        #expect(errs.first?.hint?.contains("accept = [\"\(w.home.path)/.bashrc\"]") == true, "\(errs)")

        // Accepted with a variable: the plan builds and explain names the acceptance.
        let plan = try #require(w.plan("[filesystem]\nread_write = [\"\(dotfiles)\"]\naccept = [\"${HOME}/.bashrc\"]\n").plan)
        #expect(plan.accepted == [AcceptedGrant(path: w.home.path + "/.bashrc", reason: "read-write, shell start-up file", origin: "p.toml:3: filesystem.accept")])
        #expect(Explain.text(plan).contains("accepted        \(w.home.path)/.bashrc: read-write, shell start-up file (p.toml:3: filesystem.accept)"))
        #expect(ExplainJSON.render(plan).contains("\"accepted\": [{\"path\": \"\(w.home.path)/.bashrc\""))

        // Root started through sudo: the sudoer's places count too.
        let etc = Scratch()
        etc.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::\(w.home.path):/bin/bash\n")
        etc.write("etc/group", "root:x:0:\nalice:x:1000:\n")
        let text = "[filesystem]\nread_write = [\"\(dotfiles)\"]\n"
        let rootOnly = Fixture.host(uid: 0, gid: 0, env: ["HOME": "/root"], accounts: Accounts(root: etc.path))
        #expect(w.errors(text, host: rootOnly).isEmpty)
        let sudo = Fixture.host(uid: 0, gid: 0, env: ["HOME": "/root", "SUDO_UID": "1000"], accounts: Accounts(root: etc.path))
        #expect(w.errors(text, host: sudo).contains { $0.message.contains("contains \(w.home.path)/.bashrc") })

        // Places found by the red-team pass: user site-packages (.pth runs at every python start).
        let lib = w.home.mkdir(".local/lib")
        let site = w.errors("[filesystem]\nread_write = [\"\(lib)\"]\n")
        #expect(site.contains { $0.message.contains("user site-packages") }, "\(site)")
        let cargo = w.home.mkdir(".cargo")
        #expect(w.errors("[filesystem]\nread_write = [\"\(cargo)\"]\n").contains { $0.message.contains("cargo") })

        // A place that does not exist yet counts too, and so does a bind inside one.
        let config = w.home.mkdir(".config/autostart/x")
        #expect(w.errors("[filesystem]\nread_write = [\"\(config)\"]\n").contains { $0.message.contains("lies inside \(w.home.path)/.config/autostart") })
        w.home.mkdir(".config/other")
        #expect(w.errors("[filesystem]\nread_write = [\"\(w.home.path)/.config/other\"]\n").isEmpty)
        let binParent = w.home.mkdir("tools")
        #expect(w.errors("[filesystem]\nread_write = [\"\(binParent)\"]\n").isEmpty)
    }

    @Test("/, the home directory and its ancestors read-write are refused, from the server's own arguments too")
    func homeReadWriteIsRefused() throws {
        let w = World()
        let git = """
            [variables]
            repo = { from_arg = ["--repository", "-r"] }
            [filesystem]
            read_write = ["${repo}"]
            """
        var errs = w.errors(git, command: ["mcp-server-git", "--repository", w.home.path])
        #expect(errs.contains { $0.message.contains("\(w.home.path) is bound read-write and contains your home directory \(w.home.path)")
            && $0.file == w.profiles.path + "/p.toml" && $0.line == 4 && $0.key == "filesystem.read_write" }, "\(errs)")
        errs = w.errors(git, command: ["mcp-server-git", "-r", Paths.dirname(w.home.path)])
        #expect(errs.contains { $0.message.contains("contains your home directory \(w.home.path)") }, "\(errs)")
        errs = w.errors("[filesystem]\nread_write = [\"/\"]\n")
        #expect(errs.contains { $0.message.contains("/ is bound read-write") && $0.hint?.contains("accept = [\"/\"]") == true }, "\(errs)")
        // A project inside the home is fine.
        #expect(w.errors(git, command: ["mcp-server-git", "--repository", w.home.path + "/src/project"]).isEmpty)
    }

    @Test("credentials are refused read-only too: directly, through a symlink (optional included), or inside a bound directory")
    func credentialsAreRefused() throws {
        let w = World()
        let ssh = w.home.path + "/.ssh"
        var errs = w.errors("[filesystem]\nread_only = [\"${HOME}/.ssh\"]\n")
        #expect(errs.contains { $0.message.contains("exposes the credentials \(ssh) to the server read-only") && $0.line == 2 }, "\(errs)")

        // ~/.cache/uv -> ../.ssh, bound as an optional path.
        #expect(symlink("../.ssh", w.home.path + "/.cache/uv") == 0)
        errs = w.errors("[filesystem]\nread_only = [\"?${HOME}/.cache/uv\"]\n")
        #expect(errs.contains { $0.message.contains("\(w.home.path)/.cache/uv (it resolves to \(ssh)) exposes the credentials \(ssh)") }, "\(errs)")

        // A bound directory holding one; hide fixes it.
        errs = w.errors("[filesystem]\nread_only = [\"${HOME}/.config\"]\n")
        #expect(errs.contains { $0.message.contains("exposes the credentials \(w.home.path)/.config/gh") && $0.hint?.contains("filesystem.hide") == true }, "\(errs)")
        #expect(w.errors("[filesystem]\nread_only = [\"${HOME}/.config\"]\nhide = [\"${HOME}/.config/gh\"]\n").isEmpty)
        let project = w.host.mkdir("project/.aws")
        errs = w.errors("[filesystem]\nread_only = [\"\(Paths.dirname(project))\"]\n")
        #expect(errs.contains { $0.message.contains("exposes the credentials \(project)") }, "\(errs)")

        // AI clients' sign-ins and git's XDG credential store (red-team pass, 2026-12-02).
        for cred in [".claude/.credentials.json", ".codex/auth.json", ".config/git/credentials", ".gemini/oauth_creds.json"] {
            w.home.write(cred, "{}")
            errs = w.errors("[filesystem]\nread_only = [\"${HOME}/\(Paths.dirname(cred))\"]\n")
            #expect(errs.contains { $0.message.contains("exposes the credentials \(w.home.path)/\(cred)") }, "\(cred): \(errs)")
        }

        // Accepted explicitly: explain shows it.
        let plan = try #require(w.plan("[filesystem]\nread_only = [\"?${HOME}/.cache/uv\"]\naccept = [\"${HOME}/.ssh\"]\n").plan)
        #expect(plan.accepted.map(\.path) == [ssh])
        #expect(plan.accepted.first?.reason == "credentials (.ssh), read-only")
        #expect(Explain.text(plan).contains("accepted        \(ssh): credentials (.ssh), read-only"))
    }

    @Test("root-started: a bind the account could not reach on the host is refused unless accepted")
    func rootStartedBindsDoNotWidenAccess() throws {
        let w = World()
        let closed = w.host.mkdir("closed", mode: 0o700)
        let data = w.host.mkdir("closed/data")
        let text = "[filesystem]\nread_only = [\"\(data)\"]\n"
        // Root without [user]: the server is nobody, which cannot traverse `closed`.
        let root = Fixture.host(uid: 0, gid: 0, env: w.env)
        let errs = w.errors(text, host: root)
        #expect(errs.contains { $0.message.contains("\(data) lies under \(closed) (owner 0, mode 700), which the server's account (uid 65534) cannot traverse")
            && $0.hint?.contains("accept = [\"\(data)\"]") == true }, "\(errs)")
        // Accepted: explain says so.
        let plan = try #require(w.plan(text + "accept = [\"\(data)\"]\n", host: root).plan)
        #expect(plan.accepted.first?.reason == "read-only, not reachable by uid 65534 on the host")
        // Traversable for the account: fine; an ordinary caller binds with its own rights.
        chmod(closed, 0o711)
        #expect(w.errors(text, host: root).isEmpty)
        chmod(closed, 0o700)
        #expect(w.errors(text, host: Fixture.host(uid: 1000, gid: 1000, env: w.env)).isEmpty)
        // A POSIX ACL that lets the account traverse (u:65534:--x on a 0700 directory) counts; one
        // that names the account without x denies it although the mode bits would allow.
        #expect(Self.setACL(closed, namedUser: 65534, perm: 1, other: 0))
        #expect(w.errors(text, host: root).isEmpty)
        #expect(Self.setACL(closed, namedUser: 65534, perm: 0, other: 5))
        #expect(w.errors(text, host: root).contains { $0.message.contains("cannot traverse") })
        _ = Self.setACL(closed, namedUser: nil, perm: 0, other: 0)
        // The account's group decides when it owns the directory's group.
        chown(closed, 0, 65534)
        chmod(closed, 0o710)
        #expect(w.errors(text, host: root).isEmpty)
    }

    /// Sets the access ACL of `path` (owner rwx, group ---, other `other`, and one named user entry).
    static func setACL(_ path: String, namedUser: UInt32?, perm: UInt16, other: UInt16) -> Bool {
        var bytes: [UInt8] = [2, 0, 0, 0]
        func entry(_ tag: UInt16, _ perm: UInt16, _ id: UInt32) {
            for v in [UInt32(tag) | UInt32(perm) << 16, id] { bytes += withUnsafeBytes(of: v.littleEndian, Array.init) }
        }
        entry(0x01, 7, UInt32.max)
        if let namedUser { entry(0x02, perm, namedUser) }
        entry(0x04, 0, UInt32.max)
        if namedUser != nil { entry(0x10, 7, UInt32.max) }
        entry(0x20, other, UInt32.max)
        return c_setxattr(path, "system.posix_acl_access", bytes, bytes.count, 0) == 0
    }

    @Test("${CALLER_HOME}: the caller's own caches in the caller's modes, skipped when root starts mcpbox")
    func callerHomeResolvesPerMode() throws {
        let w = World()
        w.home.mkdir(".pyenv")
        let text = "[filesystem]\nread_only = [\"?${CALLER_HOME}/.pyenv\"]\n"
        let root = try #require(w.plan(text, host: Fixture.host(uid: 0, gid: 0, env: w.env)).plan)
        #expect(!root.mounts.contains { $0.target.hasPrefix(w.home.path) })
        #expect(root.skippedOptional.contains("${CALLER_HOME}/.pyenv"))
        #expect(Explain.text(root).contains("${CALLER_HOME} is undefined when root starts mcpbox"))
        // An ordinary caller: its own home's cache is bound.
        var loader = Fixture.loader([w.profiles.path], env: w.env)
        loader.callerUid = 1000
        let profile = try loader.load("p")
        #expect(profile.readOnly.contains { $0.value.path == w.home.path + "/.pyenv" })
        // Not optional under root: an error that says why.
        let errs = w.errors("[filesystem]\nread_only = [\"${CALLER_HOME}/.pyenv\"]\n", host: Fixture.host(uid: 0, gid: 0, env: w.env))
        #expect(errs.contains { $0.message.contains("`${CALLER_HOME}` is not defined: mcpbox was started by root") }, "\(errs)")
        // Never taken from the environment.
        var fromEnv = Fixture.loader([w.profiles.path], env: w.env.merging(["CALLER_HOME": w.home.path]) { $1 })
        fromEnv.callerUid = 0
        w.profiles.write("p.toml", text)
        #expect(try !fromEnv.load("p").readOnly.contains { Paths.isWithin($0.value.path, w.home.path) })
    }

    @Test("shipped profiles: base binds the TLS trust store, not /etc/ssl/private; python and node bind no root caches for other accounts")
    func shippedProfilesGrantNoMore() throws {
        let root = Fixture.host(uid: 0, gid: 0, env: ["HOME": "/root"])
        for name in ["base", "python", "node", "time"] {
            let plan = try #require(Fixture.plan(name, dirs: [Fixture.shippedProfiles], env: ["HOME": "/root"], host: root).plan)
            let targets = plan.mounts.map(\.target)
            #expect(!targets.contains { Paths.isWithin($0, "/root") }, "\(name): \(targets)")
            #expect(!targets.contains { Paths.isWithin("/etc/ssl/private", $0) }, "\(name): \(targets)")
            if HostFS.info("/etc/ssl/certs")?.isDirectory == true { #expect(targets.contains("/etc/ssl/certs"), "\(name)") }
        }
    }

    @Test("profile files: every directory above them is checked")
    func profileAncestorsAreChecked() throws {
        let s = Scratch()
        let open = s.mkdir("open", mode: 0o777)
        s.mkdir("open/deeper")
        s.write("open/deeper/base.toml", "")
        s.write("open/deeper/p.toml", "")
        var errs = Fixture.errors("p", dirs: [s.path + "/open/deeper"])
        #expect(errs.contains { $0.message.contains("the directory above the profile \(open) is writable by group or others (mode 777)") }, "\(errs)")
        chmod(open, 0o755)
        #expect(Fixture.errors("p", dirs: [s.path + "/open/deeper"]).isEmpty)
        chown(open, 65534, 65534)
        errs = Fixture.errors("p", dirs: [s.path + "/open/deeper"])
        #expect(errs.contains { $0.message.contains("the directory above the profile \(open) is owned by uid 65534") }, "\(errs)")
        // A sticky directory stays fine (the scratch directory lies in /tmp).
        chown(open, 0, 0)
        chmod(open, 0o1777)
        #expect(Fixture.errors("p", dirs: [s.path + "/open/deeper"]).isEmpty)
    }

    @Test("caller-remap: explain names the supplementary groups the server keeps")
    func keptGroupsAreShown() throws {
        let w = World()
        var host = Fixture.host(uid: 1000, gid: 1000, env: w.env)
        host.callerGroups = [1000, 27, 100, 27]
        let plan = try #require(w.plan("", host: host).plan)
        #expect(plan.keptGroups == [27, 100])
        let names = [27, 100].map { g in Accounts().groupName(gid: g).map { "\(g) (\($0))" } ?? "\(g)" }.joined(separator: ", ")
        #expect(Explain.text(plan).contains("groups kept     \(names): your supplementary groups stay with the server"))
        #expect(ExplainJSON.render(plan).contains("\"supplementary_groups\": [27, 100]"))
        host.callerGroups = []
        #expect(Explain.text(try #require(w.plan("", host: host).plan)).contains("groups kept     (none)"))
        // Root modes: the account gets only its own group; nothing is said.
        let root = try #require(w.plan("", host: Fixture.host(uid: 0, gid: 0, env: w.env)).plan)
        #expect(root.keptGroups.isEmpty && !Explain.text(root).contains("groups kept"))
    }

    /// A run-later file with another hard link in a read-write bind: the server rewrote ~/.bashrc
    /// through it (found by a red-team pass; passed the plan before the fix).
    @Test("a start-up file hard-linked into a read-write bind is refused (the server would change it through the other name)")
    func hardLinkedStartUpFile() throws {
        let w = World()
        w.host.mkdir("dotfiles")
        #expect(link(w.home.path + "/.bashrc", w.host.path + "/dotfiles/bashrc") == 0)
        let errs = w.errors("[filesystem]\nread_write = [\"\(w.host.path)/dotfiles\"]\n")
        #expect(errs.contains { $0.message.contains("may hold one of the 2 hard links of \(w.home.path)/.bashrc") }, "\(errs)")
        #expect(w.errors("[filesystem]\nread_write = [\"\(w.host.path)/dotfiles\"]\naccept = [\"\(w.home.path)/.bashrc\"]\n").isEmpty)
    }

    /// Root starting mcpbox could grant a server another account's home: its start-up files and
    /// ~/.ssh/authorized_keys ran at that account's next login (found by a red-team pass).
    @Test("another account's home in a read-write bind is refused, and its start-up files and mcpbox configuration in a narrower one")
    func otherAccountsHome() throws {
        guard geteuid() == 0 else { return }
        let w = World()
        let bob = w.host.mkdir("home/bob")
        w.host.write("home/bob/.profile", "echo hi\n")
        w.host.mkdir("home/bob/.config/mcpbox/profiles")
        #expect(chown(bob, 4242, 4242) == 0)
        let etc = Scratch()
        etc.write("etc/passwd", "root:x:0:0::/root:/bin/sh\nbob:x:4242:4242::\(bob):/bin/sh\n")
        let host = Fixture.host(uid: 0, gid: 0, env: w.env, accounts: Accounts(root: etc.path))
        let whole = w.errors("[filesystem]\nread_write = [\"\(w.host.path)/home\"]\n", host: host)
        #expect(whole.contains { $0.message.contains("contains the home directory \(bob) of the account bob") }, "\(whole)")
        let config = w.errors("[filesystem]\nread_write = [\"\(bob)/.config\"]\n", host: host)
        #expect(config.contains { $0.message.contains("contains \(bob)/.config/mcpbox, mcpbox's configuration") }, "\(config)")
        let profile = w.errors("[filesystem]\nread_write = [\"\(bob)/.profile\"]\n", host: host)
        #expect(profile.contains { $0.message.contains("\(bob)/.profile (shell start-up file of the account bob)") }, "\(profile)")
        // Shown through a host bind mount inside a read-write directory (a second red-team pass).
        let mnt = w.host.mkdir("w/m")
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["--bind", bob, mnt]
        try mount.run()
        mount.waitUntilExit()
        try #require(mount.terminationStatus == 0)
        defer {
            let u = Process()
            u.executableURL = URL(fileURLWithPath: "/bin/umount")
            u.arguments = ["-l", mnt]
            try? u.run()
            u.waitUntilExit()
        }
        let carried = w.errors("[filesystem]\nread_write = [\"\(w.host.path)/w\"]\n", host: host)
        #expect(carried.contains { $0.message.contains("contains the home directory \(bob) of the account bob") && $0.message.contains("\(mnt) is a host mount of \(bob)") }, "\(carried)")
        // The home named by a second name of its file system (`/home` a bind of `/srv/home`).
        let second = w.host.mkdir("second")
        let run = { (tool: String, args: [String]) throws in try Fixture.tool(tool, args) }
        try run("/bin/mount", ["--bind", w.host.path + "/home", second])
        defer { try? run("/bin/umount", ["-l", second]) }
        let etc2 = Scratch()
        etc2.write("etc/passwd", "root:x:0:0::/root:/bin/sh\nbob:x:4242:4242::\(second)/bob:/bin/sh\n")
        let host2 = Fixture.host(uid: 0, gid: 0, env: w.env, accounts: Accounts(root: etc2.path))
        let renamed = w.errors("[filesystem]\nread_write = [\"\(w.host.path)/w\"]\n", host: host2)
        #expect(renamed.contains { $0.message.contains("of the account bob") }, "\(renamed)")
    }
}
