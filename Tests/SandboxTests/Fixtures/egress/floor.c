/* The floor of an egress relay (scripts/bench-egress): the topology of mcpbox's proxy, none of
 * its work. Listens on 127.0.0.1:PORT inside the network namespace NETNS (made there through
 * setns, then back: the relay itself runs in this process's own namespace, like mcpbox), takes
 * one connection, reads its request head without judging it (a CONNECT), connects to
 * UPSTREAM:UPORT, answers 200 and moves bytes both ways with blocking splice() through a 1 MiB
 * pipe per direction, one thread each (no poll, no parsing, no log, no limits).
 * Usage: floor NETNS PORT UPSTREAM_IPV4 UPORT          prints "ready" once listening */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) {
    perror(what);
    exit(1);
}

struct leg { int from, to; };

static void *pump(void *arg) {
    struct leg *l = arg;
    int p[2];
    if (pipe(p) < 0) die("pipe");
    fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
    for (;;) {
        ssize_t n = splice(l->from, NULL, p[1], NULL, 1 << 20, SPLICE_F_MOVE);
        if (n <= 0) break;
        while (n > 0) {
            ssize_t m = splice(p[0], NULL, l->to, NULL, (size_t)n, SPLICE_F_MOVE);
            if (m <= 0) return NULL;
            n -= m;
        }
    }
    shutdown(l->to, SHUT_WR);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: floor NETNS PORT UPSTREAM_IPV4 UPORT\n");
        return 2;
    }
    int own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (own < 0 || target < 0) die("open netns");
    if (setns(target, CLONE_NEWNET) < 0) die("setns");
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    if (l >= 0) setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 16) < 0) die("listen");
    if (setns(own, CLONE_NEWNET) < 0) die("setns back");
    printf("ready\n");
    fflush(stdout);

    int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) die("accept");
    char head[16384];
    size_t got = 0;
    while (got < sizeof head - 1) {
        ssize_t n = recv(c, head + got, sizeof head - 1 - got, 0);
        if (n <= 0) die("request head");
        got += (size_t)n;
        head[got] = 0;
        if (strstr(head, "\r\n\r\n")) break;
    }
    char *rest = strstr(head, "\r\n\r\n");
    if (!rest) die("request head too long");
    rest += 4;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int u = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in ua = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[4]))};
    if (u < 0 || inet_pton(AF_INET, argv[3], &ua.sin_addr) != 1) die("upstream address");
    if (connect(u, (struct sockaddr *)&ua, sizeof ua) < 0) die("connect");
    setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    if (send(c, ok, sizeof ok - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof ok - 1)) die("answer");
    size_t early = got - (size_t)(rest - head);
    if (early && send(u, rest, early, MSG_NOSIGNAL) != (ssize_t)early) die("forward");

    struct leg up = {c, u}, down = {u, c};
    pthread_t t;
    if (pthread_create(&t, NULL, pump, &up) != 0) die("thread");
    pump(&down);
    pthread_join(t, NULL);
    return 0;
}
