import MCPBoxProtocol
/// `diff -u` output for two versions of a file (Myers' algorithm on lines, 3 lines of context).
public enum UnifiedDiff {
    public static func render(old: [UInt8], new: [UInt8], oldName: String, newName: String, context: Int = 3) -> String {
        let a = lines(old), b = lines(new)
        guard a != b else { return "" }
        // Only the middle that differs goes through Myers (its trace grows with the edit distance).
        var pre = 0
        while pre < a.count && pre < b.count && a[pre] == b[pre] { pre += 1 }
        var suf = 0
        while suf < a.count - pre && suf < b.count - pre && a[a.count - 1 - suf] == b[b.count - 1 - suf] { suf += 1 }
        var ops = (0..<pre).map { Op(kind: .same, oldLine: $0, newLine: $0) }
        let midA = Array(a[pre..<(a.count - suf)]), midB = Array(b[pre..<(b.count - suf)])
        // Past a bounded amount of work, the middle is shown as one replacement (still a correct diff).
        let middle = script(midA, midB) ?? (midA.indices.map { Op(kind: .delete, oldLine: $0, newLine: 0) }
            + midB.indices.map { Op(kind: .insert, oldLine: midA.count, newLine: $0) })
        ops += middle.map { Op(kind: $0.kind, oldLine: $0.oldLine + pre, newLine: $0.newLine + pre) }
        ops += (0..<suf).map { Op(kind: .same, oldLine: a.count - suf + $0, newLine: b.count - suf + $0) }
        var out = "--- \(visible(oldName))\n+++ \(visible(newName))\n"
        // Group the operations into hunks: changes closer than 2*context lines share a hunk.
        var i = 0
        while i < ops.count {
            guard ops[i].kind != .same else { i += 1; continue }
            var start = i
            var back = 0
            while start > 0 && ops[start - 1].kind == .same && back < context { start -= 1; back += 1 }
            var end = i
            while end < ops.count {
                if ops[end].kind != .same { end += 1; continue }
                var run = end
                while run < ops.count && ops[run].kind == .same { run += 1 }
                if run == ops.count || run - end > 2 * context { end = min(run, end + context); break }
                end = run
            }
            let hunk = ops[start..<end]
            let oldStart = hunk.first!.oldLine, newStart = hunk.first!.newLine
            let oldCount = hunk.filter { $0.kind != .insert }.count
            let newCount = hunk.filter { $0.kind != .delete }.count
            out += "@@ -\(range(oldStart, oldCount)) +\(range(newStart, newCount)) @@\n"
            for op in hunk {
                let (mark, text) = op.kind == .insert ? ("+", b[op.newLine]) : (op.kind == .delete ? "-" : " ", a[op.oldLine])
                out += mark + visibleLine(text)
                // By the last byte: "\r\n" is one Character in Swift, so `hasSuffix("\n")` is
                // false for every line of a CRLF file.
                if text.utf8.last != 0x0A { out += "\n\\ No newline at end of file\n" }
            }
            i = end
        }
        return out
    }

    static func range(_ start: Int, _ count: Int) -> String {
        count == 0 ? "\(start),0" : (count == 1 ? "\(start + 1)" : "\(start + 1),\(count)")
    }

    /// Lines with their newline kept (the last may lack one).
    static func lines(_ bytes: [UInt8]) -> [String] {
        var out: [String] = []
        var s = 0
        for (i, c) in bytes.enumerated() where c == 0x0A {
            out.append(String(decoding: bytes[s...i], as: UTF8.self))
            s = i + 1
        }
        if s < bytes.count { out.append(String(decoding: bytes[s...], as: UTF8.self)) }
        return out
    }

    /// One line of a file as the diff shows it: `visible`, except the `\n` or `\r\n` that ends it
    /// (a CRLF file's lines keep their CR; a CR anywhere else is shown as `^M`).
    static func visibleLine(_ text: String) -> String {
        var body = text.unicodeScalars[...]
        var ending = ""
        if body.last == "\n" {
            body.removeLast()
            ending = "\n"
            if body.last == "\r" {
                body.removeLast()
                ending = "\r\n"
            }
        }
        return visible(String(body)) + ending
    }

    /// Control characters other than tab shown as `^X`, CR and LF included: what a configuration
    /// names (a server, a command, a path) must neither drive the terminal nor forge or overwrite
    /// a line of what wrap prints (`"evil\r  skip ..."` returned to the start of the line).
    /// Bidirectional controls (U+202A–202E, U+2066–2069, U+200E, U+200F, U+061C) are written as
    /// `<U+202E>`: they reorder what follows them on the terminal, so a name could show as another.
    static func visible(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            if JSON.isInvisible(u.value) {
                out += "<U+" + String(u.value, radix: 16, uppercase: true) + ">"
            } else if (u.value < 0x20 && u != "\t") || u.value == 0x7F || (0x80..<0xA0).contains(u.value) {
                out += "^" + String(UnicodeScalar(UInt8((u.value + 0x40) & 0x7F)))
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    enum Kind { case same, delete, insert }
    struct Op { var kind: Kind; var oldLine: Int; var newLine: Int }

    /// Most cells of Myers' trace kept (its memory grows with edit distance × length).
    static let maxTraceCells = 1 << 24

    /// The shortest edit script from `a` to `b` (Myers 1986), as a sequence of line operations;
    /// nil when finding it would need more than `maxTraceCells`.
    static func script(_ a: [String], _ b: [String]) -> [Op]? {
        let n = a.count, m = b.count, max = n + m
        var v = [Int](repeating: 0, count: 2 * max + 2)
        var trace: [[Int]] = []
        var found = false
        for d in 0...max {
            guard (d + 1) * v.count <= maxTraceCells else { return nil }
            trace.append(v)
            for k in stride(from: -d, through: d, by: 2) {
                var x = (k == -d || (k != d && v[max + k - 1] < v[max + k + 1])) ? v[max + k + 1] : v[max + k - 1] + 1
                var y = x - k
                while x < n && y < m && a[x] == b[y] { x += 1; y += 1 }
                v[max + k] = x
                if x >= n && y >= m { found = true; break }
            }
            if found { break }
        }
        var ops: [Op] = []
        var x = n, y = m
        for d in stride(from: trace.count - 1, through: 0, by: -1) {
            let v = trace[d]
            let k = x - y
            let prevK = (k == -d || (k != d && v[max + k - 1] < v[max + k + 1])) ? k + 1 : k - 1
            let prevX = d == 0 ? 0 : v[max + prevK]
            let prevY = prevX - prevK
            while x > prevX && y > prevY {
                x -= 1; y -= 1
                ops.append(Op(kind: .same, oldLine: x, newLine: y))
            }
            if d > 0 {
                if x == prevX { y -= 1; ops.append(Op(kind: .insert, oldLine: x, newLine: y)) } else { x -= 1; ops.append(Op(kind: .delete, oldLine: x, newLine: y)) }
            }
        }
        return ops.reversed()
    }
}
