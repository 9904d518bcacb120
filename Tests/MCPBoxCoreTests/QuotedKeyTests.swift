import Foundation
import Testing
@testable import MCPBoxCore

/// A diagnostic names a quoted TOML key as it is written.
@Suite struct QuotedKeyDiagnosticTests {
    func errors(_ profile: String) -> [Diagnostic] {
        let s = Scratch()
        s.write("base.toml", "")
        s.write("p.toml", profile)
        return Fixture.errors("p", dirs: [s.path])
    }

    @Test("network.hosts.\"a.test\" of the wrong type: the key path is quoted, and no claim of a missing address")
    func quotedHostKey() {
        let e = errors("[network]\nmode = \"allow\"\nhosts.\"a.test\" = 5\n")
        #expect(e.count == 1 && e.first?.key == "network.hosts.\"a.test\"" && e.first?.message.contains("expected a string") == true, "\(e)")
        #expect(!e.contains { $0.message.contains("at least one address") }, "\(e)")
        let bare = errors("[network]\nmode = \"allow\"\nhosts = { \"a-test\" = [1] }\n")
        #expect(bare.count == 1 && bare.first?.key == "network.hosts.a-test", "\(bare)")
        let empty = errors("[network]\nmode = \"allow\"\nhosts = { \"a.test\" = [] }\n")
        #expect(empty.count == 1 && empty.first?.key == "network.hosts.\"a.test\"" && empty.first?.message == "needs at least one address", "\(empty)")
        #expect(TOML.keySegment("a\"b\\c\u{1}") == "\"a\\\"b\\\\c\\u0001\"")
    }
}

/// `TOML.string`, the one writer of TOML strings (profiles `wrap` writes, keys in messages,
/// client configs, the fuzz printer): every string reads back as itself, as TOML and as JSON.
@Suite struct TOMLStringWriterTests {
    static let samples = ["", "plain", "a\"b\\c", "tab\tnew\nline\r", "\u{1}\u{1f}\u{7f}", "é ü 日本 😀", "\u{80}\u{9f}", "'single'", "a.b = c", "\\u0041"]

    @Test("reads back as the same string in TOML and JSON", arguments: Self.samples)
    func roundTrip(_ s: String) throws {
        let t = try TOML.parse("k = " + TOML.string(s) + "\n")
        #expect(t["k"]?.value.kind == .string(s))
        let j = try JSONSerialization.jsonObject(with: Data(("[" + TOML.string(s) + "]").utf8)) as? [String]
        #expect(j == [s])
    }

    @Test func exactBytes() {
        #expect(TOML.string("a\"b\\c\u{1}\u{1f}\u{7f}é") == "\"a\\\"b\\\\c\\u0001\\u001f\\u007fé\"")
        #expect(TOML.keySegment("a-b_9") == "a-b_9" && TOML.keySegment("a.b") == "\"a.b\"" && TOML.keySegment("") == "\"\"")
    }
}

