/* The launch: clone into new namespaces, pid 1 (reaper), the server's last steps to execve.
 * See mcpbox_launch.h for the contract and ARCHITECTURE.md, "The launch, step by step". */
#if defined(__linux__)
#include "mcpbox_launch.h"
#include "launch_child.h"
#include "map_helper.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

void mcpbox_child_fail(int error_fd, int stage, int err, int index, int code) {
    struct mcpbox_child_error e = {stage, err, index};
    ssize_t r;
    do { r = write(error_fd, &e, sizeof e); } while (r < 0 && errno == EINTR);
    _exit(code);
}

int mcpbox_exit_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 125;
}

/* Kernel sigaction for rt_sigaction(2) (glibc's wrapper refuses its internal signals). */
struct mcpbox_ksigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

/* All signals blocked/unblocked with rt_sigprocmask(2), internal glibc ones included. */
static int set_all_blocked(int blocked, uint64_t *old) {
    uint64_t set = blocked ? ~(uint64_t)0 : 0;
    return (int)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &set, old, sizeof set);
}

/* capset(2) with every set empty. */
static int drop_all_caps(void) {
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    return (int)syscall(SYS_capset, &hdr, data);
}

/* Sets soft = hard = value. Raising a hard limit needs CAP_SYS_RESOURCE in the initial user
 * namespace, which pid 1 never has: a value above the current hard limit fails with EPERM
 * (the plan builder refuses it first), never silently lowered. */
static int set_limit(int resource, uint64_t value) {
    struct rlimit rl;
    if (getrlimit(resource, &rl) < 0) return -1;
    if (rl.rlim_max != RLIM_INFINITY && value > rl.rlim_max) {
        errno = EPERM;
        return -1;
    }
    rl.rlim_cur = rl.rlim_max = value;
    return setrlimit(resource, &rl);
}

/* Creating a network namespace costs about as much as building the whole filesystem view
 * (sysctl tables, the loopback device). A helper thread of pid 1 (CLONE_VM | CLONE_FILES, its
 * own stack) creates it, brings `lo` up and hands over an fd of it (SIOCGSKNS) while pid 1
 * mounts; pid 1 then joins it with setns.
 *
 * The helper then detaches the old root for pid 1. umount2(MNT_DETACH) detaches at once but
 * returns only after an expedited RCU grace period (namespace_unlock), 1-40 ms here, the
 * longer the busier the host; bwrap waits for two of them. pid 1 goes on meanwhile and, before
 * it forks the server, checks that the old root has left the mount namespace (statmount(2)
 * finds its unique id no more), or else waits for the helper's umount2 to return: nothing of
 * the server runs before the detach, exactly as when pid 1 detached it itself. */
struct net_helper {
    int ready[2];   /* helper -> pid 1: {errno or 0, namespace fd}, then {umount2 errno or 0, -1} */
    int detach[2];  /* pid 1 -> helper: one byte, "detach the old root now" (root_fd, old_root set) */
    pid_t pid;
    int root_fd;    /* the new root (a dup of pid 1's, closed by the helper) */
    int detach_asked, detach_result_read, reaped;
    int spread;         /* the helper is kept off pid 1's CPU (net_helper_spread) */
    cpu_set_t allowed;  /* pid 1's CPUs, given back to the helper when pid 1 waits for it */
    uint64_t old_root;  /* unique mount id of the old root, 0 when unknown */
    const struct mcpbox_launch *launch;
};

static char net_stack[16 * 1024] __attribute__((aligned(64)));

#ifndef SYS_statmount
#define SYS_statmount 457
#endif

/* statmount(2)'s request (Linux 6.8); only the mount id is looked up. */
struct mcpbox_mnt_id_req {
    uint32_t size, spare;
    uint64_t mnt_id, param;
};

/* 1 when mount `id` is in this mount namespace, 0 when it is not, -1 when statmount cannot
 * tell (no such system call, no permission). */
