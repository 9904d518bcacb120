import Foundation
import Testing
@testable import MCPBoxCore

/// explain text and JSON for the shipped profiles and a few hand-written ones.
@Suite struct ExplainTests {
    func shipped(_ name: String, vars: [String: String] = [:], command: [String] = []) throws -> SandboxPlan {
        try #require(Fixture.plan(name, dirs: [Fixture.shippedProfiles], vars: vars, command: command).plan)
    }

    func json(_ plan: SandboxPlan) throws -> [String: Any] {
        let text = ExplainJSON.render(plan)
        return try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func textHasEverySection() throws {
        let plan = try shipped("base", command: ["sh"])
        let text = Explain.text(plan)
        for section in ["COMMAND", "IDENTITY", "NAMESPACES", "FILESYSTEM", "NETWORK", "SECCOMP", "CAPABILITIES",
                        "ENVIRONMENT (names only)", "LIMITS", "WARNINGS"] {
            #expect(text.contains("\n\(section)"), "missing \(section)")
        }
        #expect(text.contains("executable      /usr/bin/sh"))
        #expect(text.contains("no_new_privs    yes"))
        #expect(text.contains("none: own network namespace, loopback only"))
        #expect(text.contains("/usr   ") && text.contains("base.toml: filesystem.read_only"))
        #expect(Explain.text(plan) == text, "deterministic")
    }

    @Test func textForGit() throws {
        let repo = Scratch()
        let plan = try shipped("git", vars: ["repo": repo.path])
        let text = Explain.text(plan)
        #expect(text.contains("argv            mcp-server-git --repository \(repo.path)"))
        #expect(text.contains("cwd             \(repo.path)"))
        let row = text.split(separator: "\n").first { $0.hasPrefix("  \(repo.path) ") }
        #expect(row?.contains(" rw ") == true)
        #expect(row?.contains("git.toml: filesystem.read_write") == true)
        #expect(plan.profileFiles.map(Paths.basename) == ["base.toml", "python.toml", "git.toml"])
    }

    @Test func jsonSchema() throws {
        let repo = Scratch()
        let plan = try shipped("git", vars: ["repo": repo.path])
        let j = try json(plan)
        #expect(j["schema"] as? Int == 1)
        #expect(Set(j.keys) == ["schema", "profile", "command", "identity", "namespaces", "filesystem", "network", "seccomp",
                                "tools", "client", "audit", "packages", "landlock", "capabilities", "environment", "limits", "warnings", "mcpbox_version", "acknowledged_warnings", "runtime"])
        let command = try #require(j["command"] as? [String: Any])
        #expect(command["argv"] as? [String] == ["mcp-server-git", "--repository", repo.path])
        #expect(command["cwd"] as? String == repo.path)
        let identity = try #require(j["identity"] as? [String: Any])
        #expect(identity["mechanism"] as? String == plan.identity.mechanism.rawValue)
        #expect((identity["host"] as? [String: Any])?["uid"] as? Int == Int(plan.identity.hostUid))
        let fs = try #require(j["filesystem"] as? [String: Any])
        let mounts = try #require(fs["mounts"] as? [[String: Any]])
        #expect(mounts.count == plan.mounts.count)
        let rw = mounts.first { $0["path"] as? String == repo.path }
        #expect(rw?["mode"] as? String == "rw")
        #expect(rw?["source"] as? String == repo.path)
        #expect(mounts.first { $0["path"] as? String == "/tmp" }?["size_bytes"] as? Int == 64 << 20)
        #expect(mounts.first { $0["path"] as? String == "/tmp" }?["source"] is NSNull)
        let caps = try #require(j["capabilities"] as? [String: Any])
        for set in ["bounding", "effective", "permitted", "inheritable", "ambient"] {
            #expect((caps[set] as? [Any])?.isEmpty == true)
        }
        #expect(caps["no_new_privs"] as? Bool == true)
        #expect(caps["securebits_locked"] as? Bool == true)
        #expect((j["network"] as? [String: Any])?["mode"] as? String == "none")
        let seccomp = try #require(j["seccomp"] as? [String: Any])
        #expect(seccomp["preset"] as? String == "default")
        #expect(seccomp["default_action"] as? String == "errno")
        #expect(seccomp["allowed_count"] as? Int == Seccomp.summary(plan.seccomp).allowedCount)
        #expect(j["environment"] as? [String] == plan.environment.map(\.name))
        let limits = try #require(j["limits"] as? [String: Any])
        // The shipped base carries memory = "?1GiB"; the fixture host has a usable memory cgroup.
        #expect(limits["memory_bytes"] as? Int == 1 << 30)
        #expect((limits["memory_optional"] as? [String: Any])?["applied"] as? Bool == true)
        #expect(limits["open_files"] as? Int == 1024)
        #expect(limits["shutdown_grace_seconds"] as? Int == 2)
        #expect(ExplainJSON.render(plan) == ExplainJSON.render(plan))
    }

    @Test func jsonEscaping() {
        #expect(ExplainJSON.string("a\"b\\c\nd\u{1}é") == "\"a\\\"b\\\\c\\nd\\u0001é\"")
    }

    @Test func seccompChangesAreShown() throws {
        let s = Scratch()
        s.write("base.toml", "")
        s.write("p.toml", "[seccomp]\nallow = [\"ptrace\"]\ndeny = [\"chmod\"]\ndefault_action = \"kill\"\n[limits]\nmemory = \"512MiB\"\ncpu = 0.5\n")
        let plan = try #require(Fixture.plan("p", dirs: [s.path]).plan)
        let summary = Seccomp.summary(plan.seccomp)
        let text = Explain.text(plan)
        #expect(text.contains("default action  kill"))
        #expect(text.contains("added           " + (summary.added.isEmpty ? "(none)" : summary.added.joined(separator: " "))))
        #expect(text.contains("removed         " + (summary.removed.isEmpty ? "(none)" : summary.removed.joined(separator: " "))))
        #expect(text.contains("memory          512MiB"))
        #expect(text.contains("cpu             0.5 cores"))
        let j = try json(plan)
        #expect((j["seccomp"] as? [String: Any])?["added"] as? [String] == summary.added)
        #expect((j["limits"] as? [String: Any])?["memory_bytes"] as? Int == 512 << 20)
        #expect((j["limits"] as? [String: Any])?["cpu"] as? Double == 0.5)
    }

    @Test("memory = \"?SIZE\": applied where a memory cgroup is usable, else left out, and explain says which")
    func optionalMemory() throws {
        let s = Scratch()
        s.write("base.toml", "")
        s.write("p.toml", "[limits]\nmemory = \"?1GiB\"\n")
        s.write("hard.toml", "extends = [\"p\"]\n[limits]\nmemory = \"256MiB\"\n")
        var host = Fixture.host()
        host.memoryCgroup = (true, "cgroup v1 memory controller writable")
        let applied = try #require(Fixture.plan("p", dirs: [s.path], host: host).plan)
        #expect(applied.limits.memoryBytes == 1 << 30)
        #expect(Explain.text(applied).contains("memory          1GiB (optional \"?\": applied, cgroup v1 memory controller writable)"))
        #expect(!applied.warnings.contains { $0.hasPrefix(PlanBuilder.limitsWarningPrefix) })

        host.memoryCgroup = (false, "/sys/fs/cgroup/memory is not writable by uid 1000")
        let skipped = try #require(Fixture.plan("p", dirs: [s.path], host: host).plan)
        #expect(skipped.limits.memoryBytes == nil)
        let text = Explain.text(skipped)
        #expect(text.contains("memory          unlimited (optional \"?1GiB\" not applied: /sys/fs/cgroup/memory is not writable by uid 1000)"))
        #expect(skipped.warnings.contains(PlanBuilder.limitsWarningPrefix
            + "memory \"?1GiB\" not applied: /sys/fs/cgroup/memory is not writable by uid 1000; the server runs without a memory limit"))
        let j = try json(skipped)
        let optional = try #require((j["limits"] as? [String: Any])?["memory_optional"] as? [String: Any])
        #expect(optional["bytes"] as? Int == 1 << 30 && optional["applied"] as? Bool == false)
        #expect((j["limits"] as? [String: Any])?["memory_bytes"] is NSNull)

        // A hard value in a child replaces the optional one: where it cannot apply, explain
        // refuses it as run would.
        let hard = Fixture.errors("hard", dirs: [s.path], host: host)
        #expect(hard.contains { $0.key == "limits.memory" && $0.message.contains("cannot be applied here") }, "\(hard)")

        s.write("bad.toml", "[limits]\nmemory = \"?lots\"\n")
        #expect(Fixture.errors("bad", dirs: [s.path]).contains { $0.key == "limits.memory" })
    }

    @Test func networkHostIsShownAndWarned() throws {
        let s = Scratch()
        s.write("base.toml", "")
        s.write("p.toml", "[network]\nmode = \"host\"\n")
        let plan = try #require(Fixture.plan("p", dirs: [s.path]).plan)
        let text = Explain.text(plan)
        #expect(text.contains("host: the host's network is shared"))
        #expect(text.contains("shared          net (with the host)"))
        #expect(text.contains("! network.mode = \"host\""))
        #expect((try json(plan)["namespaces"] as? [String])?.contains("net") == false)
    }
}
