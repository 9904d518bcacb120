import Foundation
import MCPBoxTestSupport
import Testing

/// The server inherited the session keyring of the process that started mcpbox: with a profile
/// that allows the keyring syscalls (`[seccomp] allow` + `accept`), a server running as nobody
/// or as its own account read a key root had put there, and overwrote it (a key is "possessed"
/// through the keyring, whatever the uid). Found by a red-team pass. Now such a server joins a
/// new, empty session keyring of its own before its filter, and `explain` says so. Fails on the
/// build before the change: the probe reads the secret and the host finds the canary.
@Suite("the server's session keyring", .enabled(if: TestSupport.isRoot, "root-nobody mode: run as root (CI does)"))
struct KeyringTests {
    /// On the host: joins a session keyring of its own, puts the secret in it, runs mcpbox as a
    /// child (which inherits the keyring), then reads the key back.
    static let host = """
        import ctypes, subprocess, sys
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        SYS_add_key, SYS_keyctl = 248, 250
        secret = sys.argv[1].encode()
        if libc.syscall(SYS_keyctl, 1, b"mcpbox-test-ses") < 0:
            sys.exit("join: errno %d" % ctypes.get_errno())
        key = libc.syscall(SYS_add_key, b"user", b"mcpbox-test-secret", secret, len(secret), ctypes.c_long(-3))
        if key < 0:
            sys.exit("add_key: errno %d" % ctypes.get_errno())
        run = subprocess.run(sys.argv[2:], capture_output=True, text=True)
        sys.stdout.write(run.stdout)
        sys.stderr.write(run.stderr)
        buf = ctypes.create_string_buffer(256)
        n = libc.syscall(SYS_keyctl, 11, ctypes.c_long(key), buf, 256)
        print("HOST-KEY %s" % buf.raw[:max(n, 0)].decode(errors="replace"))
        print("EXIT %d" % run.returncode)
        """

    /// In the sandbox: lists its session keyring, reads and overwrites every key in it, and
    /// searches it for the host's key by name.
    static let probe = """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        SYS_keyctl = 250
        ids = (ctypes.c_int32 * 64)()
        n = libc.syscall(SYS_keyctl, 11, ctypes.c_long(-3), ids, 256)
        print("LIST %d errno %d" % (n, ctypes.get_errno()))
        for i in range(max(0, min(n, 256)) // 4):
            buf = ctypes.create_string_buffer(256)
            m = libc.syscall(SYS_keyctl, 11, ctypes.c_long(ids[i]), buf, 256)
            if m > 0:
                print("READ %s" % buf.raw[:m].decode(errors="replace"))
            canary = b"CANARY-FROM-SANDBOX"
            libc.syscall(SYS_keyctl, 2, ctypes.c_long(ids[i]), canary, len(canary))
        print("SEARCH %d" % libc.syscall(SYS_keyctl, 10, ctypes.c_long(-3), b"user", b"mcpbox-test-secret", 0))
        """

    @Test("a profile that allows keyctl gets an empty keyring: the caller's key is neither read nor changed")
    func callerKeysOutOfReach() throws {
        let tmp = try TempDir(prefix: "mcpbox-keyring")
        defer { tmp.remove() }
        chmod(tmp.path, 0o755)
        let host = try tmp.write("host.py", Self.host)
        let profile = try tmp.write("keys.toml", """
            extends = "base"
            [seccomp]
            allow = ["keyctl", "add_key", "request_key"]
            accept = ["keyctl", "add_key", "request_key"]
            """)
        let secret = "SECRET-\(UUID().uuidString.prefix(8))"
        let mcpbox = try TestSupport.mcpboxBinary()
        let run = try runProcess([try TestSupport.systemPython(), host, secret, mcpbox, "run", profile,
                                  "--profile-path", TestSupport.profilesDir, "--",
                                  "/usr/bin/python3", "-c", Self.probe],
                                 environment: ["PATH": "/usr/bin:/bin"], currentDirectory: "/", timeout: 60)
        #expect(run.stdoutText.contains("EXIT 0"), "stdout: \(run.stdoutText)\nstderr: \(run.stderr.suffix(2000))")
        #expect(run.stdoutText.contains("LIST 0 "), "the server's session keyring is not empty: \(run.stdoutText)")
        #expect(!run.stdoutText.contains("READ \(secret)"), "the server read the caller's key: \(run.stdoutText)")
        #expect(run.stdoutText.contains("SEARCH -1"), "the server found the caller's key: \(run.stdoutText)")
        #expect(run.stdoutText.contains("HOST-KEY \(secret)"), "the caller's key changed: \(run.stdoutText)")

        let explain = try runProcess([mcpbox, "explain", profile, "--profile-path", TestSupport.profilesDir],
                                     environment: ["PATH": "/usr/bin:/bin"], currentDirectory: "/", timeout: 60)
        #expect(explain.status == 0 && explain.stdoutText.contains("keyctl, add_key, request_key: the server joins a new, empty session keyring"),
                "explain: \(explain.stdoutText.suffix(3000))")
    }

    @Test("without the keyring syscalls nothing changes: explain says nothing of a keyring")
    func defaultProfileSaysNothing() throws {
        let explain = try runProcess([try TestSupport.mcpboxBinary(), "explain", "base", "--profile-path", TestSupport.profilesDir],
                                     environment: ["PATH": "/usr/bin:/bin"], currentDirectory: "/", timeout: 60)
        #expect(explain.status == 0)
        #expect(!explain.stdoutText.contains("session keyring"), "explain: \(explain.stdoutText.suffix(3000))")
    }
}
