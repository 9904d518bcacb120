/// mcpbox's version, printed by `--version` and in `explain --json`.
public enum MCPBoxVersion {
    public static let current = "0.10.0"
}

/// "Did you mean" suggestions by edit distance.
public enum Suggest {
    /// The candidates closest to `word` (at most `max(2, count/3)` edits; case-insensitive), best first.
    public static func closest(_ word: String, in candidates: [String]) -> [String] {
        // No name worth suggesting is that long, and each distance costs the product of the
        // lengths (64 names of 16 KB against 100 profiles took 6 s).
        guard word.utf8.count <= 256 else { return [] }
        let w = Array(word.lowercased())
        let limit = max(2, w.count / 3)
        // The distance is at least the difference of the lengths: no table for those too far.
        let scored = candidates.compactMap { c -> (String, Int)? in
            let b = Array(c.lowercased())
            if abs(b.count - w.count) > limit && !(c.lowercased().hasPrefix(word.lowercased()) && !word.isEmpty) { return nil }
            return (c, distance(w, b))
        }
        let near = scored.filter { $0.1 <= limit || ($0.0.lowercased().hasPrefix(word.lowercased()) && !word.isEmpty) }
        var seen = Set<String>()
        return near.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }.map(\.0).filter { seen.insert($0).inserted }
    }

    /// Damerau–Levenshtein distance (adjacent transpositions count once).
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }

    /// "; did you mean `x`?" or "".
    public static func didYouMean(_ word: String, in candidates: [String]) -> String {
        let c = closest(word, in: candidates)
        guard !c.isEmpty else { return "" }
        return "; did you mean " + c.prefix(3).map { "`\($0)`" }.joined(separator: " or ") + "?"
    }
}

/// One profile file found on the search path.
public struct ProfileListing: Sendable, Equatable {
    public var name: String
    public var path: String
    /// Where the directory comes from: "--profile-path", "MCPBOX_PROFILE_PATH", "user", "system", "shipped", "source tree".
    public var origin: String
    /// Whether this file is the one a NAME lookup picks (the first on the search path).
    public var wins: Bool
}

extension ProfileLoader {
    /// The search path with the origin of each directory, in lookup order.
    public static func labelledSearchPath(profilePath: [String], environment: [String: String]) -> [(dir: String, origin: String)] {
        var out: [(String, String)] = []
        var seen = Set<String>()
        func add(_ d: String, _ o: String) { if !d.isEmpty, seen.insert(d).inserted { out.append((d, o)) } }
        for p in profilePath { for d in p.split(separator: ":") { add(String(d), "--profile-path") } }
        if let env = environment["MCPBOX_PROFILE_PATH"] { for d in env.split(separator: ":") { add(String(d), "MCPBOX_PROFILE_PATH") } }
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.isAbsolutePath {
            add(xdg + "/mcpbox/profiles", "user")
        } else if let home = environment["HOME"], home.isAbsolutePath {
            add(home + "/.config/mcpbox/profiles", "user")
        }
        add("/etc/mcpbox/profiles", "system")
        let source = sourceTreeProfiles
        for d in shippedProfileDirs() { add(d, d == source ? "source tree" : "shipped") }
        return out
    }

    /// Every `NAME.toml` in the directories of `searchPath`, in lookup order; the first of each NAME wins.
    public static func listProfiles(_ dirs: [(dir: String, origin: String)]) -> [ProfileListing] {
        var out: [ProfileListing] = []
        var taken = Set<String>()
        for (dir, origin) in dirs {
            for entry in HostFS.listDirectory(dir).sorted() where entry.hasSuffix(".toml") && entry.count > 5 {
                let path = Paths.join(dir, entry)
                guard HostFS.info(path)?.isRegular == true else { continue }
                let name = String(entry.dropLast(5))
                out.append(ProfileListing(name: name, path: path, origin: origin, wins: taken.insert(name).inserted))
            }
        }
        return out
    }

    /// The profile names available on this loader's search path.
    func availableNames() -> [String] {
        Self.listProfiles(searchPath.map { ($0, "") }).filter(\.wins).map(\.name)
    }
}
