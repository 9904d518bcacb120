import Foundation
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

/// Hostile and malformed input: what crashed, stalled or was silently accepted before.
@Suite struct TOMLHardeningTests {
    func parseError(_ text: String) -> TOMLError? {
        parseError(Array(text.utf8))
    }

    func parseError(_ bytes: [UInt8]) -> TOMLError? {
        do {
            _ = try TOML.parse(bytes: bytes, file: "t.toml")
            return nil
        } catch {
            return error
        }
    }

    func dotted(_ n: Int) -> String { Array(repeating: "a", count: n).joined(separator: ".") }

    /// Each of these overflowed the stack of the recursive parser (SIGSEGV in `mcpbox check`).
    @Test func deepNestingIsAnErrorWithLineAndColumn() {
        let cases: [(String, Int, Int)] = [
            ("a = " + String(repeating: "[", count: 24_000), 1, 4 + 128 + 1),
            ("x = 1\na = " + String(repeating: "{b = ", count: 24_000), 2, 4 + 127 * 5 + 2),
            (dotted(35_000) + " = 1", 1, 1),
            ("[" + dotted(35_000) + "]", 1, 2),
            ("[[" + dotted(35_000) + "]]", 1, 3),
            ("a = " + String(repeating: "[{b = ", count: 10_000), 1, 4 + 63 * 6 + 3),
        ]
        for (text, line, column) in cases {
            guard let e = parseError(text) else { Issue.record("accepted: \(text.prefix(40))"); continue }
            #expect(e.message.contains("nested too deeply: more than 128 levels"), "\(e)")
            #expect(e.line == line && e.column == column, "\(text.prefix(40)): \(e)")
        }
    }

    @Test func nestingUpTo128LevelsIsAccepted() throws {
        let arrays = { (n: Int) in "a = " + String(repeating: "[", count: n) + String(repeating: "]", count: n) }
        _ = try TOML.parse(arrays(128))
        #expect(parseError(arrays(129)) != nil)
        _ = try TOML.parse(dotted(128) + " = 1")
        #expect(parseError(dotted(129) + " = 1") != nil)
        _ = try TOML.parse("[" + dotted(128) + "]")
        #expect(parseError("[" + dotted(129) + "]") != nil)
        _ = try TOML.parse("[" + dotted(100) + "]\n" + dotted(28) + " = 1")
        #expect(parseError("[" + dotted(100) + "]\n" + dotted(29) + " = 1") != nil)
        // An array of tables costs two levels (the array and the table): 64 nested ones fit.
        let aot = { (n: Int) in (1...n).map { "[[" + dotted($0) + "]]\n" }.joined() }
        _ = try TOML.parse(aot(64))
        #expect(parseError(aot(65))?.message.contains("nested too deeply") == true)
    }

    /// 100k `[[x]]` headers took 50 s (each one copied the whole array); these must simply finish.
    @Test func largeDocumentsFinish() throws {
        let headers = try TOML.parse(String(repeating: "[[x]]\n", count: 100_000))
        guard case .array(let xs)? = headers["x"]?.value.kind else { Issue.record("x"); return }
        #expect(xs.count == 100_000 && xs.last?.line == 100_000)
        let nested = try TOML.parse(String(repeating: "[[x]]\n[[x.y]]\nk = 1\n", count: 20_000))
        guard case .array(let ys)? = nested["x"]?.value.kind else { Issue.record("x.y"); return }
        #expect(ys.count == 20_000)
        let tables = try TOML.parse((0..<30_000).map { "[t.a.b\($0)]\nk = \($0)\n" }.joined())
        guard case .table(let t)? = tables["t"]?.value.kind, case .table(let a)? = t["a"]?.value.kind else { Issue.record("t"); return }
        #expect(a.entries.count == 30_000)
        let keys = try TOML.parse((0..<50_000).map { "k\($0) = \($0)\n" }.joined())
        #expect(keys.entries.count == 50_000)
        let array = try TOML.parse("a = [" + String(repeating: "1, ", count: 200_000) + "]")
        guard case .array(let items)? = array["a"]?.value.kind else { Issue.record("a"); return }
        #expect(items.count == 200_000)
        let escapes = try TOML.parse("a = \"" + String(repeating: "\\u00e9", count: 100_000) + "\"")
        #expect(escapes["a"]?.value.kind == .string(String(repeating: "é", count: 100_000)))
        #expect(parseError("a = \"\"\"" + String(repeating: "\"", count: 1_000_000)) != nil)
        #expect(parseError("a = '''" + String(repeating: "'", count: 1_000_000)) != nil)
        #expect(parseError(String(repeating: "a = \"", count: 100_000)) != nil)
        #expect(parseError("a = " + String(repeating: "9", count: 1_000_000))?.message.contains("does not fit in 64 bits") == true)
        #expect(parseError(String(repeating: "x", count: 1_000_000) + " = ")?.message.contains("expected a value") == true)
    }

