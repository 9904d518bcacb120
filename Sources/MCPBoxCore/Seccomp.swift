import CSandbox
import CSeccomp
#if canImport(Glibc)
import Glibc
#endif

/// seccomp policy compilation: a `SeccompPolicy` becomes one classic-BPF program.
///
/// The program is two libseccomp filters chained into one: a guard (default allow) that refuses
/// the dangerous syscalls and the dangerous argument values (namespace flags, TIOCSTI, foreign
/// socket families), then, for the `default` preset, the allow-list with the profile's default
/// action. libseccomp cannot refuse an argument value of a syscall it otherwise allows
/// unconditionally; the chain does, with each filter written by libseccomp alone.
public enum Seccomp {
    /// Whether `name` is a syscall on the native architecture (libseccomp's table, plus syscalls
    /// newer than it on x86_64).
    public static func isKnownSyscall(_ name: String) -> Bool {
        resolve(name) != nil
    }

    /// Syscalls both presets refuse unless `allow` names them (for lints and explain).
    public static var refusedSyscalls: [String] { SeccompTables.refused }

    /// What explain shows about a policy.
    public struct Summary: Sendable, Equatable {
        /// Syscalls allowed unconditionally or with argument filters in the final policy.
        public var allowedCount: Int
        /// Names `allow` adds to what the preset allows.
        public var added: [String]
        /// Names `deny` removes from what the preset allows.
        public var removed: [String]
        public var notes: [String]
    }

    /// Summarizes `policy` (the same tables the compiler uses).
    public static func summary(_ policy: SeccompPolicy) -> Summary {
        let shape = Shape(policy)
        let presetAllows: (String) -> Bool = { name in
            switch policy.preset {
            case .default: return SeccompTables.defaultAllowed.contains(name)
                || SeccompTables.guarded.contains(name) || name == "personality"
            case .permissive: return !SeccompTables.refused.contains(name)
                && !SeccompTables.aioSyscalls.contains(name)
            }
        }
        let added = shape.extraAllowed.filter { !presetAllows($0) }
        let removed = shape.denied.filter { presetAllows($0) }

        // clone3 and openat2 are answered ENOSYS (EPERM when denied) whatever the lists say:
        // never allowed, never counted.
        let allowedCount: Int
        switch policy.preset {
        case .default:
            allowedCount = shape.finalAllowed.count - (shape.finalAllowed.contains("openat2") ? 1 : 0)
                + (shape.personalityFiltered ? 1 : 0)
        case .permissive:
            let refused = Set(shape.refused + shape.aioRefused + Shape.neverAllowed)
            allowedCount = nativeSyscallNames().filter { !refused.contains($0) }.count
        }

        let refusal = policy.defaultAction == .kill ? "process killed" : "EPERM"
        var notes: [String] = []
        let denied = Set(shape.denied)
        if !denied.contains("clone") { notes.append("clone: namespace flags refused (\(refusal))") }
        if !denied.contains("clone3") { notes.append("clone3: ENOSYS (libc falls back to the filtered clone)") }
        if !denied.contains("unshare") { notes.append("unshare: namespace flags refused (\(refusal))") }
        if !denied.contains("ioctl") { notes.append("ioctl: TIOCSTI/TIOCLINUX refused (\(refusal))") }
        if !denied.contains("fcntl") { notes.append("fcntl: F_SETLEASE refused (\(refusal))") }
        if !shape.aioRefused.isEmpty {
            notes.append("\(shape.aioRefused.joined(separator: ", ")): ENOSYS (the AIO budget fs.aio-max-nr is host-wide)")
        }
        notes.append("chmod, open, creat, mknod (and their *at forms): setuid/setgid mode bits refused (\(refusal))")
        if !denied.contains("openat2") { notes.append("openat2: ENOSYS (its mode cannot be inspected; libc falls back to openat)") }
        if policy.reachesKeyrings {
            let names = shape.extraAllowed.filter { SeccompPolicy.keyringSyscalls.contains($0) }
            notes.append("\(names.joined(separator: ", ")): the server joins a new, empty session keyring of its own (the keys of whoever started mcpbox stay out of reach)")
        }
        if !denied.contains("socket") {
            let how = policy.defaultAction == .kill ? "process killed" : "EAFNOSUPPORT"
            notes.append("socket: AF_UNIX, AF_INET, AF_INET6, AF_NETLINK(route) only; other families \(how)")
        }
        if shape.personalityFiltered {
            // Other values fall through to the default action, like any syscall outside the list.
            let others: String
            switch policy.defaultAction {
            case .errno: others = "other values refused (EPERM)"
            case .kill: others = "other values: process killed"
            case .log: others = "other values allowed and logged (default_action = \"log\")"
            }
            notes.append("personality: PER_LINUX, PER_LINUX32, UNAME26 and the query allowed; \(others)")
        }
        notes.append("non-native ABIs (i386, x32): process killed")
        notes.append("\(shape.refused.count) dangerous syscalls refused (\(refusal)): "
            + shape.refused.joined(separator: ", "))
        for name in shape.extraAllowed where SeccompTables.guarded.contains(name) {
            notes.append("allow \(name): stays argument-filtered")
        }
        switch (policy.preset, policy.defaultAction) {
        case (.default, .errno): notes.append("other syscalls: EPERM")
        case (.default, .kill): notes.append("other syscalls: process killed")
        case (.default, .log): notes.append("other syscalls: allowed and logged to the kernel audit log")
        case (.permissive, _): notes.append("permissive preset: every other syscall allowed")
        }
        return Summary(allowedCount: allowedCount, added: added, removed: removed, notes: notes)
    }

