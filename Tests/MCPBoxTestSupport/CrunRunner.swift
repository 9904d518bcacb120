import Foundation

/// How the tests run an exported bundle with crun on this host. Its cgroup hierarchy is hybrid
/// (v1 controllers, an empty v2 at /sys/fs/cgroup/unified), which crun refuses even with its
/// cgroup manager disabled. In a private mount namespace the runner replaces /sys/fs/cgroup with
/// a tmpfs holding only fresh mounts of the v1 `memory`, `pids` and `cpu` hierarchies: crun sees
/// a pure legacy layout, its cgroupfs manager makes the container's group `/<id>` in each and
/// applies `linux.resources` (memory and swap, pids, cpu quota) for real, and removes the group
/// when the container ends. A resource whose controller is not mounted makes crun fail (no
/// silent skip).
public enum CrunRunner {
    public static var crun: String? {
        ["/usr/bin/crun", "/usr/local/bin/crun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The v1 controllers mounted for crun.
    public static let controllers = ["memory", "pids", "cpu"]

    /// `crun run` of `bundle` as container `id`. `cgroups: false` is the way without limits
    /// (cgroup2 at /sys/fs/cgroup, `--cgroup-manager=disabled`), kept to show what the limits
    /// change.
    public static func argv(bundle: String, id: String, cgroups: Bool = true) -> [String] {
        wrapped(["run", "--bundle", bundle, id], cgroups: cgroups)
    }

    /// crun with `arguments`, inside the private mount namespace and cgroup layout above.
    public static func wrapped(_ arguments: [String], cgroups: Bool = true) -> [String] {
        let setup = cgroups
            ? "mount -t tmpfs -o mode=0755,nosuid,nodev,noexec mcpbox-cgroups /sys/fs/cgroup && for c in \(controllers.joined(separator: " ")); do "
                + "mkdir /sys/fs/cgroup/$c && mount -t cgroup -o $c,nosuid,nodev,noexec cgroup /sys/fs/cgroup/$c || exit 125; done && "
                + "exec \"$0\" --cgroup-manager=cgroupfs \"$@\""
            : "mount -t cgroup2 none /sys/fs/cgroup && exec \"$0\" --cgroup-manager=disabled \"$@\""
        return ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", setup, crun ?? "crun"] + arguments
    }

    /// Removes a container left behind by a failed run (no error when there is none).
    public static func delete(_ id: String) {
        _ = try? runProcess(wrapped(["delete", "--force", id]))
    }
}
