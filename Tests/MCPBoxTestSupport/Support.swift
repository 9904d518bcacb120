import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Shared helpers for the tests that run the built `mcpbox` binary against real sandboxes.
public enum TestSupport {
    /// The package root (the directory holding Package.swift).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Whether the tests run as root (needed to create throwaway accounts).
    public static var isRoot: Bool { geteuid() == 0 }

    /// The `mcpbox` binary under test.
    ///
    /// `$MCPBOX_BIN` (set by scripts/test to the static release binary) wins; otherwise the
    /// `mcpbox` built next to the test bundle, then `.build/release/mcpbox`, `.build/debug/mcpbox`.
    public static func mcpboxBinary() throws -> String {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["MCPBOX_BIN"], !env.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: env) else {
                throw SupportError("MCPBOX_BIN=\(env) is not an executable file")
            }
            return env
        }
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
            for _ in 0..<4 {
                candidates.append(dir.appendingPathComponent("mcpbox").path)
                dir = dir.deletingLastPathComponent()
            }
        }
        candidates.append(packageRoot.appendingPathComponent(".build/release/mcpbox").path)
        candidates.append(packageRoot.appendingPathComponent(".build/debug/mcpbox").path)
        for c in candidates where FileManager.default.isExecutableFile(atPath: c) {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: c, isDirectory: &isDir), !isDir.boolValue { return c }
        }
        throw SupportError("no mcpbox binary: set MCPBOX_BIN or run scripts/setup (looked at \(candidates))")
    }

    /// The Python venv with `mcp`, `mcp-server-time`, `mcp-server-git` (created by scripts/setup).
    public static func venv() throws -> String {
        let path = ProcessInfo.processInfo.environment["MCPBOX_VENV"]
            ?? packageRoot.appendingPathComponent(".venv").path
        for tool in ["bin/python", "bin/mcp-server-time", "bin/mcp-server-git"] {
            guard FileManager.default.isExecutableFile(atPath: path + "/" + tool) else {
                throw SupportError("\(path)/\(tool) is missing: run scripts/setup to create the venv")
            }
        }
        return path
    }

    /// The shipped profiles directory.
    public static var profilesDir: String { packageRoot.appendingPathComponent("profiles").path }

    /// Debian's python3 (under /usr, so every profile that binds /usr can run it).
    public static func systemPython() throws -> String {
        for p in ["/usr/bin/python3"] where FileManager.default.isExecutableFile(atPath: p) { return p }
        throw SupportError("/usr/bin/python3 is missing: run scripts/setup (apt package python3)")
    }
}

/// A failure of the test harness itself (not of the code under test).
public struct SupportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The outcome of a finished child process.
public struct ProcessResult: Sendable {
    /// Exit status, or 128+N when signal N ended it.
    public var status: Int32
    public var stdout: Data
    public var stderr: String
    /// Whether the harness had to kill the process because it overran its timeout.
    public var timedOut: Bool
    /// Wall time from launch to exit, seconds.
    public var seconds: Double

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
}

/// Runs `argv` to completion, feeding `stdin` and collecting stdout and stderr.
///
/// `environment` nil inherits the test's environment. After `timeout` seconds the process
/// gets SIGKILL and `timedOut` is set. With `keepStdinOpen` the child's stdin stays open
/// until it exits (an MCP server, and so mcpbox, treats end of input as "the client left").
public func runProcess(_ argv: [String], environment: [String: String]? = nil, stdin: Data = Data(),
                       keepStdinOpen: Bool = false, currentDirectory: String? = nil,
                       timeout: Double = 120) throws -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: argv[0])
    p.arguments = Array(argv.dropFirst())
    if let environment { p.environment = environment }
    if let currentDirectory { p.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
    p.standardInput = inPipe
    p.standardOutput = outPipe
    p.standardError = errPipe
    let done = DispatchSemaphore(value: 0)
    p.terminationHandler = { _ in done.signal() }
    let start = Date()
    try p.run()
    let collector = OutputCollector()
    let readers = DispatchGroup()
    DispatchQueue.global().async(group: readers) {
        collector.setOut(outPipe.fileHandleForReading.readDataToEndOfFile())
    }
    DispatchQueue.global().async(group: readers) {
        collector.setErr(errPipe.fileHandleForReading.readDataToEndOfFile())
    }
    let input = stdin
    DispatchQueue.global().async {
        if !input.isEmpty { try? inPipe.fileHandleForWriting.write(contentsOf: input) }
        if !keepStdinOpen { try? inPipe.fileHandleForWriting.close() }
    }
    var timedOut = false
    if done.wait(timeout: .now() + timeout) == .timedOut {
        timedOut = true
        kill(p.processIdentifier, SIGKILL)
        done.wait()
    }
    let seconds = Date().timeIntervalSince(start)
    if keepStdinOpen { try? inPipe.fileHandleForWriting.close() }
    // EOF needs every copy of the write ends closed: wait as long as the process was allowed.
    _ = readers.wait(timeout: .now() + timeout)
    let status: Int32 = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
    return ProcessResult(status: status, stdout: collector.out, stderr: String(decoding: collector.err, as: UTF8.self),
                         timedOut: timedOut, seconds: seconds)
}

private final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var _out = Data(), _err = Data()
    var out: Data { lock.withLock { _out } }
    var err: Data { lock.withLock { _err } }
    func setOut(_ d: Data) { lock.withLock { _out = d } }
    func setErr(_ d: Data) { lock.withLock { _err = d } }
}

