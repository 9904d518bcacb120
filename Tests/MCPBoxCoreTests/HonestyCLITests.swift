import Foundation
import Testing
@testable import MCPBoxCore

/// `explain` and `run` of the built binary agree: explain succeeds exactly when run's launch
/// succeeds (`/bin/true` inside), and both print the same refusal otherwise.
@Suite(.serialized, .enabled(if: geteuid() == 0, "launches sandboxes as root (CI does)"))
struct HonestyCLITests {
    let shipped = ["--profile-path", Fixture.shippedProfiles]

    /// A scratch tree everyone may traverse (the server runs as nobody).
    func tree() -> Scratch {
        let s = Scratch()
        chmod(s.path, 0o755)
        s.write("ro/file", "x\n")
        s.mkdir("ro/sub/inner")
        s.mkdir("rw", mode: 0o777)
        s.write("ro/real/x", "x\n")
        symlink("file", s.path + "/ro/link")
        symlink("real", s.path + "/ro/dirlink")
        // A directory whose name is not valid UTF-8, reached through a symlink.
        let bad = Array((s.path + "/bad").utf8CString.dropLast()) + [CChar(bitPattern: 0xFF), 0]
        mkdir(bad, 0o755)
        symlink(bad, s.path + "/utf8link")
        return s
    }

    /// `accept = [...]` naming every credentials path that exists in a home on this host: binding
    /// `/` exposes them, which is refused unless acknowledged (the subject of other tests).
    static func acceptHostCredentials() -> String {
        var homes = Set(Accounts().users.map(\.home))
        if let h = ProcessInfo.processInfo.environment["HOME"] { homes.insert(h) }
        var found: [String] = []
        for home in homes.sorted() where home.hasPrefix("/") && home != "/" {
            for c in GrantChecks.credentials where HostFS.info(Paths.join(home, c), follow: false) != nil {
                found.append(Paths.join(home, c))
            }
        }
        return "accept = [" + found.map { tomlQuoted($0) }.joined(separator: ", ") + "]\n"
    }

    static func tomlQuoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// (name, profile text, whether the launch can work).
    func cases(_ s: Scratch) -> [(String, String, Bool)] {
        let p = s.path
        return [
            ("etc read-only", "[filesystem]\nread_only = [\"/etc\"]\n", true),
            ("/ read-only", "extends = []\ncwd = \"/\"\n[filesystem]\nread_only = [\"/\"]\n" + Self.acceptHostCredentials(), true),
            ("/ read-only with base", "cwd = \"/\"\n[filesystem]\nread_only = [\"/\"]\ntmpfs = [\"/tmp\"]\n" + Self.acceptHostCredentials(), true),
            ("tmpfs /etc", "[filesystem]\ntmpfs = [\"/etc\"]\n", true),
            ("tmpfs on an existing directory in a read-only bind", "[filesystem]\nread_only = [\"\(p)/ro\"]\ntmpfs = [\"\(p)/ro/sub\"]\n", true),
            ("tmpfs on a missing directory in a read-only bind", "[filesystem]\nread_only = [\"\(p)/ro\"]\ntmpfs = [\"\(p)/ro/missing\"]\n", false),
            ("tmpfs on a regular file", "[filesystem]\nread_only = [\"\(p)/ro\"]\ntmpfs = [\"\(p)/ro/file\"]\n", false),
            ("tmpfs below a file", "[filesystem]\nread_only = [\"\(p)/ro\"]\ntmpfs = [\"\(p)/ro/file/x\"]\n", false),
            ("hide of a symlink", "[filesystem]\nread_only = [\"\(p)/ro\"]\nhide = [\"\(p)/ro/link\"]\n", false),
            ("hide of a directory holding a bind", "[filesystem]\nread_only = [\"\(p)/ro\", \"\(p)/ro/sub/inner\"]\nhide = [\"\(p)/ro/sub\"]\n", true),
            ("bind through a symlink showing the same object", "[filesystem]\nread_only = [\"\(p)/ro\", \"\(p)/ro/dirlink/x\"]\n", true),
            ("read-write bind through a read-only symlink", "[filesystem]\nread_only = [\"\(p)/ro\"]\nread_write = [\"\(p)/ro/dirlink/x\"]\n", false),
            ("a device the sandbox's /dev lacks", "[filesystem]\nread_only = [\"/dev/tty\"]\n", false),
            ("a device the sandbox's /dev has", "[filesystem]\nread_only = [\"/dev/null\"]\n", false),
            ("tmpfs in /dev/shm", "[filesystem]\ntmpfs = [\"/dev/shm/x\"]\n", true),
            ("tmpfs in a missing directory of a read-write bind", "[filesystem]\nread_write = [\"\(p)/rw\"]\ntmpfs = [\"\(p)/rw/new/t\"]\n", true),
            ("HOME inside a read-only /home", "[filesystem]\nread_only = [\"/home\"]\n", access("/home/nobody", F_OK) == 0),
            ("tmpfs below a tmpfs below a read-only bind", "[filesystem]\nread_only = [\"\(p)/ro\"]\ntmpfs = [\"\(p)/ro/sub\", \"\(p)/ro/sub/a/b\"]\n", true),
            ("bind below a hidden directory", "[filesystem]\nread_only = [\"\(p)/ro\"]\ntmpfs = [\"\(p)/ro/sub/inner\"]\nhide = [\"\(p)/ro/sub\"]\n", true),
            ("a bind whose real path is not valid UTF-8", "[filesystem]\nread_only = [\"\(p)/utf8link\"]\n", false),
            ("cwd inside a hidden directory", "cwd = \"\(p)/ro/sub/inner\"\n[filesystem]\nread_only = [\"\(p)/ro\"]\ntmpfs = [\"\(p)/ro/sub/inner\"]\nhide = [\"\(p)/ro/sub\"]\n", false),
            ("tmpfs on a missing directory below an existing one", "[filesystem]\nread_only = [\"\(p)/ro\"]\ntmpfs = [\"\(p)/ro/sub/inner/t\"]\n", false),
        ]
    }

