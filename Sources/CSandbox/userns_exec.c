/* mcpbox_userns_spawn: see mcpbox_userns.h. Between clone and execve the child is a copy of one
 * thread of a multi-threaded process: raw syscalls only (no malloc, no stdio, no glibc set*id
 * broadcast). */
#if defined(__linux__)
#include "mcpbox_userns.h"
#include "map_helper.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct userns_error {
    int32_t stage;
    int32_t err;
};

/* Kernel sigaction for rt_sigaction(2). */
struct userns_ksigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

/* `fd` moved to a number >= 3 (close-on-exec): stdio's numbers stay free for the child. */
static int high_fd(int fd) {
    if (fd >= 3) return fd;
    int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return n;
}

__attribute__((noreturn)) static void child_fail(int efd, int stage, int err) {
    struct userns_error e = {stage, err};
    ssize_t r;
    do { r = write(efd, &e, sizeof e); } while (r < 0 && errno == EINTR);
    _exit(125);
}

__attribute__((noreturn)) static void child_main(const struct mcpbox_userns_exec *x, int sync_fd,
                                                 int efd, pid_t parent) {
    char byte;
    ssize_t n;
    do { n = read(sync_fd, &byte, 1); } while (n < 0 && errno == EINTR);
    if (n != 1) _exit(125); /* the parent gave up (its maps failed): it reports why */
    close(sync_fd);

    /* The namespace maps 0 to a subordinate id of the caller's: none of the caller's
     * supplementary groups goes along. */
    if (syscall(SYS_setgroups, 0, NULL) < 0) child_fail(efd, MCPBOX_USERNS_IDENTITY, errno);
    if (syscall(SYS_setresgid, 0, 0, 0) < 0) child_fail(efd, MCPBOX_USERNS_IDENTITY, errno);
    if (syscall(SYS_setresuid, 0, 0, 0) < 0) child_fail(efd, MCPBOX_USERNS_IDENTITY, errno);
    /* After the id change (which clears it), and checked against a parent already gone. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) child_fail(efd, MCPBOX_USERNS_PDEATHSIG, errno);
    if (getppid() != parent) _exit(125);
    if (setsid() < 0) child_fail(efd, MCPBOX_USERNS_SETSID, errno);

    /* Through fds >= 3 first so that an fd already numbered 0-2 is not clobbered. */
    int in = fcntl(x->stdin_fd, F_DUPFD_CLOEXEC, 3);
    int out = fcntl(x->stdout_fd, F_DUPFD_CLOEXEC, 3);
    int err = fcntl(x->stderr_fd, F_DUPFD_CLOEXEC, 3);
    if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        child_fail(efd, MCPBOX_USERNS_STDIO, errno);
    /* Everything beyond 0-2 closes at execve; the error pipe keeps working until then. */
    if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) child_fail(efd, MCPBOX_USERNS_STDIO, errno);

    struct userns_ksigaction dfl = {0};
    for (int sig = 1; sig <= 64; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
    uint64_t none = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);

    execve(x->path, x->argv, x->envp);
    child_fail(efd, MCPBOX_USERNS_EXEC, errno);
}

int mcpbox_userns_spawn(const struct mcpbox_userns_exec *x, pid_t *pid, int *stage, int *err,
                        char *map_error, size_t map_error_len) {
    int sync_p[2] = {-1, -1}, err_p[2] = {-1, -1};
    if (map_error_len) map_error[0] = 0;
    if (pipe2(sync_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0) {
        *stage = MCPBOX_USERNS_PIPE;
        *err = errno;
        goto close_all;
    }
    for (int i = 0; i < 2; i++) {
        sync_p[i] = high_fd(sync_p[i]);
        err_p[i] = high_fd(err_p[i]);
        if (sync_p[i] < 0 || err_p[i] < 0) {
            *stage = MCPBOX_USERNS_PIPE;
            *err = errno;
            goto close_all;
        }
    }
    pid_t parent = getpid();
    /* Every signal blocked across clone: no handler of mcpbox's runs in the child. */
    uint64_t all = ~(uint64_t)0, old;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof all);
    pid_t child = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
    if (child == 0) {
        close(sync_p[1]);
        close(err_p[0]);
        child_main(x, sync_p[0], err_p[1], parent);
    }
    int clone_errno = errno;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof old);
    close(sync_p[0]);
    close(err_p[1]);
    sync_p[0] = err_p[1] = -1;
    if (child < 0) {
        *stage = MCPBOX_USERNS_CLONE;
        *err = clone_errno;
        goto close_all;
    }
    int rc = mcpbox_run_map_helper(x->newuidmap_path, child, x->uid_map_args, map_error, map_error_len);
    if (rc != 0) {
        *stage = MCPBOX_USERNS_UID_MAP;
        *err = rc;
        goto kill_child;
    }
    rc = mcpbox_run_map_helper(x->newgidmap_path, child, x->gid_map_args, map_error, map_error_len);
    if (rc != 0) {
        *stage = MCPBOX_USERNS_GID_MAP;
        *err = rc;
        goto kill_child;
    }
    ssize_t w;
    do { w = write(sync_p[1], "x", 1); } while (w < 0 && errno == EINTR);
    if (w != 1) {
        *stage = MCPBOX_USERNS_SYNC;
        *err = errno;
        goto kill_child;
    }
    close(sync_p[1]);
    sync_p[1] = -1;
    /* EOF without a report: execve closed the pipe. */
    struct userns_error e;
    ssize_t r;
    do { r = read(err_p[0], &e, sizeof e); } while (r < 0 && errno == EINTR);
    close(err_p[0]);
    err_p[0] = -1;
    if (r == 0) {
        *pid = child;
        return 0;
    }
    *stage = r == (ssize_t)sizeof e ? e.stage : MCPBOX_USERNS_SYNC;
    *err = r == (ssize_t)sizeof e ? e.err : EIO;
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
    return -1;

kill_child:
    kill(child, SIGKILL);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
close_all:
    for (int i = 0; i < 2; i++) {
        if (sync_p[i] >= 0) close(sync_p[i]);
        if (err_p[i] >= 0) close(err_p[i]);
    }
    return -1;
}
#endif
