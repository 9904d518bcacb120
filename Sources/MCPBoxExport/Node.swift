import MCPBoxCore

/// A JSON/YAML value with ordered object keys: every exported document is built as one of
/// these and rendered by `json()` or `yaml()`, so key order (and so every diff) is stable.
public indirect enum Node: Sendable, Equatable {
    case object([(String, Node)])
    case array([Node])
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case bool(Bool)
    case null

    public static func == (a: Node, b: Node) -> Bool { a.json() == b.json() }

    /// `self[key]` of an object, nil otherwise.
    public subscript(key: String) -> Node? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    /// Pretty JSON, 2-space indent, trailing newline.
    public func json() -> String {
        var out = ""
        writeJSON(&out, indent: 0)
        return out + "\n"
    }

    private func writeJSON(_ out: inout String, indent: Int) {
        let pad = String(repeating: "  ", count: indent + 1)
        let end = String(repeating: "  ", count: indent)
        switch self {
        case .object(let pairs):
            if pairs.isEmpty { out += "{}"; return }
            out += "{\n"
            for (i, (k, v)) in pairs.enumerated() {
                out += pad + ExplainJSON.string(k) + ": "
                v.writeJSON(&out, indent: indent + 1)
                out += i == pairs.count - 1 ? "\n" : ",\n"
            }
            out += end + "}"
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            if items.allSatisfy(\.isScalar) {
                out += "[" + items.map { $0.scalarJSON }.joined(separator: ", ") + "]"
                return
            }
            out += "[\n"
            for (i, v) in items.enumerated() {
                out += pad
                v.writeJSON(&out, indent: indent + 1)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += end + "]"
        default:
            out += scalarJSON
        }
    }

    var isScalar: Bool {
        switch self {
        case .object, .array: return false
        default: return true
        }
    }

    private var scalarJSON: String {
        switch self {
        case .string(let s): return ExplainJSON.string(s)
        case .int(let i): return String(i)
        case .uint(let u): return String(u)
        case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        default: return ""
        }
    }

    /// Block-style YAML (2-space indent); strings always double-quoted (JSON escapes are valid
    /// YAML), so no value is ever read back as another type.
    public func yaml() -> String {
        var out = ""
        writeYAML(&out, indent: 0)
        return out
    }

    private func writeYAML(_ out: inout String, indent: Int) {
        let pad = String(repeating: "  ", count: indent)
        switch self {
        case .object(let pairs):
            if pairs.isEmpty { out += pad + "{}\n"; return }
            for (k, v) in pairs {
                let key = pad + yamlKey(k) + ":"
                switch v {
                case .object(let p) where !p.isEmpty:
                    out += key + "\n"
                    v.writeYAML(&out, indent: indent + 1)
                case .array(let a) where !a.isEmpty:
                    out += key + "\n"
                    v.writeYAML(&out, indent: indent)
                default:
                    out += key + " " + v.inlineYAML + "\n"
                }
            }
        case .array(let items):
            for item in items {
                switch item {
                case .object(let p) where !p.isEmpty:
                    var nested = ""
                    item.writeYAML(&nested, indent: indent + 1)
                    // The first key goes on the dash line.
                    let trimmed = nested.dropFirst((indent + 1) * 2)
                    out += pad + "- " + trimmed
                case .array(let a) where !a.isEmpty:
                    out += pad + "-\n"
                    item.writeYAML(&out, indent: indent + 1)
                default:
                    out += pad + "- " + item.inlineYAML + "\n"
                }
            }
        default:
            out += pad + inlineYAML + "\n"
        }
    }

    private var inlineYAML: String {
        switch self {
        case .object: return "{}"
        case .array: return "[]"
        default: return scalarJSON
        }
    }

    private func yamlKey(_ k: String) -> String {
        let plain = !k.isEmpty && k.unicodeScalars.allSatisfy {
            ($0.value >= 0x61 && $0.value <= 0x7a) || ($0.value >= 0x41 && $0.value <= 0x5a)
                || ($0.value >= 0x30 && $0.value <= 0x39) || "._-/".unicodeScalars.contains($0)
        }
        // YAML 1.1 readers take these plain words as booleans or null.
        let reserved = ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"].contains(k.lowercased())
        return plain && !reserved ? k : ExplainJSON.string(k)
    }
}
