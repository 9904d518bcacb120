/// Values a one-shot command (`run`, `explain`) keeps until the process exits: freeing a parsed
/// profile walks it through the runtime's generic value witnesses (and builds their metadata
/// first), which costs more than parsing it did; the exit frees everything at once.
public enum ExitArena {
    /// Set by the command-line entry when the process exits right after its one command.
    nonisolated(unsafe) public static var enabled = false

    /// Keeps `object` alive until the process exits when `enabled`; otherwise does nothing.
    static func keep(_ object: AnyObject) {
        if enabled { _ = Unmanaged.passRetained(object) }
    }
}