static int mount_present(uint64_t id) {
    struct mcpbox_mnt_id_req req = {.size = sizeof req, .mnt_id = id, .param = 0x1 /* STATMOUNT_SB_BASIC */};
    static char buf[1024] __attribute__((aligned(8)));
    int saved = errno;
    long rc = syscall(SYS_statmount, &req, buf, sizeof buf, 0);
    int e = errno;
    errno = saved;
    if (rc == 0) return 1;
    return e == ENOENT ? 0 : -1;
}

/* Shares pid 1's memory (TLS included, so errno too) and fd table. On its success path it
 * calls only wrappers that leave errno alone when they succeed, so it never changes the errno
 * pid 1 may be reading; on failure it writes errno, and then the launch fails anyway. */
static int net_entry(void *p) {
    struct net_helper *h = p;
    int msg[2] = {0, -1};
    int s = -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
    if (unshare(CLONE_NEWNET) < 0 || (s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
        ioctl(s, SIOCSIFFLAGS, &ifr) < 0 || (h->launch->egress && mcpbox_egress_listeners(h->launch) < 0) ||
        (msg[1] = ioctl(s, SIOCGSKNS)) < 0)
        msg[0] = errno ? errno : EIO;
    if (s >= 0) close(s);
    while (write(h->ready[1], msg, sizeof msg) < 0 && errno == EINTR) {}
    if (msg[0] != 0) _exit(0);
    /* The detach, when pid 1 asks for it (EOF: it never will). "." is the new root, the old
     * one stacked on it: what pid 1's own umount2(".") would detach. */
    char go;
    ssize_t n;
    do { n = read(h->detach[0], &go, 1); } while (n < 0 && errno == EINTR);
    if (n != 1) _exit(0);
    msg[0] = 0;
    msg[1] = -1;
    if (fchdir(h->root_fd) < 0 || umount2(".", MNT_DETACH) < 0) msg[0] = errno ? errno : EIO;
    close(h->root_fd);
    while (write(h->ready[1], msg, sizeof msg) < 0 && errno == EINTR) {}
    _exit(0);
}

/* The helper is there to run beside pid 1, but the scheduler places a new task by the CPUs'
 * recent load, and here it often queued the helper behind pid 1 on pid 1's own CPU while the
 * other stood idle: the namespace was made only once pid 1 blocked waiting for it (pid 1 then
 * waited about 0.7 ms at the join, seen with ftrace). So the helper may not run on pid 1's CPU
 * while pid 1 works, when another CPU is allowed; pid 1 gives it all its CPUs back before it
 * waits for it (net_helper_gather). Only placement: a failure here changes nothing else. */
static void net_helper_spread(struct net_helper *h) {
    cpu_set_t others;
    if (sched_getaffinity(0, sizeof h->allowed, &h->allowed) < 0 || CPU_COUNT(&h->allowed) < 2) return;
    int here = sched_getcpu();
    if (here < 0 || here >= CPU_SETSIZE || !CPU_ISSET(here, &h->allowed)) return;
    others = h->allowed;
    CPU_CLR(here, &others);
    int saved = errno;
    h->spread = sched_setaffinity(h->pid, sizeof others, &others) == 0;
    errno = saved;
}

/* Before pid 1 waits for the helper: every CPU pid 1 may use, its own included. */
static void net_helper_gather(struct net_helper *h) {
    if (!h->spread) return;
    h->spread = 0;
    int saved = errno;
    (void)sched_setaffinity(h->pid, sizeof h->allowed, &h->allowed);
    errno = saved;
}

/* Starts the helper; -1 with errno on failure. */
static int net_helper_start(struct net_helper *h) {
    if (pipe2(h->ready, O_CLOEXEC) < 0) return -1;
    if (pipe2(h->detach, O_CLOEXEC) < 0) return -1;
    h->pid = clone(net_entry, net_stack + sizeof net_stack, CLONE_VM | CLONE_FILES | SIGCHLD, h);
    if (h->pid < 0) return -1;
    net_helper_spread(h);
    return 0;
}

/* Waits for the helper's namespace and joins it; -1 with errno on failure. */
static int net_helper_join(struct net_helper *h) {
    net_helper_gather(h);
    int msg[2] = {EIO, -1};
    ssize_t n;
    do { n = read(h->ready[0], msg, sizeof msg); } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof msg || msg[0] != 0) {
        errno = n == (ssize_t)sizeof msg ? msg[0] : EIO;
        return -1;
    }
    int rc = setns(msg[1], CLONE_NEWNET);
    int saved = errno;
    close(msg[1]);
    errno = saved;
    return rc;
}

