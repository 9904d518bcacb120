/// `joined(separator:)` for arrays of strings: the bytes copied once into a buffer sized once.
///
/// The standard library's generic `joined` is not specialized for this module and looks up its
/// associated-type witnesses at run time on every call (thousands of instructions each), and
/// appending piece by piece pays a boundary check per append; plans and explanations join
/// dozens of lists per launch. Same result as the standard library's (the same bytes in order).
extension Array where Element == String {
    func joined(separator: String = "") -> String {
        guard count > 1 else { return first ?? "" }
        var separator = separator
        var length = separator.utf8.count * (count - 1)
        for s in self { length += s.utf8.count }
        guard length > 0 else { return "" }
        return separator.withUTF8 { sep in
            String(unsafeUninitializedCapacity: length) { out in
                var at = 0
                func put(_ bytes: UnsafeBufferPointer<UInt8>) {
                    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
                    (out.baseAddress! + at).initialize(from: base, count: bytes.count)
                    at += bytes.count
                }
                for i in indices {
                    if i > 0 { put(sep) }
                    var piece = self[i]
                    piece.withUTF8(put)
                }
                return at
            }
        }
    }
}
