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
    public func refusal(method: String, mode: JSON?) -> String? {
        if let capability = deniedCapability(forMethod: method) { return "[client] \(capability) = false" }
        // Form only: no mode (form) or exactly "form"; "url", any other value or type is refused.
        if method == "elicitation/create", formOnly, mode != nil, mode != .string("form") { return "[client] elicitation = \"form\"" }
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
