import MCPBoxCore

/// The plan's seccomp stages (`SeccompRuleList`) as one OCI `linux.seccomp` object.
///
/// OCI runtimes load one libseccomp filter; mcpbox chains two (a guard with default allow, then
/// the allow-list with the profile's default). The single filter states the same decision per
/// syscall: the guard's refusals as they are, the allow-list's rules as they are for syscalls the
/// guard does not filter by argument, and for those it does, allow rules whose conditions are
/// the complement of the guard's (libseccomp cannot refuse an argument value of a syscall it also
/// allows unconditionally). A guard shape this translator does not know is an error, never a
/// silently wider rule.
public enum OCISeccomp {
    public struct Translation: Sendable {
        public var node: Node
        /// Where the single filter differs from mcpbox's chain (for the report).
        public var differences: [String]
    }

    public struct Untranslatable: Error, CustomStringConvertible {
        public var syscall: String
        public var description: String { "seccomp: the guard rules of \(syscall) have a shape the OCI export cannot state exactly" }
    }

    static let u32: UInt64 = 0xffff_ffff

    public static func translate(_ policy: SeccompPolicy) throws -> Translation {
        let list = try SeccompRuleList(policy)
        let guardStage = list.stages[0]
        let final = list.stages.count > 1 ? list.stages[1] : nil
        var differences: [String] = []
        var entries: [(name: String, action: SeccompRuleList.Action, args: [SeccompRuleList.Arg])] = []

        var conditional: [String: [SeccompRuleList.Rule]] = [:]
        var unconditional = Set<String>()
        for rule in guardStage.rules {
            entries.append((rule.name, rule.action, rule.args))
            if rule.args.isEmpty { unconditional.insert(rule.name) } else { conditional[rule.name, default: []].append(rule) }
        }
        let defaultAction: SeccompRuleList.Action
        if let final {
            defaultAction = final.defaultAction
            for rule in final.rules where !unconditional.contains(rule.name) {
                guard let guards = conditional[rule.name] else {
                    entries.append((rule.name, rule.action, rule.args))
                    continue
                }
                guard rule.args.isEmpty else { throw Untranslatable(syscall: rule.name) }
                let (allowed, note) = try complement(rule.name, guards)
                if let note { differences.append(note) }
                for args in allowed { entries.append((rule.name, .allow, args)) }
            }
        } else {
            defaultAction = guardStage.defaultAction
        }
        differences.append("non-native ABIs (i386, x32): the runtime's bad-architecture action (crun: the thread is killed; mcpbox kills the process)")

        // Never two conditions on one argument in a rule: the runtimes would OR them.
        for e in entries where Set(e.args.map(\.index)).count < e.args.count { throw Untranslatable(syscall: e.name) }

        // Group consecutive identical (action, args) entries by name list, as OCI profiles do.
        var syscalls: [Node] = []
        for e in entries {
            var fields: [(String, Node)] = [("names", .array([.string(e.name)])), ("action", .string(actionName(e.action)))]
            if case .errno(let code) = e.action { fields.append(("errnoRet", .uint(UInt64(code)))) }
            if !e.args.isEmpty { fields.append(("args", .array(e.args.map(argNode)))) }
            syscalls.append(.object(fields))
        }
        var fields: [(String, Node)] = [("defaultAction", .string(actionName(defaultAction)))]
        if case .errno(let code) = defaultAction { fields.append(("defaultErrnoRet", .uint(UInt64(code)))) }
        fields.append(("architectures", .array([.string(nativeArchitecture)])))
        fields.append(("syscalls", .array(syscalls)))
        return Translation(node: .object(fields), differences: differences)
    }

    #if arch(x86_64)
    public static let nativeArchitecture = "SCMP_ARCH_X86_64"
    #elseif arch(arm64)
    public static let nativeArchitecture = "SCMP_ARCH_AARCH64"
    #else
    public static let nativeArchitecture = "SCMP_ARCH_NATIVE"
    #endif

    public static func actionName(_ a: SeccompRuleList.Action) -> String {
        switch a {
        case .allow: return "SCMP_ACT_ALLOW"
        case .errno: return "SCMP_ACT_ERRNO"
        case .killProcess: return "SCMP_ACT_KILL_PROCESS"
        case .log: return "SCMP_ACT_LOG"
        }
    }

    public static func opName(_ o: SeccompRuleList.Arg.Op) -> String {
        switch o {
        case .notEqual: return "SCMP_CMP_NE"
        case .lessThan: return "SCMP_CMP_LT"
        case .lessOrEqual: return "SCMP_CMP_LE"
        case .equal: return "SCMP_CMP_EQ"
        case .greaterOrEqual: return "SCMP_CMP_GE"
        case .greaterThan: return "SCMP_CMP_GT"
        case .maskedEqual: return "SCMP_CMP_MASKED_EQ"
        }
    }

    static func argNode(_ a: SeccompRuleList.Arg) -> Node {
        .object([("index", .uint(UInt64(a.index))), ("value", .uint(a.datumA)),
                 ("valueTwo", .uint(a.datumB)), ("op", .string(opName(a.op)))])
    }

    typealias Arg = SeccompRuleList.Arg

