/* The contract between the Swift parent and the C child stage.
 *
 * The parent fills a `struct mcpbox_launch` completely (every string, map and the seccomp BPF
 * program precomputed), then calls mcpbox_launch_spawn(). Between the clone and the server's
 * execve only C with raw syscalls runs: no malloc, no stdio, no locks, no glibc set*id
 * broadcast (the child is a copy of one thread of a multi-threaded process). */
#ifndef MCPBOX_LAUNCH_H
#define MCPBOX_LAUNCH_H
#if defined(__linux__)
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mcpbox_landlock.h"

/* Kinds of filesystem entries, applied in array order (parents before children). */
enum mcpbox_mount_kind {
    MCPBOX_MOUNT_BIND_RO = 1,   /* bind host `source` read-only (nosuid,nodev) */
    MCPBOX_MOUNT_BIND_RW = 2,   /* bind host `source` read-write (still nosuid,nodev) */
    MCPBOX_MOUNT_TMPFS = 3,     /* private tmpfs of `size` bytes, mode 1777, nosuid,nodev */
    MCPBOX_MOUNT_PROC = 4,      /* fresh procfs with read-only and masked paths */
    MCPBOX_MOUNT_DEV = 5,       /* minimal /dev: null zero full random urandom, fd links,
                                   shm tmpfs of `size` bytes; the /dev tmpfs itself read-only */
    MCPBOX_MOUNT_FILE = 6,      /* regular file with `data`/`data_len` bytes, mode 0444, read-only */
    MCPBOX_MOUNT_HIDE_DIR = 7,  /* empty read-only tmpfs over a directory */
    MCPBOX_MOUNT_HIDE_FILE = 8, /* empty read-only file over a file */
    MCPBOX_MOUNT_SYMLINK = 9,   /* symlink at `target` pointing to `data` (NUL-terminated) */
};

struct mcpbox_mount {
    int kind;               /* enum mcpbox_mount_kind */
    const char *target;     /* absolute path inside the sandbox, no symlinks, no "..": the
                               child resolves it beneath the new root with RESOLVE_NO_SYMLINKS */
    /* Binds, the object bound is the object checked, in one of two ways:
     * - source_tree >= 0: a privileged parent (root) cloned the checked fd itself
     *   (mcpbox_clone_source) into a detached tree with its flags set; the child only
     *   move_mounts it. Root's own access (CAP_DAC_OVERRIDE in the initial user namespace)
     *   is what reaches the source, e.g. below /root or a user's 0700 home.
     * - source_tree == -1 (unprivileged caller, who cannot clone mounts in its own
     *   namespace): the child re-opens the canonical `source` in its new mount namespace
     *   with openat2 (RESOLVE_NO_SYMLINKS), still as the caller's uid (before setresuid),
     *   refuses it unless st_dev/st_ino are the ones the parent checked, and clones that fd. */
    const char *source;
    uint64_t source_dev;
    uint64_t source_ino;
    int source_is_dir;      /* binds: 1 when the source is a directory */
    int source_tree;        /* binds: detached tree from mcpbox_clone_source, or -1 */
    uint64_t size;          /* tmpfs, dev (/dev/shm): bytes */
    const char *data;       /* file contents; symlink target */
    size_t data_len;
};

/* How the uid/gid maps of the new user namespace are written (by the parent, after clone). */
enum mcpbox_map_mode {
    MCPBOX_MAP_WRITE = 1,      /* parent writes uid_map/gid_map itself (root, or own uid) */
    MCPBOX_MAP_NEWUIDMAP = 2,  /* parent runs newuidmap/newgidmap (subordinate ids) */
};