    /// The BPF program (an array of `struct sock_filter`, 8 bytes each) for `policy`: the
    /// precompiled one when its fingerprint matches, else compiled by libseccomp now.
    public static func compile(_ policy: SeccompPolicy) throws(SeccompError) -> [UInt8] {
        try validateNames(policy)
        if policy.allow.isEmpty && policy.deny.isEmpty, let embedded = precompiled(fingerprint(policy)) {
            return embedded
        }
        return try SeccompProgram(policy).compileWithLibseccomp()
    }

    /// Always compiles through libseccomp (the generator, and the tests that keep the
    /// precompiled programs honest).
    public static func compileWithLibseccomp(_ policy: SeccompPolicy) throws(SeccompError) -> [UInt8] {
        try validateNames(policy)
        return try SeccompProgram(policy).compileWithLibseccomp()
    }

    /// The precompiled program for `policy` if one is embedded for it, else nil.
    public static func precompiledProgram(_ policy: SeccompPolicy) -> [UInt8]? {
        precompiled(fingerprint(policy))
    }

    /// Bumped whenever the lowering in `SeccompProgram` changes meaning, so fingerprints
    /// (and with them the precompiled programs) change too.
    static let loweringVersion: UInt8 = 3

    /// FNV-1a (64 bits) of `policy` and every table it is compiled from: the key of the
    /// precompiled programs. Hashes the static tables directly (no rule building) because the
    /// launch pays for it.
    public static func fingerprint(_ policy: SeccompPolicy) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func byte(_ value: UInt8) {
            hash = (hash ^ UInt64(value)) &* 0x0000_0100_0000_01b3
        }
        func word(_ value: UInt64) {
            var remaining = value
            for _ in 0..<8 {
                byte(UInt8(truncatingIfNeeded: remaining))
                remaining >>= 8
            }
        }
        func string(_ value: String) {
            // Over the contiguous bytes: the tables hold hundreds of names, hashed every launch.
            var value = value
            hash = value.withUTF8 { bytes in
                var h = hash
                for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
                return h
            }
            byte(0)
        }
        func strings(_ values: [String]) {
            word(UInt64(values.count))
            for value in values { string(value) }
        }
        func words(_ values: [UInt64]) {
            word(UInt64(values.count))
            for value in values { word(value) }
        }
        byte(loweringVersion)
        string(policy.preset.rawValue)
        string(policy.defaultAction.rawValue)
        strings(policy.allow)
        strings(policy.deny)
        strings(SeccompTables.defaultAllowed)
        words(SeccompTables.personalityValues)
        strings(SeccompTables.guarded)
        strings(SeccompTables.refused)
        strings(SeccompTables.aioSyscalls)
        words(SeccompTables.refusedFcntls)
        for entry in SeccompTables.newerX86_64 {
            string(entry.name)
            word(UInt64(entry.number))
        }
        words(SeccompTables.namespaceFlags)
        words(SeccompTables.refusedIoctls)
        words(SeccompTables.socketFamilies)
        word(SeccompTables.afNetlink)
        word(SeccompTables.socketFamilyBound)
        words(SeccompTables.refusedModeBits)
        for entry in SeccompTables.modeArguments {
            string(entry.name)
            word(UInt64(entry.index))
        }
        for entry in SeccompTables.openModeArguments {
            string(entry.name)
            word(UInt64(entry.flags))
            word(UInt64(entry.mode))
        }
        words(SeccompTables.creatingOpenFlags)
        return hash
    }

    /// The text of Sources/CSandbox/seccomp_precompiled.c: every preset × default action with
    /// no allow/deny, compiled now by libseccomp.
    public static func precompiledCSource() throws(SeccompError) -> String {
        var out = """
        /* Generated by scripts/gen-seccomp from Sources/MCPBoxCore/SeccompTables.swift and
         * Seccomp.swift; do not edit. A test recompiles every entry with libseccomp and fails
         * when this file differs. */
        #include "mcpbox_seccomp.h"

        #if defined(__x86_64__)

        """
        var entries: [String] = []
        var symbols: [[UInt8]: String] = [:]
        for preset in SeccompPolicy.Preset.allCases {
            for action in SeccompPolicy.DefaultAction.allCases {
                let policy = SeccompPolicy(preset: preset, allow: [], deny: [], defaultAction: action)
                let key = fingerprint(policy)
                let bytes = try SeccompProgram(policy).compileWithLibseccomp()
                if let symbol = symbols[bytes] {
                    entries.append("    { 0x\(hex(key, width: 16))ULL, \(symbol), sizeof \(symbol) },")
                    continue
                }
                let symbol = "bpf_\(preset.rawValue)_\(action.rawValue)"
                symbols[bytes] = symbol
                out += "static const unsigned char \(symbol)[\(bytes.count)] = {\n"
                var index = 0
                while index < bytes.count {
                    let line = bytes[index..<min(index + 16, bytes.count)]
                        .map { "0x" + hex($0, width: 2) + "," }.joined(separator: " ")
                    out += "    \(line)\n"
                    index += 16
                }
                out += "};\n\n"
                entries.append("    { 0x\(hex(key, width: 16))ULL, \(symbol), sizeof \(symbol) },")
            }
        }
        out += "static const struct mcpbox_seccomp_blob blobs[] = {\n"
        out += entries.joined(separator: "\n") + "\n};\n\n"
        out += """
        const unsigned char *mcpbox_seccomp_precompiled(uint64_t fingerprint, size_t *len) {
            for (size_t i = 0; i < sizeof blobs / sizeof blobs[0]; i++) {
                if (blobs[i].fingerprint == fingerprint) {
                    *len = blobs[i].len;
                    return blobs[i].bpf;
                }
            }
            return NULL;
        }

        #else

        const unsigned char *mcpbox_seccomp_precompiled(uint64_t fingerprint, size_t *len) {
            (void)fingerprint;
            *len = 0;
            return NULL;
        }

        #endif

        """
        return out
    }

    /// Throws for the first `allow`/`deny` name that is not a native syscall.
    static func validateNames(_ policy: SeccompPolicy) throws(SeccompError) {
        for name in policy.allow + policy.deny where resolve(name) == nil {
            throw SeccompError(code: .unknownSyscall, subject: name, errno: 0)
        }
    }

    /// Native syscall number of `name`, or nil when the native architecture has no such syscall.
    static func resolve(_ name: String) -> Int32? {
        let number = seccomp_syscall_resolve_name(name)
        if number >= 0 { return number }
        #if arch(x86_64)
        if let entry = SeccompTables.newerX86_64.first(where: { $0.name == name }) { return entry.number }
        #endif
        return nil
    }

    /// Every syscall name of the native architecture.
    static func nativeSyscallNames() -> [String] {
        var names: [String] = []
        for number in Int32(0)..<1024 {
            guard let cName = seccomp_syscall_resolve_num_arch(mcpbox_scmp_arch_native(), number) else {
                continue
            }
            names.append(String(cString: cName))
            free(cName)
        }
        #if arch(x86_64)
        for entry in SeccompTables.newerX86_64 where !names.contains(entry.name) { names.append(entry.name) }
        #endif
        return names
    }

    private static func precompiled(_ fingerprint: UInt64) -> [UInt8]? {
        var length = 0
        guard let pointer = mcpbox_seccomp_precompiled(fingerprint, &length), length > 0 else { return nil }
        return Array(UnsafeBufferPointer(start: pointer, count: length))
    }
}

