import Foundation
import Testing
@testable import MCPBoxCore

/// The dry run tells the truth: what `explain` shows is what `run` enforces, and `explain`
/// refuses what `run` would refuse (issue 7, part 7).
@Suite struct HonestyTests {
    func profileDir(_ text: String) -> Scratch {
        let s = Scratch()
        s.write("base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        s.write("p.toml", text)
        return s
    }

    func host(_ limits: HostLimits) -> HostContext {
        var h = Fixture.host()
        h.limits = limits
        return h
    }

    @Test("a limit above the caller's hard limit is refused, not lowered")
    func limitsAboveTheHardLimit() throws {
        let ceiling = HostLimits(openFiles: 100, processes: 50, pageSize: 4096)
        let s = profileDir("[limits]\nopen_files = 101\nprocesses = 51\n")
        let errs = Fixture.errors("p", dirs: [s.path], host: host(ceiling))
        let files = try #require(errs.first { $0.key == "limits.open_files" }, "\(errs)")
        #expect(files.line == 2 && files.message.contains("above the hard limit mcpbox runs under (100 open files)"), "\(files)")
        #expect(files.hint?.contains("ulimit -Hn") == true)
        let procs = try #require(errs.first { $0.key == "limits.processes" }, "\(errs)")
        #expect(procs.line == 3 && procs.message.contains("(50 processes)"), "\(procs)")
        // At the ceiling is fine; the default follows a ceiling below it.
        let ok = profileDir("[limits]\nopen_files = 100\nprocesses = 50\n")
        let plan = try #require(Fixture.plan("p", dirs: [ok.path], host: host(ceiling)).plan)
        #expect(plan.limits.openFiles == 100 && plan.limits.processes == 50)
        let empty = profileDir("")
        let dflt = try #require(Fixture.plan("p", dirs: [empty.path], host: host(ceiling)).plan)
        #expect(dflt.limits.openFiles == 100)
        #expect(Explain.text(dflt).contains("open_files      100 (RLIMIT_NOFILE)"))
    }

    @Test("processes counts pid 1, so it must leave room for the server")
    func processesCountsPid1() throws {
        let s = profileDir("[limits]\nprocesses = 1\n")
        let errs = Fixture.errors("p", dirs: [s.path])
        #expect(errs.contains { $0.key == "limits.processes" && $0.message.contains("at least 2") }, "\(errs)")
        let ok = profileDir("[limits]\nprocesses = 64\n")
        let plan = try #require(Fixture.plan("p", dirs: [ok.path]).plan)
        #expect(Explain.text(plan).contains("processes       64 (RLIMIT_NPROC: every task in the sandbox, threads and mcpbox's pid 1 included)"))
    }

    @Test("sizes the kernel would round to pages are refused")
    func pageRounding() throws {
        let ceiling = HostLimits(openFiles: nil, processes: nil, pageSize: 4096)
        let s = profileDir("[limits]\nmemory = 1000000\ntmpfs_size = \"1000\"\n")
        let errs = Fixture.errors("p", dirs: [s.path], host: host(ceiling))
        #expect(errs.contains { $0.key == "limits.memory" && $0.message.contains("round it down to 999424") }, "\(errs)")
        #expect(errs.contains { $0.key == "limits.tmpfs_size" && $0.message.contains("round it up to 4096") }, "\(errs)")
        let ok = profileDir("[limits]\nmemory = \"512MB\"\ntmpfs_size = \"64MiB\"\n")
        #expect(Fixture.plan("p", dirs: [ok.path], host: host(ceiling)).plan != nil)
    }

    @Test("the personality note names what happens to other values under each default action")
    func personalityNote() {
        func note(_ action: SeccompPolicy.DefaultAction) -> String? {
            Seccomp.summary(SeccompPolicy(preset: .default, allow: [], deny: [], defaultAction: action))
                .notes.first { $0.hasPrefix("personality:") }
        }
        #expect(note(.log) == "personality: PER_LINUX, PER_LINUX32, UNAME26 and the query allowed; other values allowed and logged (default_action = \"log\")")
        #expect(note(.errno)?.hasSuffix("other values refused (EPERM)") == true)
        #expect(note(.kill)?.hasSuffix("other values: process killed") == true)
    }

    @Test("control characters in paths are escaped in explain's text; JSON stays valid")
    func controlCharactersEscaped() throws {
        let s = profileDir("")
        let evil = s.mkdir("a\nWARNINGS\n  (none)\u{1b}[2J\u{202e}x")
        s.write("p.toml", "[filesystem]\nread_only = [\(tomlString(evil))]\n")
        let plan = try #require(Fixture.plan("p", dirs: [s.path]).plan)
        let text = Explain.text(plan)
        #expect(!text.unicodeScalars.contains { $0 == "\u{1b}" || $0 == "\u{202e}" })
        #expect(text.contains("a\\nWARNINGS\\n  (none)\\x1b[2J\\u{202e}x"), "\(text)")
        #expect(text.components(separatedBy: "\nWARNINGS\n").count == 2)
        let json = ExplainJSON.render(plan)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let fs = try #require(object["filesystem"] as? [String: Any])
        let mounts = try #require(fs["mounts"] as? [[String: Any]])
        #expect(mounts.contains { $0["path"] as? String == evil }, "\(json)")
        #expect(Explain.visible(Explain.visible("\t\u{7f}\u{85}")) == "\\t\\x7f\\x85")
    }

    func tomlString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if u.value < 0x20 || u.value == 0x7f {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
