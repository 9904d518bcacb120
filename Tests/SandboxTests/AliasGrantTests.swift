import Foundation
import MCPBoxTestSupport
import Testing

/// The grant checks compared paths as text (after symlinks): a second mount of the caller's
/// home (`mount --bind /home/alice /mnt/alias`) let a profile bind `/mnt/alias/.local/state`
/// read-write, and its server rewrite the seccomp cache and pin files a later launch of
/// another profile trusts (a red-team pass switched a later filter off and forged a pin that
/// way). Now mcpbox's own state and the run-later places are also compared by device and
/// inode. Each test makes the second mount in a mount namespace of its own (`unshare -m`), so
/// the host's mounts are untouched. Fails on the build before the change (explain exits 0).
@Suite("grant checks see a second mount of a protected directory",
       .enabled(if: TestSupport.isRoot, "mounts in a namespace of its own: run as root (CI does)"))
struct AliasGrantTests {
    /// `explain` of a profile binding `alias/<relative>` read-write, with `home` mounted at `alias`.
    static func explain(_ tmp: TempDir, home: String, relative: String) throws -> ProcessResult {
        let alias = try tmp.makeDir("alias")
        let profile = try tmp.write("p.toml", "extends = \"base\"\n[filesystem]\nread_write = [\(tomlString(alias + "/" + relative))]\n")
        let script = "mount --bind \"$1\" \"$2\" && exec \"$3\" explain \"$4\" --profile-path \"$5\" -- /bin/true"
        return try runProcess(["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script, "sh",
                               home, alias, try TestSupport.mcpboxBinary(), profile, TestSupport.profilesDir],
                              environment: ["PATH": "/usr/bin:/bin", "HOME": home], currentDirectory: "/", timeout: 60)
    }

    /// (directory made under the home, the bind's path under the alias, what the refusal says after the home)
    static let cases: [(make: String, relative: String, says: String)] = [
        (".local/state/mcpbox/seccomp", ".local/state", "contains (as another mount of it) HOME/.local/state/mcpbox, mcpbox's state"),
        (".config/autostart", ".config/autostart", "contains (as another mount of it) HOME/.config/autostart"),
        (".config/systemd/user", ".config/systemd/user", "lies inside (as another mount of it) HOME/.config/systemd"),
    ]

    @Test("mcpbox's state, a run-later place, and a directory inside one, under another mount of the home, are refused",
          arguments: cases.indices)
    func throughAnotherMount(_ index: Int) throws {
        let c = Self.cases[index]
        let tmp = try TempDir(prefix: "mcpbox-alias")
        defer { tmp.remove() }
        let home = try tmp.makeDir("home")
        _ = try tmp.makeDir("home/" + c.make, mode: 0o700)
        let r = try Self.explain(tmp, home: home, relative: c.relative)
        #expect(r.status == 125, "explain: \(r.status) \(r.stderr.suffix(1500))")
        #expect(r.stderr.contains(c.says.replacingOccurrences(of: "HOME", with: home)), "\(r.stderr.suffix(1500))")
    }
}
