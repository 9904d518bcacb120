import Foundation
import MCPBoxEvents
@testable import MCPBoxProtocol
import Testing

/// A deterministic generator (SplitMix64), so a failing case can be replayed.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// What the scan must find, read from the full parse.
struct ScanFields: Equatable, CustomStringConvertible {
    var isObject = false
    var id, method, name, cursor, uri, mode, elicitation, action, isError, resultType, errorCode: JSON?
    var hasParams = false, hasResult = false, hasError = false
    /// `params` holds `url` or `elicitationId` (URL-mode elicitation's keys).
    var hasURLElicitationKeys = false
    var argumentKeys: [String]?
    var arguments: JSON?, meta: JSON?

    init(full v: JSON) {
        guard case .object = v else { return }
        isObject = true
        id = v["id"]
        method = v["method"]
        let params = v["params"]
        hasParams = params != nil
        hasResult = v["result"] != nil
        hasError = v["error"] != nil
        name = params?["name"]
        cursor = params?["cursor"]
        uri = params?["uri"]
        mode = params?["mode"]
        if case .object(let pairs)? = params { hasURLElicitationKeys = pairs.contains { $0.0 == "url" || $0.0 == "elicitationId" } }
        elicitation = params?["capabilities"]?["elicitation"]
        arguments = params?["arguments"]
        if case .object(let pairs)? = arguments { argumentKeys = pairs.map(\.0) }
        meta = params?["_meta"]
        action = v["result"]?["action"]
        isError = v["result"]?["isError"]
        resultType = v["result"]?["resultType"]
        errorCode = v["error"]?["code"]
    }

    init(scan s: MessageScan, line: [UInt8]) {
        isObject = s.isObject
        id = s.id
        method = s.method
        hasParams = s.hasParams
        hasResult = s.hasResult
        hasError = s.hasError
        name = s.name
        cursor = s.cursor
        uri = s.uri
        mode = s.mode
        hasURLElicitationKeys = s.hasURLElicitationKeys
        elicitation = s.elicitation
        argumentKeys = s.argumentKeys
        arguments = s.arguments.flatMap { try? JSON.parse(Array(line[$0])) }
        meta = s.meta.flatMap { try? JSON.parse(Array(line[$0])) }
        action = s.action
        isError = s.isError
        resultType = s.resultType
        errorCode = s.errorCode
    }

    var description: String {
        "object \(isObject) id \(String(describing: id)) method \(String(describing: method)) name \(String(describing: name)) "
            + "keys \(String(describing: argumentKeys)) isError \(String(describing: isError)) code \(String(describing: errorCode))"
    }
}

/// Random JSON-RPC-like lines: the members the scan reads, others around them, values of every
/// kind (escapes, non-ASCII, numbers, nesting), random whitespace.
struct MessageGenerator {
    var rng: SeededRandom

