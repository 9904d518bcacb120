import Foundation
import MCPBoxTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The launch started by an ordinary user (a throwaway account, via setpriv) through the
/// built binary: the caller's own uid remapped, and a subordinate-id account via newuidmap.
@Suite(.enabled(if: geteuid() == 0, "needs root to create the test accounts"))
struct SpawnUnprivilegedTests {
    static let probe = "id -u; id -g; grep -E '^(CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; "
        + "echo x > /tmp/x && echo tmp-ok; touch /usr/x 2>/dev/null && echo WROTE-USR; true"

    /// Runs `mcpbox ARGS` as `account` with no supplementary groups and a minimal environment.
    static func runAs(_ account: TestAccount, _ args: [String]) throws -> ProcessResult {
        let bin = try TestSupport.mcpboxBinary()
        return try runProcess(["/usr/bin/setpriv", "--reuid=\(account.uid)", "--regid=\(account.gid)",
                               "--clear-groups", "--", bin] + args,
                              environment: ["PATH": "/usr/bin:/bin", "HOME": "/nonexistent"],
                              currentDirectory: "/", timeout: 60)
    }

    static func field(_ out: String, _ key: String) -> String? {
        for line in out.split(separator: "\n") where line.hasPrefix(key + ":") {
            return line.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    static func checkConfined(_ r: ProcessResult, uid: UInt32, gid: UInt32) {
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.prefix(2) == ["\(uid)", "\(gid)"], "\(r.stdoutText)")
        for key in ["CapEff", "CapBnd", "CapAmb"] {
            #expect(field(r.stdoutText, key) == "0000000000000000", "\(key)")
        }
        #expect(field(r.stdoutText, "NoNewPrivs") == "1")
        #expect(field(r.stdoutText, "Seccomp") == "2")
        #expect(lines.contains("tmp-ok"))
        #expect(!lines.contains("WROTE-USR"))
    }

    @Test func callerRemapRunsAsTheCallerWithNothingElse() throws {
        let caller = try TestAccount.create(prefix: "mcpbox-caller")
        defer { caller.delete() }
        let r = try Self.runAs(caller, ["run", "base", "--profile-path", TestSupport.profilesDir,
                                        "--", "/bin/sh", "-c", Self.probe])
        Self.checkConfined(r, uid: caller.uid, gid: caller.gid)
    }

    @Test func subordinateAccountIsADifferentHostUser() throws {
        let caller = try TestAccount.create(prefix: "mcpbox-caller")
        defer { caller.delete() }
        let server = try TestAccount.create(prefix: "mcpbox-srv")
        defer { server.delete() }
        // usermod takes shadow's lock on /etc/subuid and /etc/subgid; userdel drops the range.
        let grant = try runProcess(["/usr/sbin/usermod",
                                    "--add-subuids", "\(server.uid)-\(server.uid)",
                                    "--add-subgids", "\(server.gid)-\(server.gid)", caller.name])
        #expect(grant.status == 0, "\(grant.stderr)")
        let dir = try TempDir(prefix: "mcpbox-subordinate")
        defer { dir.remove() }
        try dir.makeDir("rw", mode: 0o777)
        let profile = try dir.write("sub.toml", """
            extends = ["base"]
            [user]
            name = "\(server.name)"
            [filesystem]
            read_write = ["\(dir.sub("rw"))"]
            """)
        let r = try Self.runAs(caller, ["run", profile, "--profile-path", TestSupport.profilesDir, "--",
                                        "/bin/sh", "-c", Self.probe + "; echo f > \(dir.sub("rw"))/f"])
        Self.checkConfined(r, uid: server.uid, gid: server.gid)
        #expect(ownerUID(of: dir.sub("rw/f")) == server.uid)
    }
}
