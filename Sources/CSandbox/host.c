/* The relay host: see include/mcpbox_host.h. No stdio and no malloc in the host: what it
 * touches is what it keeps resident for the whole session. */
#include "mcpbox_host.h"
#if defined(__linux__)
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int host_fd = -1;
static pid_t host_pid = 0;

int mcpbox_host_socket(void) { return host_fd; }

pid_t mcpbox_host_pid(void) { return host_pid; }

enum host_kind { HOST_HANDOFF = 1, HOST_PROXY = 2 };

struct host_msg {
    int kind;
    pid_t child;
    double grace_seconds;
    double wall_time_seconds;
    int n_cgroups;
    char cgroups[MCPBOX_HOST_MAX_CGROUPS][MCPBOX_HOST_CGROUP_PATH];
};

/* `run` that will launch: not --dry-run and not a help request (those stay one process). */
static int launches(int argc, char **argv) {
    if (argc < 2 || !argv[1] || strcmp(argv[1], "run") != 0) return 0;
    for (int i = 2; i < argc && argv[i]; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "--dry-run") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 0;
    }
    return 1;
}

static pid_t worker_pid;

/* SIGCHLD after the handoff: the worker exits right after it (and pid 1 is the relay's). */
static void reap_worker(int sig) {
    (void)sig;
    int saved = errno;
    while (waitpid(worker_pid, NULL, WNOHANG) < 0 && errno == EINTR) {}
    errno = saved;
}

/* Exits as the worker did: its exit code, or the signal that killed it. */
__attribute__((noreturn)) static void exit_as_worker(int wfd) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    while (waitid((idtype_t)P_PIDFD, (id_t)wfd, &info, WEXITED) < 0 && errno == EINTR) {}
    if (info.si_code == CLD_EXITED) _exit(info.si_status & 0xff);
    int sig = info.si_status;
    if (info.si_code != CLD_KILLED && info.si_code != CLD_DUMPED) _exit(125);
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    kill(getpid(), sig);
    _exit(128 + sig);
}

/* The worker relays itself: stdio is its alone (a client waits for EOF on stdout from every
 * writer), and signals sent to mcpbox go on to it. */
__attribute__((noreturn)) static void proxy(int wfd) {
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd <= 2; fd++) {
        if (null >= 0) dup2(null, fd);
        else close(fd);
    }
    if (null > 2) close(null);
    sigset_t set;
    mcpbox_relay_block_forwarded(&set);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    for (;;) {
        struct pollfd p[2] = {{.fd = wfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR) exit_as_worker(wfd);
        if (p[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) kill(worker_pid, (int)si.ssi_signo);
        }
        if (p[0].revents) exit_as_worker(wfd);
    }
}

/* Receives one message and up to three fds; returns its size (0 at EOF) or -1. */
static ssize_t receive(int sock, struct host_msg *m, int fds[3], int *nfds) {
    union {
        char buf[CMSG_SPACE(3 * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec v = {m, sizeof *m};
    struct msghdr h = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
    ssize_t n;
    do n = recvmsg(sock, &h, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
    *nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (*nfds < 3) fds[(*nfds)++] = fd;
            else close(fd);
        }
    }
    return n;
}

/* The worker's handoff: relay, remove the cgroups once pid 1 is reaped, exit with its status. */
__attribute__((noreturn)) static void relay(const struct host_msg *m, const int fds[3]) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = reap_worker;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    /* A client may start mcpbox with SIGCHLD blocked (the mask is inherited): the worker would
     * stay a zombie in the client's process group, which the Python SDK waits to see empty. */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_UNBLOCK, &chld, NULL);
    reap_worker(SIGCHLD);
    struct mcpbox_relay_config c = {
        .client_in = 0, .client_out = 1, .client_err = 2,
        .server_in = fds[0], .server_out = fds[1], .server_err = fds[2],
        .child = m->child, .grace_seconds = m->grace_seconds,
        .wall_time_seconds = m->wall_time_seconds, .filter = NULL,
    };
    int status = mcpbox_relay_run(&c);
    /* The groups are empty once pid 1 is reaped (the pid namespace is gone); a removal may
     * still see EBUSY for a moment. */
    for (int i = m->n_cgroups - 1; i >= 0; i--) {
        for (int tries = 0; tries < 100; tries++) {
            if (rmdir(m->cgroups[i]) == 0 || errno == ENOENT || errno != EBUSY) break;
            usleep(1000);
        }
    }
    _exit(status);
}

