import Foundation
import Testing
@testable import MCPBoxCore

/// Red team: grants that used to arrive silently — host sockets without a `.sock` name (the
/// caller's runtime directory, the X server) and read-write directories on the caller's PATH.
@Suite struct HostSocketGrantTests {
    /// A socket inode at `path` (mknod S_IFSOCK: what a listener's bind leaves behind).
    static func socketFile(_ path: String) {
        #expect(mknod(path, mode_t(S_IFSOCK | 0o600), 0) == 0)
    }

    func plan(_ profile: String, env: [String: String]) -> Result<SandboxPlan, ProfileError> {
        let dir = Scratch()
        _ = dir.write("base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        _ = dir.write("p.toml", profile)
        return Fixture.plan("p", dirs: [dir.path], env: env, host: Fixture.host(env: env))
    }

    @Test("a bind of the caller's runtime directory, of a socket not named .sock, or of /tmp/.X11-unix's like is warned, even read-only; hide and accept quiet it")
    func runtimeSocketsAreWarned() throws {
        let s = Scratch()
        let runtime = s.mkdir("run/user/4242")
        Self.socketFile(runtime + "/bus")
        let env = ["XDG_RUNTIME_DIR": runtime]

        // The whole runtime directory, read-only: the session bus is reachable.
        var p = try #require(plan("[filesystem]\nread_only = [\"\(runtime)\"]\n", env: env).plan)
        #expect(p.warnings.contains { $0.contains("\(runtime) exposes \(runtime), the caller's runtime directory") && $0.contains("accept = [\"\(runtime)\"]") },
                "\(p.warnings)")
        // A directory holding it.
        p = try #require(plan("[filesystem]\nread_only = [\"\(s.path)/run\"]\n", env: env).plan)
        #expect(p.warnings.contains { $0.contains("\(s.path)/run exposes \(runtime)") }, "\(p.warnings)")
        // The socket itself, named `bus`.
        p = try #require(plan("[filesystem]\nread_only = [\"\(runtime)/bus\"]\n", env: env).plan)
        #expect(p.warnings.contains { $0.contains("\(runtime)/bus") && ($0.contains("is a socket") || $0.contains("exposes")) }, "\(p.warnings)")
        // A socket in some other bound directory, by type.
        let other = s.mkdir("elsewhere")
        Self.socketFile(other + "/agent")
        p = try #require(plan("[filesystem]\nread_only = [\"\(other)/agent\"]\n", env: env).plan)
        #expect(p.warnings.contains { $0.contains("\(other)/agent is a socket") }, "\(p.warnings)")

        // Hidden inside the bind, or acknowledged: quiet, and explain lists the acceptance.
        p = try #require(plan("[filesystem]\nread_only = [\"\(s.path)/run\"]\nhide = [\"\(runtime)\"]\n", env: env).plan)
        #expect(!p.warnings.contains { $0.contains("exposes") }, "\(p.warnings)")
        p = try #require(plan("[filesystem]\nread_only = [\"\(runtime)\"]\naccept = [\"\(runtime)\"]\n", env: env).plan)
        #expect(!p.warnings.contains { $0.contains("exposes") }, "\(p.warnings)")
        #expect(p.accepted.contains { $0.path == runtime })
    }

    @Test("a read-write bind of (or containing) a directory on the caller's PATH outside the home is refused unless accepted; read-only is fine")
    func pathDirectoriesReadWriteAreRefused() throws {
        let s = Scratch()
        let bin = s.mkdir("tools/bin")
        _ = s.write("tools/bin/deploy", "#!/bin/sh\n", mode: 0o755)
        let env = ["PATH": "\(bin):/usr/bin:/bin"]

        for target in ["\(s.path)/tools", bin] {
            guard case .failure(let e) = plan("[filesystem]\nread_write = [\"\(target)\"]\n", env: env) else {
                Issue.record("read-write \(target) was not refused")
                continue
            }
            #expect(e.diagnostics.contains { $0.message.contains(bin) && $0.message.contains("a directory on your PATH")
                && $0.hint?.contains("accept = [\"\(bin)\"]") == true }, "\(e.diagnostics)")
        }
        #expect(plan("[filesystem]\nread_only = [\"\(s.path)/tools\"]\n", env: env).plan != nil)
        let accepted = try #require(plan("[filesystem]\nread_write = [\"\(s.path)/tools\"]\naccept = [\"\(bin)\"]\n", env: env).plan)
        #expect(accepted.accepted.contains { $0.path == bin })
    }

    @Test("XDG_CONFIG_HOME / XDG_DATA_HOME move every run-later place under them, not only six")
    func xdgMovesEveryRunLaterPlace() throws {
        let s = Scratch()
        let config = s.mkdir("cfg/pip")
        let apps = s.mkdir("data/applications")
        let env = ["XDG_CONFIG_HOME": s.path + "/cfg", "XDG_DATA_HOME": s.path + "/data"]
        for (dir, what) in [(config, "pip configuration"), (apps, "desktop entries")] {
            guard case .failure(let e) = plan("[filesystem]\nread_write = [\"\(dir)\"]\n", env: env) else {
                Issue.record("read-write \(dir) was not refused")
                continue
            }
            #expect(e.diagnostics.contains { $0.message.contains(what) && $0.hint?.contains("accept = [\"\(dir)\"]") == true }, "\(e.diagnostics)")
        }
    }

    @Test("system places run later as root (cron, profile.d, sudoers, ld.so.preload) are refused read-write")
    func systemRunLaterPlacesAreRefused() throws {
        guard case .failure(let e) = plan("[filesystem]\nread_write = [\"/etc\"]\n", env: [:]) else {
            Issue.record("read-write /etc was not refused")
            return
        }
        for (path, what) in [("/etc/cron.d", "system cron jobs"), ("/etc/ld.so.preload", "libraries preloaded"), ("/etc/sudoers.d", "sudo rules")] {
            #expect(e.diagnostics.contains { $0.message.contains("contains \(path) (\(what)") }, "\(e.diagnostics)")
        }
        #expect(plan("[filesystem]\nread_only = [\"/etc\"]\n", env: [:]).plan != nil)
    }

    /// Red team (2026-12-03): more of what root or every login runs (APT hooks, logrotate
    /// scripts, login scripts, bash completions) was accepted read-write without a word.
    @Test("APT's configuration, logrotate, update-motd and bash completions are refused read-write")
    func moreSystemPlacesAreRefused() throws {
        for (bind, path, what) in [("/etc/apt", "/etc/apt/apt.conf.d", "APT configuration"), ("/etc/apt", "/etc/apt/sources.list.d", "package sources"),
                                   ("/etc/logrotate.d", "/etc/logrotate.d", "logrotate scripts"), ("/etc/update-motd.d", "/etc/update-motd.d", "login scripts"),
                                   ("/etc/bash_completion.d", "/etc/bash_completion.d", "shell completions")] {
            guard case .failure(let e) = plan("[filesystem]\nread_write = [\"?\(bind)\"]\n", env: [:]) else {
                // An optional bind of a path this machine lacks is dropped before any check.
                if HostFS.exists(bind) { Issue.record("read-write \(bind) was not refused") }
                continue
            }
            #expect(e.diagnostics.contains { $0.message.contains("\(path) (\(what)") }, "\(e.diagnostics)")
        }
    }
}
