import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The shipped profiles for real servers from PyPI (`sqlite`, `filesystem`, `python-interpreter`,
/// `everything-wrong`), each driven through `mcpbox run` by the Python MCP SDK client, as root
/// with a dedicated account.
@Suite("Shipped profiles for real servers", .enabled(if: TestSupport.isRoot, "creates throwaway accounts: run as root (CI does)"))
struct ShippedServerTests {
    /// A directory of the server's own (0700, its account), as `mcpbox grant` or chown would give it.
    func ownedDirectory(_ env: ShippedProfileEnvironment, _ name: String) throws -> String {
        let dir = try env.tmp.makeDir(name, mode: 0o700)
        try #require(chown(dir, env.account.uid, env.account.gid) == 0)
        return dir
    }

    @Test("mcp-server-sqlite under `sqlite`: creates, writes and reads its database; the host sees the rows")
    func sqlite() throws { try sqlite(runtime: nil) }

    /// Also run under `[isolation] runtime = "gvisor"` by GVisorRealServerTests.
    func sqlite(runtime: String?) throws {
        let env = try ShippedProfileEnvironment(shipped: "sqlite", extra: runtime.map { "[isolation]\nruntime = \(tomlString($0))\n" } ?? "")
        defer { env.cleanUp() }
        let venv = try serverVenv(".venv-sqlite")
        let dbDir = try ownedDirectory(env, "db")
        let db = dbDir + "/test.db"
        // As client configs write it: the directory comes from the server's own --db-path.
        let out = try env.runClient(["--", venv + "/bin/mcp-server-sqlite", "--db-path", db], calls: [
            ["tool": "create_table", "arguments": ["query": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"]],
            ["tool": "write_query", "arguments": ["query": "INSERT INTO notes (body) VALUES ('note \(env.token)')"]],
            ["tool": "read_query", "arguments": ["query": "SELECT body FROM notes"]],
            ["tool": "list_tables", "arguments": [:]],
        ], env: env.environment())
        out.expectCleanSession(server: "sqlite")
        try #require(out.calls.count == 4, "calls: \(out.calls)")
        for c in out.calls { #expect(!c.isError, "\(c.tool): \(c.text)") }
        #expect(out.calls[2].text.contains("note \(env.token)"), "read_query: \(out.calls[2].text)")
        #expect(out.calls[3].text.contains("notes"))
        let host = try runProcess(["/usr/bin/python3", "-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select body from notes').fetchall())", db])
        #expect(host.stdoutText.contains("note \(env.token)"), "host read: \(host.stdoutText) \(host.stderr)")
        #expect(ownerUID(of: db) == env.account.uid)
    }

    @Test("filesystem-mcp under `filesystem`: reads the input tree, writes the output tree, cannot write the input or read elsewhere")
    func filesystem() throws { try filesystem(runtime: nil) }

    /// Also run under `[isolation] runtime = "gvisor"` by GVisorRealServerTests.
    func filesystem(runtime: String?) throws {
        let env = try ShippedProfileEnvironment(shipped: "filesystem", extra: runtime.map { "[isolation]\nruntime = \(tomlString($0))\n" } ?? "")
        defer { env.cleanUp() }
        let venv = try serverVenv(".venv-filesystem")
        let input = try env.tmp.makeDir("input")
        _ = try env.tmp.write("input/doc.txt", "document \(env.token)\n")
        let output = try ownedDirectory(env, "output")
        // Writable by the account on the host: only the sandbox's read-only bind stops the write.
        #expect(chown(input, env.account.uid, env.account.gid) == 0)
        let secret = try env.tmp.write("secret.txt", "secret \(env.token)\n")
        let server = venv + "/bin/filesystem-mcp"
        // The server itself allows writes to both trees: only the sandbox keeps the input read-only.
        let out2 = try env.runClient(["--set", "input=\(input)", "--set", "output=\(output)", "--", server, input, output], calls: [
            ["tool": "read_file", "arguments": ["path": input + "/doc.txt"]],
            ["tool": "write_file", "arguments": ["path": output + "/result.txt", "content": "result \(env.token)"]],
            ["tool": "write_file", "arguments": ["path": input + "/planted.txt", "content": "planted"]],
            ["tool": "read_file", "arguments": ["path": secret]],
            ["tool": "list_directory", "arguments": ["path": input]],
        ], env: env.environment())
        out2.expectCleanSession(server: "filesystem-mcp")
        try #require(out2.calls.count == 5, "calls: \(out2.calls)")
        #expect(!out2.calls[0].isError && out2.calls[0].text.contains("document \(env.token)"), "read input: \(out2.calls[0])")
        #expect(!out2.calls[1].isError, "write output: \(out2.calls[1])")
        // (The SDK reports "Error executing tool write_file"; the host account could write there.)
        #expect(out2.calls[2].isError, "write input: \(out2.calls[2])")
        #expect(out2.calls[3].isError && !out2.calls[3].text.contains("secret \(env.token)"), "read outside: \(out2.calls[3])")
        #expect(!out2.calls[4].isError && out2.calls[4].text.contains("doc.txt"))
        #expect((try? String(contentsOfFile: output + "/result.txt", encoding: .utf8)) == "result \(env.token)")
        #expect(ownerUID(of: output + "/result.txt") == env.account.uid)
        #expect(!FileManager.default.fileExists(atPath: input + "/planted.txt"))
    }

    @Test("mcp-python-interpreter under `python-interpreter`: the model's code runs in its work directory and its escapes fail")
    func pythonInterpreter() throws { try pythonInterpreter(runtime: nil) }

    /// Also run under `[isolation] runtime = "gvisor"` by GVisorRealServerTests.
    func pythonInterpreter(runtime: String?) throws {
        let env = try ShippedProfileEnvironment(shipped: "python-interpreter", extra: runtime.map { "[isolation]\nruntime = \(tomlString($0))\n" } ?? "")
        defer { env.cleanUp() }
        let venv = try serverVenv(".venv-interpreter")
        let work = try ownedDirectory(env, "work")
        // Planted outside every bind: world-readable, and a directory the account may write.
        let secret = try env.tmp.write("secret.txt", "secret \(env.token)\n")
        let open = try env.tmp.makeDir("open", mode: 0o777)
        #expect(chmod(open, 0o777) == 0)
        let canary = open + "/canary"
        let listener = try HostListener.tcpLoopback()
        defer { listener.stop() }
        let code = """
            import os, socket, subprocess
            r = {}
            try:
                r["read"] = "READ " + open(\(pyString(secret))).read()
            except Exception as e:
                r["read"] = "denied " + type(e).__name__
            try:
                with open(\(pyString(canary)), "w") as f:
                    f.write("escaped")
                r["write"] = "WROTE"
            except Exception as e:
                r["write"] = "denied " + type(e).__name__
            try:
                s = socket.create_connection(("127.0.0.1", \(listener.port)), timeout=3)
                s.sendall(b"escaped")
                r["connect"] = "CONNECTED"
            except Exception as e:
                r["connect"] = "denied " + type(e).__name__
            p = subprocess.run(["/bin/cat", \(pyString(secret))], capture_output=True, text=True)
            r["shell"] = "READ " + p.stdout if p.returncode == 0 else "denied"
            with open("inside.txt", "w") as f:
                f.write("inside")
            r["work"] = open("inside.txt").read()
            for k in sorted(r):
                print(k + ": " + r[k].strip())
            """
        let out = try env.runClient(["--", venv + "/bin/mcp-python-interpreter", "--dir", work], calls: [
            ["tool": "run_python_code", "arguments": ["code": code]],
            ["tool": "run_python_code", "arguments": ["code": code, "execution_mode": "subprocess"]],
        ], env: env.environment())
        out.expectCleanSession(server: "python-interpreter")
        try #require(out.calls.count == 2, "calls: \(out.calls)")
        for c in out.calls {
            let lines = c.text
            #expect(lines.contains("work: inside"), "the code did not run: \(lines)")
            #expect(lines.contains("read: denied") && lines.contains("write: denied") && lines.contains("connect: denied")
                    && lines.contains("shell: denied"), "an escape worked: \(lines)")
            #expect(!lines.contains("secret \(env.token)"))
        }
        #expect(!FileManager.default.fileExists(atPath: canary), "the canary was written outside the sandbox")
        #expect(ownerUID(of: work + "/inside.txt") == env.account.uid)
        // The host listener never saw a connection.
        #expect(listener.acceptedNothing() == true, "the host's loopback listener accepted a connection from the sandbox")
    }

    @Test("mcp-server-everything-wrong under `everything-wrong`: the environment dump shows only the sandbox's, fetch and run_command are contained")
    func everythingWrong() throws { try everythingWrong(runtime: nil) }

    /// Also run under `[isolation] runtime = "gvisor"` by GVisorRealServerTests.
    func everythingWrong(runtime: String?) throws {
        let env = try ShippedProfileEnvironment(shipped: "everything-wrong", extra: runtime.map { "[isolation]\nruntime = \(tomlString($0))\n" } ?? "")
        defer { env.cleanUp() }
        let venv = try serverVenv(".venv-everything-wrong")
        let secret = try env.tmp.write("secret.txt", "secret \(env.token)\n")
        let listener = try HostListener.tcpLoopback()
        defer { listener.stop() }
        let vars = env.environment(extra: ["AWS_SECRET_ACCESS_KEY": "aws-\(env.token)", "GITHUB_TOKEN": "gh-\(env.token)"])
        let out = try env.runClient(["--", venv + "/bin/mcp-server-everything-wrong"], calls: [
            ["tool": "env_var", "arguments": [:]],
            ["tool": "fetch", "arguments": ["url": "http://127.0.0.1:\(listener.port)/"]],
            ["tool": "run_command", "arguments": ["command": "/bin/cat", "args": [secret]]],
            ["tool": "run_command", "arguments": ["command": "/usr/bin/id", "args": ["-u"]]],
        ], env: vars)
        // The package's own main() calls asyncio.run() on the None that serve() returns once stdin
        // closes, so it always ends with status 1 (ValueError): a bug of the server, not the sandbox.
        #expect(out.error == nil && out.server == "mcp-server-everything-wrong" && !out.escalated, "\(out.error ?? "") \(out.stderr.suffix(800))")
        #expect(out.returncode == 1 && out.stderr.contains("a coroutine was expected, got None"), "\(String(describing: out.returncode)) \(out.stderr.suffix(800))")
        try #require(out.calls.count == 4, "calls: \(out.calls)")
        let dump = out.calls[0].text
        let names = Set(dump.split(separator: "\n").compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
        #expect(!dump.contains(env.token), "the environment dump leaked mcpbox's environment: \(dump)")
        #expect(names.isSubset(of: ["PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "LANG", "LC_ALL", "TZ", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"]),
                "unexpected variables: \(names.sorted())")
        // ... and it is the sandbox's: its defaults (PATH with the venv mcpbox binds first), the account's home, not the client's.
        let lines = Set(dump.split(separator: "\n").map(String.init))
        #expect(lines.isSuperset(of: ["PATH=\(venv)/bin:/usr/local/bin:/usr/bin:/bin", "HOME=/home/\(env.account.name)", "USER=\(env.account.name)",
                                      "TMPDIR=/tmp", "PYTHONUNBUFFERED=1"]), "the sandbox's environment: \(dump)")
        #expect(out.calls[1].isError, "fetch reached the host's loopback: \(out.calls[1])")
        #expect(out.calls[2].isError && !out.calls[2].text.contains("secret \(env.token)"), "run_command read the secret: \(out.calls[2])")
        #expect(!out.calls[3].isError && out.calls[3].text.trimmingCharacters(in: .whitespacesAndNewlines) == String(env.account.uid))
        #expect(listener.acceptedNothing() == true, "the host's loopback listener accepted a connection from the sandbox")
    }
}

