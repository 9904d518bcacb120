// libFuzzer entry for the egress parsers (scripts/fuzz-egress): every input goes through the
// HTTP request-head, TLS ClientHello and DNS query parsers, and the rule parser.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if case .success(let (head, length)) = HTTPRequestHead.parse(bytes) {
        precondition(length <= bytes.count && length <= HTTPRequestHead.maxHeadBytes)
        _ = head.authority()
        _ = head.originForm
    }
    _ = TLSClientHello.serverName(bytes)
    if case .success(let q) = DNSQuery.parse(bytes) {
        precondition(q.name.utf8.count <= 253)
        _ = q.answer(.noError, address: [198, 18, 0, 2])
    }
    let text = String(decoding: bytes.prefix(400), as: UTF8.self)
    if case .success(let rule) = EgressRule.parse(text, origin: "fuzz") {
        _ = rule.matches(host: "api.test", port: 443)
    }
    return 0
}
