/* The stdio relay: see include/mcpbox_relay.h for the contract. Syscalls only, no malloc. */
#include "mcpbox_relay.h"
#include "mcpbox_host.h"
#if defined(__linux__)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* Small messages are copied through the buffer (a read and a write are cheaper than splice for
 * a JSON-RPC line); a read that fills the buffer switches the direction to splice (no copy)
 * until a transfer comes back short. */
#define RELAY_BUFFER_SIZE (64 * 1024)
#define RELAY_SPLICE_CHUNK (16 * 1024 * 1024)
/* The server's stdin and stdout pipes (mcpbox's own) are enlarged to the default pipe-max-size
 * so bulk transfers need fewer wake-ups: kernel pipe memory, not mcpbox's. stderr keeps 64 KiB. */
#define RELAY_SERVER_PIPE_SIZE (1024 * 1024)
/* How much of a streamed line is read and judged at a time (a buffer per filtered direction,
 * see struct relay_dir): fewer, larger moves mean fewer wake-ups of the peers. */
#define RELAY_JUDGED_SIZE (256 * 1024)
#define RELAY_DEFAULT_GRACE_MS 2000
#define RELAY_MIN_DRAIN_MS 1000
#define RELAY_NEVER INT64_MAX
/* When the start-up text is dropped (see drop_startup_text): late enough that a short-lived
 * server has usually exited (the launch itself does not pay for it), early in any real session. */
#define RELAY_DROP_TEXT_MS 50

/* One direction of the relay. */
struct relay_dir {
    int src, dst;
    int src_owned, dst_owned; /* server-side fds are the relay's to close */
    int can_splice;           /* both ends are pipes */
    int bulk;                 /* the last transfer filled a buffer: splice the next one */
    int src_nowait, dst_nowait; /* the client's pipes and sockets: RWF_NOWAIT (their flags are theirs) */
    int src_poll;             /* a client source that may block (a tty): read only once poll says so */
    int wait_dst;             /* data is waiting for room in dst */
    int eof_pending;          /* filtered: the source ended, its queue is still being written */
    int dst_is_pipe;          /* filtered: a spooled line can be spliced to dst */
    size_t off, len;          /* pending bytes in buf */
    char *buf;
    int open;
    /* Filtered, a line the filter passes as it arrives (`passes_through`): its bytes are copied
     * into `judged`, up to RELAY_JUDGED_SIZE at a time, and handed over with `input_verbatim`;
     * what the filter passed unchanged goes to dst before anything queued: spliced from src when
     * it was tee'd (see `tee_r`), else written from `judged` (one copy in, one out). Without
     * `tee_r` never spliced on: a pipe's pages may be the writer's own memory (vmsplice) or a
     * file's, which it can still change after they were judged. NULL: every read goes by `buf`
     * and `input`. */
    char *judged;
    size_t verbatim_off, verbatim_left; /* in judged: bytes the filter passed unchanged, for dst */
    /* DIR_IN only, when the client's stdin (reopened as mcpbox's own) and the server's are pipes:
     * a private pipe. A streamed line's next bytes are tee'd into it and read from there into
     * `judged` (the one copy), so they stay at the head of the client's pipe, and the bytes the
     * filter passes unchanged are spliced on from there (their pages move, nothing is copied).
     * Only the client's bytes: mcpbox forwards what the client wrote, and nothing the server
     * controls can reach the client's pipe. Never the server's: pages it put in its stdout pipe
     * may be its own memory (vmsplice) or a file's, a packet (O_DIRECT) that a client's short
     * read would cut, and the server can reopen that pipe for reading (/proc/self/fd/1) and
     * replace the bytes judged before they are spliced (red-team pass, 2026-12-03). -1: none,
     * the bytes are read into `judged` and written from it. */
    int tee_r, tee_w;
    int by_ref;                         /* the verbatim bytes are still at the head of src */
    size_t discard_left;                /* after them in src: bytes the filter took, to drop */
};

enum relay_dir_index { DIR_IN = 0, DIR_OUT = 1, DIR_ERR = 2 };

struct relay {
    struct relay_dir dir[3];
    int pidfd;
    int sigfd;
    int64_t grace_ms;
    int64_t drain_ms;       /* after exit: how long a client may take no output before we stop */
    int exited;
    int status;
    int phase;              /* 0 running, 1 asked to end, 2 SIGTERM sent, 3 SIGKILL sent */
    int stop_drain;         /* after exit: SIGTERM, SIGINT, SIGHUP or SIGQUIT came: stop draining */
    int client_watched;     /* client stdout is a pipe, socket or tty: its reader's exit is seen */
    const char *why;        /* why mcpbox itself is ending the server (for the stderr line) */
    int err_fd;             /* the client's stderr, for those lines */
    int err_own;            /* open_private's description on it (the server's stderr goes there), or -1 */
    int64_t escalate_at;    /* when the next escalation step is due */
    int64_t wall_at;
    int64_t drain_until;    /* after exit: give up if no progress by then */
    const struct mcpbox_relay_filter *filter; /* the MCP layer, for DIR_IN and DIR_OUT */
    char *judged_buf;       /* 2 * RELAY_JUDGED_SIZE bytes (mmap): the directions' `judged`, or NULL */
};

/* clock_gettime(CLOCK_MONOTONIC) in milliseconds. */
static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t seconds_to_ms(double s) {
    if (!(s > 0)) return 0;
    if (s > 1e12) return RELAY_NEVER / 2;
    int64_t ms = (int64_t)(s * 1000.0);
    return ms + (ms < s * 1000.0);     /* round up, without libm */
}

