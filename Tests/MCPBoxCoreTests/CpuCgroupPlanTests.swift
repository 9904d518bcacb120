import Foundation
import Testing
@testable import MCPBoxCore

/// Red team: `limits.cpu` where mcpbox cannot create a cpu cgroup. `explain` passed such a plan
/// while `run` failed with 125 creating the cgroup (an ordinary user on cgroup v1 here).
@Suite struct CpuCgroupPlanTests {
    func plan(_ profile: String, cpu: (usable: Bool, reason: String)) -> Result<SandboxPlan, ProfileError> {
        let dir = Scratch()
        _ = dir.write("base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        _ = dir.write("p.toml", profile)
        var host = Fixture.host()
        host.cpuCgroup = cpu
        return Fixture.plan("p", dirs: [dir.path], host: host)
    }

    @Test("limits.cpu is refused, with the reason and the fix, when no cpu cgroup can be created; accepted when one can")
    func cpuRefusedWithoutCgroup() throws {
        let reason = "/sys/fs/cgroup/cpu is not writable by uid 1234 (run as root, or delegate a cgroup)"
        guard case .failure(let e) = plan("[limits]\ncpu = 0.5\n", cpu: (false, reason)) else {
            Issue.record("limits.cpu was accepted without a usable cpu cgroup")
            return
        }
        #expect(e.diagnostics.contains { $0.key == "limits.cpu" && $0.line == 2 && $0.message.contains("cannot be applied here: \(reason)")
            && $0.hint?.contains("remove limits.cpu") == true }, "\(e.diagnostics)")
        let ok = try #require(plan("[limits]\ncpu = 0.5\n", cpu: (true, "writable")).plan)
        #expect(ok.limits.cpu == 0.5)
        // No cpu limit, no cgroup needed.
        #expect(plan("[limits]\nprocesses = 8\n", cpu: (false, reason)).plan != nil)
    }

    @Test("the real host's answer agrees with what run does: when the cpu controller is unusable, the plan refuses")
    func hostAnswerMatchesDoctor() throws {
        let host = HostContext.current()
        let doctor = Doctor.cpuUsable()
        #expect(host.cpuCgroup.usable == doctor.usable && host.cpuCgroup.reason == doctor.reason)
    }
}

/// On cgroup v2 mcpbox's group takes the server out of the caller's for every controller at
/// once: any limit there counts, not only the one the profile asks for (red-team pass on the
/// caller-cgroup fix, 2026-12-03: a `pids.max` or `cpu.max` of the client's was escaped by a
/// memory limit of mcpbox's own).
@Suite struct CallerV2LimitTests {
    @Test func anyLimitOfAV2GroupCounts() throws {
        /// A v2 group directory with no limit, then `file` set to `value`.
        func group(_ file: String? = nil, _ value: String = "") -> Scratch {
            let s = Scratch()
            for f in ["memory.max", "cpu.max", "pids.max", "memory.high", "io.max"] {
                s.write(f, f == file ? value : f == "cpu.max" ? "max 100000\n" : f == "io.max" ? "" : "max\n")
            }
            return s
        }
        #expect(Cgroups.v2Limit(in: group().path) == nil)
        for (file, value, said) in [("pids.max", "64\n", "pids.max to 64"), ("memory.high", "1073741824\n", "memory.high to 1073741824"),
                                    ("cpu.max", "50000 100000\n", "cpu to 0.5 cores"), ("memory.max", "268435456\n", "memory to 256MiB"),
                                    ("io.max", "8:0 rbps=1048576\n", "io.max (8:0 rbps=1048576)")] {
            let t = group(file, value)
            #expect(Cgroups.v2Limit(in: t.path) == said, "\(file)")
        }
    }
}
