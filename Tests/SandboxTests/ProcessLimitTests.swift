import Foundation
import MCPBoxTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `[limits] processes = 2`, the smallest value explain accepts, runs a server that never forks
/// — started by root and by an ordinary user (the caller's uid remapped, where pid 1's network
/// helper is the same host user and once counted as a third task) — and the server cannot fork.
@Suite(.enabled(if: geteuid() == 0, "needs root to create the test account"))
struct ProcessLimitTests {
    static let forkProbe = "/bin/true & wait $! && echo FORKED"

    static func profile(_ dir: TempDir, mode: String) throws -> String {
        try dir.write("p-\(mode).toml", """
            extends = ["base"]
            [network]
            mode = "\(mode)"
            [limits]
            processes = 2
            """)
    }

    static func check(mode: String, run: ([String]) throws -> ProcessResult) throws {
        let dir = try TempDir(prefix: "mcpbox-nproc")
        defer { dir.remove() }
        let file = try profile(dir, mode: mode)
        let base = ["run", file, "--profile-path", TestSupport.profilesDir, "--"]
        let explain = try run(["explain", file, "--profile-path", TestSupport.profilesDir, "--", "/bin/true"])
        #expect(explain.status == 0, "\(explain.stderr)")
        let plain = try run(base + ["/bin/true"])
        #expect(plain.status == 0, "mode \(mode): \(plain.stderr)")
        let forks = try run(base + ["/bin/sh", "-c", forkProbe])
        #expect(forks.status != 0 && forks.status != 125, "mode \(mode): \(forks.status) \(forks.stderr)")
        #expect(forks.stderr.contains("Cannot fork"), "mode \(mode): \(forks.stderr)")
        #expect(!forks.stdoutText.contains("FORKED"))
    }

    @Test(arguments: ["none", "allow"])
    func twoProcessesAsRoot(mode: String) throws {
        let bin = try TestSupport.mcpboxBinary()
        try Self.check(mode: mode) { try runProcess([bin] + $0, timeout: 60) }
    }

    @Test(arguments: ["none", "allow"])
    func twoProcessesAsOrdinaryUser(mode: String) throws {
        let caller = try TestAccount.create(prefix: "mcpbox-nproc")
        defer { caller.delete() }
        try Self.check(mode: mode) { try SpawnUnprivilegedTests.runAs(caller, $0) }
    }
}
