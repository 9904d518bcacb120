import Foundation
import MCPBoxTestSupport
import Testing

/// What a run-later place (a shell start-up file, `~/.local/bin`, mcpbox's own configuration, a
/// PATH directory, the home itself) is reached through matters as much as where it ends: the
/// grant checks judged only the end of the walk. A read-write bind holding a symlink on the way
/// (`~/.bashrc -> bind/X -> elsewhere`), a directory the walk passes (`bind/sub/../..`: the
/// server swaps `sub` for a link), or the missing target of a dangling one (`~/.bashrc ->
/// bind/X`, X not there yet), let the server decide what the host runs next; PATH, HOME and XDG
/// entries with `..`, and a link text or a HOME that is not UTF-8, were not judged where they
/// lead. A start-up file whose real path `realpath` cannot name (not UTF-8) lost its identity
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
        /// Environment of explain, as shell words after `env -i` (the defaults below come first,
        /// so these override them; a value may hold bytes that are not UTF-8).
        var env = ""
        let status: Int32
        /// What stderr says ($T replaced); empty: nothing checked.
        let says: String
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "a dangling ~/.bashrc into the bind",
             setup: "ln -s \"$T/c/t/X\" \"$T/home/.bashrc\"", bind: "c/t", status: 125,
             says: "contains $T/c/t/X (not there yet), at the end of the walk to $T/home/.bashrc (shell start-up file)"),
        Case(name: "a symlink on the way to ~/.bashrc inside the bind",
             setup: "echo 'echo y' > \"$T/c/w/Y\" && ln -s \"$T/c/w/Y\" \"$T/c/t/X\" && ln -s \"$T/c/t/X\" \"$T/home/.bashrc\"",
             bind: "c/t", status: 125,
             says: "contains the symlink $T/c/t/X on the way to $T/home/.bashrc (shell start-up file)"),
        Case(name: "a directory of the bind on the way (bind/sub/../..)",
             setup: "mkdir \"$T/c/t/sub\" && echo 'echo y' > \"$T/c/w/Y\" && ln -s \"$T/c/t/sub/../../w/Y\" \"$T/home/.bashrc\"",
             bind: "c/t", status: 125,
             says: "contains $T/c/t, on the way to $T/home/.bashrc (shell start-up file)"),
        Case(name: "~/.config/mcpbox dangling into the bind",
             setup: "mkdir -p \"$T/home/.config\" && ln -s \"$T/c/t/mcpbox\" \"$T/home/.config/mcpbox\"", bind: "c/t", status: 125,
             says: "contains $T/c/t/mcpbox (not there yet), at the end of the walk to $T/home/.config/mcpbox, mcpbox's configuration"),
        Case(name: "a PATH entry with `..` naming the bind",
             setup: "mkdir -p \"$T/c/t/sub\"", bind: "c/t", env: "PATH=/usr/bin:/bin:$T/c/t/sub/..", status: 125,
             says: "contains $T/c/t/sub/.. (a directory on your PATH"),
        Case(name: "a PATH entry through a symlink in the bind and `..`",
             setup: "mkdir -p \"$T/c/w/bin\" && ln -s \"$T/c/w/bin\" \"$T/c/t/l\"", bind: "c/t", env: "PATH=/usr/bin:/bin:$T/c/t/l/../bin",
             status: 125, says: "contains $T/c/t/l/../bin (a directory on your PATH"),
        Case(name: "a home reached through a symlink in the bind",
             setup: "mkdir \"$T/realhome\" && ln -s \"$T/realhome\" \"$T/c/t/l\" && ln -s \"$T/c/t/l\" \"$T/hl\"", bind: "c/t",
             env: "HOME=$T/hl", status: 125,
             says: "contains the symlink $T/c/t/l on the way to your home directory $T/hl"),
        Case(name: "XDG_CONFIG_HOME with `..` into the bind",
             setup: "mkdir -p \"$T/c/t/cfg\"", bind: "c/t", env: "XDG_CONFIG_HOME=$T/x/../c/t/cfg", status: 125,
             says: "contains $T/c/t/cfg/mcpbox, mcpbox's configuration"),
        Case(name: "a HOME that is not UTF-8",
             setup: "mkdir \"$T/h$(printf '\\377')\"", bind: "c/t", env: "HOME=$T/h$(printf '\\377')", status: 125,
             says: "HOME is not valid UTF-8"),
        Case(name: "a hard link to a start-up file whose real path is not UTF-8",
             setup: "d=\"$T/dot/$(printf 'n\\377')\" && mkdir -p \"$d\" && echo 'echo y' > \"$d/bashrc\" && ln -s \"$d/bashrc\" \"$T/home/.bashrc\" && ln \"$d/bashrc\" \"$T/c/t/bashrc\"",
             bind: "c/t/bashrc", status: 125,
             says: "contains (as another mount of it) $T/home/.bashrc (shell start-up file)"),
        Case(name: "~/.bashrc pointing through a link text that is not UTF-8",
             setup: "d=\"$T/c/w/$(printf 'n\\377')\" && mkdir -p \"$d\" && ln -s \"$d/../../t/X\" \"$T/home/.bashrc\"",
             bind: "c/t", status: 125,
             says: "may hold what lies past $T/home/.bashrc (mcpbox cannot follow it there"),
        Case(name: "an accepted ~/.local/bin holding a link whose name is not UTF-8",
             setup: "mkdir -p \"$T/home/.local/bin\" \"$T/c/w/tool\" && ln -s \"$T/c/w/tool\" \"$T/home/.local/bin/$(printf 'f\\377')\"",
             bind: "home/.local/bin", accept: "home/.local/bin", status: 0, says: ""),
        Case(name: "stow-style dotfiles, a project bound: accepted",
             setup: "mkdir -p \"$T/home/dotfiles\" \"$T/home/src/app\" && echo 'echo y' > \"$T/home/dotfiles/bashrc\" && ln -s dotfiles/bashrc \"$T/home/.bashrc\"",
             bind: "home/src/app", status: 0, says: ""),
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
        let script = "exec env -i HOME=\"$T/home\" XDG_CONFIG_HOME=\"$T/x\" XDG_STATE_HOME=\"$T/x\" XDG_DATA_HOME=\"$T/x\" "
            + "XDG_CACHE_HOME=\"$T/x\" PATH=/usr/bin:/bin \(c.env) \"$BIN\" explain \"$P\" --profile-path \"$PD\" -- /bin/true"
        let r = try runProcess(["/bin/sh", "-c", script],
                               environment: ["T": t, "BIN": try TestSupport.mcpboxBinary(), "P": profile, "PD": TestSupport.profilesDir,
                                             "PATH": "/usr/bin:/bin"], currentDirectory: "/", timeout: 60)
        #expect(r.status == c.status, "explain: \(r.status) \(r.stderr.suffix(2000))")
        if !c.says.isEmpty {
            #expect(r.stderr.contains(c.says.replacingOccurrences(of: "$T", with: t)), "\(r.stderr.suffix(2000))")
        }
    }

    @Test("a symlink in /etc/profile.d into the bind (a private mount namespace)",
          .enabled(if: TestSupport.isRoot, "mounts in a namespace of its own: run as root (CI does)"))
    func systemDirectoryEntry() throws {
        let tmp = try TempDir(prefix: "mcpbox-runlater")
        defer { tmp.remove() }
        let t = tmp.path
        for d in ["home", "x", "c/t", "pd"] { _ = try tmp.makeDir(d) }
        #expect(symlink(t + "/c/t/x.sh", t + "/pd/zz.sh") == 0)
        let profile = try tmp.write("p.toml", "extends = \"base\"\n[filesystem]\nread_write = [\(tomlString(t + "/c/t"))]\n")
        let script = "mount --bind \"$T/pd\" /etc/profile.d && exec env -i HOME=\"$T/home\" XDG_CONFIG_HOME=\"$T/x\" "
            + "XDG_STATE_HOME=\"$T/x\" XDG_DATA_HOME=\"$T/x\" XDG_CACHE_HOME=\"$T/x\" PATH=/usr/bin:/bin "
            + "\"$BIN\" explain \"$P\" --profile-path \"$PD\" -- /bin/true"
        let r = try runProcess(["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script],
                               environment: ["T": t, "BIN": try TestSupport.mcpboxBinary(), "P": profile, "PD": TestSupport.profilesDir,
                                             "PATH": "/usr/bin:/bin"], currentDirectory: "/", timeout: 60)
        #expect(r.status == 125, "explain: \(r.status) \(r.stderr.suffix(2000))")
        #expect(r.stderr.contains("contains \(t)/c/t/x.sh (not there yet), at the end of the walk to /etc/profile.d/zz.sh"), "\(r.stderr.suffix(2000))")
    }
}
