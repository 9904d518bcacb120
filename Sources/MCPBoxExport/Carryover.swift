import MCPBoxCore

/// One restriction of the plan and what became of it in an exported format.
public struct Carryover: Sendable, Equatable {
    public enum Status: String, Sendable, Equatable {
        /// Stated in the export with the same effect.
        case carried
        /// Stated, but weaker or narrower than under `mcpbox run` in a way `detail` names.
        case partial
        /// Not in the export at all.
        case dropped
    }
    /// The restriction, as explain names it ("seccomp", "mount /usr", "landlock").
    public var restriction: String
    public var status: Status
    /// How it was carried over, or why it could not be.
    public var detail: String

    public init(_ restriction: String, _ status: Status, _ detail: String) {
        self.restriction = restriction
        self.status = status
        self.detail = detail
    }
}

/// The "not carried over" report: text table and JSON.
public enum CarryoverReport {
    /// Rows whose status is not `carried`.
    public static func lost(_ rows: [Carryover]) -> [Carryover] { rows.filter { $0.status != .carried } }

    public static func text(format: String, rows: [Carryover]) -> String {
        let width = min(40, rows.map { $0.restriction.count }.max() ?? 0)
        var out = "\(format) export: \(rows.count) restrictions, \(rows.filter { $0.status == .carried }.count) carried, "
            + "\(rows.filter { $0.status == .partial }.count) partial, \(rows.filter { $0.status == .dropped }.count) dropped\n"
        for r in rows {
            let name = Explain.visible(r.restriction)
            let pad = String(repeating: " ", count: max(1, width - name.count + 1))
            out += "  \(r.status.rawValue.padding(7)) \(name)\(pad)\(Explain.visible(r.detail))\n"
        }
        return out
    }

    public static func node(format: String, output: String, files: [String], rows: [Carryover]) -> Node {
        .object([
            ("schema", .int(1)),
            ("format", .string(format)),
            ("output", .string(output)),
            ("files", .array(files.map(Node.string))),
            ("restrictions", .array(rows.map {
                .object([("restriction", .string($0.restriction)), ("status", .string($0.status.rawValue)), ("detail", .string($0.detail))])
            })),
        ])
    }
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}
