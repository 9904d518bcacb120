import CSandbox
import MCPBoxCore
import MCPBoxNetwork
#if canImport(Glibc)
import Glibc
#endif

/// `network.mode = "allow"` under gVisor. runsc runs with `--network=none` (loopback only, no
/// route out) and `--host-uds=open` (the sandbox may connect to host Unix sockets bound into it,
/// never create one). mcpbox listens on three Unix sockets in the run's private directory,
/// bound read-only at `/.mcpbox/egress`; its static binary, bound read-only at
/// `/.mcpbox/mcpbox`, starts as the container's process (`EgressForwarder`): it opens the
/// proxy, DNS and capture listeners on the sandbox's loopback, forks a forwarder to those
/// sockets, and execs the server. The enforcement point, rules and log are the native ones.
public enum GVisorEgress {
    static let inside = "/.mcpbox"
    static let socketsInside = inside + "/egress"
    static let binaryInside = inside + "/mcpbox"
    /// The sockets' directory, relative to the bundle.
    static let socketsDir = "egress"
    static let hostUDSFlag = "--host-uds=open"

    /// mcpbox's own executable when it can run inside the sandbox (statically linked: the
    /// sandbox need not hold its libraries), else nil.
    public static func staticSelf() -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return isStatic(path) ? path : nil
    }

    /// Whether the ELF file at `path` names no program interpreter (no PT_INTERP).
    static func isStatic(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 64)
        guard pread(fd, &head, 64, 0) == 64, head[0..<4] == [0x7f, 0x45, 0x4c, 0x46], head[4] == 2 else { return false }
        func le(_ b: [UInt8], _ at: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(b[at + $1]) << (8 * $1) } }
        let phoff = le(head, 32, 8), phentsize = le(head, 54, 2), phnum = le(head, 56, 2)
        guard phentsize >= 4, phnum > 0, phnum < 256 else { return false }
        var table = [UInt8](repeating: 0, count: phentsize * phnum)
        guard pread(fd, &table, table.count, off_t(phoff)) == table.count else { return false }
        return !(0..<phnum).contains { le(table, $0 * phentsize, 4) == 3 /* PT_INTERP */ }
    }

    /// Whether `runsc` takes `--host-uds` (runsc releases before 2022 do not).
    public static func runscHasHostUDS(_ runsc: String) -> Bool {
        capture([runsc, "flags"]).contains("-host-uds")
    }

    /// Why allow mode cannot run under gVisor for `plan`, or nil.
    static func refusal(_ plan: SandboxPlan, runsc: String, mcpbox: String?, hostUDS: (String) -> Bool) -> GVisorRuntime.Refusal? {
        let fix = "or set [isolation] runtime = \"native\""
        guard let mcpbox else {
            return .init(message: "network.mode = \"allow\" under gVisor runs mcpbox's own binary inside the sandbox as the egress forwarder, and this mcpbox is not statically linked",
                         hint: "use the static release build (scripts/setup builds it), " + fix)
        }
        if let m = plan.mounts.first(where: { $0.target == "/" || Paths.isWithin($0.target, inside) }) {
            return .init(message: "network.mode = \"allow\" under gVisor binds mcpbox (\(mcpbox)) and its egress sockets at \(inside), which the mount \(m.target) (\(m.origin)) would cover",
                         hint: "remove that mount, " + fix)
        }
        guard hostUDS(runsc) else {
            return .init(message: "network.mode = \"allow\" under gVisor needs runsc's \(hostUDSFlag) (the sandbox reaches mcpbox's egress sockets through it); \(runsc) has no such flag",
                         hint: "install a newer runsc, " + fix)
        }
        return nil
    }

    /// The bundle for allow mode: mount points, the two read-only binds, and the forwarder
    /// in front of the server's argv.
    static func adapt(_ bundle: inout OCIBundle, plan: SandboxPlan, mcpbox: String) {
        bundle.entries += [.dir(socketsDir), .dir("rootfs" + inside), .dir("rootfs" + socketsInside), .file("rootfs" + binaryInside, "")]
        guard case .object(var top) = bundle.config else { return }
        let ports = plan.egress?.policy.capturePorts.sorted().map(String.init).joined(separator: ",") ?? ""
        for (i, pair) in top.enumerated() {
            switch pair.0 {
            case "mounts":
                guard case .array(var mounts) = pair.1 else { continue }
                for (target, source) in [(binaryInside, mcpbox), (socketsInside, socketsDir)] {
                    mounts.append(.object([("destination", .string(target)), ("type", .string("bind")), ("source", .string(source)),
                                           ("options", .array(["rbind", "ro", "nosuid", "nodev"].map(Node.string)))]))
                }
                top[i].1 = .array(mounts)
            case "process":
                guard case .object(var process) = pair.1 else { continue }
                for (j, p) in process.enumerated() where p.0 == "args" {
                    guard case .array(let args) = p.1 else { continue }
                    process[j].1 = .array([binaryInside, EgressForwarder.subcommand, socketsInside, ports.isEmpty ? "-" : ports, "--"].map(Node.string) + args)
                }
                top[i].1 = .object(process)
            default: continue
            }
        }
        bundle.config = .object(top)
    }

    /// The export's "network allow" row, as it holds under gVisor with mcpbox in front.
    static func row(_ plan: SandboxPlan) -> Carryover {
        let ports = plan.egress?.policy.capturePorts.sorted().map(String.init).joined(separator: ",") ?? ""
        return Carryover("network allow", .carried,
            "runsc --network=none: gVisor's own netstack with loopback only, no route out; the same enforcement point, rules and log as the native runtime, "
            + "in mcpbox outside the sandbox. The container's process is mcpbox's static binary (bound read-only at \(binaryInside)), as the server's uid "
            + "under the server's seccomp filter: it listens on 127.0.0.1:\(EgressPolicy.proxyPort) (proxy), 127.0.0.1:53 (DNS stub, UDP and TCP)"
            + (ports.isEmpty ? "" : " and 0.0.0.0:\(ports) (capture)")
            + ", forks a forwarder, and execs the server; the forwarder passes each connection to mcpbox's Unix sockets bound read-only at \(socketsInside) "
            + "(runsc \(hostUDSFlag): host sockets inside the plan's binds become connectable, as under the native runtime; none can be created) and can reach nothing the server cannot. "
            + "The DNS stub answers with fake addresses in \(FakeAddresses.loopback().range) (gVisor lets no unprivileged process add 198.18.0.0/15 to lo); "
            + "the forwarder counts against processes and open_files")
    }

    /// Makes the Unix listeners in `dir` (the bundle's sockets directory) and sends them to
    /// mcpbox's egress session over `fd`: proxy, DNS stream, forwarded captures.
    static func listen(_ dir: String, sendTo fd: Int32) -> ExternalStartError? {
        var fds: [Int32] = []
        defer { for f in fds { close(f) } }
        for name in [EgressForwarder.proxySocket, EgressForwarder.dnsSocket, EgressForwarder.captureSocket] {
            let path = dir + "/" + name
            let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard s >= 0 else { return ExternalStartError("gvisor: egress socket: \(String(cString: strerror(errno)))") }
            fds.append(s)
            var sa = sockaddr_un()
            sa.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: sa.sun_path) else {
                return ExternalStartError("gvisor: egress socket path \(path) is too long for a Unix socket")
            }
            withUnsafeMutableBytes(of: &sa.sun_path) { p in for (i, b) in bytes.enumerated() { p[i] = b } }
            let ok = withUnsafePointer(to: &sa) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
            }
            // The server's uid inside gVisor must be able to connect (write permission on the
            // socket); the run's directory (root's, 0700) keeps every host user out.
            guard ok, chmod(path, 0o666) == 0, Glibc.listen(s, 4096) == 0 else {
                return ExternalStartError("gvisor: egress socket \(path): \(String(cString: strerror(errno)))")
            }
        }
        guard mcpbox_egress_send(fd, fds, [CChar(UInt8(ascii: "P")), CChar(UInt8(ascii: "T")), CChar(UInt8(ascii: "U"))], 3) == 0 else {
            return ExternalStartError("gvisor: handing the egress sockets over: \(String(cString: strerror(errno)))")
        }
        return nil
    }

    /// The standard output of `argv` (at most 1 MiB), empty when it cannot run.
    static func capture(_ argv: [String]) -> String {
        var p: [Int32] = [-1, -1]
        guard pipe(&p) == 0 else { return "" }
        for fd in p { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, null, 0)
        posix_spawn_file_actions_adddup2(&actions, p[1], 1)
        posix_spawn_file_actions_adddup2(&actions, p[1], 2)
        let cArgv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nil]
        defer { for x in cArgv + cEnv { free(x) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgv, cEnv)
        close(p[1])
        if null >= 0 { close(null) }
        defer { close(p[0]) }
        guard rc == 0 else { return "" }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16 << 10)
        while out.count < 1 << 20 {
            let n = read(p[0], &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        var st: Int32 = 0
        while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
        return String(decoding: out, as: UTF8.self)
    }
}
