/// `joined(separator:)` for arrays of strings, with concrete appends into a buffer sized once.
///
/// The standard library's generic `joined` is not specialized for this module and looks up its
/// associated-type witnesses at run time on every call (thousands of instructions each); plans
/// and explanations join dozens of lists per launch. Same result as the standard library's.
extension Array where Element == String {
    func joined(separator: String = "") -> String {
        guard count > 1 else { return first ?? "" }
        var length = separator.utf8.count * (count - 1)
        for s in self { length += s.utf8.count }
        var out = ""
        out.reserveCapacity(length)
        out.append(self[0])
        for s in self[1...] {
            out.append(separator)
            out.append(s)
        }
        return out
    }
}
