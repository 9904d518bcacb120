import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A bind is recursive: whatever the host has mounted below its source comes into the sandbox
/// with it, under a name the profile never gave. Each such host mount is judged as a bind of its
/// own (each case here passed `explain` and `run` on the build before, and the server read or
/// wrote through it).
@Suite("host mounts inside a bound directory are judged as binds of their own",
       .enabled(if: TestSupport.isRoot, "mounts and runs sandboxes: run as root (CI does)"))
struct CarriedMountTests {
    let tmp: TempDir
    let mcpbox: String

    init() throws {
        tmp = try TempDir(prefix: "mcpbox-carried")
        chmod(tmp.path, 0o755)
        mcpbox = try TestSupport.mcpboxBinary()
    }

    func profile(_ name: String, _ text: String) throws -> String {
        try tmp.write(name + ".toml", text)
    }

    func mount(_ args: [String]) throws -> () -> Void {
        let r = try runProcess(["/bin/mount"] + args)
        try #require(r.status == 0, "mount \(args): \(r.stderr)")
        return { _ = try? runProcess(["/bin/umount", "-l", args.last!]) }
    }

    @Test("mcpbox's own state mounted inside a read-write bind: refused (the server would rewrite the cached seccomp filters later launches load)")
    func stateMountedInsideWritableBind() throws {
        defer { tmp.remove() }
        let home = try tmp.makeDir("home")
        let stateDir = try tmp.makeDir("home/.local/state/mcpbox")
        let state = try tmp.makeDir("home/.local/state/mcpbox/seccomp")
        let work = try tmp.makeDir("work")
        let sub = try tmp.makeDir("work/sub")
        let undo = try mount(["--bind", stateDir, sub])
        defer { undo() }
        let env = ["PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8"]
        let p = try profile("st", "extends = [\"base\"]\n[filesystem]\nread_write = [\"\(work)\"]\n")
        let canary = sub + "/seccomp/CANARY"
        let run = try runProcess([mcpbox, "run", p, "--", "/bin/sh", "-c", "echo planted > \(canary)"], environment: env)
        #expect(run.status == 125 && run.stderr.contains("contains (as another mount of it) \(stateDir)")
                    && run.stderr.contains("\(sub) is a host mount inside \(work)"),
                "exit \(run.status): \(run.stderr.suffix(600))")
        #expect(!FileManager.default.fileExists(atPath: state + "/CANARY"), "the server wrote into mcpbox's state")
        let explain = try runProcess([mcpbox, "explain", p, "--", "/bin/true"], environment: env)
        #expect(explain.status == 125 && explain.stderr.contains("\(p):3: filesystem.read_write: refused:"), "\(explain.stderr.suffix(600))")
    }

    @Test("a procfs mounted inside a bound directory: refused (the host's processes, never the sandbox's own)")
    func procfsInsideBind() throws {
        defer { tmp.remove() }
        let dir = try tmp.makeDir("pb")
        let p = try tmp.makeDir("pb/p")
        let undo = try mount(["-t", "proc", "proc", p])
        defer { undo() }
        let prof = try profile("pr", "extends = [\"base\"]\n[filesystem]\nread_only = [\"\(dir)\"]\n")
        let env = ["PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"]
        let run = try runProcess([mcpbox, "run", prof, "--", "/bin/sh", "-c", "cat \(p)/1/cmdline; ls \(p) | wc -l"], environment: env)
        #expect(run.status == 125 && run.stderr.contains("holds the host mount \(p), a procfs"), "exit \(run.status): \(run.stdoutText) \(run.stderr.suffix(400))")
        #expect(run.stdoutText.isEmpty, "the server listed the host's processes: \(run.stdoutText.prefix(200))")
        for args in [["explain", prof, "--", "/bin/true"], ["check", prof]] {
            let r = try runProcess([mcpbox] + args, environment: env)
            #expect(r.status != 0 && (r.stderr + r.stdoutText).contains("a procfs"), "\(args): exit \(r.status)")
        }
        // Under the sandbox's own mount (here a tmpfs over it) it is not shown: nothing to refuse.
        let covered = try profile("pr2", "extends = [\"base\"]\n[filesystem]\nread_only = [\"\(dir)\"]\ntmpfs = [\"\(p)\"]\n")
        let ok = try runProcess([mcpbox, "run", covered, "--", "/bin/sh", "-c", "ls \(p) | wc -l"], environment: env)
        #expect(ok.status == 0 && ok.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "exit \(ok.status): \(ok.stdoutText) \(ok.stderr.suffix(400))")
    }

    @Test("~/.ssh bind-mounted inside a bound directory, or bound at its mount point: refused both ways; hidden, the run works")
    func credentialsMountedInsideBind() throws {
        defer { tmp.remove() }
        let home = try tmp.makeDir("home")
        let ssh = try tmp.makeDir("home/.ssh", mode: 0o755)
        _ = try tmp.write("home/.ssh/id_test", "SSH-CANARY\n")
        let outer = try tmp.makeDir("outer")
        let sub = try tmp.makeDir("outer/sub")
        let undo = try mount(["--bind", ssh, sub])
        defer { undo() }
        let env = ["PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8"]
        for (name, bound) in [("parent", outer), ("itself", sub)] {
            let p = try profile(name, "extends = [\"base\"]\n[filesystem]\nread_only = [\"\(bound)\"]\n")
            let run = try runProcess([mcpbox, "run", p, "--", "/bin/cat", sub + "/id_test"], environment: env)
            #expect(run.status == 125 && run.stderr.contains("exposes the credentials \(sub) to the server read-only: the host mount at \(sub) shows \(ssh)")
                        && !run.stdoutText.contains("SSH-CANARY"),
                    "\(name): exit \(run.status): \(run.stdoutText) \(run.stderr.suffix(500))")
            // Said once, at the profile's entry.
            #expect(run.stderr.components(separatedBy: "exposes the credentials").count == 2, "\(name): \(run.stderr.suffix(800))")
        }
        let hidden = try profile("hidden", "extends = [\"base\"]\n[filesystem]\nread_only = [\"\(outer)\"]\nhide = [\"\(sub)\"]\n")
        let ok = try runProcess([mcpbox, "run", hidden, "--", "/bin/sh", "-c", "cat \(sub)/id_test; exit 0"], environment: env)
        #expect(ok.status == 0 && !ok.stdoutText.contains("SSH-CANARY"), "exit \(ok.status): \(ok.stdoutText) \(ok.stderr.suffix(400))")
    }

    @Test("an ordinary host mount inside a bound directory still comes with it, with the bind's mode")
    func ordinaryMountStillCarried() throws {
        defer { tmp.remove() }
        let dir = try tmp.makeDir("data")
        let vol = try tmp.makeDir("data/vol")
        let undo = try mount(["-t", "tmpfs", "-o", "size=1m", "tmpfs", vol])
        defer { undo() }
        _ = try tmp.write("data/vol/note", "on-the-volume\n")
        let p = try profile("vol", "extends = [\"base\"]\n[filesystem]\nread_only = [\"\(dir)\"]\n")
        let env = ["PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"]
        let r = try runProcess([mcpbox, "run", p, "--", "/bin/sh", "-c", "cat \(vol)/note; (echo x > \(vol)/w) 2>/dev/null && echo WROTE; true"], environment: env)
        #expect(r.status == 0 && r.stdoutText.contains("on-the-volume") && !r.stdoutText.contains("WROTE"), "exit \(r.status): \(r.stdoutText) \(r.stderr.suffix(400))")
    }

    @Test("a hide of a host path the sandbox shows only through a host mount inside a bound directory masks it there too")
    func hideReachesCarriedMount() throws {
        defer { tmp.remove() }
        let shared = try tmp.makeDir("shared")
        _ = try tmp.write("shared/secret", "HIDDEN-CANARY\n")
        _ = try tmp.write("shared/public", "visible\n")
        let work = try tmp.makeDir("work")
        let sub = try tmp.makeDir("work/sub")
        let undo = try mount(["--bind", shared, sub])
        defer { undo() }
        let p = try profile("h", "extends = [\"base\"]\n[filesystem]\nread_only = [\"\(work)\"]\nhide = [\"\(shared)/secret\"]\n")
        let env = ["PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"]
        let r = try runProcess([mcpbox, "run", p, "--", "/bin/sh", "-c", "cat \(sub)/public; cat \(sub)/secret; exit 0"], environment: env)
        #expect(r.status == 0 && r.stdoutText.contains("visible") && !r.stdoutText.contains("HIDDEN-CANARY"), "exit \(r.status): \(r.stdoutText) \(r.stderr.suffix(400))")
        let explain = try runProcess([mcpbox, "explain", p, "--", "/bin/true"], environment: env)
        #expect(explain.status == 0 && explain.stdoutText.contains("\(sub)/secret") && !explain.stderr.contains("invisible anyway"),
                "\(explain.stdoutText.suffix(800)) \(explain.stderr.suffix(300))")
    }
}
