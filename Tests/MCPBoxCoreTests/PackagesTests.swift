import Foundation
import MCPBoxEvents
import Testing
@testable import MCPBoxCore

/// `[packages]`: the profile keys, the cache bind, registries from the user's configuration, offline.
@Suite struct PackagesTests {
    /// The cache directory name of `s`'s profile `pkg.toml`: its name and a hash of its real path.
    func cacheName(_ s: Scratch) -> String { "pkg-" + String(SHA256.hex(s.path + "/profiles/pkg.toml").prefix(12)) }

    func plan(_ s: Scratch, _ profile: String, env: [String: String], command: [String] = []) throws -> SandboxPlan {
        s.write("profiles/base.toml", "")
        s.write("profiles/pkg.toml", profile)
        var e = ["XDG_CACHE_HOME": s.path + "/cache", "HOME": s.path + "/home"]
        e.merge(env) { _, b in b }
        return try Fixture.plan("pkg", dirs: [s.path + "/profiles"], env: e, command: command).get()
    }

    /// One `uvx` profile shared by two packages: after `uvx mcp-server-time` had ended a session
    /// with status 0, `uvx mcp-server-fetch` was launched with UV_OFFLINE=1 too and failed, its
    /// package never fetched (found running real servers; fails before the fix). The marker now
    /// lists each command line that succeeded, as a hash: no word of it (a token) is written.
    @Test("offline = auto goes offline per command line, not per cache; the marker holds hashes only")
    func offlinePerCommandLine() throws {
        let s = Scratch()
        let profile = "[packages]\nmanagers = [\"uv\"]\n[network]\nmode = \"allow\"\n"
        let time = ["uvx", "mcp-server-time", "--local-timezone=secret-token-123"]
        let fetch = ["uvx", "mcp-server-fetch"]
        let first = try plan(s, profile, env: [:], command: time)
        #expect(first.packages.first?.offline == false)
        PackageTools.sessionSucceeded(first)
        let again = try plan(s, profile, env: [:], command: time)
        #expect(again.packages.first?.offline == true)
        #expect(again.environment.contains { $0.name == "UV_OFFLINE" })
        let other = try plan(s, profile, env: [:], command: fetch)
        #expect(other.packages.first?.offline == false, "another package through the same profile must ask the registry")
        #expect(!other.environment.contains { $0.name == "UV_OFFLINE" })
        #expect(Explain.text(other).contains("no session of this command line has ended with status 0 yet"))
        // Its own success is added beside the first; both stay offline afterwards.
        PackageTools.sessionSucceeded(other)
        PackageTools.sessionSucceeded(other)
        #expect(try plan(s, profile, env: [:], command: fetch).packages.first?.offline == true)
        #expect(try plan(s, profile, env: [:], command: time).packages.first?.offline == true)
        let marker = try #require(first.packages.first?.marker)
        let text = try String(contentsOfFile: marker, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 3 && lines[0].hasPrefix("#"), "\(text)")
        #expect(!text.contains("secret-token") && !text.contains("mcp-server"), "\(text)")
        // A marker written by an older mcpbox (no hashes in it) sends each command line online once.
        try "filled by a session of profile pkg that exited 0; remove this file to ask the registry again\n".write(toFile: marker, atomically: false, encoding: .utf8)
        #expect(try plan(s, profile, env: [:], command: time).packages.first?.offline == false)
    }

