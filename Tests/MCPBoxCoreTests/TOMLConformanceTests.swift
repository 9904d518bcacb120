import Foundation
import Testing
@testable import MCPBoxCore

/// The official TOML 1.0.0 conformance suite (toml-lang/toml-test), read from `../shared/conformance/toml-test`
/// beside the package; see its README for the tagged-JSON form of the expected values.
@Suite struct TOMLConformanceTests {
    static let suite = URL(fileURLWithPath: Fixture.packageRoot + "/../shared/conformance/toml-test").standardized.path

    /// The cases named in `files-toml-1.0.0`; fails (never passes vacuously) when the suite is missing.
    static func cases() throws -> (valid: [String], invalid: [String]) {
        let list = suite + "/files-toml-1.0.0"
        guard let text = try? String(contentsOfFile: list, encoding: .utf8) else {
            throw SuiteMissing(path: list)
        }
        let names = text.split(whereSeparator: \.isNewline).map(String.init).filter { $0.hasSuffix(".toml") }
        return (names.filter { $0.hasPrefix("valid/") }, names.filter { $0.hasPrefix("invalid/") })
    }

    struct SuiteMissing: Error, CustomStringConvertible {
        var path: String
        var description: String { "TOML conformance suite not found: \(path) (expected shared/ beside the package root)" }
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: suite + "/" + name)))
    }

    @Test func everyValidCaseDecodesToTheExpectedValue() throws {
        let valid = try Self.cases().valid
        #expect(valid.count == 210)
        var passed = 0
        for name in valid {
            let json = String(name.dropLast(".toml".count)) + ".json"
            let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.suite + "/" + json)),
                                                            options: [.fragmentsAllowed])
            let input = try Self.bytes(name)
            do {
                let doc = try TOML.parse(bytes: input, file: name)
                if let problem = TaggedJSON.mismatch(TOMLValue(.table(doc), line: 1), expected, path: "") {
                    Issue.record("\(name): \(problem)")
                } else {
                    passed += 1
                }
            } catch {
                Issue.record("\(name): rejected: \(error)")
            }
        }
        print("TOML conformance: \(passed) of \(valid.count) valid cases decode to the expected value")
        #expect(passed == valid.count)
    }

    @Test func everyInvalidCaseIsRejected() throws {
        let invalid = try Self.cases().invalid
        #expect(invalid.count == 499)
        var rejected = 0
        for name in invalid {
            let input = try Self.bytes(name)
            do {
                _ = try TOML.parse(bytes: input, file: name)
                Issue.record("\(name): accepted")
            } catch {
                #expect(error.file == name && error.line >= 1 && error.column >= 1, "\(error)")
                rejected += 1
            }
        }
        print("TOML conformance: \(rejected) of \(invalid.count) invalid cases rejected")
        #expect(rejected == invalid.count)
    }
}

/// Compares a parsed value with toml-test's tagged JSON the way its own runner does.
enum TaggedJSON {
    /// Why `value` differs from `expected`; nil when they match.
    static func mismatch(_ value: TOMLValue, _ expected: Any, path: String) -> String? {
        switch value.kind {
        case .table(let table):
            guard let object = expected as? [String: Any] else { return "\(path): table, expected \(expected)" }
            let keys = Set(table.keys)
            guard keys == Set(object.keys), keys.count == table.entries.count else {
                return "\(path): keys \(table.keys.sorted()), expected \(object.keys.sorted())"
            }
            for entry in table.entries {
                if let problem = mismatch(entry.value, object[entry.key]!, path: path + "." + entry.key) { return problem }
            }
            return nil
        case .array(let items):
            guard let array = expected as? [Any], array.count == items.count else {
                return "\(path): array of \(items.count), expected \(expected)"
            }
            for (i, item) in items.enumerated() {
                if let problem = mismatch(item, array[i], path: path + "[\(i)]") { return problem }
            }
            return nil
        default:
            guard let tagged = expected as? [String: Any], tagged.count == 2,
                  let type = tagged["type"] as? String, let text = tagged["value"] as? String else {
                return "\(path): \(value.kind), expected \(expected)"
            }
            return scalarMismatch(value.kind, type: type, text: text).map { "\(path): \($0)" }
        }
    }

    static func scalarMismatch(_ kind: TOMLValue.Kind, type: String, text: String) -> String? {
        switch kind {
        case .string(let s):
            return type == "string" && s == text ? nil : "string \(s.debugDescription), expected \(type) \(text.debugDescription)"
        case .integer(let i):
            return type == "integer" && Int64(text) == i ? nil : "integer \(i), expected \(type) \(text)"
        case .bool(let b):
            return type == "bool" && text.lowercased() == String(b) ? nil : "bool \(b), expected \(type) \(text)"
        case .float(let d):
            guard type == "float" else { return "float \(d), expected \(type) \(text)" }
            let want: Double? = switch text {
            case "nan", "+nan", "-nan": .nan
            case "inf", "+inf": .infinity
            case "-inf": -.infinity
            default: Double(text)
            }
            guard let want else { return "unreadable expected float \(text)" }
            if want.isNaN && d.isNaN { return nil }
            return want == d ? nil : "float \(d), expected \(text)"
        case .datetime(let s):
            guard let mine = instant(s), let theirs = instant(text) else { return "unreadable date-time \(s) / \(text)" }
            guard mine.kind == type else { return "\(mine.kind) \(s), expected \(type) \(text)" }
            return mine == theirs ? nil : "date-time \(s), expected \(text)"
        case .array, .table:
            return "not a scalar"
        }
    }

    struct Instant: Equatable {
        var kind: String
        /// Seconds from 0000-03-01 (UTC for offset date-times, wall clock for local ones).
        var seconds: Int
        /// Fractional digits without trailing zeros.
        var fraction: String
    }

    /// An RFC 3339-style date-time read by value: `T`, `t` or space between date and time, `Z`/`z` or ±HH:MM.
    static func instant(_ s: String) -> Instant? {
        let b = Array(s.utf8)
        func num(_ at: Int, _ n: Int) -> Int? {
            guard at + n <= b.count else { return nil }
            return Int(String(decoding: b[at..<at + n], as: UTF8.self))
        }
        var seconds = 0
        var i = 0
        var hasDate = false
        if b.count >= 10, b[4] == UInt8(ascii: "-") {
            guard let y0 = num(0, 4), let m = num(5, 2), let d = num(8, 2) else { return nil }
            // Days from civil (proleptic Gregorian), shifted so that the year starts in March.
            let y = m <= 2 ? y0 - 1 : y0
            let era = y / 400
            let yoe = y - era * 400
            let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
            seconds = (era * 146097 + doe) * 86400
            hasDate = true
            i = 10
            if i == b.count { return Instant(kind: "date-local", seconds: seconds, fraction: "") }
            i += 1
        }
        guard let h = num(i, 2), let mi = num(i + 3, 2), let se = num(i + 6, 2) else { return nil }
        seconds += h * 3600 + mi * 60 + se
        i += 8
        var fraction = ""
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { fraction.append(Character(Unicode.Scalar(b[i]))); i += 1 }
            while fraction.hasSuffix("0") { fraction.removeLast() }
        }
        if i == b.count { return Instant(kind: hasDate ? "datetime-local" : "time-local", seconds: seconds, fraction: fraction) }
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            return Instant(kind: "datetime", seconds: seconds, fraction: fraction)
        }
        guard let oh = num(i + 1, 2), let om = num(i + 4, 2) else { return nil }
        let offset = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
        return Instant(kind: "datetime", seconds: seconds - offset, fraction: fraction)
    }
}
