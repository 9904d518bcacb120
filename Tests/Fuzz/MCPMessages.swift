// libFuzzer entry for the MCP layer (scripts/fuzz-mcp): every input is parsed as JSON (whole and
// projected), re-serialized and re-parsed, and fed through an MCPFilter in both directions, split
// at an input-chosen point, with a tools policy on.

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
    let filter = MCPFilter(policy: MCPPolicy(tools: NamePolicy(allow: ["git_*"], deny: ["*commit*"]),
                                           client: ClientGate(sampling: false, roots: false), maxMessage: 4096),
                           say: { _ in })
    let cut = size > 0 ? Int(bytes[0]) % (size + 1) : 0
    for dir in 0...1 {
        _ = filter.input(dir, UnsafeRawBufferPointer(rebasing: bytes[..<cut]))
        _ = filter.input(dir, UnsafeRawBufferPointer(rebasing: bytes[cut...]))
        _ = filter.input(dir, UnsafeRawBufferPointer(start: nil, count: 0))
        let (_, n) = filter.pending(dir)
        filter.consumed(dir, n)
    }
    return 0
}
