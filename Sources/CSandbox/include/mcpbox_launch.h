/* The contract between the Swift parent and the C child stage.
 *
 * The parent fills a `struct mcpbox_launch` completely (every string, fd, map and the
 * seccomp BPF program precomputed), then calls mcpbox_launch_spawn(). Between the clone and
 * the server's execve only C with raw syscalls runs: no malloc, no Swift, no locks. */
#ifndef MCPBOX_LAUNCH_H
#define MCPBOX_LAUNCH_H
#if defined(__linux__)
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Kinds of filesystem entries, applied in array order (parents before children). */
enum mcpbox_mount_kind {
    MCPBOX_MOUNT_BIND_RO = 1,   /* bind `source_fd` (O_PATH, checked by the parent) read-only */
    MCPBOX_MOUNT_BIND_RW = 2,   /* bind `source_fd` read-write (still nosuid,nodev) */
    MCPBOX_MOUNT_TMPFS = 3,     /* private tmpfs of `size` bytes, mode 1777 */
    MCPBOX_MOUNT_PROC = 4,      /* fresh procfs with read-only and masked paths */
    MCPBOX_MOUNT_DEV = 5,       /* minimal /dev: null zero full random urandom, shm tmpfs, fd links */
    MCPBOX_MOUNT_FILE = 6,      /* regular file with `data`/`data_len` bytes, read-only */
    MCPBOX_MOUNT_HIDE_DIR = 7,  /* empty read-only tmpfs over a directory */
    MCPBOX_MOUNT_HIDE_FILE = 8, /* empty read-only file over a file */
};

struct mcpbox_mount {
    int kind;               /* enum mcpbox_mount_kind */
    const char *target;     /* absolute path inside the sandbox */
    int source_fd;          /* for binds: O_PATH|O_CLOEXEC fd of the checked source; else -1 */
    int source_is_dir;      /* for binds: 1 when the source is a directory */
    uint64_t size;          /* for tmpfs: bytes */
    const char *data;       /* for files */
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
};

/* What the child writes to the error pipe before _exit(125) (or 126/127 for EXEC). */
struct mcpbox_child_error {
    int32_t stage;  /* enum mcpbox_stage */
    int32_t err;    /* errno */
    int32_t index;  /* mount index for MOUNT_* stages, else -1 */
};

struct mcpbox_launch {
    /* namespaces: CLONE_NEW* flags (user is always included) */
    int clone_flags;
    int new_net;                 /* 1: loopback-only network namespace (bring lo up) */

    /* identity */
    uid_t uid;                   /* inside uid the server runs as (never 0) */
    gid_t gid;                   /* inside gid */
    int map_mode;                /* enum mcpbox_map_mode */
    const char *uid_map;         /* text for /proc/PID/uid_map (MAP_WRITE) */
    const char *gid_map;
    int deny_setgroups;          /* write "deny" to /proc/PID/setgroups before gid_map */
    const char *newuidmap_path;  /* MAP_NEWUIDMAP: absolute paths and argument strings */
    const char *newgidmap_path;
    const char *const *newuidmap_args;  /* "inside outside count" triples, NULL-terminated */
    const char *const *newgidmap_args;

    /* filesystem */
    const struct mcpbox_mount *mounts;
    size_t n_mounts;
    const char *hostname;
    const char *cwd;

    /* process */
    const char *exec_path;       /* absolute path inside the sandbox */
    char *const *argv;           /* NULL-terminated */
    char *const *envp;           /* NULL-terminated */
    uint64_t rlimit_nofile;
    uint64_t rlimit_nproc;       /* 0 = leave as is */

    /* seccomp: a precompiled classic-BPF program (struct sock_filter[]) */
    const void *bpf;
    unsigned short bpf_len;      /* number of instructions */

    /* the server's stdio (child ends of the relay pipes) */
    int stdin_fd, stdout_fd, stderr_fd;

    /* parent side: cgroup.procs files to join the sandbox's pid 1 into (may be empty) */
    const int *cgroup_procs_fds;
    size_t n_cgroup_procs_fds;
};

/* Result of a spawn. */
struct mcpbox_spawned {
    pid_t pid;       /* pid (in mcpbox's namespace) of the sandbox's pid 1 */
    int error_fd;    /* read end of the CLOEXEC error pipe: EOF = the server exec'd */
};

/* Clones the sandbox, writes the maps, joins cgroups, releases the child.
 * Returns 0, or -1 with *failure filled (parent-side stage and errno). */
int mcpbox_launch_spawn(const struct mcpbox_launch *launch, struct mcpbox_spawned *out,
                        struct mcpbox_child_error *failure);

#endif /* __linux__ */
#endif /* MCPBOX_LAUNCH_H */
