import Foundation
import MCPBoxTestSupport
import Testing
@testable import MCPBoxCore
#if canImport(Glibc)
import Glibc
#endif

/// `explain` accepted a low `open_files` that `run` then refused (125 at stage stdio or
/// landlock): the launch applied RLIMIT_NOFILE before its own fds (relay pipes, Landlock
/// paths) were done with. Found by a red-team pass; fails on the build before the fix.
@Suite(.enabled(if: geteuid() == 0, "needs root: real namespaces"))
struct LowOpenFilesTests {
    @Test("a low open_files is the server's limit, not a launch failure", arguments: [4, 8, 10])
    func lowOpenFilesStarts(_ n: Int) throws {
        let limits = Limits(memoryBytes: nil, processes: nil, openFiles: UInt64(n), cpu: nil, wallTimeSeconds: 0,
                            tmpfsSizeBytes: 8 << 20, shutdownGraceSeconds: 2)
        let r = try SpawnFixture.run(SpawnFixture.shell("ulimit -n", limits: limits))
        #expect(r.failure == nil, "the launch failed: \(String(describing: r.failure))")
        #expect(r.status == 0 && r.stdout == "\(n)\n", "status \(r.status): \(r.stdout) \(r.stderr)")
    }
}
