// libFuzzer entry for the MCP layer (scripts/fuzz-mcp): every input is parsed as JSON (whole and
// projected), re-serialized and re-parsed, scanned by MessageScan (which must agree with the
// full parse), and fed through an MCPFilter in both directions, split at an input-chosen point,
// with a tools policy, form-only client gating and [tools] confirm on (the clock moves on
// between directions, so held calls time out); lines past 256 bytes are spooled to a memfd.

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
