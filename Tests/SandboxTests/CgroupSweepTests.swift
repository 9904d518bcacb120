import Foundation
@testable import MCPBoxCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The sweep of groups left by a killed mcpbox: an owner that is a zombie (dead, waiting for
/// its reaper) no longer runs, so its empty groups are removed.
@Suite(.serialized, .enabled(if: geteuid() == 0 && access("/sys/fs/cgroup/memory/mcpbox", W_OK) == 0, "needs root and mcpbox's v1 memory parent"))
struct CgroupSweepTests {
    @Test("a zombie owner does not run: startTime is nil and its empty group is swept; a live owner's group stays")
    func zombieOwnerSwept() throws {
        var child: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("600"), nil]
        defer { argv.forEach { free($0) } }
        #expect(posix_spawn(&child, "/bin/sleep", nil, nil, argv, environ) == 0)
        defer { kill(child, SIGKILL); var st: Int32 = 0; waitpid(child, &st, 0) }
        let start = try #require(Cgroups.startTime(of: child))
        let group = "/sys/fs/cgroup/memory/mcpbox/\(child)-\(start)-1"
        #expect(mkdir(group, 0o755) == 0, "\(String(cString: strerror(errno)))")
        defer { rmdir(group) }

        // Alive: the group stays.
        #expect(!Cgroups.sweep().contains(group))
        #expect(access(group, F_OK) == 0)

        // Killed and not reaped (this process waits with WNOWAIT): a zombie.
        kill(child, SIGKILL)
        var info = siginfo_t()
        #expect(waitid(P_PID, id_t(child), &info, WEXITED | WNOWAIT) == 0)
        #expect(Cgroups.startTime(of: child) == nil)
        #expect(Cgroups.sweep().contains(group))
        #expect(access(group, F_OK) != 0)
    }
}