    @Test func datesAndTimesAreRangeChecked() throws {
        let valid = ["2024-02-29", "2000-02-29T00:00:00Z", "1979-05-27 23:59:60", "00:00:00.5", "23:59:59",
                     "1979-05-27T07:32:00+23:59", "1979-05-27t07:32:00z", "0001-01-01", "9999-12-31T23:59:59-23:59",
                     "2024-04-30", "2024-12-31"]
        for v in valid {
            let doc = try TOML.parse("d = \(v)")
            #expect(doc["d"]?.value.kind == .datetime(v))
        }
        let invalid: [(String, String)] = [
            ("2023-02-29", "day 29 is out of range for month 2 of 2023"),
            ("1900-02-29", "day 29"),
            ("2024-02-30", "day 30"),
            ("2024-04-31", "day 31"),
            ("2024-01-00", "day 0"),
            ("2024-13-01", "month 13 does not exist"),
            ("2024-00-01", "month 0"),
            ("24:00:00", "hour 24 does not exist"),
            ("1979-05-27T24:00:00Z", "hour 24"),
            ("23:60:00", "minute 60 does not exist"),
            ("23:59:61", "second 61 does not exist"),
            ("1979-05-27T07:32:00+25:00", "offset out of range"),
            ("1979-05-27T07:32:00-00:60", "offset out of range"),
            ("07:32:00Z", "a local time cannot have an offset"),
            ("07:32:00+01:00", "a local time cannot have an offset"),
            ("07:32:00.5-01:00", "a local time cannot have an offset"),
            ("1979-05-27T07:32Z", "expected HH:MM:SS"),
            ("1979-05-27T07:32:00.Z", "expected digits after `.`"),
        ]
        for (v, fragment) in invalid {
            guard let e = parseError("x = 1\nd = \(v)") else { Issue.record("accepted \(v)"); continue }
            #expect(e.message.contains("invalid date-time `\(v)`") && e.message.contains(fragment), "\(v): \(e)")
            #expect(e.line == 2 && e.column == 5, "\(e)")
        }
    }

    @Test func invalidUTF8IsAnErrorWithItsByteOffset() throws {
        let cases: [([UInt8], Int, Int, Int)] = [
            (Array("a = \"".utf8) + [0xFF] + Array("\"".utf8), 5, 1, 6),
            (Array("a = 1\nb = \"".utf8) + [0xC3, 0x28] + Array("\"".utf8), 11, 2, 6),
            (Array("# é\n# ".utf8) + [0xC0, 0x80], 7, 2, 3),
            (Array("a = '".utf8) + [0xED, 0xA0, 0x80] + Array("'".utf8), 5, 1, 6),
            (Array("a = '".utf8) + [0xF4, 0x90, 0x80, 0x80] + Array("'".utf8), 5, 1, 6),
            (Array("a = 'x".utf8) + [0xE2, 0x82], 6, 1, 7),
            ([0xFE, 0xFF, 0x00, 0x61], 0, 1, 1),
        ]
        for (bytes, offset, line, column) in cases {
            guard let e = parseError(bytes) else { Issue.record("accepted \(bytes)"); continue }
            #expect(e.message.hasPrefix("invalid UTF-8 at byte offset \(offset) "), "\(e)")
            #expect(e.line == line && e.column == column, "\(e)")
        }
        let doc = try TOML.parse(bytes: Array("\"é\" = \"😀\"".utf8))
        #expect(doc["é"]?.value.kind == .string("😀"))
        // Columns count characters, not bytes.
        #expect(parseError("\"é😀\" = 1 x")?.column == 10)
    }

