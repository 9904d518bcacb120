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

    func mount(_ args: [String]) throws -> () -> Void { try hostMount(args) }

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
        #expect(run.status == 125 && run.stderr.contains("\(sub) is bound read-write and lies inside \(stateDir), mcpbox's state")
                    && run.stderr.contains("\(sub) is a host mount of \(stateDir) inside \(work)"),
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
        // The dry run says so: the sandbox shows it.
        let e = try runProcess([mcpbox, "explain", p, "--", "/bin/true"], environment: env)
        #expect(e.stdoutText.contains("\(vol) ro: a host mount inside a bind"), "\(e.stdoutText.suffix(800))")
        let j = try runProcess([mcpbox, "explain", "--json", p, "--", "/bin/true"], environment: env)
        #expect(j.stdoutText.contains("\"carried\": [{\"path\": \"\(vol)\""), "\(j.stdoutText.prefix(2000))")
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

    /// A second red-team pass: carried mounts were judged by their mount point, so a mount of
    /// something *inside* a protected object (a file or directory in `~/.ssh`, a directory of
    /// mcpbox's state, a directory inside a hidden one) passed.
    @Test("a host mount of a file or directory inside ~/.ssh, of a directory of mcpbox's state, or of one inside a hidden directory: judged by what it shows")
    func mountsOfWhatLiesInside() throws {
        defer { tmp.remove() }
        let home = try tmp.makeDir("home")
        _ = try tmp.makeDir("home/.ssh/sub", mode: 0o755)
        _ = try tmp.write("home/.ssh/id_test", "SSH-CANARY\n")
        _ = try tmp.write("home/.ssh/sub/k", "SUB-CANARY\n")
        let seccomp = try tmp.makeDir("home/.local/state/mcpbox/seccomp")
        let w = try tmp.makeDir("w")
        let m1 = try tmp.makeDir("w/m1")
        let f1 = try tmp.write("w/f1", "")
        let st = try tmp.makeDir("w/st")
        var undo = [try mount(["--bind", home + "/.ssh/sub", m1]), try mount(["--bind", home + "/.ssh/id_test", f1]), try mount(["--bind", seccomp, st])]
        defer { undo.reversed().forEach { $0() } }
        let env = ["PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8"]
        let ro = try profile("ro", "extends = [\"base\"]\n[filesystem]\nread_only = [\"\(w)\"]\n")
        let r = try runProcess([mcpbox, "run", ro, "--", "/bin/cat", f1, m1 + "/k"], environment: env)
        #expect(r.status == 125 && r.stderr.contains("\(m1) is a host mount of \(home)/.ssh/sub inside \(w)")
                    && r.stderr.contains("\(f1) is a host mount of \(home)/.ssh/id_test inside \(w)") && !r.stdoutText.contains("CANARY"),
                "exit \(r.status): \(r.stdoutText) \(r.stderr.suffix(900))")
        let rw = try profile("rw", "extends = [\"base\"]\n[filesystem]\nread_write = [\"\(w)\"]\nhide = [\"\(m1)\", \"\(f1)\"]\n")
        let e = try runProcess([mcpbox, "explain", rw, "--", "/bin/true"], environment: env)
        #expect(e.status == 125 && e.stderr.contains("\(st) is bound read-write and lies inside \(home)/.local/state/mcpbox, mcpbox's state"),
                "exit \(e.status): \(e.stderr.suffix(600))")
        undo.forEach { $0() }
        undo = []

        // A hide of a directory: a host mount elsewhere in the bind of a directory inside it.
        let data = try tmp.makeDir("data")
        _ = try tmp.makeDir("data/private/keys")
        _ = try tmp.write("data/private/keys/k", "HIDDEN-CANARY\n")
        let pub = try tmp.makeDir("data/pub")
        undo = [try mount(["--bind", data + "/private/keys", pub])]
        let h = try profile("h", "extends = [\"base\"]\n[filesystem]\nread_only = [\"\(data)\"]\nhide = [\"\(data)/private\"]\n")
        let hr = try runProcess([mcpbox, "run", h, "--", "/bin/sh", "-c", "cat \(pub)/k; exit 0"], environment: env)
        #expect(hr.status == 0 && !hr.stdoutText.contains("HIDDEN-CANARY"), "exit \(hr.status): \(hr.stdoutText) \(hr.stderr.suffix(400))")
    }

    /// A third red-team pass: a host mount judged by what it shows compared names, so a second
    /// name of the same directory (`/home` a bind of `/srv/home`), a symlinked `~/.ssh`, or a
    /// mount of a file deleted since, passed.
    @Test("second names and symlinks of what a host mount shows, and a mount of something deleted since")
    func secondNamesAndDeletedRoots() throws {
        defer { tmp.remove() }
        let env0 = ["PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"]
        // A hide named by a second name of the directory (hh2 is a bind mount of srv).
        _ = try tmp.makeDir("srv/u/secret/sub")
        _ = try tmp.write("srv/u/secret/sub/k", "HIDE-CANARY\n")
        let hh2 = try tmp.makeDir("hh2")
        let w5 = try tmp.makeDir("w5")
        let sub5 = try tmp.makeDir("w5/sub")
        var undo = [try mount(["--bind", tmp.path + "/srv", hh2])]
        undo.append(try mount(["--bind", hh2 + "/u/secret/sub", sub5]))
        let h = try profile("h", "extends = [\"base\"]\n[filesystem]\nread_only = [\"\(w5)\"]\nhide = [\"\(hh2)/u/secret\"]\n")
        let r = try runProcess([mcpbox, "run", h, "--", "/bin/sh", "-c", "cat \(sub5)/k; exit 0"], environment: env0)
        #expect(r.status == 0 && !r.stdoutText.contains("HIDE-CANARY") && !r.stderr.contains("invisible anyway"), "exit \(r.status): \(r.stdoutText) \(r.stderr.suffix(400))")

        // ~/.ssh a symlink to dotfiles/ssh; a host mount of its keys inside a bound directory.
        let home = try tmp.makeDir("home")
        _ = try tmp.makeDir("home/dotfiles/ssh/keys")
        _ = try tmp.write("home/dotfiles/ssh/keys/k", "SSH-CANARY\n")
        #expect(symlink("dotfiles/ssh", home + "/.ssh") == 0)
        let w1 = try tmp.makeDir("w1")
        let sub1 = try tmp.makeDir("w1/sub")
        undo.append(try mount(["--bind", home + "/.ssh/keys", sub1]))
        let env = ["PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8"]
        let c = try profile("c", "extends = [\"base\"]\n[filesystem]\nread_only = [\"\(w1)\"]\n")
        let rc = try runProcess([mcpbox, "run", c, "--", "/bin/cat", sub1 + "/k"], environment: env)
        #expect(rc.status == 125 && rc.stderr.contains("exposes the credentials") && !rc.stdoutText.contains("SSH-CANARY"), "exit \(rc.status): \(rc.stdoutText) \(rc.stderr.suffix(500))")
        // So does a bind of the dotfiles directory itself.
        let dot = try profile("dot", "extends = [\"base\"]\n[filesystem]\nread_only = [\"\(home)/dotfiles\"]\n")
        let rd = try runProcess([mcpbox, "explain", dot, "--", "/bin/true"], environment: env)
        #expect(rd.status == 125 && rd.stderr.contains("exposes the credentials \(home)/dotfiles/ssh (\(home)/.ssh)"), "exit \(rd.status): \(rd.stderr.suffix(500))")

        // A host mount of a file deleted (and recreated) since: no name left to judge it by.
        let f = try tmp.write("home/dotfiles/ssh/id_test", "OLD-KEY\n")
        let w3 = try tmp.makeDir("w3")
        let f1 = try tmp.write("w3/f1", "")
        undo.append(try mount(["--bind", f, f1]))
        #expect(unlink(f) == 0)
        _ = try tmp.write("home/dotfiles/ssh/id_test", "NEW-KEY\n")
        let dl = try profile("dl", "extends = [\"base\"]\n[filesystem]\nread_only = [\"\(w3)\"]\n")
        let rl = try runProcess([mcpbox, "run", dl, "--", "/bin/cat", f1], environment: env)
        #expect(rl.status == 125 && rl.stderr.contains("deleted since") && !rl.stdoutText.contains("OLD-KEY"), "exit \(rl.status): \(rl.stdoutText) \(rl.stderr.suffix(400))")
        undo.reversed().forEach { $0() }
    }
}
