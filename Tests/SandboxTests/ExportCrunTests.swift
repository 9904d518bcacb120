import Foundation
import MCPBoxTestSupport
import Testing

/// The developers' hostile server inside an exported bundle run by crun: the same checks and
/// expectations as under `mcpbox run` (HostileTests), apart from `crunDifferences`.
@Suite("Export: hostile server under crun", .enabled(if: TestSupport.isRoot && CrunRunner.crun != nil, "needs root and crun"))
struct ExportCrunHostileTests {
    static let run = HostileRun.perform(.crunBundle)

    /// Checks whose mcpbox expectation cannot hold in the bundle, and why.
    static let crunDifferences: [String: String] = [
        "pid1_cmdline_blank": "under crun the server itself is pid 1 of the container (no separate reaper), so pid 1's cmdline is the server's own argv",
    ]

    @Test("crun bundle: escape fails / legit op works", arguments: HostileRun.checkNames.filter { crunDifferences[$0] == nil })
    func hostile(check: String) {
        Self.run.expect(check)
    }

    @Test("crun bundle: a file the server wrote is owned by the dedicated account")
    func owner() {
        Self.run.expectOwner()
    }
}
