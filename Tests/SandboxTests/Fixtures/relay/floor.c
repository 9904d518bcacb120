/* The benchmark's floor (scripts/bench-relay, mode `floor`): the least any relay process can be,
 * a plain C loop over two default-size pipes. `floor [--splice] -- COMMAND...` runs COMMAND with
 * its stdin and stdout on pipes and moves the bytes with blocking poll() and non-blocking
 * read()/write() (or splice() with --splice; a direction waits for room in its destination
 * before reading more, so neither side can deadlock the other); stderr is inherited. No signals,
 * limits or sandbox. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct dir { int src, dst; char buf[1 << 16]; size_t off, len; int open; };

/* Moves what it can; 0 when the direction is over. */
static int move(struct dir *d, int use_splice) {
    if (use_splice) {
        ssize_t n = splice(d->src, NULL, d->dst, NULL, 1 << 20, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n < 0 && errno == EAGAIN) { d->len = 1; return 1; }   /* wait for room in dst */
        d->len = 0;
        return n > 0;
    }
    if (d->len == 0) {
        ssize_t n = read(d->src, d->buf, sizeof d->buf);
        if (n < 0 && errno == EAGAIN) return 1;
        if (n <= 0) return 0;
        d->off = 0;
        d->len = (size_t)n;
    }
    while (d->off < d->len) {
        ssize_t m = write(d->dst, d->buf + d->off, d->len - d->off);
        if (m < 0 && errno == EAGAIN) return 1;
        if (m <= 0) return 0;
        d->off += (size_t)m;
    }
    d->len = 0;
    return 1;
}

int main(int argc, char **argv) {
    int use_splice = argc > 1 && !strcmp(argv[1], "--splice");
    int at = 1 + use_splice;
    if (at < argc && !strcmp(argv[at], "--")) at++;
    if (at >= argc) return 2;
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) return 125;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execv(argv[at], argv + at);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    static struct dir d[2];
    d[0] = (struct dir){.src = 0, .dst = in[1], .open = 1};
    d[1] = (struct dir){.src = out[0], .dst = 1, .open = 1};
    for (int i = 0; i < 2; i++) {
        fcntl(d[i].src, F_SETFL, fcntl(d[i].src, F_GETFL) | O_NONBLOCK);
        fcntl(d[i].dst, F_SETFL, fcntl(d[i].dst, F_GETFL) | O_NONBLOCK);
    }
    while (d[1].open) {
        struct pollfd pfd[2];
        for (int i = 0; i < 2; i++)
            pfd[i] = d[i].len ? (struct pollfd){.fd = d[i].dst, .events = POLLOUT}
                              : (struct pollfd){.fd = d[i].open ? d[i].src : -1, .events = POLLIN};
        if (poll(pfd, 2, -1) < 0) continue;
        for (int i = 0; i < 2; i++)
            if (pfd[i].revents && !move(&d[i], use_splice)) {
                d[i].open = 0;
                if (i == 0) close(in[1]);
            }
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
