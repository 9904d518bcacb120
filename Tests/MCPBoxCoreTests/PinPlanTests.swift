import Foundation
import MCPBoxProtocol
import Testing
@testable import MCPBoxCore

/// `[tools] pin` / `pin_first_use`: keys, the pin file's place, the refusal inside a read-write
/// bind, and what explain says.
@Suite struct PinPlanTests {
    @Test func pinKeysPlanAndExplain() throws {
        let s = Scratch()
        s.write("base.toml", "[tools]\npin = \"warn\"\n")
        s.write("p.toml", "extends = [\"base\"]\n[tools]\npin = \"block\"\npin_first_use = true\n")
        let p = try Fixture.plan("p", dirs: [s.path], env: ["XDG_STATE_HOME": "/var/lib/someone/state"]).get()
        let m = try #require(p.mcp, "pin alone turns the layer on")
        #expect(m.policy.tools == nil)
        #expect(m.policy.pins == PinConfig(mode: .block, firstUse: true, profile: "p", path: "/var/lib/someone/state/mcpbox/pins/p.json"))
        let text = Explain.text(p)
        #expect(text.contains("pin             block  p.toml: tools.pin"), "\(text)")
        #expect(text.contains("pin file        /var/lib/someone/state/mcpbox/pins/p.json"))
        #expect(text.contains("pin first use   true"))
        let j = try #require(JSONSerialization.jsonObject(with: Data(ExplainJSON.render(p).utf8)) as? [String: Any])
        let pin = try #require((j["tools"] as? [String: Any])?["pin"] as? [String: Any])
        #expect(pin["mode"] as? String == "block")
        #expect(pin["first_use"] as? Bool == true)
        #expect(pin["file"] as? String == "/var/lib/someone/state/mcpbox/pins/p.json")
        #expect(pin["origin"] as? String == "p.toml: tools.pin")
    }

    @Test func defaultIsOffAndHomeIsTheFallback() throws {
        let s = Scratch()
        s.write("base.toml", "")
        s.write("p.toml", "[tools]\ndeny = [\"x\"]\n")
        let off = try Fixture.plan("p", dirs: [s.path]).get()
        #expect(off.mcp?.policy.pins == nil)
        #expect(Explain.text(off).contains("pin             off (no [tools] pin key)"))
        let j = try #require(JSONSerialization.jsonObject(with: Data(ExplainJSON.render(off).utf8)) as? [String: Any])
        #expect((j["tools"] as? [String: Any])?["pin"] is NSNull)
        s.write("q.toml", "[tools]\npin = \"off\"\n")
        #expect(try Fixture.plan("q", dirs: [s.path]).get().mcp == nil, "pin = \"off\" alone leaves the relay byte for byte")
        s.write("r.toml", "[tools]\npin = \"warn\"\n")
        let home = try Fixture.plan("r", dirs: [s.path], env: ["HOME": "/home/u"]).get()
        #expect(home.mcp?.policy.pins?.path == "/home/u/.local/state/mcpbox/pins/r.json")
        #expect(home.mcp?.policy.pins?.firstUse == false)
    }

    @Test func badValuesAreErrors() {
        let s = Scratch()
        s.write("base.toml", "")
        s.write("p.toml", "[tools]\npin = \"yes\"\npin_first_use = \"true\"\n")
        let e = Fixture.errors("p", dirs: [s.path])
        #expect(e.contains { $0.key == "tools.pin" && $0.message.contains("invalid value \"yes\"") }, "\(e)")
        #expect(e.contains { $0.key == "tools.pin_first_use" && $0.message.contains("expected a boolean") }, "\(e)")
        s.write("q.toml", "[prompts]\npin = \"block\"\n")
        #expect(Fixture.errors("q", dirs: [s.path]).contains { $0.key == "prompts.pin" && $0.message == "unknown key" })
    }

