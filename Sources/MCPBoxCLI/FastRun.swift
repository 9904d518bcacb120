/// The launch path's command line, parsed without ArgumentParser.
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
        guard arguments.first == "run" else { return nil }
        var profile: String?
        var sets: [String] = []
        var paths: [String] = []
        var dryRun = false
        var i = 1
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" {
                guard let profile else { return nil }
                return FastRun(profile: profile, options: ProfileSelection(sets: sets, profilePath: paths),
                               dryRun: dryRun, command: Array(arguments[(i + 1)...]))
            }
            if a == "--dry-run" {
                if dryRun { return nil }
                dryRun = true
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
        return FastRun(profile: profile, options: ProfileSelection(sets: sets, profilePath: paths), dryRun: dryRun, command: [])
    }
}
