// libFuzzer entry for the TOML parser, compiled together with Sources/MCPBoxCore/TOML.swift by
// scripts/fuzz-toml. Besides "no crash, no hang": whatever parses must print back to TOML that
// parses to the same value (every value kind, keys quoted, tables inline, same nesting depth).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTOML(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let doc = try? TOML.parse(bytes: bytes, file: "fuzz") else { return 0 }
    let printed = FuzzPrinter.document(doc)
    do {
        let again = try TOML.parse(printed, file: "printed")
        precondition(FuzzPrinter.same(.table(doc), .table(again)), "round trip changed the value:\n\(printed)")
    } catch {
        preconditionFailure("printed document does not parse: \(error)\n\(printed)")
    }
    return 0
}

enum FuzzPrinter {
    static func document(_ t: TOMLTable) -> String {
        t.entries.map { TOML.string($0.key) + " = " + value($0.value.kind) + "\n" }.joined()
    }

    static func value(_ k: TOMLValue.Kind) -> String {
        switch k {
        case .string(let s): return TOML.string(s)
        case .integer(let i): return String(i)
        case .float(let d):
            if d.isNaN { return "nan" }
            if d.isInfinite { return d < 0 ? "-inf" : "inf" }
            return "\(d)"
        case .bool(let b): return b ? "true" : "false"
        case .datetime(let s): return s
        case .array(let items): return "[" + items.map { value($0.kind) }.joined(separator: ", ") + "]"
        case .table(let t): return "{" + t.entries.map { TOML.string($0.key) + " = " + value($0.value.kind) }.joined(separator: ", ") + "}"
        }
    }

    /// Equal values, lines ignored, NaN equal to NaN, -0.0 distinct from 0.0.
    static func same(_ a: TOMLValue.Kind, _ b: TOMLValue.Kind) -> Bool {
        switch (a, b) {
        case (.float(let x), .float(let y)):
            return (x.isNaN && y.isNaN) || (x == y && x.sign == y.sign)
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { same($0.kind, $1.kind) }
        case (.table(let x), .table(let y)):
            return x.entries.count == y.entries.count
                && zip(x.entries, y.entries).allSatisfy { $0.key == $1.key && same($0.value.kind, $1.value.kind) }
        default:
            return a == b
        }
    }
}
