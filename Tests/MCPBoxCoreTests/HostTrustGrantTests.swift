import Foundation
import Testing
@testable import MCPBoxCore

/// Red team: what a bind resolves to, not only the path the profile spells. A symlink to the
/// host's /proc (or a procfs mounted elsewhere) bound the host's processes; a symlink to a
/// device under /dev was bound without the device warning.
@Suite struct HostTrustGrantTests {
    func plan(_ profile: String, _ dir: Scratch) -> Result<SandboxPlan, ProfileError> {
        dir.write("base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        dir.write("p.toml", profile)
        return Fixture.plan("p", dirs: [dir.path])
    }

    @Test("a symlink to host /proc is refused like /proc itself, read-only and read-write")
    func procThroughSymlink() throws {
        let s = Scratch()
        let link = s.path + "/proc-link"
        #expect(symlink("/proc/self", link) == 0)
        let procfs = s.path + "/sys-link"
        #expect(symlink("/proc/sys/kernel", procfs) == 0)
        for (key, path) in [("read_only", link), ("read_write", link), ("read_only", procfs)] {
            guard case .failure(let e) = plan("[filesystem]\n\(key) = [\"\(path)\"]\n", s) else {
                Issue.record("\(key) \(path) was not refused")
                continue
            }
            #expect(e.diagnostics.contains { $0.key == "filesystem.\(key)" && $0.line == 2 && $0.message.contains("part of the host's /proc") },
                    "\(e.diagnostics)")
        }
    }

    @Test("a symlink to a directory under /dev is warned like a bind under /dev")
    func deviceThroughSymlink() throws {
        let s = Scratch()
        let link = s.path + "/shm-link"
        #expect(symlink("/dev/shm", link) == 0)
        let p = try #require(plan("[filesystem]\nread_only = [\"\(link)\"]\n", s).plan)
        #expect(p.warnings.contains { $0.contains("\(link) exposes a host device") }, "\(p.warnings)")
    }
}

/// Red team: MCP clients' own configuration files are run-later places for an MCP sandbox: a
/// server that adds an entry there (or unwraps its own) runs unsandboxed at the client's next
/// start. So is direnv's allow list (it decides which `.envrc` files run).
@Suite struct ClientConfigGrantTests {
    @Test("a read-write bind of (or containing) an MCP client's configuration or direnv's allow list is refused unless accepted")
    func clientConfigurationRefused() throws {
        let h = Scratch(), s = Scratch()
        let home = h.mkdir("home")
        for place in [".claude", ".cursor", ".codex", ".gemini", ".config/Claude", ".local/share/direnv"] {
            h.mkdir("home/" + place)
        }
        h.write("home/.claude.json", "{}\n")
        s.write("base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        let env = ["HOME": home]
        for place in [".claude", ".cursor", ".codex", ".gemini", ".config/Claude", ".local/share/direnv"] {
            let path = home + "/" + place
            s.write("p.toml", "[filesystem]\nread_write = [\"\(path)\"]\n")
            guard case .failure(let e) = Fixture.plan("p", dirs: [s.path], env: env) else {
                Issue.record("read-write \(path) was not refused")
                continue
            }
            #expect(e.diagnostics.contains { $0.line == 2 && $0.key == "filesystem.read_write" && $0.message.contains("\(path) (")
                && $0.message.contains("which the host runs or trusts later") }, "\(e.diagnostics)")
            s.write("p.toml", "[filesystem]\nread_write = [\"\(path)\"]\naccept = [\"\(path)\"]\n")
            #expect(Fixture.errors("p", dirs: [s.path], env: env).isEmpty, "accept did not acknowledge \(path)")
        }
        // A directory holding ~/.claude.json (the home itself is refused on its own account).
        s.write("p.toml", "[filesystem]\nread_write = [\"\(home)/.config\"]\n")
        guard case .failure(let e) = Fixture.plan("p", dirs: [s.path], env: env) else {
            Issue.record("read-write ~/.config was not refused")
            return
        }
        #expect(e.diagnostics.contains { $0.message.contains("\(home)/.config/Claude") }, "\(e.diagnostics)")
    }
}

/// Red team: a relative PATH entry makes every read-write bind a directory on the caller's PATH
/// whenever they work there; the absolute-entry check passed it silently.
@Suite struct RelativePathEntryTests {
    @Test("a relative or empty PATH entry is warned (a note for check) when the plan has a read-write bind; absolute-only PATH is quiet")
    func relativePathEntriesWarned() throws {
        let w = Scratch(), s = Scratch()
        let work = w.mkdir("work")
        s.write("base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        s.write("p.toml", "[filesystem]\nread_write = [\"\(work)\"]\n")
        for (path, shown) in [(".:/usr/bin:/bin", "`.`"), ("/usr/bin::/bin", "an empty entry"), ("node_modules/.bin:/usr/bin", "`node_modules/.bin`")] {
            let env = ["PATH": path]
            let p = try #require(Fixture.plan("p", dirs: [s.path], env: env, host: Fixture.host(env: env)).plan)
            #expect(p.warnings.contains { $0.hasPrefix(PlanBuilder.invocationWarningPrefix) && $0.contains("your PATH holds the relative \(shown)")
                && $0.contains(work) }, "\(path): \(p.warnings)")
        }
        let env = ["PATH": "/usr/bin:/bin"]
        let quiet = try #require(Fixture.plan("p", dirs: [s.path], env: env, host: Fixture.host(env: env)).plan)
        #expect(!quiet.warnings.contains { $0.contains("your PATH") }, "\(quiet.warnings)")
        s.write("ro.toml", "[filesystem]\nread_only = [\"\(work)\"]\n")
        let readOnly = try #require(Fixture.plan("ro", dirs: [s.path], env: ["PATH": ".:/usr/bin"], host: Fixture.host(env: ["PATH": ".:/usr/bin"])).plan)
        #expect(!readOnly.warnings.contains { $0.contains("your PATH") }, "\(readOnly.warnings)")
    }
}
