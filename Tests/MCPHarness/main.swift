import MCPBoxEvents
import MCPBoxProtocol
#if canImport(Glibc)
import Glibc
#endif

// The MCP layer and audit trail driven in-process with `scripts/bench-relay --mcp --audit`'s
// lines (no relay, no kernel but the log's system calls), for instruction counts:
//   valgrind --tool=callgrind mcp-harness N LOG
// Each round trip: the client's tools/call (the id reused: the earlier request is closed), the
// echo server's copy of it (a server→client request), each passed on as the relay does
// (`pending`, `consumed`, then `tick`, where held records are written).
func main() {
    let args = CommandLine.arguments
    let rounds = args.count > 1 ? Int(args[1]) ?? 1000 : 1000
    let path = args.count > 2 ? args[2] : "/tmp/mcp-harness.jsonl"
    unlink(path)
    let policy = MCPPolicy(tools: NamePolicy(allow: ["get_current_time", "git_status", "git_log*"], deny: ["*commit*"]))
    let filter = MCPFilter(policy: policy, say: { print($0) })
    guard let sink = EventSink.file(path, rotation: LogRotation(maxSize: 64 << 20, keep: 1)) else { fatalError("cannot open \(path)") }
    let audit = AuditTrail(sink: sink, profile: "bench-echo-mcp", profileHash: String(repeating: "a", count: 64), say: { print($0) })
    filter.audit = audit
    audit.holding = args.count > 3 ? args[3] != "inline" : true
    audit.start(fields: [])

    func pass(_ dir: Int) {
        while true {
            let (_, n) = filter.pending(dir)
            if n == 0 { break }
            filter.consumed(dir, n)
        }
    }

    func feed(_ dir: Int, _ line: [UInt8]) {
        guard line.withUnsafeBytes({ filter.input(dir, $0) }) else { fatalError("the session ended") }
        pass(0)
        pass(1)
        guard filter.tick(now: 0) != MCPFilter.stopSession else { fatalError("the session ended") }
    }

    for i in 0..<rounds {
        let id = 1 + i / 20
        let line = Array(#"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"get_current_time","arguments":{"timezone":"Europe/Paris"}}}"#.utf8) + [0x0a]
        feed(0, line)
        feed(1, line)
    }
    audit.finish(fields: [])
}

main()