    @Test("uv with mode allow: the cache is a read-write bind of this profile's own, PyPI is allowed, the variables are set")
    func uvCacheAndRegistry() throws {
        let s = Scratch()
        let p = try plan(s, "[packages]\nmanagers = [\"uv\"]\n[network]\nmode = \"allow\"\n", env: [:])
        let cache = s.path + "/cache/mcpbox/\(cacheName(s))/uv"
        #expect(p.packages.map(\.directory) == [cache])
        #expect(p.mounts.contains { $0.target == cache && $0.kind == .bind(source: cache, readOnly: false) })
        var st = stat()
        #expect(lstat(cache, &st) == 0 && st.st_mode & 0o777 == 0o700 && st.st_uid == p.identity.hostUid)
        #expect(p.egress?.policy.allow.map(\.text) == ["pypi.org:443", "files.pythonhosted.org:443"])
        #expect(p.egress?.policy.allow.first?.origin.contains("mcpbox: packages uv registry (default)") == true)
        #expect(p.environment.first { $0.name == "UV_CACHE_DIR" }?.value == cache)
        #expect(!p.environment.contains { $0.name == "UV_OFFLINE" || $0.name == "UV_DEFAULT_INDEX" })
        #expect(p.packages.first?.offline == false)
        let text = Explain.text(p)
        #expect(text.contains("PACKAGES") && text.contains("cache \(cache) read-write, this profile only"))
        // A session that exited 0 marks it; the next plan is offline.
        PackageTools.sessionSucceeded(p)
        let again = try plan(s, "[packages]\nmanagers = [\"uv\"]\n[network]\nmode = \"allow\"\n", env: [:])
        #expect(again.packages.first?.offline == true)
        #expect(again.environment.first { $0.name == "UV_OFFLINE" }?.value == "1")
    }

    /// Two profiles with one file name in two directories shared a cache: the one without
    /// grants planted a `.pth` there that the other's next session ran inside its own sandbox,
    /// with its read-write project. Found by a red-team pass; fails before the fix.
    @Test("profiles named alike in different directories get caches of their own")
    func sameNameOtherDirectory() throws {
        let s = Scratch()
        s.write("strong/base.toml", "")
        s.write("weak/base.toml", "")
        s.write("strong/srv.toml", "[packages]\nmanagers = [\"uv\"]\n")
        s.write("weak/srv.toml", "[packages]\nmanagers = [\"uv\"]\n")
        let env = ["XDG_CACHE_HOME": s.path + "/cache", "HOME": s.path + "/home"]
        let strong = try Fixture.plan("srv", dirs: [s.path + "/strong"], env: env).get()
        let weak = try Fixture.plan("srv", dirs: [s.path + "/weak"], env: env).get()
        let a = try #require(strong.packages.first?.directory), b = try #require(weak.packages.first?.directory)
        #expect(a != b, "\(a) \(b)")
        #expect(Paths.basename(Paths.dirname(a)).hasPrefix("srv-") && Paths.basename(Paths.dirname(b)).hasPrefix("srv-"))
    }

    @Test("mode none: no registry rule; the cache is still bound")
    func noneMode() throws {
        let s = Scratch()
        let p = try plan(s, "[packages]\nmanagers = [\"npm\"]\n", env: [:])
        #expect(p.egress == nil && p.packages.first?.hosts == [])
        #expect(p.environment.contains { $0.name == "npm_config_cache" && $0.value == s.path + "/cache/mcpbox/\(cacheName(s))/npm" })
        #expect(Explain.text(p).contains("not reachable: network.mode is \"none\""))
    }

    @Test("The registry comes from the user's configuration, in order; credentials in it are warned about")
    func registries() throws {
        let s = Scratch()
        let home = s.mkdir("home")
        #expect(PackageTools.discoverRegistry(.uv, environment: ["HOME": home], home: home) == nil)
        s.write("home/.config/pip/pip.conf", "[global]\nfind-links = /opt/wheels\nindex-url: https://pip.example/simple\n")
        #expect(PackageTools.discoverRegistry(.uv, environment: ["HOME": home], home: home)?.url == "https://pip.example/simple")
        s.write("home/.config/uv/uv.toml", "[[index]]\nurl = \"https://other.example/simple\"\n[[index]]\nurl = \"https://uv.example/simple\"\ndefault = true\n")
        #expect(PackageTools.discoverRegistry(.uv, environment: ["HOME": home], home: home)?.origin == home + "/.config/uv/uv.toml: [[index]] default")
        #expect(PackageTools.discoverRegistry(.uv, environment: ["HOME": home, "UV_INDEX_URL": "https://env.example/simple"], home: home)?.url
                == "https://env.example/simple")
        s.write("home/.npmrc", "; comment\n//reg.example/:_authToken=x\nregistry = https://reg.example/npm/\n")
        #expect(PackageTools.discoverRegistry(.npm, environment: ["HOME": home], home: home)?.url == "https://reg.example/npm/")