extension ShippedServerTests {
    @Test("Playwright MCP under `browser`: Chromium loads the allowed site only, and its code can neither read, write nor connect outside")
    func browser() throws {
        let marker = "marker-\(UInt64.random(in: 0..<UInt64.max))"
        let site = try TestSite(address: "127.0.0.2", marker: marker)
        defer { site.stop() }
        let env = try ShippedProfileEnvironment(shipped: "browser", extra: """
            [network]
            allow = ["site.test:\(site.port)", "127.0.0.2:\(site.port)"]
            hosts = { "site.test" = "127.0.0.2", "other.test" = "127.0.0.2" }

            """)
        defer { env.cleanUp() }
        let venv = try serverVenv(".venv-browser")
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"), "/usr/bin/chromium is missing: run scripts/setup")
        // Planted outside every bind: a world-readable secret and a directory anyone may write.
        let secret = try env.tmp.write("secret.txt", "secret \(env.token)\n")
        let open = try env.tmp.makeDir("open", mode: 0o777)
        #expect(chmod(open, 0o777) == 0)
        let canary = open + "/canary.png"
        let listener = try HostListener.tcpLoopback()
        defer { listener.stop() }
        // browser_run_code_unsafe runs this in the server's Node process ("RCE-equivalent", says
        // its description): the browser reads a file:// URL, Playwright writes a screenshot
        // wherever it is told, its request API connects anywhere. Unsandboxed, the first two
        // succeed and the third reaches the listener.
        func js(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        let code = """
            async (page) => {
              const r = {};
              const why = (e) => "denied " + String(e && e.message).split("\\n")[0];
              try { await page.goto(\(js("file://" + secret))); r.read = "READ " + (await page.content()); } catch (e) { r.read = why(e); }
              try { await page.screenshot({ path: \(js(canary)) }); r.write = "WROTE"; } catch (e) { r.write = why(e); }
              try { const x = await page.request.get(\(js("http://127.0.0.1:\(listener.port)/")), { timeout: 3000 }); r.connect = "CONNECTED " + x.status(); } catch (e) { r.connect = why(e); }
              try { await page.goto(\(js("http://site.test:\(site.port)/page"))); r.site = await page.textContent("p"); } catch (e) { r.site = why(e); }
              return Object.keys(r).sort().map((k) => k + ": " + r[k]).join("\\n");
            }
            """
        let out = try env.runClient([], calls: [
            ["tool": "browser_navigate", "arguments": ["url": "http://site.test:\(site.port)/page"]],
            ["tool": "browser_snapshot", "arguments": [:]],
            ["tool": "browser_navigate", "arguments": ["url": "http://other.test:\(site.port)/page"]],
            ["tool": "browser_navigate", "arguments": ["url": "http://127.0.0.1:\(listener.port)/"]],
            ["tool": "browser_run_code_unsafe", "arguments": ["code": code]],
        ], env: env.environment(path: [venv + "/bin"]))
        out.expectCleanSession(server: "Playwright")
        try #require(out.calls.count == 5, "calls: \(out.calls) \(out.stderr.suffix(1500))")
        #expect(!out.calls[0].isError && out.calls[0].text.contains("Page Title: test page"), "allowed site: \(out.calls[0].text)")
        #expect(out.calls[1].text.contains("The marker is \(marker)"), "the page's text: \(out.calls[1].text)")
        // other.test resolves to the same address on the host, but no rule names it: the proxy answers 403.
        #expect(out.calls[2].text.contains("403") && !out.calls[2].text.contains(marker), "other host: \(out.calls[2].text)")
        #expect(out.stderr.contains("mcpbox: network: refused other.test:\(site.port): no allow rule"), "\(out.stderr.suffix(1500))")
        // 127.0.0.1 is the sandbox's own loopback, where nothing listens.
        #expect(out.calls[3].isError && out.calls[3].text.contains("ERR_CONNECTION_REFUSED"), "host loopback: \(out.calls[3].text)")
        let result = out.calls[4].text
        #expect(result.contains("site: The marker is \(marker)"), "the code did not run: \(result)")
        #expect(result.contains("read: denied") && result.contains("connect: denied"), "an escape worked: \(result)")
        #expect(!result.contains("secret \(env.token)"))
        // Playwright creates the screenshot's directories: inside, /tmp is the sandbox's own tmpfs,
        // so the write succeeds there and must not appear on the host.
        #expect(!FileManager.default.fileExists(atPath: canary), "the canary was written outside the sandbox: \(result)")
        #expect(listener.acceptedNothing() == true, "the host's loopback listener accepted a connection from the sandbox")
    }
}

/// A Python string literal.
func pyString(_ s: String) -> String {
    "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
}
