/* The sandbox's filesystem view, built by pid 1 in its new mount namespace.
 *
 * Order (see ARCHITECTURE.md, "The launch, step by step"):
 *   1. "/" made MS_PRIVATE|MS_REC so nothing propagates back to the host.
 *   2. Bind sources become detached trees with their flags set (nosuid,nodev, ro for
 *      read-only binds, private propagation): cloned by a privileged parent from the fd it
 *      checked, or else re-opened here (openat2 RESOLVE_NO_SYMLINKS, still as the caller's
 *      uid), checked against the st_dev/st_ino the parent saw, and cloned from that fd. All
 *      of it happens before the new root is attached, so a source below /tmp cannot be
 *      shadowed by it.
 *   3. A fresh tmpfs (fsopen/fsmount) is attached over /tmp as the new root (a plan that
 *      binds "/" stacks that bind on it, and the bind becomes the root).
 *   4. Plan entries in order; each target is resolved beneath the new root component by
 *      component with RESOLVE_NO_SYMLINKS (a symlink planted in a read-write bind cannot
 *      redirect a later mount), and mounts go onto the target fd with move_mount.
 *   5. pivot_root(".", "."), detach the old root, root tmpfs read-only.
 * The object bound is the object checked: a source replaced since the parent's check fails
 * with MOUNT_SOURCE/ESTALE, never a silent bind of something else. */
#if defined(__linux__)
#include "launch_child.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MCPBOX_EMPTY_NAME ".mcpbox-empty"

struct mcpbox_fs {
    const struct mcpbox_launch *launch;
    int error_fd;
    int root;           /* the new root: the root tmpfs, or a bind of "/" stacked on it */
    int scratch;        /* the root tmpfs, which holds MCPBOX_EMPTY_NAME */
    uint64_t root_mnt_id;
    int root_is_bind;   /* the plan binds "/": the new root is that bind */
    int empty_created;  /* MCPBOX_EMPTY_NAME exists in the scratch tmpfs */
};

static void fail(const struct mcpbox_fs *fs, int stage, int index) {
    mcpbox_child_fail(fs->error_fd, stage, errno, index, 125);
}

/* open_tree(2). */
static int sys_open_tree(int dfd, const char *path, unsigned flags) {
    return (int)syscall(SYS_open_tree, dfd, path, flags);
}

/* move_mount(2) from one fd onto another. */
static int move_fd(int from, int to) {
    return (int)syscall(SYS_move_mount, from, "", to, "",
                        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

int mcpbox_clone_tree(int fd, int read_only) {
    int tree = (int)syscall(SYS_open_tree, fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                                       AT_EMPTY_PATH | AT_RECURSIVE);
    if (tree < 0) return -1;
    struct mount_attr attr = {
        .attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (read_only ? MOUNT_ATTR_RDONLY : 0),
        .propagation = MS_PRIVATE,
    };
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
        int saved = errno;
        close(tree);
        errno = saved;
        return -1;
    }
    return tree;
}

/* mount_setattr(2) on the mount `fd` refers to. */
static int set_attr(int fd, int recursive, uint64_t attrs) {
    struct mount_attr attr = {.attr_set = attrs};
    return (int)syscall(SYS_mount_setattr, fd, "",
                        AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr);
}

/* openat2(2). */
static int open2(int dfd, const char *path, uint64_t flags, uint64_t resolve) {
    struct open_how how = {.flags = flags, .mode = 0, .resolve = resolve};
    return (int)syscall(SYS_openat2, dfd, path, &how, sizeof how);
}

static void u64_to_str(uint64_t v, char out[24]) {
    char tmp[24];
    int n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    out[n] = 0;
}

/* A detached tmpfs mount (fsopen/fsconfig/fsmount); -1 with errno on failure. Its inodes are
 * capped as well as its bytes (mcpbox_tmpfs_inodes): by default the kernel allows half the
 * host's RAM pages of them, and a million empty files in a "1MiB" tmpfs took 1.25 GB of host
 * kernel memory (slab) where no memory limit applied. */
static int new_tmpfs(uint64_t size, const char *mode, uint64_t attrs) {
    char sz[24], inodes[24];
    int fsfd = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
    if (fsfd < 0) return -1;
    u64_to_str(size, sz);
    u64_to_str(mcpbox_tmpfs_inodes(size), inodes);
    int mfd = -1;
    if (syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "size", sz, 0) == 0 &&
        syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "nr_inodes", inodes, 0) == 0 &&
        syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "mode", mode, 0) == 0 &&
        syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
        mfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, attrs);
    int saved = errno;
    close(fsfd);
    errno = saved;
    return mfd;
}

