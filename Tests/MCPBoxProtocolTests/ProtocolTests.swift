import Foundation
import MCPBoxProtocol
import Testing

@Suite("JSON parser")
struct JSONParserTests {
    @Test func roundTripsExactly() throws {
        let text = #"{"b":[1,-0.5e+10,true,false,null,"x\"\\\n\u0001é😀"],"a":{},"c":[]}"#
        let v = try JSON.parse(text)
        #expect(v.serialized == #"{"b":[1,-0.5e+10,true,false,null,"x\"\\\n\u0001é😀"],"a":{},"c":[]}"#)
        #expect(try JSON.parse(v.serialized) == v)
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        #expect(try JSON.parse(#""\ud83d\ude00\u00e9\/""#) == .string("😀é/"))
    }

    @Test(arguments: [#"{"a":1,"a":2}"#, #""\ud800""#, #""\udc00x""#, "[1,2,]", "{\"a\" 1}", "01", "1.", "-", "\"\u{1}\"", "tru", "[", ""])
    func refusesInvalid(_ text: String) {
        #expect(throws: JSONError.self) { try JSON.parse(text) }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: JSONError.self) { try JSON.parse([0x22, 0xff, 0xfe, 0x22]) }
    }

    @Test func acceptsPythonsNonFiniteNumbers() throws {
        #expect(try JSON.parse("[NaN,Infinity,-Infinity]") == .array([.number("NaN"), .number("Infinity"), .number("-Infinity")]))
    }

    @Test func boundsDepthInBothModes() throws {
        let ok = String(repeating: "[", count: JSON.maxDepth) + String(repeating: "]", count: JSON.maxDepth)
        _ = try JSON.parse(ok)
        let deep = "[" + ok + "]"
        #expect(throws: JSONError.tooDeep) { try JSON.parse(deep) }
        let wrapped = Array(("{\"id\":1,\"x\":" + deep + "}").utf8)
        #expect(throws: JSONError.tooDeep) { try JSON.parse(wrapped, keeping: JSONProjection(["id"])) }
    }

    @Test func projectionBuildsOnlyKeptMembers() throws {
        let text = Array(#"{"id":7,"method":"tools/call","params":{"name":"n","arguments":{"k":[1,{"q":"\n"}]}},"big":"x"}"#.utf8)
        let v = try JSON.parse(text, keeping: JSONProjection(["id", "method", "params.name"]))
        #expect(v["id"] == .number("7"))
        #expect(v["method"] == .string("tools/call"))
        #expect(v["params"]?["name"] == .string("n"))
        #expect(v["params"]?["arguments"] == .null)
        #expect(v["big"] == .null)
    }

    @Test func projectionValidatesSkippedValues() {
        let invalidUTF8: [UInt8] = Array(#"{"id":1,"x":""#.utf8) + [0xff] + Array(#""}"#.utf8)
        for bytes in [#"{"id":1,"x":[1,]}"#, #"{"id":1,"x":"\q"}"#, #"{"id":1,"x":{"a" 1}}"#, #"{"id":1,"x":[[]"#].map({ Array($0.utf8) }) + [invalidUTF8] {
            #expect(throws: JSONError.self) { try JSON.parse(bytes, keeping: JSONProjection(["id"])) }
        }
    }

    /// Every file of the fuzzing corpus (scripts/fuzz-mcp) replays: whole and projected parses
    /// agree, serialization round-trips, and the filter takes it in both directions.
    @Test func corpusReplays() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(files.count >= 10)
        for f in files {
            let data = [UInt8](try Data(contentsOf: dir.appendingPathComponent(f)))
            if let v = try? JSON.parse(data) {
                let p = try JSON.parse(data, keeping: JSONProjection(["id", "method", "params.name"]))
                #expect(p["id"] == v["id"] && p["method"] == v["method"], "\(f)")
                #expect(try JSON.parse(v.serialized) == v, "\(f)")
            }
            let filter = MCPFilter(policy: MCPPolicy(tools: NamePolicy(allow: ["git_*"], deny: ["*commit*"]), maxMessage: 4096), say: { _ in })
            for dir in 0...1 {
                data.withUnsafeBytes { b in
                    _ = filter.input(dir, b)
                    _ = filter.input(dir, UnsafeRawBufferPointer(start: nil, count: 0))
                }
            }
        }
    }
}

/// Drives an MCPFilter the way the C relay does.
final class FilterDriver {
    let filter: MCPFilter

    init(_ policy: MCPPolicy) {
        let box = Box()
        filter = MCPFilter(policy: policy, say: { box.lines.append($0) })
        self.box = box
    }

    final class Box: @unchecked Sendable { var lines: [String] = [] }
    let box: Box

    /// Feeds `text` in `dir`, in pieces of `chunk` bytes; returns false if the filter ended the session.
    @discardableResult
    func feed(_ dir: Int, _ text: String, chunk: Int = Int.max) -> Bool {
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            let j = min(bytes.count, i + chunk)
            let ok = bytes[i..<j].withUnsafeBytes { filter.input(dir, $0) }
            if !ok { return false }
            i = j
        }
        return true
    }

    /// Takes what the filter queued for dir's destination (0: the server, 1: the client), as the
    /// C relay writes it: memory bytes, and spooled lines read from their file (`pendingFile`).
    /// One `pending` offer, as one write would take it.
    func take(_ dir: Int) -> String {
        String(decoding: takeBytes(dir, once: true), as: UTF8.self)
    }

    /// Everything queued, `step` bytes per write at most.
    func takeBytes(_ dir: Int, step: Int = Int.max, once: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let (p, n) = filter.pending(dir)
            if n == 0 { return out }
            let m = min(n, step)
            if let p {
                out += UnsafeBufferPointer(start: p, count: m)
            } else {
                let (fd, offset) = filter.pendingFile(dir)
                var chunk = [UInt8](repeating: 0, count: m)
                let got = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, m, off_t(offset)) }
                precondition(got == m, "pread of a spooled line: \(got) of \(m)")
                out += chunk
            }
            filter.consumed(dir, m)
            if once { return out }
        }
    }
}

