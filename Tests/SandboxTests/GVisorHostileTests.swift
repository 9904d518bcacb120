import Foundation
import MCPBoxTestSupport
import Testing

/// The developers' hostile server under `mcpbox run` with `[isolation] runtime = "gvisor"`: the
/// same checks and expectations as under the native runtime (HostileTests), apart from
/// `gvisorDifferences`.
@Suite("gVisor runtime: hostile server", .enabled(if: TestSupport.isRoot && GVisorSupport.runsc != nil, "needs root and runsc"))
struct GVisorHostileTests {
    static let run = HostileRun.perform(.gvisor)

    /// Checks whose native expectation cannot hold under gVisor, and why.
    static let gvisorDifferences: [String: String] = [:]

    @Test("gvisor: escape fails / legit op works", arguments: HostileRun.checkNames.filter { gvisorDifferences[$0] == nil })
    func hostile(check: String) {
        Self.run.expect(check)
    }

    @Test("gvisor: the listed differences are exactly the checks that do not hold")
    func differencesExact() {
        guard Self.run.launchFailure == nil else {
            Issue.record("no result: \(Self.run.launchFailure!)")
            return
        }
        let failing = Set(Self.run.results.filter { !$0.value.ok }.keys)
        #expect(failing == Set(Self.gvisorDifferences.keys),
                "failing under gvisor: \(failing.sorted().map { "\($0): \(Self.run.results[$0]!.detail)" })")
    }

    @Test("gvisor: a file the server wrote is owned by the dedicated account")
    func owner() {
        Self.run.expectOwner()
    }
}