/* How the last component of a target is treated. */
enum target_mode {
    TARGET_DIR,          /* open or create a directory */
    TARGET_FILE,         /* open or create an empty regular file (a mount point) */
    TARGET_EXISTING,     /* open an existing entry, never create (hide) */
    TARGET_PARENT,       /* only resolve/create the parent; return it, name in *last */
};

/* Makes the directory `*fd` (entry `name` of `dir`) a mount point of its own by binding it
 * onto itself, when it sits inside a writable mount other than the root tmpfs and is not a
 * mount root already; *fd is re-opened on the new mount. A mount point cannot be renamed or
 * removed (EBUSY), so the server cannot move a directory that holds a read-only bind or a
 * hide mask and put a writable or unmasked path of its own at the planned host path. */
static int pin_dir(const struct mcpbox_fs *fs, int *fd, int dir, const char *name) {
    struct statx st;
    struct statfs sfs;
    if (syscall(SYS_statx, *fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &st) < 0) return -1;
    if (st.stx_mnt_id == fs->root_mnt_id && !fs->root_is_bind) return 0;
    if (!(st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) { errno = ENOSYS; return -1; }
    if (st.stx_attributes & STATX_ATTR_MOUNT_ROOT) return 0;
    if (fstatfs(*fd, &sfs) < 0) return -1;
    if (sfs.f_flags & ST_RDONLY) return 0;
    int t = sys_open_tree(*fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
    if (t < 0) return -1;
    int rc = move_fd(t, *fd);
    int saved = errno;
    close(t);
    if (rc < 0) { errno = saved; return -1; }
    int again = open2(dir, name, O_PATH | O_CLOEXEC | O_DIRECTORY,
                      RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH);
    if (again < 0) return -1;
    close(*fd);
    *fd = again;
    return 0;
}

/* Resolves `path` (absolute, inside the sandbox) beneath the new root, one component at a
 * time with RESOLVE_NO_SYMLINKS, creating missing directories with mode 0755. Returns an
 * O_PATH fd (TARGET_PARENT: the parent directory, with *last pointing at the name) or -1. */
static int open_target(const struct mcpbox_fs *fs, const char *path, enum target_mode mode,
                       const char **last) {
    char name[256];
    const char *p = path;
    int dir = fs->root;
    if (*p != '/') { errno = EINVAL; return -1; }
    for (;;) {
        while (*p == '/') p++;
        const char *start = p;
        while (*p && *p != '/') p++;
        size_t len = (size_t)(p - start);
        const char *rest = p;
        while (*rest == '/') rest++;
        int final = (*rest == 0);
        if (len == 0) {  /* "/" itself (or a trailing slash): never a mount point */
            errno = EINVAL;
            goto fail;
        }
        if (len >= sizeof name || (len == 1 && start[0] == '.') ||
            (len == 2 && start[0] == '.' && start[1] == '.')) {
            errno = EINVAL;
            goto fail;
        }
        for (size_t i = 0; i < len; i++) name[i] = start[i];
        name[len] = 0;
        if (final && mode == TARGET_PARENT) {
            if (*p) {  /* "name/": the entry created here is never a directory */
                errno = EINVAL;
                goto fail;
            }
            *last = start;
            return dir == fs->root ? open2(dir, ".", O_PATH | O_CLOEXEC, 0) : dir;
        }
        const uint64_t resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH;
        int want_dir = !final || mode == TARGET_DIR;
        int fd = open2(dir, name, O_PATH | O_CLOEXEC | (want_dir ? O_DIRECTORY : 0), resolve);
        if (fd < 0 && errno == ENOENT && !(final && mode == TARGET_EXISTING)) {
            if (want_dir) {
                if (mkdirat(dir, name, 0755) < 0 && errno != EEXIST) goto fail;
                fd = open2(dir, name, O_PATH | O_CLOEXEC | O_DIRECTORY, resolve);
            } else {
                fd = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0444);
            }
        }
        if (fd < 0) goto fail;
        if (!final && pin_dir(fs, &fd, dir, name) < 0) {
            int saved = errno;
            close(fd);
            errno = saved;
            goto fail;
        }
        if (dir != fs->root) close(dir);
        dir = fd;
        if (final) return dir;
    }
fail:
    if (dir != fs->root) {
        int saved = errno;
        close(dir);
        errno = saved;
    }
    return -1;
}

/* Binds a fresh read-only copy of the root's empty file onto `target_fd`. */
static int bind_empty_file(struct mcpbox_fs *fs, int target_fd) {
    if (!fs->empty_created) {
        int fd = openat(fs->scratch, MCPBOX_EMPTY_NAME, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0444);
        if (fd < 0) return -1;
        close(fd);
        fs->empty_created = 1;
    }
    int t = sys_open_tree(fs->scratch, MCPBOX_EMPTY_NAME, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                                           AT_SYMLINK_NOFOLLOW);
    if (t < 0) return -1;
    int rc = set_attr(t, 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                MOUNT_ATTR_NOEXEC);
    if (rc == 0) rc = move_fd(t, target_fd);
    int saved = errno;
    close(t);
    errno = saved;
    return rc;
}

/* An empty read-only tmpfs onto `target_fd`. */
static int mount_empty_dir(int target_fd) {
    int m = new_tmpfs(4096, "0555", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                        MOUNT_ATTR_NOEXEC);
    if (m < 0) return -1;
    int rc = move_fd(m, target_fd);
    int saved = errno;
    close(m);
    errno = saved;
    return rc;
}

/* Writes `value` in decimal to `name` under `dir`; 0 leaves it. */
static int write_sysctl(int dir, const char *name, uint64_t value) {
    if (!value) return 0;
    char text[24];
    int n = 0;
    char digits[21];
    int k = 0;
    do { digits[k++] = (char)('0' + value % 10); value /= 10; } while (value);
    while (k) text[n++] = digits[--k];
    int fd = openat(dir, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t w;
    do w = write(fd, text, (size_t)n); while (w < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    errno = saved;
    return w == n ? 0 : -1;
}

/* procfs at `target_fd`, with the kernel-tunable paths read-only and the leaky ones masked
 * (the lists Docker/runc use). Runs in pid 1, so the procfs belongs to the new pid ns. */
static void mount_proc(struct mcpbox_fs *fs, int target_fd, int index) {
    static const char *const read_only[] = {"sys", "sysrq-trigger", "irq", "bus", "fs"};
    static const char *const masked_files[] = {"kcore", "keys", "timer_list", "timer_stats",
                                               "sched_debug", "latency_stats"};
    static const char *const masked_dirs[] = {"acpi", "scsi", "asound"};
    int fsfd = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
    if (fsfd < 0) fail(fs, MCPBOX_STAGE_MOUNT_PROC, index);
    if (syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        fail(fs, MCPBOX_STAGE_MOUNT_PROC, index);
    int proc = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC,
                            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    if (proc < 0 || move_fd(proc, target_fd) < 0) fail(fs, MCPBOX_STAGE_MOUNT_PROC, index);
    close(fsfd);
    /* The new user ns's inotify budget, while /proc/sys is still writable (pid 1 holds the
     * ns's CAP_SYS_RESOURCE here, and the procfs shows this user ns's `user` table). */
    if (write_sysctl(proc, "sys/user/max_inotify_instances", fs->launch->inotify_instances) < 0 ||
        write_sysctl(proc, "sys/user/max_inotify_watches", fs->launch->inotify_watches) < 0)
        fail(fs, MCPBOX_STAGE_RLIMIT, -1);
    const uint64_t ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    for (size_t i = 0; i < sizeof read_only / sizeof *read_only; i++) {
        int t = sys_open_tree(proc, read_only[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                                      AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
        if (t < 0 && errno == ENOENT) continue;
        int on = openat(proc, read_only[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (t < 0 || on < 0 || set_attr(t, 1, ro) < 0 || move_fd(t, on) < 0)
            fail(fs, MCPBOX_STAGE_MOUNT_PROC, index);
        close(t);
        close(on);
    }
    for (size_t i = 0; i < sizeof masked_files / sizeof *masked_files; i++) {
        int on = openat(proc, masked_files[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (on < 0 && errno == ENOENT) continue;
        if (on < 0 || bind_empty_file(fs, on) < 0) fail(fs, MCPBOX_STAGE_MOUNT_PROC, index);
        close(on);
    }
    for (size_t i = 0; i < sizeof masked_dirs / sizeof *masked_dirs; i++) {
        int on = openat(proc, masked_dirs[i], O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
        if (on < 0 && errno == ENOENT) continue;
        if (on < 0 || mount_empty_dir(on) < 0) fail(fs, MCPBOX_STAGE_MOUNT_PROC, index);
        close(on);
    }
    close(proc);
}

/* A minimal /dev: a nodev tmpfs holding bind mounts of the host's harmless character
 * devices (their own mounts, without nodev), the standard /proc/self/fd links and a private
 * /dev/shm; the tmpfs itself read-only. No tty, no pts, no ptmx, no block devices, no kmsg. */
static void mount_dev(struct mcpbox_fs *fs, const struct mcpbox_mount *m, int target_fd,
                      int index) {
    static const char *const nodes[] = {"null", "zero", "full", "random", "urandom"};
    static const char *const host_nodes[] = {"/dev/null", "/dev/zero", "/dev/full",
                                             "/dev/random", "/dev/urandom"};
    static const char *const link_names[] = {"fd", "stdin", "stdout", "stderr"};
    static const char *const link_targets[] = {"/proc/self/fd", "/proc/self/fd/0",
                                               "/proc/self/fd/1", "/proc/self/fd/2"};
    int dev = new_tmpfs(65536, "0755", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    if (dev < 0 || move_fd(dev, target_fd) < 0) fail(fs, MCPBOX_STAGE_MOUNT_DEV, index);
    for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
        int on = openat(dev, nodes[i], O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
        int t = sys_open_tree(AT_FDCWD, host_nodes[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                                           AT_SYMLINK_NOFOLLOW);
        /* Device nodes need a mount without nodev; nosuid,noexec still apply. */
        if (on < 0 || t < 0 || set_attr(t, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC) < 0 ||
            move_fd(t, on) < 0)
            fail(fs, MCPBOX_STAGE_MOUNT_DEV, index);
        close(t);
        close(on);
    }
    for (size_t i = 0; i < sizeof link_names / sizeof *link_names; i++)
        if (symlinkat(link_targets[i], dev, link_names[i]) < 0)
            fail(fs, MCPBOX_STAGE_MOUNT_DEV, index);
    if (mkdirat(dev, "shm", 01777) < 0) fail(fs, MCPBOX_STAGE_MOUNT_DEV, index);
    int on = open2(dev, "shm", O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_NO_SYMLINKS);
    int shm = new_tmpfs(m->size ? m->size : 65536, "1777",
                        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    if (on < 0 || shm < 0 || move_fd(shm, on) < 0) fail(fs, MCPBOX_STAGE_MOUNT_DEV, index);
    close(on);
    close(shm);
    if (set_attr(dev, 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC) < 0)
        fail(fs, MCPBOX_STAGE_MOUNT_DEV, index);
    close(dev);
}

static uint64_t mount_id(int fd) {
    struct statx st;
    if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &st) < 0) return 0;
    return st.stx_mnt_id;
}

/* A synthesized read-only file. In the root tmpfs it becomes read-only with the root;
 * anywhere else (e.g. in a plan tmpfs) it is bound read-only onto itself. */
static void write_file(struct mcpbox_fs *fs, const struct mcpbox_mount *m, int index) {
    const char *name = NULL;
    int parent = open_target(fs, m->target, TARGET_PARENT, &name);
    if (parent < 0) fail(fs, MCPBOX_STAGE_MOUNT_TARGET, index);
    int fd = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0444);
    if (fd < 0) fail(fs, MCPBOX_STAGE_MOUNT_FILE, index);
    size_t off = 0;
    while (off < m->data_len) {
        ssize_t n = write(fd, m->data + off, m->data_len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail(fs, MCPBOX_STAGE_MOUNT_FILE, index);
        off += (size_t)n;
    }
    if (mount_id(fd) != fs->root_mnt_id) {
        int t = sys_open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (t < 0 || set_attr(t, 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV) < 0 ||
            move_fd(t, fd) < 0)
            fail(fs, MCPBOX_STAGE_MOUNT_FILE, index);
        close(t);
    }
    close(fd);
    close(parent);
}

/* Re-opens a bind source in this mount namespace, checks it is the object the parent
 * checked, and returns a detached clone with its mount flags already applied. */
static int clone_source(struct mcpbox_fs *fs, const struct mcpbox_mount *m, int index) {
    int src = open2(AT_FDCWD, m->source, O_PATH | O_CLOEXEC | (m->source_is_dir ? O_DIRECTORY : 0),
                    RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    if (src < 0) fail(fs, MCPBOX_STAGE_MOUNT_SOURCE, index);
    struct stat st;
    if (fstat(src, &st) < 0) fail(fs, MCPBOX_STAGE_MOUNT_SOURCE, index);
    if ((uint64_t)st.st_dev != m->source_dev || (uint64_t)st.st_ino != m->source_ino) {
        errno = ESTALE;
        fail(fs, MCPBOX_STAGE_MOUNT_SOURCE, index);
    }
    int tree = mcpbox_clone_tree(src, m->kind == MCPBOX_MOUNT_BIND_RO);
    if (tree < 0) fail(fs, MCPBOX_STAGE_MOUNT_BIND, index);
    close(src);
    return tree;
}

void mcpbox_prepare_mounts(const struct mcpbox_launch *launch, int error_fd, int *trees) {
    struct mcpbox_fs fs = {.launch = launch, .error_fd = error_fd, .root = -1};
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        fail(&fs, MCPBOX_STAGE_MOUNT_PRIVATE, -1);
    for (size_t i = 0; i < launch->n_mounts; i++) {
        const struct mcpbox_mount *m = &launch->mounts[i];
        trees[i] = -1;
        if (m->kind != MCPBOX_MOUNT_BIND_RO && m->kind != MCPBOX_MOUNT_BIND_RW) continue;
        trees[i] = m->source_tree >= 0 ? m->source_tree : clone_source(&fs, m, (int)i);
    }
}

/* The unique (never reused) id of the mount at "/", 0 when the kernel has none to give. */
static uint64_t root_mount_unique_id(void) {
    struct statx st;
    if (syscall(SYS_statx, AT_FDCWD, "/", 0, MCPBOX_STATX_MNT_ID_UNIQUE, &st) < 0 ||
        !(st.stx_mask & MCPBOX_STATX_MNT_ID_UNIQUE))
        return 0;
    return st.stx_mnt_id;
}

void mcpbox_build_root(const struct mcpbox_launch *launch, int error_fd, const int *trees,
                       mcpbox_detach_fn detach, void *ctx) {
    struct mcpbox_fs fs = {.launch = launch, .error_fd = error_fd, .root = -1, .scratch = -1};
    size_t n = launch->n_mounts;

    fs.root = new_tmpfs(launch->root_size ? launch->root_size : 1 << 20, "0755",
                        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    if (fs.root < 0) fail(&fs, MCPBOX_STAGE_MOUNT_ROOT, -1);
    if (syscall(SYS_move_mount, fs.root, "", AT_FDCWD, "/tmp", MOVE_MOUNT_F_EMPTY_PATH) < 0)
        fail(&fs, MCPBOX_STAGE_MOUNT_ROOT, -1);
    fs.scratch = fs.root;
    size_t first = 0;
    /* A bind of "/" (first in plan order) becomes the root itself: stacked on the root tmpfs,
     * which stays reachable through fs.scratch for the empty file hide masks bind. */
    if (n > 0 && (launch->mounts[0].kind == MCPBOX_MOUNT_BIND_RO ||
                  launch->mounts[0].kind == MCPBOX_MOUNT_BIND_RW) &&
        launch->mounts[0].target[0] == '/' && launch->mounts[0].target[1] == 0) {
        if (move_fd(trees[0], fs.scratch) < 0) fail(&fs, MCPBOX_STAGE_MOUNT_BIND, 0);
        fs.root = trees[0];
        fs.root_is_bind = 1;
        first = 1;
    }
    fs.root_mnt_id = mount_id(fs.root);

    for (size_t i = first; i < n; i++) {
        const struct mcpbox_mount *m = &launch->mounts[i];
        int idx = (int)i;
        int t;
        switch (m->kind) {
        case MCPBOX_MOUNT_BIND_RO:
        case MCPBOX_MOUNT_BIND_RW:
            t = open_target(&fs, m->target, m->source_is_dir ? TARGET_DIR : TARGET_FILE, NULL);
            if (t < 0) fail(&fs, MCPBOX_STAGE_MOUNT_TARGET, idx);
            if (move_fd(trees[i], t) < 0) fail(&fs, MCPBOX_STAGE_MOUNT_BIND, idx);
            close(trees[i]);
            close(t);
            break;
        case MCPBOX_MOUNT_TMPFS: {
            t = open_target(&fs, m->target, TARGET_DIR, NULL);
            if (t < 0) fail(&fs, MCPBOX_STAGE_MOUNT_TARGET, idx);
            int tm = new_tmpfs(m->size ? m->size : 1 << 20, "1777",
                               MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
            if (tm < 0 || move_fd(tm, t) < 0) fail(&fs, MCPBOX_STAGE_MOUNT_TMPFS, idx);
            close(tm);
            close(t);
            break;
        }
        case MCPBOX_MOUNT_PROC:
            t = open_target(&fs, m->target, TARGET_DIR, NULL);
            if (t < 0) fail(&fs, MCPBOX_STAGE_MOUNT_TARGET, idx);
            mount_proc(&fs, t, idx);
            close(t);
            break;
        case MCPBOX_MOUNT_DEV:
            t = open_target(&fs, m->target, TARGET_DIR, NULL);
            if (t < 0) fail(&fs, MCPBOX_STAGE_MOUNT_TARGET, idx);
            mount_dev(&fs, m, t, idx);
            close(t);
            break;
        case MCPBOX_MOUNT_FILE:
            write_file(&fs, m, idx);
            break;
        case MCPBOX_MOUNT_HIDE_DIR:
        case MCPBOX_MOUNT_HIDE_FILE:
            t = open_target(&fs, m->target, TARGET_EXISTING, NULL);
            if (t < 0) fail(&fs, MCPBOX_STAGE_MOUNT_TARGET, idx);
            if ((m->kind == MCPBOX_MOUNT_HIDE_DIR ? mount_empty_dir(t) : bind_empty_file(&fs, t)) < 0)
                fail(&fs, MCPBOX_STAGE_MOUNT_HIDE, idx);
            close(t);
            break;
        case MCPBOX_MOUNT_SYMLINK: {
            const char *name = NULL;
            int parent = open_target(&fs, m->target, TARGET_PARENT, &name);
            if (parent < 0) fail(&fs, MCPBOX_STAGE_MOUNT_TARGET, idx);
            if (symlinkat(m->data, parent, name) < 0) fail(&fs, MCPBOX_STAGE_MOUNT_FILE, idx);
            close(parent);
            break;
        }
        default:
            errno = EINVAL;
            fail(&fs, MCPBOX_STAGE_MOUNT_TARGET, idx);
        }
    }

    if (fs.empty_created && unlinkat(fs.scratch, MCPBOX_EMPTY_NAME, 0) < 0)
        fail(&fs, MCPBOX_STAGE_MOUNT_ROOT, -1);

    /* pivot_root(".", ".") stacks the old root on the new one; detaching "." drops it. */
    uint64_t old_root = detach ? root_mount_unique_id() : 0;
    if (fchdir(fs.root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
        fail(&fs, MCPBOX_STAGE_PIVOT_ROOT, -1);
    if ((detach ? detach(ctx, fs.root, old_root) : umount2(".", MNT_DETACH)) < 0 || chdir("/") < 0)
        fail(&fs, MCPBOX_STAGE_PIVOT_ROOT, -1);
    /* A read-write bind of "/" keeps its mode; everything else makes the root read-only. */
    int rw_root = fs.root_is_bind && launch->mounts[0].kind == MCPBOX_MOUNT_BIND_RW;
    if (set_attr(fs.root, 0, (rw_root ? 0 : MOUNT_ATTR_RDONLY) | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV) < 0)
        fail(&fs, MCPBOX_STAGE_REMOUNT_ROOT, -1);
    if (fs.scratch != fs.root) close(fs.scratch);
    close(fs.root);
}
#endif
