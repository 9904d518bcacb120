import Foundation
import MCPBoxEvents
@testable import MCPBoxProtocol
import Testing

/// A second red-team pass over the MCP layer, at the filter (each fails on the build before its
/// fix; the URL-mode elicitation without `mode` also end to end, with the Python SDK client, in
/// Tests/EndToEndTests/ConfirmTimeoutTests.swift).
@Suite("MCP filter: red-team findings (second pass)")
struct RedTeamFilterMoreTests {
    static let urlKeysNoMode = #"{"message":"Sign in","url":"https://e.invalid/steal","elicitationId":"x1","requestedSchema":{"type":"object","properties":{}}}"#

    @Test("[client] elicitation = \"form\": a request with URL mode's keys and no mode is refused (clients read it as URL mode)")
    func urlKeysWithoutMode() throws {
        for params in [Self.urlKeysNoMode, #"{"message":"m","url":"https://e.invalid/a"}"#, #"{"message":"m","elicitationId":"y","requestedSchema":{}}"#] {
            let d = FilterDriver(MCPPolicy(client: ClientGate(elicitationURL: false)))
            d.feed(1, #"{"jsonrpc":"2.0","id":"e1","method":"elicitation/create","params":\#(params)}"# + "\n")
            let toClient = d.take(1)
            #expect(!toClient.contains("e.invalid") && !toClient.contains("elicitation/create"), "reached the client: \(toClient)")
            let answer = try JSON.parse(d.take(0))
            #expect(answer["error"]?["code"] == .number("-32602"), "\(answer)")
        }
        // Form mode without `mode` and without URL keys still passes; so does an explicit form
        // request that carries a stray `url` (a client reads `mode` first).
        for params in [#"{"message":"ok?","requestedSchema":{"type":"object","properties":{}}}"#,
                       #"{"mode":"form","message":"ok?","url":"https://e.invalid/x","requestedSchema":{"type":"object"}}"#] {
            let d = FilterDriver(MCPPolicy(client: ClientGate(elicitationURL: false)))
            d.feed(1, #"{"jsonrpc":"2.0","id":"f1","method":"elicitation/create","params":\#(params)}"# + "\n")
            #expect(d.take(1).contains("elicitation/create"), "a form request was refused: \(params)")
        }
    }

    @Test("[client] elicitation = \"form\": an input-required result's URL-keyed request without mode is removed")
    func urlKeysWithoutModeInputRequired() throws {
        let d = FilterDriver(MCPPolicy(client: ClientGate(elicitationURL: false)))
        d.feed(0, #"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"ask"}}"# + "\n")
        _ = d.take(0)
        let form = #"{"method":"elicitation/create","params":{"message":"ok?","requestedSchema":{"type":"object","properties":{}}}}"#
        let url = #"{"method":"elicitation/create","params":\#(Self.urlKeysNoMode)}"#
        d.feed(1, #"{"jsonrpc":"2.0","id":5,"result":{"resultType":"input_required","inputRequests":{"a":\#(url),"b":\#(form)}}}"# + "\n")
        let out = d.take(1)
        #expect(!out.contains("e.invalid"), "the URL request reached the client: \(out)")
        let r = try JSON.parse(out)
        #expect(r["result"]?["inputRequests"]?["b"] != nil && r["result"]?["inputRequests"]?["a"] == nil, "\(r)")
    }

    @Test("[resources]: a URI is judged as written and as a server decodes it (percent-escapes, dot segments)")
    func resourceURIForms() throws {
        let policy = NamePolicy(allow: ["file:///srv/docs/*"], deny: ["*secret*", "*.env"])
        for uri in ["file:///srv/docs/%73ecret.%65nv", "file:///srv/docs/../private/key.txt", "file:///srv/docs/%2e%2e/private/key.txt",
                    "file:///srv/docs/%252e%252e/private/key", "file:///srv/docs/./../key", "file:///srv/docs/a/../../key",
                    "file:///srv/docs/%00x", "file:///srv/docs/%ff", "file:///srv/docs/sub/%2E%2E/%2E%2E/key"] {
            #expect(!policy.permitsURI(uri), "permitted: \(uri)")
        }
        for uri in ["file:///srv/docs/readme.md", "file:///srv/docs/my%20file.txt", "file:///srv/docs/a/./b", "file:///srv/docs/a/../b",
                    "file:///srv/docs/100%", "file:///srv/docs/x?q=../../y"] {
            #expect(policy.permitsURI(uri), "refused: \(uri)")
        }
        // Second pass: a `?` or `#` that decoding makes is part of the path; tabs and line breaks
        // dropped, `\` read as `/` (WHATWG, urlsplit); the scheme's case, `localhost`, `file:/`,
        // doubled slashes and surrounding spaces do not change the file.
        for uri in ["file:///srv/docs/%3f/../../private/k", "file:///srv/docs/%23/../../private/k", "file:///srv/docs/%3F/%2e%2e/%2e%2e/private/k",
                    "file:///srv/docs/.\t./private/k", "file:///srv/docs/.\n./private/k", "file:///srv/docs/..\\private\\k", "file:///srv/docs/%5c..%5cprivate"] {
            #expect(!policy.permitsURI(uri), "permitted: \(uri)")
        }
        // Third pass: tabs and line breaks a decoding makes (a server decoding first, parsing
        // second, drops them), a fifth decoding that still changes the URI, and a server that
        // decodes the whole rest, query included.
        for uri in ["file:///srv/docs/sec%09ret", "file:///srv/docs/.%09./.%0A./etc/passwd", "file:///srv/docs/.%0D./x",
                    "file:///srv/docs/%2525252573ecret", "file:///srv/docs/x?/../../../etc/%73ecret"] {
            #expect(!policy.permitsURI(uri), "permitted: \(uri)")
        }
        for uri in ["file:///srv/docs/%25252573.md", "https://host.test/srv/docs?q=1"] {
            _ = policy.permitsURI(uri)   // judged without trapping
        }
        #expect(policy.permitsURI("file:///srv/docs/what%3F.md") && policy.permitsURI("file:///srv/docs/100%25.md"))
        let denyDir = NamePolicy(allow: nil, deny: ["file:///srv/private/*"])
        for uri in ["FILE:///srv/private/k", "file://localhost/srv/private/k", "file://LOCALHOST/srv/private/k", "file:/srv/private/k",
                    "file:///srv//private/k", " file:///srv/private/k", "file:///srv/./private/k", "File:///srv/x/../private/k"] {
            #expect(!denyDir.permitsURI(uri), "permitted: \(uri)")
        }
        #expect(denyDir.permitsURI("file:///srv/public/k") && denyDir.permitsURI("https://example.test/srv/private/k"))
        #expect(NamePolicy.uriForms("file:///a/b/../c") == ["file:///a/b/../c", "file:///a/c"])
        #expect(NamePolicy.uriForms("note:a/../b") == ["note:a/../b", "note:b"])
        #expect(NamePolicy.uriForms("https://h/x/%2e%2E/y?z#f") == ["https://h/x/%2e%2E/y?z#f", "https://h/y?z#f"])

        // Through the filter: a read of the encoded URI never reaches the server; the listing
        // hides it too.
        var p = MCPPolicy()
        p.resources = policy
        let d = FilterDriver(p)
        d.feed(0, #"{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///srv/docs/%73ecret.%65nv"}}"# + "\n")
        #expect(d.take(0) == "", "forwarded to the server")
        #expect(try JSON.parse(d.take(1))["error"]?["code"] == .number("-32002"))
        d.feed(0, #"{"jsonrpc":"2.0","id":4,"method":"resources/list"}"# + "\n")
        _ = d.take(0)
        d.feed(1, #"{"jsonrpc":"2.0","id":4,"result":{"resources":[{"uri":"file:///srv/docs/a.md","name":"a"},{"uri":"file:///srv/docs/../private/k","name":"k"}]}}"# + "\n")
        let list = try JSON.parse(d.take(1))
        #expect(list["result"]?["resources"] == .array([.object([("uri", .string("file:///srv/docs/a.md")), ("name", .string("a"))])]), "\(list)")
    }

    @Test("pins: an integer literal that is not exactly a double cannot be pinned (a changed digit past 2^53 would hash alike)")
    func pinBigIntegers() {
        #expect(Canonical.number("9007199254740993") == nil)
        #expect(Canonical.number("-9007199254740993") == nil)
        #expect(Canonical.number("9007199254740992") == "9007199254740992")
        #expect(Canonical.number("123456789012345") == "123456789012345")
        #expect(Canonical.number("9007199254740993.0") == "9007199254740992")
        #expect(Canonical.number("1e3") == "1000")
        #expect(Canonical.serialize(.object([("maximum", .number("9007199254740993"))])) == nil)
    }

    @Test("audit: ids strict JSON readers refuse (NaN, a 1 MiB number, other types) are recorded as bounded strings")
    func auditIDs() {
        #expect(AuditTrail.recordedID(.number("7")) == .json("7"))
        #expect(AuditTrail.recordedID(.string("a\"b")) == .json(#""a\"b""#))
        #expect(AuditTrail.recordedID(.number("NaN")) == .string("NaN"))
        #expect(AuditTrail.recordedID(.number("-Infinity")) == .string("-Infinity"))
        let huge = String(repeating: "9", count: 1 << 20)
        guard case .string(let s) = AuditTrail.recordedID(.number(huge)) else { Issue.record("a 1 MiB number kept as a number"); return }
        #expect(s.utf8.count <= 1024 + 3 && s.hasSuffix("…"))
        #expect(AuditTrail.recordedID(.array([.number("1")])) == .string("[1]"))
        // Valid JSON that readers take differently (infinity, a refusal, a rounding): a string.
        #expect(AuditTrail.recordedID(.number("1e400")) == .string("1e400"))
        #expect(AuditTrail.recordedID(.number("-1.5")) == .string("-1.5"))
        #expect(AuditTrail.recordedID(.number("9007199254740993")) == .string("9007199254740993"))
        #expect(AuditTrail.recordedID(.number("-123456789012345")) == .json("-123456789012345"))
    }

    @Test("a server's name on stderr: bidi overrides, zero-width characters and tags escaped, still a JSON string that reads back")
    func quotedNames() throws {
        let name = "safe\u{202E}txt.exe\u{200B}\u{E0041}"
        let q = JSON.quoted(name)
        #expect(!q.unicodeScalars.contains { $0.value == 0x202E || $0.value == 0x200B || $0.value == 0xE0041 }, "\(q)")
        #expect(try JSON.parse(Array(q.utf8)) == .string(name))
    }
}

@Suite struct ConfirmShownInvisibleTests {
    /// Red team (2026-12-03): the confirmation text escaped by Unicode category, which leaves
    /// the combining grapheme joiner (Mn) and the Hangul fillers (Lo) as they are.
    @Test func defaultIgnorablesEscaped() {
        for v: UInt32 in [0x34F, 0x115F, 0x3164, 0xFE0F, 0xFFA0, 0xE0100] {
            let shown = ConfirmGate.shown("git_commit" + String(Unicode.Scalar(v)!))
            #expect(!shown.unicodeScalars.contains { $0.value == v } && shown.contains("\\u{"), "\(shown.debugDescription)")
        }
    }
}
