import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `[isolation] runtime = "gvisor"` through the built binary: what runs, what explain shows, and
/// every refusal (runsc missing, not root), never a fallback to the native runtime (allow mode:
/// GVisorEgressTests).
@Suite("gVisor runtime: run, explain, refusals", .enabled(if: TestSupport.isRoot && GVisorSupport.runsc != nil, "needs root and runsc"))
struct GVisorRuntimeTests {
    let mcpbox: String
    let tmp: TempDir
    let env = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"]

    init() throws {
        mcpbox = try TestSupport.mcpboxBinary()
        tmp = try TempDir(prefix: "mcpbox-gvisor")
    }

    func profile(_ name: String, _ isolation: String, extra: String = "") throws -> String {
        try tmp.write(name + ".toml", "extends = [\"base\"]\n\n[isolation]\n" + isolation + "\n" + extra)
    }

    func mcpboxRun(_ args: [String], environment: [String: String]? = nil) throws -> ProcessResult {
        var e = environment ?? env
        e["HOME"] = tmp.path
        return try runProcess([mcpbox] + args, environment: e, timeout: 120)
    }

    /// Where gVisor runs keep their private directories (root's own, never TMPDIR).
    static let base = "/run/mcpbox/gvisor"

    /// Leftover private directories of gVisor runs.
    static func leftovers() -> Set<String> {
        Set(((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).filter { $0.hasPrefix("mcpbox-gvisor-") })
    }

    @Test("run: the server runs in gVisor's kernel as the plan's user; stdio through mcpbox; the bundle dir is removed")
    func runsUnderGVisor() throws {
        defer { tmp.remove() }
        let p = try profile("g", "runtime = \"gvisor\"")
        let before = Self.leftovers()
        let r = try runProcess([mcpbox, "run", p, "--profile-path", TestSupport.profilesDir, "--", "/bin/sh", "-c",
                                 "id -u; read line; echo \"got $line\"; cat /proc/version; exit 7"],
                                environment: env.merging(["HOME": tmp.path]) { $1 }, stdin: Data("hello\n".utf8))
        #expect(r.status == 7, "exit \(r.status): \(r.stderr)")
        let lines = r.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.first == "65534", "\(lines)")
        #expect(lines.contains("got hello"), "\(lines)")
        // gVisor's kernel answers /proc/version with its own, not the host's.
        let host = (try? String(contentsOfFile: "/proc/version", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        #expect(lines.count >= 3 && lines[2] != host, "/proc/version inside: \(lines.dropFirst(2)), host: \(host)")
        #expect(Self.leftovers().subtracting(before).isEmpty, "gvisor temp dirs left: \(Self.leftovers().subtracting(before))")
    }

    /// pids whose command line mentions `text`.
    static func processes(mentioning text: String) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }.filter { pid in
            guard pid != getpid(), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).contains(text)
        }
    }

    @Test("mcpbox killed by SIGKILL: runsc and its sandbox die with it; the next gvisor run removes the directory left behind")
    func diesWithMcpbox() throws {
        defer { tmp.remove() }
        let p = try profile("k", "runtime = \"gvisor\"")
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: mcpbox)
        proc.arguments = ["run", p, "--profile-path", TestSupport.profilesDir, "--", "/bin/sleep", "600"]
        proc.environment = env.merging(["HOME": tmp.path]) { $1 }
        let stdin = Pipe()
        proc.standardInput = stdin
        proc.standardOutput = FileHandle.nullDevice
        proc.standardError = FileHandle.nullDevice
        let before = Set(Self.leftovers())
        try proc.run()
        // Named after the mcpbox process that runs runsc: the start-up worker mcpbox forks (its
        // first process stays the relay host), so any new directory of this run.
        var dir: String?
        var owner = ""
        for _ in 0..<600 where dir == nil {
            if let d = Self.leftovers().first(where: { !before.contains($0) && $0.hasPrefix("mcpbox-gvisor-") }),
               Self.processes(mentioning: Self.base + "/" + d).count >= 3 {
                dir = Self.base + "/" + d
                owner = String(d.dropFirst("mcpbox-gvisor-".count).prefix { $0 != "-" })
            } else {
                usleep(100_000)
            }
        }
        let found = try #require(dir, "runsc never started")
        #expect(Int32(owner) != nil, "\(found)")
        kill(proc.processIdentifier, SIGKILL)
        proc.waitUntilExit()
        var left = Self.processes(mentioning: found)
        for _ in 0..<300 where !left.isEmpty {
            usleep(100_000)
            left = Self.processes(mentioning: found)
        }
        #expect(left.isEmpty, "processes of the killed mcpbox's sandbox still run: \(left)")
        // The worker dies of its parent-death signal and is reaped by init, not by this process.
        for _ in 0..<300 where FileManager.default.fileExists(atPath: "/proc/\(owner)") { usleep(100_000) }
        #expect(FileManager.default.fileExists(atPath: found), "mcpbox was killed: its directory stays until the next run")
        let r = try mcpboxRun(["run", p, "--profile-path", TestSupport.profilesDir, "--", "/bin/true"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: found), "the next run did not remove \(found)")
        // base's memory limit made runsc create a cgroup in every hierarchy; none stays.
        let hierarchies = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []).map { "/sys/fs/cgroup/\($0)/mcpbox" } + ["/sys/fs/cgroup/mcpbox"]
        let groups = hierarchies.flatMap { h in ((try? FileManager.default.contentsOfDirectory(atPath: h)) ?? []).filter { $0.hasPrefix("\(owner)-") }.map { h + "/" + $0 } }
        #expect(groups.isEmpty, "cgroups of the killed mcpbox left: \(groups)")
    }

    @Test("TMPDIR another user can write is never used: root's bundle lives in /run/mcpbox/gvisor (0700 root); a weakened directory is refused")
    func bundleNeverInTMPDIR() throws {
        defer { tmp.remove() }
        // A directory anyone may write, without the sticky bit: whoever can rename entries in it
        // could swap the bundle root hands to runsc for their own.
        let shared = tmp.sub("shared-tmp")
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false)
        chmod(tmp.path, 0o755)
        chmod(shared, 0o777)
        let p = try profile("t", "runtime = \"gvisor\"")
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: mcpbox)
        proc.arguments = ["run", p, "--profile-path", TestSupport.profilesDir, "--", "/bin/sh", "-c", "sleep 2"]
        proc.environment = env.merging(["HOME": tmp.path, "TMPDIR": shared]) { $1 }
        let input = Pipe()   // kept open: stdin's EOF would end the session early
        proc.standardInput = input
        proc.standardOutput = FileHandle.nullDevice
        proc.standardError = FileHandle.nullDevice
        try proc.run()
        var seenInShared: Set<String> = []
        var seenInBase = false
        while proc.isRunning {
            seenInShared.formUnion((try? FileManager.default.contentsOfDirectory(atPath: shared)) ?? [])
            if !Self.leftovers().isEmpty { seenInBase = true }
            usleep(20_000)
        }
        try? input.fileHandleForWriting.close()
        #expect(proc.terminationStatus == 0)
        #expect(seenInShared.isEmpty, "mcpbox (root) wrote into a TMPDIR others can write: \(seenInShared)")
        #expect(seenInBase, "the bundle directory never appeared in \(Self.base)")
        var st = stat()
        #expect(lstat(Self.base, &st) == 0 && st.st_uid == 0 && st.st_mode & 0o7777 == 0o700)

        // Group-writable: refused before anything runs, no fallback.
        let canary = tmp.sub("canary")
        chmod(Self.base, 0o770)
        defer { chmod(Self.base, 0o700) }
        let r = try mcpboxRun(["run", p, "--profile-path", TestSupport.profilesDir, "--", "/bin/touch", canary])
        #expect(r.status == 125 && r.stderr.contains("\(Self.base) must be a directory owned by root and writable by no one else"), "exit \(r.status): \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: canary))
    }

    @Test("runsc missing (profile names an absent path, or none on PATH): run, explain and check refuse, 125, nothing runs")
    func runscMissing() throws {
        defer { tmp.remove() }
        let canary = tmp.sub("canary")
        let missing = try profile("m", "runtime = \"gvisor\"\nrunsc = \"/nonexistent/runsc\"")
        let onPath = try profile("p", "runtime = \"gvisor\"")
        let noRunsc = ["PATH": "/usr/local/bin", "LANG": "C.UTF-8"]
        for (p, environment, fragment) in [(missing, env, "/nonexistent/runsc"), (onPath, noRunsc, "PATH (/usr/local/bin)")] {
            let r = try mcpboxRun(["run", p, "--profile-path", TestSupport.profilesDir, "--", "/bin/touch", canary], environment: environment)
            #expect(r.status == 125, "exit \(r.status): \(r.stderr)")
            #expect(r.stderr.contains("runsc not found") && r.stderr.contains(fragment) && r.stderr.contains("apt-get install runsc"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: canary), "the server ran without gVisor")
            for args in [["explain", p], ["explain", p, "--json"], ["run", p, "--dry-run"]] {
                let e = try mcpboxRun(args + ["--profile-path", TestSupport.profilesDir, "--", "/bin/true"], environment: environment)
                #expect(e.status == 125 && e.stderr.contains("runsc not found") && e.stdout.isEmpty, "\(args): exit \(e.status): \(e.stderr)")
            }
            let c = try mcpboxRun(["check", p, "--profile-path", TestSupport.profilesDir], environment: environment)
            #expect(c.status == 1 && c.stdoutText.contains("run would refuse") && c.stdoutText.contains("runsc not found"), "\(c.stdoutText)")
        }
    }

    @Test("runsc refusing the bundle (a FIFO bind, which its gofer will not mount): 125 with runsc's reason, nothing runs, no fallback")
    func runscRefusal() throws {
        defer { tmp.remove() }
        let fifo = tmp.sub("fifo")
        try #require(mkfifo(fifo, 0o644) == 0)
        let p = try profile("f", "runtime = \"gvisor\"", extra: "\n[filesystem]\nread_only = [\(tomlString(fifo))]\n")
        let before = Self.leftovers()
        let r = try mcpboxRun(["run", p, "--profile-path", TestSupport.profilesDir, "--", "/bin/echo", "server-ran"])
        #expect(r.status == 125, "exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("mcpbox: runsc refused or failed to run the sandbox") && r.stderr.contains(fifo), "\(r.stderr)")
        #expect(!r.stdoutText.contains("server-ran"), "the server ran: \(r.stdoutText)")
        #expect(Self.leftovers().subtracting(before).isEmpty)
    }

    @Test("started by an ordinary user without subordinate ids: run and explain refuse (125) and say how to fix it, nothing runs")
    func ordinaryUserWithoutSubordinateIdsRefused() throws {
        defer { tmp.remove() }
        chmod(tmp.path, 0o755)
        let binary = tmp.sub("mcpbox")
        try FileManager.default.copyItem(atPath: mcpbox, toPath: binary)
        chmod(binary, 0o755)
        let p = try profile("u", "runtime = \"gvisor\"")
        chmod(p, 0o644)
        for args in [["run", p], ["explain", p]] {
            let r = try runProcess(["/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--", binary] + args
                                   + ["--profile-path", TestSupport.profilesDir, "--", "/bin/echo", "server-ran"],
                                   environment: env.merging(["HOME": tmp.path]) { $1 })
            #expect(r.status == 125 && r.stderr.contains("needs two subordinate uids and two subordinate gids of nobody's")
                    && r.stderr.contains("usermod --add-subuids") && !r.stdoutText.contains("server-ran"),
                    "\(args): exit \(r.status): \(r.stderr)")
        }
    }

    /// An ordinary user with a subordinate range, its private runtime directory, a read-write
    /// directory of its own and a copy of the binary it can run.
    struct OrdinaryUser {
        let account: TestAccount
        let ids: (root: UInt32, nobody: UInt32)
        let binary: String
        let runtime: String
        let rw: String

        init(_ tmp: TempDir, mcpbox: String) throws {
            account = try TestAccount.create(prefix: "mcpbox-gvuser")
            do {
                ids = try GVisorSupport.grantSubordinateIds(to: account)
                chmod(tmp.path, 0o755)
                binary = tmp.sub("mcpbox")
                try FileManager.default.copyItem(atPath: mcpbox, toPath: binary)
                chmod(binary, 0o755)
                runtime = try tmp.makeDir("xdg-runtime", mode: 0o700)
                rw = try tmp.makeDir("rw", mode: 0o700)
                for dir in [runtime, rw] where chown(dir, account.uid, account.gid) != 0 {
                    throw SupportError("chown \(dir): \(String(cString: strerror(errno)))")
                }
            } catch {
                account.delete()
                throw error
            }
        }

        func argv(_ args: [String]) -> [String] {
            ["/usr/bin/setpriv", "--reuid", String(account.uid), "--regid", String(account.gid), "--clear-groups", "--", binary] + args
        }

        /// Private directories of gVisor runs left in the runtime directory.
        var leftovers: [String] {
            (try? FileManager.default.contentsOfDirectory(atPath: runtime + "/mcpbox/gvisor")) ?? []
        }
    }

    /// uid (real, effective, saved, fs) of a running process.
    static func uids(of pid: Int32) -> Set<UInt32> {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }) else { return [] }
        return Set(line.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().compactMap { UInt32($0) })
    }

    @Test("started by an ordinary user with subordinate ids: the server runs in gVisor as that user and its files are the user's; runsc and gVisor's sandbox run only as the two subordinate ids explain names; the bundle is in XDG_RUNTIME_DIR (0700) and removed")
    func ordinaryUserRuns() throws {
        defer { tmp.remove() }
        let user = try OrdinaryUser(tmp, mcpbox: mcpbox)
        defer { user.account.delete() }
        let p = try profile("o", "runtime = \"gvisor\"", extra: "\n[filesystem]\nread_write = [\(tomlString(user.rw))]\n")
        chmod(p, 0o644)
        let environment = env.merging(["HOME": tmp.path, "XDG_RUNTIME_DIR": user.runtime]) { $1 }
        let base = user.runtime + "/mcpbox/gvisor"

        let explain = try runProcess(user.argv(["explain", p, "--profile-path", TestSupport.profilesDir, "--", "/bin/true"]), environment: environment)
        #expect(explain.status == 0, "\(explain.stderr)")
        let uid = user.account.uid, gid = user.account.gid
        for fragment in ["the server runs as \(uid):\(gid)", "runsc runs as uid 0 of a user namespace mcpbox maps with newuidmap/newgidmap",
                         "uids 0->\(user.ids.root), \(uid)->\(uid), 65534->\(user.ids.nobody)", "runs as \(user.ids.nobody):", "gofer) as \(user.ids.root):"] {
            #expect(explain.stdoutText.contains(fragment), "\(fragment): \(explain.stdoutText)")
        }

        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        proc.arguments = Array(user.argv(["run", p, "--profile-path", TestSupport.profilesDir, "--", "/bin/sh", "-c",
                                          "id -u; id -g; echo from-gvisor > \(user.rw)/written; cat /proc/version; read line; echo \"got $line\""]).dropFirst())
        proc.environment = environment
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        proc.standardInput = stdin
        proc.standardOutput = stdout
        proc.standardError = stderr
        try proc.run()
        // While the server waits for its line: every process of the sandbox (those naming the
        // bundle directory) runs as runsc's subordinate ids, never as the caller or root.
        var seen: [Int32: Set<UInt32>] = [:]
        for _ in 0..<600 where seen.count < 3 || !seen.values.contains([user.ids.nobody]) {
            usleep(100_000)
            // A process gone between the two reads of /proc has no uids left to check.
            seen = Dictionary(uniqueKeysWithValues: Self.processes(mentioning: base).map { ($0, Self.uids(of: $0)) }).filter { !$0.value.isEmpty }
        }
        let dirs = user.leftovers
        try stdin.fileHandleForWriting.write(contentsOf: Data("hello\n".utf8))
        try stdin.fileHandleForWriting.close()
        let out = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let err = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        proc.waitUntilExit()

        #expect(proc.terminationStatus == 0, "exit \(proc.terminationStatus): \(err)")
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.count >= 4 && lines[0] == String(uid) && lines[1] == String(gid), "\(lines) \(err)")
        #expect(lines.contains("got hello"), "\(lines)")
        let host = (try? String(contentsOfFile: "/proc/version", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        #expect(lines.count >= 3 && lines[2] != host, "/proc/version inside: \(lines.dropFirst(2)), host: \(host)")
        #expect(ownerUID(of: user.rw + "/written") == uid, "owner of the server's file: \(String(describing: ownerUID(of: user.rw + "/written")))")

        #expect(seen.count >= 3, "sandbox processes seen: \(seen)")
        let allowed: Set<UInt32> = [user.ids.root, user.ids.nobody]
        for (pid, ids) in seen { #expect(ids.isSubset(of: allowed), "pid \(pid) runs as \(ids), expected only \(allowed)") }
        #expect(seen.values.contains { $0 == [user.ids.nobody] }, "gVisor's sandbox should run as \(user.ids.nobody): \(seen)")

        #expect(dirs.count == 1 && dirs[0].hasPrefix("mcpbox-gvisor-"), "bundle directories during the run: \(dirs)")
        var st = stat()
        #expect(lstat(base, &st) == 0 && st.st_uid == uid && st.st_mode & 0o7777 == 0o700, "\(base): uid \(st.st_uid) mode \(String(st.st_mode, radix: 8))")
        #expect(user.leftovers.isEmpty, "left in \(base): \(user.leftovers)")
    }

    @Test("ordinary user: a read-only bind of the user's own whose group is outside the map is unreadable inside; explain and run warn with the same words, naming the path and the fix; a bind with mapped ids is read")
    func ordinaryUserUnmappedGroupWarned() throws {
        defer { tmp.remove() }
        let user = try OrdinaryUser(tmp, mcpbox: mcpbox)
        defer { user.account.delete() }
        let uid = user.account.uid, gid = user.account.gid
        // Group 4242: outside the map (none of the account's, none of its subordinate ids).
        let unmapped = try tmp.makeDir("unmapped", mode: 0o750), mapped = try tmp.makeDir("mapped", mode: 0o700)
        _ = try tmp.write("unmapped/f", "unmapped-secret\n", mode: 0o640)
        _ = try tmp.write("mapped/f", "mapped-content\n", mode: 0o600)
        for path in [unmapped, unmapped + "/f"] { chown(path, uid, 4242) }
        for path in [mapped, mapped + "/f"] { chown(path, uid, gid) }
        let p = try profile("u", "runtime = \"gvisor\"", extra: "\n[filesystem]\nread_only = [\(tomlString(unmapped)), \(tomlString(mapped))]\n")
        chmod(p, 0o644)
        let environment = env.merging(["HOME": tmp.path, "XDG_RUNTIME_DIR": user.runtime]) { $1 }
        let warning = "gvisor: filesystem.read_only \(unmapped) (u.toml: filesystem.read_only) is unusable inside: runsc's file proxy cannot read it (owner \(uid), group 4242, mode 750)"
        let fix = "(fix: chgrp \(gid) \(unmapped), or chmod o+rx \(unmapped); or start mcpbox as root, or set [isolation] runtime = \"native\")"

        let explain = try runProcess(user.argv(["explain", p, "--profile-path", TestSupport.profilesDir, "--", "/bin/true"]), environment: environment)
        #expect(explain.status == 0, "\(explain.stderr)")
        let shown = explain.stdoutText.split(separator: "\n").first { $0.contains(warning) }.map { String($0.drop { $0 == " " || $0 == "!" }) }
        #expect(shown?.hasSuffix(fix) == true && !explain.stdoutText.contains("filesystem.read_only \(mapped) "), "\(explain.stdoutText)")

        let check = try runProcess(user.argv(["check", "--strict", p, "--profile-path", TestSupport.profilesDir]), environment: environment)
        #expect(check.status == 1 && shown != nil && check.stdoutText.contains("  warning: " + (shown ?? "-")), "check: \(check.status) \(check.stdoutText) \(check.stderr)")

        let run = try runProcess(user.argv(["run", p, "--profile-path", TestSupport.profilesDir, "--", "/bin/sh", "-c",
                                            "cat \(unmapped)/f; echo \"unmapped $?\"; cat \(mapped)/f"]), environment: environment, timeout: 120)
        #expect(run.status == 0, "exit \(run.status): \(run.stderr)")
        #expect(shown != nil && run.stderr.contains("mcpbox: warning: " + (shown ?? "-")), "run must warn as explain does: \(run.stderr)")
        #expect(!run.stdoutText.contains("unmapped-secret") && run.stdoutText.contains("unmapped 1") && run.stdoutText.contains("mapped-content"),
                "\(run.stdoutText) \(run.stderr)")
        #expect(user.leftovers.isEmpty, "left: \(user.leftovers)")
    }

    @Test("ordinary user: a bundle directory others could write into (group-writable XDG_RUNTIME_DIR, or one in a world-writable non-sticky directory) is refused, 125, nothing runs")
    func ordinaryUserUnsafeDirectoryRefused() throws {
        defer { tmp.remove() }
        let user = try OrdinaryUser(tmp, mcpbox: mcpbox)
        defer { user.account.delete() }
        let p = try profile("w", "runtime = \"gvisor\"", extra: "\n[filesystem]\nread_write = [\(tomlString(user.rw))]\n")
        chmod(p, 0o644)
        let canary = user.rw + "/canary"
        let shared = try tmp.makeDir("shared", mode: 0o777)
        let inShared = try tmp.makeDir("shared/run", mode: 0o700)
        chown(inShared, user.account.uid, user.account.gid)
        chmod(user.runtime, 0o770)
        for (runtime, fragment) in [(user.runtime, "\(user.runtime) must be owned by root or uid \(user.account.uid) and writable by no one else"),
                                    (inShared, "\(shared) must be owned by root or uid \(user.account.uid) and writable by no one else")] {
            let r = try runProcess(user.argv(["run", p, "--profile-path", TestSupport.profilesDir, "--", "/bin/touch", canary]),
                                   environment: env.merging(["HOME": tmp.path, "XDG_RUNTIME_DIR": runtime]) { $1 })
            #expect(r.status == 125 && r.stderr.contains(fragment), "exit \(r.status): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: canary), "the server ran")
        }
    }

    @Test("explain shows the runtime: text section and --json `runtime` with each restriction's status")
    func explainShowsRuntime() throws {
        defer { tmp.remove() }
        let g = try profile("g", "runtime = \"gvisor\"")
        let text = try mcpboxRun(["explain", g, "--profile-path", TestSupport.profilesDir, "--", "/bin/true"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdoutText.contains("runtime: gvisor (runsc /usr/bin/runsc --platform=ptrace --network=none --oci-seccomp"), "\(text.stdoutText)")
        #expect(text.stdoutText.contains("gvisor export:") && text.stdoutText.contains("carried identity"), "\(text.stdoutText)")

        let json = try mcpboxRun(["explain", g, "--json", "--profile-path", TestSupport.profilesDir, "--", "/bin/true"])
        let object = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any], "\(json.stderr)")
        let runtime = try #require(object["runtime"] as? [String: Any])
        #expect(runtime["name"] as? String == "gvisor" && runtime["runsc"] as? String == "/usr/bin/runsc")
        let rows = try #require(runtime["restrictions"] as? [[String: String]])
        let notCarried = rows.filter { $0["status"] != "carried" }.compactMap { $0["restriction"] }
        // base.toml asks for Landlock best-effort: the one restriction gVisor leaves out, and says so.
        #expect(notCarried == ["landlock"], "\(rows)")
        for needed in ["identity", "seccomp", "memory", "stdio relay", "mount /proc", "network none", "no_new_privs"] {
            #expect(rows.contains { $0["restriction"] == needed && $0["status"] == "carried" }, "\(needed): \(rows)")
        }

        let n = try tmp.write("n.toml", "extends = [\"base\"]\n")
        let native = try mcpboxRun(["explain", n, "--json", "--profile-path", TestSupport.profilesDir, "--", "/bin/true"])
        let nobj = try #require(try JSONSerialization.jsonObject(with: native.stdout) as? [String: Any])
        #expect((nobj["runtime"] as? [String: Any])?["name"] as? String == "native")
        #expect(!(try mcpboxRun(["explain", n, "--profile-path", TestSupport.profilesDir, "--", "/bin/true"])).stdoutText.contains("runtime: gvisor"))
    }
}
