import Foundation
@testable import MCPBoxProtocol
import Testing

/// `IncrementalScan` (a streamed line scanned as it arrives) against `MessageScan` on the whole
/// line: the same members and the same class of error, whatever the pieces.
@Suite("IncrementalScan: fed in pieces, the same result as MessageScan on the whole line")
struct IncrementalScanTests {
    /// The class of an error (offsets may differ: the incremental scan reports where it stopped).
    static func errorClass(_ e: JSONError?) -> String {
        switch e {
        case nil: "none"
        case .syntax?: "syntax"
        case .tooDeep?: "tooDeep"
        case .lineBreak?: "lineBreak"
        }
    }

    /// What `MCPFilter.line` decides from: the scan of the body (its last CR left out) and the
    /// first CR after its first significant byte.
    static func whole(_ line: [UInt8]) -> (MessageScan, Int?) {
        var body = line[...]
        if body.last == 0x0d { body = body.dropLast() }
        let bytes = Array(body)
        let scan = MessageScan(bytes)
        let cr = bytes.withUnsafeBytes { b -> Int? in
            guard let first = b.firstIndex(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0d && $0 != 0x0a }) else { return nil }
            return MCPFilter.firstCR(b, from: first, mapped: false)
        }
        return (scan, cr)
    }

    /// Feeds `line` cut at `cuts` (sorted offsets) and compares with the whole line's scan.
    @discardableResult
    static func check(_ line: [UInt8], cuts: [Int], _ note: @autoclosure () -> String = "") -> Bool {
        let (expected, cr) = whole(line)
        var inc = IncrementalScan()
        line.withUnsafeBytes { b in
            var from = 0
            for at in cuts + [line.count] where at >= from {
                inc.feed(UnsafeRawBufferPointer(rebasing: b[from..<at]))
                from = at
            }
        }
        let got = inc.finish()
        let text = String(decoding: line.prefix(300), as: UTF8.self)
        #expect(!inc.overflow, "\(text) \(note())")
        #expect(errorClass(got.error) == errorClass(expected.error), "\(text) cuts \(cuts) \(note()): \(String(describing: got.error)) vs \(String(describing: expected.error))")
        #expect(ScanFields(scan: got, line: line) == ScanFields(scan: expected, line: line), "\(text) cuts \(cuts) \(note())")
        #expect(got.arguments == expected.arguments && got.meta == expected.meta, "\(text) \(note())")
        if expected.error == nil {
            #expect(inc.firstCR == cr, "\(text) \(note())")
        }
        return expected.error == nil
    }

    static func randomCuts(_ count: Int, _ rng: inout SeededRandom) -> [Int] {
        guard count > 1 else { return [] }
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: return Array(1..<count)   // every byte alone
        case 1: return []
        default: return (0..<Int.random(in: 1...8, using: &rng)).map { _ in Int.random(in: 0..<count, using: &rng) }.sorted()
        }
    }

    @Test("generated JSON-RPC lines and damaged copies, at random split points")
    func generated() {
        var g = MessageGenerator(rng: SeededRandom(state: 0x696e_6372))
        var rng = SeededRandom(state: 42)
        var valid = 0, invalid = 0
        for n in 0..<5000 {
            let line = Array(g.message().utf8)
            if Self.check(line, cuts: Self.randomCuts(line.count, &rng), "case \(n)") { valid += 1 }
            let damaged = g.damage(line)
            if !Self.check(damaged, cuts: Self.randomCuts(damaged.count, &rng), "damaged \(n)") { invalid += 1 }
        }
        #expect(valid > 2500 && invalid > 2500, "\(valid) valid, \(invalid) invalid")
    }

    @Test("duplicate keys at every level the scan reads, in built values and in skipped ones, split anywhere")
    func duplicates() {
        let cases = [
            #"{"id":1,"method":"m","id":2}"#, #"{"method":"a","\u006dethod":"b"}"#,
            #"{"params":{"name":"a","arguments":{"x":1},"name":"b"}}"#,
            #"{"params":{"arguments":{"a":1,"a":2}}}"#, #"{"params":{"arguments":{"a":{"b":1,"b":2}}}}"#,
            #"{"params":{"capabilities":{"elicitation":{},"elicitation":{"url":{}}}}}"#,
            #"{"params":{"capabilities":{"elicitation":{"form":{},"form":1}}}}"#,
            #"{"result":{"isError":false,"isError":true}}"#, #"{"error":{"code":1,"code":2}}"#,
            #"{"id":{"x":1,"x":2},"method":"m"}"#, #"{"id":[{"x":1,"x":2}],"method":"m"}"#,
            #"{"params":{"_meta":{"a":1,"a":2}}}"#, #"{"other":{"a":1,"a":2}}"#, #"[{"a":1,"a":2}]"#,
            #"{"params":{"name":"x"},"params":{"name":"y"}}"#, #"{"params":{"mode":"form","mode":"url"}}"#,
            #"{"id":{"a":1,"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}"#,
        ]
        for c in cases {
            let line = Array(c.utf8)
            for at in 0...line.count { Self.check(line, cuts: [at]) }
            Self.check(line, cuts: Array(1..<line.count))
        }
    }

    @Test("keys in another case than a judged member's (ConfusableKeys), refused where the scan judges and only there, split anywhere")
    func confusableKeys() {
        let refused = [
            #"{"ID":1,"method":"m"}"#, #"{"Method":"m"}"#, #"{"params":{"Name":"a"}}"#, #"{"params":{"MODE":"url"}}"#,
            #"{"params":{"capabilities":{"Sampling":{}}}}"#, #"{"params":{"capabilities":{"elicitation":{"URL":{}}}}}"#,
            #"{"result":{"Tools":[]}}"#, #"{"result":{"Instructions":"x"}}"#, #"{"error":{"cODE":1}}"#,
            #"{"reſult":{}}"#, #"{"params":{"capabilities":{"\u017Fampling":{}}}}"#, #"{"params":{"ıd":1,"İd":1}}"#,
        ]
        let accepted = [
            #"{"params":{"arguments":{"Name":1,"URL":2}}}"#, #"{"other":{"Tools":1}}"#, #"{"params":{"_meta":{"Name":1}}}"#,
            #"{"id":{"Method":1},"method":"m"}"#, #"{"result":{"tools":[{"Name":1}]}}"#, #"{"params":{"Kind":1,"names":2}}"#,
        ]
        for c in refused + accepted {
            let line = Array(c.utf8)
            #expect((MessageScan(line).error != nil) == refused.contains(c), "\(c)")
            for at in 0...line.count { Self.check(line, cuts: [at]) }
        }
    }

    @Test("edge cases: depth, UTF-8, numbers, literals, CR and control bytes, scalars; every single split")
    func edgeCases() {
        let deep = String(repeating: "[", count: JSON.maxDepth) + String(repeating: "]", count: JSON.maxDepth)
        let tooDeep = String(repeating: "[", count: JSON.maxDepth + 1) + String(repeating: "]", count: JSON.maxDepth + 1)
        let deepObject = "{\"a\":" + String(repeating: "{\"a\":", count: JSON.maxDepth - 1) + "1" + String(repeating: "}", count: JSON.maxDepth)
        let tooDeepObject = "{\"a\":" + String(repeating: "{\"a\":", count: JSON.maxDepth) + "1" + String(repeating: "}", count: JSON.maxDepth + 1)
        var cases: [String] = [
            "", " ", "\r", "{}", "{}\r", "{}\r\r", "{\r}", "\r{}", " \r {\"a\":1}", "{\"a\":1}\r ", "{\"a\":1} \r",
            "[]", "[1]", "\"s\"", "1", "-0", "1.5e+3", "-Infinity", "NaN", "null", "nul", "tru", "{", "}",
            "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "{\"a\":1]", "[1}", "{} x", "{}{}", "\u{FEFF}{}", "\t{\"id\":1}\r",
            #"{"id":NaN}"#, #"{"id":-Infinity}"#, #"{"id":-Inf}"#, #"{"id":-Infinityx}"#, #"{"id":01}"#, #"{"id":1.}"#,
            #"{"id":1e}"#, #"{"id":1e+}"#, #"{"id":-}"#, #"{"id":0.5E-07}"#, #"{"id":12345678901234567890123}"#,
            #"{"id":"\ud800"}"#, #"{"id":"\udc00"}"#, #"{"id":"\ud83d\ude00"}"#, #"{"x":"\ud83d\u0041"}"#,
            #"{"x":"\ud83dx"}"#, #"{"x":"\ud83d\x"}"#, #"{"x":"\q"}"#, #"{"x":"\u12G4"}"#, #"{"x":"a\"#,
            "{\"x\":\"tab\there\"}", "{\"x\":\"\u{7f}\"}", #"{"x":"abcdefghijklmnopqrstuvwxyz\"abcdefgh"}"#,
            #"{"method":"tools/call","params":{"name":"t","arguments":{}}}"#,
            #"{"method":"tools/call","params":{"name":"t","arguments":[1,{"a":2}]}}"#,
            #"{"method":"tools/call","params":[]}"#, #"{"params":null}"#, #"{"result":{"isError":true}}"#,
            #"{"error":{"code":-32602.0}}"#, #"{"error":"x"}"#, #"{"params":{"_meta":[1,2],"arguments":"s"}}"#,
            #"{"params":{"capabilities":{"elicitation":{"form":{},"url":{}}}},"method":"initialize","id":0}"#,
            #"{"result":{"action":"accept","resultType":"input\u005frequired","content":{"action":1}}}"#,
            "{\"a\":1,\r\"b\":2}", "{\"a\":\"x\ry\"}", "{\"a\":1}\u{0b}", "{\"a\":\u{0c}1}",
            "{\"x\":[" + deep + "]}", deep, tooDeep, deepObject, tooDeepObject,
            "{\"params\":{\"arguments\":{\"k\":" + deep + "}}}", "{\"id\":" + deep + "}",
        ]
        cases.append("{\"params\":{\"arguments\":{\"k\":" + tooDeep + "}}}")
        var lines = cases.map { Array($0.utf8) }
        let bad: [[UInt8]] = [[0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80],
                              [0xf5, 0x80, 0x80, 0x80], [0xc3], [0xe2, 0x82], [0x80], [0xff], [0xf0, 0x9f, 0x98]]
        let good: [[UInt8]] = [[0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xed, 0x9f, 0xbf], [0xf4, 0x8f, 0xbf, 0xbf]]
        for seq in bad + good {
            for pad in [0, 3, 8, 31, 33] {
                lines.append(Array(#"{"method":"x","params":{"name":""#.utf8) + Array(repeating: 0x61, count: pad) + seq
                    + Array(#"","other":""#.utf8) + Array(repeating: 0x62, count: pad) + seq + Array(#""}}"#.utf8))
                // Outside strings too.
                lines.append(Array(#"{"id":1,"#.utf8) + seq + Array(#""a":1}"#.utf8))
            }
        }
        for c in 0..<0x20 where c != 0x0a {
            lines.append(Array(#"{"a":"xxxxxxxx"#.utf8) + [UInt8(c)] + Array(#"xxxxxxxx"}"#.utf8))
            lines.append(Array(#"{"a":1,"#.utf8) + [UInt8(c)] + Array(#""b":2}"#.utf8))
        }
        for line in lines {
            for at in 0...line.count { Self.check(line, cuts: [at]) }
            Self.check(line, cuts: Array(1..<max(1, line.count)))
        }
        var inc = IncrementalScan()
        Array(tooDeep.utf8).withUnsafeBytes { inc.feed($0) }
        #expect(inc.finish().error == .tooDeep)
    }

    @Test("the corpus the filter tests replay, line by line, at random split points")
    func corpus() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")
        var rng = SeededRandom(state: 7)
        var lines = 0
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path) where file.hasSuffix(".json") {
            let data = try Data(contentsOf: dir.appendingPathComponent(file))
            for line in Array(data).split(separator: 0x0a, omittingEmptySubsequences: false) {
                let bytes = Array(line)
                for _ in 0..<4 { Self.check(bytes, cuts: Self.randomCuts(bytes.count, &rng), file) }
                lines += 1
            }
        }
        #expect(lines > 20)
    }

    @Test("random bytes from JSON's alphabet, at random split points (fuzz)")
    func randomBytes() {
        var rng = SeededRandom(state: 0xf022)
        let alphabet = Array(#"{}[]:,"\ -+.eE0123456789tnfalsrueNIiyu"#.utf8) + [0x0d, 0x09, 0x00, 0x1f, 0x80, 0xc3, 0xa9, 0xed, 0xff]
        let prefixes = [#"{"id":1,"method":"tools/call","params":{"name":"#, #"{"params":{"arguments":{"#, #"{"result":{"#, ""]
        for _ in 0..<20000 {
            var line = Array(prefixes[Int.random(in: 0..<prefixes.count, using: &rng)].utf8)
            for _ in 0..<Int.random(in: 0...40, using: &rng) { line.append(alphabet[Int.random(in: 0..<alphabet.count, using: &rng)]) }
            Self.check(line, cuts: Self.randomCuts(line.count, &rng))
        }
    }

    @Test("a key or built value longer than the capture limit stops the scan: it fails closed, never buffers on")
    func captureLimit() {
        for line in [#"{"method":""# + String(repeating: "m", count: IncrementalScan.captureLimit) + #""}"#,
                     #"{"params":{"arguments":{""# + String(repeating: "k", count: IncrementalScan.captureLimit) + #"":1}}}"#] {
            var inc = IncrementalScan()
            Array(line.utf8).withUnsafeBytes { b in
                for at in stride(from: 0, to: b.count, by: 4096) { inc.feed(UnsafeRawBufferPointer(rebasing: b[at..<min(b.count, at + 4096)])) }
            }
            let scan = inc.finish()
            #expect(inc.overflow && scan.error != nil && scan.method == nil)
        }
        // A big value the scan skips is no capture.
        var inc = IncrementalScan()
        let line = #"{"method":"m","params":{"arguments":{"k":""# + String(repeating: "v", count: 1 << 20) + #""}}}"#
        Array(line.utf8).withUnsafeBytes { inc.feed($0) }
        let scan = inc.finish()
        #expect(!inc.overflow && scan.error == nil && scan.argumentKeys == ["k"])
    }
}
