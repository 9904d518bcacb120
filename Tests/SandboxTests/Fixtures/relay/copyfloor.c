/* scripts/bench-copy-floor: what a relay that must read (judge) every byte it forwards can cost
 * at best, by design. `copyfloor MODE MIB` moves MIB MiB from a writer process (1 MiB write()s
 * into a 1 MiB pipe, as a server writes into mcpbox's server pipe) to a reader process (64 KiB
 * read()s from a default 64 KiB pipe, as a client reads) through this process, and prints
 * "MODE MiB/s relay-CPU-ms-per-GiB". Modes:
 *   splice    splice() pipe to pipe: nothing copied, nothing read (mcpbox's plain relay)
 *   rw        read() into a reused buffer, memchr over it, write() (the MCP layer's way)
 *   vmsplice  read() into fresh pages, memchr, vmsplice() them to the reader's pipe, then drop
 *             them (MADV_DONTNEED): one copy, but a new zeroed page for every page forwarded
 *   memfd     splice() into a memfd (the kernel copies into its pages), memchr over a mapping,
 *             splice() to the reader's pipe (pages move by reference), punch the range out
 *   tee       tee() into a private pipe, read() from it into a reused buffer, memchr, then
 *             splice() the same bytes from the writer's pipe to the reader's: one copy, no new
 *             page (the MCP layer's way for the client's bytes)
 * vmsplice and memfd are safe whoever the writer is; tee only when the writer cannot reach its
 * pipe's pages (a page of its own memory by vmsplice, a file's, the pipe reopened for reading,
 * a packet): the pages forwarded are then the ones judged. Each mode checks it delivered every
 * byte. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)
#define WINDOW (1L << 30)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_self(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

/* Writes all of [p, p+n) to fd with vmsplice (pages by reference). */
static void vmsplice_all(int fd, char *p, size_t n) {
    struct iovec v = {p, n};
    while (v.iov_len) {
        ssize_t m = vmsplice(fd, &v, 1, 0);
        if (m <= 0) die("vmsplice");
        v.iov_base = (char *)v.iov_base + m;
        v.iov_len -= (size_t)m;
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: copyfloor splice|rw|vmsplice|memfd|tee MIB\n");
        return 2;
    }
    const char *mode = argv[1];
    long total = atol(argv[2]) << 20;
    int a[2], b[2];
    if (pipe(a) < 0 || pipe(b) < 0) die("pipe");
    fcntl(a[1], F_SETPIPE_SZ, 1 << 20);
    if (!fork()) {
        close(a[0]);
        close(b[0]);
        close(b[1]);
        char *buf = malloc(1 << 20);
        memset(buf, 'x', 1 << 20);
        for (long s = 0; s < total;) {
            ssize_t n = write(a[1], buf, 1 << 20);
            if (n <= 0) _exit(1);
            s += n;
        }
        _exit(0);
    }
    if (!fork()) {
        close(a[0]);
        close(a[1]);
        close(b[1]);
        char *buf = malloc(1 << 16);
        long s = 0;
        ssize_t n;
        while ((n = read(b[0], buf, 1 << 16)) > 0) {
            if (memchr(buf, 'x', (size_t)n) != buf) _exit(3);
            s += n;
        }
        _exit(s == total ? 0 : 2);
    }
    close(a[1]);
    close(b[0]);
    char *j = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int mfd = -1;
    char *win = NULL;
    loff_t at = 0;
    if (!strcmp(mode, "memfd")) {
        mfd = memfd_create("copyfloor", 0);
        if (mfd < 0 || ftruncate(mfd, WINDOW) < 0) die("memfd");
        win = mmap(NULL, WINDOW, PROT_READ, MAP_SHARED, mfd, 0);
        if (win == MAP_FAILED) die("mmap");
    }
    int tp[2] = {-1, -1};
    if (!strcmp(mode, "tee")) {
        if (pipe(tp) < 0) die("pipe");
        fcntl(tp[1], F_SETPIPE_SZ, CHUNK);
    }
    volatile size_t seen = 0;
    double c0 = cpu_self(), t0 = now();
    for (;;) {
        ssize_t n;
        if (!strcmp(mode, "splice")) {
            n = splice(a[0], NULL, b[1], NULL, CHUNK, SPLICE_F_MOVE);
            if (n < 0) die("splice");
            if (n == 0) break;
            continue;
        }
        if (mfd >= 0) {
            if (at + CHUNK > WINDOW) at = 0;
            loff_t o = at;
            n = splice(a[0], NULL, mfd, &o, CHUNK, SPLICE_F_MOVE);
            if (n < 0) die("splice in");
            if (n == 0) break;
            seen += (size_t)(memchr(win + at, '\n', (size_t)n) == NULL);
            o = at;
            for (ssize_t left = n; left > 0;) {
                ssize_t m = splice(mfd, &o, b[1], NULL, (size_t)left, SPLICE_F_MOVE);
                if (m <= 0) die("splice out");
                left -= m;
            }
            long span = (n + 4095) & ~4095L;
            if (fallocate(mfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, span) < 0) die("fallocate");
            at += span;
            continue;
        }
        if (tp[0] >= 0) {
            n = tee(a[0], tp[1], CHUNK, 0);
            if (n < 0) die("tee");
            if (n == 0) break;
            for (ssize_t o = 0; o < n;) {
                ssize_t m = read(tp[0], j + o, (size_t)(n - o));
                if (m <= 0) die("read");
                o += m;
            }
            seen += (size_t)(memchr(j, '\n', (size_t)n) == NULL);
            for (ssize_t left = n; left > 0;) {
                ssize_t m = splice(a[0], NULL, b[1], NULL, (size_t)left, SPLICE_F_MOVE);
                if (m <= 0) die("splice out");
                left -= m;
            }
            continue;
        }
        n = read(a[0], j, CHUNK);
        if (n < 0) die("read");
        if (n == 0) break;
        seen += (size_t)(memchr(j, '\n', (size_t)n) == NULL);
        if (!strcmp(mode, "rw")) {
            for (ssize_t o = 0; o < n;) {
                ssize_t m = write(b[1], j + o, (size_t)(n - o));
                if (m <= 0) die("write");
                o += m;
            }
        } else if (!strcmp(mode, "vmsplice")) {
            vmsplice_all(b[1], j, (size_t)n);
            /* The pipe holds these pages now: never write them again. */
            if (madvise(j, CHUNK, MADV_DONTNEED) < 0) die("madvise");
        } else {
            fprintf(stderr, "copyfloor: unknown mode %s\n", mode);
            return 2;
        }
    }
    close(b[1]);
    int ok = 1, st;
    while (wait(&st) > 0)
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ok = 0;
    double t = now() - t0, c = cpu_self() - c0;
    if (!ok) {
        fprintf(stderr, "copyfloor: %s lost or changed bytes\n", mode);
        return 1;
    }
    printf("%s %.1f %.1f\n", mode, (double)(total >> 20) / t, c * 1e3 / ((double)total / (1 << 30)));
    return 0;
}
