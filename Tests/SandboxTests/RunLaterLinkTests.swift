import Foundation
import MCPBoxTestSupport
import Testing

/// What a run-later place (a shell start-up file, `~/.local/bin`, mcpbox's own configuration, a
/// PATH directory) is reached through matters as much as where it ends: the grant checks judged
/// only the end of the walk. A read-write bind holding a symlink on the way (`~/.bashrc -> bind/X
/// -> elsewhere`), or the missing target of a dangling one (`~/.bashrc -> bind/X`, X not there
/// yet), let the server decide what the host runs next; a PATH entry with `..` was not judged at
/// all. A start-up file whose real path `realpath` cannot name (not UTF-8) lost its identity
/// check (a hard link to it in the bind was accepted) in the first version of the faster
/// resolution, and one pointing into the bind through a name that is not UTF-8 was not judged
/// by where it leads. Each case fails on the build before its fix (explain exits 0); the last one
/// guards the other direction (an accepted `~/.local/bin` holding a link whose name is not UTF-8
/// stays accepted). Only paths under a temporary directory; `explain` only.
@Suite("grant checks follow the symlinks to a run-later place")
struct RunLaterLinkTests {
    struct Case: Sendable, CustomStringConvertible {
        let name: String
        /// Shell commands run in the temporary directory ($T) before explain.
        let setup: String
        /// The read-write bind, relative to $T.
        let bind: String
        var accept: String? = nil
        /// PATH for explain (`$T` replaced).
        var path = "/usr/bin:/bin"
        let status: Int32
        /// What stderr says ($T replaced); empty: nothing checked.
        let says: String
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "a dangling ~/.bashrc into the bind",
             setup: "ln -s \"$T/c/t/X\" \"$T/home/.bashrc\"", bind: "c/t", status: 125,
             says: "contains $T/c/t/X (not there yet), the target of the symlink $T/home/.bashrc (shell start-up file)"),
        Case(name: "a symlink on the way to ~/.bashrc inside the bind",
             setup: "echo 'echo y' > \"$T/c/w/Y\" && ln -s \"$T/c/w/Y\" \"$T/c/t/X\" && ln -s \"$T/c/t/X\" \"$T/home/.bashrc\"",
             bind: "c/t", status: 125,
             says: "contains the symlink $T/c/t/X on the way to $T/home/.bashrc (shell start-up file)"),
        Case(name: "~/.config/mcpbox dangling into the bind",
             setup: "mkdir -p \"$T/home/.config\" && ln -s \"$T/c/t/mcpbox\" \"$T/home/.config/mcpbox\"", bind: "c/t", status: 125,
             says: "contains $T/c/t/mcpbox (not there yet), the target of the symlink $T/home/.config/mcpbox, mcpbox's configuration"),
        Case(name: "a PATH entry with `..` naming the bind",
             setup: "mkdir -p \"$T/c/t/sub\"", bind: "c/t", path: "/usr/bin:/bin:$T/c/t/sub/..", status: 125,
             says: "contains $T/c/t (a directory on your PATH"),
        Case(name: "a hard link to a start-up file whose real path is not UTF-8",
             setup: "d=\"$T/dot/$(printf 'n\\377')\" && mkdir -p \"$d\" && echo 'echo y' > \"$d/bashrc\" && ln -s \"$d/bashrc\" \"$T/home/.bashrc\" && ln \"$d/bashrc\" \"$T/c/t/bashrc\"",
             bind: "c/t/bashrc", status: 125,
             says: "contains (as another mount of it) $T/home/.bashrc (shell start-up file)"),
        Case(name: "~/.bashrc pointing into the bind through a name that is not UTF-8",
             setup: "d=\"$T/c/t/$(printf 'n\\377')\" && mkdir -p \"$d\" && echo 'echo y' > \"$d/rc\" && ln -s \"$d/rc\" \"$T/home/.bashrc\"",
             bind: "c/t", status: 125,
             says: "contains $T/c/t, which holds the target of the symlink $T/home/.bashrc (shell start-up file)"),
        Case(name: "an accepted ~/.local/bin holding a link whose name is not UTF-8",
             setup: "mkdir -p \"$T/home/.local/bin\" \"$T/c/w/tool\" && ln -s \"$T/c/w/tool\" \"$T/home/.local/bin/$(printf 'f\\377')\"",
             bind: "home/.local/bin", accept: "home/.local/bin", status: 0, says: ""),
    ]

    @Test("each is judged as the kernel walks it", arguments: cases)
    func judged(_ c: Case) throws {
        let tmp = try TempDir(prefix: "mcpbox-runlater")
        defer { tmp.remove() }
        let t = tmp.path
        for d in ["home", "x", "c/t", "c/w"] { _ = try tmp.makeDir(d) }
        let setup = try runProcess(["/bin/sh", "-c", c.setup], environment: ["T": t, "PATH": "/usr/bin:/bin"], timeout: 30)
        #expect(setup.status == 0, "setup: \(setup.stderr)")
        var toml = "extends = \"base\"\n[filesystem]\nread_write = [\(tomlString(t + "/" + c.bind))]\n"
        if let a = c.accept { toml += "accept = [\(tomlString(t + "/" + a))]\n" }
        let profile = try tmp.write("p.toml", toml)
        let env = ["HOME": t + "/home", "XDG_CONFIG_HOME": t + "/x", "XDG_STATE_HOME": t + "/x", "XDG_DATA_HOME": t + "/x",
                   "XDG_CACHE_HOME": t + "/x", "PATH": c.path.replacingOccurrences(of: "$T", with: t)]
        let r = try runProcess([try TestSupport.mcpboxBinary(), "explain", profile, "--profile-path", TestSupport.profilesDir, "--", "/bin/true"],
                               environment: env, currentDirectory: "/", timeout: 60)
        #expect(r.status == c.status, "explain: \(r.status) \(r.stderr.suffix(2000))")
        if !c.says.isEmpty {
            #expect(r.stderr.contains(c.says.replacingOccurrences(of: "$T", with: t)), "\(r.stderr.suffix(2000))")
        }
    }
}
