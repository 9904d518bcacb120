import ArgumentParser
import MCPBoxCore
import MCPBoxProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `mcpbox tools list|approve|diff|reset PROFILE`: the pins of `[tools] pin`.
struct ToolsCommand: ParsableCommand {
    /// A tool name as `tools` shows it: as it is when it is a plain word (ASCII letters, digits,
    /// `_ - . / : @`), else as a JSON string, escapes and all: a server's name with spaces could
    /// pass for a row's other columns (red-team pass, 2026-12-03: `spoof  approved   sha256:0…`),
    /// and mcpbox's own `(instructions)` row stays unquoted.
    static func shown(_ name: String) -> String {
        let plain = !name.isEmpty && name.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D || b == 0x2E || b == 0x2F || b == 0x3A || b == 0x40
        }
        return plain ? name : JSON.quoted(name)
    }

    static let configuration = CommandConfiguration(
        commandName: "tools",
        abstract: "Show, approve, diff or reset the pinned tool definitions of PROFILE ([tools] pin).",
        discussion: "A session under [tools] pin saves the definitions it could not expose (new, changed, duplicate) beside the pin file; approve pins them.",
        subcommands: [List.self, Approve.self, Diff.self, Reset.self])

    /// The profile's pin store and its pinning config (nil when `pin` is off).
    static func store(_ profile: String, _ options: ProfileOptions) throws -> (PinStore, PinConfig?) {
        let plan: SandboxPlan
        do { plan = try options.selection.plan(profile, command: [], requireCommand: false) } catch { throw fail(error) }
        if let pins = plan.mcp?.policy.pins { return (PinStore(path: pins.path), pins) }
        let host = HostContext.current()
        guard let dir = PinPlanner.directory(environment: host.environmentDictionary, callerUid: host.callerUid) else {
            Stderr.write("mcpbox: tools: no state directory for pin files (set HOME or XDG_STATE_HOME to an absolute path)")
            throw ExitCode(125)
        }
        return (PinStore(path: dir + "/" + PinPlanner.fileName(profile: plan.profileName, topFile: plan.profileFiles.last)), nil)
    }

    static func load(_ store: PinStore) throws -> (pins: PinSet, pending: PinSet) {
        do {
            return (try store.load() ?? PinSet(), try store.loadPending() ?? PinSet())
        } catch {
            Stderr.write("mcpbox: tools: \(error)")
            throw ExitCode(125)
        }
    }

    /// One unapproved definition the last session saw, with how it differs from the pins.
    struct Entry {
        var name: String
        var state: String
        var pin: Pin
        var approved: Pin?
    }

    static func unapproved(_ pins: PinSet, _ pending: PinSet) -> [Entry] {
        // By the names' bytes, as the relay tells tools apart (`café` and `cafe\u{301}` are two
        // tools to a server, one `String` to Swift).
        var count: [[UInt8]: Int] = [:]
        for p in pending.tools { count[Array((p.name ?? "").utf8), default: 0] += 1 }
        return pending.tools.compactMap { p in
            let name = p.name ?? ""
            let approved = pins.tool(name)
            if count[Array(name.utf8), default: 0] > 1 { return Entry(name: name, state: "duplicate", pin: p, approved: approved) }
            if approved?.sha256 == p.sha256 { return nil }
            return Entry(name: name, state: approved == nil ? "new" : "changed", pin: p, approved: approved)
        }
    }

    static func mode(_ config: PinConfig?) -> String {
        config.map { "pin = \"\($0.mode.rawValue)\"" + ($0.firstUse ? ", pin_first_use = true" : "") } ?? "pin is off for this profile"
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List pinned and pending tools with their state (approved, changed, new, duplicate).")

        @Argument(help: "Profile NAME or path to a .toml file.", completion: .custom(MCPBox.completeProfileNames))
        var profile: String

        @OptionGroup var options: ProfileOptions

        func run() throws {
            let (store, config) = try ToolsCommand.store(profile, options)
            let (pins, pending) = try ToolsCommand.load(store)
            print("pin file: \(Explain.visible(store.path)) (\(ToolsCommand.mode(config)))")
            let open = ToolsCommand.unapproved(pins, pending)
            var rows: [(String, String, String)] = []
            for p in pins.tools {
                let name = p.name ?? ""
                let state = open.first { $0.name == name }?.state ?? "approved"
                rows.append((ToolsCommand.shown(name), state, p.sha256))
            }
            for e in open where e.approved == nil { rows.append((ToolsCommand.shown(e.name), e.state, e.pin.sha256)) }
            if let i = pins.instructions {
                rows.append(("(instructions)", pending.instructions.map { $0.sha256 == i.sha256 ? "approved" : "changed" } ?? "approved", i.sha256))
            } else if let i = pending.instructions {
                rows.append(("(instructions)", "new", i.sha256))
            }
            if rows.isEmpty {
                print("no tools pinned or pending: run the server once with `mcpbox run \(Explain.visible(profile))` (through its client); mcpbox saves what it could not expose for `mcpbox tools approve`")
                return
            }
            let width = max(4, rows.map { $0.0.count }.max() ?? 0)
            for r in rows.sorted(by: { $0.0 < $1.0 }) {
                let name = r.0
                print(name + String(repeating: " ", count: width - name.count) + "  " + r.1 + String(repeating: " ", count: max(0, 9 - r.1.count)) + "  sha256:" + r.2)
            }
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show how the definitions the last session saw differ from the approved ones (canonical JSON, pretty-printed).")

        @Argument(help: "Profile NAME or path to a .toml file.", completion: .custom(MCPBox.completeProfileNames))
        var profile: String

        @OptionGroup var options: ProfileOptions

        func run() throws {
            let (store, _) = try ToolsCommand.store(profile, options)
            let (pins, pending) = try ToolsCommand.load(store)
            var any = false
            if let i = pending.instructions, i.sha256 != pins.instructions?.sha256 {
                any = true
                print(ToolsCommand.diff(old: pins.instructions, new: i, label: "instructions"), terminator: "")
            }
            for e in ToolsCommand.unapproved(pins, pending) {
                any = true
                print(ToolsCommand.diff(old: e.approved, new: e.pin, label: "tool \(e.name) (\(e.state))"), terminator: "")
            }
            if !any { print("no differences: nothing pending for \(Explain.visible(store.path))") }
        }
    }

    struct Approve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pin what the last session saw: asks for each new or changed definition (--all: approves them all).")

        @Argument(help: "Profile NAME or path to a .toml file.", completion: .custom(MCPBox.completeProfileNames))
        var profile: String

        @OptionGroup var options: ProfileOptions

        @Flag(help: "Approve every pending definition without asking (for scripts).")
        var all = false

        func run() throws {
            let (store, _) = try ToolsCommand.store(profile, options)
            var (pins, pending) = try ToolsCommand.load(store)
            let open = ToolsCommand.unapproved(pins, pending)
            let instructions = pending.instructions.flatMap { $0.sha256 == pins.instructions?.sha256 ? nil : $0 }
            guard !open.isEmpty || instructions != nil else {
                print("nothing to approve for \(Explain.visible(profile)): run the server through its client first (`mcpbox run \(Explain.visible(profile))`); mcpbox saves the definitions it could not expose")
                return
            }
            var approved = 0
            if let i = instructions {
                if all || ask(ToolsCommand.diff(old: pins.instructions, new: i, label: "instructions"), "approve the server's instructions?") {
                    pins.instructions = i
                    pending.instructions = nil
                    approved += 1
                }
            }
            for e in open {
                if e.state == "duplicate" {
                    Stderr.write("mcpbox: tools: \(ToolsCommand.shown(e.name)) was listed twice by the server: not approvable (the client could not tell which one a call reaches); it stays hidden")
                    continue
                }
                if all || ask(ToolsCommand.diff(old: e.approved, new: e.pin, label: "tool \(e.name) (\(e.state))"), "approve \(ToolsCommand.shown(e.name))?") {
                    pins.approve(e.pin)
                    pending.tools.removeAll { $0 == e.pin }
                    approved += 1
                }
            }
            do {
                // Nothing approved: no pin file appears (it would end pin_first_use's first run).
                if approved > 0 { try store.save(pins) }
                if pending.instructions == nil && pending.tools.allSatisfy({ pins.tool($0.name ?? "") == $0 }) {
                    store.clearPending()
                } else {
                    try store.savePending(pending)
                }
            } catch {
                Stderr.write("mcpbox: tools approve: \(error)")
                throw ExitCode(125)
            }
            print("approved \(approved) definition(s); pins in \(Explain.visible(store.path))")
        }

        /// Shows `text` and reads y/N from stdin (anything but y/yes declines; end of input declines).
        func ask(_ text: String, _ question: String) -> Bool {
            print(text, terminator: "")
            print(question + " [y/N] ", terminator: "")
            fflush(nil)
            guard let answer = readLine() else { print(); return false }
            return ["y", "yes"].contains(answer.filter { $0 != " " && $0 != "\t" }.lowercased())
        }
    }

    struct Reset: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete the pin file (and the pending definitions) of PROFILE.")

        @Argument(help: "Profile NAME or path to a .toml file.", completion: .custom(MCPBox.completeProfileNames))
        var profile: String

        @OptionGroup var options: ProfileOptions

        func run() throws {
            let (store, _) = try ToolsCommand.store(profile, options)
            do {
                print(try store.reset() ? "deleted the pins of \(Explain.visible(profile)) (\(Explain.visible(store.path)))" : "no pins for \(Explain.visible(profile)) (\(Explain.visible(store.path)))")
            } catch {
                Stderr.write("mcpbox: tools reset: \(error)")
                throw ExitCode(125)
            }
        }
    }

    /// A unified-style diff of two pretty-printed canonical values (`-` approved, `+` seen).
    static func diff(old: Pin?, new: Pin, label: String) -> String {
        let a = old.flatMap { Canonical.pretty($0.value) }.map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) } ?? []
        let b = (Canonical.pretty(new.value) ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Names come from the server: shown escaped, like every line below.
        var out = Explain.visible("--- \(label): approved\(old.map { " sha256:" + $0.sha256 } ?? " (none)")") + "\n"
            + Explain.visible("+++ \(label): seen sha256:\(new.sha256)") + "\n"
        for line in lineDiff(a, b) { out += Explain.visible(line) + "\n" }
        return out
    }

    /// Lines prefixed " ", "-" or "+" (a longest-common-subsequence diff; plain replacement when
    /// the inputs are too long for the table).
    static func lineDiff(_ a: [String], _ b: [String]) -> [String] {
        // By their bytes: Swift's `==` is canonical equivalence, so a definition changed only
        // from NFC to NFD (or K to U+212A KELVIN SIGN) showed no changed line.
        func same(_ x: String, _ y: String) -> Bool { x.utf8.elementsEqual(y.utf8) }
        guard a.count * b.count <= 4_000_000 else { return a.map { "-" + $0 } + b.map { "+" + $0 } }
        var l = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                l[i][j] = same(a[i], b[j]) ? l[i + 1][j + 1] + 1 : max(l[i + 1][j], l[i][j + 1])
            }
        }
        var out: [String] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, same(a[i], b[j]) { out.append(" " + a[i]); i += 1; j += 1 }
            else if j < b.count, i == a.count || l[i][j + 1] >= l[i + 1][j] { out.append("+" + b[j]); j += 1 }
            else { out.append("-" + a[i]); i += 1 }
        }
        return out
    }
}
