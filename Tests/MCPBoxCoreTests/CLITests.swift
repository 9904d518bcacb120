import Foundation
import Testing
@testable import MCPBoxCore

/// Runs the built `mcpbox` binary.
enum CLI {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// `$MCPBOX_BIN`, else the `mcpbox` built next to the test bundle, else `.build/debug/mcpbox`.
    static func binary() throws -> String {
        if let env = ProcessInfo.processInfo.environment["MCPBOX_BIN"], !env.isEmpty { return env }
        var candidates: [String] = []
        if let exe = HostFS.executablePath() {
            var dir = Paths.dirname(exe)
            for _ in 0..<4 {
                candidates.append(dir + "/mcpbox")
                dir = Paths.dirname(dir)
            }
        }
        candidates.append(Fixture.packageRoot + "/.build/debug/mcpbox")
        guard let found = candidates.first(where: { HostFS.isExecutableFile($0) }) else {
            throw CLIError(message: "no mcpbox binary: build it or set MCPBOX_BIN (looked at \(candidates))")
        }
        return found
    }

    struct CLIError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static func run(_ args: [String], env: [String: String] = [:]) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try binary())
        p.arguments = args
        var environment = ProcessInfo.processInfo.environment
        environment["MCPBOX_PROFILE_PATH"] = nil
        environment["XDG_CONFIG_HOME"] = Scratch().path
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

@Suite(.serialized) struct CLITests {
    let shipped = ["--profile-path", Fixture.shippedProfiles]

    @Test func everyShippedProfilePassesCheckStrict() throws {
        let repo = Scratch()
        let names = try FileManager.default.contentsOfDirectory(atPath: Fixture.shippedProfiles)
            .filter { $0.hasSuffix(".toml") }.map { String($0.dropLast(5)) }.sorted()
        #expect(names.contains("base") && names.contains("python") && names.contains("node")
                && names.contains("time") && names.contains("git"))
        let r = try CLI.run(["check", "--strict", "--set", "repo=\(repo.path)"] + shipped + names)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        for n in names { #expect(r.stdout.contains("/\(n).toml: OK\n"), "\(r.stdout)") }
        #expect(r.stderr.isEmpty)
        // The files themselves, as a user's repository of profiles would be checked: no --set.
        let files = names.map { Fixture.shippedProfiles + "/\($0).toml" }
        let plain = try CLI.run(["check", "--strict"] + files)
        #expect(plain.status == 0, "\(plain.stdout)\(plain.stderr)")
        #expect(plain.stdout.contains("`${repo}` comes from the server command"), "\(plain.stdout)")
    }

    @Test func checkReportsErrorsAndWarnings() throws {
        let s = Scratch()
        s.write("base.toml", "")
        let bad = s.write("bad.toml", "[netwrok]\nmode = \"none\"\n")
        s.write("loud.toml", "[network]\nmode = \"host\"\n")
        var r = try CLI.run(["check", "--profile-path", s.path, "bad", "loud"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("error: \(bad):1: netwrok: unknown key (did you mean `network`?)"), "\(r.stdout)")
        #expect(r.stdout.contains("loud.toml: OK with 1 warning"))
        r = try CLI.run(["check", "--profile-path", s.path, "loud"])
        #expect(r.status == 0)
        r = try CLI.run(["check", "--strict", "--profile-path", s.path, "loud"])
        #expect(r.status == 1)
    }

    @Test func explainAndDryRunPrintTheSame() throws {
        let repo = Scratch()
        let explain = try CLI.run(["explain", "git", "--set", "repo=\(repo.path)"] + shipped)
        #expect(explain.status == 0, "\(explain.stderr)")
        #expect(explain.stdout.hasPrefix("mcpbox plan for profile `git`"))
        let dry = try CLI.run(["run", "--dry-run", "git", "--set", "repo=\(repo.path)"] + shipped)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout == explain.stdout)
        let json = try CLI.run(["explain", "--json", "time"] + shipped + ["--", "sh", "-c", "date"])
        let obj = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(obj?["schema"] as? Int == 1)
        #expect((obj?["command"] as? [String: Any])?["argv"] as? [String] == ["sh", "-c", "date"])
    }

    @Test func errorsGoToStderrWithExit125() throws {
        let s = Scratch()
        s.write("base.toml", "")
        let p = s.write("p.toml", "cwd = 1\n[limits]\nmemory = \"1 lightyear\"\n")
        for cmd in ["run", "explain"] {
            let r = try CLI.run([cmd, "--profile-path", s.path, "p", "--", "true"])
            #expect(r.status == 125)
            #expect(r.stdout.isEmpty)
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 2, "\(r.stderr)")
            #expect(lines.first == "mcpbox: \(p):1: cwd: expected a string, found integer")
            #expect(lines.last?.hasPrefix("mcpbox: \(p):3: limits.memory: invalid size \"1 lightyear\"") == true)
        }
        let missing = try CLI.run(["run", "git"] + shipped)
        #expect(missing.status == 125)
        #expect(missing.stderr.contains("undefined variable `${repo}`"))
        let usage = try CLI.run(["run", "--no-such-flag", "base"])
        #expect(usage.status == 125)
        #expect(usage.stderr.hasPrefix("mcpbox: "))
        #expect(usage.stdout.isEmpty)
        let nocmd = try CLI.run(["run", "base"] + shipped)
        #expect(nocmd.status == 125)
        #expect(nocmd.stderr.contains("command: no command to run"))
        let badSet = try CLI.run(["explain", "base", "--set", "novalue"] + shipped)
        #expect(badSet.status == 125)
        #expect(badSet.stderr.contains("--set novalue: expected K=V"))
    }

    @Test func profilePathEnvironmentVariable() throws {
        let s = Scratch()
        s.write("mine.toml", "description = \"mine\"\nextends = [\"base\"]\n")
        let r = try CLI.run(["explain", "--json", "mine"], env: ["MCPBOX_PROFILE_PATH": s.path + ":" + Fixture.shippedProfiles])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"description\": \"mine\""))
    }
}
