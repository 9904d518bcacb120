import Foundation
import MCP
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The one JSON line this tool prints to stdout.
struct Report: Codable {
    var ok = false
    /// The step that failed (absent on success).
    var step: String?
    var error: String?
    var serverName: String?
    var protocolVersion: String?
    var tools: [String] = []
    var callText: String?
    var callIsError: Bool?
    /// With SDK_CLIENT_CALLS: each scripted call's outcome, in order.
    var calls: [CallResult]?
    /// mcpbox's exit status (128+N for signal N), once it has exited.
    var mcpboxStatus: Int32?
    /// Seconds from closing mcpbox's stdin to mcpbox exiting on its own.
    var exitSeconds: Double?
    /// Bytes mcpbox wrote to stdout after the session was closed.
    var trailingStdoutBytes: Int?
    var mcpboxStderr = ""
}

/// One call of SDK_CLIENT_CALLS: `{"tool": NAME, "arguments": {...}}`.
struct ScriptedCall: Decodable {
    var tool: String
    var arguments: [String: Value]?
}

/// A scripted call's outcome: a tool result, or the JSON-RPC error the SDK threw.
struct CallResult: Codable {
    var tool: String
    var isError: Bool
    var text: String
    /// The JSON-RPC error code (nil for a tool result).
    var code: Int?
}

/// The message of a JSON-RPC error as the peer sent it (the SDK keeps it as the case's detail).
func message(of error: MCPError) -> String {
    switch error {
    case .parseError(let d), .invalidRequest(let d), .methodNotFound(let d), .invalidParams(let d), .internalError(let d):
        return d ?? ""
    case .serverError(_, let m):
        return m
    default:
        return error.errorDescription ?? "\(error)"
    }
}

/// Mutable state shared with the watchdog thread.
final class State: @unchecked Sendable {
    private let lock = NSLock()
    private var _report = Report()
    private var _step = "start"
    private var _stepDeadline = Date.distantFuture
    private var _stderr = Data()
    private var finished = false
    private var _pid: pid_t = 0
    private var _exitStatus: Int32?
    private var _closing = false

    /// mcpbox's exit status (128+N for signal N) once it has exited.
    var exitStatus: Int32? {
        get { lock.withLock { _exitStatus } }
        set { lock.withLock { _exitStatus = newValue } }
    }

    /// Set when the client has closed mcpbox's stdin: from then on mcpbox is expected to exit.
    var closing: Bool {
        get { lock.withLock { _closing } }
        set { lock.withLock { _closing = newValue } }
    }

    /// mcpbox's pid once it runs (0 before).
    var pid: pid_t {
        get { lock.withLock { _pid } }
        set { lock.withLock { _pid = newValue } }
    }

    var step: String { lock.withLock { _step } }
    func update(_ body: (inout Report) -> Void) { lock.withLock { body(&_report) } }
    func appendStderr(_ d: Data) { lock.withLock { _stderr.append(d) } }

    /// Enters `step`, which must finish within `seconds`.
    func begin(_ step: String, seconds: Double) {
        lock.withLock { _step = step; _stepDeadline = Date().addingTimeInterval(seconds) }
    }

    var overdue: Bool { lock.withLock { Date() > _stepDeadline } }

    /// Prints the report once and exits: 0 only when `ok`.
    func finish(error: String? = nil) -> Never {
        lock.lock()
        if finished { lock.unlock(); while true { pause() } }
        finished = true
        var r = _report
        if let error { r.ok = false; r.step = _step; r.error = error }
        if r.mcpboxStatus == nil { r.mcpboxStatus = _exitStatus }
        r.mcpboxStderr = String(decoding: _stderr.suffix(8000), as: UTF8.self)
        lock.unlock()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = (try? encoder.encode(r)).map { String(decoding: $0, as: UTF8.self) }
            ?? #"{"ok":false,"error":"cannot encode the report"}"#
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
        exit(r.ok ? 0 : 1)
    }
}

/// The text blocks of a tool result, joined.
func joinedText(_ content: [Tool.Content]) -> String {
    var text = ""
    for item in content {
        if case .text(let t, _, _) = item { text += t }
    }
    return text
}

/// Reads `fd` (made blocking) to end of file.
func readAll(_ fd: Int32) -> Data {
    let flags = fcntl(fd, F_GETFL)
    if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
    var out = Data()
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n > 0 { out.append(contentsOf: buf[..<n]) } else if n < 0 && errno == EINTR { continue } else { break }
    }
    return out
}

let usage = """
    usage: mcp-sdk-client MCPBOX PROFILE [MCPBOX-RUN-OPTION...] -- SERVER-COMMAND...
    Runs `MCPBOX run PROFILE [OPTION...] -- SERVER-COMMAND...` and drives it with the MCP Swift SDK:
    initialize, tools/list, tools/call get_current_time {timezone: UTC}, then closes stdin and waits
    for mcpbox to exit on its own. Prints one JSON report line; exits 0 only when everything worked.
    Environment: SDK_CLIENT_STEP_TIMEOUT (seconds per step, default 60);
    SDK_CLIENT_CALLS: a JSON array of {"tool": NAME, "arguments": {...}} made instead of
    get_current_time, each outcome (tool result or JSON-RPC error) reported in `calls`.
    """