    /// Allow conditions (a disjunction of conjunctions) that hold exactly when none of `guards`
    /// does, for the shapes the guard uses; a note when the complement is narrower than exact.
    static func complement(_ name: String, _ guards: [SeccompRuleList.Rule]) throws -> ([[Arg]], String?) {
        let singles = guards.filter { $0.args.count == 1 }.map { $0.args[0] }
        let pairs = guards.filter { $0.args.count == 2 }.map { ($0.args[0], $0.args[1]) }
        guard singles.count + pairs.count == guards.count else { throw Untranslatable(syscall: name) }

        // Shape 1: "any of these bits set" on one argument (clone/unshare flags, mode bits).
        if pairs.isEmpty, let index = singles.first?.index,
           singles.allSatisfy({ $0.index == index && $0.op == .maskedEqual && $0.datumA == $0.datumB && $0.datumA.nonzeroBitCount == 1 }) {
            let mask = singles.reduce(UInt64(0)) { $0 | $1.datumA }
            return ([[Arg(index: index, op: .maskedEqual, datumA: mask, datumB: 0)]], nil)
        }
        // Shape 2: "this bit set in one argument and that bit in another" (open/openat: a
        // creating flag with a setuid/setgid mode bit): allowed when no such flag, or no such bit.
        if singles.isEmpty, let first = pairs.first,
           pairs.allSatisfy({ p in [p.0, p.1].allSatisfy { $0.op == .maskedEqual && $0.datumA == $0.datumB && $0.datumA.nonzeroBitCount == 1 }
               && p.0.index == first.0.index && p.1.index == first.1.index && p.0.index != p.1.index }) {
            let flags = pairs.reduce(UInt64(0)) { $0 | $1.0.datumA }
            let bits = pairs.reduce(UInt64(0)) { $0 | $1.1.datumA }
            // Every (flag, bit) combination must be refused for the complement to be exact.
            let combos = Set(pairs.map { "\($0.0.datumA)/\($0.1.datumA)" })
            guard combos.count == flags.nonzeroBitCount * bits.nonzeroBitCount else { throw Untranslatable(syscall: name) }
            return ([[Arg(index: first.0.index, op: .maskedEqual, datumA: flags, datumB: 0)],
                     [Arg(index: first.1.index, op: .maskedEqual, datumA: bits, datumB: 0)]], nil)
        }
        // Shape 3: refused values of one 32-bit argument (ioctl requests, fcntl commands),
        // compared on the low 32 bits: allowed are the other values up to 2^32-1.
        if pairs.isEmpty, let index = singles.first?.index,
           singles.allSatisfy({ $0.index == index && $0.op == .maskedEqual && $0.datumA == u32 }) {
            let refused = Set(singles.map(\.datumB)).sorted()
            var allowed: [[Arg]] = []
            var low: UInt64 = 0
            for v in refused {
                if v > low { allowed += range(index, low, v - 1) }
                low = v + 1
            }
            allowed += range(index, low, u32)
            return (allowed, "\(name): refused values compared on the low 32 bits by mcpbox; the OCI rules allow the other values only "
                + "up to 2^32-1, so a value with high bits set (which the kernel truncates) gets the default action instead of being allowed")
        }
        // Shape 4: socket families: values above a bound, values one by one, and one value
        // refused unless a second argument is 0 (netlink: route only).
        if let index = singles.first?.index,
           singles.allSatisfy({ $0.index == index && ($0.op == .equal || $0.op == .greaterThan) }),
           singles.filter({ $0.op == .greaterThan }).count == 1,
           pairs.allSatisfy({ $0.0.index == index && $0.0.op == .equal && $0.1.op == .notEqual && $0.1.index != index }) {
            let bound = singles.first { $0.op == .greaterThan }!.datumA
            let refused = Set(singles.filter { $0.op == .equal }.map(\.datumA))
            let conditional = Dictionary(pairs.map { ($0.0.datumA, $0.1) }, uniquingKeysWith: { a, _ in a })
            var allowed: [[Arg]] = []
            for v in UInt64(0)...bound where !refused.contains(v) {
                if let other = conditional[v] {
                    allowed.append([Arg(index: index, op: .equal, datumA: v, datumB: 0),
                                    Arg(index: other.index, op: .equal, datumA: other.datumA, datumB: 0)])
                } else {
                    allowed.append([Arg(index: index, op: .equal, datumA: v, datumB: 0)])
                }
            }
            return (allowed, nil)
        }
        throw Untranslatable(syscall: name)
    }

    /// `low...high` of one argument as alternatives of one condition each: runc and crun load a
    /// rule with two conditions on one argument as one rule per condition (libseccomp refuses
    /// them in one rule), which ORs them, so `GE low, LE high` would allow every value. Each
    /// alternative is an aligned block (`value & ~(2^k-1) == start`), at most 128 of them.
    static func range(_ index: UInt32, _ low: UInt64, _ high: UInt64) -> [[Arg]] {
        if low == 0 { return [[Arg(index: index, op: .lessOrEqual, datumA: high, datumB: 0)]] }
        var out: [[Arg]] = []
        var start = low
        while start <= high {
            // The largest aligned block at `start` that ends at or before `high`.
            var size: UInt64 = start == 0 ? 1 << 63 : start & (~start &+ 1)
            while size > 1 && (high - start) < size - 1 { size >>= 1 }
            out.append([Arg(index: index, op: .maskedEqual, datumA: ~(size - 1), datumB: start)])
            let (next, overflow) = start.addingReportingOverflow(size)
            if overflow { break }
            start = next
        }
        return out
    }
}
