import Foundation
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Red team of grants through names the profile does not spell: a bind whose path is a
/// symlink to the host's /proc (`--set repo=/srv/link`, link -> /proc/PID) showed the host's
/// processes — their command lines, where secrets are often passed — although /proc "cannot be
/// bound from the host". Fails on the build before the fix (the server printed the canary).
@Suite("Host trust: grants reached through a symlink", .serialized,
       .enabled(if: TestSupport.isRoot, "runs mcpbox as root (CI does)"))
struct HostTrustTests {
    @Test("a bind of a symlink to a host /proc entry is refused by explain and run (125), and the server sees nothing")
    func procThroughSymlinkRefused() throws {
        let tmp = try TempDir(prefix: "mcpbox-proclink")
        defer { tmp.remove() }
        // A host process with a secret on its command line (`sh -c CMD NAME`: NAME is argv[0]).
        let secret = "mcpbox-secret-\(UInt32.random(in: 0...UInt32.max))"
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/bin/sh")
        holder.arguments = ["-c", "read line", secret]
        let input = Pipe()
        holder.standardInput = input
        try holder.run()
        defer {
            try? input.fileHandleForWriting.close()
            holder.waitUntilExit()
        }
        let link = tmp.sub("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/proc/\(holder.processIdentifier)")
        for key in ["read_only", "read_write"] {
            let profile = try tmp.write("p-\(key).toml", "[filesystem]\n\(key) = [\(tomlString(link))]\n")
            let base = [try TestSupport.mcpboxBinary()]
            let explain = try runProcess(base + ["explain", profile, "--profile-path", TestSupport.profilesDir], currentDirectory: "/")
            #expect(explain.status == 125 && explain.stderr.contains("part of the host's /proc"), "\(key): explain \(explain.status): \(explain.stderr)")
            let run = try runProcess(base + ["run", profile, "--profile-path", TestSupport.profilesDir, "--",
                                             "/bin/sh", "-c", "tr '\\0' ' ' < \(link)/cmdline"], currentDirectory: "/")
            #expect(run.status == 125 && run.stderr.contains("part of the host's /proc"), "\(key): run \(run.status): \(run.stderr)")
            #expect(!run.stdoutText.contains(secret), "\(key): the server read the host process's command line: \(run.stdoutText)")
        }
    }
}
