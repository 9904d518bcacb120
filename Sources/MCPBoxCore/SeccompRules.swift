/// The lowered seccomp policy as public data, for consumers that translate it into another
/// format (`export`): the same stages and rules `Seccomp.compile` hands to libseccomp.
public struct SeccompRuleList: Sendable, Equatable {
    /// What a rule or a stage's default does.
    public enum Action: Sendable, Equatable {
        case allow
        case errno(Int32)
        case killProcess
        case log
    }
    /// One argument comparison (libseccomp's `scmp_compare` names, lowercased).
    public struct Arg: Sendable, Equatable {
        public enum Op: String, Sendable, Equatable {
            case notEqual, lessThan, lessOrEqual, equal, greaterOrEqual, greaterThan, maskedEqual
        }
        public var index: UInt32
        public var op: Op
        /// The value, or for `maskedEqual` the mask.
        public var datumA: UInt64
        /// For `maskedEqual`, the value the masked argument must equal.
        public var datumB: UInt64

        public init(index: UInt32, op: Op, datumA: UInt64, datumB: UInt64) {
            self.index = index
            self.op = op
            self.datumA = datumA
            self.datumB = datumB
        }
    }
    public struct Rule: Sendable, Equatable {
        public var name: String
        public var action: Action
        /// All must hold; empty = unconditional.
        public var args: [Arg]
    }
    public struct Stage: Sendable, Equatable {
        public var defaultAction: Action
        public var rules: [Rule]

        public init(defaultAction: Action, rules: [Rule]) {
            self.defaultAction = defaultAction
            self.rules = rules
        }
    }
    /// Evaluated in order; every stage but the last passes `allow` on to the next.
    public var stages: [Stage]

    /// The stages `Seccomp.compile` builds for `policy` (after the same name validation).
    public init(_ policy: SeccompPolicy) throws(SeccompError) {
        try Seccomp.validateNames(policy)
        stages = SeccompProgram(policy).stages.map { stage in
            Stage(defaultAction: Self.action(stage.defaultAction), rules: stage.rules.map { rule in
                Rule(name: rule.name, action: Self.action(rule.action), args: rule.args.map {
                    Arg(index: $0.index, op: Self.op($0.op), datumA: $0.datumA, datumB: $0.datumB)
                })
            })
        }
    }

    private static func action(_ a: SeccompAction) -> Action {
        switch a {
        case .allow: return .allow
        case .errno(let e): return .errno(e)
        case .killProcess: return .killProcess
        case .log: return .log
        }
    }

    private static func op(_ o: SeccompArg.Op) -> Arg.Op {
        switch o {
        case .notEqual: return .notEqual
        case .lessThan: return .lessThan
        case .lessOrEqual: return .lessOrEqual
        case .equal: return .equal
        case .greaterOrEqual: return .greaterOrEqual
        case .greaterThan: return .greaterThan
        case .maskedEqual: return .maskedEqual
        }
    }
}

/// The fixed parts of the sandbox's /proc and /dev that the child stage builds (mounts.c), as
/// data for `export`; a test keeps the two in step.
public enum SandboxLayout {
    /// /proc entries remounted read-only.
    public static let procReadOnly = ["sys", "sysrq-trigger", "irq", "bus", "fs"]
    /// /proc files covered by an empty file.
    public static let procMaskedFiles = ["kcore", "keys", "timer_list", "timer_stats", "sched_debug", "latency_stats"]
    /// /proc directories covered by an empty read-only directory.
    public static let procMaskedDirs = ["acpi", "scsi", "asound"]
    /// Host character devices bound into /dev.
    public static let devNodes = ["null", "zero", "full", "random", "urandom"]
    /// Symbolic links in /dev: name and target.
    public static let devLinks = [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                                  ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")]
}
