import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A read-write bind that held no repository at launch: in caller-remap mode (an ordinary user
/// without `[user]`) everything the server writes is the caller's, and host git trusts a
/// repository its user owns, so a server could leave a repository (a `.git` or a bare git
/// directory) whose `core.fsmonitor` ran at the caller's next `git status` there (a shell prompt
/// runs one on `cd`). Found by red-team passes, like the dedicated-account and look-alike cases
/// below; each fails on the build before its fix.
@Suite("A repository the server creates in a plain read-write directory", .serialized,
       .enabled(if: TestSupport.isRoot, "creates a throwaway account: run as root (CI does)"))
struct NewRepositoryEscapeTests {
    /// A caller account with a home holding `work` (the read-write bind), a canary directory, and
    /// a copy of mcpbox the caller can run.
    struct CallerScenario {
        let tmp: TempDir
        let caller: TestAccount
        let home: String
        let work: String
        let canaries: String
        let binary: String
        let profile: String

        init(prefix: String) throws {
            tmp = try TempDir(prefix: prefix)
            caller = try TestAccount.create(prefix: "mcpbox-newrepo")
            do {
                home = try tmp.makeDir("home", mode: 0o700)
                work = try tmp.makeDir("home/work")
                canaries = try tmp.makeDir("canaries", mode: 0o777)
                _ = try runProcess(["/bin/chown", "-R", "\(caller.uid):\(caller.gid)", home])
                binary = tmp.sub("mcpbox")
                try FileManager.default.copyItem(atPath: try TestSupport.mcpboxBinary(), toPath: binary)
                chmod(binary, 0o755)
                profile = try tmp.write("p.toml", "[filesystem]\nread_write = [\(tomlString(work))]\n")
            } catch {
                caller.delete()
                tmp.remove()
                throw error
            }
        }

        func cleanUp() {
            caller.delete()
            tmp.remove()
        }

        var env: [String: String] { ["PATH": "/usr/bin:/bin", "HOME": home, "XDG_STATE_HOME": home + "/.local/state", "LANG": "C.UTF-8"] }
        var asCaller: [String] { ["/usr/bin/setpriv", "--reuid=\(caller.uid)", "--regid=\(caller.gid)", "--clear-groups", "--"] }

        /// `mcpbox run` of the profile, as the caller, with `script` as the server.
        func runServer(_ script: String) throws -> ProcessResult {
            try runProcess(asCaller + [binary, "run", profile, "--profile-path", TestSupport.profilesDir, "--", "/bin/sh", "-c", script],
                           environment: env, currentDirectory: "/", timeout: 120)
        }

        /// What a shell prompt or the user would run in `dir` later, as the caller; whether host
        /// git still finds a repository there.
        func hostGitFindsRepository(_ dir: String) throws -> Bool {
            let git = asCaller + ["/usr/bin/git"]
            _ = try? runProcess(git + ["-C", dir, "status"], environment: env, timeout: 60)
            _ = try? runProcess(git + ["-C", dir, "fetch", "-q", "origin"], environment: env, timeout: 60)
            return try runProcess(git + ["-C", dir, "rev-parse", "--absolute-git-dir"], environment: env, timeout: 60).status == 0
        }

        var fired: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: canaries)) ?? []).sorted() }
    }

    /// Root starts mcpbox for a dedicated server account; `work` (the read-write bind) belongs to
    /// another account, the owner, and the server's group may write it (setgid directories).
    struct DedicatedScenario {
        let tmp: TempDir
        let owner: TestAccount
        let server: TestAccount
        let work: String
        let canaries: String
        let binary: String

        /// `prepare` runs on `work` before the owner's ownership is applied (as root).
        init(prefix: String, prepare: (String) throws -> Void = { _ in }) throws {
            tmp = try TempDir(prefix: prefix)
            chmod(tmp.path, 0o755)
            owner = try TestAccount.create(prefix: "mcpbox-newrepo")
            do {
                server = try TestAccount.create(prefix: "mcpbox-newsrv")
            } catch {
                owner.delete()
                tmp.remove()
                throw error
            }
            do {
                work = try tmp.makeDir("work/out")
                canaries = try tmp.makeDir("canaries", mode: 0o777)
                try prepare(work)
                for cmd in [["/bin/chown", "-R", "\(owner.uid):\(server.gid)", tmp.sub("work")],
                            ["/bin/chmod", "-R", "g+rwXs", tmp.sub("work")]] {
                    let r = try runProcess(cmd)
                    guard r.status == 0 else { throw SupportError("\(cmd): \(r.stderr)") }
                }
                binary = tmp.sub("mcpbox")
                try FileManager.default.copyItem(atPath: try TestSupport.mcpboxBinary(), toPath: binary)
                chmod(binary, 0o755)
            } catch {
                owner.delete()
                server.delete()
                tmp.remove()
                throw error
            }
        }

        func cleanUp() {
            owner.delete()
            server.delete()
            tmp.remove()
        }

        var env: [String: String] { ["PATH": "/usr/bin:/bin", "HOME": tmp.path, "LANG": "C.UTF-8"] }

        /// A planted configuration whose fsmonitor and upload-pack touch canaries named `name…`.
        func config(_ name: String) -> String {
            "[core]\n\tbare = false\n\tworktree = .\n\tfsmonitor = \"touch \(canaries)/\(name); false\"\n"
                + "[remote \"origin\"]\n\turl = .\n\tuploadpack = \"touch \(canaries)/\(name)-fetch; false\"\n"
        }

        /// `mcpbox run` as root for the server account, the bind `work`, `script` as the server.
        func runServer(_ script: String) throws -> ProcessResult {
            let profile = try tmp.write("p.toml", "[user]\nname = \(tomlString(server.name))\n[filesystem]\nread_write = [\(tomlString(work))]\n")
            return try runProcess([binary, "run", profile, "--profile-path", TestSupport.profilesDir, "--", "/bin/sh", "-c", script],
                                  environment: env, currentDirectory: "/", timeout: 120)
        }

        /// Host git in `work` as the owner and as root: whether either still finds a git directory
        /// at `work` itself (`exact`) or anywhere (`exact` false).
        func hostGitFindsRepository(exact: Bool = false) throws -> Bool {
            var found = false
            for account in [Optional(owner), nil] {
                let git = (account.map { ["/usr/bin/setpriv", "--reuid=\($0.uid)", "--regid=\($0.gid)", "--clear-groups", "--"] } ?? []) + ["/usr/bin/git"]
                _ = try? runProcess(git + ["-C", work, "status"], environment: env, timeout: 60)
                _ = try? runProcess(git + ["-C", work, "fetch", "-q", "origin"], environment: env, timeout: 60)
                let top = try runProcess(git + ["-C", work, "rev-parse", "--absolute-git-dir"], environment: env, timeout: 60)
                if top.status == 0 && (!exact || top.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == work) { found = true }
            }
            return found
        }

        var fired: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: canaries)) ?? []).sorted() }
    }

    @Test("is moved aside after the session, and host git runs nothing of it")
    func newRepositoriesSwept() throws {
        let s = try CallerScenario(prefix: "mcpbox-newrepo")
        defer { s.cleanUp() }
        let payload = "touch \(s.canaries)/$0; false"
        // Each payload is a fsmonitor (run by host `git status`) or an upload-pack command (run
        // by host `git fetch`); `git init` inside the sandbox writes the repositories.
        let script = """
            set -e
            cd \(s.work)
            git init -q proj && git -C proj config core.fsmonitor '\(payload.replacingOccurrences(of: "$0", with: "proj"))'
            git init -q a/b/deep && git -C a/b/deep config core.fsmonitor '\(payload.replacingOccurrences(of: "$0", with: "deep"))'
            git init -q --bare bare && git -C bare config remote.origin.url . && git -C bare config remote.origin.uploadpack '\(payload.replacingOccurrences(of: "$0", with: "bare"))'
            echo planted
            """
        let run = try s.runServer(script)
        #expect(run.status == 0 && run.stdoutText.contains("planted"), "exit \(run.status): \(run.stdoutText) \(run.stderr.suffix(2000))")
        for dir in ["proj", "a/b/deep", "bare"] {
            #expect(try !s.hostGitFindsRepository(s.work + "/" + dir), "host git still finds a repository in \(dir)")
        }
        #expect(s.fired.isEmpty, "host git ran the server's payloads: \(s.fired)")
        #expect(run.stderr.contains("mcpbox-quarantine"), "mcpbox did not say what it moved aside: \(run.stderr.suffix(2000))")
    }

    /// With a dedicated account the server's files are its own, and host git refuses a
    /// repository it owns ("dubious ownership"); but a git directory it makes of files inside a
    /// directory the owner made passes that check (git looks at the directory), and a
    /// read-write directory that held no repository at launch was not swept in that mode. Found
    /// by a red-team pass; fails on the build before the fix.
    @Test("dedicated account: a git directory planted in the owner's directory is moved aside too")
    func dedicatedAccountPlantSwept() throws {
        let s = try DedicatedScenario(prefix: "mcpbox-newrepo-dedicated")
        defer { s.cleanUp() }
        let script = """
            set -e
            cd \(s.work)
            mkdir objects refs && echo 'ref: refs/heads/main' > HEAD
            printf '%s' '\(s.config("plant"))' > config
            echo planted
            """
        let run = try s.runServer(script)
        #expect(run.status == 0 && run.stdoutText.contains("planted"), "exit \(run.status): \(run.stdoutText) \(run.stderr.suffix(2000))")
        #expect(try !s.hostGitFindsRepository(), "host git still finds a repository")
        #expect(s.fired.isEmpty, "host git ran the server's payloads: \(s.fired)")
        #expect(run.stderr.contains("mcpbox-quarantine"), "mcpbox did not say what it moved aside: \(run.stderr.suffix(2000))")
    }

    /// Git's own test for a git directory follows symlinks (`access(2)` on `objects` and `refs`)
    /// and honours a `commondir` file: a bare git directory whose `objects` and `refs` are
    /// symlinks, or whose `commondir` names where they are, was no git directory to mcpbox's
    /// `lstat`-based walk, so nothing was moved aside and host git ran its configuration. Found
    /// by a red-team pass; fails on the build before the fix.
    @Test("a git directory built from symlinks or a commondir is moved aside too")
    func lookAlikeGitDirectoriesSwept() throws {
        let s = try CallerScenario(prefix: "mcpbox-newrepo-links")
        defer { s.cleanUp() }
        func config(_ name: String) -> String {
            "[core]\n\tbare = false\n\tworktree = .\n\tfsmonitor = \"touch \(s.canaries)/\(name); false\"\n"
                + "[remote \"origin\"]\n\turl = .\n\tuploadpack = \"touch \(s.canaries)/\(name)-fetch; false\"\n"
        }
        // `links`: objects and refs are symlinks to directories beside them. `common`: only
        // HEAD and a commondir; objects, refs and the configuration are where it points.
        let script = """
            set -e
            cd \(s.work)
            mkdir -p links/o links/r && echo 'ref: refs/heads/main' > links/HEAD
            ln -s o links/objects && ln -s r links/refs
            printf '%s' '\(config("links"))' > links/config
            mkdir -p common/c/objects common/c/refs && echo 'ref: refs/heads/main' > common/HEAD
            echo c > common/commondir
            printf '%s' '\(config("common"))' > common/c/config
            echo planted
            """
        let run = try s.runServer(script)
        #expect(run.status == 0 && run.stdoutText.contains("planted"), "exit \(run.status): \(run.stdoutText) \(run.stderr.suffix(2000))")
        for dir in ["links", "common"] {
            #expect(try !s.hostGitFindsRepository(s.work + "/" + dir), "host git still finds a repository in \(dir)")
        }
        #expect(s.fired.isEmpty, "host git ran the server's payloads: \(s.fired)")
        #expect(run.stderr.contains("links/HEAD") && run.stderr.contains("common/HEAD"),
                "mcpbox did not say what it moved aside: \(run.stderr.suffix(2000))")
    }

    /// Found by a second red-team pass; each fails on the build before its fix. (1) In caller-remap
    /// mode the server's `chmod` is the caller's: a repository at the bind's root whose root was
    /// made `0311` could not be listed by the sweep, and was skipped, while host git (search
    /// permission only) still used it. (2) A repository under a name that is not valid UTF-8 was
    /// only warned about, and a directory the walk could not list was renamed by its decoded name,
    /// which can be another directory's (`b\xFF` and `b\u{FFFD}`).
    @Test("caller remap: a repository hidden by taking the root's permissions, or under a name that is not UTF-8, is moved aside")
    func hiddenRepositoriesSwept() throws {
        let s = try CallerScenario(prefix: "mcpbox-newrepo-hidden")
        defer { s.cleanUp() }
        let script = """
            set -e
            cd \(s.work)
            git init -q . && git config remote.origin.url . && git config remote.origin.uploadpack 'touch \(s.canaries)/root; false'
            bad=$(printf 'b\\377'); twin=$(printf 'b\\357\\277\\275')
            mkdir -p "$bad/x" "$twin/x"
            git init -q "$bad/x" && git -C "$bad/x" config remote.origin.url . && git -C "$bad/x" config remote.origin.uploadpack 'touch \(s.canaries)/bad; false'
            chmod 0311 "$bad/x/.git"
            chmod 0311 .
            echo planted
            """
        let run = try s.runServer(script)
        #expect(run.status == 0 && run.stdoutText.contains("planted"), "exit \(run.status): \(run.stdoutText) \(run.stderr.suffix(2000))")
        #expect(try !s.hostGitFindsRepository(s.work), "host git still finds the repository at the root: \(run.stderr.suffix(2000))")
        let bad = try runProcess(s.asCaller + ["/bin/sh", "-c", "cd \(s.work) && git -C \"$(printf 'b\\377')/x\" fetch -q origin; git -C \"$(printf 'b\\377')/x\" rev-parse --absolute-git-dir"],
                                 environment: s.env, timeout: 60)
        #expect(bad.status != 0, "host git still finds the repository under the name that is not UTF-8: \(bad.stdoutText)")
        #expect(FileManager.default.fileExists(atPath: s.work + "/b\u{FFFD}/x"), "the twin directory was renamed: \(run.stderr.suffix(2000))")
        #expect(s.fired.isEmpty, "host git ran the server's payloads: \(s.fired)")
    }

    /// With a dedicated account, the repository the launch knew (its worktree) was trusted by
    /// name: a server that broke `.git` (its `HEAD`) and made the worktree itself a bare git
    /// directory (`HEAD`, `objects`, `refs`, `config` beside `.git`) was never swept, and host git
    /// fell back to that. Found by a second red-team pass; fails on the build before the fix.
    @Test("dedicated account: a known worktree turned into a bare git directory is moved aside")
    func knownWorktreeTurnedBare() throws {
        let s = try DedicatedScenario(prefix: "mcpbox-newrepo-known") { work in
            let git = ["/usr/bin/git", "-c", "user.name=o", "-c", "user.email=o@invalid", "-c", "init.defaultBranch=main"]
            for step in [["init", "-q", "--shared=group", work], ["-C", work, "commit", "-q", "--allow-empty", "-m", "i"]] {
                let r = try runProcess(git + step, environment: ["PATH": "/usr/bin:/bin", "HOME": "/nonexistent"])
                guard r.status == 0 else { throw SupportError("git \(step): \(r.stderr)") }
            }
        }
        defer { s.cleanUp() }
        let script = """
            set -e
            cd \(s.work)
            echo garbage > .git/HEAD
            mkdir objects refs && echo 'ref: refs/heads/main' > HEAD
            printf '%s' '\(s.config("known"))' > config
            echo planted
            """
        let run = try s.runServer(script)
        #expect(run.status == 0 && run.stdoutText.contains("planted"), "exit \(run.status): \(run.stdoutText) \(run.stderr.suffix(2000))")
        #expect(try !s.hostGitFindsRepository(exact: true), "host git uses the worktree as a git directory")
        #expect(s.fired.isEmpty, "host git ran the server's payloads: \(s.fired)")
        #expect(run.stderr.contains("out/HEAD"), "mcpbox did not say what it moved aside: \(run.stderr.suffix(2000))")
    }
}
