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

    /// The kernel splits a path at its `/` bytes; Swift's Character split does not split at a
    /// `/` that a combining mark follows (they make one Character), and `hasPrefix("/")`,
    /// `lastIndex(of: "/")` and a Character count see the same. A symlink's text `/\u{301}x`
    /// is absolute to the kernel; `a/\u{301}b` is two components. Fails before the fix.
    @Test("paths are split, cut and joined at their / bytes, a combining mark after a / included")
    func combiningMarkAfterSlash() {
        func byteParts(_ p: String) -> [[UInt8]] { Array(p.utf8).split(separator: UInt8(ascii: "/")).map(Array.init) }
        for x in ["/a/\u{301}b/c", "/\u{301}", "/\u{301}/\u{20DD}x", "/caf\u{E9}/\u{301}"] {
            #expect(Paths.components(x).map { Array($0.utf8) } == byteParts(x), "\(Array(x.utf8))")
            #expect(Paths.normalize(x).map { Array($0.utf8) } == Array(x.utf8), "\(Array(x.utf8))")
        }
        #expect(Paths.normalize("/a/\u{301}/../x") == nil)
        #expect(Array(Paths.basename("/a/\u{301}b").utf8) == Array("\u{301}b".utf8))
        #expect(Array(Paths.dirname("/a/\u{301}b").utf8) == Array("/a".utf8))
        #expect(Array(Paths.remainder("/a/\u{301}b/c", under: "/a").utf8) == Array("\u{301}b/c".utf8))
        #expect(Array(Paths.remainder("/\u{301}b", under: "/").utf8) == Array("\u{301}b".utf8))
        #expect(Paths.remainder("/a", under: "/a") == "")
        #expect("/\u{301}x".isAbsolutePath && !"x/\u{301}".isAbsolutePath)
    }
}

/// The mount table mcpbox reads for the host mounts a bind carries.
@Suite struct MountTableTests {
    @Test("every line of /proc/self/mountinfo: device, root and mount point, escapes undone, as a plain split reads them")
    func matchesASplit() throws {
        HostFS.forgetMounts()
        let text = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        func unescape(_ s: Substring) -> [UInt8] {
            var out: [UInt8] = []
            var u = Array(s.utf8)[...]
            while let c = u.first {
                if c == UInt8(ascii: "\\"), u.count >= 4, let v = UInt8(String(decoding: u.dropFirst().prefix(3), as: UTF8.self), radix: 8) {
                    out.append(v); u = u.dropFirst(4)
                } else { out.append(c); u = u.dropFirst() }
            }
            return out
        }
        let expected = text.split(separator: "\n").map { line -> (device: [UInt8], root: [UInt8], point: [UInt8]) in
            let f = line.split(separator: " ", omittingEmptySubsequences: false)
            return (Array(f[2].utf8), unescape(f[3]), unescape(f[4]))
        }
        let table = HostFS.mountTable()
        #expect(table.count == expected.count)
        for (a, b) in zip(table, expected) {
            #expect(a.device == b.device && a.root == b.root && a.point == b.point, "\(String(decoding: a.point, as: UTF8.self))")
        }
        #expect(HostFS.mountPoints(below: "/").paths.count == Set(expected.map(\.point)).subtracting([Array("/".utf8)]).count)
    }
}
