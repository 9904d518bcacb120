/* Egress (`[network] mode = "allow"`): the listening sockets made inside the sandbox's network
 * namespace and handed to mcpbox, which serves them from outside (see MCPBoxNetwork). */
#ifndef MCPBOX_EGRESS_H
#define MCPBOX_EGRESS_H
#if defined(__linux__)
#include <stdint.h>

/* Most capture ports, and most sockets one launch hands over (proxy, DNS, captures). */
#define MCPBOX_EGRESS_MAX_CAPTURE 32
#define MCPBOX_EGRESS_MAX_FDS (3 + MCPBOX_EGRESS_MAX_CAPTURE)

/* The fake addresses the DNS stub answers with: 198.18.0.0/15 (RFC 2544 benchmarking range),
 * assigned to `lo` as a prefix, which makes the whole range local: connect() to any address
 * in it reaches the capture listener of its port. 198.18.0.1 is lo's own. */
#define MCPBOX_EGRESS_FAKE_NET 0xC6120000u   /* 198.18.0.0 */
#define MCPBOX_EGRESS_FAKE_PREFIX 15

/* Kinds of socket handed over, one letter each, in the order of the fds. */
#define MCPBOX_EGRESS_PROXY 'P'   /* TCP listener, 127.0.0.1:proxy_port: the HTTP proxy */
#define MCPBOX_EGRESS_DNS 'D'     /* UDP socket, 127.0.0.1:53: the DNS stub */
#define MCPBOX_EGRESS_DNS_TCP 'T' /* TCP listener, 127.0.0.1:53: the DNS stub over TCP */
#define MCPBOX_EGRESS_CAPTURE 'C' /* TCP listener, 0.0.0.0:PORT: transparent capture */
#define MCPBOX_EGRESS_FORWARDED 'U' /* Unix listener: captures forwarded from inside gVisor */

/* socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC) with both ends moved to fds >= 3;
 * fds[0] stays in mcpbox, fds[1] goes to the child (struct mcpbox_launch.egress_fd). */
int mcpbox_egress_socketpair(int fds[2]);

/* Sends `n` descriptors with their kind letters in one message (SCM_RIGHTS); 0, or -1 with
 * errno. The sender keeps (and closes) its copies. */
int mcpbox_egress_send(int sock, const int *fds, const char *kinds, int n);

/* Parent side: receives one message of up to MCPBOX_EGRESS_MAX_FDS descriptors (SCM_RIGHTS)
 * with their kind letters. Returns how many (kinds[i] names fds[i]), 0 when the child closed
 * its end without sending, or -1 with errno. Received fds are close-on-exec. */
int mcpbox_egress_receive(int sock, int *fds, char *kinds, int max);

/* The proxy's byte loop (mcpbox side): splice(in, NULL, out, NULL, len,
 * SPLICE_F_MOVE | SPLICE_F_NONBLOCK), one of the two ends a pipe; bytes moved or -1 with errno. */
long mcpbox_egress_splice(int in, int out, unsigned long len);

/* Bytes in a TCP socket's send queue, not yet acknowledged (SIOCOUTQ); -1 with errno. */
long mcpbox_egress_unsent(int fd);

#endif
#endif
