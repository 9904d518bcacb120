#if canImport(Glibc)
import Glibc
#endif

// libFuzzer entry for the MCP layer (scripts/fuzz-mcp): every input is parsed as JSON (whole and
// projected), re-serialized and re-parsed, scanned by MessageScan (which must agree with the
// full parse), and fed through an MCPFilter in both directions, split at an input-chosen point,
// with a tools policy, form-only client gating and [tools] confirm on (the clock moves on
// between directions, so held calls time out); lines past 256 bytes are spooled to a memfd.
// Streaming (StreamedLine.swift) is checked against holding: the input goes through a filter that
// may stream lines and one that never does, in small pieces; the streaming one's output must be
// the holding one's, or, when it ended the session, a fragment whose finished lines the holding
// one also passed. The incremental scan of streamed lines (IncrementalScan) must find, fed in
// pieces, what MessageScan finds in each whole line.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let array = Array(bytes)
    if let v = try? JSON.parse(array) {
        // What parses whole parses projected, with the same kept members.
        guard let p = try? JSON.parse(array, keeping: JSONProjection(["id", "method", "params.name"])) else {
            preconditionFailure("projection refused a valid message")
        }
        precondition(p["id"] == v["id"] && p["method"] == v["method"] && p["params"]?["name"] == v["params"]?["name"])
        let again = try? JSON.parse(Array(v.serialized.utf8))
        precondition(again == v, "serialization does not round-trip")
    }
    scanAgrees(array)
    incrementalAgrees(array)
    streamAgrees(bytes)
    var policy = MCPPolicy(tools: NamePolicy(allow: ["git_*"], deny: ["*commit*"]),
                           client: ClientGate(sampling: false, roots: false, elicitationURL: false), maxMessage: 4096,
                           confirm: ["*delete*", "git_*"])
    policy.confirmTimeout = 1
    let filter = MCPFilter(policy: policy, say: { _ in })
    filter.spoolThreshold = 256     // long inputs take the spool path (SpooledLine)
    var now: Int64 = 0
    filter.clock = { now }
    let cut = size > 0 ? Int(bytes[0]) % (size + 1) : 0
    for dir in 0...1 {
        _ = filter.input(dir, UnsafeRawBufferPointer(rebasing: bytes[..<cut]))
        _ = filter.input(dir, UnsafeRawBufferPointer(rebasing: bytes[cut...]))
        _ = filter.input(dir, UnsafeRawBufferPointer(start: nil, count: 0))
        now += 600
        _ = filter.tick(now: now)
        for d in 0...1 {
            let (_, n) = filter.pending(d)
            filter.consumed(d, n)
        }
    }
    return 0
}

/// The one-pass scan accepts what the full parse accepts, with the same members; what it accepts
/// beyond that has a duplicate key only inside a value it skips.
func scanAgrees(_ line: [UInt8]) {
    let scan = MessageScan(line)
    guard let v = try? JSON.parse(line) else {
        if scan.error == nil {
            let built = JSONProjection(["id", "method", "params.name", "params.cursor", "params.uri", "params.mode",
                                        "params.capabilities.elicitation", "result.action", "result.isError", "result.resultType", "error.code"])
            precondition((try? JSON.parse(line, keeping: built)) != nil, "scan accepted what the parser refuses")
        }
        return
    }
    precondition(scan.error == nil, "scan refused what the parser accepts")
    guard case .object = v else { precondition(!scan.isObject); return }
    let params = v["params"]
    precondition(scan.isObject && scan.id == v["id"] && scan.method == v["method"])
    precondition(scan.hasParams == (params != nil) && scan.hasResult == (v["result"] != nil) && scan.hasError == (v["error"] != nil))
    precondition(scan.name == params?["name"] && scan.cursor == params?["cursor"] && scan.uri == params?["uri"] && scan.mode == params?["mode"])
    precondition(scan.elicitation == params?["capabilities"]?["elicitation"])
    precondition(scan.action == v["result"]?["action"] && scan.isError == v["result"]?["isError"] && scan.errorCode == v["error"]?["code"])
    precondition(scan.resultType == v["result"]?["resultType"])
    var keys: [String]?
    if case .object(let pairs)? = params?["arguments"] { keys = pairs.map(\.0) }
    precondition(scan.argumentKeys == keys)
    precondition(scan.arguments.flatMap { try? JSON.parse(Array(line[$0])) } == params?["arguments"])
    precondition(scan.meta.flatMap { try? JSON.parse(Array(line[$0])) } == params?["_meta"])
}