/// Why a seccomp policy could not be compiled.
public struct SeccompError: Error, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// A name in `allow`/`deny` is not a syscall of this architecture.
        case unknownSyscall
        /// libseccomp refused a rule.
        case ruleRejected
        /// libseccomp could not create the filter, set an attribute, or export the program.
        case libseccomp
        /// The program exceeds the kernel's 4096-instruction limit.
        case tooLong
    }
    public var code: Code
    /// The syscall (or libseccomp call) concerned.
    public var subject: String
    /// errno reported by libseccomp, 0 when none.
    public var errno: Int32

    public init(code: Code, subject: String, errno: Int32) {
        self.code = code
        self.subject = subject
        self.errno = errno
    }

    public var description: String {
        switch code {
        case .unknownSyscall:
            return "seccomp: \"\(subject)\" is not a syscall on this architecture; fix [seccomp] allow/deny"
        case .ruleRejected:
            return "seccomp: libseccomp rejected the rule for \(subject): \(String(cString: strerror(errno)))"
        case .libseccomp:
            return "seccomp: libseccomp \(subject) failed: \(String(cString: strerror(errno)))"
        case .tooLong:
            return "seccomp: the filter has \(subject) instructions, more than the kernel's 4096"
        }
    }
}

/// The per-policy derived lists (shared by the compiler and `summary`).
struct Shape {
    /// Deny names, unique, in order.
    var denied: [String]
    /// Allow names not denied, unique, in order.
    var extraAllowed: [String]
    /// Refused unconditionally by the guard.
    var refused: [String]
    /// AIO syscalls answered ENOSYS by the guard (neither allowed nor denied by the profile).
    var aioRefused: [String]
    /// Allowed unconditionally by the final stage (`default` preset only).
    var finalAllowed: [String]
    /// `personality` allowed only for Docker's values (`default` preset only).
    var personalityFiltered: Bool
    /// Answered ENOSYS by the guard unless denied (then refused): allowed in no policy.
    static let neverAllowed = ["clone3", "openat2"]