    mutating func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &rng)] }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }

    mutating func space() -> String { chance(0.8) ? "" : pick([" ", "\t", "\r\n ", "  "]) }

    mutating func string() -> String {
        let pieces = ["a", "git_status", "tools/call", "é", "日本", "😀", "\\n", "\\\"", "\\\\", "\\/", "\\u0041", "\\u00e9",
                      "\\ud83d\\ude00", "\\t", " ", "x y", "0123456789abcdef", "name", "\\u0000"]
        var s = "\""
        for _ in 0..<Int.random(in: 0...4, using: &rng) { s += pick(pieces) }
        if chance(0.05) { s += String(repeating: "z", count: Int.random(in: 8...300, using: &rng)) }
        return s + "\""
    }

    mutating func key() -> String {
        chance(0.6) ? "\"" + pick(["id", "method", "params", "result", "error", "name", "arguments", "cursor", "uri",
                                   "capabilities", "elicitation", "action", "isError", "code", "_meta", "jsonrpc",
                                   "\\u006dethod", "na\\u006de", "other", "data", "content", "mode", "url", "elicitationId",
                                   "\\u0075rl"]) + "\"" : string()
    }

    mutating func scalar() -> String {
        pick(["null", "true", "false", "0", "-0", "1", "-12", "3.25", "1e5", "2E-3", "-0.5e+7", "12345678901234567890",
              "NaN", "Infinity", "-Infinity", string(), string()])
    }

    mutating func value(depth: Int) -> String {
        guard depth < 6, chance(0.45) else { return scalar() }
        if chance(0.5) {
            let n = Int.random(in: 0...4, using: &rng)
            return "[" + space() + (0..<n).map { _ in value(depth: depth + 1) }.joined(separator: space() + "," + space()) + space() + "]"
        }
        return object(depth: depth + 1)
    }

    mutating func object(depth: Int) -> String {
        var keys: [String] = []
        for _ in 0..<Int.random(in: 0...6, using: &rng) {
            let k = key()
            if !keys.contains(k) || chance(0.02) { keys.append(k) }
        }
        return "{" + space() + keys.map { $0 + space() + ":" + space() + value(depth: depth) }.joined(separator: space() + "," + space())
            + space() + "}"
    }

    /// A message-shaped line: the tracked members, often objects, in a random order.
    mutating func message() -> String {
        var members: [String] = []
        if chance(0.8) { members.append("\"jsonrpc\":\"2.0\"") }
        if chance(0.7) { members.append("\"id\":" + pick(["1", "\"a\"", "null", "-3", "1.5", value(depth: 3)])) }
        if chance(0.7) { members.append("\"method\":" + pick(["\"tools/call\"", "\"tools/list\"", "\"initialize\"", "\"ping\"", scalar()])) }
        if chance(0.6) {
            var p: [String] = []
            if chance(0.6) { p.append("\"name\":" + (chance(0.8) ? string() : value(depth: 3))) }
            if chance(0.5) { p.append("\"arguments\":" + (chance(0.8) ? object(depth: 3) : value(depth: 3))) }
            if chance(0.2) { p.append("\"cursor\":" + value(depth: 3)) }
            if chance(0.2) { p.append("\"uri\":" + string()) }
            if chance(0.2) { p.append("\"mode\":" + string()) }
            if chance(0.2) { p.append("\"capabilities\":{\"elicitation\":" + value(depth: 4) + ",\"roots\":{}}") }
            if chance(0.2) { p.append("\"_meta\":" + object(depth: 3)) }
            if chance(0.3) { p.append(key() + ":" + value(depth: 3)) }
            p.shuffle(using: &rng)
            members.append("\"params\":" + (chance(0.9) ? "{" + p.joined(separator: ",") + "}" : value(depth: 2)))
        }
        if chance(0.3) {
            var r = ["\"content\":" + value(depth: 3)]
            if chance(0.5) { r.append("\"isError\":" + pick(["true", "false", scalar()])) }
            if chance(0.3) { r.append("\"action\":" + pick(["\"accept\"", "\"decline\"", scalar()])) }
            if chance(0.2) { r.append("\"resultType\":" + pick(["\"input_required\"", "\"input\\u005frequired\"", scalar()])) }
            r.shuffle(using: &rng)
            members.append("\"result\":" + (chance(0.9) ? "{" + r.joined(separator: ",") + "}" : value(depth: 2)))
        }
        if chance(0.2) { members.append("\"error\":{\"code\":" + scalar() + ",\"message\":" + string() + "}") }
        if chance(0.3) { members.append(key() + ":" + value(depth: 2)) }
        members.shuffle(using: &rng)
        return space() + "{" + space() + members.joined(separator: space() + "," + space()) + space() + "}" + space()
    }

    /// A line damaged at a random point: truncated, a byte replaced, inserted or removed.
    mutating func damage(_ line: [UInt8]) -> [UInt8] {
        guard !line.isEmpty else { return [0x7b] }
        var b = line
        let at = Int.random(in: 0..<b.count, using: &rng)
        let junk: [UInt8] = [0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x00, 0x1f, 0x80, 0xc0, 0xed, 0xf4, 0xff, 0x30, 0x6e]
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: b.removeSubrange(at...)
        case 1: b[at] = pick(junk)
        case 2: b.insert(pick(junk), at: at)
        default: b.remove(at: at)
        }
        return b
    }
}