/// IncrementalScan fed each line in pieces of 1 to 13 bytes against MessageScan on the whole line
/// (its last CR left out, as `MCPFilter.line` does): the same class of error, the same members,
/// the same first CR.
func incrementalAgrees(_ input: [UInt8]) {
    let piece = input.count > 1 ? Int(input[1]) % 13 + 1 : 1
    for line in input.split(separator: 0x0a, omittingEmptySubsequences: false) {
        var body = Array(line)
        var inc = IncrementalScan()
        body.withUnsafeBytes { b in
            for at in stride(from: 0, to: b.count, by: piece) { inc.feed(UnsafeRawBufferPointer(rebasing: b[at..<min(b.count, at + piece)])) }
        }
        let got = inc.finish()
        if body.last == 0x0d { body.removeLast() }
        let whole = MessageScan(body)
        func kind(_ e: JSONError?) -> Int {
            switch e { case nil: 0; case .syntax?: 1; case .tooDeep?: 2; case .lineBreak?: 3 }
        }
        precondition(!inc.overflow && kind(got.error) == kind(whole.error), "incremental scan: another verdict")
        precondition(got.isObject == whole.isObject && got.id == whole.id && got.method == whole.method && got.name == whole.name
            && got.cursor == whole.cursor && got.uri == whole.uri && got.mode == whole.mode && got.elicitation == whole.elicitation
            && got.action == whole.action && got.isError == whole.isError && got.resultType == whole.resultType
            && got.errorCode == whole.errorCode && got.hasParams == whole.hasParams && got.hasResult == whole.hasResult
            && got.hasError == whole.hasError && got.argumentKeys == whole.argumentKeys && got.arguments == whole.arguments
            && got.meta == whole.meta, "incremental scan: other members")
        if whole.error == nil {
            let cr = body.withUnsafeBytes { b -> Int? in
                guard let first = b.firstIndex(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0d && $0 != 0x0a }) else { return nil }
                return MCPFilter.firstCR(b, from: first, mapped: false)
            }
            precondition(inc.firstCR == cr, "incremental scan: another first CR")
        }
    }
}

/// Streaming against holding, in each direction (after a forwarded client request with id 1, so
/// server responses can be forecast).
func streamAgrees(_ bytes: UnsafeRawBufferPointer) {
    let piece = bytes.count > 0 ? Int(bytes[0]) % 7 + 1 : 1
    for dir in 0...1 {
        let held = relayed(bytes, dir: dir, piece: piece, stream: false)
        let streamed = relayed(bytes, dir: dir, piece: piece, stream: true)
        for d in 0...1 {
            let out = streamed.out[d], finished = out[..<((out.lastIndex(of: 0x0a) ?? -1) + 1)]
            if streamed.failed {
                precondition(held.out[d].starts(with: finished), "a streamed line was finished that holding did not pass")
            } else {
                precondition(out == held.out[d], "streaming changed what was relayed")
            }
        }
    }
}

/// What a filter with a tools policy queues for each destination when `bytes` arrive in `dir`
/// in pieces of `piece` bytes (`stream` false: never streams).
func relayed(_ bytes: UnsafeRawBufferPointer, dir: Int, piece: Int, stream: Bool) -> (out: [[UInt8]], failed: Bool) {
    let filter = MCPFilter(policy: MCPPolicy(tools: NamePolicy(allow: ["git_*"], deny: ["*commit*"]), maxMessage: 4096), say: { _ in })
    filter.spoolThreshold = 256
    filter.forecastFrom = 16
    filter.forecastLimit = stream ? 1024 : -1
    var out: [[UInt8]] = [[], []]
    func drain() {
        for d in 0...1 {
            while true {
                let (p, n) = filter.pending(d)
                guard n > 0 else { break }
                if let p {
                    out[d] += UnsafeBufferPointer(start: p, count: n)
                } else {
                    let (fd, at) = filter.pendingFile(d)
                    var chunk = [UInt8](repeating: 0, count: n)
                    let got = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, n, off_t(at)) }
                    precondition(got == n, "a spooled line could not be read back")
                    out[d] += chunk
                }
                filter.consumed(d, n)
            }
        }
    }
    if dir == 1 {
        let request = Array(#"{"jsonrpc":"2.0","id":1,"method":"x"}"#.utf8) + [0x0a]
        precondition(request.withUnsafeBytes { filter.input(0, $0) })
        drain()
        out = [[], []]
    }
    var failed = false
    var at = 0
    while at < bytes.count, !failed {
        let end = min(at + piece, bytes.count)
        failed = !filter.input(dir, UnsafeRawBufferPointer(rebasing: bytes[at..<end]))
        drain()
        at = end
    }
    if !failed { failed = !filter.input(dir, UnsafeRawBufferPointer(start: nil, count: 0)) }
    drain()
    return (out, failed)
}
