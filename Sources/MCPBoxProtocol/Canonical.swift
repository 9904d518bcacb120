/// RFC 8785 JSON Canonicalization Scheme (JCS), the text pins are hashed over: object members
/// sorted by their keys' UTF-16 code units, no whitespace, numbers in ECMAScript's shortest
/// round-trip form (`Number.prototype.toString`), strings with the minimal escapes.
public enum Canonical {
    /// The JCS text of `value`; nil when it holds a number JCS cannot express (NaN, ±Infinity,
    /// or a literal outside the double range).
    public static func serialize(_ value: JSON) -> String? {
        var out = ""
        return write(value, into: &out) ? out : nil
    }

    /// Sorted keys like `serialize`, two-space indented, one member or element per line (for
    /// showing and diffing definitions); nil as for `serialize`.
    public static func pretty(_ value: JSON) -> String? {
        var out = ""
        return writePretty(value, indent: "", into: &out) ? out : nil
    }

    /// Members in JCS order: by UTF-16 code units.
    static func sorted(_ pairs: [(String, JSON)]) -> [(String, JSON)] {
        pairs.sorted { a, b in a.0.utf16.lexicographicallyPrecedes(b.0.utf16) }
    }

    private static func write(_ v: JSON, into out: inout String) -> Bool {
        switch v {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let text):
            guard let n = number(text) else { return false }
            out += n
        case .string(let s): quote(s, into: &out)
        case .array(let items):
            out += "["
            for (i, e) in items.enumerated() {
                if i > 0 { out += "," }
                guard write(e, into: &out) else { return false }
            }
            out += "]"
        case .object(let pairs):
            out += "{"
            for (i, (k, e)) in sorted(pairs).enumerated() {
                if i > 0 { out += "," }
                quote(k, into: &out)
                out += ":"
                guard write(e, into: &out) else { return false }
            }
            out += "}"
        }
        return true
    }

    private static func writePretty(_ v: JSON, indent: String, into out: inout String) -> Bool {
        let inner = indent + "  "
        switch v {
        case .array(let items) where !items.isEmpty:
            out += "[\n"
            for (i, e) in items.enumerated() {
                out += inner
                guard writePretty(e, indent: inner, into: &out) else { return false }
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += indent + "]"
        case .object(let pairs) where !pairs.isEmpty:
            out += "{\n"
            let members = sorted(pairs)
            for (i, (k, e)) in members.enumerated() {
                out += inner
                quote(k, into: &out)
                out += ": "
                guard writePretty(e, indent: inner, into: &out) else { return false }
                out += i + 1 < members.count ? ",\n" : "\n"
            }
            out += indent + "}"
        default:
            return write(v, into: &out)
        }
        return true
    }

    /// A JSON string literal as JCS writes it: `"` and `\` escaped, `\b \t \n \f \r` in short
    /// form, other control characters as `\u00xx` (lowercase hex), everything else as is.
    public static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u.value {
            case 0x22: out += "\\\""
            case 0x5c: out += "\\\\"
            case 0x08: out += "\\b"
            case 0x09: out += "\\t"
            case 0x0a: out += "\\n"
            case 0x0c: out += "\\f"
            case 0x0d: out += "\\r"
            case 0..<0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }

    /// A JSON number literal in ECMAScript's `Number::toString` form (RFC 8785 section 3.2.2.3);
    /// nil when it is not a finite double.
    /// An integer literal (no fraction, no exponent) is expressible only when that form is its
    /// own digits: `9007199254740993` is not a double (JCS would write `9007199254740992`, and
    /// a Python client keeps the integer exact), so it is not expressible.
    public static func number(_ text: String) -> String? {
        guard let d = Double(text), d.isFinite else { return nil }
        let form = number(d)
        if text.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || ($0 >= 0x30 && $0 <= 0x39) }), text.utf8.count > 15 {
            let digits = text.hasPrefix("-") ? String(text.dropFirst()) : text
            let shown = form.hasPrefix("-") ? String(form.dropFirst()) : form
            guard digits == shown else { return nil }
        }
        return form
    }

    public static func number(_ d: Double) -> String {
        if d == 0 { return "0" }
        if d < 0 { return "-" + number(-d) }
        // Swift's description holds the shortest digits that round-trip (closest on ties), as
        // ECMAScript requires; only their layout differs.
        let text = d.description
        let parts = text.split(separator: "e", maxSplits: 1)
        var exponent = parts.count > 1 ? Int(parts[1])! : 0
        var mantissa = Array(parts[0].utf8)
        let point = mantissa.firstIndex(of: UInt8(ascii: ".")) ?? mantissa.count
        mantissa.removeAll { $0 == UInt8(ascii: ".") }
        exponent += point
        while mantissa.first == UInt8(ascii: "0") { mantissa.removeFirst(); exponent -= 1 }
        while mantissa.last == UInt8(ascii: "0") { mantissa.removeLast() }
        // value = 0.DIGITS × 10^exponent, i.e. DIGITS × 10^(n-k) with n = exponent, k = count.
        let digits = String(decoding: mantissa, as: UTF8.self)
        let k = mantissa.count, n = exponent
        if k <= n && n <= 21 { return digits + String(repeating: "0", count: n - k) }
        if 0 < n && n <= 21 { return String(digits.prefix(n)) + "." + String(digits.dropFirst(n)) }
        if -6 < n && n <= 0 { return "0." + String(repeating: "0", count: -n) + digits }
        let e = n - 1
        let exp = e < 0 ? "e-\(-e)" : "e+\(e)"
        return k == 1 ? digits + exp : String(digits.prefix(1)) + "." + String(digits.dropFirst()) + exp
    }
}
