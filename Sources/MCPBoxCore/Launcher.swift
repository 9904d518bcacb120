import CSandbox
import MCPBoxProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Runs a plan: compile, spawn, relay, exit status.
public enum Launcher {
    /// Executes `plan` and returns the exit status mcpbox should exit with: the server's,
    /// 128+N for signal N, 125 when mcpbox failed before the server started, 126 when the
    /// command cannot be executed, 127 when it is not found inside the sandbox.
    ///
    /// Call it from a thread that lives until it returns (pid 1's parent-death signal is
    /// tied to the calling thread); it blocks for the sandbox's whole life.
    ///
    /// `external` starts the sandbox instead of mcpbox's child stage (gVisor's runsc); the
    /// relay, MCP layer, audit and git sweep around it stay the same.
    public static func run(_ plan: SandboxPlan, verbose: Bool = false, external: ExternalSandbox? = nil) -> Int32 {
        if plan.executable == nil {
            printError("mcpbox: \(Explain.visible(plan.argv.first ?? "(no command)")): command not found inside the "
                + "sandbox (\(Explain.notFoundHint(plan.argv.first ?? "")))")
            return 127
        }
        if let p = plan.execProblem {
            printError("mcpbox: exec: \(Explain.visible(p.message)) (\(Explain.visible(p.hint)))")
            return p.exitStatus
        }
        var bpf: [UInt8] = []
        if external == nil {
            do {
                bpf = try SeccompCache.compile(plan.seccomp)
            } catch {
                printError("mcpbox: seccomp: \(error)")
                return 125
            }
        }
        // The after-session sweep must survive mcpbox's death (a client's SIGKILL): a guard does it then.
        var sweepGuard: SweepGuard.Handle?
        if !plan.gitWatched.isEmpty || !plan.gitTrees.isEmpty {
            switch SweepGuard.start(watched: plan.gitWatched, trees: plan.gitTrees) {
            case .success(let g): sweepGuard = g
            case .failure(let e):
                printError("mcpbox: " + e.message)
                return 125
            }
        }
        defer { sweepGuard?.finish() }
        var pipes: [(read: Int32, write: Int32)] = []
        for _ in 0..<3 {
            guard let p = Spawn.stdioPipe() else {
                printError("mcpbox: relay pipes: \(String(cString: strerror(errno)))")
                for p in pipes { close(p.read); close(p.write) }
                return 125
            }
            pipes.append(p)
        }
        let (stdinPipe, stdoutPipe, stderrPipe) = (pipes[0], pipes[1], pipes[2])
        // The signals the relay forwards stay pending from here until its signalfd takes them,
        // so one that arrives during the launch is forwarded too, not fatal to mcpbox (which
        // would leave a cgroup behind). The child stage unblocks them for the server.
        var forwarded = sigset_t()
        mcpbox_relay_block_forwarded(&forwarded)
        // mode "allow": the enforcement point's log and socketpair, before anything runs.
        var egress: EgressSession?
        if plan.egress != nil {
            switch EgressSession.prepare(plan, verbose: verbose) {
            case .success(let e): egress = e
            case .failure(let e):
                for p in pipes { close(p.read); close(p.write) }
                printError("mcpbox: egress: " + e.message)
                return 125
            }
        }
        // [audit]: the log is opened (and the session's first record written) before anything runs.
        var audit: AuditTrail?
        if let a = plan.audit {
            switch AuditSession.open(plan, audit: a) {
            case .success(let t): audit = t
            case .failure(let error):
                let message = error.message
                if a.required {
                    for p in pipes { close(p.read); close(p.write) }
                    egress?.abandon()
                    printError("mcpbox: " + message + "; the server was not started ([audit] required = true)")
                    return 125
                }
                printError("mcpbox: warning: " + message + "; the session runs unlogged ([audit] required = false)")
            }
        }
        // A plain session (nothing in Swift during or after it but removing cgroups) is handed
        // to the relay host, mcpbox's original process, which relays it in C (mcpbox_host.h).
        let hostRelay = mcpbox_host_socket() >= 0 && external == nil && plan.mcp == nil && egress == nil
            && sweepGuard == nil && plan.packages.isEmpty
        let sandbox: Started
        if let external {
            if let egress { external.attachEgress(egress.childFD) }
            switch external.start(stdin: stdinPipe.read, stdout: stdoutPipe.write, stderr: stderrPipe.write) {
            case .success(let pid): sandbox = Started(external: external, pid: pid)
            case .failure(let e):
                for p in pipes { close(p.read); close(p.write) }
                egress?.abandon()
                printError("mcpbox: " + Explain.visible(e.message))
                return 125
            }
        } else {
            do {
                sandbox = Started(native: try Spawn.start(plan, bpf: bpf, stdin: stdinPipe.read, stdout: stdoutPipe.write,
                                                          stderr: stderrPipe.write, egressFD: egress?.childFD ?? -1,
                                                          hostParent: hostRelay))
            } catch {
                for p in pipes { close(p.read); close(p.write) }
                egress?.abandon()
                printError(Explain.visible(error.description))
                return error.exitCode
            }
        }
        let guardFailure = sweepGuard?.watch(sandbox.pid)
        if guardFailure != nil { egress?.abandon() }
        if let failure = guardFailure ?? egress?.start().map({ "egress: " + $0.message }) {
            close(stdinPipe.write)
            close(stdoutPipe.read)
            close(stderrPipe.read)
            close(stdinPipe.read)
            close(stdoutPipe.write)
            close(stderrPipe.write)
            kill(sandbox.pid, SIGKILL)
            _ = sandbox.awaitExec()
            _ = sandbox.wait()
            printError("mcpbox: " + failure)
            return 125
        }
        close(stdinPipe.read)
        close(stdoutPipe.write)
        close(stderrPipe.write)
        if let failure = sandbox.awaitExec() {
            close(stdinPipe.write)
            close(stdoutPipe.read)
            close(stderrPipe.read)
            _ = sandbox.wait()
            printError(Explain.visible(failure.description))
            return failure.exitCode
        }
        var config = mcpbox_relay_config(
            client_in: 0, client_out: 1, client_err: 2,
            server_in: stdinPipe.write, server_out: stdoutPipe.read, server_err: stderrPipe.read,
            child: sandbox.pid, grace_seconds: plan.limits.shutdownGraceSeconds,
            wall_time_seconds: plan.limits.wallTimeSeconds, filter: nil)
        var status: Int32
        if let mcp = plan.mcp {
            let hook = MCPRelayHook(mcp.policy)
            hook.filter.audit = audit
            status = hook.run(&config)
            // The MCP layer ended the session (a message refused after it began streaming, one
            // over max_message, a spool that failed): mcpbox's refusal, whatever the server's
            // own status as it ended (it may exit 0 at the end of its input).
            if hook.filter.failed { status = 125 }
            if let audit {
                let ended = audit.mustStop
                audit.finish(fields: [("exit_status", .int(Int64(status)))])
                if ended || audit.mustStop { status = 125 }
            }
        } else if hostRelay {
            let dirs: [UnsafePointer<CChar>?] = sandbox.cgroupDirs.map { UnsafePointer(strdup($0)) }
            let sent = mcpbox_host_handoff(&config, dirs, Int32(dirs.count))
            let err = errno
            for d in dirs { free(UnsafeMutablePointer(mutating: d)) }
            // The host relays from here; this process has nothing left to do.
            if sent == 0 { _exit(0) }
            close(stdinPipe.write)
            close(stdoutPipe.read)
            close(stderrPipe.read)
            kill(sandbox.pid, SIGKILL)
            _ = sandbox.wait()
            printError("mcpbox: relay host: \(String(cString: strerror(err)))")
            return 125
        } else {
            status = mcpbox_relay_run(&config)
        }
        let runtimeFailure = external?.failure(status: status)
        egress?.finish()
        sandbox.finish()
        if let runtimeFailure {
            printError("mcpbox: " + Explain.visible(runtimeFailure))
            status = 125
        }
        for message in GitProtection.sweep(watched: plan.gitWatched, trees: plan.gitTrees) { printError("mcpbox: warning: " + message) }
        return status
    }

