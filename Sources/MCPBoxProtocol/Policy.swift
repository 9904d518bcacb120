#if canImport(Glibc)
import Glibc
#endif

/// `[tools]` / `[prompts]` allow and deny: shell globs (fnmatch(3), no flags) over names.
/// Deny wins; `allow` nil (absent) = every name, `allow` empty = no name.
public struct NamePolicy: Sendable, Equatable {
    public var allow: [String]?
    public var deny: [String]

    public init(allow: [String]?, deny: [String]) {
        self.allow = allow
        self.deny = deny
    }

    /// Whether `name` is exposed to the client. A name with a NUL never is: fnmatch cannot judge
    /// it, and a server comparing C strings reads `git_commit\0x` as `git_commit`.
    public func permits(_ name: String) -> Bool {
        if NamePolicy.hasNUL(name) { return false }
        if deny.contains(where: { NamePolicy.matches($0, name) }) { return false }
        guard let allow else { return true }
        return allow.contains(where: { NamePolicy.matches($0, name) })
    }

    /// The rule that hides `name` (`deny "PATTERN"` or `not in allow`), nil when it is exposed.
    public func refusal(_ name: String) -> String? {
        if NamePolicy.hasNUL(name) { return "a name with a NUL character" }
        if let d = deny.first(where: { NamePolicy.matches($0, name) }) { return "deny \"\(d)\"" }
        if let allow, !allow.contains(where: { NamePolicy.matches($0, name) }) { return "not in allow" }
        return nil
    }

    /// Whether resource URI `uri` is exposed: judged as written and as a server may read it,
    /// every form of `uriForms` must be permitted. A URI whose decoding holds NUL or is not
    /// UTF-8 never is.
    public func permitsURI(_ uri: String) -> Bool {
        guard let forms = NamePolicy.uriForms(uri) else { return false }
        return forms.allSatisfy(permits)
    }