/* mcpbox_detach_fn: hands the detach of the old root to the helper. */
static int net_helper_detach(void *p, int root_fd, uint64_t old_root) {
    struct net_helper *h = p;
    /* Only when statmount sees the old root now can its absence later mean it is detached. */
    h->old_root = old_root && mount_present(old_root) == 1 ? old_root : 0;
    h->root_fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
    if (h->root_fd < 0) return -1;
    char go = 'd';
    ssize_t w;
    do { w = write(h->detach[1], &go, 1); } while (w < 0 && errno == EINTR);
    if (w != 1) return -1;
    h->detach_asked = 1;
    return 0;
}

/* The helper's umount2 result: 0, or -1 with errno. */
static int net_helper_result(struct net_helper *h) {
    net_helper_gather(h);
    int msg[2] = {EIO, -1};
    ssize_t n;
    do { n = read(h->ready[0], msg, sizeof msg); } while (n < 0 && errno == EINTR);
    h->detach_result_read = 1;
    if (n != (ssize_t)sizeof msg || msg[0] != 0) {
        errno = n == (ssize_t)sizeof msg ? msg[0] : EIO;
        return -1;
    }
    return 0;
}

/* Returns 0 once the old root is out of the mount namespace: statmount no longer finds it,
 * or the helper's umount2 returned; -1 with errno when the detach failed. */
static int net_helper_detached(struct net_helper *h) {
    if (!h->detach_asked) {
        errno = EINVAL;
        return -1;
    }
    for (int spins = 0; h->old_root; spins++) {
        int present = mount_present(h->old_root);
        if (present == 0) return 0;
        if (present < 0) break;
        struct pollfd p = {.fd = h->ready[0], .events = POLLIN};
        if (poll(&p, 1, spins < 64 ? 0 : 1) > 0) break;
        if (spins < 64) sched_yield();
    }
    return net_helper_result(h);
}

/* Waits for the helper to exit (it shares pid 1's memory, which the reaper releases). */
static void net_helper_finish(struct net_helper *h) {
    if (h->pid <= 0) return;
    if (h->detach_asked && !h->detach_result_read) (void)net_helper_result(h);
    while (waitpid(h->pid, NULL, __WALL) < 0 && errno == EINTR) {}
    close(h->ready[0]);
    close(h->ready[1]);
    close(h->detach[0]);
    close(h->detach[1]);
    h->pid = 0;
}

/* Closes every fd >= 3 except the four given. */
static int keep_only(int a, int b, int c, int d) {
    int k[4] = {a, b, c, d};
    for (int i = 1; i < 4; i++)
        for (int j = i; j > 0 && k[j - 1] > k[j]; j--) { int t = k[j]; k[j] = k[j - 1]; k[j - 1] = t; }
    unsigned int next = 3;
    for (int i = 0; i < 4; i++) {
        if (k[i] < 3 || (unsigned int)k[i] < next) continue;
        if ((unsigned int)k[i] > next && syscall(SYS_close_range, next, (unsigned int)k[i] - 1, 0) < 0) return -1;
        next = (unsigned int)k[i] + 1;
    }
    return (int)syscall(SYS_close_range, next, ~0U, 0);
}

/* The server: last steps before execve. Capabilities are still full inside the user
 * namespace here (pid 1 kept them through its setresuid with SECBIT_NO_SETUID_FIXUP); the
 * bounding set is already empty (pid 1 dropped it before forking). */
