import CSandbox
import Foundation
import Testing
@testable import MCPBoxCore
#if canImport(Glibc)
import Glibc
#endif

/// Plans and a capturing runner for the launch-mechanism tests (Spawn*Tests).
enum SpawnFixture {
    /// The host's merged-/usr layout: /bin, /lib, /lib64, /sbin are symlinks into /usr on
    /// Debian 12, so each is bound from its canonical directory at the usual path.
    static func systemMounts() -> [Mount] {
        var m: [Mount] = [Mount(target: "/usr", kind: .bind(source: "/usr", readOnly: true), origin: "test")]
        for dir in ["/bin", "/lib", "/lib64", "/sbin"] where access(dir, F_OK) == 0 {
            // Plans carry real paths as sources (PlanBuilder resolves them): /bin → /usr/bin.
            m.append(Mount(target: dir, kind: .bind(source: HostFS.realPath(dir) ?? dir, readOnly: true), origin: "test"))
        }
        m += [
            Mount(target: "/proc", kind: .proc, origin: "test"),
            Mount(target: "/dev", kind: .dev, origin: "test"),
            Mount(target: "/tmp", kind: .tmpfs(sizeBytes: 8 << 20), origin: "test"),
        ]
        return m
    }

    static func identityFiles(_ id: Identity) -> [Mount] {
        [
            Mount(target: "/etc/passwd", kind: .file(contents:
                "\(id.userName):x:\(id.insideUid):\(id.insideGid)::\(id.home):/bin/sh\n"), origin: "test"),
            Mount(target: "/etc/group", kind: .file(contents:
                "\(id.groupName):x:\(id.insideGid):\n"), origin: "test"),
        ]
    }

    static var nobody: Identity {
        Identity(mechanism: .rootNobody, userName: "nobody", groupName: "nogroup",
                 insideUid: 65534, insideGid: 65534, hostUid: 65534, hostGid: 65534,
                 home: "/tmp", callerUid: 0, callerGid: 0)
    }

    /// A plan running `/bin/sh -c script` with the usual system binds.
    static func shell(_ script: String, extra: [Mount] = [], identity: Identity = nobody,
                      limits: Limits? = nil, network: NetworkMode = .none,
                      cwd: String = "/", landlock: LandlockMode = .bestEffort) -> SandboxPlan {
        var plan = SandboxPlan(
            profileName: "spawn-test", profileFiles: [], description: nil,
            argv: ["/bin/sh", "-c", script], executable: "/bin/sh", cwd: cwd,
            hostname: "mcpbox-test", identity: identity, namespaces: Namespace.allCases,
            mounts: systemMounts() + identityFiles(identity) + extra, network: network,
            seccomp: SeccompPolicy(preset: .default, allow: [], deny: [], defaultAction: .errno),
            environment: [EnvVar(name: "PATH", value: "/usr/bin:/bin", origin: "default"),
                          EnvVar(name: "HOME", value: identity.home, origin: "default")],
            limits: limits ?? Limits(memoryBytes: nil, processes: nil, openFiles: 1024, cpu: nil,
                                     wallTimeSeconds: 0, tmpfsSizeBytes: 8 << 20,
                                     shutdownGraceSeconds: 2),
            warnings: [])
        // The second wall, as `run` derives it: every spawn test runs with Landlock on.
        plan.landlock = LandlockPolicy.derive(mounts: plan.mounts, network: network, mode: landlock,
                                              origin: "test", abi: LandlockPolicy.probeABI())
        return plan
    }

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
        var failure: SpawnError?
    }

    /// Spawns `plan` with pipes on the server's stdio, feeds `input`, collects everything.
    static func run(_ plan: SandboxPlan, input: String = "",
                    whileRunning: ((Sandbox, Int32) -> Void)? = nil) throws -> Outcome {
        let bpf = try Seccomp.compile(plan.seccomp)
        let stdin = try #require(Spawn.stdioPipe()), stdout = try #require(Spawn.stdioPipe()),
            stderr = try #require(Spawn.stdioPipe())
        let inP = [stdin.read, stdin.write], outP = [stdout.read, stdout.write], errP = [stderr.read, stderr.write]
        let sandbox: Sandbox
        do {
            sandbox = try Spawn.start(plan, bpf: bpf, stdin: inP[0], stdout: outP[1], stderr: errP[1])
        } catch {
            for fd in inP + outP + errP { close(fd) }
            return Outcome(status: error.exitCode, stdout: "", stderr: "", failure: error)
        }
        close(inP[0]); close(outP[1]); close(errP[1])
        let failure = sandbox.awaitExec()
        if !input.isEmpty {
            _ = input.withCString { write(inP[1], $0, strlen($0)) }
        }
        if whileRunning == nil { close(inP[1]) }
        let errData = ReadAll(errP[0])
        whileRunning?(sandbox, outP[0])
        if whileRunning != nil { close(inP[1]) }
        let out = readAll(outP[0])
        let status = sandbox.wait()
        return Outcome(status: status, stdout: out, stderr: errData.wait(), failure: failure)
    }

    static func readAll(_ fd: Int32) -> String {
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data += buf[0..<n]
        }
        close(fd)
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads a fd to EOF on its own thread.
    final class ReadAll: @unchecked Sendable {
        private var result = ""
        private let done = DispatchSemaphore(value: 0)
        init(_ fd: Int32) {
            Thread.detachNewThread { [self] in
                result = SpawnFixture.readAll(fd)
                done.signal()
            }
        }
        func wait() -> String {
            done.wait()
            return result
        }
    }

    /// Parses `Key:\tvalue` lines of /proc/self/status from the output.
    static func statusField(_ out: String, _ key: String) -> String? {
        for line in out.split(separator: "\n") where line.hasPrefix(key + ":") {
            return line.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}