@Suite("MessageScan: one pass, the same fields as the full parse")
struct MessageScanTests {
    /// The property: what the full parse accepts, the scan accepts with the same members; what
    /// the scan refuses, the full parse refuses.
    @discardableResult
    static func check(_ line: [UInt8], _ note: @autoclosure () -> String = "") -> Bool {
        let scan = MessageScan(line)
        switch Result(catching: { () throws(JSONError) -> JSON in try JSON.parse(line) }) {
        case .success(let full):
            #expect(scan.error == nil, "scan refused what the parser accepts: \(String(decoding: line, as: UTF8.self)) \(note())")
            if scan.error == nil {
                #expect(ScanFields(scan: scan, line: line) == ScanFields(full: full), "\(String(decoding: line, as: UTF8.self))")
            }
            return true
        case .failure:
            if scan.error == nil {
                // Accepted by the scan only for a duplicate key inside a value it skips: the
                // projection of the members it builds (same grammar and limits, no duplicate
                // check in skipped values) accepts the line too.
                #expect((try? JSON.parse(line, keeping: Self.built)) != nil,
                        "scan accepted what the parser refuses: \(String(decoding: line, as: UTF8.self))")
            }
            return false
        }
    }

    static let built = JSONProjection(["id", "method", "params.name", "params.cursor", "params.uri", "params.mode",
                                       "params.capabilities.elicitation", "result.action", "result.isError", "result.resultType", "error.code"])

    @Test("generated JSON-RPC lines, and damaged copies of them")
    func generated() {
        var g = MessageGenerator(rng: SeededRandom(state: 0x6d63_7062_6f78))
        var valid = 0, damagedInvalid = 0
        for n in 0..<6000 {
            let line = Array(g.message().utf8)
            if Self.check(line, "case \(n)") { valid += 1 }
            if !Self.check(g.damage(line), "damaged case \(n)") { damagedInvalid += 1 }
        }
        // Both sides of the property are exercised.
        #expect(valid > 3000 && damagedInvalid > 3000, "\(valid) valid, \(damagedInvalid) damaged invalid")
    }

    @Test("edge cases: escapes in keys, duplicates, depth, UTF-8, numbers, literals, not JSON")
    func edgeCases() {
        let deep = String(repeating: "[", count: JSON.maxDepth) + String(repeating: "]", count: JSON.maxDepth)
        let tooDeep = String(repeating: "[", count: JSON.maxDepth + 1) + String(repeating: "]", count: JSON.maxDepth + 1)
        let cases: [String] = [
            "", " ", "{}", "[]", "[1]", "\"s\"", "1", "null", "nul", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]",
            #"{"\u006dethod":"tools/call","params":{"na\u006de":"git_status"}}"#,
            #"{"method":"a","method":"b"}"#, #"{"method":"a","\u006dethod":"b"}"#,
            #"{"params":{"name":"git_status","name":"git_commit"}}"#,
            #"{"params":{"arguments":{"a":1,"a":2}}}"#,
            #"{"params":{"arguments":{"a":{"b":1,"b":2}}}}"#,
            #"{"id":{"x":1,"x":2},"method":"m"}"#,
            #"{"method":"tools/call","params":{"name":"t","arguments":{}}}"#,
            #"{"method":"tools/call","params":{"name":"t","arguments":[1,2]}}"#,
            #"{"method":"tools/call","params":[]}"#, #"{"params":null}"#, #"{"result":{"isError":true}}"#,
            #"{"error":{"code":-32602.0}}"#, #"{"error":"x"}"#, #"{"id":NaN}"#, #"{"id":-Infinity}"#, #"{"id":-Inf}"#,
            #"{"id":01}"#, #"{"id":1.}"#, #"{"id":1e}"#, #"{"id":-}"#, #"{"id":"\ud800"}"#, #"{"id":"\udc00"}"#,
            #"{"id":"\ud83d\ude00"}"#, #"{"x":"\ud83d\u0041"}"#, #"{"x":"\q"}"#, #"{"x":"\u12G4"}"#, #"{"x":"a\"#,
            "{\"x\":\"tab\there\"}", "{\"x\":\"\u{7f}\"}", #"{"x":"abcdefghijklmnopqrstuvwxyz\"abcdefgh"}"#,
            "{\"x\":[" + deep + "]}", deep, tooDeep, "{\"params\":{\"arguments\":{\"k\":" + deep + "}}}",
            "{\"a\":" + String(repeating: "{\"a\":", count: JSON.maxDepth - 1) + "1" + String(repeating: "}", count: JSON.maxDepth) ,
            "{\"a\":" + String(repeating: "{\"a\":", count: JSON.maxDepth) + "1" + String(repeating: "}", count: JSON.maxDepth + 1),
            "{} x", "{}{}", "\u{FEFF}{}", "\t{\"id\":1}\r",
        ]
        for c in cases { Self.check(Array(c.utf8)) }
        // Raw bytes: bad UTF-8 inside strings (overlong, surrogate, past U+10FFFF, truncated), at
        // every offset of an 8-byte word.
        let bad: [[UInt8]] = [[0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80],
                              [0xf5, 0x80, 0x80, 0x80], [0xc3], [0xe2, 0x82], [0x80], [0xff], [0xf0, 0x9f, 0x98]]
        let good: [[UInt8]] = [[0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xed, 0x9f, 0xbf], [0xf4, 0x8f, 0xbf, 0xbf]]
        for seq in bad + good {
            for pad in 0..<9 {
                let text = Array(#"{"method":"x","params":{"name":""#.utf8) + Array(repeating: 0x61, count: pad) + seq
                    + Array(#"","other":""#.utf8) + Array(repeating: 0x62, count: pad) + seq + Array(#""}}"#.utf8)
                Self.check(text)
            }
        }
        for c in 0..<0x20 { Self.check(Array(#"{"a":"xxxxxxxx"#.utf8) + [UInt8(c)] + Array(#"xxxxxxxx"}"#.utf8)) }
        #expect(MessageScan(Array(tooDeep.utf8)).error == .tooDeep)
        #expect(MessageScan(Array(deep.utf8)).error == nil)
    }

    @Test("a 16 MiB line: the members around a big value are found")
    func bigLine() throws {
        let big = String(repeating: "abcdefghijklmnopqrstuvwxyz0123456789", count: (16 << 20) / 36)
        let line = Array((#"{"jsonrpc":"2.0","params":{"arguments":{"data":""# + big + #"","n":1},"name":"git_status"},"id":7,"method":"tools/call"}"#).utf8)
        let scan = MessageScan(line)
        #expect(scan.error == nil && scan.id == .number("7") && scan.methodName == "tools/call")
        #expect(scan.name == .string("git_status") && scan.argumentKeys == ["data", "n"])
        var broken = line
        broken[line.count / 2] = 0x0a
        #expect(MessageScan(broken).error == .syntax(line.count / 2))
    }
}

@Suite("MCP layer: lines split across reads, big lines, lines that are not JSON (one scan)")
struct MessageScanFilterTests {
    static let policy = MCPPolicy(tools: NamePolicy(allow: ["git_status", "git_log*"], deny: ["*commit*"]))

    /// Feeds `lines` through an audited filter in pieces of `chunk` bytes; returns both queues and the records.
    static func run(_ lines: [(Int, String)], chunk: Int) throws -> (String, String, [String]) {
        let s = try AuditedSession(policy)
        var out = ["", ""]
        for (dir, text) in lines {
            s.driver.feed(dir, text, chunk: chunk)
            out[0] += s.driver.take(0)
            out[1] += s.driver.take(1)
        }
        s.trail.finish(fields: [])
        let records = try String(contentsOfFile: s.path, encoding: .utf8).split(separator: "\n").map {
            // Times and the hash chain differ run to run.
            String($0).replacingOccurrences(of: #""(time|hash|prev|duration_us)":("[^"]*"|[0-9]+|null)"#, with: "", options: .regularExpression)
        }
        return (out[0], out[1], records)
    }

    @Test("every split of a session's lines relays and records exactly what one read does")
    func splits() throws {
        let lines: [(Int, String)] = [
            (0, #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"git_status","arguments":{"repo_path":"/r","é":"\u00e9"}}}"# + "\n"),
            (0, #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"git_commit","arguments":{"message":"m"}}}"# + "\n"),
            (1, #"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok \"q\" 😀"}],"isError":true}}"# + "\n"),
            (0, "not json\n"), (1, "a log line from the server\n"), (1, "{\"broken\":\n"),
            (0, #"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}"# + "\r\n"),
        ]
        let whole = try Self.run(lines, chunk: Int.max)
        #expect(whole.0.contains("git_status") && !whole.0.contains("git_commit"))
        #expect(whole.1.contains("-32602") && whole.1.contains("-32700") && whole.1.contains("a log line"))
        #expect(whole.2.contains { $0.contains(#""argument_keys":["repo_path","é"]"#) && $0.contains(#""outcome":"isError""#) })
        #expect(whole.2.filter { $0.contains("mcp.violation") }.count == 3)
        for chunk in [1, 2, 3, 7, 8, 9, 64] {
            let split = try Self.run(lines, chunk: chunk)
            #expect(split.0 == whole.0 && split.1 == whole.1, "chunk \(chunk)")
            #expect(split.2 == whole.2, "chunk \(chunk)")
        }
    }

    @Test("a 16 MiB message passes byte-identical in both directions, its record counts its bytes")
    func sixteenMiB() throws {
        let s = try AuditedSession(Self.policy)
        let head = #"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":""#
        let tail = "\"}}\n"
        let line = head + String(repeating: "x", count: (16 << 20) - head.utf8.count - tail.utf8.count + 1) + tail
        #expect(line.utf8.count - 1 == s.driver.filter.policy.maxMessage)
        for dir in 0...1 {
            #expect(s.driver.feed(dir, line, chunk: 65536))
            // Streamed: what was passed on before the verdict, then the held-back end from the spool.
            #expect(String(decoding: s.driver.takeBytes(dir), as: UTF8.self) == line)
        }
        let r = try s.records()
        #expect(r.count == 2 && r.allSatisfy { $0["kind"] as? String == "mcp.notification" && $0["request_bytes"] as? Int == (16 << 20) + 1 })
        #expect(s.trail.violations == 0 && s.driver.filter.droppedLines == 0)
    }
}