    /// A server that can write its own pins approves its own rug pull.
    @Test func pinFileInsideAReadWriteBindIsRefused() {
        let s = Scratch()
        let rw = s.mkdir("work")
        s.write("profiles/base.toml", "")
        s.write("profiles/p.toml", "[filesystem]\nread_write = [\"\(rw)\"]\n[tools]\npin = \"block\"\n")
        let e = Fixture.errors("p", dirs: [s.path + "/profiles"], env: ["XDG_STATE_HOME": rw + "/state"])
        #expect(e.contains { $0.key == "tools.pin" && $0.message.contains("lies inside \(rw)") }, "\(e)")
        // Through a symlink to the same place, too.
        symlink(rw, s.path + "/link")
        let viaLink = Fixture.errors("p", dirs: [s.path + "/profiles"], env: ["XDG_STATE_HOME": s.path + "/link/state"])
        #expect(viaLink.contains { $0.key == "tools.pin" && $0.message.contains("which the server may write") }, "\(viaLink)")
        #expect(Fixture.errors("p", dirs: [s.path + "/profiles"], env: ["XDG_STATE_HOME": s.path + "/elsewhere"]).isEmpty)
    }

    @Test func pinFileNames() {
        #expect(PinPlanner.fileName(profile: "git", topFile: "/etc/mcpbox/profiles/git.toml") == "git.json")
        let a = PinPlanner.fileName(profile: "./srv/git.toml", topFile: "/a/srv/git.toml")
        let b = PinPlanner.fileName(profile: "./srv/git.toml", topFile: "/b/srv/git.toml")
        #expect(a.hasPrefix("git-") && a.hasSuffix(".json") && a != b)
    }

    @Test func confirmKeyPlanAndExplain() throws {
        let s = Scratch()
        s.write("base.toml", "[tools]\nconfirm = [\"git_commit\"]\n")
        s.write("p.toml", "extends = [\"base\"]\n[tools]\nconfirm = [\"*delete*\"]\n")
        let p = try Fixture.plan("p", dirs: [s.path]).get()
        let m = try #require(p.mcp, "confirm alone turns the layer on")
        #expect(m.policy.confirm == ["git_commit", "*delete*"])
        let text = Explain.text(p)
        #expect(text.contains("confirm         git_commit  base.toml: tools.confirm"), "\(text)")
        #expect(text.contains("forwarded only on accept"))
        let j = try #require(JSONSerialization.jsonObject(with: Data(ExplainJSON.render(p).utf8)) as? [String: Any])
        #expect(((j["tools"] as? [String: Any])?["confirm"] as? [[String: Any]])?.map { $0["pattern"] as? String } == ["git_commit", "*delete*"])
        s.write("q.toml", "[prompts]\nconfirm = [\"x\"]\n")
        #expect(Fixture.errors("q", dirs: [s.path]).contains { $0.key == "prompts.confirm" && $0.message == "unknown key" })
    }

    @Test func resourcesKeysPlanAndExplain() throws {
        let s = Scratch()
        s.write("base.toml", "")
        s.write("p.toml", "[resources]\nallow = [\"file:///docs/*\"]\ndeny = [\"*secret*\"]\n")
        let p = try Fixture.plan("p", dirs: [s.path]).get()
        let m = try #require(p.mcp, "[resources] alone turns the layer on")
        #expect(m.policy.resources == NamePolicy(allow: ["file:///docs/*"], deny: ["*secret*"]))
        let text = Explain.text(p)
        #expect(text.contains("resources allow  'file:///docs/*'  p.toml: resources.allow"), "\(text)")
        #expect(text.contains("resources/read (and subscribe) for a hidden resource URI answered by mcpbox with -32002"), "\(text)")
        let j = try #require(JSONSerialization.jsonObject(with: Data(ExplainJSON.render(p).utf8)) as? [String: Any])
        let t = try #require(j["tools"] as? [String: Any])
        #expect((t["resources_allow"] as? [[String: Any]])?.map { $0["pattern"] as? String } == ["file:///docs/*"])
        #expect((t["resources_deny"] as? [[String: Any]])?.map { $0["origin"] as? String } == ["p.toml: resources.deny"])
    }
}
