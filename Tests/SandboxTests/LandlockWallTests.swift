import CSandbox
import Foundation
import Testing
@testable import MCPBoxCore
#if canImport(Glibc)
import Glibc
#endif

/// Landlock on its own (the test-only `landlock-harness`, on the host's view: no namespace, no
/// mounts) and inside real sandboxes.
@Suite(.serialized) struct LandlockWallTests {
    static let abi = LandlockPolicy.probeABI()

    static let harness: String = {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent("landlock-harness").path
    }()

    /// Canary, read-only and read-write directories in a fresh private directory.
    final class Tree {
        let root: String
        var secret: String { root + "/secret" }
        var canary: String { root + "/secret/canary" }
        var ro: String { root + "/ro" }
        var rw: String { root + "/rw" }

        init() {
            var template = Array("/var/tmp/mcpbox-landlock-XXXXXX".utf8CString)
            root = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
            for d in [secret, ro, rw] { mkdir(d, 0o755) }
            _ = FileManager.default.createFile(atPath: canary, contents: Data("canary-7f3a\n".utf8))
            _ = FileManager.default.createFile(atPath: ro + "/file", contents: Data("ro-file\n".utf8))
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }
    }

    /// A plan's mounts whose targets are host paths: /usr (sh and python3), the tree's two
    /// directories, and mcpbox's own /proc and /dev entries.
    static func mounts(_ t: Tree, extra: [Mount] = []) -> [Mount] {
        [
            Mount(target: "/usr", kind: .bind(source: "/usr", readOnly: true), origin: "test"),
            Mount(target: t.ro, kind: .bind(source: t.ro, readOnly: true), origin: "test"),
            Mount(target: t.rw, kind: .bind(source: t.rw, readOnly: false), origin: "test"),
            Mount(target: "/proc", kind: .proc, origin: "test"),
            Mount(target: "/dev", kind: .dev, origin: "test"),
        ] + extra
    }

    /// The harness's arguments for `policy`: the same masks and rules `run` hands the child.
    static func arguments(_ p: LandlockPolicy) -> [String] {
        var args = ["--fs", String(p.handledFS.rawValue)]
        var net: UInt64 = 0
        if p.tcpBind != nil { net |= UInt64(MCPBOX_LL_NET_BIND_TCP) }
        if p.tcpConnect != nil { net |= UInt64(MCPBOX_LL_NET_CONNECT_TCP) }
        if net != 0 { args += ["--net", String(net)] }
        for port in p.tcpBind ?? [] { args += ["--port", String(MCPBOX_LL_NET_BIND_TCP), String(port)] }
        for port in p.tcpConnect ?? [] { args += ["--port", String(MCPBOX_LL_NET_CONNECT_TCP), String(port)] }
        if p.scoped { args += ["--scope", String(MCPBOX_LL_SCOPE_ABSTRACT_UNIX_SOCKET | MCPBOX_LL_SCOPE_SIGNAL)] }
        for r in p.rules { args += ["--rule", String(r.access.rawValue), r.path] }
        return args
    }

