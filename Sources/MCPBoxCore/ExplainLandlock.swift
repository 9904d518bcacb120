/// explain's LANDLOCK section (text and JSON), kept apart from the other sections.
extension Explain {
    /// Short label of a rule's rights: rw, rx, r, or dev (read/write without creating anything).
    /// On a file only the file rights apply (the directory ones have nothing to act on).
    static func landlockLabel(_ access: LandlockAccess) -> String {
        if access.contains(.makeReg) { return "rw" }
        if access.contains(.writeFile) { return "dev" }
        return access.contains(.execute) ? "rx" : "r"
    }

    /// The LANDLOCK section: a heading and indented lines, as `text` prints them.
    static func landlockSection(_ l: LandlockPolicy) -> [String] {
        var out = ["LANDLOCK (second wall: the same plan as kernel access rules)"]
        func kv(_ k: String, _ v: String) { out.append("  " + pad(k, 16) + v) }
        kv("mode", "\(l.mode.rawValue) (\(l.origin))")
        kv("kernel ABI", l.abi > 0 ? String(l.abi) : "none (no Landlock on this kernel)")
        kv("status", l.statusText)
        guard l.applied else { return out }
        kv("filesystem", "\(l.rules.count) rules; no access anywhere else (\(l.handledFS.names.count) rights handled)")
        var labels: [String] = []
        var rights: [String: LandlockAccess] = [:]
        for r in l.rules {
            let label = landlockLabel(r.access)
            if rights[label] == nil { labels.append(label) }
            rights[label, default: []].formUnion(r.access)
        }
        for (i, label) in labels.enumerated() {
            kv(i == 0 ? "rights" : "", pad(label + ":", 5) + rights[label]!.names.joined(separator: " "))
        }
        let width = l.rules.map { $0.path.count }.max() ?? 0
        for (i, r) in l.rules.enumerated() {
            kv(i == 0 ? "rules" : "", pad(landlockLabel(r.access), 5) + pad(r.path, width + 2) + r.origin)
        }
        kv("tcp", l.tcpText)
        kv("scoped", l.scopeText)
        for n in l.notes { kv("note", n) }
        return out
    }
}

extension ExplainJSON {
    /// The `landlock` object (schema 1, additive).
    static func landlock(_ l: LandlockPolicy, _ w: inout Writer) {
        w.open("landlock", "{")
        w.field("mode", string(l.mode.rawValue))
        w.field("origin", string(l.origin))
        w.field("abi", String(l.abi))
        w.field("enforced", l.applied ? "true" : "false")
        w.field("status", string(l.statusText))
        w.field("handled_access_fs", strings(l.handledFS.names))
        w.open("rules", "[")
        for r in l.rules {
            w.element("{\"path\": \(string(r.path)), \"access\": \(strings(r.access.names)), \"origin\": \(string(r.origin))}")
        }
        w.close("]")
        w.field("tcp_bind", optional(l.tcpBind) { "[" + $0.map(String.init).joined(separator: ", ") + "]" })
        w.field("tcp_connect", optional(l.tcpConnect) { "[" + $0.map(String.init).joined(separator: ", ") + "]" })
        w.field("scoped", strings(l.scoped ? ["abstract_unix_socket", "signal"] : []))
        w.field("notes", strings(l.notes))
        w.close("}")
    }
}
