import Foundation
import MCPBoxCore
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A venv scripts/setup makes beside `.venv` (`.venv-uv`, `.venv-sqlite`, …).
func serverVenv(_ name: String) throws -> String {
    let dir = TestSupport.packageRoot.appendingPathComponent(name).path
    guard FileManager.default.isExecutableFile(atPath: dir + "/bin/python") else {
        throw SupportError("\(dir) is missing: run scripts/setup")
    }
    return dir
}

/// Root with a dedicated account and a profile that extends a shipped one; its own cache root.
struct ShippedProfileEnvironment {
    let tmp: TempDir
    let account: TestAccount
    let profileDir: String
    let profile: String
    let mcpbox: String
    let clientVenv: String
    let token = String(UInt64.random(in: 0..<UInt64.max), radix: 36)
    /// `XDG_CACHE_HOME` for mcpbox: the package caches go under it.
    var cacheHome: String { tmp.sub("cache") }

    /// `extra` is appended to the wrapper profile (after `[user]`).
    init(shipped: String, name: String? = nil, extra: String = "") throws {
        mcpbox = try TestSupport.mcpboxBinary()
        clientVenv = try TestSupport.venv()
        tmp = try TempDir(prefix: "mcpbox-pkg")
        do { account = try TestAccount.create(prefix: "mcpbox-pkg") } catch { tmp.remove(); throw error }
        profileDir = try tmp.makeDir("profiles")
        _ = try tmp.makeDir("cache")
        profile = profileDir + "/\(name ?? shipped + "-test").toml"
        try rewriteProfile(shipped: shipped, extra: extra)
    }

    func rewriteProfile(shipped: String, extra: String) throws {
        try """
            extends = [\(tomlString(shipped))]

            [user]
            name = \(tomlString(account.name))
            \(extra)
            """.write(toFile: profile, atomically: true, encoding: .utf8)
    }

    func environment(path: [String] = [], extra: [String: String] = [:]) -> [String: String] {
        var env = ["PATH": (path + ["/usr/local/bin", "/usr/bin", "/bin"]).joined(separator: ":"), "HOME": tmp.path,
                   "LANG": "C.UTF-8", "XDG_CACHE_HOME": cacheHome]
        env.merge(extra) { _, b in b }
        return env
    }

    func cleanUp() {
        account.delete()
        tmp.remove()
    }

    func explainJSON(_ args: [String], env: [String: String]) throws -> [String: Any] {
        let r = try runProcess([mcpbox, "explain", profile, "--profile-path", TestSupport.profilesDir, "--json"] + args, environment: env)
        guard r.status == 0, let j = try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any] else {
            throw SupportError("explain --json failed (\(r.status)): \(r.stderr)")
        }
        return j
    }

    /// Runs the Python SDK client against `mcpbox run PROFILE ARGS`.
    func runClient(_ args: [String], calls: [[String: Any]], env: [String: String], timeout: Double = 240) throws -> ClientOutput {
        let config: [String: Any] = [
            "command": mcpbox, "args": ["run", profile, "--profile-path", TestSupport.profilesDir] + args, "calls": calls,
            "timeout": timeout, "env": env, "client_features": false,
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
        let client = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures/mcp_client.py").path
        let r = try runProcess([clientVenv + "/bin/python", client, json], environment: env, timeout: timeout + 60)
        guard !r.timedOut else { throw SupportError("the MCP client timed out; stderr: \(r.stderr.suffix(2000))") }
        do {
            var out = try JSONDecoder().decode(ClientOutput.self, from: r.stdout)
            out.stderr = r.stderr
            return out
        } catch {
            throw SupportError("the MCP client exited \(r.status) without a report: \(r.stderr.suffix(2000)) \(r.stdoutText.prefix(500))")
        }
    }
}