    /// Runs `/usr/bin/sh -c script` under the harness with `policy`.
    static func harnessRun(_ p: LandlockPolicy, _ script: String) throws -> (status: Int32, out: String) {
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: harness)
        proc.arguments = arguments(p) + ["--", "/usr/bin/sh", "-c", script]
        let out = Pipe()
        proc.standardOutput = out
        proc.standardError = out
        proc.standardInput = FileHandle.nullDevice
        try proc.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        proc.waitUntilExit()
        return (proc.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static let probe = """
        cat "$1/secret/canary" 2>&1; echo "read-secret=$?"
        cat "$1/ro/file" 2>&1; echo "read-ro=$?"
        (echo x > "$1/ro/new") 2>&1; echo "write-ro=$?"
        (echo x > "$1/rw/new") 2>&1; echo "write-rw=$?"
        (mkdir "$1/secret/d") 2>&1; echo "mkdir-secret=$?"
        echo done > /dev/null; echo "dev-null=$?"
        """

    @Test("the plan's rules deny on their own what lies outside the plan (no mount namespace)")
    func secondWallAlone() throws {
        try #require(Self.abi >= 1, "this kernel has no Landlock")
        let t = Tree()
        let policy = LandlockPolicy.derive(mounts: Self.mounts(t), network: .none, mode: .require, origin: "test", abi: Self.abi)
        let r = try Self.harnessRun(policy, "set -- \(t.root)\n" + Self.probe)
        #expect(r.status == 0, "\(r.out)")
        #expect(r.out.contains("\(t.canary): Permission denied\nread-secret=1"), "\(r.out)")
        #expect(!r.out.contains("canary-7f3a"), "\(r.out)")
        #expect(r.out.contains("ro-file\nread-ro=0"), "\(r.out)")
        #expect(r.out.contains("Permission denied") && r.out.contains("write-ro=2"), "\(r.out)")
        #expect(r.out.contains("write-rw=0"), "\(r.out)")
        #expect(r.out.contains("mkdir-secret=1"), "\(r.out)")
        #expect(r.out.contains("dev-null=0"), "\(r.out)")
        #expect(FileManager.default.fileExists(atPath: t.rw + "/new"))
        #expect(!FileManager.default.fileExists(atPath: t.ro + "/new"))
        #expect(!FileManager.default.fileExists(atPath: t.secret + "/d"))
    }

    @Test("control: the same harness reads the canary once the plan binds its directory")
    func controlRuleGrantsAccess() throws {
        try #require(Self.abi >= 1, "this kernel has no Landlock")
        let t = Tree()
        let extra = [Mount(target: t.secret, kind: .bind(source: t.secret, readOnly: false), origin: "test")]
        let policy = LandlockPolicy.derive(mounts: Self.mounts(t, extra: extra), network: .none, mode: .require,
                                           origin: "test", abi: Self.abi)
        let r = try Self.harnessRun(policy, "set -- \(t.root)\n" + Self.probe)
        #expect(r.out.contains("canary-7f3a\nread-secret=0"), "\(r.out)")
        #expect(r.out.contains("mkdir-secret=0"), "\(r.out)")
    }

    @Test("TCP connect to a host loopback listener and signals to the outside are refused (ABI 4, 6)")
    func tcpAndSignalsAlone() throws {
        try #require(Self.abi >= 6, "needs Landlock ABI 6")
        let t = Tree()
        // A loopback listener this test opened on the host's own network.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &addr) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try #require(bind(fd, $0, len) == 0 && listen(fd, 4) == 0 && getsockname(fd, $0, &len) == 0)
            }
        }
        let port = UInt16(bigEndian: addr.sin_port)
        let connect = "/usr/bin/python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", \(port)), 5); print(\"connected\")' 2>&1 | tail -1"
        let script = "\(connect); kill -0 \(getpid()) 2>&1; echo \"kill=$?\""
        // tcp_connect names another port: this one is refused.
        let policy = LandlockPolicy.derive(mounts: Self.mounts(t), network: .host, mode: .require, origin: "test",
                                           abi: Self.abi, tcpConnect: [port &+ 1])
        let r = try Self.harnessRun(policy, script)
        #expect(r.out.contains("PermissionError: [Errno 13] Permission denied"), "\(r.out)")
        #expect(!r.out.contains("connected"), "\(r.out)")
        #expect(r.out.contains("kill=1"), "\(r.out)")
        // Control: naming the port grants it; scoping still applies.
        let named = LandlockPolicy.derive(mounts: Self.mounts(t), network: .host, mode: .require, origin: "test",
                                          abi: Self.abi, tcpConnect: [port])
        let h = try Self.harnessRun(named, script)
        #expect(h.out.contains("connected"), "\(h.out)")
        #expect(h.out.contains("kill=1"), "\(h.out)")
    }

    // MARK: Inside the sandbox

    @Test("inside a sandbox: Landlock is on (no listing of /dev; tcp_bind = [] refuses a bind), the server works")
    func enforcedInsideTheSandbox() throws {
        try #require(Self.abi >= 4, "needs Landlock ABI 4")
        let script = """
            ls /dev 2>&1; echo "ls-dev=$?"
            echo hi > /tmp/x && cat /tmp/x; echo x > /dev/null; echo "dev-null=$?"
            /usr/bin/python3 -c 'import socket; socket.socket().bind(("127.0.0.1", 0)); print("bound")' 2>&1 | tail -1
            """
        var plan = SpawnFixture.shell(script)
        plan.landlock = LandlockPolicy.derive(mounts: plan.mounts, network: .none, mode: .require, origin: "test",
                                              abi: Self.abi, tcpBind: [])
        let on = try SpawnFixture.run(plan)
        #expect(on.failure == nil && on.status == 0, "\(on)")
        #expect(on.stdout.contains("Permission denied\nls-dev=2"), "\(on.stdout)")
        #expect(on.stdout.contains("hi\ndev-null=0"), "\(on.stdout)")
        #expect(on.stdout.contains("PermissionError: [Errno 13]"), "\(on.stdout)")
        let off = try SpawnFixture.run(SpawnFixture.shell(script, landlock: .off))
        #expect(off.stdout.contains("null\n") && off.stdout.contains("ls-dev=0"), "\(off.stdout)")
        #expect(off.stdout.contains("bound"), "\(off.stdout)")
    }

    @Test("a ruleset the kernel refuses fails the launch: 125 with stage and errno, nothing runs")
    func failureIsAStageError() throws {
        try #require(Self.abi >= 1, "this kernel has no Landlock")
        var plan = SpawnFixture.shell("echo ran")
        plan.landlock.rules.append(LandlockRule(path: "/no-such-rule-path", kind: .readOnly, access: .readExecute, origin: "test"))
        let r = try SpawnFixture.run(plan)
        #expect(r.status == 125)
        #expect(!r.stdout.contains("ran"))
        let f = try #require(r.failure)
        #expect(f.stage == Int32(MCPBOX_STAGE_LANDLOCK.rawValue) && f.code == ENOENT && f.target == "/no-such-rule-path")
        #expect(f.description.hasPrefix("mcpbox: landlock /no-such-rule-path: No such file or directory"), "\(f)")
    }
}
