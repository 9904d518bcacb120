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
}
