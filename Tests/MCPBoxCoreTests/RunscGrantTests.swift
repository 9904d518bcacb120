import Foundation
import Testing
@testable import MCPBoxCore

/// Under `runtime = "gvisor"` mcpbox runs `runsc` as root at every launch. A profile whose
/// `[isolation] runsc` lay inside one of its own read-write binds let the server replace it:
/// reproduced, the next launch ran the server's program as uid 0 on the host. Found by a
/// red-team pass; fails on the build before the fix.
@Suite struct RunscGrantTests {
    @Test("a read-write bind holding the runsc mcpbox runs is refused, and accept does not help")
    func runscIsProtected() {
        let w = GrantTests.World()
        let runsc = w.host.write("tools/runsc", "#!/bin/sh\n", mode: 0o755)
        let tools = Paths.dirname(runsc)
        let errs = w.errors("[isolation]\nruntime = \"gvisor\"\nrunsc = \"\(runsc)\"\n[filesystem]\nread_write = [\"\(tools)\"]\naccept = [\"\(tools)\"]\n")
        #expect(errs.contains { $0.message.contains("contains \(runsc), gVisor's runsc") && $0.hint?.contains("cannot be accepted") == true }, "\(errs)")
        // Found on PATH (no [isolation] runsc): the same.
        let host = Fixture.host(env: w.env.merging(["PATH": tools]) { $1 })
        let onPath = w.errors("[isolation]\nruntime = \"gvisor\"\n[filesystem]\nread_write = [\"\(tools)\"]\n", host: host)
        #expect(onPath.contains { $0.message.contains("contains \(runsc), gVisor's runsc") }, "\(onPath)")
    }
}
