/// The launch path's command line (and `explain`'s), parsed without ArgumentParser.
///
/// `mcpbox run` sits in front of every server start, and ArgumentParser's reflection-based
/// parsing costs about a millisecond of runtime type lookups. This parser accepts exactly the
/// plain forms of `run`'s arguments and returns nil for anything else (help, unknown options,
/// malformed input), which then goes through ArgumentParser as usual, so both the messages and
/// the accepted language stay ArgumentParser's. A test checks both parsers agree.
struct FastRun: Equatable {
    var profile: String
    var options: ProfileSelection
    var dryRun: Bool
    var command: [String]

    /// Parses `run ...` (arguments without the executable name); nil when not a plain `run`.
    static func parse(_ arguments: [String]) -> FastRun? {
        parse(arguments, subcommand: "run", flag: "--dry-run")
    }

    /// The grammar `run` and `explain` share: PROFILE once, `--set K=V` and `--profile-path DIR`
    /// (repeatable, the value not starting with `-`), `flag` at most once (in `dryRun`), then `--`
    /// and the command. (A plain struct, not a tuple: an optional tuple's metadata is built at run time.)
    static func parse(_ arguments: [String], subcommand: String, flag name: String) -> FastRun? {
        guard arguments.first == subcommand else { return nil }
        var profile: String?
        var sets: [String] = []
        var paths: [String] = []
        var flag = false
        var i = 1
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" {
                guard let profile else { return nil }
                return FastRun(profile: profile, options: ProfileSelection(sets: sets, profilePath: paths), dryRun: flag,
                               command: Array(arguments[(i + 1)...]))
            }
            if a == name {
                if flag { return nil }
                flag = true
            } else if a == "--set" || a == "--profile-path" {
                guard i + 1 < arguments.count, !arguments[i + 1].hasPrefix("-") else { return nil }
                if a == "--set" { sets.append(arguments[i + 1]) } else { paths.append(arguments[i + 1]) }
                i += 1
            } else if a.hasPrefix("-") {
                return nil
            } else {
                if profile != nil { return nil }
                profile = a
            }
            i += 1
        }
        guard let profile else { return nil }
        return FastRun(profile: profile, options: ProfileSelection(sets: sets, profilePath: paths), dryRun: flag, command: [])
    }
}

/// `explain`'s command line, parsed without ArgumentParser: the same plain forms as `FastRun`
/// with `--json` in place of `--dry-run`; nil for anything else (ArgumentParser handles it).
struct FastExplain: Equatable {
    var profile: String
    var options: ProfileSelection
    var json: Bool
    var command: [String]

    /// Parses `explain ...` (arguments without the executable name); nil when not a plain `explain`.
    static func parse(_ arguments: [String]) -> FastExplain? {
        guard let r = FastRun.parse(arguments, subcommand: "explain", flag: "--json") else { return nil }
        return FastExplain(profile: r.profile, options: r.options, json: r.dryRun, command: r.command)
    }
}
