import Foundation
import MCPBoxTestSupport
import Testing

/// How the tests run an exported bundle with crun on this host. Its cgroup hierarchy is hybrid
/// (v1 controllers, an empty v2 at /sys/fs/cgroup/unified), which crun refuses even with its
/// cgroup manager disabled; in a private mount namespace with a cgroup2 mount at /sys/fs/cgroup
/// crun sees a unified hierarchy, and `--cgroup-manager=disabled` makes it create no cgroup, so
/// `linux.resources` (memory, cpu) is not applied in these runs.
enum CrunRunner {
    static var crun: String? {
        ["/usr/bin/crun", "/usr/local/bin/crun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func argv(bundle: String, id: String) -> [String] {
        ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
         "mount -t cgroup2 none /sys/fs/cgroup && exec \"$0\" --cgroup-manager=disabled run --bundle \"$1\" \"$2\"",
         crun ?? "crun", bundle, id]
    }

    /// Removes a container left behind by a failed run (no error when there is none).
    static func delete(_ id: String) {
        _ = try? runProcess([crun ?? "crun", "delete", "--force", id])
    }
}

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