    init(_ policy: SeccompPolicy) {
        denied = unique(policy.deny)
        let deniedSet = Set(denied)
        extraAllowed = unique(policy.allow).filter { !deniedSet.contains($0) }
        let extraSet = Set(extraAllowed)
        refused = SeccompTables.refused.filter { !extraSet.contains($0) }
            + denied.filter { !SeccompTables.refused.contains($0) }
        aioRefused = SeccompTables.aioSyscalls.filter { !extraSet.contains($0) && !deniedSet.contains($0) }
        switch policy.preset {
        case .default:
            let candidates = SeccompTables.defaultAllowed
                + SeccompTables.guarded.filter { $0 != "clone3" }
                + extraAllowed.filter { $0 != "clone3" }
            if extraAllowed.isEmpty {
                // The tables hold no name twice (SeccompTests checks it): nothing to deduplicate,
                // and no set of some 300 hashed names to build on every plan.
                finalAllowed = deniedSet.isEmpty ? candidates : candidates.filter { !deniedSet.contains($0) }
            } else {
                var seen = Set<String>(minimumCapacity: candidates.count)
                finalAllowed = []
                finalAllowed.reserveCapacity(candidates.count)
                for name in candidates where !deniedSet.contains(name) && seen.insert(name).inserted {
                    finalAllowed.append(name)
                }
            }
            personalityFiltered = !deniedSet.contains("personality") && !finalAllowed.contains("personality")
        case .permissive:
            finalAllowed = []
            personalityFiltered = false
        }
    }
}

private func unique(_ names: [String]) -> [String] {
    var seen = Set<String>()
    return names.filter { seen.insert($0).inserted }
}