    @Test("explain succeeds exactly when run's launch succeeds")
    func explainAgreesWithRun() throws {
        let s = tree()
        let profiles = Scratch()
        chmod(profiles.path, 0o755)
        for (name, text, works) in cases(s) {
            let file = profiles.write("p.toml", text)
            let explain = try CLI.run(["explain", file] + shipped + ["--", "/bin/true"])
            let run = try CLI.run(["run", file] + shipped + ["--", "/bin/true"])
            #expect((explain.status == 0) == (run.status == 0), "\(name): explain \(explain.status) \(explain.stderr) / run \(run.status) \(run.stderr)")
            #expect((run.status == 0) == works, "\(name): run \(run.status) \(run.stderr)")
            // A mount a mask covers is listed, and said to be invisible (a red-team finding:
            // explain listed `sub/inner` as mounted with no word that the hide masks it).
            if name.contains("hid"), text.contains("hide"), text.contains("inner\""), explain.status == 0 {
                #expect(explain.stdout.contains("/ro/sub/inner") && explain.stdout.contains("inside \(s.path)/ro/sub, which `hide` masks"), "\(name): \(explain.stdout)")
            }
            if explain.status != 0 {
                #expect(run.status == 125 && run.stderr == explain.stderr, "\(name): \(explain.stderr) / \(run.stderr)")
                if explain.stderr.contains("the launch would fail there") {
                    #expect(explain.stderr.hasPrefix("mcpbox: \(file):"), "\(name): the refusal names the profile line: \(explain.stderr)")
                }
            }
        }
    }

