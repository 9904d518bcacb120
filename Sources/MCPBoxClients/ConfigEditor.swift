import MCPBoxCore

/// One replacement of the bytes `start..<end` (an insertion when they are equal).
public struct Edit: Sendable, Equatable {
    public var start: Int
    public var end: Int
    public var replacement: [UInt8]
}

/// Byte-level helpers shared by the JSON and TOML editors.
public enum ConfigText {
    /// A string literal valid in both JSON and TOML (`TOML.string`).
    public static func encodeString(_ s: String) -> [UInt8] { Array(TOML.string(s).utf8) }

    /// `bytes` with the edits applied; edits must not overlap (insertions at one offset keep their order).
    public static func apply(_ edits: [Edit], to bytes: [UInt8]) -> [UInt8] {
        let sorted = edits.enumerated().sorted { ($0.element.start, $0.element.end, $0.offset) < ($1.element.start, $1.element.end, $1.offset) }.map(\.element)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + sorted.reduce(0) { $0 + $1.replacement.count })
        var at = 0
        for e in sorted {
            precondition(e.start >= at && e.end >= e.start && e.end <= bytes.count, "overlapping edits")
            out += bytes[at..<e.start]
            out += e.replacement
            at = e.end
        }
        out += bytes[at...]
        return out
    }
}

/// The format-preserving rewrite of one server entry.
///
/// `wrap` replaces the `command` value with mcpbox's path and inserts `"run", NAME, "--", <old
/// command token, byte for byte>` before the first element of `args` (separated the way the
/// array already separates its elements), so every original element keeps its bytes. A missing
/// `args` is added right after `command` (`, "args": [...]` in JSON, a new `args = [...]` line
/// in TOML); an empty one gets the elements followed by one space before its `]`. `unwrap` is
/// the exact inverse of each of the three forms, so wrap→unwrap gives back the original file.
public enum EntryEditor {
    /// Whether `command` is mcpbox (any path ending in `/mcpbox`, bare `mcpbox`, or what
    /// `isSelf` recognizes: the running mcpbox under another name).
    public static func isMCPBox(_ command: String, or isSelf: (String) -> Bool = { _ in false }) -> Bool {
        command == "mcpbox" || command.hasSuffix("/mcpbox") || isSelf(command)
    }

    /// `options` are `mcpbox run` options written between NAME and `--` (`--profile-path DIR`).
    public static func wrapEdits(_ e: ServerEntry, profile: String, options: [String] = [], mcpbox: String, in bytes: [UInt8]) -> [Edit] {
        guard let cmd = e.command else { return [] }
        let raw = Array(bytes[cmd.start..<cmd.end])
        let elements = ([ConfigText.encodeString("run"), ConfigText.encodeString(profile)] + options.map(ConfigText.encodeString)
            + [ConfigText.encodeString("--"), raw])
        var edits = [Edit(start: cmd.start, end: cmd.end, replacement: ConfigText.encodeString(mcpbox))]
        switch e.args {
        case .absent:
            let list = [0x5B] + join(elements, Array(", ".utf8)) + [0x5D]
            if e.isTOML {
                let nl: [UInt8] = e.commandLineEnd < bytes.count && bytes[e.commandLineEnd] == 0x0D ? [0x0D, 0x0A] : [0x0A]
                edits.append(Edit(start: e.commandLineEnd, end: e.commandLineEnd, replacement: nl + Array("args = ".utf8) + list))
            } else {
                edits.append(Edit(start: cmd.end, end: cmd.end, replacement: Array(", \"args\": ".utf8) + list))
            }
        case .strings(let items, let open, let close, _, _):
            if let first = items.first {
                let sep = separator(Array(bytes[(open + 1)..<first.start]))
                edits.append(Edit(start: first.start, end: first.start, replacement: join(elements, [0x2C] + sep) + [0x2C] + sep))
            } else {
                edits.append(Edit(start: close, end: close, replacement: join(elements, Array(", ".utf8)) + [0x20]))
            }
        case .invalid:
            return []
        }
        return edits
    }

