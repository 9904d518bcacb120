/// Parsing of durations and sizes, and the "did you mean" suggestion.
public enum Units {
    /// Units accepted for durations, in the order the error lists them.
    public static let durationUnits = ["ms", "s", "m", "h"]
    /// Units accepted for sizes.
    public static let sizeUnits = ["B", "KiB", "MiB", "GiB", "TiB", "KB", "MB", "GB", "TB"]

    /// "500ms", "3s", "2m", "1h", "1.5s" or "0" → seconds; nil if malformed.
    public static func duration(_ text: String) -> Double? {
        if text == "0" { return 0 }
        let (number, unit) = split(text)
        guard let value = Double(number), value >= 0, value.isFinite, !number.isEmpty else { return nil }
        switch unit {
        case "ms": return value / 1000
        case "s": return value
        case "m": return value * 60
        case "h": return value * 3600
        default: return nil
        }
    }

    /// "64MiB", "1GiB", "512KiB", "1000000" (bytes) → bytes; nil if malformed.
    public static func size(_ text: String) -> UInt64? {
        let (number, unit) = split(text)
        let multiplier: UInt64
        switch unit {
        case "", "B": multiplier = 1
        case "KiB": multiplier = 1 << 10
        case "MiB": multiplier = 1 << 20
        case "GiB": multiplier = 1 << 30
        case "TiB": multiplier = 1 << 40
        case "KB", "kB": multiplier = 1000
        case "MB": multiplier = 1_000_000
        case "GB": multiplier = 1_000_000_000
        case "TB": multiplier = 1_000_000_000_000
        default: return nil
        }
        // Exact decimal arithmetic: through a Double, 2^53+1 bytes became 2^53 (a whole number of
        // pages, accepted although the value written is not one).
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return nil }
        let whole = parts[0], fraction = parts.count == 2 ? parts[1] : ""
        let digits: (Substring) -> Bool = { $0.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } }
        guard !(whole.isEmpty && fraction.isEmpty), digits(whole), digits(fraction), whole.count <= 20, fraction.count <= 18 else { return nil }
        if unit.isEmpty && parts.count == 2 { return nil }          // bytes are whole
        guard let w = whole.isEmpty ? 0 : UInt64(whole) else { return nil }
        var (total, overflow) = w.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        if !fraction.isEmpty, let f = UInt64(fraction) {
            var scale: UInt64 = 1
            for _ in 0..<fraction.count { scale *= 10 }
            let (b, o) = f.multipliedReportingOverflow(by: multiplier)
            guard !o, b % scale == 0 else { return nil }            // a whole number of bytes, exactly
            (total, overflow) = total.addingReportingOverflow(b / scale)
            guard !overflow else { return nil }
        }
        return total
    }

    /// The smallest `limits.cpu`: a CFS quota of 1 ms per 100 ms period, the kernel's minimum.
    public static let minimumCPU = 0.01
    /// The CFS period mcpbox uses, microseconds; the quota is a whole number of microseconds.
    public static let cpuPeriodMicroseconds = 100_000

    /// Why `cores` cannot be enforced exactly as a CFS quota, or nil.
    public static func cpuProblem(_ cores: Double) -> String? {
        guard cores.isFinite, cores >= minimumCPU, cores <= 4096 else {
            return "must be a number of cores from \(minimumCPU) (the kernel's smallest quota, 1ms per 100ms) to 4096, found \(cores)"
        }
        // Exactly: the whole quota must give back the value written (a tolerance let
        // 0.01000000000001 through as 0.01).
        let quota = (cores * Double(cpuPeriodMicroseconds)).rounded()
        guard quota / Double(cpuPeriodMicroseconds) == cores else {
            return "\(cores) cores is not a whole number of microseconds per \(cpuPeriodMicroseconds / 1000)ms period (the kernel's resolution); use at most 5 decimals"
        }
        return nil
    }

    /// How many decimal places a TOML float literal has once its exponent is applied and
    /// trailing zeros are dropped (`0.010` 2, `1.5e3` 0, `25e-4` 4, `0.010000000000000001` 18);
    /// nil for `inf` and `nan`. What the literal says, not its `Double`.
    public static func decimalPlaces(_ literal: String) -> Int? {
        var mantissa: [UInt8] = []
        var exponent: [UInt8] = []
        var inExponent = false
        for b in literal.utf8 where b != UInt8(ascii: "_") {
            if b == UInt8(ascii: "e") || b == UInt8(ascii: "E") { inExponent = true; continue }
            if inExponent { exponent.append(b) } else { mantissa.append(b) }
        }
        guard !mantissa.contains(where: { $0 == UInt8(ascii: "i") || $0 == UInt8(ascii: "n") }) else { return nil }
        var fraction: ArraySlice<UInt8> = []
        if let dot = mantissa.firstIndex(of: UInt8(ascii: ".")) { fraction = mantissa[(dot + 1)...] }
        while fraction.last == UInt8(ascii: "0") { fraction = fraction.dropLast() }
        // An exponent beyond any sane literal says nothing more: clamp it (the value is judged
        // by its range elsewhere).
        let e = Int(String(decoding: exponent, as: UTF8.self)).map { max(-10_000, min(10_000, $0)) } ?? 0
        return max(0, fraction.count - e)
    }

    /// The CFS quota, microseconds per `cpuPeriodMicroseconds`, for a valid `cores`.
    public static func cpuQuota(_ cores: Double) -> Int? {
        guard cpuProblem(cores) == nil else { return nil }
        return Int((cores * Double(cpuPeriodMicroseconds)).rounded())
    }

    /// Whether `seconds` is a whole number of milliseconds (the relay's timer resolution):
    /// the nearest value to some whole number of milliseconds, exactly (a tolerance let
    /// 1.0000000001 through as 1000ms).
    public static func isWholeMilliseconds(_ seconds: Double) -> Bool {
        let ms = (seconds * 1000).rounded()
        return ms.isFinite && ms / 1000 == seconds
    }

    /// Whether a duration's text (valid for `duration`) names a whole number of milliseconds,
    /// judged on its decimal digits, not on a Double near them.
    public static func isWholeMilliseconds(_ text: String) -> Bool {
        if text == "0" { return true }
        let (number, unit) = split(text)
        let perUnit: UInt64
        switch unit {
        case "ms": perUnit = 1
        case "s": perUnit = 1000
        case "m": perUnit = 60_000
        case "h": perUnit = 3_600_000
        default: return false
        }
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return false }
        // Trailing zeros add nothing; more than 18 significant decimals cannot be whole here.
        var fraction = parts.count == 2 ? parts[1] : ""
        while fraction.last == "0" { fraction = fraction.dropLast() }
        guard fraction.count <= 18, let f = fraction.isEmpty ? 0 : UInt64(fraction) else { return false }
        var scale: UInt64 = 1
        for _ in 0..<fraction.count { scale *= 10 }
        let (product, overflow) = f.multipliedReportingOverflow(by: perUnit)
        return !overflow && product % scale == 0
    }

    static func split(_ text: String) -> (String, String) {
        let number = text.prefix { $0.isNumber || $0 == "." }
        return (String(number), String(text.dropFirst(number.count)).trimmingSpaces())
    }

    /// Exact form of a byte count in the largest unit that divides it ("64MiB", "1536MiB",
    /// "1000B"): what `explain` states is the value applied, never a rounding of it.
    public static func formatSize(_ bytes: UInt64) -> String {
        let units: [(String, UInt64)] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        for (name, size) in units where bytes >= size && bytes % size == 0 {
            return "\(bytes / size)\(name)"
        }
        return "\(bytes)B"
    }

    /// Human form of seconds ("3s", "500ms", "2m", "0").
    /// The longest duration a profile may give (a year): every value mcpbox handles stays exact
    /// in milliseconds and far from any integer overflow.
    public static let maxDurationSeconds: Double = 8760 * 3600

    public static func formatDuration(_ seconds: Double) -> String {
        if seconds == 0 { return "0" }
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        if seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600))h" }
        if seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60))m" }
        if seconds == seconds.rounded() { return "\(Int(seconds))s" }
        return "\(Int((seconds * 1000).rounded()))ms"
    }

    /// The candidate nearest to `word` by edit distance, if close enough to be a plausible typo.
    public static func suggestion(for word: String, among candidates: [String]) -> String? {
        var best: (String, Int)? = nil
        // The distance is at least the difference in length: skip what cannot be close (long keys stay cheap).
        for c in candidates where abs(word.count - c.count) <= max(2, c.count / 3) {
            let d = editDistance(word.lowercased(), c.lowercased())
            if best == nil || d < best!.1 { best = (c, d) }
        }
        guard let (name, distance) = best else { return nil }
        return distance <= max(2, name.count / 3) ? name : nil
    }

    /// Damerau–Levenshtein distance (adjacent transpositions count 1).
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { d[i][0] = i }
        for j in 0...y.count { d[0][j] = j }
        for i in 1...x.count {
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[x.count][y.count]
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