    @Test("/ bound read-only is the root: the host's files, read-only, with the sandbox's own /proc, /dev, /tmp")
    func rootBindReadOnly() throws {
        let profiles = Scratch()
        let file = profiles.write("p.toml", "extends = []\ncwd = \"/\"\n[filesystem]\nread_only = [\"/\"]\n" + Self.acceptHostCredentials())
        let explain = try CLI.run(["explain", file] + shipped + ["--", "/bin/true"])
        #expect(explain.stdout.contains("FILESYSTEM (root: the host's / bound read-only; the entries below are mounted over it)"), "\(explain.stdout)")
        let r = try CLI.run(["run", file] + shipped + ["--", "/bin/sh", "-c",
            "test -f /etc/os-release && echo host-files; touch /etc/mcpbox-canary 2>/dev/null || echo read-only; "
            + "touch /tmp/x && echo tmp-writable; test $(ls /proc | grep -c '^[0-9]') -lt 10 && echo own-proc"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "host-files\nread-only\ntmp-writable\nown-proc\n", "\(r.stdout)")
        #expect(access("/etc/mcpbox-canary", F_OK) != 0)

        // The same for an ordinary caller (nobody), whose child re-opens the sources itself.
        chmod(profiles.path, 0o755)
        let bin = try CLI.binary()
        let u = try CLI.run([], env: [:], shell: "exec setpriv --reuid 65534 --regid 65534 --clear-groups \(bin) run \(file) "
            + "--profile-path \(Fixture.shippedProfiles) -- /bin/sh -c 'test -f /etc/os-release && touch /tmp/x && echo ok'")
        #expect(u.status == 0 && u.stdout == "ok\n", "\(u.status) \(u.stdout) \(u.stderr)")
    }

    @Test("the limits explain shows are the ones a process inside sees; one above the hard limit is refused by both")
    func limitsInsideMatchExplain() throws {
        let profiles = Scratch()
        let file = profiles.write("p.toml", "[limits]\nprocesses = 6\nopen_files = 300\n")
        let explain = try CLI.run(["explain", file] + shipped)
        #expect(explain.stdout.contains("processes       6 (RLIMIT_NPROC"), "\(explain.stdout)")
        #expect(explain.stdout.contains("open_files      300 (RLIMIT_NOFILE)"), "\(explain.stdout)")
        let r = try CLI.run(["run", file] + shipped + ["--", "/bin/sh", "-c", "grep -E '^Max (processes|open files)' /proc/self/limits"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(rows.count == 2 && rows[0][2] == "6" && rows[0][3] == "6" && rows[1][3] == "300" && rows[1][4] == "300", "\(r.stdout)")

        // Under a hard RLIMIT_NOFILE of 200, 300 open files cannot be had: both refuse, same words.
        let bin = try CLI.binary()
        for cmd in ["explain", "run"] {
            let o = try CLI.run([], env: [:], shell: "ulimit -n 200 && exec \(bin) \(cmd) \(file) --profile-path \(Fixture.shippedProfiles) -- /bin/true")
            #expect(o.status == 125, "\(cmd): \(o.status) \(o.stderr)")
            #expect(o.stderr.contains("\(file):3: limits.open_files: 300 is above the hard limit mcpbox runs under (200 open files)"), "\(cmd): \(o.stderr)")
        }
    }

    @Test("an executable whose interpreter the sandbox cannot see: explain names it, run exits 127 with the same words")
    func missingInterpreter() throws {
        let s = tree()
        let elf = try Data(contentsOf: URL(fileURLWithPath: "/bin/true"))
        let old = Data("/lib64/ld-linux-x86-64.so.2\0".utf8), new = Data("/nonexistent/ld-linux.so.22\0".utf8)
        let range = try #require(elf.range(of: old), "/bin/true has the usual x86-64 interpreter")
        var patched = elf
        patched.replaceSubrange(range, with: new)
        s.mkdir("bin")
        let tool = s.path + "/bin/tool"
        try patched.write(to: URL(fileURLWithPath: tool))
        chmod(tool, 0o755)
        let script = s.write("bin/script", "#!\(tool)\n", mode: 0o755)
        let profiles = Scratch()
        let file = profiles.write("p.toml", "[filesystem]\nread_only = [\"\(s.path)/bin\"]\n")
        for exe in [tool, script] {
            let explain = try CLI.run(["explain", file] + shipped + ["--", exe])
            #expect(explain.status == 0)
            #expect(explain.stdout.contains("FAILS: \(tool) needs the ELF interpreter /nonexistent/ld-linux.so.22, which is not visible inside the sandbox (run would exit 127"), "\(explain.stdout)")
            let run = try CLI.run(["run", file] + shipped + ["--", exe])
            #expect(run.status == 127)
            #expect(run.stderr.contains("\(tool) needs the ELF interpreter /nonexistent/ld-linux.so.22") && run.stderr.contains("filesystem.read_only"), "\(run.stderr)")
        }
        let missing = try CLI.run(["explain", "--json", file] + shipped + ["--", script])
        let obj = try JSONSerialization.jsonObject(with: Data(missing.stdout.utf8)) as? [String: Any]
        let problem = (obj?["command"] as? [String: Any])?["exec_problem"] as? [String: Any]
        #expect(problem?["exit_status"] as? Int == 127, "\(missing.stdout)")
    }
}

extension CLI {
    /// Runs `shell` with /bin/sh (the mcpbox command inside it), with the usual environment.
    static func run(_ args: [String], env: [String: String], shell: String) throws -> Output {
        try execute("/bin/sh", ["-c", shell] + args, environment: usualEnvironment(env))
    }
}