        let p = try plan(s, "[packages]\nmanagers = [\"uv\", \"npm\"]\n[network]\nmode = \"allow\"\n",
                         env: ["HOME": home, "UV_DEFAULT_INDEX": "https://user:pw@idx.example:8443/simple"])
        #expect(p.egress?.policy.allow.map(\.text) == ["idx.example:8443", "reg.example:443"])
        #expect(p.environment.first { $0.name == "UV_DEFAULT_INDEX" }?.value == "https://user:pw@idx.example:8443/simple")
        #expect(p.environment.first { $0.name == "npm_config_registry" }?.value == "https://reg.example/npm/")
        #expect(p.warnings.contains { $0.contains("carries credentials") })
        #expect(p.packages.first?.registry == "https://***@idx.example:8443/simple" && !Explain.text(p).contains("user:pw"))
    }

    @Test("URLs: scheme, userinfo, port, IPv6; anything else is not a registry")
    func urls() {
        #expect(PackageTools.parseURL("https://pypi.org/simple")! == ("pypi.org", 443, ""))
        #expect(PackageTools.parseURL("http://u:p@Host.Example:8080/x?y")! == ("host.example", 8080, "u:p"))
        #expect(PackageTools.parseURL("https://[2001:db8::1]:444/")! == ("[2001:db8::1]", 444, ""))
        #expect(PackageTools.parseURL("ftp://x/") == nil && PackageTools.parseURL("https://x:notaport/") == nil && PackageTools.parseURL("https:///") == nil)
    }

    @Test("A cache that is a symlink, too open, or another uid's is refused")
    func refusedCaches() throws {
        let s = Scratch()
        s.write("profiles/base.toml", "")
        let profiles = Paths.dirname(s.write("profiles/pkg.toml", "[packages]\nmanagers = [\"uv\"]\n"))
        let env = ["XDG_CACHE_HOME": s.path + "/cache"]
        func errors() -> [String] { Fixture.errors("pkg", dirs: [profiles], env: env).map(\.description) }
        let dir = s.mkdir("cache/mcpbox/\(cacheName(s))")
        symlink(s.mkdir("elsewhere"), dir + "/uv")
        #expect(errors().contains { $0.contains("not a directory (or is a symlink)") }, "\(errors())")
        unlink(dir + "/uv")
        // The server's account: nobody when root runs the tests, else the caller.
        let owner: UInt32 = HostFS.uid == 0 ? 65534 : HostFS.uid
        s.mkdir("cache/mcpbox/\(cacheName(s))/uv", mode: 0o755)
        if HostFS.uid == 0 { chown(dir + "/uv", owner, owner) }
        #expect(errors().contains { $0.contains("its mode is 755") }, "\(errors())")
        chmod(dir + "/uv", 0o700)
        #expect(errors().isEmpty, "\(errors())")
        if HostFS.uid == 0 {
            chown(dir + "/uv", 12345, 12345)
            #expect(errors().contains { $0.contains("belongs to uid 12345") }, "\(errors())")
        }
        s.write("profiles/pkg.toml", "[packages]\nmanagers = [\"pip\"]\nofline = \"auto\"\n")
        #expect(errors().contains { $0.contains("unknown package manager \"pip\"") } && errors().contains { $0.contains("did you mean `offline`") },
                "\(errors())")
    }

    @Test("[variables] parent = true: the directory holding the server's path argument")
    func fromArgParent() throws {
        let s = Scratch()
        let data = s.mkdir("data")
        s.write("base.toml", "")
        s.write("p.toml", "[variables]\nd = { from_arg = [\"--db-path\"], parent = true }\n[filesystem]\nread_write = [\"${d}\"]\n")
        let p = try Fixture.loader([s.path], command: ["srv", "--db-path", data + "/app.db"]).load("p")
        #expect(p.readWrite.map(\.value.path) == [data])
        let eq = try Fixture.loader([s.path], command: ["srv", "--db-path=\(data)/./app.db"]).load("p")
        #expect(eq.readWrite.map(\.value.path) == [data])
        #expect(throws: ProfileError.self) { try Fixture.loader([s.path], command: ["srv", "--db-path", data + "/x/../app.db"]).load("p") }
        s.write("p.toml", "[variables]\nd = { from_arg = [\"--db-path\"], parent = \"yes\" }\n")
        #expect(throws: ProfileError.self) { try Fixture.loader([s.path], command: ["srv"]).load("p") }
    }
}
