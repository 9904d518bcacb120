import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Caller-remap mode (an ordinary user without `[user]`): everything the server writes is the
/// caller's, and host git trusts a repository its user owns. A read-write bind that held no
/// repository at launch was not swept, so a server could leave a repository (a `.git` or a bare
/// git directory) whose `core.fsmonitor` ran at the caller's next `git status` there (a shell
/// prompt runs one on `cd`). Found by a red-team pass; fails on the build before the fix.
@Suite("Caller remap: a repository the server creates in a plain read-write directory", .serialized,
       .enabled(if: TestSupport.isRoot, "creates a throwaway account: run as root (CI does)"))
struct NewRepositoryEscapeTests {
    @Test("is moved aside after the session, and host git runs nothing of it")
    func newRepositoriesSwept() throws {
        let tmp = try TempDir(prefix: "mcpbox-newrepo")
        let caller = try TestAccount.create(prefix: "mcpbox-newrepo")
        defer { caller.delete(); tmp.remove() }
        let home = try tmp.makeDir("home", mode: 0o700)
        let work = try tmp.makeDir("home/work")
        let canaries = try tmp.makeDir("canaries", mode: 0o777)
        _ = try runProcess(["/bin/chown", "-R", "\(caller.uid):\(caller.gid)", home])
        let binary = tmp.sub("mcpbox")
        try FileManager.default.copyItem(atPath: try TestSupport.mcpboxBinary(), toPath: binary)
        chmod(binary, 0o755)
        let profile = try tmp.write("p.toml", "[filesystem]\nread_write = [\(tomlString(work))]\n")
        let payload = "touch \(canaries)/$0; false"
        // Each payload is a fsmonitor (run by host `git status`) or an upload-pack command (run
        // by host `git fetch`); `git init` inside the sandbox writes the repositories.
        let script = """
            set -e
            cd \(work)
            git init -q proj && git -C proj config core.fsmonitor '\(payload.replacingOccurrences(of: "$0", with: "proj"))'
            git init -q a/b/deep && git -C a/b/deep config core.fsmonitor '\(payload.replacingOccurrences(of: "$0", with: "deep"))'
            git init -q --bare bare && git -C bare config remote.origin.url . && git -C bare config remote.origin.uploadpack '\(payload.replacingOccurrences(of: "$0", with: "bare"))'
            echo planted
            """
        let env = ["PATH": "/usr/bin:/bin", "HOME": home, "XDG_STATE_HOME": home + "/.local/state", "LANG": "C.UTF-8"]
        let asCaller = ["/usr/bin/setpriv", "--reuid=\(caller.uid)", "--regid=\(caller.gid)", "--clear-groups", "--"]
        let run = try runProcess(asCaller + [binary, "run", profile, "--profile-path", TestSupport.profilesDir, "--", "/bin/sh", "-c", script],
                                 environment: env, currentDirectory: "/", timeout: 120)
        #expect(run.status == 0 && run.stdoutText.contains("planted"), "exit \(run.status): \(run.stdoutText) \(run.stderr.suffix(2000))")
        // What a shell prompt or the user would run there later, as the caller.
        let git = asCaller + ["/usr/bin/git"]
        for dir in ["proj", "a/b/deep", "bare"] {
            _ = try? runProcess(git + ["-C", work + "/" + dir, "status"], environment: env, timeout: 60)
            _ = try? runProcess(git + ["-C", work + "/" + dir, "fetch", "-q", "origin"], environment: env, timeout: 60)
            let top = try runProcess(git + ["-C", work + "/" + dir, "rev-parse", "--absolute-git-dir"], environment: env, timeout: 60)
            #expect(top.status != 0, "host git still finds a repository in \(dir): \(top.stdoutText)")
        }
        let fired = (try? FileManager.default.contentsOfDirectory(atPath: canaries)) ?? []
        #expect(fired.isEmpty, "host git ran the server's payloads: \(fired.sorted())")
        #expect(run.stderr.contains("mcpbox-quarantine"), "mcpbox did not say what it moved aside: \(run.stderr.suffix(2000))")
    }
}
