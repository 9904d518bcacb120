/* Egress listeners: made by pid 1's network helper inside the new network namespace, sent to
 * mcpbox over a socketpair (SCM_RIGHTS). mcpbox accepts on them from its own namespace, as
 * the user who started it: the sandbox can reach these listeners and nothing else. */
#if defined(__linux__)
#include "mcpbox_egress.h"
#include "mcpbox_launch.h"
#include "launch_child.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A socket of `type` bound to addr:port (host order), listening when TCP; -1 with errno. */
static int bound_socket(int type, uint32_t addr, uint16_t port) {
    int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(addr);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || (type == SOCK_STREAM && listen(s, 4096) < 0)) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    return s;
}

/* Assigns 198.18.0.1/15 to lo (label lo:1): the whole prefix becomes a local route. */
static int add_fake_range(void) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo:1", 5);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(MCPBOX_EGRESS_FAKE_NET | 1);
    int rc = ioctl(s, SIOCSIFADDR, &ifr);
    if (rc == 0) {
        sin->sin_addr.s_addr = htonl(~0u << (32 - MCPBOX_EGRESS_FAKE_PREFIX));
        rc = ioctl(s, SIOCSIFNETMASK, &ifr);
    }
    int e = errno;
    close(s);
    errno = e;
    return rc;
}

int mcpbox_egress_send(int sock, const int *fds, const char *kinds, int n) {
    if (n <= 0 || n > MCPBOX_EGRESS_MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    union {
        char buf[CMSG_SPACE(sizeof(int) * MCPBOX_EGRESS_MAX_FDS)];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = {.iov_base = (void *)kinds, .iov_len = (size_t)n};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
    ssize_t w;
    do { w = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (w < 0 && errno == EINTR);
    if (w != n) {
        if (w >= 0) errno = EIO;
        return -1;
    }
    return 0;
}

int mcpbox_egress_listeners(const struct mcpbox_launch *L) {
    int fds[MCPBOX_EGRESS_MAX_FDS];
    char kinds[MCPBOX_EGRESS_MAX_FDS];
    int n = 0, rc, e;
    if (L->n_egress_capture_ports > MCPBOX_EGRESS_MAX_CAPTURE) {
        errno = E2BIG;
        return -1;
    }
    if (add_fake_range() < 0) return -1;
    int fd = bound_socket(SOCK_STREAM, INADDR_LOOPBACK, L->egress_proxy_port);
    if (fd < 0) return -1;
    fds[n] = fd;
    kinds[n++] = MCPBOX_EGRESS_PROXY;
    fd = bound_socket(SOCK_DGRAM, INADDR_LOOPBACK, 53);
    if (fd < 0) goto fail;
    fds[n] = fd;
    kinds[n++] = MCPBOX_EGRESS_DNS;
    fd = bound_socket(SOCK_STREAM, INADDR_LOOPBACK, 53);
    if (fd < 0) goto fail;
    fds[n] = fd;
    kinds[n++] = MCPBOX_EGRESS_DNS_TCP;
    for (size_t i = 0; i < L->n_egress_capture_ports; i++) {
        fd = bound_socket(SOCK_STREAM, INADDR_ANY, L->egress_capture_ports[i]);
        if (fd < 0) goto fail;
        fds[n] = fd;
        kinds[n++] = MCPBOX_EGRESS_CAPTURE;
    }

    rc = mcpbox_egress_send(L->egress_fd, fds, kinds, n);
    e = errno;
    for (int i = 0; i < n; i++) close(fds[i]);
    errno = e;
    return rc;
fail:
    e = errno;
    for (int i = 0; i < n; i++) close(fds[i]);
    errno = e;
    return -1;
}

static int high_fd(int fd) {
    if (fd >= 3) return fd;
    int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return n;
}

int mcpbox_egress_socketpair(int fds[2]) {
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0) return -1;
    fds[0] = high_fd(fds[0]);
    fds[1] = high_fd(fds[1]);
    if (fds[0] < 0 || fds[1] < 0) {
        int e = errno;
        if (fds[0] >= 0) close(fds[0]);
        if (fds[1] >= 0) close(fds[1]);
        errno = e;
        return -1;
    }
    return 0;
}

int mcpbox_egress_receive(int sock, int *fds, char *kinds, int max) {
    if (max > MCPBOX_EGRESS_MAX_FDS) max = MCPBOX_EGRESS_MAX_FDS;
    union {
        char buf[CMSG_SPACE(sizeof(int) * MCPBOX_EGRESS_MAX_FDS)];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = {.iov_base = kinds, .iov_len = (size_t)max};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    ssize_t r;
    do { r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (r < 0 && errno == EINTR);
    if (r < 0) return -1;
    int got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int tmp[MCPBOX_EGRESS_MAX_FDS];
        if (count > MCPBOX_EGRESS_MAX_FDS) count = MCPBOX_EGRESS_MAX_FDS;
        memcpy(tmp, CMSG_DATA(c), sizeof(int) * (size_t)count);
        for (int i = 0; i < count; i++) {
            if (got < max && got < r) fds[got++] = tmp[i];
            else close(tmp[i]);
        }
    }
    if (r == 0) return 0;
    if (got != r || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        for (int i = 0; i < got; i++) close(fds[i]);
        errno = EPROTO;
        return -1;
    }
    return got;
}
long mcpbox_egress_unsent(int fd) {
    int n = 0;
    return ioctl(fd, SIOCOUTQ, &n) < 0 ? -1 : n;
}

long mcpbox_egress_splice(int in, int out, unsigned long len) {
    return (long)splice(in, NULL, out, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}
#endif
