import Testing
@testable import MCPBoxProtocol

/// Red team (2026-12-03): `completion/complete` names a prompt (`ref.name`) or a resource
/// template (`ref.uri`), and protocol 2026-07-28's `subscriptions/listen` subscribes to resource
/// URIs (`filter.resourceSubscriptions`); neither was judged, so a hidden prompt's argument
/// values and a hidden template's came back to the client, and a listen subscribed to a denied
/// URI. A server's `notifications/resources/updated` for a hidden URI is dropped too.
@Suite struct CompletionGateTests {
    func driver() -> FilterDriver {
        var p = MCPPolicy(prompts: NamePolicy(allow: nil, deny: ["secret*"]))
        p.resources = NamePolicy(allow: nil, deny: ["file:///secret*"])
        return FilterDriver(p)
    }

    @Test func hiddenPromptOrTemplateCompletionIsRefused() throws {
        let d = driver()
        d.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"secret_prompt"},"argument":{"name":"c","value":""}}}"# + "\n")
        #expect(d.take(0) == "")
        #expect(try JSON.parse(d.take(1))["error"]?["message"] == .string("Unknown prompt: secret_prompt"))
        d.feed(0, #"{"jsonrpc":"2.0","id":2,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"file:///secret/{name}"},"argument":{"name":"name","value":""}}}"# + "\n")
        #expect(d.take(0) == "")
        #expect(try JSON.parse(d.take(1))["error"]?["code"] == .number("-32002"))
        // A percent-encoded form of the hidden template is judged as the server reads it.
        d.feed(0, #"{"jsonrpc":"2.0","id":3,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"file:///%73ecret/{name}"},"argument":{"name":"name","value":""}}}"# + "\n")
        #expect(d.take(0) == "")
        _ = d.take(1)
        // Keys a case-insensitive peer reads as the judged ones, other ref types, non-strings: refused.
        for params in [#"{"ref":{"type":"ref/prompt","name":"ok","Name":"secret_x"}}"#, #"{"Ref":{"type":"ref/prompt","name":"secret_x"}}"#,
                       #"{"ref":{"type":"ref/other","name":"secret_x"}}"#, #"{"ref":{"type":"ref/prompt","name":["secret_x"]}}"#,
                       #"{"ref":"secret_x"}"#] {
            d.feed(0, #"{"jsonrpc":"2.0","id":4,"method":"completion/complete","params":"# + params + "}\n")
            #expect(d.take(0) == "", "\(params)")
            #expect(try JSON.parse(d.take(1))["error"] != nil, "\(params)")
        }
        // Allowed ones pass byte-identical.
        for ok in [#"{"jsonrpc":"2.0","id":5,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"public"},"argument":{"name":"c","value":"a"}}}"#,
                   #"{"jsonrpc":"2.0","id":6,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"file:///public/{x}"},"argument":{"name":"x","value":""}}}"#] {
            d.feed(0, ok + "\n")
            #expect(d.take(0) == ok + "\n")
        }
    }

    @Test func listenToHiddenResourceIsRefused() throws {
        let d = driver()
        d.feed(0, #"{"jsonrpc":"2.0","id":7,"method":"subscriptions/listen","params":{"filter":{"resourceSubscriptions":["file:///public/a","file:///secret/id_rsa"]}}}"# + "\n")
        #expect(d.take(0) == "")
        #expect(try JSON.parse(d.take(1))["error"]?["message"] == .string("Resource not found: file:///secret/id_rsa"))
        d.feed(0, #"{"jsonrpc":"2.0","id":8,"method":"subscriptions/listen","params":{"filter":{"ResourceSubscriptions":["file:///secret/id_rsa"]}}}"# + "\n")
        #expect(d.take(0) == "")
        _ = d.take(1)
        // The SDK's wire models put them under `notifications`, and take snake_case names too.
        for params in [#"{"_meta":{},"notifications":{"resourceSubscriptions":["file:///secret/id_rsa"]}}"#,
                       #"{"notifications":{"resource_subscriptions":["file:///secret/id_rsa"]}}"#,
                       #"{"filter":{"resource_subscriptions":["file:///secret/id_rsa"]}}"#] {
            d.feed(0, #"{"jsonrpc":"2.0","id":10,"method":"subscriptions/listen","params":"# + params + "}\n")
            #expect(d.take(0) == "", "\(params)")
            #expect(try JSON.parse(d.take(1))["error"] != nil, "\(params)")
        }
        let ok = #"{"jsonrpc":"2.0","id":9,"method":"subscriptions/listen","params":{"filter":{"resourceSubscriptions":["file:///public/a"],"toolsListChanged":true}}}"# + "\n"
        d.feed(0, ok)
        #expect(d.take(0) == ok)
    }

    @Test func updateForHiddenResourceIsDropped() {
        let d = driver()
        d.feed(1, #"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"file:///secret/id_rsa"}}"# + "\n")
        #expect(d.take(1) == "")
        d.feed(1, #"{"jsonrpc":"2.0","id":null,"method":"notifications/resources/updated","params":{"uri":"file:///secret/id_rsa"}}"# + "\n")
        #expect(d.take(1) == "")
        let ok = #"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"file:///public/a"}}"# + "\n"
        d.feed(1, ok)
        #expect(d.take(1) == ok)
    }
}

@Suite("Audit trail: what a completion is for")
struct CompletionAuditTests {
    /// Red team (2026-12-03): the record of a completion named neither the prompt nor the
    /// template it was for, so a hidden one's use could not be seen in the log.
    @Test("completion/complete records ref_type and the prompt or uri; resources/read records its uri")
    func completionRecordsItsSubject() throws {
        var p = MCPPolicy(prompts: NamePolicy(allow: nil, deny: ["secret*"]))
        p.resources = NamePolicy(allow: nil, deny: ["file:///secret*"])
        let s = try AuditedSession(p)
        s.trail.start(fields: [])
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"secret_prompt"},"argument":{"name":"c","value":""}}}"# + "\n")
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":2,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"file:///docs/{p}"},"argument":{"name":"p","value":""}}}"# + "\n")
        s.driver.feed(1, #"{"jsonrpc":"2.0","id":2,"result":{"completion":{"values":[]}}}"# + "\n")
        s.driver.feed(0, #"{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///secret/a"}}"# + "\n")
        s.trail.finish(fields: [("exit_status", .int(0))])
        let r = try s.records().filter { $0["kind"] as? String == "mcp.request" }
        #expect(r.count == 3, "\(r)")
        guard r.count == 3 else { return }
        #expect(r[0]["ref_type"] as? String == "ref/prompt" && r[0]["prompt"] as? String == "secret_prompt" && r[0]["outcome"] as? String == "denied")
        #expect(r[1]["ref_type"] as? String == "ref/resource" && r[1]["uri"] as? String == "file:///docs/{p}" && r[1]["outcome"] as? String == "ok")
        #expect(r[2]["uri"] as? String == "file:///secret/a")
    }
}
