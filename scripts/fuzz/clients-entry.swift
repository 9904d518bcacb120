// libFuzzer entry for the client-configuration readers and editor (Sources/MCPBoxClients),
// compiled together with them by scripts/fuzz-clients. The first byte picks the format (JSON as
// Claude Desktop, VS Code or Claude Code writes it, or Codex's TOML); the rest is the file.
// Besides "no crash, no hang": whatever wrap produces parses again, a second wrap changes nothing,
// and unwrap after wrap gives back the input byte for byte (for inputs holding no wrapped entry).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClients(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let kinds: [ClientKind] = [.claudeDesktop, .vscode, .claudeCode, .codex]
    let client = kinds[Int(data[0]) % kinds.count]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let options = WrapOptions(mcpbox: "/usr/local/bin/mcpbox")
    var reserved: [String: String] = [:]
    guard let wrapped = try? WrapPlanner.wrap(path: "/fuzz", client: client, bytes: bytes, options: options,
                                              existingProfile: { _ in nil }, reserved: &reserved) else { return 0 }
    var notes: [String] = []
    guard (try? ServerEntries.read(wrapped.updated, client: client, notes: &notes)) != nil else {
        preconditionFailure("wrap output does not parse:\n\(String(decoding: wrapped.updated, as: UTF8.self))")
    }
    var again: [String: String] = [:]
    let twice = try! WrapPlanner.wrap(path: "/fuzz", client: client, bytes: wrapped.updated, options: options,
                                      existingProfile: { _ in nil }, reserved: &again)
    precondition(!twice.changed, "a second wrap changed the file:\n\(String(decoding: wrapped.updated, as: UTF8.self))")
    let pre = try! WrapPlanner.unwrap(path: "/fuzz", client: client, bytes: bytes)
    if !pre.changed {
        let back = try! WrapPlanner.unwrap(path: "/fuzz", client: client, bytes: wrapped.updated)
        precondition(back.updated == bytes, "unwrap(wrap(x)) != x:\n\(String(decoding: bytes, as: UTF8.self))\n---\n\(String(decoding: back.updated, as: UTF8.self))")
    }
    _ = UnifiedDiff.render(old: bytes, new: wrapped.updated, oldName: "a", newName: "b")
    return 0
}
