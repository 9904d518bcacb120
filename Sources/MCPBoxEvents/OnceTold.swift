/// Keys told once each, at most `limit` of them: for the stderr lines whose keys another party
/// chooses (the destinations a server asks for, the tool names a client calls), so that party
/// cannot flood the log through them.
public struct OnceTold<Key: Hashable> {
    public let limit: Int
    private var told: Set<Key> = []

    public init(limit: Int) { self.limit = limit }

    /// Whether `key` is to be told now (first time, within the limit), and whether it is the last
    /// one that will be.
    public mutating func admit(_ key: Key) -> (tell: Bool, last: Bool) {
        guard told.count < limit, told.insert(key).inserted else { return (false, false) }
        return (true, told.count == limit)
    }
}