/// `uvx` and `npx` servers: the package tool inside the sandbox, its per-profile cache, the
/// registry through `[network] mode = "allow"`, and the second launch offline from the cache.
@Suite("uvx and npx servers", .enabled(if: TestSupport.isRoot, "creates throwaway accounts: run as root (CI does)"))
struct PackageToolTests {
    @Test("uvx mcp-server-time from PyPI under `uvx`; the second launch works with no network, from the cache")
    func uvxFromPyPI() throws {
        let env = try ShippedProfileEnvironment(shipped: "uvx")
        defer { env.cleanUp() }
        let uv = try serverVenv(".venv-uv")
        let vars = env.environment(path: [uv + "/bin"])
        let calls: [[String: Any]] = [["tool": "get_current_time", "arguments": ["timezone": "UTC"]]]

        let plan = try env.explainJSON(["--", "uvx", "mcp-server-time"], env: vars)
        let packages = try #require(plan["packages"] as? [[String: Any]])
        let cache = try #require(packages.first?["cache"] as? String)
        #expect(cache == env.cacheHome + "/mcpbox/" + (PackageTools.cacheName(profileFile: HostFS.realPath(env.profile) ?? env.profile) ?? "?") + "/uv")
        #expect(packages.first?["offline"] as? Bool == false)
        let rules = ((plan["network"] as? [String: Any])?["allow"] as? [[String: Any]])?.compactMap { $0["rule"] as? String } ?? []
        #expect(rules.contains("pypi.org:443") && rules.contains("files.pythonhosted.org:443"), "allow rules: \(rules)")

        // First launch: uv downloads mcp-server-time and its dependencies through the proxy.
        let first = try env.runClient(["--", "uvx", "mcp-server-time"], calls: calls, env: vars, timeout: 400)
        first.expectCleanSession(server: "mcp-time")
        #expect(!first.stderr.contains("deprecated"), "uv warns about the profile's environment: \(first.stderr.suffix(1000))")
        #expect(first.calls.first.map { !$0.isError && $0.text.contains("\"timezone\": \"UTC\"") } == true, "calls: \(first.calls)")

        // The cache belongs to the server's account alone, and is filled.
        var st = stat()
        try #require(lstat(cache, &st) == 0, "no cache at \(cache)")
        #expect(st.st_uid == env.account.uid && st.st_mode & 0o7777 == 0o700, "cache owner \(st.st_uid) mode \(String(st.st_mode & 0o7777, radix: 8))")
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []
        #expect(entries.contains { $0.hasPrefix("archive") }, "the cache holds no unpacked packages: \(entries)")
        #expect(FileManager.default.fileExists(atPath: cache + ".filled"), "no mark that the session succeeded")

        // Second launch with no network at all: UV_OFFLINE, from the cache.
        try env.rewriteProfile(shipped: "uvx", extra: "\n[network]\nmode = \"none\"\n")
        let offline = try env.explainJSON(["--", "uvx", "mcp-server-time"], env: vars)
        #expect((offline["packages"] as? [[String: Any]])?.first?["offline"] as? Bool == true)
        #expect((offline["environment"] as? [String])?.contains("UV_OFFLINE") == true)
        let second = try env.runClient(["--", "uvx", "mcp-server-time"], calls: calls, env: vars, timeout: 240)
        second.expectCleanSession(server: "mcp-time")
        #expect(second.calls.first.map { !$0.isError && $0.text.contains("\"timezone\": \"UTC\"") } == true, "offline calls: \(second.calls)")
        // Another package through the same profile is not sent offline by that success.
        let another = try env.explainJSON(["--", "uvx", "mcp-server-fetch"], env: vars)
        #expect((another["packages"] as? [[String: Any]])?.first?["offline"] as? Bool == false)

        // Control: with the filled mark removed the tool asks the registry, which is unreachable now.
        try FileManager.default.removeItem(atPath: cache + ".filled")
        let online = try runProcess([env.mcpbox, "run", env.profile, "--profile-path", TestSupport.profilesDir, "--",
                                     "uvx", "mcp-server-time", "--help"], environment: vars, timeout: 240)
        #expect(online.status != 0, "uvx without UV_OFFLINE and without network should fail: \(online.stdoutText.prefix(300))")
    }