__attribute__((noreturn)) static void host_main(int sock, int wfd) {
    int sock_open = 1;
    for (;;) {
        struct pollfd p[2] = {{.fd = wfd, .events = POLLIN}, {.fd = sock, .events = POLLIN}};
        if (poll(p, sock_open ? 2 : 1, -1) < 0) {
            if (errno == EINTR) continue;
            exit_as_worker(wfd);
        }
        if (sock_open && p[1].revents) {
            struct host_msg m;
            int fds[3], nfds;
            ssize_t n = receive(sock, &m, fds, &nfds);
            if (n == (ssize_t)sizeof m && m.kind == HOST_HANDOFF && nfds == 3 && m.child > 0 &&
                m.n_cgroups >= 0 && m.n_cgroups <= MCPBOX_HOST_MAX_CGROUPS) {
                close(sock);
                close(wfd);
                for (int i = 0; i < m.n_cgroups; i++) m.cgroups[i][MCPBOX_HOST_CGROUP_PATH - 1] = 0;
                relay(&m, fds);
            }
            for (int i = 0; i < nfds; i++) close(fds[i]);
            if (n == (ssize_t)sizeof m && m.kind == HOST_PROXY) {
                close(sock);
                proxy(wfd);
            }
            if (n <= 0 && !(n < 0 && errno == EAGAIN)) sock_open = 0;
            continue;
        }
        if (p[0].revents) exit_as_worker(wfd);
    }
}

void mcpbox_host_start(int argc, char **argv) {
    if (!launches(argc, argv)) return;
    /* A closed 0-2 would be taken by the next open (the socket as "stdin"): /dev/null, as the
     * worker's Swift start-up would do. */
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0) return;
    /* pid 1 becomes this process's child: an ignored SIGCHLD (inherited from the client) would
     * have the kernel reap it before the relay reads its status. The worker keeps the default
     * too, for the pid 1 it relays itself. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &dfl, NULL);
    sigset_t old, set;
    sigprocmask(SIG_BLOCK, NULL, &old);
    mcpbox_relay_block_forwarded(&set);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        return;
    }
    pid_t host = getpid();
    pid_t worker = fork();
    if (worker == 0) {
        close(sv[0]);
        /* The worker dies with the host, and does nothing once the host is gone. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != host) _exit(125);
        host_fd = sv[1];
        host_pid = host;
        sigprocmask(SIG_SETMASK, &old, NULL);
        return;
    }
    int wfd = worker > 0 ? (int)syscall(SYS_pidfd_open, worker, 0) : -1;
    if (wfd < 0) {
        /* No host: this process runs mcpbox itself, as it would without one. */
        if (worker > 0) {
            kill(worker, SIGKILL);
            while (waitpid(worker, NULL, 0) < 0 && errno == EINTR) {}
        }
        close(sv[0]);
        close(sv[1]);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return;
    }
    close(sv[1]);
    worker_pid = worker;
    host_main(sv[0], wfd);
}

int mcpbox_host_handoff(const struct mcpbox_relay_config *config, const char *const *cgroup_dirs,
                        int n_cgroup_dirs) {
    if (host_fd < 0 || n_cgroup_dirs < 0 || n_cgroup_dirs > MCPBOX_HOST_MAX_CGROUPS) {
        errno = EINVAL;
        return -1;
    }
    struct host_msg m;
    memset(&m, 0, sizeof m);
    m.kind = HOST_HANDOFF;
    m.child = config->child;
    m.grace_seconds = config->grace_seconds;
    m.wall_time_seconds = config->wall_time_seconds;
    m.n_cgroups = n_cgroup_dirs;
    for (int i = 0; i < n_cgroup_dirs; i++) {
        size_t len = strlen(cgroup_dirs[i]);
        if (len >= MCPBOX_HOST_CGROUP_PATH) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(m.cgroups[i], cgroup_dirs[i], len + 1);
    }
    int fds[3] = {config->server_in, config->server_out, config->server_err};
    union {
        char buf[CMSG_SPACE(sizeof fds)];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct iovec v = {&m, sizeof m};
    struct msghdr h = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    ssize_t n;
    do n = sendmsg(host_fd, &h, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof m) {
        if (n >= 0) errno = EMSGSIZE;
        return -1;
    }
    return 0;
}

void mcpbox_host_proxy(void) {
    if (host_fd < 0) return;
    struct host_msg m;
    memset(&m, 0, sizeof m);
    m.kind = HOST_PROXY;
    while (send(host_fd, &m, sizeof m, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
    close(host_fd);
    host_fd = -1;
}
#endif
