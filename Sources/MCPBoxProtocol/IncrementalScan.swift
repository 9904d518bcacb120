/// `MessageScan` fed piece by piece (issue 9, throughput): a streamed line is scanned as its
/// bytes arrive, while they are hot, and decided at its newline from what this scan found, so the
/// line itself is never kept. An explicit-stack state machine over the same grammar, depth limit,
/// UTF-8 rules and duplicate-key checks as `MessageScan`: whatever the pieces (down to one byte),
/// `finish` returns what `MessageScan` returns for the whole line (the error's class, the same
/// members). Keys and member values the scan builds are captured raw, at most `captureLimit`
/// bytes each (past it `overflow` is set and the scan stops: the caller fails closed), and built
/// by `Parser` once whole; everything else is validated and dropped as it goes.
struct IncrementalScan {
    /// The most bytes of one key or built member value the scan holds.
    static let captureLimit = 64 << 10

    /// The members found so far (`finish` completes it).
    private(set) var scan = MessageScan()
    private var error: JSONError?
    /// A key or built value was longer than `captureLimit`: the scan stopped without a result.
    private(set) var overflow = false
    /// Bytes of the line fed and scanned (a last CR still pending excluded).
    private(set) var count = 0
    /// The first raw CR after the line's first significant byte (`MCPFilter.firstCR`).
    private(set) var firstCR: Int?
    private var significant = false
    /// A CR that ended the last piece: it is the line's last byte (dropped, as `MCPFilter.line`
    /// drops the CR before the newline) unless more bytes follow.
    private var pendingCR = false
    /// The first byte a streamed line may not pass on before its verdict (`passable`)...
    private var holdAt = Int.max
    /// ...and how many of its bytes `passable` has let through.
    private(set) var passed = 0

    private enum State: UInt8 {
        case start, value, firstValue, firstKey, key, colon, after, done
        case string, escape, hex, surrogateBackslash, surrogateU, utf8, number, literal
    }

    /// The objects `MessageScan` reads (keys checked and dispatched), values it builds
    /// (`capture`: keys checked, as `JSON.parse` does), and skipped values.
    private enum Level: UInt8 { case message, params, capabilities, arguments, result, error, capture, skip }

    private enum Field: UInt8 { case id, method, name, cursor, uri, mode, elicitation, action, isError, resultType, errorCode }

    /// What the value after the current key is to the scan.
    private enum Member: Equatable { case skip, capture(Field), object(Level), arguments, meta }

    private struct Frame {
        var object: Bool
        var level: Level
        var keys: KeyList?
    }

    private var state = State.start
    private var frames: [Frame] = []
    private var next = Member.skip

    // The current string.
    private var stringIsKey = false
    private var stringStart = 0
    private var capturingKey = false
    private var keyBuffer: [UInt8] = []
    private var keyFrom = 0
    // \uXXXX
    private var hexCount = 0
    private var hexValue: UInt32 = 0
    private var lowSurrogate = false
    // A UTF-8 sequence: continuation bytes still due, and the range of the next one.
    private var utf8Due = 0
    private var utf8Low: UInt8 = 0x80
    private var utf8High: UInt8 = 0xbf
    // A number's state (see `number`), a literal's word and position.
    private var numberState: UInt8 = 0
    private var word: StaticString = "true"
    private var wordAt = 0

    // The member value being built.
    private var capturing: Field?
    private var captureDepth = 0
    private var valueBuffer: [UInt8] = []
    private var valueFrom = 0
    // `params.arguments` or `params._meta`: where it started, at which depth.
    private var rangeIsMeta: Bool?
    private var rangeStart = 0
    private var rangeDepth = 0

    init() {}