    @Test func quotesAndEscapes() throws {
        let five = try TOML.parse(#"a = """x""""" "# + "\n" + #"b = '''y'''''"#)
        #expect(five["a"]?.value.kind == .string("x\"\""))
        #expect(five["b"]?.value.kind == .string("y''"))
        for text in [#"a = """x"""""""#, "a = " + String(repeating: "\"", count: 9), #"a = '''y''''''"#,
                     "a = " + String(repeating: "'", count: 9)] {
            #expect(parseError(text)?.message.contains("too many quotes in a row") == true, "\(text)")
        }
        #expect(try TOML.parse(#"a = "\u0041\U0001F600""#)["a"]?.value.kind == .string("A😀"))
        for (text, column) in [(#"a = "\u+041""#, 6), (#"a = "\u-041""#, 6), (#"a = "x\u004""#, 7),
                               (#"a = "\U+0000041""#, 6), (#"a = "\u 041""#, 6)] {
            guard let e = parseError(text) else { Issue.record("accepted \(text)"); continue }
            #expect(e.message.contains("needs exactly"), "\(e)")
            #expect(e.column == column, "\(text): \(e)")
        }
        #expect(parseError(#"a = "\uD800""#)?.message.contains("not a Unicode scalar value") == true)
        #expect(parseError(#"a = "\U00110000""#)?.message.contains("not a Unicode scalar value") == true)
        #expect(parseError(#"a = "\e""#)?.message.contains("invalid escape") == true)
        #expect(parseError("a = \"\"\"\\\n \r x\"\"\"") != nil, "a lone CR after a line-ending backslash")
    }

    @Test func errorsCarryColumns() {
        let cases: [(String, Int, Int)] = [
            ("a = 1 b = 2", 1, 7),
            ("a = \"\\q\"", 1, 6),
            ("\tkey", 1, 5),
            ("a = [1, 2 3]", 1, 11),
            ("a = 1\n  a = 2", 2, 3),
            ("[t]\n[t]", 2, 1),
            ("a = {x = 1,}", 1, 12),
            ("a = 01", 1, 5),
            ("a = 9223372036854775808", 1, 5),
        ]
        for (text, line, column) in cases {
            guard let e = parseError(text) else { Issue.record("accepted \(text)"); continue }
            #expect(e.line == line && e.column == column, "\(text.debugDescription): \(e)")
            #expect(e.description.hasPrefix("t.toml:\(line):\(column): "))
        }
        #expect((try? TOML.parse("a = 9223372036854775807\nb = -9223372036854775808")) != nil)
    }

    /// The regression corpus kept from fuzzing (scripts/fuzz-toml) plus hand-written `hostile-*` (must be
    /// rejected) and `edge-valid*` (must parse) inputs: every input parses or fails cleanly.
    @Test func fuzzCorpusParsesOrFailsCleanly() throws {
        let dir = Fixture.packageRoot + "/Tests/MCPBoxCoreTests/Fixtures/toml-corpus"
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(names.count >= 50)
        var accepted = 0
        for name in names {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)))
            do {
                _ = try TOML.parse(bytes: bytes, file: name)
                accepted += 1
                #expect(!name.hasPrefix("hostile-"), "\(name) accepted")
            } catch {
                #expect(error.file == name && error.line >= 1 && error.column >= 1, "\(error)")
                #expect(!name.hasPrefix("edge-valid"), "\(error)")
            }
        }
        #expect(accepted > 0 && accepted < names.count)
    }

