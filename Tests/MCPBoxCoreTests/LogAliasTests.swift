import Foundation
import Testing
@testable import MCPBoxCore

/// A log mcpbox writes (`[audit] log`, `[network] log`) must not be writable by the server under
/// any name: a path that reaches a read-write bind through a symlink, or a directory that a host
/// bind mount also shows inside one, is refused like a path written inside it. Found by a
/// red-team pass: before the fix only the path as written was compared, so the server could
/// rewrite, truncate or forge the audit log it is audited by.
@Suite(.serialized, .enabled(if: geteuid() == 0, "launches sandboxes as root (CI does)"))
struct LogAliasTests {
    let shipped = ["--profile-path", Fixture.shippedProfiles]

    /// explain and run both exit 125 naming `key` and the read-write bind.
    func expectBothRefuse(_ file: String, key: String, bind: String, _ name: String) throws {
        let explain = try CLI.run(["explain", file] + shipped + ["--", "/bin/true"])
        let run = try CLI.run(["run", file] + shipped + ["--", "/bin/true"])
        #expect(explain.status == 125 && run.status == 125, "\(name): explain \(explain.status) \(explain.stderr) / run \(run.status) \(run.stderr)")
        #expect(explain.stderr.contains(key) && explain.stderr.contains("lies inside \(bind), which the server may write"),
                "\(name): \(explain.stderr)")
    }

    /// (name, log path) pairs that reach `rw` by another name; `alias` is bind-mounted by the caller.
    func aliases(_ s: Scratch, rw: String, alias: String) -> [(String, String)] {
        symlink(rw, s.path + "/link")
        s.mkdir("outer")
        symlink(rw + "/logs", s.path + "/outer/logs")
        return [
            ("a symlink to the bind", s.path + "/link/audit.jsonl"),
            ("a symlink to a directory inside the bind", s.path + "/outer/logs/new/audit.jsonl"),
            ("a host bind mount of the bind", alias + "/audit.jsonl"),
        ]
    }

    @Test("an audit log reaching a read-write bind through a symlink or a host bind mount is refused", arguments: ["audit", "network"])
    func logThroughAnotherName(_ kind: String) throws {
        let s = Scratch()
        let profiles = Scratch()
        let rw = s.mkdir("rw")
        s.mkdir("rw/logs")
        let alias = s.mkdir("alias")
        #expect(mount(rw, alias, nil, UInt(MS_BIND), nil) == 0, "bind: \(String(cString: strerror(errno)))")
        defer { umount2(alias, Int32(MNT_DETACH)) }
        for (name, path) in aliases(s, rw: rw, alias: alias) {
            if kind == "network" { mkdir(Paths.dirname(path), 0o700) }
            let table = kind == "audit" ? "[audit]\nlog = \(HonestyCLITests.tomlQuoted(path))\n"
                : "[network]\nmode = \"allow\"\nlog = \(HonestyCLITests.tomlQuoted(path))\n"
            let file = profiles.write("p.toml", "[filesystem]\nread_write = [\(HonestyCLITests.tomlQuoted(rw))]\n" + table)
            try expectBothRefuse(file, key: "\(kind).log", bind: rw, name)
        }
        // Beside the bind, not inside it, under every name: accepted.
        let beside = s.mkdir("beside")
        let file = profiles.write("p.toml", "[filesystem]\nread_write = [\(HonestyCLITests.tomlQuoted(rw))]\n"
            + (kind == "audit" ? "[audit]\n" : "[network]\nmode = \"allow\"\n") + "log = \(HonestyCLITests.tomlQuoted(beside + "/x.jsonl"))\n")
        let explain = try CLI.run(["explain", file] + shipped + ["--", "/bin/true"])
        #expect(explain.status == 0, "\(explain.stderr)")
    }

    /// A log's lines carry what the server chose (tool names, arguments, payloads, host names):
    /// a log in a place the host runs later handed them to the host. `[audit] log = "~/.bashrc"`
    /// with `payloads = "full"` and a server answering `$(id > canary)` ran `id` at the next
    /// `source ~/.bashrc` (red-team pass, 2026-12-02; fails before the fix).
    @Test("a log that is, or lies in, a place the host runs or trusts later is refused", arguments: ["audit", "network"])
    func logInRunLaterPlace(_ kind: String) throws {
        let home = Scratch()
        let profiles = Scratch()
        home.mkdir(".config")
        home.mkdir(".config/git")
        home.mkdir(".local")
        home.mkdir(".local/bin")
        let places = [(".bashrc", "shell start-up file"), (".config/git/audit.log", "git configuration"),
                      (".local/bin/log", "programs in PATH"), (".config/mcpbox/profiles/log.toml", "a directory of the profile search path")]
        for (place, what) in places {
            let path = home.path + "/" + place
            if kind == "network" { mkdir(Paths.dirname(path), 0o700) }
            let table = kind == "audit" ? "[audit]\nlog = \(HonestyCLITests.tomlQuoted(path))\npayloads = \"full\"\n"
                : "[network]\nmode = \"allow\"\nlog = \(HonestyCLITests.tomlQuoted(path))\n"
            let file = profiles.write("p.toml", table)
            let env = ["HOME": home.path, "XDG_CONFIG_HOME": home.path + "/.config"]
            for command in ["explain", "run"] {
                let r = try CLI.run([command, file] + shipped + ["--", "/bin/true"], env: env)
                #expect(r.status == 125 && r.stderr.contains("\(kind).log") && r.stderr.contains("(\(what)"), "\(command) \(place): \(r.status) \(r.stderr)")
                #expect(r.stderr.contains("which the host runs or trusts later"), "\(command) \(place): \(r.stderr)")
            }
            #expect(!FileManager.default.fileExists(atPath: path) || kind == "network", "\(place) was written")
        }
        // The default place, and an ordinary directory: accepted.
        let ok = home.mkdir("logs")
        let file = profiles.write("p.toml", kind == "audit" ? "[audit]\nlog = true\n" : "[network]\nmode = \"allow\"\nlog = \(HonestyCLITests.tomlQuoted(ok + "/net.jsonl"))\n")
        let explain = try CLI.run(["explain", file] + shipped + ["--", "/bin/true"], env: ["HOME": home.path])
        #expect(explain.status == 0, "\(explain.stderr)")
    }
}
