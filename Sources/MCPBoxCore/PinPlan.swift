import MCPBoxEvents
import MCPBoxProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Where `[tools] pin` keeps a profile's pins, and the plan's part of pinning.
public enum PinPlanner {
    /// The pins directory: `$XDG_STATE_HOME/mcpbox/pins` (an absolute `XDG_STATE_HOME`), else
    /// `~/.local/state/mcpbox/pins` (`$HOME`, else the caller's home in the account database).
    public static func directory(environment: [String: String], callerUid: UInt32) -> String? {
        if let x = environment["XDG_STATE_HOME"].flatMap(Paths.normalize) { return Paths.join(x, "mcpbox/pins") }
        var home = environment["HOME"].flatMap(Paths.normalize)
        if home == nil, let pw = getpwuid(callerUid), let dir = pw.pointee.pw_dir { home = Paths.normalize(String(cString: dir)) }
        return home.map { Paths.join($0, ".local/state/mcpbox/pins") }
    }

    /// The pin file's name for a profile as given: `NAME.json` for a NAME; for a path, its base
    /// name without `.toml`, a dash and 12 hex digits of the SHA-256 of the profile file's path
    /// (two files with one base name keep apart).
    public static func fileName(profile ref: String, topFile: String?) -> String {
        guard ProfileLoader.isPath(ref) else { return ref + ".json" }
        var base = Paths.basename(ref)
        if base.hasSuffix(".toml") { base = String(base.dropLast(5)) }
        base = String(base.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
        let hash = SHA256.hex(topFile ?? ref).prefix(12)
        return "\(base.isEmpty ? "profile" : base)-\(hash).json"
    }

    /// The pinning config of `profile` (nil when `pin` is absent or "off"); a pin file inside a
    /// path the server may write, or no state directory, is an error.
    static func config(_ profile: Profile, host: HostContext, writable: [String], sink: inout DiagnosticSink) -> PinConfig? {
        guard let mode = profile.toolsPin, mode.value != .off else { return nil }
        guard let dir = directory(environment: host.environmentDictionary, callerUid: host.callerUid) else {
            sink.add(mode.diagnostic("no state directory for the pin file", hint: "set HOME or XDG_STATE_HOME to an absolute path"))
            return nil
        }
        let real = realDirectory(dir)
        for w in writable where Paths.isWithin(dir, w) || Paths.isWithin(real, w) {
            sink.add(mode.diagnostic("refused: the pin file's directory \(dir) lies inside \(w), which the server may write",
                                     hint: "set XDG_STATE_HOME to a directory outside the profile's read_write paths"))
            return nil
        }
        let path = Paths.join(dir, fileName(profile: profile.name, topFile: profile.files.last))
        return PinConfig(mode: mode.value, firstUse: profile.toolsPinFirstUse?.value ?? false, profile: profile.name, path: path)
    }

    /// `dir` with its longest existing prefix resolved (realpath) and the rest appended.
    static func realDirectory(_ dir: String) -> String {
        var head = dir
        var tail: [String] = []
        while head != "/" {
            if let r = HostFS.realPath(head) { return tail.isEmpty ? r : Paths.join(r, tail.reversed().joined(separator: "/")) }
            tail.append(Paths.basename(head))
            head = Paths.dirname(head)
        }
        return dir
    }
}