/// A throwaway system account (no home, no login shell), deleted by `delete()`.
public struct TestAccount: Sendable {
    public let name: String
    public let uid: UInt32
    public let gid: UInt32

    /// Creates `prefix-<random>` with useradd; retries while another test holds /etc/passwd's lock.
    public static func create(prefix: String) throws -> TestAccount {
        let name = "\(prefix)-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        var last = ""
        for _ in 0..<50 {
            let r = try runProcess(["/usr/sbin/useradd", "--system", "--user-group", "--no-create-home",
                                    "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name])
            if r.status == 0 {
                guard let pw = getpwnam(name) else { throw SupportError("useradd made \(name) but getpwnam cannot find it") }
                return TestAccount(name: name, uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid)
            }
            last = r.stderr
            usleep(100_000)
        }
        throw SupportError("useradd \(name) failed: \(last)")
    }

    /// Removes the account and its group (retrying on a busy lock); kills its leftover processes first.
    public func delete() {
        _ = try? runProcess(["/usr/bin/pkill", "-KILL", "-U", String(uid)])
        for _ in 0..<50 {
            guard let r = try? runProcess(["/usr/sbin/userdel", name]) else { return }
            if r.status == 0 || getpwnam(name) == nil { break }
            usleep(100_000)
        }
        if getgrnam(name) != nil { _ = try? runProcess(["/usr/sbin/groupdel", name]) }
    }
}

/// A temporary directory (mode 0755 so sandboxed accounts can traverse it), removed by `remove()`.
public struct TempDir: Sendable {
    public let path: String

    public init(prefix: String, base: String = "/tmp") throws {
        var template = Array("\(base)/\(prefix).XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SupportError("mkdtemp in \(base): \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
        chmod(path, 0o755)
    }

    public func sub(_ name: String) -> String { path + "/" + name }

    /// Creates a subdirectory with `mode` (umask ignored).
    @discardableResult
    public func makeDir(_ name: String, mode: mode_t = 0o755) throws -> String {
        let p = sub(name)
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        chmod(p, mode)
        return p
    }

    /// Writes a file with `mode` (umask ignored).
    @discardableResult
    public func write(_ name: String, _ contents: String, mode: mode_t = 0o644) throws -> String {
        let p = sub(name)
        try Data(contents.utf8).write(to: URL(fileURLWithPath: p))
        chmod(p, mode)
        return p
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// The owner uid of a host path (lstat), or nil when it does not exist.
public func ownerUID(of path: String) -> UInt32? {
    var st = stat()
    return lstat(path, &st) == 0 ? st.st_uid : nil
}

/// Quotes `s` for /bin/sh.
public func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// Escapes `s` as a TOML basic string (with the quotes).
public func tomlString(_ s: String) -> String {
    var out = "\""
    for ch in s.unicodeScalars {
        switch ch {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default: out.unicodeScalars.append(ch)
        }
    }
    return out + "\""
}

/// A listening socket on the host, for tests that must prove a sandbox cannot reach it.
public struct HostListener: Sendable {
    public let fd: Int32
    /// TCP port (for `tcpLoopback`), else 0.
    public let port: UInt16

    /// Listens on 127.0.0.1 on a random port.
    public static func tcpLoopback() throws -> HostListener {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SupportError("socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, len) == 0 && listen(fd, 16) == 0 && getsockname(fd, sa, &len) == 0
            }
        }
        guard ok else { Glibc.close(fd); throw SupportError("tcp listener: \(String(cString: strerror(errno)))") }
        return HostListener(fd: fd, port: UInt16(bigEndian: addr.sin_port))
    }

    /// Listens on an abstract unix socket `\0name` (name without the NUL).
    public static func abstractUnix(_ name: String) throws -> HostListener {
        try unix(Array([0] + name.utf8), chmodPath: nil)
    }

    /// Listens on a unix socket file at `path`, made world-writable (0777).
    public static func unixFile(_ path: String) throws -> HostListener {
        try unix(Array(path.utf8), chmodPath: path)
    }

    private static func unix(_ pathBytes: [UInt8], chmodPath: String?) throws -> HostListener {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SupportError("socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard pathBytes.count < capacity else { Glibc.close(fd); throw SupportError("unix socket path too long") }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in pathBytes.enumerated() { raw[i] = b }
        }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + (chmodPath == nil ? 0 : 1))
        let ok = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in bind(fd, sa, len) == 0 && listen(fd, 16) == 0 }
        }
        guard ok else { Glibc.close(fd); throw SupportError("unix listener: \(String(cString: strerror(errno)))") }
        if let chmodPath { chmod(chmodPath, 0o777) }
        return HostListener(fd: fd, port: 0)
    }

    public func stop() { _ = Glibc.close(fd) }

    /// Whether no connection waits to be accepted (checked without blocking); one that does is
    /// accepted and closed. Nil when the socket cannot be made non-blocking.
    public func acceptedNothing() -> Bool? {
        guard fcntl(fd, F_SETFL, O_NONBLOCK) == 0 else { return nil }
        let accepted = accept(fd, nil, nil)
        if accepted >= 0 { _ = Glibc.close(accepted) }
        return accepted < 0
    }
}

/// `mount ARGS` on the host (root); returns what undoes it (a lazy unmount of the last argument).
public func hostMount(_ args: [String]) throws -> () -> Void {
    let r = try runProcess(["/bin/mount"] + args)
    guard r.status == 0 else { throw SupportError("mount \(args): \(r.stderr)") }
    return { _ = try? runProcess(["/bin/umount", "-l", args.last!]) }
}
