import MCPBoxEvents
#if canImport(Glibc)
import Glibc
#endif

/// `[tools] pin`: what happens to a tool whose definition is not the approved one.
public enum PinMode: String, Sendable, Equatable, CaseIterable {
    /// Hidden from `tools/list`, refused on `tools/call` (-32602).
    case block
    /// Passed, with a warning on stderr.
    case warn
    /// No pinning.
    case off
}

/// Pinning as the plan decides it for one session.
public struct PinConfig: Sendable, Equatable {
    public var mode: PinMode
    /// `pin_first_use`: with no pin file yet, the first session's definitions are approved.
    public var firstUse: Bool
    /// The profile as given (named in hints such as `mcpbox tools approve PROFILE`).
    public var profile: String
    /// The pin file (`PinStore`).
    public var path: String

    public init(mode: PinMode, firstUse: Bool, profile: String, path: String) {
        self.mode = mode
        self.firstUse = firstUse
        self.profile = profile
        self.path = path
    }
}

/// One pinned or pending value: a whole tool definition, or the server's instructions (a string,
/// or null when the server gives none), with the SHA-256 of its JCS text.
public struct Pin: Sendable, Equatable {
    public var sha256: String
    public var value: JSON

    /// nil when the value cannot be canonicalized (a non-finite number).
    public init?(_ value: JSON) {
        guard let text = Canonical.serialize(value) else { return nil }
        self.sha256 = SHA256.hex(text)
        self.value = value
    }

    /// A tool definition's name (nil for instructions, or a definition without a string name).
    public var name: String? { value["name"]?.stringValue }

    /// Whether two tool names are the same name: the same bytes, as the server and the
    /// allow/deny globs compare them. Swift's `==` on strings is canonical equivalence (K and
    /// U+212A KELVIN SIGN, or NFC and NFD accents, are equal), so a call for a never-approved
    /// name passed as the approved one it resembles.
    public static func same(_ a: String?, _ b: String?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return a.utf8.elementsEqual(b.utf8)
    }
}

/// The approved definitions of one profile (the pin file) or the unapproved ones the last
/// session saw (the pending file).
public struct PinSet: Sendable, Equatable {
    /// nil: not pinned (or, pending: nothing unapproved).
    public var instructions: Pin?
    /// Approved: one per name. Pending: as the server listed them (duplicates included).
    public var tools: [Pin] = []

    public init(instructions: Pin? = nil, tools: [Pin] = []) {
        self.instructions = instructions
        self.tools = tools
    }

    public func tool(_ name: String) -> Pin? { tools.first { Pin.same($0.name, name) } }

    /// Adds or replaces the pin of `pin.name`.
    public mutating func approve(_ pin: Pin) {
        if let i = tools.firstIndex(where: { Pin.same($0.name, pin.name) }) { tools[i] = pin } else { tools.append(pin) }
    }

    /// The file's text: JCS of `{"instructions": {"sha256", "value"}?, "tools": [{"sha256",
    /// "definition"}], "version": 1}`, tools sorted by name.
    public var serialized: String {
        var pairs: [(String, JSON)] = [("version", .number("1"))]
        if let i = instructions { pairs.append(("instructions", .object([("sha256", .string(i.sha256)), ("value", i.value)]))) }
        let sortedTools = tools.enumerated().sorted { a, b in
            let x = a.element.name ?? "", y = b.element.name ?? ""
            return x == y ? a.offset < b.offset : x.utf16.lexicographicallyPrecedes(y.utf16)
        }.map(\.element)
        pairs.append(("tools", .array(sortedTools.map { .object([("sha256", .string($0.sha256)), ("definition", $0.value)]) })))
        return Canonical.serialize(.object(pairs))! + "\n"
    }