__attribute__((noreturn)) static void server_main(const struct mcpbox_launch *L, int efd) {
    struct mcpbox_ksigaction dfl = {0};
    for (int sig = 1; sig <= 64; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);

    if (setsid() < 0) mcpbox_child_fail(efd, MCPBOX_STAGE_SETSID, errno, -1, 125);

    /* Only what the server's start needs stays open: with many fds inherited (a client that
     * leaks them into mcpbox) the lowest free number could lie above the inherited RLIMIT_NOFILE. */
    if (keep_only(L->stdin_fd, L->stdout_fd, L->stderr_fd, efd) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_CLOSE_FDS, errno, -1, 125);
    /* Through fds >= 3 first so that a relay fd already numbered 0-2 is not clobbered. */
    int in = fcntl(L->stdin_fd, F_DUPFD_CLOEXEC, 3);
    int out = fcntl(L->stdout_fd, F_DUPFD_CLOEXEC, 3);
    int err = fcntl(L->stderr_fd, F_DUPFD_CLOEXEC, 3);
    if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_STDIO, errno, -1, 125);
    /* Everything beyond 0-2 closes at execve; the error pipe keeps working until then. */
    if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_CLOSE_FDS, errno, -1, 125);

    if (chdir(L->cwd) < 0) mcpbox_child_fail(efd, MCPBOX_STAGE_CHDIR, errno, -1, 125);
    /* The Landlock rules name paths of the new view: opened here, while the setup's
     * capabilities still reach every one of them; enforced once no_new_privs is set. */
    int ruleset = -1;
    if (L->landlock) {
        int failed = -1;
        ruleset = mcpbox_landlock_prepare(L->landlock, &failed);
        if (ruleset < 0) mcpbox_child_fail(efd, MCPBOX_STAGE_LANDLOCK, errno, failed, 125);
    }

    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_CAPS, errno, -1, 125);
    if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                                     SECBIT_NO_CAP_AMBIENT_RAISE |
                                     SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED, 0, 0, 0) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_SECUREBITS, errno, -1, 125);
    if (drop_all_caps() < 0) mcpbox_child_fail(efd, MCPBOX_STAGE_CAPS, errno, -1, 125);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_NO_NEW_PRIVS, errno, -1, 125);
    if (ruleset >= 0 && mcpbox_landlock_enforce(ruleset) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_LANDLOCK, errno, -1, 125);
    if (set_all_blocked(0, NULL) < 0) mcpbox_child_fail(efd, MCPBOX_STAGE_SIGNALS, errno, -1, 125);
    /* Below the fds still open here is fine: the limit only stops new ones past it. */
    if (L->rlimit_nofile && set_limit(RLIMIT_NOFILE, L->rlimit_nofile) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_RLIMIT, errno, -1, 125);

    /* A kernel without keys (ENOSYS) has no keyring to leave behind. */
    if (L->new_session_keyring && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 && errno != ENOSYS)
        mcpbox_child_fail(efd, MCPBOX_STAGE_KEYRING, errno, -1, 125);

    /* The filter comes last: nothing above needs a syscall it may forbid. */
    if (L->bpf == NULL || L->bpf_len == 0) {
        errno = EINVAL;
        mcpbox_child_fail(efd, MCPBOX_STAGE_SECCOMP, errno, -1, 125);
    }
    struct sock_fprog prog = {.len = L->bpf_len, .filter = (struct sock_filter *)L->bpf};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_SECCOMP, errno, -1, 125);

    execve(L->exec_path, L->argv, L->envp);
    int e = errno;
    mcpbox_child_fail(efd, MCPBOX_STAGE_EXEC, e, -1, e == ENOENT ? 127 : 126);
}

struct server_args {
    const struct mcpbox_launch *launch;
    int error_fd;
};

/* The server's stack while it shares pid 1's memory (CLONE_VM), until its execve. */
static char server_stack[64 * 1024] __attribute__((aligned(64)));