@Suite("MCP filter")
struct MCPFilterTests {
    static let gitPolicy = MCPPolicy(tools: NamePolicy(allow: ["git_status", "git_log*"], deny: ["*commit*"]))

    @Test func namePolicyDenyWinsAndEmptyAllowIsNothing() {
        let p = NamePolicy(allow: ["git_*"], deny: ["*commit*"])
        #expect(p.permits("git_status"))
        #expect(!p.permits("git_commit"))
        #expect(!p.permits("read_file"))
        #expect(p.refusal("git_commit") == "deny \"*commit*\"")
        #expect(p.refusal("read_file") == "not in allow")
        #expect(!NamePolicy(allow: [], deny: []).permits("anything"))
        #expect(NamePolicy(allow: nil, deny: []).permits("anything"))
        #expect(!NamePolicy(allow: nil, deny: ["a*"]).permits("abc"))
    }

    @Test func deniedCallIsAnsweredLocallyAndNeverForwarded() {
        let d = FilterDriver(Self.gitPolicy)
        d.feed(0, #"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"git_commit","arguments":{"message":"m"}}}"# + "\n")
        #expect(d.take(0) == "")
        #expect(d.take(1) == #"{"jsonrpc":"2.0","id":5,"error":{"code":-32602,"message":"Unknown tool: git_commit"}}"# + "\n")
        d.feed(0, #"{"jsonrpc":"2.0","id":"s","method":"tools/call","params":{"name":"other"}}"# + "\n")
        #expect(d.take(1) == #"{"jsonrpc":"2.0","id":"s","error":{"code":-32602,"message":"Unknown tool: other"}}"# + "\n")
        #expect(d.take(0) == "")
    }

    /// Found running real servers: a refused call was answered "Unknown tool" and the user
    /// reading mcpbox's stderr heard nothing. Fails before the fix (no line).
    @Test func refusedCallsAreToldOncePerNameAndBounded() {
        let d = FilterDriver(Self.gitPolicy)
        for id in 1...3 {
            d.feed(0, #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"git_commit"}}"# + "\n")
        }
        #expect(d.box.lines == [#"mcpbox: refused tools/call "git_commit" ([tools] deny "*commit*"); the client is answered as for an unknown tool"#], "\(d.box.lines)")
        // The client picks the names: a newline in one is escaped, and at most 8 are told.
        for i in 0..<20 {
            d.feed(0, #"{"jsonrpc":"2.0","id":\#(100 + i),"method":"tools/call","params":{"name":"x\n\#(i)"}}"# + "\n")
        }
        #expect(d.box.lines.count == MCPFilter.maxToldTools, "\(d.box.lines)")
        #expect(d.box.lines.allSatisfy { !$0.contains("\n") })
        #expect(d.box.lines[1].hasPrefix(#"mcpbox: refused tools/call "x\n0" ([tools] not in allow)"#), "\(d.box.lines)")
        #expect(d.box.lines.last?.hasSuffix("further refused tool names are not told here (the audit log has every call)") == true)
        #expect(d.take(0) == "", "no refused call reaches the server")
    }

    @Test func allowedMessagesPassByteIdentical() {
        let d = FilterDriver(Self.gitPolicy)
        let call = #"{ "jsonrpc" : "2.0", "id" : 1, "method" : "tools/call", "params" : {"name":"git_status","arguments":{}} }"# + "\r\n"
        let other = #"{"jsonrpc":"2.0","method":"notifications/initialized"}"# + "\n"
        d.feed(0, call + other, chunk: 7)
        #expect(d.take(0) == call + other)
        let reply = #"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"# + "\n"
        d.feed(1, reply, chunk: 3)
        #expect(d.take(1) == reply)
    }

    @Test func listResponsesAreFilteredOnEveryPage() throws {
        let d = FilterDriver(Self.gitPolicy)
        for (id, cursor) in [("1", "null"), ("\"p2\"", "\"c\"")] {
            let req = #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/list","params":{"cursor":\#(cursor)}}"# + "\n"
            d.feed(0, req)
            #expect(d.take(0) == req)
            d.feed(1, #"{"jsonrpc":"2.0","id":\#(id),"result":{"tools":[{"name":"git_status","inputSchema":{"type":"object"}},"#
                   + #"{"name":"git_commit"},{"name":"git_log_all"},{"nameless":1}],"nextCursor":"n"}}"# + "\n", chunk: 10)
            let out = d.take(1)
            #expect(out == #"{"jsonrpc":"2.0","id":\#(id),"result":{"tools":[{"name":"git_status","inputSchema":{"type":"object"}},"#
                    + #"{"name":"git_log_all"}],"nextCursor":"n"}}"# + "\n")
        }
    }

    @Test func promptsAreFilteredAndRefused() {
        let d = FilterDriver(MCPPolicy(prompts: NamePolicy(allow: nil, deny: ["secret*"])))
        d.feed(0, #"{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"secret_plan"}}"# + "\n")
        #expect(d.take(0) == "")
        #expect(d.take(1).contains(#""code":-32602,"message":"Unknown prompt: secret_plan""#))
        d.feed(0, #"{"jsonrpc":"2.0","id":3,"method":"prompts/list"}"# + "\n")
        _ = d.take(0)
        d.feed(1, #"{"jsonrpc":"2.0","id":3,"result":{"prompts":[{"name":"secret_x"},{"name":"ok"}]}}"# + "\n")
        #expect(d.take(1) == #"{"jsonrpc":"2.0","id":3,"result":{"prompts":[{"name":"ok"}]}}"# + "\n")
        // Tools are not governed by a prompts-only policy.
        let call = #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"secret"}}"# + "\n"
        d.feed(0, call)
        #expect(d.take(0) == call)
    }

    @Test func duplicateKeysCannotSmuggleADeniedName() {
        let d = FilterDriver(Self.gitPolicy)
        d.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"git_status","name":"git_commit"}}"# + "\n")
        #expect(d.take(0) == "")
        #expect(d.take(1).contains("-32700"))
    }

    @Test func unreadableServerLineIsDroppedWhileAListIsAwaited() {
        let d = FilterDriver(Self.gitPolicy)
        d.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"# + "\n")
        _ = d.take(0)
        d.feed(1, #"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"git_commit"}]},"result":{}}"# + "\n")
        #expect(d.take(1) == "")
        #expect(d.filter.droppedLines == 1)
        #expect(d.box.lines.first?.contains("dropped a line from the server") == true)
        // The request is still awaited; its real answer clears it.
        d.feed(1, #"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"# + "\n")
        #expect(d.take(1) == #"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"# + "\n")
        // With nothing awaited, server lines are not even parsed: passed through as they are.
        let junk = "not json at all\n"
        d.feed(1, junk)
        #expect(d.take(1) == junk)
    }

    @Test func mcpboxAnswersNeverSplitAServerLine() {
        let d = FilterDriver(Self.gitPolicy)
        let line = #"{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"x"}}"# + "\n"
        let half = line.utf8.count / 2
        d.feed(1, String(line.prefix(half)))
        d.feed(0, #"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"git_commit"}}"# + "\n")
        #expect(d.take(1) == #"{"jsonrpc":"2.0","id":9,"error":{"code":-32602,"message":"Unknown tool: git_commit"}}"# + "\n")
        d.feed(1, String(line.dropFirst(half)))
        #expect(d.take(1) == line)
    }

    @Test func forgedAndUnsolicitedResponsesNeverReachTheClient() {
        let d = FilterDriver(Self.gitPolicy)
        // A server guessing the next id answers a tools/list before the client asked.
        let forged = #"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"git_commit"}]}}"# + "\n"
        d.feed(1, forged)
        #expect(d.take(1) == "")
        // Duplicate keys a lenient client would take: dropped even with nothing awaited.
        d.feed(1, #"{"jsonrpc":"2.0","id":2,"result":{},"result":{"tools":[{"name":"git_commit"}]}}"# + "\n")
        #expect(d.take(1) == "")
        #expect(d.filter.droppedLines == 2)
        #expect(d.box.lines.first?.contains("a response to id 2, which no forwarded request has") == true)
        // The real exchange: request forwarded, answer filtered; a second answer to the same id is dropped.
        d.feed(0, #"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"# + "\n")
        _ = d.take(0)
        d.feed(1, forged)
        #expect(d.take(1) == #"{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}"# + "\n")
        d.feed(1, forged)
        #expect(d.take(1) == "")
        // Answers to other requests, server requests and notifications pass unchanged.
        d.feed(0, #"{"jsonrpc":"2.0","id":"p","method":"ping"}"# + "\n")
        _ = d.take(0)
        let pong = #"{"jsonrpc":"2.0","id":"p","result":{}}"# + "\n"
        let request = #"{"jsonrpc":"2.0","id":7,"method":"roots/list"}"# + "\n"
        d.feed(1, pong + request)
        #expect(d.take(1) == pong + request)
    }

    @Test func partialLineAtEndIsPassedOn() {
        let d = FilterDriver(Self.gitPolicy)
        d.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        #expect(d.take(0) == "")
        _ = d.filter.input(0, UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(d.take(0) == #"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
    }

    @Test func messageOverTheLimitEndsTheSession() {
        let d = FilterDriver(MCPPolicy(tools: NamePolicy(allow: nil, deny: []), maxMessage: 100))
        #expect(d.feed(1, String(repeating: "x", count: 100) + "\n"))
        #expect(d.take(1).count == 101)
        #expect(!d.feed(1, String(repeating: "y", count: 60), chunk: 30) || !d.feed(1, String(repeating: "y", count: 60)))
        #expect(d.filter.failed)
        #expect(d.box.lines.last?.contains("longer than 100 bytes") == true)
    }

    @Test func batchesAndParseErrorsAreAnsweredNotForwarded() {
        let d = FilterDriver(Self.gitPolicy)
        d.feed(0, #"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"git_commit"}}]"# + "\n")
        #expect(d.take(0) == "")
        #expect(d.take(1).contains("-32600"))
        d.feed(0, "{oops\n")
        #expect(d.take(0) == "")
        #expect(d.take(1) == #"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"# + "\n")
    }
}

@Suite("MCP filter: [client] gating")
struct ClientGatingTests {
    static let noneOffered = MCPPolicy(client: ClientGate(sampling: false, elicitation: false, roots: false))

    @Test func deniedCapabilitiesLeaveTheClientsInitialize() {
        let d = FilterDriver(MCPPolicy(client: ClientGate(sampling: false, elicitation: true, roots: false)))
        d.feed(0, #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","#
               + #""capabilities":{"sampling":{},"elicitation":{"form":{}},"roots":{"listChanged":true}},"clientInfo":{"name":"c","version":"1"}}}"# + "\n")
        #expect(d.take(0) == #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","#
                + #""capabilities":{"elicitation":{"form":{}}},"clientInfo":{"name":"c","version":"1"}}}"# + "\n")
        // The answer to it still reaches the client.
        let answer = #"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"s","version":"1"}}}"# + "\n"
        d.feed(1, answer)
        #expect(d.take(1) == answer)
    }

    @Test func perRequestMetaCapabilitiesAreStrippedToo() {
        let d = FilterDriver(MCPPolicy(tools: NamePolicy(allow: nil, deny: ["*commit*"]), client: ClientGate(sampling: false)))
        d.feed(0, #"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"sampling":{},"roots":{}}}}}"# + "\n")
        #expect(d.take(0) == #"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"roots":{}}}}}"# + "\n")
        // A refused call stays refused whatever it carries.
        d.feed(0, #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"git_commit","_meta":{"io.modelcontextprotocol/clientCapabilities":{"sampling":{}}}}}"# + "\n")
        #expect(d.take(0) == "")
        #expect(d.take(1).contains("Unknown tool: git_commit"))
    }

    @Test func deniedServerRequestsAreAnsweredLocallyAndNeverForwarded() {
        let d = FilterDriver(Self.noneOffered)
        for (id, method, capability) in [("\"s1\"", "sampling/createMessage", "sampling"), ("7", "elicitation/create", "elicitation"),
                                         ("8", "roots/list", "roots")] {
            d.feed(1, #"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":{}}"# + "\n")
            #expect(d.take(1) == "", "\(method) reached the client")
            #expect(d.take(0) == #"{"jsonrpc":"2.0","id":\#(id),"error":{"code":-32601,"message":"Method not found: \#(method) (the client's \#(capability) is not offered to this server)"}}"# + "\n")
        }
        #expect(d.box.lines.count == 3)
        // Other server requests and notifications pass unchanged.
        let ping = #"{"jsonrpc":"2.0","id":9,"method":"ping"}"# + "\n"
        d.feed(1, ping)
        #expect(d.take(1) == ping)
    }

    @Test func allowedFeaturesPassUnchanged() {
        let d = FilterDriver(MCPPolicy(client: ClientGate(sampling: true, elicitation: true, roots: false)))
        let sampling = #"{"jsonrpc":"2.0","id":1,"method":"sampling/createMessage","params":{"maxTokens":5}}"# + "\n"
        d.feed(1, sampling)
        #expect(d.take(1) == sampling)
        let initialize = #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"capabilities":{"sampling":{}}}}"# + "\n"
        d.feed(0, initialize)
        #expect(d.take(0) == initialize)
    }
}