/* Setup stages reported over the error pipe. Keep in sync with SpawnError.stageName. */
enum mcpbox_stage {
    MCPBOX_STAGE_CLONE = 1,
    MCPBOX_STAGE_SYNC,
    MCPBOX_STAGE_PDEATHSIG,
    MCPBOX_STAGE_IDENTITY_SETUP,
    MCPBOX_STAGE_MOUNT_PRIVATE,
    MCPBOX_STAGE_MOUNT_ROOT,
    MCPBOX_STAGE_MOUNT_BIND,
    MCPBOX_STAGE_MOUNT_TMPFS,
    MCPBOX_STAGE_MOUNT_PROC,
    MCPBOX_STAGE_MOUNT_DEV,
    MCPBOX_STAGE_MOUNT_FILE,
    MCPBOX_STAGE_MOUNT_HIDE,
    MCPBOX_STAGE_PIVOT_ROOT,
    MCPBOX_STAGE_REMOUNT_ROOT,
    MCPBOX_STAGE_HOSTNAME,
    MCPBOX_STAGE_LOOPBACK,
    MCPBOX_STAGE_RLIMIT,
    MCPBOX_STAGE_FORK_SERVER,
    MCPBOX_STAGE_SETSID,
    MCPBOX_STAGE_STDIO,
    MCPBOX_STAGE_CLOSE_FDS,
    MCPBOX_STAGE_CHDIR,
    MCPBOX_STAGE_CAPS,
    MCPBOX_STAGE_SETGROUPS,
    MCPBOX_STAGE_SETGID,
    MCPBOX_STAGE_SETUID,
    MCPBOX_STAGE_SECUREBITS,
    MCPBOX_STAGE_NO_NEW_PRIVS,
    MCPBOX_STAGE_SECCOMP,
    MCPBOX_STAGE_EXEC,
    MCPBOX_STAGE_UID_MAP,      /* parent side: writing maps / running newuidmap */
    MCPBOX_STAGE_CGROUP,       /* parent side: joining the cgroup */
    MCPBOX_STAGE_MOUNT_TARGET, /* creating or opening a mount point beneath the new root */
    MCPBOX_STAGE_MOUNT_SOURCE, /* re-opening a bind source (changed since it was checked) */
    MCPBOX_STAGE_SIGNALS,
    MCPBOX_STAGE_LANDLOCK,     /* building or enforcing the Landlock ruleset (index: rule) */
    MCPBOX_STAGE_KEYRING,      /* joining a session keyring of the server's own */
};

/* What the child writes to the error pipe before _exit(125) (or 126/127 for EXEC). */
struct mcpbox_child_error {
    int32_t stage;  /* enum mcpbox_stage */
    int32_t err;    /* errno */
    int32_t index;  /* mount index for MOUNT_* stages, else -1 */
};

struct mcpbox_launch {
    /* namespaces: CLONE_NEW* flags (CLONE_NEWUSER|NEWNS|NEWPID are required) */
    int clone_flags;
    int new_net;                 /* 1: loopback-only network namespace (bring lo up) */
    int egress;                  /* 1 (needs new_net): the network helper makes the egress
                                    listeners (mcpbox_egress.h) and sends them on egress_fd */
    int egress_fd;               /* child end of mcpbox_egress_socketpair; pid 1 closes it */
    uint16_t egress_proxy_port;  /* the proxy's port on 127.0.0.1 inside the sandbox */
    const uint16_t *egress_capture_ports; /* ports captured on the fake-address range */
    size_t n_egress_capture_ports;        /* at most MCPBOX_EGRESS_MAX_CAPTURE */

    /* identity */
    uid_t uid;                   /* inside uid the server runs as (never 0) */
    gid_t gid;                   /* inside gid */
    int map_mode;                /* enum mcpbox_map_mode */
    const char *uid_map;         /* text for /proc/PID/uid_map (MAP_WRITE) */
    const char *gid_map;
    int deny_setgroups;          /* write "deny" to /proc/PID/setgroups before gid_map; the
                                    child then keeps its supplementary groups (unmapped) */
    const char *newuidmap_path;  /* MAP_NEWUIDMAP: absolute paths and argument strings */
    const char *newgidmap_path;
    const char *const *newuidmap_args;  /* "inside outside count" words, NULL-terminated */
    const char *const *newgidmap_args;

    /* filesystem */
    const struct mcpbox_mount *mounts;
    size_t n_mounts;
    uint64_t root_size;          /* bytes of the root tmpfs (holds synthesized files) */
    const char *hostname;
    const char *cwd;

    /* process */
    const char *exec_path;       /* absolute path inside the sandbox */
    char *const *argv;           /* NULL-terminated */
    char *const *envp;           /* NULL-terminated */
    uint64_t rlimit_nofile;      /* soft = hard; above the current hard limit fails (EPERM) */
    uint64_t rlimit_nproc;       /* 0 = leave as is; counts tasks of the uid in the new user ns,
                                    pid 1 included */
    uint64_t inotify_instances;  /* the new user ns's user.max_inotify_instances; 0 = leave */
    uint64_t inotify_watches;    /* its user.max_inotify_watches; 0 = leave. ucounts nest, so
                                    these bound the sandbox below the host user's own budget */

    /* Landlock: the ruleset the server enforces after no_new_privs, before seccomp;
     * NULL: none (landlock off, or best-effort on a kernel without Landlock) */
    const struct mcpbox_landlock *landlock;

    /* 1: the server joins a new, empty session keyring before its filter, so the keyring
     * syscalls a profile allows (keyctl, add_key, request_key) reach no key of the process
     * that started mcpbox. 0 when the filter refuses them all: nothing to reach, and each
     * keyring would count against the uid's key quota (200 keys for all of its sandboxes). */
    int new_session_keyring;