    /// Parses a pin or pending file; every hash is recomputed and must match.
    public static func parse(_ bytes: [UInt8]) -> PinSet? {
        guard let doc = try? JSON.parse(bytes, maxDepth: JSON.maxDepth + 4), doc["version"] == .number("1"),
              case .array(let items)? = doc["tools"] else { return nil }
        var set = PinSet()
        if let i = doc["instructions"] {
            guard let v = i["value"], let pin = Pin(v), i["sha256"]?.stringValue == pin.sha256 else { return nil }
            set.instructions = pin
        }
        for item in items {
            guard let d = item["definition"], let pin = Pin(d), pin.name != nil, item["sha256"]?.stringValue == pin.sha256 else { return nil }
            set.tools.append(pin)
        }
        return set
    }
}

/// The pin file of a profile and its pending file beside it (`NAME.json`, `NAME.pending.json`):
/// directories created 0700, files 0600, replaced atomically (write, fsync, rename).
public struct PinStore: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var pendingPath: String {
        (path.hasSuffix(".json") ? String(path.dropLast(5)) : path) + ".pending.json"
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The approved pins; nil when there is no pin file.
    public func load() throws(Failure) -> PinSet? { try Self.readSet(path) }

    /// What the last session saw and could not expose; nil when there is none.
    public func loadPending() throws(Failure) -> PinSet? { try Self.readSet(pendingPath) }

    public func save(_ set: PinSet) throws(Failure) { try Self.writeText(path, set.serialized) }

    public func savePending(_ set: PinSet) throws(Failure) { try Self.writeText(pendingPath, set.serialized) }

    /// Deletes the pin file and the pending file; returns whether either existed.
    public func reset() throws(Failure) -> Bool {
        var any = false
        for p in [path, pendingPath] {
            if unlink(p) == 0 { any = true } else if errno != ENOENT {
                throw Failure(description: "cannot delete \(p): \(String(cString: strerror(errno)))")
            }
        }
        return any
    }

    public func clearPending() {
        _ = unlink(pendingPath)
    }

    static let maxFile = 64 << 20

