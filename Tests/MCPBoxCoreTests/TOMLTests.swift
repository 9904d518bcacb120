import Testing
@testable import MCPBoxCore

@Suite struct TOMLTests {
    func value(_ t: TOMLTable, _ path: String) -> TOMLValue? {
        var table = t
        let parts = path.split(separator: ".").map(String.init)
        for (i, p) in parts.enumerated() {
            guard let e = table[p] else { return nil }
            if i == parts.count - 1 { return e.value }
            guard case .table(let next) = e.value.kind else { return nil }
            table = next
        }
        return nil
    }

    func parseError(_ text: String) -> TOMLError? {
        do {
            _ = try TOML.parse(text, file: "t.toml")
            return nil
        } catch {
            return error
        }
    }

    @Test func scalarsAndLines() throws {
        let doc = try TOML.parse("""
            # comment
            a = "x"   # trailing
            b = 'lit\\eral'
            c = 1_000
            d = -17
            e = 0xDEAD_beef
            f = 0o755
            g = 0b1010
            h = 3.14
            i = -1e-3
            j = true
            k = 1979-05-27T07:32:00Z
            l = 07:32:00
            m = 1979-05-27
            n = 1979-05-27 07:32:00.999-07:00
            o = inf
            p = +12
            """, file: "t.toml")
        #expect(value(doc, "a") == TOMLValue(.string("x"), line: 2))
        #expect(value(doc, "b")?.kind == .string("lit\\eral"))
        #expect(value(doc, "c")?.kind == .integer(1000))
        #expect(value(doc, "d")?.kind == .integer(-17))
        #expect(value(doc, "e")?.kind == .integer(0xDEADBEEF))
        #expect(value(doc, "f")?.kind == .integer(0o755))
        #expect(value(doc, "g")?.kind == .integer(10))
        #expect(value(doc, "h")?.kind == .float(3.14))
        #expect(value(doc, "i")?.kind == .float(-0.001))
        #expect(value(doc, "j")?.kind == .bool(true))
        #expect(value(doc, "k")?.kind == .datetime("1979-05-27T07:32:00Z"))
        #expect(value(doc, "l")?.kind == .datetime("07:32:00"))
        #expect(value(doc, "m")?.kind == .datetime("1979-05-27"))
        #expect(value(doc, "n")?.kind == .datetime("1979-05-27 07:32:00.999-07:00"))
        #expect(value(doc, "o")?.kind == .float(.infinity))
        #expect(value(doc, "p")?.kind == .integer(12))
        #expect(doc["k"]?.keyLine == 12)
    }

    @Test func strings() throws {
        let doc = try TOML.parse(#"""
            esc = "tab\there \"q\" \u00e9 \U0001F600 back\\slash"
            ml = """
            Roses are red
            Violets are blue"""
            cont = """\
                The quick \
                brown fox."""
            quotes = """Here are two quotation marks: "". Simple enough."""
            five = """"This," she said, "is just a pointless statement.""""
            lit = '''
            first line
            C:\path\no\escape'''
            litq = '''That's still ''pointless'', she said.'''
            """#)
        #expect(value(doc, "esc")?.kind == .string("tab\there \"q\" é 😀 back\\slash"))
        #expect(value(doc, "ml")?.kind == .string("Roses are red\nViolets are blue"))
        #expect(value(doc, "cont")?.kind == .string("The quick brown fox."))
        #expect(value(doc, "quotes")?.kind == .string("Here are two quotation marks: \"\". Simple enough."))
        #expect(value(doc, "five")?.kind == .string("\"This,\" she said, \"is just a pointless statement.\""))
        #expect(value(doc, "lit")?.kind == .string("first line\nC:\\path\\no\\escape"))
        #expect(value(doc, "litq")?.kind == .string("That's still ''pointless'', she said."))
        #expect(value(doc, "lit")?.line == 10)
    }

    @Test func tablesArraysAndDottedKeys() throws {
        let doc = try TOML.parse("""
            top.dotted = 1
            "quoted key" = 2
            arr = [
              "a",  # comment inside
              "b",
            ]
            nested = [[1, 2], ["x"]]
            inline = { x = 1, y.z = "w" }

            [filesystem]
            read_only = ["/usr"]

            [a.b.c]
            d = 1

            [a]
            e = 2

            [[srv]]
            name = "one"
            [srv.opts]
            k = 1
            [[srv]]
            name = "two"
            """)
        #expect(value(doc, "top.dotted")?.kind == .integer(1))
        #expect(value(doc, "quoted key")?.kind == .integer(2))
        guard case .array(let arr) = value(doc, "arr")?.kind else { Issue.record("arr"); return }
        #expect(arr.map(\.line) == [4, 5])
        #expect(value(doc, "inline.y.z")?.kind == .string("w"))
        #expect(value(doc, "filesystem.read_only")?.line == 11)
        #expect(value(doc, "a.b.c.d")?.kind == .integer(1))
        #expect(value(doc, "a.e")?.kind == .integer(2))
        guard case .array(let srv) = value(doc, "srv")?.kind, srv.count == 2,
              case .table(let first) = srv[0].kind, case .table(let second) = srv[1].kind else {
            Issue.record("srv"); return
        }
        #expect(first["opts"] != nil)
        #expect(second["name"]?.value.kind == .string("two"))
        #expect(second["name"]?.keyLine == 24)
    }

    @Test func errorsCarryFileAndLine() {
        let cases: [(String, Int, String)] = [
            ("a = 1\na = 2", 2, "duplicate key `a`"),
            ("[t]\nx=1\n[t]\ny=2", 3, "defined twice"),
            ("a = \"unterminated\nb = 1", 1, "unterminated string"),
            ("a = [1, 2", 1, "unterminated array"),
            ("x = 1\ny = hello", 2, "strings need quotes"),
            ("a = 01", 1, "invalid value"),
            ("a = 1__0", 1, "invalid value"),
            ("a = { x = 1, }", 1, "trailing comma"),
            ("a = { x = 1 }\n[a]\ny=1", 2, "cannot extend inline table `a`"),
            ("a.b = 1\n[a.b]\nc=1", 2, "already defined"),
            ("a = 1 b = 2", 1, "expected end of line"),
            ("a = \"\\q\"", 1, "invalid escape"),
            ("\n\nkey", 3, "expected `=`"),
            ("a = 1979-13", 1, "invalid date-time"),
            ("x = 1\n[[x]]", 2, "not an array of tables"),
        ]
        for (text, line, fragment) in cases {
            guard let e = parseError(text) else {
                Issue.record("no error for \(text)")
                continue
            }
            #expect(e.line == line, "\(text): \(e)")
            #expect(e.description.hasPrefix("t.toml:\(line):\(e.column): "), "\(e)")
            #expect(e.message.contains(fragment), "\(text): \(e.message)")
        }
    }

    @Test func crlfAndBOM() throws {
        let doc = try TOML.parse("\u{FEFF}a = 1\r\nb = \"\"\"x\r\ny\"\"\"\r\nc = 3")
        #expect(value(doc, "b")?.kind == .string("x\ny"))
        #expect(value(doc, "c")?.line == 4)
    }
}
