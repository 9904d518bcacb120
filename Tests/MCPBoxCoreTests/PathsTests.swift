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

    /// The byte-wise fast paths agree with the Character-wise definitions they replace.
    static let samples = ["/", "/a", "/a/b", "/a-b", "/a.b", "/ab", "/a/b/c", "/b", "/A", "/a//b", "/a/b/", "/usr",
                          "/usr/lib", "/usr/lib64", "/usr/lib/x", "/é", "/a/é", "/a/e\u{301}", "/.", "/a/..", "/a/./b", "//"]

    @Test func fastPathsMatchCharacterSplit() {
        func parts(_ p: String) -> [Substring] { p.split(separator: "/", omittingEmptySubsequences: true) }
        for x in Self.samples {
            #expect(Paths.components(x) == parts(x))
            let slowNormal: String? = parts(x).contains("..") ? nil : "/" + parts(x).filter { $0 != "." }.joined(separator: "/")
            #expect(Paths.normalize(x) == slowNormal, "\(x)")
            for y in Self.samples {
                let a = parts(x), b = parts(y)
                let slow = zip(a, b).first { $0 != $1 }.map { $0 < $1 } ?? (a.count < b.count)
                #expect(Paths.precedes(x, y) == slow, "\(x) \(y)")
                let p = Array(x.utf8), q = Array(y.utf8)
                let within = y == "/" || (p.starts(with: q) && (p.count == q.count || p[q.count] == UInt8(ascii: "/")))
                #expect(Paths.isWithin(x, y) == within, "\(x) in \(y)")
            }
        }
    }
}
