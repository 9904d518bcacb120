import Foundation
import Testing
@testable import MCPBoxCore

/// mcpbox's package caches hold each profile's server code, run again by that profile's later
/// sandboxes ("never another profile's"). A read-write bind of `~/.cache` (or `$XDG_CACHE_HOME`,
/// or root's `/var/cache`) let one profile's server rewrite another's cached packages, so its
/// code ran later with the other profile's grants. Found by a red-team pass; fails on the
/// build before the fix.
@Suite struct PackageCacheGrantTests {
    @Test("a read-write bind holding mcpbox's package caches is refused, and accept does not help")
    func cacheRootsAreProtected() {
        let w = GrantTests.World()
        var errs = w.errors("[filesystem]\nread_write = [\"${HOME}/.cache\"]\naccept = [\"${HOME}/.cache\"]\n")
        #expect(errs.contains { $0.message.contains("contains \(w.home.path)/.cache/mcpbox, mcpbox's package caches")
            && $0.hint?.contains("cannot be accepted") == true }, "\(errs)")
        // Inside one: another profile's cache.
        let other = w.home.mkdir(".cache/mcpbox/other/uv")
        errs = w.errors("[filesystem]\nread_write = [\"\(other)\"]\n")
        #expect(errs.contains { $0.message.contains("lies inside \(w.home.path)/.cache/mcpbox, mcpbox's package caches") }, "\(errs)")
        // Under XDG_CACHE_HOME, even before it exists.
        let xdg = w.host.mkdir("xdgcache")
        let host = Fixture.host(env: w.env.merging(["XDG_CACHE_HOME": xdg]) { $1 })
        errs = w.errors("[filesystem]\nread_write = [\"\(xdg)\"]\n", host: host)
        #expect(errs.contains { $0.message.contains("contains \(xdg)/mcpbox, mcpbox's package caches") }, "\(errs)")
    }
}