    @Test("A profile's package cache is out of reach of every other profile, and a foreign-owned cache is refused")
    func cacheIsolation() throws {
        let a = try ShippedProfileEnvironment(shipped: "uvx", name: "uvx-a")
        defer { a.cleanUp() }
        let b = try ShippedProfileEnvironment(shipped: "uvx", name: "uvx-b")
        defer { b.cleanUp() }
        let vars = a.environment(extra: ["XDG_CACHE_HOME": a.cacheHome])
        // Profile b, with the same cache root: its sandbox sees only its own cache.
        let bProfile = a.profileDir + "/uvx-b.toml"
        try String(contentsOfFile: b.profile, encoding: .utf8).write(toFile: bProfile, atomically: true, encoding: .utf8)
        // Named by the profile file and a hash of its real path (PackageTools.cacheName).
        let cacheA = a.cacheHome + "/mcpbox/" + (PackageTools.cacheName(profileFile: HostFS.realPath(a.profile) ?? a.profile) ?? "?") + "/uv"
        let cacheB = a.cacheHome + "/mcpbox/" + (PackageTools.cacheName(profileFile: HostFS.realPath(bProfile) ?? bProfile) ?? "?") + "/uv"
        let ra = try runProcess([a.mcpbox, "run", a.profile, "--profile-path", TestSupport.profilesDir, "--", "/bin/sh", "-c",
                                 "echo planted > \(cacheA)/mark && echo ok"], environment: vars)
        #expect(ra.status == 0 && ra.stdoutText.contains("ok"), "profile a writes its own cache: \(ra.stderr)")
        let rb = try runProcess([a.mcpbox, "run", bProfile, "--profile-path", TestSupport.profilesDir, "--", "/bin/sh", "-c",
                                 "touch \(cacheB)/own && echo own-ok; cat \(cacheA)/mark; echo x > \(cacheA)/poison && echo POISONED"],
                                environment: vars)
        #expect(rb.stdoutText.contains("own-ok"), "profile b writes its own cache: \(rb.stderr)")
        #expect(!rb.stdoutText.contains("planted") && !rb.stdoutText.contains("POISONED"), "profile b reached a's cache: \(rb.stdoutText)")
        #expect(!FileManager.default.fileExists(atPath: cacheA + "/poison"))
        #expect(ownerUID(of: cacheB) == b.account.uid && ownerUID(of: cacheA) == a.account.uid)

        // A cache that belongs to someone else (another account ran this profile before) is refused.
        #expect(chown(cacheB, a.account.uid, a.account.gid) == 0)
        let refused = try runProcess([a.mcpbox, "run", bProfile, "--profile-path", TestSupport.profilesDir, "--", "/bin/true"], environment: vars)
        #expect(refused.status == 125 && refused.stderr.contains("belongs to uid \(a.account.uid)"), "\(refused.status): \(refused.stderr)")
    }

