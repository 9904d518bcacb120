import Foundation
import MCPBoxTestSupport
import Testing

/// `/dev` in an exported bundle run by crun answers a server as under `mcpbox run`: the tmpfs
/// is read-only, its device nodes work and `/dev/shm` stays writable.
@Suite("Export: /dev under crun", .enabled(if: TestSupport.isRoot && CrunRunner.crun != nil, "needs root and crun"))
struct ExportCrunDevTests {
    /// One line per probe: whether a file can be created in /dev and in /dev/shm (and the error
    /// when not), and whether /dev/null and /dev/urandom still work.
    static let probe = """
        for f in /dev/x /dev/shm/y; do
            if err=$( { echo hi > "$f"; } 2>&1 ); then echo "$f writable"; else echo "$f refused: ${err##*: }"; fi
        done
        if echo data > /dev/null; then echo "null works"; else echo "null fails"; fi
        echo "urandom $(head -c 4 /dev/urandom | wc -c)"
        """

    @Test("a file cannot be created in /dev (EROFS under run), /dev/shm takes one, null and urandom work: the same lines under run and crun")
    func devReadOnly() throws {
        let tmp = try TempDir(prefix: "mcpbox-crun-dev")
        defer { tmp.remove() }
        let profile = try tmp.write("dev.toml", "extends = [\"base\"]\n")
        let mcpbox = try TestSupport.mcpboxBinary()
        let command = ["--", "/bin/sh", "-c", Self.probe]
        let expected = "/dev/x refused: Read-only file system\n/dev/shm/y writable\nnull works\nurandom 4\n"

        let run = try runProcess([mcpbox, "run", profile, "--profile-path", TestSupport.profilesDir] + command, timeout: 60)
        #expect(run.status == 0 && run.stdoutText == expected, "run: status \(run.status), stdout \(run.stdoutText), stderr \(run.stderr)")

        let bundle = tmp.sub("bundle")
        let export = try runProcess([mcpbox, "export", profile, "--profile-path", TestSupport.profilesDir, "--format", "oci",
                                     "--output", bundle] + command)
        try #require(export.status == 0, "export: \(export.stderr)")
        let id = "mcpbox-dev-\(UInt32.random(in: 0...UInt32.max))"
        defer { CrunRunner.delete(id) }
        let crun = try runProcess(CrunRunner.argv(bundle: bundle, id: id), timeout: 120)
        #expect(crun.status == 0 && crun.stdoutText == expected, "crun: status \(crun.status), stdout \(crun.stdoutText), stderr \(crun.stderr.suffix(1500))")
    }

    /// Red team: crun applies plain nosuid/nodev to a read-write rbind only as recursive flags,
    /// and the bundle gave each tmpfs no inode cap. Fails on the build before the fix.
    @Test("a device node in a read-write bind does not open under crun (as under run), and /tmp holds at most its inode cap")
    func rwBindNodesAndInodes() throws {
        let tmp = try TempDir(prefix: "mcpbox-crun-nodev")
        defer { tmp.remove() }
        let rw = try tmp.makeDir("rw", mode: 0o777)
        try #require(mknod(rw + "/zerodev", S_IFCHR | 0o666, dev_t((1 << 8) | 5)) == 0, "mknod: \(errno)")
        chmod(rw + "/zerodev", 0o666)
        let profile = try tmp.write("nodev.toml", "extends = [\"base\"]\n[filesystem]\nread_write = [\"\(rw)\"]\n[limits]\ntmpfs_size = \"8MiB\"\n")
        let mcpbox = try TestSupport.mcpboxBinary()
        let probe = """
            if head -c 4 \(rw)/zerodev > /dev/null 2>&1; then echo "node opens"; else echo "node refused"; fi
            i=0; while [ $i -lt 9000 ]; do printf "" 2>/dev/null > /tmp/f$i || break; i=$((i+1)); done
            if [ $i -lt 9000 ]; then echo "inodes capped"; else echo "inodes uncapped"; fi
            """
        let command = ["--", "/bin/sh", "-c", probe]
        let expected = "node refused\ninodes capped\n"
        let run = try runProcess([mcpbox, "run", profile, "--profile-path", TestSupport.profilesDir] + command, timeout: 120)
        #expect(run.status == 0 && run.stdoutText == expected, "run: status \(run.status), stdout \(run.stdoutText), stderr \(run.stderr.suffix(800))")
        let bundle = tmp.sub("bundle")
        let export = try runProcess([mcpbox, "export", profile, "--profile-path", TestSupport.profilesDir, "--format", "oci",
                                     "--output", bundle] + command)
        try #require(export.status == 0, "export: \(export.stderr)")
        let id = "mcpbox-nodev-\(UInt32.random(in: 0...UInt32.max))"
        defer { CrunRunner.delete(id) }
        let crun = try runProcess(CrunRunner.argv(bundle: bundle, id: id), timeout: 120)
        #expect(crun.status == 0 && crun.stdoutText == expected, "crun: status \(crun.status), stdout \(crun.stdoutText), stderr \(crun.stderr.suffix(1500))")
    }
}