    /* seccomp: a precompiled classic-BPF program (struct sock_filter[]); required */
    const void *bpf;
    unsigned short bpf_len;      /* number of instructions */

    /* the server's stdio (child ends of the relay pipes) */
    int stdin_fd, stdout_fd, stderr_fd;

    /* parent side: cgroup.procs files to join the sandbox's pid 1 into (v2; may be empty) */
    const int *cgroup_procs_fds;
    size_t n_cgroup_procs_fds;

    /* pid 1 side: cgroup v1 `tasks` files (opened by mcpbox) that pid 1 joins itself into
     * first, while it is still one thread: "0" moves only the writing thread, which spares the
     * kernel's global migration lock and the RCU grace period its first writer waits for */
    const int *cgroup_tasks_fds;
    size_t n_cgroup_tasks_fds;

    /* mcpbox's own argv strings (contiguous, as the kernel laid them out): pid 1 is a copy of
     * mcpbox and the server can read /proc/1/cmdline, so pid 1 blanks its copy (which holds
     * the profile path and --set values). NULL/0: nothing to blank. */
    char *argv_area;
    size_t argv_area_len;

    /* 1: pid 1 is cloned as a child of mcpbox's relay host (CLONE_PARENT, mcpbox_host.h), which
     * relays and reaps it; host_fd is the worker's end of the host socket: pid 1 checks, after
     * its last parent-death setup, that the host still holds the other end. */
    int host_parent;
    int host_fd;
};

/* Result of a spawn. */
struct mcpbox_spawned {
    pid_t pid;       /* pid (in mcpbox's namespace) of the sandbox's pid 1 */
    int error_fd;    /* read end of the CLOEXEC error pipe: EOF = the server exec'd */
    int sync_fd;     /* write end of the sync pipe: keep it open until pid 1 is reaped
                        (pid 1 treats its hang-up as the death of mcpbox), then close it */
    int pidfd;       /* host_parent: a pidfd of pid 1 (not the caller's child), else -1 */
};

/* Clones the sandbox, writes the maps, joins cgroups, releases the child.
 * Returns 0, or -1 with *failure filled (parent-side stage and errno); on failure the
 * child is killed and reaped. Call it from a thread that outlives the sandbox: pid 1 has
 * PR_SET_PDEATHSIG(SIGKILL), which fires when the calling thread exits. */
int mcpbox_launch_spawn(const struct mcpbox_launch *launch, struct mcpbox_spawned *out,
                        struct mcpbox_child_error *failure);

/* Waits until pid 1 is gone: waitpid when it is the caller's child (pidfd -1), returning its
 * wait status (125 << 8 on error); else polls its pidfd (host_parent launches: the relay host
 * reaps it) and returns 125 << 8. */
int mcpbox_wait_gone(pid_t pid, int pidfd);

/* Parent-side check of a bind source: opens the canonical `path` with openat2
 * (O_PATH|O_CLOEXEC, RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS), fstat()s it and closes it.
 * Returns 0 with *dev, *ino, *is_dir filled, or -1 with errno. */
int mcpbox_check_source(const char *path, uint64_t *dev, uint64_t *ino, int *is_dir);

/* Parent-side clone of a bind source (needs CAP_SYS_ADMIN in mcpbox's mount namespace):
 * checks `path` like mcpbox_check_source, then clones that very fd into a detached tree
 * (open_tree OPEN_TREE_CLONE|AT_RECURSIVE, close-on-exec) made nosuid,nodev (and ro when
 * `read_only`) and private (so no mount made inside the sandbox propagates to the host).
 * Returns the tree fd, or -1 with errno. */
int mcpbox_clone_source(const char *path, int read_only, uint64_t *dev, uint64_t *ino, int *is_dir);

/* pipe2(fds, O_CLOEXEC) with both ends moved to fds >= 3. */
int mcpbox_pipe_cloexec(int fds[2]);

/* Exit status of a wait status as a shell reports it: the exit code, or 128+N for signal N. */
int mcpbox_exit_status(int wait_status);

#endif /* __linux__ */
/* The inodes a tmpfs of `size` bytes may hold: one per KiB (at least 4096), so its inodes and
 * dentries (about 1 KiB of kernel memory each) stay within about its own size. PlanLimits and
 * explain state the same. */
static inline unsigned long long mcpbox_tmpfs_inodes(unsigned long long size) {
    unsigned long long n = size / 1024;
    return n < 4096 ? 4096 : n;
}

#endif /* MCPBOX_LAUNCH_H */
