import Foundation
import MCPBoxTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The plan's memory, processes and cpu limits in an exported bundle are applied for real when
/// crun runs it with its cgroupfs manager on the v1 hierarchies `CrunRunner` mounts: past the
/// memory limit the server is OOM-killed, a fork bomb stops at pids.max, and the container's
/// groups hold the plan's values. Each behaviour is checked against the same bundle run without
/// cgroups, where it does not happen.
@Suite("Export: limits under crun's cgroupfs manager", .serialized,
       .enabled(if: TestSupport.isRoot && CrunRunner.crun != nil, "needs root and crun"))
struct ExportCrunLimitsTests {
    static let memory = 64 << 20
    static let processes = 16

    /// Exports a profile with the test's limits and `command`; returns the bundle directory.
    static func export(_ tmp: TempDir, account: TestAccount, command: [String]) throws -> String {
        let profile = """
            extends = ["base"]
            [user]
            name = \(tomlString(account.name))
            [limits]
            memory = "64MiB"
            processes = \(processes)
            cpu = 0.5

            """
        let path = try tmp.write("limits.toml", profile)
        let bundle = tmp.sub("bundle-\(UInt32.random(in: 0...UInt32.max))")
        let r = try runProcess([try TestSupport.mcpboxBinary(), "export", path, "--profile-path", TestSupport.profilesDir, "--format", "oci",
                                "--output", bundle, "--"] + command)
        try #require(r.status == 0, "export: \(r.stderr)")
        return bundle
    }

    static func run(_ bundle: String, cgroups: Bool) throws -> ProcessResult {
        let id = "mcpbox-limits-\(UInt32.random(in: 0...UInt32.max))"
        defer { CrunRunner.delete(id) }
        return try runProcess(CrunRunner.argv(bundle: bundle, id: id, cgroups: cgroups), timeout: 120)
    }

    @Test("a server allocating past the memory limit is OOM-killed (and completes without cgroups)")
    func memoryLimit() throws {
        let tmp = try TempDir(prefix: "mcpbox-crun-limits")
        defer { tmp.remove() }
        let account = try TestAccount.create(prefix: "mcpbox-cl")
        defer { account.delete() }
        // 192 MiB written byte by byte (bytearray repetition fills every page), three times the limit.
        let bundle = try Self.export(tmp, account: account, command: [
            "/usr/bin/python3", "-c", "b = bytearray(b'x') * (192 << 20); print('allocated', len(b), flush=True)"])
        let limited = try Self.run(bundle, cgroups: true)
        #expect(limited.status == 128 + SIGKILL && !limited.stdoutText.contains("allocated"),
                "under the memory limit: status \(limited.status), stdout \(limited.stdoutText), stderr \(limited.stderr.suffix(1500))")
        let free = try Self.run(bundle, cgroups: false)
        #expect(free.status == 0 && free.stdoutText.contains("allocated \(192 << 20)"),
                "without cgroups: status \(free.status), stdout \(free.stdoutText), stderr \(free.stderr.suffix(1500))")
    }

    @Test("a fork bomb stops at pids.max with RLIMIT_NPROC removed from the bundle (and runs on without cgroups)")
    func pidsLimit() throws {
        let tmp = try TempDir(prefix: "mcpbox-crun-limits")
        defer { tmp.remove() }
        let account = try TestAccount.create(prefix: "mcpbox-cl")
        defer { account.delete() }
        // Bounded: at most 40 children, each blocked on a pipe until the parent is done.
        let bomb = """
            import os
            r, w = os.pipe()
            kids, err = [], "none"
            for i in range(40):
                try:
                    pid = os.fork()
                except OSError as e:
                    err = e.strerror
                    break
                if pid == 0:
                    os.close(w)
                    os.read(r, 1)
                    os._exit(0)
                kids.append(pid)
            os.close(w)
            for k in kids:
                os.waitpid(k, 0)
            print(len(kids), err, flush=True)
            """
        let bundle = try Self.export(tmp, account: account, command: ["/usr/bin/python3", "-c", bomb])
        // Only the cgroup may stop it: drop the RLIMIT_NPROC the export also sets.
        let configPath = bundle + "/config.json"
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any])
        var process = try #require(config["process"] as? [String: Any])
        let rlimits = try #require(process["rlimits"] as? [[String: Any]])
        #expect(rlimits.contains { $0["type"] as? String == "RLIMIT_NPROC" && $0["hard"] as? Int == Self.processes })
        process["rlimits"] = rlimits.filter { $0["type"] as? String != "RLIMIT_NPROC" }
        config["process"] = process
        let pids = ((config["linux"] as? [String: Any])?["resources"] as? [String: Any])?["pids"] as? [String: Any]
        #expect(pids?["limit"] as? Int == Self.processes, "linux.resources.pids: \(String(describing: pids))")
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))

        let limited = try Self.run(bundle, cgroups: true)
        let words = limited.stdoutText.split(separator: " ", maxSplits: 1)
        let forked = words.first.flatMap { Int($0) }
        #expect(limited.status == 0 && forked != nil && forked! < Self.processes && limited.stdoutText.contains("Resource temporarily unavailable"),
                "under pids.max \(Self.processes): status \(limited.status), stdout \(limited.stdoutText), stderr \(limited.stderr.suffix(1500))")
        let free = try Self.run(bundle, cgroups: false)
        #expect(free.status == 0 && free.stdoutText.hasPrefix("40 none"),
                "without cgroups: status \(free.status), stdout \(free.stdoutText), stderr \(free.stderr.suffix(1500))")
    }

    @Test("the running container's groups hold the plan's memory, pids and cpu values")
    func groupValues() throws {
        let tmp = try TempDir(prefix: "mcpbox-crun-limits")
        defer { tmp.remove() }
        let account = try TestAccount.create(prefix: "mcpbox-cl")
        defer { account.delete() }
        let bundle = try Self.export(tmp, account: account, command: [
            "/usr/bin/python3", "-c", "import sys; print('ready', flush=True); sys.stdin.read()"])
        let id = "mcpbox-limits-\(UInt32.random(in: 0...UInt32.max))"
        defer { CrunRunner.delete(id) }
        let argv = CrunRunner.argv(bundle: bundle, id: id)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = FileHandle.nullDevice
        try p.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let d = output.fileHandleForReading.availableData
            if d.isEmpty { break }
            line += d
        }
        // The host mounts the same v1 hierarchies at /sys/fs/cgroup/CONTROLLER.
        func read(_ file: String) -> String {
            ((try? String(contentsOfFile: "/sys/fs/cgroup/\(file)", encoding: .utf8)) ?? "missing").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let values = (memory: read("memory/\(id)/memory.limit_in_bytes"), swap: read("memory/\(id)/memory.memsw.limit_in_bytes"),
                      pids: read("pids/\(id)/pids.max"), quota: read("cpu/\(id)/cpu.cfs_quota_us"), period: read("cpu/\(id)/cpu.cfs_period_us"))
        try? input.fileHandleForWriting.close()
        p.waitUntilExit()
        #expect(String(decoding: line, as: UTF8.self).hasPrefix("ready"), "the server did not start: \(String(decoding: line, as: UTF8.self))")
        #expect(values.memory == String(Self.memory) && values.swap == String(Self.memory), "\(values)")
        #expect(values.pids == String(Self.processes), "\(values)")
        #expect(values.quota == "50000" && values.period == "100000", "\(values)")
        #expect(p.terminationStatus == 0)
        #expect(access("/sys/fs/cgroup/memory/\(id)", F_OK) != 0, "crun left the container's memory group behind")
    }
}
