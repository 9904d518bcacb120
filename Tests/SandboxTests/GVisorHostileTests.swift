import Foundation
import MCPBoxTestSupport
import Testing

/// The developers' hostile server under `mcpbox run` with `[isolation] runtime = "gvisor"`, started
/// by root (with a dedicated account) and by an ordinary user (runsc in mcpbox's user namespace):
/// the same checks and expectations as under the native runtime (HostileTests), apart from
/// `gvisorDifferences`.
@Suite("gVisor runtime: hostile server", .enabled(if: TestSupport.isRoot && GVisorSupport.runsc != nil, "needs root and runsc"))
struct GVisorHostileTests {
    static let run = HostileRun.perform(.gvisor)
    static let ordinaryUser = HostileRun.perform(.gvisorOrdinaryUser)

    /// Checks whose native expectation cannot hold under gVisor, and why.
    static let gvisorDifferences: [String: String] = [
        "pid1_cmdline_blank": "as under crun: the server itself is pid 1 of the container (no separate reaper), so pid 1's cmdline is the server's own argv",
        "ptrace_int80": "gVisor has no i386 ABI: int 0x80 runs the x86_64 syscall of that number (26: msync, allowed) through the same filter, so the call 'succeeds' without being ptrace (x86_64 ptrace through int 0x80 is refused)",
        "capabilities_empty": "gVisor's /proc/PID/status has no CapAmb and NoNewPrivs lines; CapEff and CapBnd read 0 and Seccomp 2",
        "openat2_enosys": "runsc's OCI seccomp answers openat2's trace rule with EPERM, not ENOSYS: still refused, and glibc never calls openat2 itself",
    ]

    @Test("gvisor: escape fails / legit op works", arguments: HostileRun.checkNames.filter { gvisorDifferences[$0] == nil })
    func hostile(check: String) {
        Self.run.expect(check)
    }

    @Test("gvisor, ordinary user: escape fails / legit op works", arguments: HostileRun.checkNames.filter { gvisorDifferences[$0] == nil })
    func hostileOrdinaryUser(check: String) {
        Self.ordinaryUser.expect(check)
    }

    @Test("gvisor (root and ordinary user): the listed differences are exactly the checks that do not hold")
    func differencesExact() {
        for run in [Self.run, Self.ordinaryUser] {
            guard run.launchFailure == nil else {
                Issue.record("[\(run.mode.rawValue)] no result: \(run.launchFailure!)")
                continue
            }
            let failing = Set(run.results.filter { !$0.value.ok }.keys)
            #expect(failing == Set(Self.gvisorDifferences.keys),
                    "[\(run.mode.rawValue)] failing under gvisor: \(failing.sorted().map { "\($0): \(run.results[$0]!.detail)" })")
        }
    }

    @Test("gvisor: a file the server wrote is owned by the dedicated account")
    func owner() {
        Self.run.expectOwner()
    }

    @Test("gvisor, ordinary user: a file the server wrote is owned by the caller, never root nor runsc's subordinate ids")
    func ownerOrdinaryUser() {
        Self.ordinaryUser.expectOwner()
    }
}
