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
