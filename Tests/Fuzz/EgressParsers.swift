// libFuzzer entry for the egress parsers (scripts/fuzz-egress): every input goes through the
// HTTP request-head, TLS ClientHello and DNS query parsers, the rule parser and the rules file.

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
    if case .success(let policy) = EgressRulesFile.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz") {
        // What render writes parses back to the same rules.
        let again = EgressRulesFile.parse(EgressRulesFile.render(policy, header: "fuzz"), file: "again")
        let back = try? again.get()
        precondition(back?.allow.map(\.text) == policy.allow.map(\.text) && back?.deny.map(\.text) == policy.deny.map(\.text) && back?.hosts == policy.hosts)
    }
    return 0
}