/* Writes one line to fd without ever blocking on a client that stopped reading (RWF_NOWAIT
 * where the fd supports it, else fd is the relay's own non-blocking description; a line that
 * does not fit is dropped). */
static void say_line(int fd, const char *line, size_t n) {
    struct iovec v = {(void *)line, n};
    ssize_t w;
    do w = pwritev2(fd, &v, 1, -1, RWF_NOWAIT); while (w < 0 && errno == EINTR);
    if (w < 0 && errno == EOPNOTSUPP)
        while (write(fd, line, n) < 0 && errno == EINTR) {}
}

static void say_parts(int fd, const char *const *parts, int count) {
    if (fd < 0) return;
    char line[320];
    size_t n = 0;
    for (int i = 0; i < count; i++)
        for (const char *p = parts[i]; p && *p && n < sizeof line - 1; p++) line[n++] = *p;
    line[n++] = '\n';
    say_line(fd, line, n);
}

/* While a relay runs: the fd its own lines go to (mcpbox_relay_say), else -1. */
static int relay_say_fd = -1;

void mcpbox_relay_say(const char *text) {
    size_t len = strlen(text);
    if (relay_say_fd < 0) {
        /* Not relaying: a blocking write of the whole line, as before the session. */
        struct iovec v[2] = {{(void *)text, len}, {"\n", 1}};
        int parts = len && text[len - 1] == '\n' ? 1 : 2;
        while (writev(2, v, parts) < 0 && errno == EINTR) {}
        return;
    }
    /* One write of at most PIPE_BUF bytes: whole or not at all, between the server's stderr bytes. */
    char line[PIPE_BUF];
    size_t n = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, text, n);
    if (!n || line[n - 1] != '\n') line[n++] = '\n';
    say_line(relay_say_fd, line, n);
}

static void say(int fd, const char *a, const char *b, int err) {
    const char *parts[4] = {"mcpbox: relay: ", a, b, err ? strerror(err) : ""};
    say_parts(fd, parts, 4);
}

/* "2s", "1.5s" or "250ms" for a grace in milliseconds (no stdio in the relay). */
static void format_ms(int64_t ms, char *out, size_t size) {
    char digits[24];
    int n = 0;
    int64_t whole = ms >= 1000 ? ms / 1000 : ms, frac = ms >= 1000 ? ms % 1000 : 0;
    do { digits[n++] = (char)('0' + whole % 10); whole /= 10; } while (whole && n < 20);
    size_t k = 0;
    while (n && k + 1 < size) out[k++] = digits[--n];
    if (ms >= 1000 && frac && k + 5 < size) {
        out[k++] = '.';
        for (int64_t d = 100; d && frac; d /= 10) { out[k++] = (char)('0' + frac / d); frac %= d; }
    }
    const char *unit = ms >= 1000 ? "s" : "ms";
    for (const char *p = unit; *p && k + 1 < size; p++) out[k++] = *p;
    out[k] = 0;
}

