import MCPBoxEvents
import MCPBoxProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `mcpbox audit verify|tail`: the chain check and the human-readable form of records.
public enum AuditLogReader {
    /// The report of `verify` and the exit status: 0 the chain holds, 1 broken, 125 unreadable.
    public static func verify(_ files: [String]) -> (text: String, status: Int32) {
        do {
            let r = try ChainVerifier.verify(files: files)
            if let b = r.broken {
                return ("mcpbox: audit verify: BROKEN at \(b.file) line \(b.line): \(b.why)", 1)
            }
            var text = "ok: \(r.lines) record\(r.lines == 1 ? "" : "s") in \(files.count) file\(files.count == 1 ? "" : "s"), hash chain intact"
            if r.startsAfterRotation {
                text += " (the first file begins after a rotation; its predecessor was not given or no longer exists)"
            }
            if let h = r.lastHash {
                // The chain cannot show lines cut from its end: say so, and give what shows it.
                text += "\nlast line's sha256 \(h): lines removed from the end leave a shorter chain that holds; compare this with a value kept elsewhere"
            }
            if r.sawSessionStart, r.lastKind != "session.end" {
                text += "\nnote: the last record is not session.end (\(r.lastKind ?? "?")): a session still running or killed, or lines cut from the end"
            }
            return (text, 0)
        } catch {
            return ("mcpbox: audit verify: \(error.file): \(String(cString: strerror(error.code)))", 125)
        }
    }

    /// One record as a line for people: time, kind, then what matters for the kind.
    public static func humanLine(_ line: String) -> String {
        // Not a record: shown with its control and invisible characters escaped (a tampered log
        // must not drive the terminal).
        guard let j = try? JSON.parse(line), case .object(let pairs) = j else { return "(not a record) " + Explain.visible(line) }
        func s(_ k: String) -> String? {
            switch j[k] {
            case .string(let v)?: return v
            case .number(let v)?: return v
            case .bool(let v)?: return v ? "true" : "false"
            case nil, .null?: return nil
            case let v?: return v.serialized
            }
        }
        // What the server or client chose (a method, a tool or server name, a version) is one
        // word, quoted as a JSON string unless it is plain: a name holding spaces, `=` or
        // brackets must not read as further fields of the line (`x  ok  12µs`).
        func w(_ k: String) -> String? { s(k).map(word) }
        let kind = s("kind") ?? "?"
        var out = (s("time") ?? "?") + "  " + word(kind) + String(repeating: " ", count: max(1, 18 - kind.count))
        switch kind {
        case "mcp.request", "mcp.notification", "mcp.decision":
            out += (s("direction") == "server_to_client" ? "S→C " : "C→S ") + (w("method") ?? "?")
            if let id = w("id") { out += " #" + id }
            if let t = w("tool") { out += " tool=" + t }
            if let p = w("prompt") { out += " prompt=" + p }
            if let keys = j["argument_keys"], case .array(let a) = keys {
                out += " args=[" + a.compactMap(\.stringValue).map(word).joined(separator: ",") + "]"
            }
            out += "  " + (w("outcome") ?? "?")
            if let c = w("error_code") { out += " " + c }
            if let r = s("rule") { out += " (" + r + ")" }  // mcpbox's words: a rule of the profile
            if let d = w("duration_us") { out += "  \(d)µs" }
            if let a = w("request_bytes") { out += "  \(a)B" + (w("response_bytes").map { "/\($0)B" } ?? "") }
            if let c = w("client_name") { out += "  client=\(c) \(w("client_version") ?? "")" }
            if let c = w("server_name") { out += "  server=\(c) \(w("server_version") ?? "") protocol=\(w("protocol_version") ?? "?")" }
        default:
            let skip: Set<String> = ["time", "kind", "profile", "profile_hash", "prev"]
            out += pairs.filter { !skip.contains($0.0) }.map { k, _ in "\(word(k))=\(w(k) ?? "null")" }.joined(separator: " ")
        }
        return Explain.visible(out)
    }

    /// `v` as it is when it is one plain word (letters, digits and `._-/:@*+`), else as a JSON
    /// string literal.
    static func word(_ v: String) -> String {
        let plain = !v.isEmpty && v.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || "._-/:@*+".utf8.contains(c)
        }
        return plain ? v : JSON.string(v).serialized
    }

    /// The last `count` lines of `path` (whole file read; logs are size-rotated), and the
    /// file's size read so far; nil with errno.
    public static func lastLines(_ path: String, count: Int) -> (lines: [String], offset: Int64)? {
        guard let bytes = HostFS.readBytes(path, limit: 1 << 40) else { return nil }
        var lines = bytes.split(separator: 0x0a, omittingEmptySubsequences: true)
        var consumed = Int64(bytes.count)
        if let last = bytes.last, last != 0x0a, !lines.isEmpty {
            consumed -= Int64(lines.removeLast().count)
        }
        return (lines.suffix(count).map { String(decoding: $0, as: UTF8.self) }, consumed)
    }
}
