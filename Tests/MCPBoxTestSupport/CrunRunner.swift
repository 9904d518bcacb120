import Foundation

/// How the tests run an exported bundle with crun on this host. Its cgroup hierarchy is hybrid
/// (v1 controllers, an empty v2 at /sys/fs/cgroup/unified), which crun refuses even with its
/// cgroup manager disabled; in a private mount namespace with a cgroup2 mount at /sys/fs/cgroup
/// crun sees a unified hierarchy, and `--cgroup-manager=disabled` makes it create no cgroup, so
/// `linux.resources` (memory, cpu) is not applied in these runs.
public enum CrunRunner {
    public static var crun: String? {
        ["/usr/bin/crun", "/usr/local/bin/crun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public static func argv(bundle: String, id: String) -> [String] {
        ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
         "mount -t cgroup2 none /sys/fs/cgroup && exec \"$0\" --cgroup-manager=disabled run --bundle \"$1\" \"$2\"",
         crun ?? "crun", bundle, id]
    }

    /// Removes a container left behind by a failed run (no error when there is none).
    public static func delete(_ id: String) {
        _ = try? runProcess([crun ?? "crun", "delete", "--force", id])
    }
}

