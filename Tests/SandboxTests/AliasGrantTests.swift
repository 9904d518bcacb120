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

    @Test("mcpbox's state directory under another mount of the home is refused")
    func stateThroughAnotherMount() throws {
        let tmp = try TempDir(prefix: "mcpbox-alias-state")
        defer { tmp.remove() }
        let home = try tmp.makeDir("home")
        _ = try tmp.makeDir("home/.local/state/mcpbox/seccomp", mode: 0o700)
        let r = try Self.explain(tmp, home: home, relative: ".local/state")
        #expect(r.status == 125, "explain: \(r.status) \(r.stdoutText.suffix(1000)) \(r.stderr.suffix(1500))")
        #expect(r.stderr.contains("contains (as another mount of it) \(home)/.local/state/mcpbox, mcpbox's state"), "\(r.stderr.suffix(1500))")
    }

    @Test("a directory inside a run-later place, under another mount of the home, is refused")
    func insideRunLaterThroughAnotherMount() throws {
        let tmp = try TempDir(prefix: "mcpbox-alias-in")
        defer { tmp.remove() }
        let home = try tmp.makeDir("home")
        _ = try tmp.makeDir("home/.config/systemd/user")
        let r = try Self.explain(tmp, home: home, relative: ".config/systemd/user")
        #expect(r.status == 125, "explain: \(r.status) \(r.stderr.suffix(1500))")
        #expect(r.stderr.contains("lies inside (as another mount of it) \(home)/.config/systemd"), "\(r.stderr.suffix(1500))")
    }

    @Test("a run-later place under another mount of the home is refused")
    func runLaterThroughAnotherMount() throws {
        let tmp = try TempDir(prefix: "mcpbox-alias-rc")
        defer { tmp.remove() }
        let home = try tmp.makeDir("home")
        _ = try tmp.makeDir("home/.config/autostart")
        let r = try Self.explain(tmp, home: home, relative: ".config/autostart")
        #expect(r.status == 125, "explain: \(r.status) \(r.stderr.suffix(1500))")
        #expect(r.stderr.contains("contains (as another mount of it) \(home)/.config/autostart"), "\(r.stderr.suffix(1500))")
    }
}
