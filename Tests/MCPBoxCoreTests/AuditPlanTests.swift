import Foundation
import MCPBoxProtocol
import Testing
@testable import MCPBoxCore

/// `[audit]`: profile keys, validation, the plan and what explain shows.
@Suite struct AuditPlanTests {
    func plan(_ profile: String, env: [String: String] = [:]) throws -> SandboxPlan {
        let s = Scratch()
        s.write("base.toml", "")
        s.write("p.toml", profile)
        return try Fixture.plan("p", dirs: [s.path], env: env).get()
    }

    func errors(_ profile: String) -> [Diagnostic] {
        let s = Scratch()
        s.write("base.toml", "")
        s.write("p.toml", profile)
        return Fixture.errors("p", dirs: [s.path])
    }

    @Test func noKeyMeansNoAudit() throws {
        let p = try plan("")
        #expect(p.audit == nil && p.mcp == nil)
        #expect(Explain.text(p).contains("AUDIT\n  log             off: no [audit] key"))
        let j = try #require(JSONSerialization.jsonObject(with: Data(ExplainJSON.render(p).utf8)) as? [String: Any])
        #expect((j["audit"] as? [String: Any])?["enabled"] as? Bool == false)
    }

    @Test("log = true: the default path under XDG_STATE_HOME, else ~/.local/state; any [audit] key turns the MCP layer on")
    func defaultPathAndLayer() throws {
        let p = try plan("[audit]\nlog = true\n")
        let a = try #require(p.audit)
        #expect(a.path == "/root/.local/state/mcpbox/audit/p.jsonl")
        #expect(a.payloads == .none && a.required && a.rotation.maxSize == 10 << 20 && a.rotation.keep == 5)
        #expect(p.mcp != nil && p.mcp?.policy.tools == nil)
        let x = try plan("[audit]\npayloads = \"redacted\"\n", env: ["XDG_STATE_HOME": "/var/lib/st"])
        #expect(x.audit?.path == "/var/lib/st/mcpbox/audit/p.jsonl" && x.audit?.payloads == .redacted)
        #expect(try plan("[audit]\nlog = false\npayloads = \"full\"\n").audit == nil)
        let text = Explain.text(x)
        #expect(text.contains("AUDIT") && text.contains("/var/lib/st/mcpbox/audit/p.jsonl") && text.contains("redacted: params and results"))
        let j = try #require(JSONSerialization.jsonObject(with: Data(ExplainJSON.render(x).utf8)) as? [String: Any])
        let audit = try #require(j["audit"] as? [String: Any])
        #expect(audit["enabled"] as? Bool == true && audit["log"] as? String == "/var/lib/st/mcpbox/audit/p.jsonl"
                && audit["payloads"] as? String == "redacted" && audit["required"] as? Bool == true && audit["keep"] as? Int == 5)
        // The server's record budget, as the text states it (max_size / 4).
        #expect(audit["server_budget_bytes"] as? Int == (audit["max_size_bytes"] as? Int ?? 0) / 4, "\(audit)")
    }

    @Test("a log path no log can live at: refused, or with required = false a warning that the session will not be logged")
    func unwritablePath() throws {
        #expect(errors("[audit]\nlog = \"/dev/full\"\n").contains { $0.key == "audit.log" && $0.message.contains("audit log /dev/full lies under /dev") })
        let p = try plan("[audit]\nlog = \"/proc/self/x.jsonl\"\nrequired = false\n")
        #expect(p.warnings.contains { $0.contains("lies under /proc") && $0.contains("will not be logged") }, "\(p.warnings)")
    }

    @Test func keysAndVariables() throws {
        let p = try plan("""
            [audit]
            log = "${HOME}/logs/a.jsonl"
            required = false
            max_size = "1MiB"
            keep = 0
            """)
        let a = try #require(p.audit)
        #expect(a.path == "/root/logs/a.jsonl" && !a.required && a.rotation == .init(maxSize: 1 << 20, keep: 0))
        #expect(p.warnings.contains { $0.contains("audit.required = false") })
        #expect(Explain.text(p).contains("WARNING a log that cannot be written"))
    }

    @Test(arguments: [
        ("[audit]\nlogg = true\n", "audit.logg", "did you mean `log`"),
        ("[audit]\npayloads = \"some\"\n", "audit.payloads", "\"none\" or \"redacted\" or \"full\""),
        ("[audit]\nlog = \"rel/a.jsonl\"\n", "audit.log", "absolute"),
        ("[audit]\nlog = 3\n", "audit.log", "a path or a boolean"),
        ("[audit]\nmax_size = \"lots\"\n", "audit.max_size", "invalid size"),
        ("[audit]\nkeep = -1\n", "audit.keep", "from 0 to"),
        ("[audit]\nrequired = \"yes\"\n", "audit.required", "boolean"),
    ])
    func invalidKeys(_ c: (String, String, String)) {
        let e = errors(c.0)
        #expect(e.contains { $0.key == c.1 && $0.line == 2 && ($0.message + ($0.hint ?? "")).contains(c.2) }, "\(e)")
    }

    @Test("a log inside a read_write bind is refused (the server could edit it); one inside a read_only bind is warned about")
    func logInsideBinds() throws {
        let s = Scratch()
        s.write("base.toml", "")
        s.write("rw/.keep", "")
        s.write("ro/.keep", "")
        s.write("p.toml", """
            [filesystem]
            read_write = ["\(s.path)/rw"]
            [audit]
            log = "\(s.path)/rw/sub/audit.jsonl"
            """)
        let e = Fixture.errors("p", dirs: [s.path])
        #expect(e.contains { $0.key == "audit.log" && $0.message.contains("refused") && $0.message.contains("may write") }, "\(e)")
        s.write("q.toml", """
            [filesystem]
            read_only = ["\(s.path)/ro"]
            [audit]
            log = "\(s.path)/ro/audit.jsonl"
            """)
        let q = try Fixture.plan("q", dirs: [s.path]).get()
        #expect(q.warnings.contains { $0.contains("the server can read the audit log") })
    }
}