    /// The wrapped command's parts: the profile, and the index of the element holding the original command.
    public static func wrapped(_ e: ServerEntry, isSelf: (String) -> Bool = { _ in false }) -> (profile: String, commandIndex: Int)? {
        guard let cmd = e.command, isMCPBox(cmd.value, or: isSelf), case .strings(let items, _, _, _, _) = e.args,
              items.count >= 4, items[0].value == "run",
              let dd = items.indices.dropFirst(2).first(where: { items[$0].value == "--" }), dd + 1 < items.count else { return nil }
        return (items[1].value, dd + 1)
    }

    public static func unwrapEdits(_ e: ServerEntry, in bytes: [UInt8], isSelf: (String) -> Bool = { _ in false }) -> [Edit] {
        guard let (_, ci) = wrapped(e, isSelf: isSelf), let cmd = e.command, case .strings(let items, let open, let close, let keyStart, let lineEnd) = e.args else { return [] }
        let original = items[ci]
        var edits = [Edit(start: cmd.start, end: cmd.end, replacement: Array(bytes[original.start..<original.end]))]
        if ci + 1 < items.count {
            edits.append(Edit(start: items[0].start, end: items[ci + 1].start, replacement: []))
        } else if original.end + 1 < bytes.count, bytes[original.end] == 0x20, original.end + 1 == close {
            edits.append(Edit(start: items[0].start, end: original.end + 1, replacement: []))
        } else if original.end == close, let start = addedArgsStart(e, keyStart: keyStart, open: open, close: close, lineEnd: lineEnd, bytes: bytes) {
            edits.append(Edit(start: start, end: close + 1, replacement: []))
        } else {
            edits.append(Edit(start: items[0].start, end: original.end, replacement: []))
            // A trailing comma after the last element (`"cmd",\n]`) would be left alone in the
            // emptied array (`[ , ]`, which neither JSON nor TOML reads): it goes too.
            if let comma = trailingComma(after: original.end, close: close, isTOML: e.isTOML, bytes: bytes) {
                edits.append(Edit(start: comma, end: comma + 1, replacement: []))
            }
        }
        return edits
    }

    /// The offset of the comma between the last element of an array (ending at `from`) and its
    /// `]` at `close`, when there is one; comments between them are skipped (`#` in TOML, `//`
    /// and `/* */` in JSONC), since a comment may itself hold a comma.
    static func trailingComma(after from: Int, close: Int, isTOML: Bool, bytes: [UInt8]) -> Int? {
        var i = from
        while i < close {
            switch bytes[i] {
            case 0x2C: return i
            case 0x23 where isTOML:
                while i < close && bytes[i] != 0x0A { i += 1 }
            case 0x2F where !isTOML && i + 1 < close && bytes[i + 1] == 0x2F:
                while i < close && bytes[i] != 0x0A { i += 1 }
            case 0x2F where !isTOML && i + 1 < close && bytes[i + 1] == 0x2A:
                i += 2
                while i + 1 < close && !(bytes[i] == 0x2A && bytes[i + 1] == 0x2F) { i += 1 }
                i += 2
            default: i += 1
            }
        }
        return nil
    }

    /// Where the `args` that wrap added (the file had none) begins, when it is in exactly the form wrap writes.
    static func addedArgsStart(_ e: ServerEntry, keyStart: Int, open: Int, close: Int, lineEnd: Int, bytes: [UInt8]) -> Int? {
        guard let cmd = e.command else { return nil }
        if e.isTOML {
            let s = e.commandLineEnd
            guard lineEnd == close + 1, s < keyStart else { return nil }
            let between = Array(bytes[s..<open])
            return between == Array("\nargs = ".utf8) || between == Array("\r\nargs = ".utf8) ? s : nil
        }
        return Array(bytes[cmd.end..<open]) == Array(", \"args\": ".utf8) ? cmd.end : nil
    }

    /// How wrap separates the elements it inserts: like the array's own layout (a newline and the
    /// first element's indentation for a multi-line array), else one space.
    static func separator(_ leading: [UInt8]) -> [UInt8] {
        guard let nl = leading.lastIndex(of: 0x0A) else { return [0x20] }
        let indent = leading[(nl + 1)...].prefix { $0 == 0x20 || $0 == 0x09 }
        let crlf = nl > 0 && leading[nl - 1] == 0x0D
        return (crlf ? [0x0D, 0x0A] : [0x0A]) + Array(indent)
    }

    static func join(_ parts: [[UInt8]], _ sep: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for (i, p) in parts.enumerated() {
            if i > 0 { out += sep }
            out += p
        }
        return out
    }
}