@main
struct SDKClient {
    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        let args = Array(CommandLine.arguments.dropFirst())
        guard args.count >= 4, let dashes = args.firstIndex(of: "--"), dashes >= 2, dashes < args.count - 1 else {
            FileHandle.standardError.write(Data((usage + "\n").utf8))
            exit(2)
        }
        let mcpbox = args[0]
        let runArgs = ["run", args[1]] + args[2..<dashes] + ["--"] + args[(dashes + 1)...]
        let stepTimeout = ProcessInfo.processInfo.environment["SDK_CLIENT_STEP_TIMEOUT"].flatMap(Double.init) ?? 60
        var script: [ScriptedCall]?
        if let json = ProcessInfo.processInfo.environment["SDK_CLIENT_CALLS"] {
            do { script = try JSONDecoder().decode([ScriptedCall].self, from: Data(json.utf8)) } catch {
                FileHandle.standardError.write(Data("SDK_CLIENT_CALLS is not a JSON array of calls: \(error)\n".utf8))
                exit(2)
            }
        }
        let state = State()

        let stderrRead = DispatchGroup()

        // Watchdog: the SDK's requests have no timeout and do not fail when the server goes away, so
        // a step that overruns its deadline, or mcpbox exiting before the client closed, ends the run.
        Thread.detachNewThread {
            while true {
                usleep(100_000)
                if let status = state.exitStatus, !state.closing {
                    _ = stderrRead.wait(timeout: .now() + 5)
                    state.finish(error: "mcpbox exited with status \(status) before the client closed the session")
                }
                if state.overdue {
                    if state.pid > 0, state.exitStatus == nil { kill(state.pid, SIGKILL) }
                    state.finish(error: "timed out after \(stepTimeout)s (mcpbox was killed)")
                }
            }
        }

        state.begin("spawn mcpbox", seconds: stepTimeout)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mcpbox)
        process.arguments = Array(runArgs)
        let stdinPipe = Pipe(), stdoutPipe = Pipe(), stderrPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { p in
            state.exitStatus = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
            exited.signal()
        }
        do { try process.run() } catch { state.finish(error: "cannot start \(mcpbox): \(error)") }
        state.pid = process.processIdentifier
        let stderrFD = stderrPipe.fileHandleForReading.fileDescriptor
        stderrRead.enter()
        Thread.detachNewThread {
            state.appendStderr(readAll(stderrFD))
            stderrRead.leave()
        }

        // The SDK's stdio transport reads the server's messages from `input` and writes ours to `output`.
        let toServer = stdinPipe.fileHandleForWriting.fileDescriptor
        let fromServer = stdoutPipe.fileHandleForReading.fileDescriptor
        let transport = StdioTransport(input: FileDescriptor(rawValue: fromServer), output: FileDescriptor(rawValue: toServer))
        let client = Client(name: "mcpbox-swift-sdk-test", version: "1.0.0")

        do {
            state.begin("initialize", seconds: stepTimeout)
            let initialized = try await client.connect(transport: transport)
            state.update {
                $0.serverName = initialized.serverInfo.name
                $0.protocolVersion = initialized.protocolVersion
            }

            state.begin("tools/list", seconds: stepTimeout)
            var tools: [Tool] = []
            var cursor: String?
            repeat {
                let page = try await client.listTools(cursor: cursor)
                tools += page.tools
                cursor = page.nextCursor
            } while cursor != nil
            state.update { $0.tools = tools.map(\.name) }

            if let script {
                var results: [CallResult] = []
                for call in script {
                    state.begin("tools/call \(call.tool)", seconds: stepTimeout)
                    do {
                        let (content, isError) = try await client.callTool(name: call.tool, arguments: call.arguments)
                        results.append(CallResult(tool: call.tool, isError: isError == true, text: joinedText(content), code: nil))
                    } catch let error as MCPError {
                        results.append(CallResult(tool: call.tool, isError: true, text: message(of: error), code: error.code))
                    }
                    state.update { $0.calls = results }
                }
            } else {
                guard tools.contains(where: { $0.name == "get_current_time" }) else {
                    state.finish(error: "the server lists no get_current_time tool: \(tools.map(\.name))")
                }

                state.begin("tools/call get_current_time", seconds: stepTimeout)
                let (content, isError) = try await client.callTool(name: "get_current_time", arguments: ["timezone": "UTC"])
                let text = joinedText(content)
                state.update { $0.callText = text; $0.callIsError = isError }
                if isError == true { state.finish(error: "get_current_time returned isError: \(text)") }
                guard !text.isEmpty else { state.finish(error: "get_current_time returned no text content: \(content)") }
            }

            state.begin("disconnect", seconds: stepTimeout)
            await client.disconnect()
        } catch {
            state.finish(error: "\(error)")
        }

        // Close the session the way the stdio transport spec says: close the server's stdin, then
        // wait for it to exit. mcpbox must end on its own; the watchdog kills it only on overrun.
        state.begin("close stdin and wait for mcpbox to exit", seconds: stepTimeout + 5)
        state.closing = true
        let closedAt = Date()
        close(toServer)
        let didExit = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            DispatchQueue.global().async { c.resume(returning: exited.wait(timeout: .now() + stepTimeout) == .success) }
        }
        guard didExit else { state.finish(error: "mcpbox did not exit within \(stepTimeout)s of its stdin closing") }
        let seconds = Date().timeIntervalSince(closedAt)
        let status = state.exitStatus ?? -1
        let trailing = readAll(fromServer)
        _ = stderrRead.wait(timeout: .now() + 10)
        state.update {
            $0.mcpboxStatus = status
            $0.exitSeconds = (seconds * 1000).rounded() / 1000
            $0.trailingStdoutBytes = trailing.count
        }
        guard status == 0 else { state.finish(error: "mcpbox exited with status \(status)") }
        state.update { $0.ok = true; $0.step = nil }
        state.finish()
    }
}