static int server_entry(void *p) {
    const struct server_args *a = p;
    server_main(a->launch, a->error_fd);
}

/* pid 1 of the new pid namespace, from clone to the server's fork. Every signal is blocked
 * (the parent blocked them around clone) and stays blocked: pid 1 takes them with
 * rt_sigtimedwait, so signals from mcpbox are queued rather than dropped by the kernel's
 * protection of a namespace's init. */
__attribute__((noreturn)) static void child_main(const struct mcpbox_launch *L, int sync_fd,
                                                 int efd) {
    struct mcpbox_ksigaction dfl = {0};
    syscall(SYS_rt_sigaction, SIGCHLD, &dfl, NULL, sizeof dfl.mask);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_PDEATHSIG, errno, -1, 125);
    /* cgroup v1: join first, as one thread whose credentials are still mcpbox's (the kernel
     * checks them against the fd's opener), so that everything pid 1 starts is inside. "0" is
     * this thread alone: no global lock, no RCU grace period (a pid or cgroup.procs would wait
     * for one, milliseconds). Then the cgroup namespace, rooted at the groups just joined. */
    if (L->n_cgroup_tasks_fds) {
        for (size_t i = 0; i < L->n_cgroup_tasks_fds; i++) {
            if (pwrite(L->cgroup_tasks_fds[i], "0", 1, 0) != 1)
                mcpbox_child_fail(efd, MCPBOX_STAGE_CGROUP, errno ? errno : EIO, (int)i, 125);
            close(L->cgroup_tasks_fds[i]);
        }
        if ((L->clone_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0)
            mcpbox_child_fail(efd, MCPBOX_STAGE_CGROUP, errno, -1, 125);
    }
    /* For the reaper (reaper.c), which releases the memory it inherited: opened while the
     * parent writes the uid maps, and while mcpbox's /proc is still this process's view; the
     * server never holds it past its keep_only (and it is close-on-exec). */
    int maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    /* The network namespace needs no uid map (the capabilities of the new user namespace are
     * there from its creation): the helper starts while mcpbox writes the maps. */
    struct net_helper net = {.launch = L, .ready = {-1, -1}, .detach = {-1, -1}, .root_fd = -1};
    if (L->new_net && net_helper_start(&net) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_LOOPBACK, errno, -1, 125);
    /* Released once the maps are written; EOF means mcpbox is gone (or gave up). */
    char b;
    ssize_t r;
    do { r = read(sync_fd, &b, 1); } while (r < 0 && errno == EINTR);
    if (r != 1) _exit(125);
    /* This process's copy of mcpbox's command line is what /proc/1/cmdline shows the server. */
    if (L->argv_area) memset(L->argv_area, 0, L->argv_area_len);

    if (L->n_mounts > MCPBOX_MAX_MOUNTS) mcpbox_child_fail(efd, MCPBOX_STAGE_MOUNT_ROOT, E2BIG, -1, 125);
    int trees[L->n_mounts ? L->n_mounts : 1];
    mcpbox_prepare_mounts(L, efd, trees);

    /* Become the sandbox user while keeping the capabilities of the new user namespace:
     * files the setup creates need a mapped owner. */
    if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_IDENTITY_SETUP, errno, -1, 125);
    if (!L->deny_setgroups) {
        gid_t g = L->gid;
        if (syscall(SYS_setgroups, 1, &g) < 0)
            mcpbox_child_fail(efd, MCPBOX_STAGE_SETGROUPS, errno, -1, 125);
    }
    if (syscall(SYS_setresgid, L->gid, L->gid, L->gid) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_SETGID, errno, -1, 125);
    if (syscall(SYS_setresuid, L->uid, L->uid, L->uid) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_SETUID, errno, -1, 125);
    /* A credential change clears the parent-death signal: set it again, then check that
     * mcpbox did not die in between (it holds the sync pipe open for the sandbox's life). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_PDEATHSIG, errno, -1, 125);
    mcpbox_build_root(L, efd, trees, L->new_net ? net_helper_detach : NULL, &net);

    if (L->hostname && sethostname(L->hostname, strlen(L->hostname)) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_HOSTNAME, errno, -1, 125);
    if (L->new_net && net_helper_join(&net) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_LOOPBACK, errno, -1, 125);
    if (L->egress) close(L->egress_fd);

    /* cgroup v2: mcpbox joins pid 1 to its cgroups while the root above is built (a
     * cgroup.procs write may wait for an RCU grace period); a second byte says it is done.
     * Nothing of the server exists before it: the server is forked below, and nothing the
     * server can grow is charged before the join (the setup's own few pages are, like pid 1's,
     * charged where mcpbox runs). */
    if (L->n_cgroup_procs_fds) {
        do { r = read(sync_fd, &b, 1); } while (r < 0 && errno == EINTR);
        if (r != 1) _exit(125);
    }
    struct pollfd pfd = {.fd = sync_fd, .events = POLLIN};
    if (poll(&pfd, 1, 0) != 0) _exit(125);
    close(sync_fd);
    /* The parent-death signal above refers to the relay host when it is the parent: it must
     * not have died before (its end of the host socket closed). */
    if (L->host_parent) {
        struct pollfd hp = {.fd = L->host_fd, .events = POLLRDHUP};
        if (poll(&hp, 1, 0) != 0) _exit(125);
    }
    /* Joined to its cgroups now: root the cgroup namespace there, not at mcpbox's. */
    if (L->n_cgroup_procs_fds && (L->clone_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_CGROUP, errno, -1, 125);

    /* RLIMIT_NOFILE is the server's alone, set just before its filter: the setup's own fds
     * (relay pipes, Landlock paths) must not count against what the profile gives the server. */
    /* 1, not 0: the kernel ignores RLIMIT_CORE 0 for a `|` core_pattern (a host handler would
     * get the crashed server's memory) and skips both kinds of dump at 1 (a file dump needs a
     * page). A server may still lower it to 0 itself: see the README ("Known and accepted"). */
    if (set_limit(RLIMIT_CORE, 1) < 0 ||
        (L->rlimit_nproc && set_limit(RLIMIT_NPROC, L->rlimit_nproc) < 0))
        mcpbox_child_fail(efd, MCPBOX_STAGE_RLIMIT, errno, -1, 125);

    /* Empty the bounding set once, here, for pid 1 and the server alike. */
    for (int cap = 0;; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
        if (errno == EINVAL && cap > 0) break;
        mcpbox_child_fail(efd, MCPBOX_STAGE_CAPS, errno, -1, 125);
    }

    /* vfork-style on a stack of its own: no copy of pid 1's page tables, and pid 1 sleeps
     * until the server has exec'd or failed (glibc's fork() would also run atfork handlers
     * and take malloc locks another thread of mcpbox may have held at the first clone). */
    /* The old root must be gone before anything of the server runs. */
    if (L->new_net && net_helper_detached(&net) < 0)
        mcpbox_child_fail(efd, MCPBOX_STAGE_PIVOT_ROOT, errno, -1, 125);
    /* RLIMIT_NPROC counts the helper too while it lives when it runs as the same host user
     * (the caller's uid, remapped: it was cloned before pid 1's setresuid), so pid 1, the
     * helper and the server would be three: `processes = 2` could never fork the server.
     * With the limit set, the helper is reaped first (its umount2's grace period is then
     * waited for); without it, the server starts while the helper finishes. */
    if (L->new_net && L->rlimit_nproc) net_helper_finish(&net);
    struct server_args args = {L, efd};
    pid_t server = clone(server_entry, server_stack + sizeof server_stack,
                         CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
    if (server < 0) mcpbox_child_fail(efd, MCPBOX_STAGE_FORK_SERVER, errno, -1, 125);
    /* The server has exec'd or failed (CLONE_VFORK), its record written: the error pipe's EOF
     * tells mcpbox now, not after the helper's exit and the reaper's release below. Nothing
     * here writes to it again (the helper shares this fd table and never does). */
    close(efd);
    /* The helper's umount2 may still wait for its grace period: the server runs meanwhile. */
    if (L->new_net) net_helper_finish(&net);
    mcpbox_reaper(server, maps_fd);
}

/* Moves a descriptor to >= 3 (close-on-exec) so dup2 onto 0-2 never clobbers it. */
static int high_fd(int fd) {
    if (fd >= 3) return fd;
    int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return n;
}

int mcpbox_check_source(const char *path, uint64_t *dev, uint64_t *ino, int *is_dir) {
    struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                           .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    if (fd < 0) return -1;
    struct stat st;
    int rc = fstat(fd, &st);
    int saved = errno;
    close(fd);
    if (rc < 0) {
        errno = saved;
        return -1;
    }
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    *is_dir = S_ISDIR(st.st_mode) ? 1 : 0;
    return 0;
}

int mcpbox_clone_source(const char *path, int read_only, uint64_t *dev, uint64_t *ino, int *is_dir) {
    struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                           .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    if (fd < 0) return -1;
    struct stat st;
    int tree = fstat(fd, &st) < 0 ? -1 : mcpbox_clone_tree(fd, read_only);
    int saved = errno;
    close(fd);
    errno = saved;
    if (tree >= 0) {
        *dev = (uint64_t)st.st_dev;
        *ino = (uint64_t)st.st_ino;
        *is_dir = S_ISDIR(st.st_mode) ? 1 : 0;
    }
    return tree;
}

int mcpbox_pipe_cloexec(int fds[2]) {
    if (pipe2(fds, O_CLOEXEC) < 0) return -1;
    fds[0] = high_fd(fds[0]);
    fds[1] = high_fd(fds[1]);
    if (fds[0] < 0 || fds[1] < 0) {
        int saved = errno;
        if (fds[0] >= 0) close(fds[0]);
        if (fds[1] >= 0) close(fds[1]);
        errno = saved;
        return -1;
    }
    return 0;
}

static int write_proc_file(pid_t pid, const char *name, const char *data) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = strlen(data);
    ssize_t n = write(fd, data, len);
    int saved = errno;
    close(fd);
    if (n != (ssize_t)len) {
        errno = n < 0 ? saved : EIO;
        return -1;
    }
    return 0;
}