    static func readSet(_ path: String) throws(Failure) -> PinSet? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            bytes += chunk[..<n]
            guard bytes.count <= maxFile else { throw Failure(description: "\(path) is larger than \(maxFile) bytes") }
        }
        guard let set = PinSet.parse(bytes) else {
            throw Failure(description: "\(path) is not a valid pin file (delete it with `mcpbox tools reset`)")
        }
        return set
    }

    /// Creates the missing directories of `dir` with mode 0700.
    static func makeDirectories(_ dir: String) throws(Failure) {
        var path = ""
        for part in dir.split(separator: "/") {
            path += "/" + part
            if mkdir(path, 0o700) != 0 && errno != EEXIST {
                throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    static func writeText(_ path: String, _ text: String) throws(Failure) {
        guard let slash = path.lastIndex(of: "/"), path.hasPrefix("/") else {
            throw Failure(description: "pin file \(path) is not an absolute path")
        }
        let dir = String(path[..<slash])
        try makeDirectories(dir)
        let tmp = dir + "/." + path[path.index(after: slash)...] + ".\(getpid()).tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot write \(tmp): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        var done = 0
        var failure: Int32 = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 { if errno == EINTR { continue }; failure = errno; break }
            done += n
        }
        if failure == 0 && (fchmod(fd, 0o600) != 0 || fsync(fd) != 0) { failure = errno }
        close(fd)
        if failure == 0 && rename(tmp, path) != 0 { failure = errno }
        guard failure == 0 else {
            unlink(tmp)
            throw Failure(description: "cannot write \(path): \(String(cString: strerror(failure)))")
        }
        let d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if d >= 0 { _ = fsync(d); close(d) }
    }
}

/// Pinning during one session: checks every `tools/list` page and the `initialize` result
/// against the pin file, hides or warns, and writes what it could not expose to the pending file
/// (which `mcpbox tools approve` shows). Decisions go to `say` (stderr in `run`).
final class PinGuard {
    let config: PinConfig
    let store: PinStore
    var say: (String) -> Void
    private var pins: PinSet
    /// pin_first_use with no pin file at the start: this session's first definitions are approved.
    private var trustFirstUse: Bool
    /// Unapproved definitions seen this session (the pending file's content).
    private var pending = PinSet()
    /// Names whose latest listed definition is not approved, or listed twice (by their bytes:
    /// see `Pin.same`).
    private var unapproved: Set<[UInt8]> = []
    /// Names listed since the last first page (to catch a duplicate across pages).
    private var listing: Set<[UInt8]> = []
    /// More than `maxUnapproved` names were unapproved this session: a server flooding new
    /// names (each list a new set) would grow `unapproved` without end. Past it, under `block`,
    /// nothing is exposed and every call is refused for the rest of the session.
    private var flooded = false
    /// Bytes of the names in `unapproved`, and in `listing`.
    private var unapprovedBytes = 0
    private var listingBytes = 0

    /// Bounds on what a server's lists make mcpbox keep (red-team pass, 2026-12-03: 20,000 new
    /// tools per list grew the relay by 35 MB and the pending file by 16 MB per list, until
    /// `mcpbox tools` could no longer read it). Real servers list tens of tools.
    static let maxPending = 4096
    static let maxPendingBytes = 32 << 20
    static let maxUnapproved = 65536
    /// Bytes of names `unapproved` and `listing` hold together, at most: a name may be
    /// megabytes long (red-team pass on the bounds: one 4 MiB name per list grew the relay by
    /// 4 MiB per list).
    static let maxNameBytes = 8 << 20
    /// Definitions approved on first use in one session, at most (then first use stops).
    static let maxFirstUse = 4096

    /// Why a tool is not exposed.
    enum State: String { case approved, changed, new, duplicate, invalid }

    init(_ config: PinConfig, say: @escaping (String) -> Void) {
        self.config = config
        self.store = PinStore(path: config.path)
        self.say = say
        do {
            let loaded = try store.load()
            pins = loaded ?? PinSet()
            trustFirstUse = loaded == nil && config.firstUse
        } catch {
            // Fail closed: nothing counts as approved, and nothing is trusted on first use.
            say("mcpbox: pin: \(error); every tool counts as unapproved")
            pins = PinSet()
            trustFirstUse = false
        }
    }

    private var hint: String {
        "see `mcpbox tools diff \(config.profile)`, approve with `mcpbox tools approve \(config.profile)`"
    }

    private var blocking: Bool { config.mode == .block }

    /// Whether the `initialize` result's `instructions` (nil: absent) may reach the client.
    func instructions(_ value: JSON?) -> Bool {
        guard let pin = Pin(value ?? .null) else {
            say("mcpbox: pin: the server's instructions cannot be canonicalized: \(blocking ? "removed" : "passed")")
            return !blocking
        }
        if pins.instructions?.sha256 == pin.sha256 { return true }
        if trustFirstUse && pins.instructions == nil {
            pins.instructions = pin
            save()
            say("mcpbox: pin: approved the server's instructions on first use (\(config.path))")
            return true
        }
        pending.instructions = pin
        savePending()
        let what = pins.instructions == nil ? "are not approved yet" : "changed since they were approved"
        say("mcpbox: pin: the server's instructions \(what): \(blocking ? "removed from the initialize (server/discover) result" : "passed (pin = \"warn\")"); \(hint)")
        return !blocking
    }

    /// The tools of one `tools/list` page that may reach the client (all of them under `warn`).
    /// Linear in the page and the pins: each name is looked up in dictionaries built once per
    /// page (a page of 200,000 tools scanned the approved and pending lists once per tool, and
    /// held the relay for minutes).
    func tools(_ items: [JSON], firstPage: Bool) -> [JSON] {
        if firstPage { listing = []; listingBytes = 0 }
        var count: [[UInt8]: Int] = [:]
        for item in items { if let n = item["name"]?.stringValue { count[Array(n.utf8), default: 0] += 1 } }
        var approvedByName: [[UInt8]: String] = [:]
        for t in pins.tools { if let n = t.name { approvedByName[Array(n.utf8)] = t.sha256 } }
        if trustFirstUse && pins.tools.count + count.keys.filter({ approvedByName[$0] == nil }).count > Self.maxFirstUse {
            // Trust on first use is for a server's own tools, not for a flood: it stops here.
            trustFirstUse = false
            say("mcpbox: pin: more than \(Self.maxFirstUse) tool definitions to approve on first use: none more is approved this way; \(hint)")
        }
        var states: [State] = []
        var firstUse: [Pin] = []
        // Pending entries of these names (from earlier sessions or pages) are replaced; the
        // pins in `added` are appended in the page's order, each once.
        var replaced = Set<[UInt8]>()
        var added: [Pin] = []
        var refused: [String] = []
        for item in items {
            guard let name = item["name"]?.stringValue, let pin = Pin(item) else {
                states.append(.invalid)
                refused.append("(a tool without a name, or with a number JSON cannot pin): invalid")
                continue
            }
            var state: State
            let key = Array(name.utf8)
            if count[key, default: 0] > 1 || listing.contains(key) {
                state = .duplicate
            } else if let approved = approvedByName[key] {
                state = approved == pin.sha256 ? .approved : .changed
            } else if trustFirstUse {
                firstUse.append(pin)
                approvedByName[key] = pin.sha256
                state = .approved
            } else {
                state = .new
            }
            states.append(state)
            if state == .approved {
                if unapproved.remove(key) != nil { unapprovedBytes -= key.count }
                replaced.insert(key)
            } else {
                if !flooded, unapproved.insert(key).inserted { unapprovedBytes += key.count }
                if state != .duplicate { replaced.insert(key) }
                added.append(pin)
                refused.append("\(JSON.quoted(name)): \(state.rawValue)")
            }
        }
        let pendingBefore = pending.tools.map(\.sha256)
        if !replaced.isEmpty || !added.isEmpty {
            var kept = pending.tools.filter { p in p.name.map { !replaced.contains(Array($0.utf8)) } ?? true }
            var seen = Set(kept.map(\.sha256))
            for pin in added where seen.insert(pin.sha256).inserted { kept.append(pin) }
            pending.tools = Self.newest(kept)
        }
        if !flooded { for n in count.keys where listing.insert(n).inserted { listingBytes += n.count } }
        if !flooded && (unapproved.count > Self.maxUnapproved || unapprovedBytes + listingBytes > Self.maxNameBytes) {
            // Nothing more is kept about names once flooded: every call is refused anyway.
            flooded = true
            unapproved.removeAll()
            listing.removeAll()
            unapprovedBytes = 0
            listingBytes = 0
            say("mcpbox: pin: the server listed more than \(Self.maxUnapproved) unapproved tool names (or \(Self.maxNameBytes >> 20) MiB of names) in this session: "
                + (blocking ? "no tool is exposed, and every call is refused, until the session ends" : "(pin = \"warn\")"))
        }
        if !firstUse.isEmpty {
            // New names only (a name already approved is never approved again on first use).
            pins.tools += firstUse
            save()
            say("mcpbox: pin: approved \(states.filter { $0 == .approved }.count) tool definition(s) on first use (\(config.path))")
        }
        guard !refused.isEmpty else { return flooded && blocking ? [] : items }
        // Written when it changed, not at every list (a client listing again and again).
        if pending.tools.map(\.sha256) != pendingBefore { savePending() }
        let shown = refused.count > 50 ? refused.prefix(50).joined(separator: ", ") + " and \(refused.count - 50) more"
                                       : refused.joined(separator: ", ")
        say("mcpbox: pin: \(blocking ? "hidden" : "passed (pin = \"warn\")"): \(shown); \(hint)")
        guard blocking else { return items }
        if flooded { return [] }
        return zip(items, states).filter { $0.1 == .approved }.map(\.0)
    }

    /// The newest of `pins` (the end of the list) that fit `maxPending` and `maxPendingBytes`.
    static func newest(_ pins: [Pin]) -> [Pin] {
        var bytes = 0
        var start = pins.count
        while start > 0 && pins.count - start < maxPending {
            bytes += pins[start - 1].value.serialized.utf8.count + 100
            if bytes > maxPendingBytes { break }
            start -= 1
        }
        return Array(pins[start...])
    }

    /// Why a `tools/call` for `name` is refused (nil: forwarded; under `warn` always nil).
    func callRefusal(_ name: String) -> String? {
        let why: String?
        if flooded {
            why = "the server listed more than \(Self.maxUnapproved) unapproved tool names (or \(Self.maxNameBytes >> 20) MiB of names) in this session"
        } else if unapproved.contains(Array(name.utf8)) {
            why = "its listed definition is not the approved one"
        } else if pins.tool(name) == nil {
            why = "it has no approved definition"
        } else {
            why = nil
        }
        guard let why else { return nil }
        if blocking {
            say("mcpbox: pin: refused tools/call \(JSON.quoted(name)): \(why); \(hint)")
            return why
        }
        say("mcpbox: pin: warning: tools/call \(JSON.quoted(name)) passed although \(why) (pin = \"warn\")")
        return nil
    }

    private func save() {
        do { try store.save(pins) } catch { say("mcpbox: pin: \(error)") }
    }

    private func savePending() {
        do { try store.savePending(pending) } catch { say("mcpbox: pin: \(error)") }
    }
}

extension JSON {
    /// Whether scalar `v` is invisible or reorders text where it is shown: bidi controls and
    /// marks, zero-width characters, line and paragraph separators, the BOM, tag characters,
    /// interlinear annotations, the soft hyphen (`greet\u{200b}` would look like `greet`).
    /// Shared by every place that shows a name mcpbox did not choose.
    /// With every other default-ignorable code point, the blank-looking fillers and every space
    /// other than U+0020 (no-break, ideographic, the typographic ones) (red-team
    /// pass, 2026-12-03: `greet\u{34f}` and `greet\u{3164}` showed as `greet` in `tools approve`):
    /// the combining grapheme joiner, Hangul and Khmer fillers, Mongolian selectors, variation
    /// selectors, the braille blank, format controls of the supplementary planes.
    public static func isInvisible(_ v: UInt32) -> Bool {
        if v < 0xA0 { return false }
        return v == 0xA0 || v == 0x1680 || (0x2000...0x200A).contains(v) || v == 0x202F || v == 0x205F || v == 0x3000
            || v == 0xAD || v == 0x034F || v == 0x061C || v == 0x115F || v == 0x1160 || v == 0x17B4 || v == 0x17B5
            || (0x180B...0x180F).contains(v) || (0x200B...0x200F).contains(v) || (0x2028...0x202E).contains(v)
            || (0x2060...0x206F).contains(v) || v == 0x2800 || v == 0x3164 || (0xFE00...0xFE0F).contains(v) || v == 0xFEFF
            || v == 0xFFA0 || (0xFFF0...0xFFFB).contains(v) || (0x1BCA0...0x1BCA3).contains(v) || (0x1D173...0x1D17A).contains(v)
            || (0xE0000...0xE0FFF).contains(v)
    }

    /// `s` as a JSON string literal: a name from the server shown on stderr cannot carry
    /// terminal control sequences.
    public static func quoted(_ s: String) -> String {
        var out = ""
        quote(s, into: &out)
        // DEL and C1 controls too (CSI is 0x9b in some terminals), and what is invisible or
        // reorders text (bidi controls, zero-width characters, separators, the BOM, tags): a
        // `safe\u{202e}txt.exe` would show another name.
        func hidden(_ v: UInt32) -> Bool { (0x7f...0x9f).contains(v) || isInvisible(v) }
        guard out.unicodeScalars.contains(where: { hidden($0.value) }) else { return out }
        var safe = ""
        for u in out.unicodeScalars {
            guard hidden(u.value) else { safe.unicodeScalars.append(u); continue }
            if u.value > 0xFFFF {
                // As a UTF-16 surrogate pair, which a JSON reader decodes back.
                let v = u.value - 0x10000
                for unit in [0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF)] { safe += "\\u" + String(unit, radix: 16) }
            } else {
                let hex = String(u.value, radix: 16)
                safe += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return safe
    }
}
