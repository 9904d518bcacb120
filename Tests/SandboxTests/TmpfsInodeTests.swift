import Foundation
import MCPBoxTestSupport
import Testing
@testable import MCPBoxCore
#if canImport(Glibc)
import Glibc
#endif

/// `tmpfs_size` capped a tmpfs's bytes, not its files: a million empty files in a "1MiB" /tmp
/// took 1.25 GB of host kernel memory (slab) where no memory limit applied (each tmpfs allowed
/// about three million inodes here). Now each tmpfs holds one inode per KiB of its size, at
/// least 4096. Found by a red-team pass; fails before the fix (the loop below reaches 20000).
@Suite(.enabled(if: geteuid() == 0, "needs root: real namespaces"))
struct TmpfsInodeTests {
    @Test("a tmpfs holds one file or directory per KiB of its size, whatever their size")
    func inodesCapped() throws {
        let limits = Limits(memoryBytes: nil, processes: nil, openFiles: 256, cpu: nil, wallTimeSeconds: 0,
                            tmpfsSizeBytes: 1 << 20, shutdownGraceSeconds: 2)
        // Empty files until the tmpfs refuses one (or 20000 of them); then its statvfs count.
        let script = "stat -f -c \"%c %b %S\" /tmp; i=0; while [ $i -lt 20000 ] && (true > /tmp/f$i) 2>/dev/null; do i=$((i+1)); done; echo $i"
        let r = try SpawnFixture.run(SpawnFixture.shell(script, limits: limits))
        #expect(r.failure == nil, "the launch failed: \(String(describing: r.failure))")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let created = lines.count > 1 ? Int(lines[1]) ?? -1 : -1
        // The fixture's /tmp is its own tmpfs (its size from statvfs): one inode per KiB of it.
        let fields = (lines.first ?? "").split(separator: " ").compactMap { UInt64($0) }
        try #require(fields.count == 3, "statvfs: \(r.stdout)")
        let expected = Limits.tmpfsInodes(fields[1] * fields[2])
        #expect(fields[0] == expected, "statvfs inodes \(fields[0]), expected \(expected) for \(fields[1] * fields[2]) bytes")
        #expect(created > 1000 && UInt64(created) < expected, "created \(created) files (cap \(expected)): \(r.stdout) \(r.stderr)")
    }
}