    /// The forms of `uri` `permitsURI` judges: as written, then as URL parsers and servers
    /// read it (Python's `urlsplit` + `unquote` + `normpath`, WHATWG's parser behind Node's
    /// `fileURLToPath`): leading and trailing spaces and control characters dropped, tabs and
    /// line breaks removed anywhere, the scheme in lower case; the part before the first `?`
    /// or `#` then percent-decoded (again and again, up to four times: each decoding is one
    /// more form), with `\` read as `/`, doubled `/` collapsed and `.`/`..` segments removed
    /// (RFC 3986, 5.2.4; a `?` or `#` that decoding produced is part of the path, as it is to a
    /// server that decodes the path it split off), and `file://localhost/` and `file:/` written
    /// `file:///`. nil when a decoding holds NUL or is not UTF-8.
    static func uriForms(_ uri: String) -> [String]? {
        var forms = [uri]
        var b = Array(uri.utf8)
        // Spaces and C0 controls around it, tabs and line breaks inside (WHATWG, urlsplit).
        while let f = b.first, f <= 0x20 { b.removeFirst() }
        while let l = b.last, l <= 0x20 { b.removeLast() }
        b.removeAll { $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        // The scheme (letters, digits, + - .) in lower case.
        var start = 0
        if let colon = b.firstIndex(of: UInt8(ascii: ":")), colon > 0,
           b[..<colon].allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2B || $0 == 0x2D || $0 == 0x2E }) {
            for i in 0..<colon where b[i] >= 0x41 && b[i] <= 0x5A { b[i] |= 0x20 }
            start = colon + 1
        }
        let scheme = Array(b[..<start])
        let file = scheme == Array("file:".utf8)
        func emit(_ r: [UInt8], _ tail: [UInt8]) -> Bool {
            guard let text = String(validating: scheme + r + tail, as: UTF8.self) else { return false }
            if !forms.contains(text) { forms.append(text) }
            // `file://HOST/p` is also `file:///p`: servers open the path and ignore the host
            // (Python's `urlparse(uri).path`), so a deny of `file:///p` covers it.
            let slash = UInt8(ascii: "/")
            if file, r.count > 2, r[0] == slash, r[1] == slash, r[2] != slash {
                let end = r[2...].firstIndex(of: slash) ?? r.count
                guard let hostless = String(validating: scheme + [slash, slash] + r[end...] + tail, as: UTF8.self) else { return false }
                if !forms.contains(hostless) { forms.append(hostless) }
            }
            return true
        }
        /// The forms of what follows the scheme: `split` at its first `?` or `#` (a parser's
        /// way), or not (a server that decodes the whole rest, query included).
        func decodings(_ whole: [UInt8], split: Bool) -> Bool {
            let at = split ? (whole.firstIndex { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? whole.count) : whole.count
            let tail = Array(whole[at...])
            let first = normalizedRest(Array(whole[..<at]), file: file)
            guard emit(first, tail) else { return false }
            // Each decoding read as it is and with its tabs and line breaks dropped (a parser
            // reading the decoded text drops them too): every path of at most four decodings.
            var frontier = [first]
            var seen: Set<[UInt8]> = [first]
            for round in 0...4 {
                var next: [[UInt8]] = []
                for r in frontier {
                    guard let decoded = percentDecoded(r), !decoded.contains(0) else { return false }
                    let stripped = decoded.filter { $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
                    for candidate in [normalizedRest(decoded, file: file), normalizedRest(stripped, file: file)]
                    where candidate != r && seen.insert(candidate).inserted {
                        next.append(candidate)
                    }
                }
                if next.isEmpty { return true }
                // Still changing after four decodings: a server decoding until nothing changes
                // reads what no form here shows.
                guard round < 4 else { return false }
                for r in next { guard emit(r, tail) else { return false } }
                frontier = next
            }
            return true
        }
        let whole = Array(b[start...])
        guard decodings(whole, split: true), decodings(whole, split: false) else { return nil }
        return forms
    }

    /// What follows a URI's scheme, up to its query or fragment: `\` as `/`, the path's doubled
    /// `/` collapsed and dot segments removed, and for `file:` the authority `localhost` or a
    /// missing one written as `//` (`file:/x` and `file://localhost/x` are `file:///x`).
    static func normalizedRest(_ r: [UInt8], file: Bool) -> [UInt8] {
        let slash = UInt8(ascii: "/")
        var r = r.map { $0 == UInt8(ascii: "\\") ? slash : $0 }
        var authority: [UInt8] = []
        if r.count >= 2, r[0] == slash, r[1] == slash {
            let end = r[2...].firstIndex(of: slash) ?? r.count
            authority = Array(r[2..<end])
            r = Array(r[end...])
            if file && authority.map({ $0 | 0x20 }) == Array("localhost".utf8) { authority = [] }
            authority = [slash, slash] + authority
        } else if file {
            authority = [slash, slash]
        }
        return authority + withoutDotSegments(r)
    }
    /// `%XX` sequences decoded; a `%` not followed by two hex digits stays as it is.
    static func percentDecoded(_ b: [UInt8]) -> [UInt8]? {
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "%"), i + 2 < b.count, let h = hex(b[i + 1]), let l = hex(b[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return out
    }

    /// A path with its empty, `.` and `..` segments removed (RFC 3986, 5.2.4, and the doubled
    /// `/` a server's `normpath` collapses); a leading `/` and a trailing one after a last `.`
    /// or `..` stay.
    static func withoutDotSegments(_ path: [UInt8]) -> [UInt8] {
        let slash = UInt8(ascii: "/")
        let absolute = path.first == slash
        var segments: [ArraySlice<UInt8>] = []
        let parts = path.split(separator: slash, omittingEmptySubsequences: false)
        var trailing = false
        for (k, seg) in parts.enumerated() {
            let last = k == parts.count - 1
            trailing = false
            if seg.isEmpty {
                if last && k > 0 { trailing = true }
                continue
            }
            if seg.elementsEqual([0x2E]) {
                trailing = last
            } else if seg.elementsEqual([0x2E, 0x2E]) {
                if !segments.isEmpty { segments.removeLast() }
                trailing = last
            } else {
                segments.append(seg)
            }
        }
        var out: [UInt8] = absolute ? [slash] : []
        for (k, seg) in segments.enumerated() {
            if k > 0 { out.append(slash) }
            out += seg
        }
        if trailing && !segments.isEmpty { out.append(slash) }
        return out
    }

    /// fnmatch(3) with no flags: `*`, `?`, `[...]`; a name containing NUL never matches.
    public static func matches(_ pattern: String, _ name: String) -> Bool {
        if hasNUL(name) || hasNUL(pattern) { return false }
        return fnmatch(pattern, name, 0) == 0
    }

    /// Whether `s` has a NUL byte (fnmatch would see it end there).
    static func hasNUL(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { $0.count > 0 && memchr($0.baseAddress!, 0, $0.count) != nil }
    }
}

/// `[client]`: what the server may ask of the client. A denied feature is removed from the
/// capabilities the client declares, and the server's requests for it are answered by mcpbox.
public struct ClientGate: Sendable, Equatable {
    public var sampling: Bool
    public var elicitation: Bool
    public var roots: Bool
    /// With `elicitation`: URL-mode elicitation too (false: `elicitation = "form"`, form mode only).
    public var elicitationURL: Bool

    public init(sampling: Bool = true, elicitation: Bool = true, roots: Bool = true, elicitationURL: Bool = true) {
        self.sampling = sampling
        self.elicitation = elicitation
        self.roots = roots
        self.elicitationURL = elicitationURL
    }

    /// Whether URL-mode elicitation is refused while form mode is allowed (`elicitation = "form"`).
    public var formOnly: Bool { elicitation && !elicitationURL }

    /// Whether URL-mode elicitation is refused: elicitation denied altogether, or form mode only.
    public var refusesURLElicitation: Bool { !elicitation || !elicitationURL }

    /// Whether the gate changes anything at all.
    public var restricts: Bool { !denied.isEmpty || formOnly }

    /// The refusal for one server→client request (`method`, with `params.mode` for elicitation):
    /// the rule that denies it, nil when it may reach the client.
    /// `urlKeys`: the params hold `url` or `elicitationId`.
    public func refusal(method: String, mode: JSON?, urlKeys: Bool = false) -> String? {
        if let capability = deniedCapability(forMethod: method) { return "[client] \(capability) = false" }
        // Form only: exactly "form", or no mode (form) without the keys of URL mode (a client
        // takes `{"url":…,"elicitationId":…}` without a mode as URL mode); "url", any other
        // value or type is refused.
        if method == "elicitation/create", formOnly, mode.map({ $0 != .string("form") }) ?? urlKeys { return "[client] elicitation = \"form\"" }
        return nil
    }

    /// The client capability (`sampling`, `elicitation`, `roots`) a server→client method needs,
    /// when that capability is denied.
    public func deniedCapability(forMethod method: String) -> String? {
        switch method {
        case "sampling/createMessage": return sampling ? nil : "sampling"
        case "elicitation/create": return elicitation ? nil : "elicitation"
        case "roots/list": return roots ? nil : "roots"
        default: return nil
        }
    }

    /// The capability names removed from the client's declaration.
    public var denied: [String] {
        (sampling ? [] : ["sampling"]) + (elicitation ? [] : ["elicitation"]) + (roots ? [] : ["roots"])
    }
}

/// What the MCP layer enforces for one session; nil in the plan when no key is set (the relay
/// then moves bytes without looking at them).
public struct MCPPolicy: Sendable, Equatable {
    /// `[tools] allow/deny`; nil = no tools policy.
    public var tools: NamePolicy?
    /// `[prompts] allow/deny`; nil = no prompts policy.
    public var prompts: NamePolicy?
    /// `[client]`; nil = no gating.
    public var client: ClientGate?
    /// `[tools] pin`; nil = no pinning.
    public var pins: PinConfig?
    /// `[tools] confirm` globs: calls that need the user's yes (nil = none).
    public var confirm: [String]?
    /// `[tools] confirm_timeout`: seconds a held call waits for the user's answer before mcpbox refuses it.
    public var confirmTimeout: Double = MCPPolicy.defaultConfirmTimeout

    /// 120 seconds.
    public static let defaultConfirmTimeout = 120.0
    /// `[resources] allow/deny` over resource URIs; nil = no resources policy.
    public var resources: NamePolicy?
    /// Longest message (one line, newline excluded) in either direction; a longer one ends the session.
    public var maxMessage: Int

    /// 16 MiB.
    public static let defaultMaxMessage = 16 << 20

    public init(tools: NamePolicy? = nil, prompts: NamePolicy? = nil, client: ClientGate? = nil,
                maxMessage: Int = MCPPolicy.defaultMaxMessage, pins: PinConfig? = nil, confirm: [String]? = nil) {
        self.pins = pins
        self.confirm = confirm
        self.tools = tools
        self.prompts = prompts
        self.client = client
        self.maxMessage = maxMessage
    }
}
