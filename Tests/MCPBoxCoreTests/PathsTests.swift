import Testing
@testable import MCPBoxCore

@Suite struct PathsTests {
    @Test(arguments: [
        ("/", "/"), ("/a", "/a"), ("/a/b", "/a/b"), ("/a/", "/a"), ("//a", "/a"), ("/a//b", "/a/b"),
        ("/./a", "/a"), ("/a/.", "/a"), ("/a/...", "/a/..."), ("/a/.b", "/a/.b"), ("/..a", "/..a"),
        ("/a/b.", "/a/b."), ("/.", "/"), ("//", "/"),
    ])
    func normalize(_ input: String, _ expected: String) {
        #expect(Paths.normalize(input) == expected)
    }

    @Test(arguments: ["/a/..", "/../a", "/a/../b", "a/b", ""])
    func refused(_ input: String) {
        #expect(Paths.normalize(input) == nil)
    }

    @Test func ordering() {
        #expect(Paths.precedes("/a", "/a/b"))
        #expect(Paths.precedes("/a/b", "/b"))
        #expect(!Paths.precedes("/b", "/a/b"))
    }
}