    @Test("The registry comes from the user's own configuration: pip.conf index-url, then UV_DEFAULT_INDEX; .npmrc registry=")
    func registryFromUserConfiguration() throws {
        let env = try ShippedProfileEnvironment(shipped: "uvx")
        defer { env.cleanUp() }
        _ = try env.tmp.makeDir(".config/pip")
        _ = try env.tmp.write(".config/pip/pip.conf", "[global]\nindex-url = https://pypi.mirror.test:8443/simple\n")
        var vars = env.environment()
        func rules(_ j: [String: Any]) -> [String: String] {
            var out: [String: String] = [:]
            for r in ((j["network"] as? [String: Any])?["allow"] as? [[String: Any]]) ?? [] { out[r["rule"] as? String ?? ""] = r["origin"] as? String }
            return out
        }
        let fromPip = try env.explainJSON([], env: vars)
        #expect(Set(rules(fromPip).keys) == ["pypi.mirror.test:8443"], "\(rules(fromPip))")
        #expect(rules(fromPip)["pypi.mirror.test:8443"]?.contains("pip.conf: index-url") == true)
        #expect((fromPip["environment"] as? [String])?.contains("UV_DEFAULT_INDEX") == true)
        vars["UV_DEFAULT_INDEX"] = "https://uv.mirror.test/simple"
        let fromEnv = try env.explainJSON([], env: vars)
        #expect(Set(rules(fromEnv).keys) == ["uv.mirror.test:443"], "\(rules(fromEnv))")
        #expect(rules(fromEnv)["uv.mirror.test:443"]?.contains("environment: UV_DEFAULT_INDEX") == true)

        try env.rewriteProfile(shipped: "npx", extra: "")
        let npmDefault = try env.explainJSON([], env: env.environment())
        #expect(Set(rules(npmDefault).keys) == ["registry.npmjs.org:443"], "\(rules(npmDefault))")
        _ = try env.tmp.write(".npmrc", "registry=http://npm.mirror.test:4873/\n//npm.mirror.test:4873/:_authToken=secret\n")
        let npmrc = try env.explainJSON([], env: env.environment())
        #expect(Set(rules(npmrc).keys) == ["npm.mirror.test:4873"], "\(rules(npmrc))")
        // The text plan names the cache, the registry and where it came from.
        let text = try runProcess([env.mcpbox, "explain", env.profile, "--profile-path", TestSupport.profilesDir], environment: env.environment())
        #expect(text.stdoutText.contains("PACKAGES") && text.stdoutText.contains("http://npm.mirror.test:4873/ (\(env.tmp.path)/.npmrc: registry)"),
                "\(text.stdoutText) \(text.stderr)")
    }

    @Test("npx runs a Node server packed with npm pack (the npm registry is not reachable here); the second launch is offline")
    func npxFromTarball() throws {
        let npm = "/usr/bin/npm"
        try #require(FileManager.default.isExecutableFile(atPath: npm), "npm is missing: scripts/setup installs it")
        let env = try ShippedProfileEnvironment(shipped: "npx")
        defer { env.cleanUp() }
        let packDir = try env.tmp.makeDir("pack")
        let source = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures/node-echo-server").path
        let pack = try runProcess([npm, "pack", "--pack-destination", packDir, source], environment: env.environment(), currentDirectory: packDir)
        try #require(pack.status == 0, "npm pack: \(pack.stderr)")
        let tarball = packDir + "/mcpbox-test-echo-server-1.0.0.tgz"
        try #require(FileManager.default.fileExists(atPath: tarball))
        let extra = "\n[filesystem]\nread_only = [\(tomlString(packDir))]\n"
        try env.rewriteProfile(shipped: "npx", extra: extra)
        let vars = env.environment(extra: ["MCPBOX_TEST_SECRET": "secret-\(env.token)"])
        let args = ["--", "npx", "-y", "--package=\(tarball)", "mcpbox-test-echo-server"]
        let calls: [[String: Any]] = [["tool": "echo", "arguments": ["text": "hello \(env.token)"]], ["tool": "env", "arguments": [:]]]

        let first = try env.runClient(args, calls: calls, env: vars)
        first.expectCleanSession(server: "node-echo")
        try #require(first.calls.count == 2, "calls: \(first.calls)")
        #expect(first.calls[0].text == "echo: hello \(env.token)")
        let names = first.calls[1].text.split(separator: " ").map(String.init)
        #expect(names.contains("npm_config_cache") && !names.contains("MCPBOX_TEST_SECRET"), "env: \(names)")
        let cache = env.cacheHome + "/mcpbox/" + (PackageTools.cacheName(profileFile: HostFS.realPath(env.profile) ?? env.profile) ?? "?") + "/npm"
        #expect(ownerUID(of: cache) == env.account.uid)
        #expect(FileManager.default.fileExists(atPath: cache + "/_npx"), "npx installed nothing into the profile's cache")

        try env.rewriteProfile(shipped: "npx", extra: extra + "\n[network]\nmode = \"none\"\n")
        let second = try env.runClient(args, calls: calls, env: vars)
        second.expectCleanSession(server: "node-echo")
        #expect(second.calls.first?.text == "echo: hello \(env.token)", "offline: \(second.calls)")
        #expect(second.calls.last?.text.split(separator: " ").contains("npm_config_offline") == true)
    }
}