/* One byte to pid 1's sync pipe. pid 1 may already have failed and closed its end: the EPIPE is
 * reported, never a SIGPIPE to the calling process (a library caller may not ignore it). */
static ssize_t write_sync_byte(int fd, char byte) {
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigset_t pending;
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    ssize_t w;
    do { w = write(fd, &byte, 1); } while (w < 0 && errno == EINTR);
    int saved = errno;
    if (w < 0 && saved == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {}
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return w;
}

static int write_maps(const struct mcpbox_launch *L, pid_t pid) {
    if (L->map_mode == MCPBOX_MAP_NEWUIDMAP)
        return mcpbox_run_map_helper(L->newuidmap_path, pid, L->newuidmap_args, NULL, 0) == 0 &&
                       mcpbox_run_map_helper(L->newgidmap_path, pid, L->newgidmap_args, NULL, 0) == 0
                   ? 0
                   : -1;
    if (L->deny_setgroups && write_proc_file(pid, "setgroups", "deny") < 0) return -1;
    if (write_proc_file(pid, "uid_map", L->uid_map) < 0) return -1;
    return write_proc_file(pid, "gid_map", L->gid_map);
}

int mcpbox_wait_gone(pid_t pid, int pidfd) {
    int status = 0;
    if (pidfd < 0) {
        while (waitpid(pid, &status, 0) < 0) {
            if (errno != EINTR) return 125 << 8;
        }
        return status;
    }
    /* Not this process's child: its pidfd turns readable when it has exited. */
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    while (poll(&p, 1, -1) < 0 && errno == EINTR) {}
    return 125 << 8;
}

int mcpbox_launch_spawn(const struct mcpbox_launch *L, struct mcpbox_spawned *out,
                        struct mcpbox_child_error *failure) {
    int sync_p[2] = {-1, -1}, err_p[2] = {-1, -1};
    failure->index = -1;
    failure->stage = MCPBOX_STAGE_CLONE;
    if (pipe2(sync_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0) {
        failure->err = errno;
        goto close_all;
    }
    for (int i = 0; i < 2; i++) {
        sync_p[i] = high_fd(sync_p[i]);
        err_p[i] = high_fd(err_p[i]);
        if (sync_p[i] < 0 || err_p[i] < 0) {
            failure->err = errno;
            goto close_all;
        }
    }

    uint64_t old_mask;
    set_all_blocked(1, &old_mask);
    /* The network namespace is made by pid 1's helper, in parallel with the mounts. */
    unsigned long flags = (unsigned long)L->clone_flags;
    if (L->new_net) flags &= ~(unsigned long)CLONE_NEWNET;
    /* pid 1 makes its cgroup namespace itself once it has joined its v1 groups. */
    if (L->n_cgroup_tasks_fds) flags &= ~(unsigned long)CLONE_NEWCGROUP;
    /* With a relay host, pid 1 is its child (CLONE_PARENT); a pidfd lets this process wait
     * for it on a failed launch all the same. */
    int pidfd = -1;
    if (L->host_parent) flags |= CLONE_PARENT | CLONE_PIDFD;
    pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, &pidfd, NULL, 0);
    if (pid == 0) {
        close(sync_p[1]);
        close(err_p[0]);
        child_main(L, sync_p[0], err_p[1]);
    }
    int clone_errno = errno;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old_mask, NULL, sizeof old_mask);
    close(sync_p[0]);
    close(err_p[1]);
    sync_p[0] = err_p[1] = -1;
    if (pid < 0) {
        failure->err = clone_errno;
        goto close_all;
    }

    if (write_maps(L, pid) < 0) {
        failure->stage = MCPBOX_STAGE_UID_MAP;
        failure->err = errno;
        goto kill_child;
    }
    ssize_t w;
    w = write_sync_byte(sync_p[1], 'x');
    if (w != 1) {
        failure->stage = MCPBOX_STAGE_SYNC;
        failure->err = errno;
        goto kill_child;
    }
    /* pid 1 builds its root meanwhile and waits for the second byte before it roots its
     * cgroup namespace or forks the server. */
    if (L->n_cgroup_procs_fds) {
        int gone = 0;
        for (size_t i = 0; i < L->n_cgroup_procs_fds; i++) {
            char pidstr[16];
            int len = snprintf(pidstr, sizeof pidstr, "%d", (int)pid);
            if (pwrite(L->cgroup_procs_fds[i], pidstr, (size_t)len, 0) == len) continue;
            /* ESRCH (here) or EPIPE (below): pid 1 already failed, its error is on the error
             * pipe; it never gets the byte. */
            if (errno == ESRCH) {
                gone = 1;
                break;
            }
            failure->stage = MCPBOX_STAGE_CGROUP;
            failure->err = errno;
            goto kill_child;
        }
        if (!gone) {
            w = write_sync_byte(sync_p[1], 'c');
            if (w != 1 && errno != EPIPE) {
                failure->stage = MCPBOX_STAGE_SYNC;
                failure->err = errno;
                goto kill_child;
            }
        }
    }
    out->pid = pid;
    out->error_fd = err_p[0];
    out->sync_fd = sync_p[1];
    out->pidfd = pidfd;
    return 0;

kill_child:
    kill(pid, SIGKILL);
    mcpbox_wait_gone(pid, pidfd);
    if (pidfd >= 0) close(pidfd);
close_all:
    for (int i = 0; i < 2; i++) {
        if (sync_p[i] >= 0) close(sync_p[i]);
        if (err_p[i] >= 0) close(err_p[i]);
    }
    return -1;
}
#endif
