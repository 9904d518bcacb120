import Testing
@testable import MCPBoxCore

/// A `command` argument with a NUL byte: execve takes C strings, so the server got the text up to
/// the NUL only (`/bin/echo\u0000x` ran `/bin/echo`) while explain showed all of it. Refused now,
/// with file, line and key, like a NUL in `[env] set`. Found by a red-team pass.
@Suite struct CommandNULTests {
    @Test("a NUL byte in a command argument is refused with file, line and key", arguments: [
        #"command = ["/bin/echo", "a\u0000b", "c"]"#, #"command = ["/bin/echo\u0000x"]"#,
    ])
    func refused(_ line: String) {
        let s = Scratch()
        s.write("profiles/base.toml", "[filesystem]\nread_only = [\"/usr\", \"?/bin\", \"?/lib\", \"?/lib64\"]\n")
        s.write("profiles/p.toml", "description = \"x\"\n" + line + "\n")
        guard case .failure(let e) = Fixture.plan("p", dirs: [s.path + "/profiles"]) else {
            Issue.record("the plan was accepted")
            return
        }
        #expect(e.diagnostics.contains { $0.key == "command" && $0.line == 2 && $0.message.contains("NUL") && $0.file?.hasSuffix("p.toml") == true },
                "\(e.diagnostics)")
    }
}
