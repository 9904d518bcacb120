import Foundation
import Testing
@testable import MCPBoxCore

/// Plans `run` would refuse at start-up are refused when the plan is built, so `explain` (the
/// built binary) refuses them too, with `run`'s words: log paths no log can live at, and a
/// profile the server could rewrite through another name.
@Suite(.serialized, .enabled(if: geteuid() == 0, "launches sandboxes as root (CI does)"))
struct RefusalAgreementTests {
    let shipped = ["--profile-path", Fixture.shippedProfiles]

    /// explain and run of `file` both exit 125 with the same message, which names `culprit`
    /// (default `file`), `key` and contains `words` (the hint follows in parentheses).
    func expectBothRefuse(_ file: String, _ args: [String], key: String, words: String, culprit: String? = nil, _ name: String) throws {
        let explain = try CLI.run(["explain", file] + args + ["--", "/bin/true"])
        let run = try CLI.run(["run", file] + args + ["--", "/bin/true"])
        #expect(explain.status == 125 && run.status == 125, "\(name): explain \(explain.status) \(explain.stderr) / run \(run.status) \(run.stderr)")
        #expect(run.stderr == explain.stderr, "\(name): \(explain.stderr) / \(run.stderr)")
        #expect(explain.stderr.contains("\(culprit ?? file):") && explain.stderr.contains(key) && explain.stderr.contains(words) && explain.stderr.contains(" ("),
                "\(name): \(explain.stderr)")
    }

    /// (name, log path, words of the refusal) for paths where no log can be written.
    func badLogPaths(_ s: Scratch) -> [(String, String, String)] {
        let p = s.path
        s.write("file", "x\n")
        s.mkdir("dir")
        mkfifo(p + "/fifo", 0o600)
        symlink(p + "/file", p + "/link")
        return [
            ("a file under /proc", "/proc/self/x.jsonl", "lies under /proc"),
            ("a device", "/dev/full", "lies under /dev"),
            ("a file under /sys", "/sys/x.jsonl", "lies under /sys"),
            ("below a regular file", p + "/file/x.jsonl", "is not a directory"),
            ("a FIFO", p + "/fifo", "FIFO, socket or device"),
            ("a directory", p + "/dir", "is a directory"),
            ("a symlink", p + "/link", "is a symlink"),
            ("a name longer than NAME_MAX", p + "/" + String(repeating: "x", count: 300) + ".jsonl", "is too long"),
        ]
    }

    @Test("an audit log path run cannot write is refused by explain and run alike")
    func auditLogPaths() throws {
        let s = Scratch()
        let profiles = Scratch()
        for (name, path, words) in badLogPaths(s) {
            let file = profiles.write("p.toml", "[audit]\nlog = \(HonestyCLITests.tomlQuoted(path))\n")
            try expectBothRefuse(file, shipped, key: "audit.log", words: words, name)
        }
    }

    @Test("a network log path run cannot write is refused by explain and run alike")
    func networkLogPaths() throws {
        let s = Scratch()
        let profiles = Scratch()
        for (name, path, words) in badLogPaths(s) {
            let file = profiles.write("p.toml", "[network]\nmode = \"allow\"\nlog = \(HonestyCLITests.tomlQuoted(path))\n")
            try expectBothRefuse(file, shipped, key: "network.log", words: words, name)
        }
    }

    @Test("a log on a read-only file system (a new file, or an existing one) is refused by explain and run alike")
    func readOnlyFileSystemLog() throws {
        let s = Scratch()
        let profiles = Scratch()
        let mnt = s.mkdir("ro")
        s.write("ro/existing.jsonl", "")
        // A read-only bind of the scratch directory onto itself, removed before the test ends.
        #expect(mount(mnt, mnt, nil, UInt(MS_BIND), nil) == 0, "bind: \(String(cString: strerror(errno)))")
        defer { umount2(mnt, Int32(MNT_DETACH)) }
        #expect(mount(nil, mnt, nil, UInt(MS_BIND | MS_REMOUNT | MS_RDONLY), nil) == 0, "remount ro: \(String(cString: strerror(errno)))")
        for (name, path, words) in [("a new file", mnt + "/new.jsonl", "cannot be created: \(mnt): Read-only file system"),
                                    ("an existing file", mnt + "/existing.jsonl", "cannot be written: Read-only file system")] {
            let audit = profiles.write("a.toml", "[audit]\nlog = \(HonestyCLITests.tomlQuoted(path))\n")
            try expectBothRefuse(audit, shipped, key: "audit.log", words: words, name)
            let net = profiles.write("n.toml", "[network]\nmode = \"allow\"\nlog = \(HonestyCLITests.tomlQuoted(path))\n")
            try expectBothRefuse(net, shipped, key: "network.log", words: words, name)
        }
    }

    @Test("a profile, or a profile it extends, hard-linked into a read-write bind is refused")
    func hardLinkedProfile() throws {
        let s = Scratch()
        let rw = s.mkdir("rw", mode: 0o777)
        let profiles = s.mkdir("profiles")
        s.write("profiles/base.toml", "[filesystem]\nread_only = [\"/usr\", \"/lib\", \"/lib64\", \"/bin\"]\n")
        let file = s.write("profiles/p.toml", "[filesystem]\nread_write = [\"\(rw)\"]\n")
        let dirs = ["--profile-path", profiles]
        // Control: without the links both work.
        let fine = try CLI.run(["explain", file] + dirs + ["--", "/bin/true"])
        #expect(fine.status == 0, "\(fine.stderr)")
        #expect(link(file, rw + "/p.toml") == 0)
        try expectBothRefuse(file, dirs, key: "filesystem.read_write", words: "hard links", "the profile")
        let explain = try CLI.run(["explain", file] + dirs + ["--", "/bin/true"])
        #expect(explain.stderr.contains("cp \(file) \(file).new && mv \(file).new \(file)"), "\(explain.stderr)")
        unlink(rw + "/p.toml")
        #expect(link(profiles + "/base.toml", rw + "/base.toml") == 0)
        try expectBothRefuse(file, dirs, key: "filesystem.read_write", words: "hard links", culprit: profiles + "/base.toml",
                             "the profile it extends")
    }

    @Test("network.mode = \"allow\" with a memory limit below the floor is refused by explain, check and run alike; at the floor it runs")
    func egressMemoryFloor() throws {
        let profiles = Scratch()
        for memory in ["\"4KiB\"", "\"64KiB\"", "8192", "\"1MiB\"", "\"?64KiB\""] {
            let file = profiles.write("p.toml", "[network]\nmode = \"allow\"\nallow = [\"example.com\"]\n[limits]\nmemory = \(memory)\n")
            try expectBothRefuse(file, shipped, key: "limits.memory", words: "is below 2MiB, the least a sandbox with network.mode = \"allow\"", memory)
            let check = try CLI.run(["check", file] + shipped)
            #expect(check.status == 1 && check.stdout.contains("limits.memory: ") && check.stdout.contains("is below 2MiB"), "\(memory): \(check.stdout)")
        }
        guard HostContext.current().memoryCgroup.usable else { return }
        let file = profiles.write("p.toml", "[network]\nmode = \"allow\"\nallow = [\"example.com\"]\n[limits]\nmemory = \"2MiB\"\n")
        for _ in 0..<10 {
            let run = try CLI.run(["run", file] + shipped + ["--", "/bin/true"])
            #expect(run.status == 0, "\(run.stderr)")
        }
    }

    @Test("a bind of a device node is refused by explain and run alike; a directory holding one runs")
    func deviceBinds() throws {
        let s = Scratch()
        let profiles = Scratch()
        symlink("/dev/zero", s.path + "/zero-link")
        s.mkdir("devs")
        #expect(mknod(s.path + "/devs/null", S_IFCHR | 0o666, 0x103 /* makedev(1, 3): null */) == 0, "\(String(cString: strerror(errno)))")
        var cases = [("read_only /dev/null, accepted", "read_only = [\"/dev/null\"]\naccept = [\"/dev/null\"]", "filesystem.read_only", "/dev/null is a character device"),
                     ("read_write /dev/null", "read_write = [\"/dev/null\"]", "filesystem.read_write", "/dev/null is a character device"),
                     ("through a symlink", "read_only = [\"\(s.path)/zero-link\"]", "filesystem.read_only", "zero-link (/dev/zero) is a character device"),
                     ("a node outside /dev", "read_only = [\"\(s.path)/devs/null\"]", "filesystem.read_only", "devs/null is a character device")]
        if let block = (try? FileManager.default.contentsOfDirectory(atPath: "/dev"))?.sorted().first(where: { HostFS.deviceKind("/dev/" + $0) == "block device" }) {
            cases.append(("a block device", "read_only = [\"/dev/\(block)\"]", "filesystem.read_only", "/dev/\(block) is a block device"))
        }
        for (name, entry, key, words) in cases {
            let file = profiles.write("p.toml", "[filesystem]\n\(entry)\n")
            try expectBothRefuse(file, shipped, key: key, words: words, name)
            let explain = try CLI.run(["explain", file] + shipped + ["--", "/bin/true"])
            #expect(explain.stderr.contains("binds are mounted nodev") && explain.stderr.contains("null, zero, full, random, urandom"), "\(name): \(explain.stderr)")
        }
        let file = profiles.write("p.toml", "[filesystem]\nread_only = [\"\(s.path)/devs\"]\n")
        let run = try CLI.run(["run", file] + shipped + ["--", "/bin/sh", "-c", "cat /dev/null && echo ok"])
        #expect(run.status == 0 && run.stdout.contains("ok"), "\(run.stderr)")
    }
}