static int is_pipe(int fd) {
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

static int is_socket(int fd) {
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* /dev/ptmx: every pseudo-terminal master has this device number. */
#define RELAY_PTMX_MAJOR 5
#define RELAY_PTMX_MINOR 2
/* pipefs's f_type (linux/magic.h): anonymous pipes, not named FIFOs. */
#define RELAY_PIPEFS_MAGIC 0x50495045

/* A file description of mcpbox's own (opened through /proc/self/fd, non-blocking, close-on-exec)
 * on the same file as the client's `fd`: its flags, and what splice() changes in it, are then
 * mcpbox's, not shared with the client. For an anonymous pipe (either end), and for a named FIFO
 * or a terminal that mcpbox writes to (pwritev2's RWF_NOWAIT is not supported there: a blocking
 * write to a client that stopped reading froze the relay). Returns -1 for anything else or when
 * it cannot be opened. A named FIFO is never reopened for reading: opened anew after its writers
 * left, a reader never sees its end (no POLLHUP until another writer comes); a terminal neither
 * (it is read after a zero-timeout poll). */
static int open_private(int fd, int mode) {
    struct stat before, after;
    struct statfs fs;
    if (fd < 0 || fstat(fd, &before) < 0) return -1;
    if (S_ISFIFO(before.st_mode)) {
        if (mode != O_WRONLY && (fstatfs(fd, &fs) < 0 || fs.f_type != RELAY_PIPEFS_MAGIC)) return -1;
    } else if (!S_ISCHR(before.st_mode) || mode != O_WRONLY || !isatty(fd)
               || (major(before.st_rdev) == RELAY_PTMX_MAJOR && minor(before.st_rdev) == RELAY_PTMX_MINOR)) {
        /* A pseudo-terminal's master (its device is /dev/ptmx's, 5:2, whichever pty it is):
         * opening it again makes a new pty, whose slave nobody reads; the client's own is kept. */
        return -1;
    }
    char path[32] = "/proc/self/fd/";
    char digits[12];
    int n = 0;
    for (unsigned v = (unsigned)fd; n == 0 || v; v /= 10) digits[n++] = (char)('0' + v % 10);
    size_t k = strlen(path);
    while (n) path[k++] = digits[--n];
    path[k] = 0;
    int nfd = open(path, mode | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (nfd < 0) return -1;
    if (fstat(nfd, &after) < 0 || after.st_ino != before.st_ino || after.st_dev != before.st_dev
        || after.st_rdev != before.st_rdev) {
        close(nfd);
        return -1;
    }
    return nfd;
}

/* Replaces the client's `fd` with open_private's description, on the same fd number (keeping
 * its close-on-exec flag). Returns 1 when done; 0 (fd untouched) otherwise. */
static int reopen_private(int fd, int mode) {
    int nfd = open_private(fd, mode);
    if (nfd < 0) return 0;
    if (dup3(nfd, fd, (fcntl(fd, F_GETFD) & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
        close(nfd);
        return 0;
    }
    close(nfd);
    return 1;
}

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static void send_signal(struct relay *r, int sig) {
    if (r->exited) return;
    syscall(SYS_pidfd_send_signal, r->pidfd, sig, NULL, 0);
}

/* mcpbox's own SIGTERM or SIGKILL (not a forwarded one): sent, and said on stderr. */
static void send_own(struct relay *r, int sig, int after_grace) {
    if (r->exited) return;
    send_signal(r, sig);
    char grace[32];
    format_ms(r->grace_ms, grace, sizeof grace);
    if (sig == SIGTERM) {
        const char *parts[] = {"mcpbox: sent SIGTERM to the server: ", r->why,
                               after_grace ? " and it was still running " : "",
                               after_grace ? grace : "", after_grace ? " later" : ""};
        say_parts(r->err_fd, parts, 5);
    } else {
        const char *parts[] = {"mcpbox: sent SIGKILL to the sandbox: the server was still running ",
                               grace, " after SIGTERM"};
        say_parts(r->err_fd, parts, 3);
    }
}

/* mcpbox itself ends the server, for `why`: the grace period first (level 1) or SIGTERM at once
 * (level 2), unless already further. */
static void escalate(struct relay *r, int level, int64_t now, const char *why) {
    if (r->exited || r->phase >= level) return;
    r->why = why;
    if (level == 2) send_own(r, SIGTERM, 0);
    r->phase = level;
    r->escalate_at = now + r->grace_ms;
}

static void escalate_due(struct relay *r, int64_t now) {
    if (r->exited) return;
    if (r->wall_at != RELAY_NEVER && now >= r->wall_at) {
        r->wall_at = RELAY_NEVER;
        escalate(r, 2, now, "wall_time reached");
    }
    if (r->phase == 0 || r->phase == 3 || now < r->escalate_at) return;
    if (r->phase == 1) {
        send_own(r, SIGTERM, 1);
        r->phase = 2;
        r->escalate_at = now + r->grace_ms;
    } else {
        send_own(r, SIGKILL, 1);
        r->phase = 3;
        r->escalate_at = RELAY_NEVER;
    }
}

/* Ends a direction; the server-side fds are closed so the server sees EOF or EPIPE. */
static void dir_close(struct relay_dir *d) {
    if (d->src_owned) close_fd(&d->src);
    if (d->dst_owned) close_fd(&d->dst);
    d->open = 0;
    d->wait_dst = 0;
    d->len = d->off = 0;
    d->verbatim_off = d->verbatim_left = 0;
    d->by_ref = 0;
    d->discard_left = 0;
}


static int filter_flush(struct relay *r, int which, int64_t now);
static void filter_stop(struct relay *r, int64_t now);

/* The source reached EOF (or failed). */
static void src_done(struct relay *r, int which, int64_t now) {
    struct relay_dir *d = &r->dir[which];
    if (r->filter && which != DIR_ERR && d->open && !d->eof_pending) {
        /* The filter flushes what it holds; the end takes effect once its queue is written. */
        d->eof_pending = 1;
        (void)r->filter->input(r->filter->context, which, NULL, 0);
        filter_flush(r, DIR_IN, now);
        filter_flush(r, DIR_OUT, now);
        return;
    }
    if (which == DIR_IN) {
        /* The client is done sending; while it still reads our stdout it stays in charge of the
         * shutdown (its own signals are forwarded). Where its presence cannot be seen (stdout a
         * file, or already closed), stdin EOF is the end of the session. */
        if (!r->client_watched || !r->dir[DIR_OUT].open)
            escalate(r, 1, now, "the client closed stdin");
    } else if (which == DIR_OUT && d->dst >= 0) {
        close(d->dst);                    /* client stdout gets EOF as it would directly */
        d->dst = -1;
    }
    dir_close(d);
}

/* The destination cannot take more (its reader is gone). */
static void dst_gone(struct relay *r, int which, int64_t now) {
    if (which == DIR_OUT) escalate(r, 1, now, "the client is gone (its end of stdout closed)");
    dir_close(&r->dir[which]);
}

/* preadv2(RWF_NOWAIT) on the client's sockets and named FIFOs: non-blocking without touching
 * their O_NONBLOCK, which the client may share; plain read() elsewhere: our own non-blocking
 * pipes (the client's anonymous ones reopened), and files and ttys after a poll() that says they
 * are ready. */
static ssize_t dir_read_into(struct relay_dir *d, char *to, size_t size) {
    struct iovec v = {to, size};
    if (d->src_nowait) {
        ssize_t n = preadv2(d->src, &v, 1, -1, RWF_NOWAIT);
        if (n >= 0 || errno != EOPNOTSUPP) return n;
        d->src_nowait = 0;
        d->src_poll = 1;
    }
    if (d->src_poll) {
        /* The MCP layer reads again after writing what it queued, without a poll first. */
        struct pollfd p = {.fd = d->src, .events = POLLIN};
        int k;
        do k = poll(&p, 1, 0); while (k < 0 && errno == EINTR);
        if (k == 0) { errno = EAGAIN; return -1; }
    }
    return read(d->src, to, size);
}

static ssize_t dir_read(struct relay_dir *d) { return dir_read_into(d, d->buf, RELAY_BUFFER_SIZE); }

/* pwritev2(RWF_NOWAIT) likewise. */
static ssize_t dst_write(struct relay_dir *d, const char *p, size_t n) {
    struct iovec v = {(void *)p, n};
    if (d->dst_nowait) {
        ssize_t m = pwritev2(d->dst, &v, 1, -1, RWF_NOWAIT);
        if (m >= 0 || errno != EOPNOTSUPP) return m;
        d->dst_nowait = 0;
    }
    return write(d->dst, p, n);
}

static ssize_t dir_write(struct relay_dir *d) { return dst_write(d, d->buf + d->off, d->len - d->off); }

/* Sends the bytes the filter passed unchanged to dst: spliced from the head of src when they were
 * tee'd (`by_ref`, then the bytes after them that the filter took are dropped from src), else
 * written from `judged`. Returns 1 when done, 0 when dst is full (wait_dst set), -1 when dst is
 * gone, -2 when src no longer holds what was judged (another reader of the pipe took bytes: the
 * stream can no longer be framed). */
static int verbatim_flush(struct relay_dir *d) {
    while (d->verbatim_left) {
        ssize_t m;
        if (d->by_ref) {
            m = splice(d->src, NULL, d->dst, NULL, d->verbatim_left, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
            if (m == 0) return -2;
            if (m < 0 && errno == EINVAL) {
                /* Unexpected: write them from `judged`, and drop them from src after. */
                d->by_ref = 0;
                d->discard_left += d->verbatim_left;
                continue;
            }
        } else {
            m = dst_write(d, d->judged + d->verbatim_off, d->verbatim_left);
        }
        if (m > 0) { d->verbatim_off += (size_t)m; d->verbatim_left -= (size_t)m; continue; }
        if (m < 0 && errno == EINTR) continue;
        if (m < 0 && errno == EAGAIN) {
            /* dst is full, unless src lost bytes (then waiting for room would spin). */
            int held = 0;
            if (d->by_ref && ioctl(d->src, FIONREAD, &held) == 0 && (size_t)held < d->verbatim_left + d->discard_left)
                return -2;
            d->wait_dst = 1;
            return 0;
        }
        return -1;
    }
    while (d->discard_left) {
        ssize_t m = read(d->src, d->buf, d->discard_left < RELAY_BUFFER_SIZE ? d->discard_left : RELAY_BUFFER_SIZE);
        if (m > 0) { d->discard_left -= (size_t)m; continue; }
        if (m < 0 && errno == EINTR) continue;
        return -2;
    }
    d->by_ref = 0;
    return 1;
}

/* The next bytes of a streamed line from the client, left in its pipe (see `tee_r`): tee'd into
 * the private pipe and read from there into `judged`. Their count, 0 at the source's end, or -1
 * with errno, as read() gives. */
static ssize_t tee_judged(struct relay_dir *d) {
    ssize_t n = tee(d->src, d->tee_w, RELAY_JUDGED_SIZE, SPLICE_F_NONBLOCK);
    if (n < 0 && errno == EINVAL) {
        /* Unexpected: copy from now on. */
        close_fd(&d->tee_r);
        close_fd(&d->tee_w);
        return dir_read_into(d, d->judged, RELAY_JUDGED_SIZE);
    }
    for (ssize_t got = 0; got < n;) {
        ssize_t m = read(d->tee_r, d->judged + got, (size_t)(n - got));
        if (m > 0) { got += m; continue; }
        if (m < 0 && errno == EINTR) continue;
        errno = EIO;                     /* cannot happen: the private pipe holds them */
        return -1;
    }
    return n;
}

/* Up to `n` bytes of the spooled line at the head of the filter's queue for `which`: spliced
 * from its file when dst is a pipe (page references move, nothing is copied), else read into the
 * direction's buffer and written from there (only what was written counts). */
static ssize_t write_spooled(struct relay_dir *d, const struct mcpbox_relay_filter *f, int which, size_t n) {
    int64_t at = 0;
    int fd = f->pending_file ? f->pending_file(f->context, which, &at) : -1;
    if (fd < 0) { errno = EBADF; return -1; }
    loff_t off = (loff_t)at;
    if (d->dst_is_pipe) {
        ssize_t m = splice(fd, &off, d->dst, NULL, n, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (m >= 0 || errno != EINVAL) return m;
        d->dst_is_pipe = 0;               /* unexpected: copy from now on */
    }
    ssize_t got = pread(fd, d->buf, n < RELAY_BUFFER_SIZE ? n : RELAY_BUFFER_SIZE, (off_t)at);
    if (got <= 0) { if (got == 0) errno = EIO; return -1; }
    d->off = 0;
    d->len = (size_t)got;
    ssize_t m = dir_write(d);
    d->off = d->len = 0;
    return m;
}

/* Writes the filter's queue for `which` (dropped when the destination is gone); sets wait_dst
 * while bytes remain, and completes a pending end of the source once the queue is empty.
 * Returns 1 on progress. */
static int filter_flush(struct relay *r, int which, int64_t now) {
    struct relay_dir *d = &r->dir[which];
    const struct mcpbox_relay_filter *f = r->filter;
    int moved = 0;
    if (d->verbatim_left || d->discard_left) {
        /* What the filter passed unchanged comes before anything it queued after. */
        int done = d->open && d->dst >= 0 ? verbatim_flush(d) : (d->verbatim_left = d->discard_left = 0, 1);
        if (done == 0) return 0;
        if (done == -2) {
            say(r->err_fd, "the MCP layer: the bytes it judged are no longer in their pipe (another reader took some)", "", 0);
            filter_stop(r, now);
            return 1;
        }
        if (done < 0) { dst_gone(r, which, now); return 1; }
        moved = 1;
    }
    for (;;) {
        const char *p = NULL;
        size_t n = f->pending(f->context, which, &p);
        if (n == 0) break;
        if (!d->open || d->dst < 0) { f->consumed(f->context, which, n); moved = 1; continue; }
        ssize_t m = -1;
        if (!p) {
            m = write_spooled(d, f, which, n);
        } else {
            m = dst_write(d, p, n);
        }
        if (m > 0) { f->consumed(f->context, which, (size_t)m); moved = 1; continue; }
        if (m < 0 && errno == EINTR) continue;
        if (m < 0 && errno == EAGAIN) { d->wait_dst = 1; return moved; }
        dst_gone(r, which, now);
        moved = 1;
    }
    d->wait_dst = 0;
    if (d->eof_pending && d->open) src_done(r, which, now);
    return moved;
}

/* Whether the source of a filtered direction may be read now (see mcpbox_relay_filter). */
static int filter_wants_src(struct relay *r, int which) {
    const char *p;
    if (r->dir[which].eof_pending) return 0;
    return which != DIR_IN || r->filter->pending(r->filter->context, DIR_OUT, &p) <= MCPBOX_RELAY_FILTER_BACKLOG;
}

/* The MCP layer refused the session (a message over its limit, the audit log failed): nothing
 * more is read or written for the client, and the server is asked to end. */
static void filter_stop(struct relay *r, int64_t now) {
    if (r->dir[DIR_IN].open) dir_close(&r->dir[DIR_IN]);
    if (r->dir[DIR_OUT].open) {
        close_fd(&r->dir[DIR_OUT].dst);
        dir_close(&r->dir[DIR_OUT]);
    }
    escalate(r, 2, now, "the MCP layer ended the session");
}

/* A filtered direction: its queue first, then one read handed to the filter, then both queues.
 * A line the filter passes as it arrives is read into `judged`, and the bytes it passes
 * unchanged are written from there (see struct relay_dir). */
static int filter_transfer(struct relay *r, int which, int64_t now) {
    struct relay_dir *d = &r->dir[which];
    const struct mcpbox_relay_filter *f = r->filter;
    int moved = filter_flush(r, which, now);
    if (!d->open || d->wait_dst || !filter_wants_src(r, which)) return moved;
    int through = d->judged && f->passes_through(f->context, which);
    int by_ref = through && d->tee_w >= 0;
    ssize_t n;
    do n = by_ref ? tee_judged(d) : through ? dir_read_into(d, d->judged, RELAY_JUDGED_SIZE) : dir_read(d);
    while (n < 0 && errno == EINTR);
    by_ref = by_ref && d->tee_w >= 0;
    if (n == 0 || (n < 0 && errno != EAGAIN)) { src_done(r, which, now); return 1; }
    if (n < 0) return moved;
    int rc;
    if (through) {
        size_t verbatim = 0;
        rc = f->input_verbatim(f->context, which, d->judged, (size_t)n, &verbatim);
        if (verbatim > (size_t)n) { say(r->err_fd, "the MCP layer passed more than it was given", "", 0); rc = -1; }
        else {
            d->verbatim_off = 0;
            d->verbatim_left = verbatim;
            d->by_ref = by_ref;
            d->discard_left = by_ref ? (size_t)n - verbatim : 0;
        }
    } else {
        rc = f->input(f->context, which, d->buf, (size_t)n);
    }
    if (rc < 0) {
        filter_stop(r, now);
        return 1;
    }
    filter_flush(r, DIR_IN, now);
    filter_flush(r, DIR_OUT, now);
    return 1;
}

/* Moves what is available; `dst_ready` tells whether poll reported room in dst. Returns 1 on progress. */
static int transfer(struct relay *r, int which, int dst_ready, int64_t now) {
    struct relay_dir *d = &r->dir[which];
    if (r->filter && which != DIR_ERR) return filter_transfer(r, which, now);
    if (d->len == 0 && d->can_splice && d->bulk) {
        for (;;) {
            ssize_t n = splice(d->src, NULL, d->dst, NULL, RELAY_SPLICE_CHUNK,
                               SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
            if (n > 0) {
                d->wait_dst = 0;
                d->bulk = n >= RELAY_BUFFER_SIZE;
                return 1;
            }
            if (n == 0) { src_done(r, which, now); return 1; }
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                /* After POLLIN, EAGAIN means dst is full; after POLLOUT, that src is empty. */
                d->wait_dst = !dst_ready;
                d->bulk = !dst_ready;
                return 0;
            }
            if (errno == EPIPE) { dst_gone(r, which, now); return 1; }
            d->can_splice = 0;            /* unexpected: copy from now on */
            break;
        }
    }
    if (d->len == 0) {
        ssize_t n;
        do n = dir_read(d); while (n < 0 && errno == EINTR);
        if (n == 0 || (n < 0 && errno != EAGAIN)) { src_done(r, which, now); return 1; }
        if (n < 0) { d->wait_dst = 0; return 0; }
        d->off = 0;
        d->len = (size_t)n;
        d->bulk = n == RELAY_BUFFER_SIZE;
    }
    int moved = 0;
    while (d->off < d->len) {
        ssize_t m = dir_write(d);
        if (m > 0) { d->off += (size_t)m; moved = 1; continue; }
        if (m < 0 && errno == EINTR) continue;
        if (m < 0 && errno == EAGAIN) { d->wait_dst = 1; return moved; }
        dst_gone(r, which, now);
        return 1;
    }
    d->off = d->len = 0;
    d->wait_dst = 0;
    return 1;
}

/* Reaps the child if it has exited (waitid on the pidfd, no SIGCHLD races). */
static void reap(struct relay *r, int64_t now) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid((idtype_t)P_PIDFD, (id_t)r->pidfd, &info, WEXITED | WNOHANG | __WALL) < 0) {
        if (errno == EINTR) return;
        info.si_code = CLD_KILLED;        /* ECHILD: someone else reaped it; report it as killed */
        info.si_status = SIGKILL;
        info.si_pid = 1;
    }
    if (info.si_pid == 0) return;
    r->exited = 1;
    r->status = info.si_code == CLD_EXITED ? (info.si_status & 0xff) : 128 + info.si_status;
    r->drain_until = now + r->drain_ms;
    /* The client's further input has nowhere to go. */
    if (r->dir[DIR_IN].open) dir_close(&r->dir[DIR_IN]);
}

static void forward_signals(struct relay *r) {
    struct signalfd_siginfo si;
    pid_t host = mcpbox_host_pid();
    while (read(r->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        /* A worker behind a relay host (mcpbox_host.h) takes signals from the host only: the
         * ones sent to mcpbox's pid reach it that way, and a process group's (a terminal's ^C)
         * would otherwise arrive twice. */
        if (host > 0 && si.ssi_pid != (uint32_t)host) continue;
        int sig = (int)si.ssi_signo;
        /* The server is gone: a request to end is for mcpbox, which stops draining its output
         * to a client that may read it slowly for a long time (USR1 and USR2 mean nothing now). */
        if (r->exited && sig != SIGUSR1 && sig != SIGUSR2) r->stop_drain = 1;
        send_signal(r, sig);              /* the client's own escalation governs what follows */
    }
}

/* After the child exited nothing can be written into the server pipes any more: an empty
 * source is at its end. */
static void end_empty_sources(struct relay *r, int64_t now) {
    for (int i = DIR_OUT; i <= DIR_ERR; i++) {
        struct relay_dir *d = &r->dir[i];
        int avail = 0;
        if (!d->open || d->wait_dst || d->len || d->verbatim_left) continue;
        if (ioctl(d->src, FIONREAD, &avail) == 0 && avail == 0) src_done(r, i, now);
    }
}

/* Parses a hex number at *p, advancing it. */
static unsigned long parse_hex(const char **p) {
    unsigned long v = 0;
    for (;; (*p)++) {
        char c = **p;
        if (c >= '0' && c <= '9') v = v * 16 + (unsigned long)(c - '0');
        else if (c >= 'a' && c <= 'f') v = v * 16 + (unsigned long)(c - 'a' + 10);
        else return v;
    }
}

#define RELAY_PAGE 4096UL

/* Gives back the whole pages inside [p, p + len) (madvise MADV_DONTNEED): memory whose
 * contents are dead; it is zero-filled again on the next touch. */
static void release_pages(void *p, size_t len) {
    uintptr_t lo = ((uintptr_t)p + RELAY_PAGE - 1) & ~(RELAY_PAGE - 1);
    uintptr_t hi = ((uintptr_t)p + len) & ~(RELAY_PAGE - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* The stack mapping [start, stop) holds `here` (a local of the caller): the pages below it,
 * which start-up's deep Swift calls dirtied and the relay loop never reaches, are given back
 * (a margin stays for the calls the caller makes). */
static void drop_stack_below(unsigned long start, unsigned long stop, uintptr_t here) {
    if (here < start || here >= stop) return;
    uintptr_t keep = (here & ~(RELAY_PAGE - 1)) - 2 * RELAY_PAGE;
    if (keep > start) madvise((void *)start, keep - start, MADV_DONTNEED);
}

/* Unmaps from the page tables (madvise MADV_DONTNEED) the program text that start-up touched:
 * every private, read-only, executable file mapping. Such pages are never written, so they stay
 * in the page cache and the few the relay loop runs fault back in; mcpbox's resident set while
 * relaying is then its small fixed working set, not the whole CLI it ran before. Text only:
 * writable or RELRO mappings hold modified private pages and are left alone. The stack below
 * this frame goes too (drop_stack_below: never inlined, so that every live frame of the relay
 * lies above its own), and malloc's free memory (malloc_trim). */
__attribute__((noinline)) static void drop_startup_text(void) {
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[4096];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 && have == 0) break;
        if (n > 0) have += (size_t)n;
        buf[have] = 0;
        char *end = memchr(buf, '\n', have);
        if (!end) {
            if (n > 0 && have < sizeof buf - 1) continue;
            break;                        /* a line longer than the buffer, or a torn tail */
        }
        *end = 0;
        /* "start-end perms offset dev inode path" */
        const char *p = buf;
        unsigned long start = parse_hex(&p);
        unsigned long stop = (*p == '-') ? (p++, parse_hex(&p)) : 0;
        const char *perms = *p == ' ' ? p + 1 : "";
        const char *path = strchr(perms, '/');
        if (stop > start && !strncmp(perms, "r-xp", 4) && path)
            madvise((void *)start, stop - start, MADV_DONTNEED);
        else if (stop > start)
            drop_stack_below(start, stop, (uintptr_t)buf);
        size_t used = (size_t)(end - buf) + 1;
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    close(fd);
    malloc_trim(0);
}

void mcpbox_relay_block_forwarded(sigset_t *set) {
    static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    sigemptyset(set);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) sigaddset(set, forwarded[i]);
    sigprocmask(SIG_BLOCK, set, NULL);
}

int mcpbox_relay_run(const struct mcpbox_relay_config *config) {
    /* A worker relaying itself: the host gives up stdio and forwards signals here. */
    mcpbox_host_proxy();
    char buffers[3][RELAY_BUFFER_SIZE];
    /* Start-up's deep calls dirtied the stack where the buffers now lie: untouched until a
     * transfer needs them, they cost nothing while the session is quiet. */
    release_pages(buffers, sizeof buffers);
    struct relay r;
    memset(&r, 0, sizeof r);
    int64_t start = now_ms();
    r.err_fd = config->client_err;
    r.err_own = -1;
    r.grace_ms = config->grace_seconds >= 0 ? seconds_to_ms(config->grace_seconds) : RELAY_DEFAULT_GRACE_MS;
    r.drain_ms = r.grace_ms > RELAY_MIN_DRAIN_MS ? r.grace_ms : RELAY_MIN_DRAIN_MS;
    int64_t wall = seconds_to_ms(config->wall_time_seconds);
    r.wall_at = wall > 0 ? start + wall : RELAY_NEVER;
    r.escalate_at = RELAY_NEVER;
    r.drain_until = RELAY_NEVER;
    r.filter = config->filter;

    sigset_t set;
    mcpbox_relay_block_forwarded(&set);
    struct sigaction ignore;
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, NULL);

    int64_t drop_text_at = start + RELAY_DROP_TEXT_MS;
    r.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    r.pidfd = (int)syscall(SYS_pidfd_open, config->child, 0);
    if (r.sigfd < 0 || r.pidfd < 0) {
        int err = errno;
        say(config->client_err, r.sigfd < 0 ? "signalfd" : "pidfd_open", ": ", err);
        kill(config->child, SIGKILL);
        while (waitpid(config->child, NULL, __WALL) < 0 && errno == EINTR) {}
        if (r.sigfd >= 0) close(r.sigfd);
        if (r.pidfd >= 0) close(r.pidfd);
        return 125;
    }

    const int ends[3][2] = {
        {config->client_in, config->server_in},
        {config->server_out, config->client_out},
        {config->server_err, config->client_err},
    };
    for (int i = 0; i < 3; i++) {
        struct relay_dir *d = &r.dir[i];
        d->src = ends[i][0];
        d->dst = ends[i][1];
        d->src_owned = i != DIR_IN;
        d->dst_owned = i == DIR_IN;
        d->buf = buffers[i];
        /* splice() clears the non-blocking capability (FMODE_NOWAIT, hence RWF_NOWAIT) of the
         * files it touches, so the client's pipes are spliced only through a file description of
         * mcpbox's own (reopen_private); stderr, which mcpbox's own lines share, is copied. */
        int client_fd = i == DIR_IN ? d->src : d->dst;
        int own = 0;
        if (i != DIR_ERR) {
            own = reopen_private(client_fd, i == DIR_IN ? O_RDONLY : O_WRONLY);
        } else if ((r.err_own = open_private(client_fd, O_WRONLY)) >= 0) {
            /* On a new fd: fd 2 stays the client's description (the Swift side writes there). */
            d->dst = client_fd = r.err_fd = r.err_own;
            own = 1;
        }
        int nowait = !own && (is_pipe(client_fd) || is_socket(client_fd));
        if (i == DIR_IN) d->src_nowait = nowait; else d->dst_nowait = nowait;
        if (i == DIR_IN) d->src_poll = !own && !nowait && client_fd >= 0;
        int own_pipe = own && is_pipe(client_fd);
        int spliceable = own_pipe && i != DIR_ERR && is_pipe(i == DIR_IN ? d->dst : d->src);
        d->can_splice = spliceable && !r.filter;
        d->dst_is_pipe = i == DIR_IN ? is_pipe(d->dst) : own_pipe;
        if (i != DIR_ERR && r.filter && r.filter->passes_through && r.filter->input_verbatim) {
            /* Untouched (no memory) until a line passes through. */
            if (!r.judged_buf) {
                void *m = mmap(NULL, 2 * RELAY_JUDGED_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                r.judged_buf = m == MAP_FAILED ? NULL : m;
            }
            if (r.judged_buf) d->judged = r.judged_buf + (size_t)i * RELAY_JUDGED_SIZE;
        }
        d->tee_r = d->tee_w = -1;
        int t[2];
        if (i == DIR_IN && d->judged && own_pipe && is_pipe(d->dst) && pipe2(t, O_NONBLOCK | O_CLOEXEC) == 0) {
            /* Best effort: a tee takes at most what the private pipe has room for. */
            fcntl(t[1], F_SETPIPE_SZ, RELAY_JUDGED_SIZE);
            d->tee_r = t[0];
            d->tee_w = t[1];
        }
        int server_fd = i == DIR_IN ? d->dst : d->src;
        if (server_fd >= 0) {
            int fl = fcntl(server_fd, F_GETFL);
            if (fl >= 0) fcntl(server_fd, F_SETFL, fl | O_NONBLOCK);
            if (i != DIR_ERR) fcntl(server_fd, F_SETPIPE_SZ, RELAY_SERVER_PIPE_SIZE); /* best effort */
        }
        d->open = 1;
    }
    relay_say_fd = r.err_fd;
    struct stat out_st;
    r.client_watched = config->client_out >= 0 && fstat(config->client_out, &out_st) == 0
        && (S_ISFIFO(out_st.st_mode) || S_ISSOCK(out_st.st_mode) || isatty(config->client_out));
    for (int i = DIR_ERR; i >= DIR_IN; i--) {
        struct relay_dir *d = &r.dir[i];
        if (d->src >= 0 && d->dst >= 0) continue;
        if (i == DIR_IN && d->src < 0) src_done(&r, i, start);
        else dir_close(d);
    }

    /* The loop always sleeps in poll: no busy-wait after activity. Measured (scripts/bench-relay,
     * 2-core VM): a 50 us spin window saved 0-2 us of a round trip's p50 and cost 4-20 us of CPU
     * per round trip; without it the relay is within 1-3 us p50 and 2 us CPU of a bare C relay
     * (its `floor` mode). Per message: poll, one read, one write. */
    struct pollfd pfd[8];
    for (;;) {
        int64_t now = now_ms();
        escalate_due(&r, now);
        if (r.exited) {
            if (r.stop_drain) break;
            end_empty_sources(&r, now);
            if (!r.dir[DIR_OUT].open && !r.dir[DIR_ERR].open) break;
            if (now >= r.drain_until) break;
        }

        /* The filter's clock (a confirmation's deadline): due work first, its messages written. */
        int64_t filter_due = RELAY_NEVER;
        if (r.filter && r.filter->tick && !r.exited) {
            int64_t t = r.filter->tick(r.filter->context, now);
            if (t == MCPBOX_RELAY_FILTER_STOP) filter_stop(&r, now);
            else if (t >= 0) filter_due = t;
            filter_flush(&r, DIR_IN, now);
            filter_flush(&r, DIR_OUT, now);
        }

        int n = 0, at_sig = -1, at_pid = -1, at_src[3], at_dst[3];
        /* Signals are read after the server's exit too: they end the drain. */
        at_sig = n; pfd[n++] = (struct pollfd){.fd = r.sigfd, .events = POLLIN};
        if (!r.exited) {
            at_pid = n; pfd[n++] = (struct pollfd){.fd = r.pidfd, .events = POLLIN};
        }
        for (int i = 0; i < 3; i++) {
            struct relay_dir *d = &r.dir[i];
            at_src[i] = at_dst[i] = -1;
            if (!d->open) continue;
            if (!d->wait_dst && (!r.filter || i == DIR_ERR || filter_wants_src(&r, i))) {
                at_src[i] = n;
                pfd[n++] = (struct pollfd){.fd = d->src, .events = POLLIN};
            }
            /* dst is always watched, for errors at least: a vanished reader is noticed at once. */
            at_dst[i] = n;
            pfd[n++] = (struct pollfd){.fd = d->dst, .events = d->wait_dst ? POLLOUT : 0};
        }

        if (drop_text_at != RELAY_NEVER && now >= drop_text_at) {
            drop_startup_text();
            drop_text_at = RELAY_NEVER;
        }
        int64_t due = r.exited ? r.drain_until : r.escalate_at;
        if (!r.exited && r.wall_at < due) due = r.wall_at;
        if (drop_text_at < due) due = drop_text_at;
        if (filter_due < due) due = filter_due;
        int timeout = -1;
        if (due != RELAY_NEVER) {
            int64_t left = due - now;
            timeout = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
        }
        int ready = poll(pfd, (nfds_t)n, timeout);
        if (ready < 0) {
            if (errno == EINTR) continue;
            say(config->client_err, "poll", ": ", errno);
            send_signal(&r, SIGKILL);
            r.phase = 3;
            if (!r.exited) {
                int status;
                while (waitpid(config->child, &status, __WALL) < 0 && errno == EINTR) {}
            }
            r.exited = 1;
            r.status = 125;
            break;
        }
        now = now_ms();
        if (ready == 0) continue;

        if (at_sig >= 0 && pfd[at_sig].revents) forward_signals(&r);
        for (int i = 0; i < 3; i++) {
            struct relay_dir *d = &r.dir[i];
            if (!d->open) continue;
            short dre = at_dst[i] >= 0 ? pfd[at_dst[i]].revents : 0;
            short sre = at_src[i] >= 0 ? pfd[at_src[i]].revents : 0;
            if (d->wait_dst && (dre & POLLOUT)) {
                if (transfer(&r, i, 1, now) && r.exited) r.drain_until = now + r.drain_ms;
            } else if (dre & (POLLERR | POLLHUP | POLLNVAL)) {
                dst_gone(&r, i, now);
            } else if (sre) {
                if (sre & POLLNVAL) src_done(&r, i, now);
                else if (transfer(&r, i, 0, now) && r.exited) r.drain_until = now + r.drain_ms;
            }
        }
        if (at_pid >= 0 && pfd[at_pid].revents) reap(&r, now);
    }

    for (int i = 0; i < 3; i++) {
        if (r.dir[i].open) dir_close(&r.dir[i]);
    }
    close_fd(&r.dir[DIR_IN].tee_r);
    close_fd(&r.dir[DIR_IN].tee_w);
    if (r.judged_buf) munmap(r.judged_buf, 2 * RELAY_JUDGED_SIZE);
    relay_say_fd = -1;
    if (r.err_own >= 0) close(r.err_own);
    if (!r.exited) r.status = 125;
    /* Consume signals that arrived too late to matter; they stay blocked. */
    struct signalfd_siginfo si;
    while (read(r.sigfd, &si, sizeof si) == (ssize_t)sizeof si) {}
    close(r.sigfd);
    close(r.pidfd);
    return r.status;
}

#endif