    /// Profiles: a size limit where files are read, and parse errors with file, line and column.
    @Test func profileFilesAreBoundedAndValidated() throws {
        let s = Scratch()
        s.write("base.toml", "")
        let big = s.write("big.toml", "description = \"" + String(repeating: "x", count: ProfileLoader.maxFileSize) + "\"\n")
        var errs = Fixture.errors("big", dirs: [s.path])
        #expect(errs.count == 1 && errs.first?.file == big, "\(errs)")
        #expect(errs.first?.message.contains("larger than 1 MiB") == true)
        let bad = s.path + "/utf8.toml"
        #expect(FileManager.default.createFile(atPath: bad, contents: Data("description = \"".utf8 + [0xFF] + "\"\n".utf8)))
        errs = Fixture.errors("utf8", dirs: [s.path])
        #expect(errs.map(\.description) == ["\(bad):1:16: invalid UTF-8 at byte offset 15 (byte 0xff)"], "\(errs)")
        let deep = s.write("deep.toml", "command = " + String(repeating: "[", count: 24_000))
        errs = Fixture.errors("deep", dirs: [s.path])
        #expect(errs.map(\.description) == ["\(deep):1:139: nested too deeply: more than 128 levels of tables, arrays and dotted keys"], "\(errs)")
    }

    /// Long lists and many unknown keys near the size limit: merging and reporting stay linear
    /// (de-duplication used to compare every entry with every other one).
    @Test func largeProfilesLoad() throws {
        let s = Scratch()
        s.write("base.toml", "[env]\npass = [\"P1\"]\nset = { S1 = \"base\" }\n")
        // A list or table holds at most 1024 entries (each is judged against the others); the
        // keys of the file itself are not bounded so (only by its size).
        let n = 15_000, l = 1024
        s.write("long.toml", "[env]\npass = [" + (0..<l).map { "\"P\($0)\"" }.joined(separator: ", ") + "]\n"
                + "set = {" + (0..<l).map { "S\($0) = \"v\"" }.joined(separator: ", ") + "}\n"
                + "[filesystem]\nread_only = [" + (0..<l).map { "\"?/nonexistent/\($0 % (l / 2))\"" }.joined(separator: ", ") + "]\n"
                + "[seccomp]\nallow = [" + String(repeating: "\"read\", ", count: l) + "]\n")
        let profile = try Fixture.loader([s.path]).load("long")
        #expect(profile.envPass.count == l && profile.envSet.count == l)
        #expect(profile.envSet.first?.value.name == "S1" && profile.envSet.first?.value.value == "v")
        #expect(profile.skippedOptional.count == l / 2 && profile.seccompAllow.count == 1)
        s.write("longer.toml", "[env]\npass = [" + (0..<n).map { "\"P\($0)\"" }.joined(separator: ", ") + "]\n")
        #expect(Fixture.errors("longer", dirs: [s.path]).map(\.message) == ["\(n) entries; a list or table holds at most \(l)"])
        s.write("unknown.toml", (0..<n).map { "k\($0) = 1\n" }.joined())
        // Each is judged; the first 1000 are said, then how many more there are.
        let unknown = Fixture.errors("unknown", dirs: [s.path])
        #expect(unknown.count == DiagnosticSink.limit + 1 && unknown.last?.message == "\(n - DiagnosticSink.limit) more errors not shown (the first 1000 are)")
    }

    /// The shipped binary on the inputs that crashed it: an error and exit 1, never a signal.
    @Test func checkSurvivesHostileProfiles() throws {
        let s = Scratch()
        s.write("base.toml", "")
        let inputs = [
            "arrays": "a = " + String(repeating: "[", count: 24_000),
            "inline": "a = " + String(repeating: "{b = ", count: 24_000),
            "dotted": dotted(35_000) + " = 1\n",
            "headers": String(repeating: "[[x]]\n", count: 100_000),
        ]
        for (name, text) in inputs {
            let file = s.write(name + ".toml", text)
            let r = try CLI.run(["check", file])
            #expect(r.status == 1, "\(name): \(r.status) \(r.stderr)")
            #expect(r.stdout.contains(name == "headers" ? "\(file):1: x: unknown key" : "nested too deeply"), "\(r.stdout)")
        }
    }
}
