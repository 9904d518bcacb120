import Foundation
@testable import MCPBoxCLI
import MCPBoxCore
import MCPBoxProtocol
import Testing

/// Red team (pins and audit): names a server chooses are shown with what is invisible or
/// reorders text escaped, and told apart by their bytes. Each fails on the build before.
@Suite("invisible and look-alike names from a server")
struct InvisibleNamesTests {
    @Test("explain's escaping covers zero-width, bidi marks, separators, the BOM and tag characters")
    func visibleEscapes() {
        let name = "zw\u{200B}sp\u{061C}x\u{2028}y\u{FEFF}z\u{E0041}"
        #expect(Explain.visible(name) == "zw\\u{200b}sp\\u{61c}x\\u{2028}y\\u{feff}z\\u{e0041}")
        #expect(Explain.visible("greet\u{200B}") != Explain.visible("greet"))
        #expect(Explain.visible("café") == "café" && Explain.visible("plain ascii") == "plain ascii")
    }

    @Test("tools approve tells names apart by their bytes: café and cafe + combining accent are two tools, not a duplicate")
    func namesByBytes() throws {
        let nfc = try #require(Pin(.object([("name", .string("caf\u{E9}")), ("description", .string("a"))])))
        let nfd = try #require(Pin(.object([("name", .string("cafe\u{301}")), ("description", .string("b"))])))
        let open = ToolsCommand.unapproved(PinSet(), PinSet(tools: [nfc, nfd]))
        #expect(open.map(\.state) == ["new", "new"], "\(open.map(\.state))")
    }

    /// Found by a later red-team pass: `tools diff` compared lines with Swift's `==`, so a
    /// definition changed only from NFC to NFD showed no changed line.
    @Test("tools diff compares lines by their bytes")
    func diffByBytes() {
        let d = ToolsCommand.lineDiff(["\"description\": \"caf\u{E9}\""], ["\"description\": \"cafe\u{301}\""])
        #expect(d.count == 2 && d.contains { $0.hasPrefix("-") } && d.contains { $0.hasPrefix("+") }, "\(d)")
    }
}