private func hex<T: BinaryInteger>(_ value: T, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// An action of a rule or of a filter's default.
enum SeccompAction: Equatable {
    case allow
    case errno(Int32)
    case killProcess
    case log

    var libseccomp: UInt32 {
        switch self {
        case .allow: return mcpbox_scmp_act_allow()
        case .errno(let code): return mcpbox_scmp_act_errno(UInt16(code))
        case .killProcess: return mcpbox_scmp_act_kill_process()
        case .log: return mcpbox_scmp_act_log()
        }
    }
}

/// One argument comparison (libseccomp's `struct scmp_arg_cmp`).
struct SeccompArg: Equatable {
    enum Op: UInt32 {
        case notEqual = 1, lessThan, lessOrEqual, equal, greaterOrEqual, greaterThan, maskedEqual
    }
    var index: UInt32
    var op: Op
    var datumA: UInt64
    var datumB: UInt64 = 0
}

/// One rule: `action` for `name` when every comparison holds.
struct SeccompRule: Equatable {
    var name: String
    var action: SeccompAction
    var args: [SeccompArg] = []
}

/// One libseccomp filter.
struct SeccompStage: Equatable {
    var defaultAction: SeccompAction
    var rules: [SeccompRule]
}

/// The lowered form of a policy: stages run in order; every stage but the last passes
/// "allow" on to the next one.
struct SeccompProgram: Equatable {
    var stages: [SeccompStage]

    init(_ policy: SeccompPolicy) {
        let shape = Shape(policy)
        let kill = policy.defaultAction == .kill
        let refusal: SeccompAction = kill ? .killProcess : .errno(EPERM)
        let foreignFamily: SeccompAction = kill ? .killProcess : .errno(EAFNOSUPPORT)
        let denied = Set(shape.denied)

        var guardRules = shape.refused.map { SeccompRule(name: $0, action: refusal) }
        if !denied.contains("clone3") {
            guardRules.append(SeccompRule(name: "clone3", action: .errno(ENOSYS)))
        }
        for name in ["clone", "unshare"] where !denied.contains(name) {
            for flag in SeccompTables.namespaceFlags {
                guardRules.append(SeccompRule(name: name, action: refusal,
                    args: [SeccompArg(index: 0, op: .maskedEqual, datumA: flag, datumB: flag)]))
            }
        }
        for name in shape.aioRefused {
            guardRules.append(SeccompRule(name: name, action: .errno(ENOSYS)))
        }
        if !denied.contains("fcntl") {
            for command in SeccompTables.refusedFcntls {
                guardRules.append(SeccompRule(name: "fcntl", action: refusal,
                    args: [SeccompArg(index: 1, op: .maskedEqual, datumA: 0xffff_ffff, datumB: command)]))
            }
        }
        if !denied.contains("ioctl") {
            for request in SeccompTables.refusedIoctls {
                guardRules.append(SeccompRule(name: "ioctl", action: refusal,
                    args: [SeccompArg(index: 1, op: .maskedEqual, datumA: 0xffff_ffff, datumB: request)]))
            }
        }
        for bit in SeccompTables.refusedModeBits {
            for (name, index) in SeccompTables.modeArguments where !denied.contains(name) {
                guardRules.append(SeccompRule(name: name, action: refusal,
                    args: [SeccompArg(index: index, op: .maskedEqual, datumA: bit, datumB: bit)]))
            }
            for (name, flagsIndex, modeIndex) in SeccompTables.openModeArguments where !denied.contains(name) {
                for flag in SeccompTables.creatingOpenFlags {
                    guardRules.append(SeccompRule(name: name, action: refusal,
                        args: [SeccompArg(index: flagsIndex, op: .maskedEqual, datumA: flag, datumB: flag),
                               SeccompArg(index: modeIndex, op: .maskedEqual, datumA: bit, datumB: bit)]))
                }
            }
        }
        if !denied.contains("openat2") {
            guardRules.append(SeccompRule(name: "openat2", action: .errno(ENOSYS)))
        }
        if !denied.contains("socket") {
            // The 64-bit comparisons refuse any value with high bits set (the kernel would
            // truncate it to an int); below the bound each foreign family is named.
            guardRules.append(SeccompRule(name: "socket", action: foreignFamily,
                args: [SeccompArg(index: 0, op: .greaterThan, datumA: SeccompTables.socketFamilyBound)]))
            for family in UInt64(0)..<SeccompTables.socketFamilyBound
            where !SeccompTables.socketFamilies.contains(family) {
                guardRules.append(SeccompRule(name: "socket", action: foreignFamily,
                    args: [SeccompArg(index: 0, op: .equal, datumA: family)]))
            }
            guardRules.append(SeccompRule(name: "socket", action: foreignFamily,
                args: [SeccompArg(index: 0, op: .equal, datumA: SeccompTables.afNetlink),
                       SeccompArg(index: 2, op: .notEqual, datumA: 0)]))
        }
        var stages = [SeccompStage(defaultAction: .allow, rules: guardRules)]

        if policy.preset == .default {
            var rules = shape.finalAllowed.map { SeccompRule(name: $0, action: .allow) }
            if shape.personalityFiltered {
                for value in SeccompTables.personalityValues {
                    rules.append(SeccompRule(name: "personality", action: .allow,
                        args: [SeccompArg(index: 0, op: .equal, datumA: value)]))
                }
            }
            let fallback: SeccompAction
            switch policy.defaultAction {
            case .errno: fallback = .errno(EPERM)
            case .kill: fallback = .killProcess
            case .log: fallback = .log
            }
            stages.append(SeccompStage(defaultAction: fallback, rules: rules))
        }
        self.stages = stages
    }

    /// Compiles every stage with libseccomp and chains them.
    func compileWithLibseccomp() throws(SeccompError) -> [UInt8] {
        var program: [UInt8] = []
        for (index, stage) in stages.enumerated() {
            let bytes = try Self.compile(stage)
            if index == stages.count - 1 {
                program += bytes
            } else {
                program += try Self.passAllowOn(bytes)
            }
        }
        let instructions = program.count / 8
        guard instructions <= 4096 else {
            throw SeccompError(code: .tooLong, subject: String(instructions), errno: 0)
        }
        return program
    }

    /// Rewrites every `ret ALLOW` of a filter into a jump just past its end (to the next stage).
    private static func passAllowOn(_ bytes: [UInt8]) throws(SeccompError) -> [UInt8] {
        var out = bytes
        let count = bytes.count / 8
        for index in 0..<count {
            let base = index * 8
            let code = UInt16(bytes[base]) | UInt16(bytes[base + 1]) << 8
            guard code & 0x07 == 0x06 else { continue }  // BPF_RET
            guard code == 0x06 else {  // only BPF_RET|BPF_K can be rewritten safely
                throw SeccompError(code: .libseccomp, subject: "export (unexpected ret A)", errno: EINVAL)
            }
            let k = UInt32(bytes[base + 4]) | UInt32(bytes[base + 5]) << 8
                | UInt32(bytes[base + 6]) << 16 | UInt32(bytes[base + 7]) << 24
            guard k == 0x7fff_0000 else { continue }  // SECCOMP_RET_ALLOW
            let offset = UInt32(count - index - 1)
            out[base] = 0x05  // BPF_JMP|BPF_JA
            out[base + 1] = 0
            out[base + 2] = 0
            out[base + 3] = 0
            out[base + 4] = UInt8(truncatingIfNeeded: offset)
            out[base + 5] = UInt8(truncatingIfNeeded: offset >> 8)
            out[base + 6] = UInt8(truncatingIfNeeded: offset >> 16)
            out[base + 7] = UInt8(truncatingIfNeeded: offset >> 24)
        }
        return out
    }

    /// One libseccomp filter: native architecture only, bad-arch kills the process,
    /// binary-tree dispatch; exported through a memfd.
    private static func compile(_ stage: SeccompStage) throws(SeccompError) -> [UInt8] {
        guard let context = seccomp_init(stage.defaultAction.libseccomp) else {
            throw SeccompError(code: .libseccomp, subject: "seccomp_init", errno: ENOMEM)
        }
        defer { seccomp_release(context) }
        var rc = seccomp_attr_set(context, SCMP_FLTATR_ACT_BADARCH, mcpbox_scmp_act_kill_process())
        if rc < 0 { throw SeccompError(code: .libseccomp, subject: "seccomp_attr_set(ACT_BADARCH)", errno: -rc) }
        rc = seccomp_attr_set(context, SCMP_FLTATR_CTL_OPTIMIZE, 2)
        if rc < 0 { throw SeccompError(code: .libseccomp, subject: "seccomp_attr_set(CTL_OPTIMIZE)", errno: -rc) }

        for rule in stage.rules {
            guard let number = Seccomp.resolve(rule.name) else {
                throw SeccompError(code: .unknownSyscall, subject: rule.name, errno: 0)
            }
            let comparisons = rule.args.map {
                mcpbox_scmp_arg($0.index, scmp_compare(rawValue: $0.op.rawValue), $0.datumA, $0.datumB)
            }
            rc = comparisons.withUnsafeBufferPointer {
                mcpbox_scmp_rule_add(context, rule.action.libseccomp, number, UInt32($0.count), $0.baseAddress)
            }
            if rc < 0 { throw SeccompError(code: .ruleRejected, subject: rule.name, errno: -rc) }
        }

        var buffer = [UInt8](repeating: 0, count: 65536)
        let length = buffer.withUnsafeMutableBytes {
            mcpbox_scmp_export_bpf($0.baseAddress, $0.count, context)
        }
        if length < 0 {
            throw SeccompError(code: .libseccomp, subject: "seccomp_export_bpf", errno: Int32(-length))
        }
        return Array(buffer[0..<length])
    }
}
