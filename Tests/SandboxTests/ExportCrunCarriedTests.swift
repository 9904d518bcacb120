import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A host mount nested in a bind comes into the sandbox with it (binds are recursive), with its
/// own read-only flag and its own contents. The exported bundle bound only the bind: crun 1.8
/// showed neither a read-only nested mount (the server wrote through it) nor a tmpfs one (the
/// server read what it hides on the host). Red-team pass, 2026-12-03; fails on the build before.
@Suite("Export: host mounts inside a bind under crun", .serialized,
       .enabled(if: TestSupport.isRoot && CrunRunner.crun != nil, "needs root and crun"))
struct ExportCrunCarriedTests {
    func mount(_ args: [String]) throws -> () -> Void { try hostMount(args) }

    @Test("a read-only host mount in a read-write bind stays read-only, a tmpfs in a read-only bind still hides what lies under it: the same lines under run and crun, and explain says ro")
    func nestedMountsKept() throws {
        let tmp = try TempDir(prefix: "mcpbox-crun-carried")
        defer { tmp.remove() }
        chmod(tmp.path, 0o755)
        let rw = try tmp.makeDir("rwtree", mode: 0o777)
        let guarded = try tmp.makeDir("rwtree/guard", mode: 0o777)
        _ = try tmp.write("rwtree/guard/config", "original\n")
        chmod(guarded + "/config", 0o666)
        var undo = [try mount(["--bind", guarded, guarded])]
        defer { undo.reversed().forEach { $0() } }
        undo.append(try mount(["-o", "remount,bind,ro", guarded]))
        let ro = try tmp.makeDir("rotree")
        _ = try tmp.makeDir("rotree/sub")
        _ = try tmp.write("rotree/sub/shadow.txt", "under-the-mount\n")
        undo.append(try mount(["-t", "tmpfs", "-o", "size=1m", "tmpfs", ro + "/sub"]))
        let profile = try tmp.write("carried.toml", "extends = [\"base\"]\n[filesystem]\nread_write = [\"\(rw)\"]\nread_only = [\"\(ro)\"]\n")
        let mcpbox = try TestSupport.mcpboxBinary()
        let probe = """
            if (echo tampered >> \(guarded)/config) 2>/dev/null; then echo "guard written"; else echo "guard refused"; fi
            if [ -e \(ro)/sub/shadow.txt ]; then echo "shadow visible"; else echo "shadow hidden"; fi
            """
        let command = ["--", "/bin/sh", "-c", probe]
        let expected = "guard refused\nshadow hidden\n"
        let env = ["PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"]
        let run = try runProcess([mcpbox, "run", profile, "--profile-path", TestSupport.profilesDir] + command, environment: env, timeout: 60)
        #expect(run.status == 0 && run.stdoutText == expected, "run: status \(run.status), stdout \(run.stdoutText), stderr \(run.stderr.suffix(800))")
        let explain = try runProcess([mcpbox, "explain", profile, "--profile-path", TestSupport.profilesDir] + command, environment: env)
        #expect(explain.stdoutText.contains("\(guarded) ro: a host mount inside a bind"), "\(explain.stdoutText.suffix(1200))")

        let bundle = tmp.sub("bundle")
        let export = try runProcess([mcpbox, "export", profile, "--profile-path", TestSupport.profilesDir, "--format", "oci",
                                     "--output", bundle] + command, environment: env)
        try #require(export.status == 0, "export: \(export.stderr)")
        let id = "mcpbox-carried-\(UInt32.random(in: 0...UInt32.max))"
        defer { CrunRunner.delete(id) }
        let crun = try runProcess(CrunRunner.argv(bundle: bundle, id: id), timeout: 120)
        #expect(crun.status == 0 && crun.stdoutText == expected, "crun: status \(crun.status), stdout \(crun.stdoutText), stderr \(crun.stderr.suffix(1500))")
        #expect((try? String(contentsOfFile: guarded + "/config", encoding: .utf8)) == "original\n")
    }

    /// Review (2026-12-03): a hide inside a read-only bind (or a read-only carried mount) that
    /// lies in a read-write bind got read-write self-binds of its parent directories from the
    /// read-write bind's source, which made part of the read-only one writable under crun.
    @Test("no directory inside a read-only bind or carried mount is bound read-write to pin a mount nested in it")
    func noWritablePinsInsideReadOnly() throws {
        let tmp = try TempDir(prefix: "mcpbox-export-pins")
        defer { tmp.remove() }
        chmod(tmp.path, 0o755)
        let rw = try tmp.makeDir("rw", mode: 0o777)
        _ = try tmp.makeDir("rw/ro/x/y")
        _ = try tmp.makeDir("rw/guard/x/y")
        _ = try tmp.makeDir("rw/t/x/y")
        let guarded = rw + "/guard"
        var undo = [try mount(["--bind", guarded, guarded])]
        defer { undo.reversed().forEach { $0() } }
        undo.append(try mount(["-o", "remount,bind,ro", guarded]))
        let profile = try tmp.write("pins.toml", """
            extends = ["base"]
            [filesystem]
            read_write = ["\(rw)"]
            read_only = ["\(rw)/ro", "\(rw)/t/x/y"]
            hide = ["\(rw)/ro/x/y", "\(guarded)/x/y"]
            tmpfs = ["\(rw)/t"]

            """)
        let mcpbox = try TestSupport.mcpboxBinary()
        let bundle = tmp.sub("bundle")
        let env = ["PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"]
        let export = try runProcess([mcpbox, "export", profile, "--profile-path", TestSupport.profilesDir, "--format", "oci",
                                     "--output", bundle, "--", "/bin/true"], environment: env)
        try #require(export.status == 0, "export: \(export.stderr)")
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bundle + "/config.json"))) as? [String: Any])
        let mounts = config["mounts"] as? [[String: Any]] ?? []
        for inside in [rw + "/ro/x", guarded + "/x", rw + "/t/x"] {
            let m = mounts.first { $0["destination"] as? String == inside }
            #expect(m == nil, "\(inside) is bound in the bundle: \(m ?? [:])")
        }
        // The read-only carried mount itself is there, read-only.
        let carried = mounts.first { $0["destination"] as? String == guarded }
        #expect((carried?["options"] as? [String])?.contains("ro") == true, "\(carried ?? [:])")
    }
}
