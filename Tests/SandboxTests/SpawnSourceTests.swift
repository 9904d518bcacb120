import CSandbox
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The object bound is the object checked: the C child stage, driven directly, refuses a bind
/// source that is no longer what the parent checked (replaced, or now reached via a symlink).
@Suite(.enabled(if: geteuid() == 0, "needs root: real namespaces"))
struct SpawnSourceTests {
    /// Launches a sandbox whose only mount binds `source` claiming the identity of `checked`,
    /// and returns the child's error record.
    static func launchBinding(_ source: String, checkedAs checked: String,
                              exitStatus: Int32 = 125) throws -> mcpbox_child_error? {
        var st = stat()
        #expect(stat(checked, &st) == 0)
        let sourceC = strdup(source)!, target = strdup("/data")!, exe = strdup("/bin/true")!
        let map = strdup("65534 65534 1\n")!, cwd = strdup("/")!
        defer { for p in [sourceC, target, exe, map, cwd] { free(p) } }
        var mount = mcpbox_mount()
        mount.kind = Int32(MCPBOX_MOUNT_BIND_RO.rawValue)
        mount.target = UnsafePointer(target)
        mount.source = UnsafePointer(sourceC)
        mount.source_dev = UInt64(st.st_dev)
        mount.source_ino = UInt64(st.st_ino)
        mount.source_is_dir = 1
        mount.source_tree = -1  // the unprivileged path: the child re-opens and checks
        // RET ALLOW: never reached, the launch fails before the filter is installed.
        var bpf: [UInt8] = [0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]
        var argv: [UnsafeMutablePointer<CChar>?] = [exe, nil]
        var envp: [UnsafeMutablePointer<CChar>?] = [nil]
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devNull) }
        var spawned = mcpbox_spawned()
        var failure = mcpbox_child_error()
        let rc = withUnsafeMutablePointer(to: &mount) { mountPtr in
            bpf.withUnsafeMutableBytes { program in
                argv.withUnsafeMutableBufferPointer { av in
                    envp.withUnsafeMutableBufferPointer { ev in
                        var launch = mcpbox_launch()
                        launch.clone_flags = 0x1000_0000 | 0x0002_0000 | 0x2000_0000
                        launch.uid = 65534
                        launch.gid = 65534
                        launch.map_mode = Int32(MCPBOX_MAP_WRITE.rawValue)
                        launch.uid_map = UnsafePointer(map)
                        launch.gid_map = UnsafePointer(map)
                        launch.mounts = UnsafePointer(mountPtr)
                        launch.n_mounts = 1
                        launch.cwd = UnsafePointer(cwd)
                        launch.exec_path = UnsafePointer(exe)
                        launch.argv = UnsafePointer(av.baseAddress)
                        launch.envp = UnsafePointer(ev.baseAddress)
                        launch.bpf = UnsafeRawPointer(program.baseAddress)
                        launch.bpf_len = 1
                        launch.stdin_fd = devNull
                        launch.stdout_fd = devNull
                        launch.stderr_fd = devNull
                        return mcpbox_launch_spawn(&launch, &spawned, &failure)
                    }
                }
            }
        }
        #expect(rc == 0)
        guard rc == 0 else { return nil }
        var record = mcpbox_child_error()
        let n = read(spawned.error_fd, &record, MemoryLayout<mcpbox_child_error>.size)
        var status: Int32 = 0
        waitpid(spawned.pid, &status, 0)
        close(spawned.error_fd)
        close(spawned.sync_fd)
        #expect(mcpbox_exit_status(status) == exitStatus)
        return n == MemoryLayout<mcpbox_child_error>.size ? record : nil
    }

    @Test func replacedSourceIsRefused() throws {
        let record = try #require(try Self.launchBinding("/etc", checkedAs: "/usr"))
        #expect(record.stage == Int32(MCPBOX_STAGE_MOUNT_SOURCE.rawValue))
        #expect(record.err == ESTALE)
        #expect(record.index == 0)
    }

    @Test func sourceReachedThroughASymlinkIsRefused() throws {
        let dir = "/tmp/mcpbox-spawn-src-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        #expect(mkdir(dir, 0o755) == 0)
        defer { unlink(dir + "/link"); rmdir(dir + "/real"); rmdir(dir) }
        #expect(mkdir(dir + "/real", 0o755) == 0)
        #expect(symlink(dir + "/real", dir + "/link") == 0)
        let record = try #require(try Self.launchBinding(dir + "/link", checkedAs: dir + "/real"))
        #expect(record.stage == Int32(MCPBOX_STAGE_MOUNT_SOURCE.rawValue))
        #expect(record.err == ELOOP)
    }

    @Test func unchangedSourceIsBound() throws {
        // Same identity: the mount stages pass and the launch only fails later, at exec
        // (no /bin/true in a root holding just /data).
        let record = try #require(try Self.launchBinding("/usr", checkedAs: "/usr", exitStatus: 127))
        #expect(record.stage == Int32(MCPBOX_STAGE_EXEC.rawValue))
        #expect(record.err == ENOENT)
    }
}
