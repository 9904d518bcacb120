import Foundation
import Testing
@testable import MCPBoxCore

/// The cache of compiled filters for profiles with their own seccomp rules: used only when every
/// check passes, recompiled otherwise (and the result is always libseccomp's program).
@Suite struct SeccompCacheTests {
    let policy = SeccompPolicy(preset: .default, allow: [], deny: ["sync"], defaultAction: .errno)
    /// What the kernel would accept that allows everything: the program a planted file would carry.
    static let allowAll: [UInt8] = [0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]

    func fileBytes(_ program: [UInt8]) -> [UInt8] {
        let header = SeccompCache.header(policy)!
        return Array(header.utf8) + Array("\(program.count) \(String(SeccompCache.fnv1a(program), radix: 16))\n".utf8) + program
    }

    @Test func storesThenLoadsTheSameProgram() throws {
        let scratch = Scratch()
        let dir = scratch.path + "/state/mcpbox/seccomp"
        let expected = try Seccomp.compileWithLibseccomp(policy)
        #expect(try SeccompCache.compile(policy, in: dir) == expected)
        let name = try #require(SeccompCache.fileName(policy))
        var st = stat()
        #expect(stat(dir, &st) == 0 && st.st_mode & 0o7777 == 0o700)
        #expect(stat(dir + "/" + name, &st) == 0 && st.st_mode & 0o7777 == 0o600)
        let header = try #require(SeccompCache.header(policy))
        #expect(SeccompCache.load(dir: dir, name: name, header: header) == expected)
        #expect(try SeccompCache.compile(policy, in: dir) == expected)
    }

    @Test func anotherPolicyHasAnotherFile() {
        var other = policy
        other.deny = ["sync", "syncfs"]
        #expect(SeccompCache.fileName(other) != SeccompCache.fileName(policy))
    }

    /// A planted program is refused unless the file is the caller's own, in the caller's 0700
    /// directory, and its checksum matches.
    @Test func plantedOrDamagedFilesAreRecompiled() throws {
        let scratch = Scratch()
        let dir = scratch.path + "/seccomp"
        let expected = try Seccomp.compileWithLibseccomp(policy)
        let name = try #require(SeccompCache.fileName(policy))
        let header = try #require(SeccompCache.header(policy))
        let path = dir + "/" + name
        func plant(_ bytes: [UInt8], mode: mode_t = 0o600, owner: uid_t? = nil) {
            unlink(path)
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            chmod(path, mode)
            if let owner { chown(path, owner, owner) }
        }
        _ = Foundation.mkdir(dir, 0o700)
        // The control: a well-formed planted file in the right place is what a cache hit reads.
        plant(fileBytes(Self.allowAll))
        #expect(SeccompCache.load(dir: dir, name: name, header: header) == Self.allowAll)

        var damaged = fileBytes(Self.allowAll)
        damaged[damaged.count - 1] ^= 1
        plant(damaged)
        #expect(SeccompCache.load(dir: dir, name: name, header: header) == nil)
        #expect(try SeccompCache.compile(policy, in: dir) == expected)

        plant(fileBytes(Self.allowAll), mode: 0o666)
        #expect(SeccompCache.load(dir: dir, name: name, header: header) == nil)
        #expect(try SeccompCache.compile(policy, in: dir) == expected)

        if geteuid() == 0 {
            // Written by another account (a sandbox's server, say): refused.
            plant(fileBytes(Self.allowAll), owner: 65534)
            #expect(SeccompCache.load(dir: dir, name: name, header: header) == nil)
            #expect(try SeccompCache.compile(policy, in: dir) == expected)
        }

        // Truncated: the length does not match.
        plant(Array(fileBytes(expected).dropLast(8)))
        #expect(SeccompCache.load(dir: dir, name: name, header: header) == nil)

        // Another header (an older mcpbox, another policy): refused.
        plant(Array("mcpbox seccomp 0\n".utf8) + fileBytes(Self.allowAll))
        #expect(SeccompCache.load(dir: dir, name: name, header: header) == nil)

        // A directory others can write, or a symlink to one: not trusted.
        plant(fileBytes(Self.allowAll))
        chmod(dir, 0o777)
        #expect(SeccompCache.load(dir: dir, name: name, header: header) == nil)
        #expect(try SeccompCache.compile(policy, in: dir) == expected)
        chmod(dir, 0o700)
        let link = scratch.path + "/link"
        symlink(dir, link)
        #expect(SeccompCache.load(dir: link, name: name, header: header) == nil)
        #expect(try SeccompCache.compile(policy, in: link) == expected)
    }

    @Test func presetsNeedNoCache() throws {
        let preset = SeccompPolicy(preset: .default, allow: [], deny: [], defaultAction: .errno)
        #expect(try SeccompCache.compile(preset) == Seccomp.compileWithLibseccomp(preset))
    }
}