    /// Writes one line to stderr (never stdout: it belongs to the server), retrying on EINTR.
    public static func printError(_ line: String) {
        let bytes = Array((line.hasSuffix("\n") ? line : line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}

/// A sandbox started by something other than mcpbox's child stage (gVisor's runsc).
public protocol ExternalSandbox {
    /// Starts it with the server's stdio on the given fds (the caller closes its copies
    /// afterwards); returns the pid the relay waits for, a child of mcpbox.
    func start(stdin: Int32, stdout: Int32, stderr: Int32) -> Result<pid_t, ExternalStartError>
    /// Called once the pid has been reaped: removes what the start made.
    func finish()
    /// Why the runtime itself failed, judged after the pid ended with `status`; nil when the
    /// status is the server's own.
    func failure(status: Int32) -> String?
    /// mode "allow": `start` sends the sandbox's egress listeners over `fd` (as the native child
    /// stage does); without it mcpbox receives none and refuses to start.
    func attachEgress(_ fd: Int32)
}

extension ExternalSandbox {
    public func attachEgress(_ fd: Int32) {}
}

/// Why an external sandbox did not start.
public struct ExternalStartError: Error, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// The started sandbox, from either launcher.
private struct Started {
    let pid: pid_t
    private let native: Sandbox?
    private let external: ExternalSandbox?

    init(native: Sandbox) {
        self.pid = native.pid
        self.native = native
        self.external = nil
    }

    init(external: ExternalSandbox, pid: pid_t) {
        self.pid = pid
        self.native = nil
        self.external = external
    }

    /// Nil once the server has exec'd (an external runtime reports its failures itself).
    func awaitExec() -> SpawnError? { native?.awaitExec() }

    func wait() -> Int32 {
        if let native { return native.wait() }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { status = 125 << 8; break }
        }
        finish()
        return mcpbox_exit_status(status)
    }

    func finish() {
        native?.finish()
        external?.finish()
    }

    /// The sandbox's cgroup directories, deepest last.
    var cgroupDirs: [String] { native?.cgroups?.dirs ?? [] }
}