    /// The line's next bytes (never its newline).
    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if pendingCR {
            pendingCR = false
            withUnsafeBytes(of: UInt8(0x0d)) { run($0) }
        }
        if bytes[bytes.count - 1] == 0x0d {
            pendingCR = true
            run(UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 1)]))
        } else {
            run(bytes)
        }
    }

    /// The line ended (its newline, or its source's end): what `MessageScan` finds in it, its
    /// last byte left out when it is a CR.
    mutating func finish() -> MessageScan {
        pendingCR = false
        if overflow {
            // Fail closed: the caller reports it (`overflow`).
            scan.refuse(.syntax(count))
            return scan
        }
        if error == nil {
            if state == .number, numberState == 1 || numberState == 2 || numberState == 4 || numberState == 7 {
                // A number at the line's end is whole (only a top-level scalar can end there).
                state = frames.isEmpty ? .done : .after
            }
            if state != .done { error = .syntax(count) }
        }
        if let error { scan.refuse(error) }
        return scan
    }

    private mutating func fail(_ e: JSONError) { if error == nil { error = e } }

    /// How many more of the bytes fed so far may be passed on now, before the line's verdict:
    /// all of them up to the byte that closes the top-level value, the first raw CR (wherever it
    /// is; a CR that ends the bytes fed waits for the next ones), or the start of the piece in
    /// which the scan failed or overflowed, whichever comes first. Once reached, nothing more
    /// passes. Past a stop the bytes may still make the line invalid or change its verdict; before
    /// it they are an unclosed JSON object, which no peer can act on (see `StreamedLine.swift`).
    mutating func passable() -> Int {
        let upTo = min(holdAt, count)
        guard upTo > passed else { return 0 }
        defer { passed = upTo }
        return upTo - passed
    }

    @inline(__always)
    private mutating func hold(_ at: Int) { if at < holdAt { holdAt = at } }

    private mutating func run(_ b: UnsafeRawBufferPointer) {
        guard error == nil, !overflow, let base = b.baseAddress else { count += b.count; return }
        let n = b.count
        var i = 0
        valueFrom = 0
        keyFrom = 0
        defer {
            if error == nil, !overflow {
                if capturing != nil { capture(key: false, b, valueFrom, n) }
                if capturingKey, state == .string || state == .escape || state == .hex || state == .surrogateBackslash
                    || state == .surrogateU || state == .utf8 {
                    capture(key: true, b, keyFrom, n)
                }
            }
            if error != nil || overflow { hold(count) }
            count += n
        }
        @inline(__always) func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0d || c == 0x0a }
        while i < n {
            if error != nil || overflow { return }
            let c = b[i]
            switch state {
            case .start:
                if isSpace(c) {
                    if c == 0x0d { hold(count + i) }
                    i += 1
                    continue
                }
                significant = true
                if c == UInt8(ascii: "{") {
                    scan.isObject = true
                    frames.append(Frame(object: true, level: .message, keys: KeyList(judged: true)))
                    state = .firstKey
                    i += 1
                } else {
                    next = .skip
                    state = .value
                }
            case .value, .firstValue:
                if isSpace(c) { space(c, i); i += 1; continue }
                if state == .firstValue, c == UInt8(ascii: "]") { close(b, &i, object: false); continue }
                startValue(b, &i)
            case .firstKey, .key:
                if isSpace(c) { space(c, i); i += 1; continue }
                if state == .firstKey, c == UInt8(ascii: "}") { close(b, &i, object: true); continue }
                guard c == UInt8(ascii: "\"") else { fail(.syntax(count + i)); return }
                let level = frames[frames.count - 1].level
                startString(at: i, key: true)
                capturingKey = level != .skip
                if capturingKey { keyBuffer.removeAll(keepingCapacity: true); keyFrom = i }
                i += 1
            case .colon:
                if isSpace(c) { space(c, i); i += 1; continue }
                guard c == UInt8(ascii: ":") else { fail(.syntax(count + i)); return }
                state = .value
                i += 1
            case .after:
                if isSpace(c) { space(c, i); i += 1; continue }
                let object = frames[frames.count - 1].object
                if c == UInt8(ascii: ",") {
                    state = object ? .key : .value
                    next = .skip
                    i += 1
                } else if c == (object ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    close(b, &i, object: object)
                } else {
                    fail(.syntax(count + i))
                    return
                }
            case .done:
                if isSpace(c) { space(c, i); i += 1; continue }
                fail(.syntax(count + i))
                return
            case .string:
                // 32 or 8 bytes at a time up to the next quote, backslash, control or non-ASCII byte.
                i = Parser.plainRun(base, from: i, to: n)
                guard i < n else { break }
                let c = b[i]
                if c == UInt8(ascii: "\"") {
                    endString(b, i)
                    i += 1
                } else if c < 0x20 {
                    fail(.syntax(count + i))
                    return
                } else if c == UInt8(ascii: "\\") {
                    state = .escape
                    i += 1
                } else if c >= 0x80 {
                    switch c {
                    case 0xc2...0xdf: utf8Due = 1; utf8Low = 0x80; utf8High = 0xbf
                    case 0xe0: utf8Due = 2; utf8Low = 0xa0; utf8High = 0xbf
                    case 0xe1...0xec, 0xee...0xef: utf8Due = 2; utf8Low = 0x80; utf8High = 0xbf
                    case 0xed: utf8Due = 2; utf8Low = 0x80; utf8High = 0x9f
                    case 0xf0: utf8Due = 3; utf8Low = 0x90; utf8High = 0xbf
                    case 0xf1...0xf3: utf8Due = 3; utf8Low = 0x80; utf8High = 0xbf
                    case 0xf4: utf8Due = 3; utf8Low = 0x80; utf8High = 0x8f
                    default: fail(.syntax(stringStart)); return
                    }
                    state = .utf8
                    i += 1
                } else {
                    i += 1
                }
            case .utf8:
                guard c >= utf8Low, c <= utf8High else { fail(.syntax(stringStart)); return }
                utf8Low = 0x80
                utf8High = 0xbf
                utf8Due -= 1
                if utf8Due == 0 { state = .string }
                i += 1
            case .escape:
                switch c {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    state = .string
                case UInt8(ascii: "u"):
                    state = .hex
                    hexCount = 0
                    hexValue = 0
                    lowSurrogate = false
                default:
                    fail(.syntax(count + i))
                    return
                }
                i += 1
            case .hex:
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                default: fail(.syntax(count + i)); return
                }
                hexValue = hexValue * 16 + d
                hexCount += 1
                i += 1
                guard hexCount == 4 else { continue }
                if lowSurrogate {
                    guard hexValue >= 0xdc00 && hexValue < 0xe000 else { fail(.syntax(count + i)); return }
                    state = .string
                } else if hexValue >= 0xd800 && hexValue < 0xdc00 {
                    state = .surrogateBackslash
                } else if hexValue >= 0xdc00 && hexValue < 0xe000 {
                    fail(.syntax(count + i))
                    return
                } else {
                    state = .string
                }
            case .surrogateBackslash:
                guard c == UInt8(ascii: "\\") else { fail(.syntax(count + i)); return }
                state = .surrogateU
                i += 1
            case .surrogateU:
                guard c == UInt8(ascii: "u") else { fail(.syntax(count + i - 1)); return }
                state = .hex
                hexCount = 0
                hexValue = 0
                lowSurrogate = true
                i += 1
            case .number:
                if number(c, at: i) { i += 1 } else if error == nil { valueDone(b, i) }
            case .literal:
                guard c == word.utf8Start[wordAt] else { fail(.syntax(count + i)); return }
                wordAt += 1
                i += 1
                if wordAt == word.utf8CodeUnitCount { valueDone(b, i) }
            }
        }
    }

    /// JSON whitespace at `i` outside strings (past the first significant byte, a CR is noted).
    @inline(__always)
    private mutating func space(_ c: UInt8, _ i: Int) {
        if c == 0x0d, firstCR == nil {
            firstCR = count + i
            hold(count + i)
        }
    }

    private mutating func startString(at i: Int, key: Bool) {
        state = .string
        stringIsKey = key
        stringStart = count + i
    }

    /// The closing quote of a string at `i`.
    private mutating func endString(_ b: UnsafeRawBufferPointer, _ i: Int) {
        guard stringIsKey else { valueDone(b, i + 1); return }
        state = .colon
        guard capturingKey else { next = .skip; return }
        capturingKey = false
        capture(key: true, b, keyFrom, i + 1)
        guard !overflow else { return }
        let decoded: String? = keyBuffer.withUnsafeBytes { raw in
            var p = Parser(b: raw, maxDepth: 0)
            return try? p.string()
        }
        guard let key = decoded else { fail(.syntax(stringStart)); return }
        let top = frames.count - 1
        guard frames[top].keys!.insert(key) else { fail(.syntax(stringStart)); return }
        next = Self.member(frames[top].level, key)
        if frames[top].level == .params && (key == "url" || key == "elicitationId") { scan.hasURLElicitationKeys = true }
        switch next {
        case .object(.params): scan.hasParams = true
        case .object(.result): scan.hasResult = true
        case .object(.error): scan.hasError = true
        default: break
        }
    }

    /// What `MessageScan.member` does with the value of `key` in an object of `level`.
    private static func member(_ level: Level, _ key: String) -> Member {
        switch (level, key) {
        case (.message, "id"): .capture(.id)
        case (.message, "method"): .capture(.method)
        case (.message, "params"): .object(.params)
        case (.message, "result"): .object(.result)
        case (.message, "error"): .object(.error)
        case (.params, "name"): .capture(.name)
        case (.params, "cursor"): .capture(.cursor)
        case (.params, "uri"): .capture(.uri)
        case (.params, "mode"): .capture(.mode)
        case (.params, "arguments"): .arguments
        case (.params, "capabilities"): .object(.capabilities)
        case (.params, "_meta"): .meta
        case (.capabilities, "elicitation"): .capture(.elicitation)
        case (.result, "action"): .capture(.action)
        case (.result, "isError"): .capture(.isError)
        case (.result, "resultType"): .capture(.resultType)
        case (.error, "code"): .capture(.errorCode)
        default: .skip
        }
    }

    /// The first byte of a value at `i`.
    private mutating func startValue(_ b: UnsafeRawBufferPointer, _ i: inout Int) {
        let c = b[i]
        let opens = c == UInt8(ascii: "{")
        var level = Level.skip
        if capturing != nil {
            level = .capture
        } else {
            switch next {
            case .capture(let field):
                capturing = field
                captureDepth = frames.count
                valueBuffer.removeAll(keepingCapacity: true)
                valueFrom = i
                level = .capture
            case .object(let l): if opens { level = l }
            case .arguments:
                rangeIsMeta = false
                rangeStart = count + i
                rangeDepth = frames.count
                if opens { level = .arguments }
            case .meta:
                rangeIsMeta = true
                rangeStart = count + i
                rangeDepth = frames.count
            case .skip: break
            }
        }
        next = .skip
        switch c {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard frames.count < JSON.maxDepth else { fail(.tooDeep); return }
            frames.append(Frame(object: opens, level: level,
                                keys: level == .skip ? nil : KeyList(judged: level != .arguments && level != .capture)))
            state = opens ? .firstKey : .firstValue
            i += 1
        case UInt8(ascii: "\""):
            startString(at: i, key: false)
            i += 1
        case UInt8(ascii: "t"): startWord("true", &i)
        case UInt8(ascii: "f"): startWord("false", &i)
        case UInt8(ascii: "n"): startWord("null", &i)
        case UInt8(ascii: "N"): startWord("NaN", &i)
        case UInt8(ascii: "I"): startWord("Infinity", &i)
        case UInt8(ascii: "-"):
            state = .number
            numberState = 0
            i += 1
        case 0x30: state = .number; numberState = 1; i += 1
        case 0x31...0x39: state = .number; numberState = 2; i += 1
        default: fail(.syntax(count + i))
        }
    }

    private mutating func startWord(_ w: StaticString, _ i: inout Int) {
        word = w
        wordAt = 1
        state = .literal
        i += 1
    }

    /// One byte of a number: whether it belongs to it (false, no error: the number ended before it).
    /// States: 0 after `-`, 1 a leading 0, 2 integer digits, 3 after `.`, 4 fraction digits,
    /// 5 after `e`, 6 after the exponent's sign, 7 exponent digits (1, 2, 4, 7 may end).
    private mutating func number(_ c: UInt8, at i: Int) -> Bool {
        let digit = c >= 0x30 && c <= 0x39
        switch numberState {
        case 0:
            if c == 0x30 { numberState = 1; return true }
            if digit { numberState = 2; return true }
            if c == UInt8(ascii: "I") {
                word = "Infinity"
                wordAt = 1
                state = .literal
                return true
            }
        case 1, 2, 4:
            if digit, numberState != 1 { return true }
            if c == UInt8(ascii: "."), numberState != 4 { numberState = 3; return true }
            if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { numberState = 5; return true }
            return false
        case 3:
            if digit { numberState = 4; return true }
        case 5:
            if c == UInt8(ascii: "+") || c == UInt8(ascii: "-") { numberState = 6; return true }
            if digit { numberState = 7; return true }
        case 6:
            if digit { numberState = 7; return true }
        default:
            return digit
        }
        fail(.syntax(count + i))
        return false
    }

    /// The closer at `i` of the innermost container.
    private mutating func close(_ b: UnsafeRawBufferPointer, _ i: inout Int, object: Bool) {
        let frame = frames.removeLast()
        // The closing byte of the message waits for its verdict.
        if frames.isEmpty { hold(count + i) }
        if frame.level == .arguments { scan.argumentKeys = frame.keys?.keys ?? [] }
        i += 1
        valueDone(b, i)
    }

    /// A value ended before `end` (an index in `b`).
    private mutating func valueDone(_ b: UnsafeRawBufferPointer, _ end: Int) {
        let depth = frames.count
        if let field = capturing, depth == captureDepth {
            capturing = nil
            capture(key: false, b, valueFrom, end)
            guard !overflow else { return }
            guard let value = try? JSON.parse(valueBuffer, maxDepth: JSON.maxDepth - depth) else { fail(.syntax(count + end)); return }
            switch field {
            case .id: scan.id = value
            case .method: scan.method = value
            case .name: scan.name = value
            case .cursor: scan.cursor = value
            case .uri: scan.uri = value
            case .mode: scan.mode = value
            case .elicitation:
                guard !ConfusableKeys.anyIn(value) else { fail(.syntax(count + end)); return }
                scan.elicitation = value
            case .action: scan.action = value
            case .isError: scan.isError = value
            case .resultType: scan.resultType = value
            case .errorCode: scan.errorCode = value
            }
        }
        if let meta = rangeIsMeta, depth == rangeDepth {
            rangeIsMeta = nil
            if meta { scan.meta = rangeStart..<(count + end) } else { scan.arguments = rangeStart..<(count + end) }
        }
        state = depth == 0 ? .done : .after
    }

    /// Appends `b[from..<to]` to the key's or the value's capture, within `captureLimit`.
    private mutating func capture(key: Bool, _ b: UnsafeRawBufferPointer, _ from: Int, _ to: Int) {
        guard to > from else { return }
        let bytes = UnsafeRawBufferPointer(rebasing: b[from..<to])
        guard (key ? keyBuffer.count : valueBuffer.count) + bytes.count <= Self.captureLimit else { overflow = true; return }
        if key { keyBuffer.append(contentsOf: bytes) } else { valueBuffer.append(contentsOf: bytes) }
    }
}
