/* pid 1 after the server is forked: the reaper, on as little memory as it can hold.
 * pid 1 is a copy-on-write copy of mcpbox (Swift heap, runtime data, stack) of which the
 * reaper loop needs nothing but its own stack frame and a page of text. Every page of that
 * copy that mcpbox writes later is duplicated for pid 1 (and pid 1's own setup dirtied more),
 * so the reaper unmaps the inherited memory before it settles into its loop; from there on
 * it makes raw system calls only (no glibc: its data, TLS and errno are gone). */
#if defined(__linux__)
#include "launch_child.h"

#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#endif

#if defined(__x86_64__) || defined(__aarch64__)
#define REAPER_RAW 1
/* One system call without glibc: no errno, no TLS, nothing in memory but the arguments. */
static inline __attribute__((always_inline)) long raw5(long n, long a, long b, long c, long d, long e) {
#if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return ret;
#else
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
    return x0;
#endif
}

/* The thread pointer (glibc's TCB, in the static binary's heap; the rseq area lies beside it). */
static inline __attribute__((always_inline)) unsigned long thread_pointer(void) {
    unsigned long tp;
#if defined(__x86_64__)
    __asm__("mov %%fs:0, %0" : "=r"(tp));
#else
    __asm__("mrs %0, tpidr_el0" : "=r"(tp));
#endif
    return tp;
}
#else
#define REAPER_RAW 0
static inline long raw5(long n, long a, long b, long c, long d, long e) {
    long r = syscall(n, a, b, c, d, e);
    return r < 0 ? -errno : r;
}
static inline unsigned long thread_pointer(void) { return 0; }
#endif
#define raw4(n, a, b, c, d) raw5(n, a, b, c, d, 0)

#if defined(__has_attribute)
#if __has_attribute(no_stack_protector)
#define REAPER_NO_SSP __attribute__((no_stack_protector))
#endif
#endif
#ifndef REAPER_NO_SSP
#define REAPER_NO_SSP
#endif

#define REAPER_PAGE 4096UL
/* Signals pid 1 passes on to the server (the others it only takes, as init ignores them). */
#define REAPER_FORWARDED ((1UL << SIGTERM) | (1UL << SIGINT) | (1UL << SIGHUP) | (1UL << SIGQUIT) | \
                          (1UL << SIGUSR1) | (1UL << SIGUSR2))

static inline __attribute__((always_inline)) unsigned long parse_hex(const char **p, const char *end) {
    unsigned long v = 0;
    for (; *p < end; (*p)++) {
        char c = **p;
        if (c >= '0' && c <= '9') v = v * 16 + (unsigned long)(c - '0');
        else if (c >= 'a' && c <= 'f') v = v * 16 + (unsigned long)(c - 'a' + 10);
        else break;
    }
    return v;
}

/* One line of /proc/self/maps: what pid 1 keeps of that mapping, and releases the rest.
 * Kept: executable mappings (file text: shared, and the loop runs there), the kernel's
 * special mappings ([vdso], [vvar], ...), and of the mapping holding the stack, the pages
 * between `keep_lo` and `keep_hi` (the reaper's own frame). Everything else, the heap, the
 * program's data and bss, anonymous mappings and the rest of the stack, goes. */
static inline __attribute__((always_inline)) void release_mapping(const char *line, const char *end,
                                                                  unsigned long keep_lo, unsigned long keep_hi,
                                                                  unsigned long rseq_area) {
    const char *p = line;
    unsigned long start = parse_hex(&p, end);
    if (p >= end || *p != '-') return;
    p++;
    unsigned long stop = parse_hex(&p, end);
    if (p + 5 > end || *p != ' ' || stop <= start) return;
    const char *perms = p + 1;
    /* the name: after five fields ("perms offset dev inode "), "[...]" for special mappings */
    int fields = 0;
    for (p = perms; p < end && fields < 4; p++)
        if (*p == ' ') { fields++; while (p + 1 < end && p[1] == ' ') p++; }
    if (start < keep_hi && keep_hi <= stop) {
        /* The stack: below the frame is unused, above it lie callers that never get control back. */
        if (keep_lo > start) raw4(SYS_madvise, (long)start, (long)(keep_lo - start), MADV_DONTNEED, 0);
        if (stop > keep_hi) raw4(SYS_madvise, (long)keep_hi, (long)(stop - keep_hi), MADV_DONTNEED, 0);
        return;
    }
    /* [vdso], [vvar], [vvar_vclock], [vsyscall], [uprobes]; not [heap], [stack] or [anon:...] */
    int special = p < end && *p == '[' && end - p > 1 && (p[1] == 'v' || p[1] == 'u');
    if (perms[2] == 'x' || special) return;
    /* A registered rseq area must stay mapped (the kernel writes it on every return to user
     * space, and fails the process if it cannot); its page is zero-filled again. */
    if (start <= rseq_area && rseq_area < stop)
        raw4(SYS_madvise, (long)start, (long)(stop - start), MADV_DONTNEED, 0);
    else
        raw4(SYS_munmap, (long)start, (long)(stop - start), 0, 0);
}

/* glibc registers an rseq area in each thread's TCB, and fork keeps the registration: it is
 * withdrawn here (the length glibc registered is __rseq_size, or 32 before glibc 2.40 said
 * otherwise). Returns the area's address while it stays registered, else 0. */
static inline __attribute__((always_inline)) unsigned long unregister_rseq(void) {
#if defined(RSEQ_SIG) && defined(SYS_rseq)
    if (__rseq_size == 0) return 0;
    unsigned long area = thread_pointer() + (unsigned long)__rseq_offset;
    if (raw4(SYS_rseq, (long)area, (long)__rseq_size, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) == 0 ||
        raw4(SYS_rseq, (long)area, 32, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) == 0)
        return 0;
    return area;
#else
    return thread_pointer();
#endif
}

/* Releases what pid 1 inherited, reading its mappings from `maps_fd` (/proc/self/maps,
 * opened before the root was switched), then closes every fd. */
static inline __attribute__((always_inline)) void release_inherited(int maps_fd, unsigned long keep_lo,
                                                                    unsigned long keep_hi,
                                                                    unsigned long rseq_area) {
    char buf[2048];
    unsigned long have = 0;
    for (;;) {
        long n = raw4(SYS_read, maps_fd, (long)(buf + have), (long)(sizeof buf - have), 0);
        if (n == -EINTR) continue;
        if (n <= 0 && have == 0) break;
        if (n > 0) have += (unsigned long)n;
        unsigned long line_end = 0;
        while (line_end < have && buf[line_end] != '\n') line_end++;
        if (line_end == have) {
            if (n > 0 && have < sizeof buf) continue;
            break;                        /* a line longer than the buffer, or a torn tail */
        }
        release_mapping(buf, buf + line_end, keep_lo, keep_hi, rseq_area);
        unsigned long used = line_end + 1;
        for (unsigned long i = used; i < have; i++) buf[i - used] = buf[i];
        have -= used;
    }
}

__attribute__((noreturn, noinline)) REAPER_NO_SSP void mcpbox_reaper(pid_t server, int maps_fd) {
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct caps[2] = {{0, 0, 0}, {0, 0, 0}};
    raw4(SYS_capset, (long)&hdr, (long)caps, 0, 0);
    raw4(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0);
    uint64_t all = ~(uint64_t)0;
    if (REAPER_RAW && maps_fd >= 0) {
        /* This frame stays: the line buffer and the loop's locals, about 2 KiB (everything
         * below is inlined or a raw system call; no signal handler ever runs in pid 1). */
        unsigned long frame = (unsigned long)__builtin_frame_address(0);
        unsigned long keep_lo = (frame - 4096) & ~(REAPER_PAGE - 1);
        unsigned long keep_hi = (frame + 16 + REAPER_PAGE - 1) & ~(REAPER_PAGE - 1);
        release_inherited(maps_fd, keep_lo, keep_hi, unregister_rseq());
    }
    raw4(SYS_close_range, 0, ~0U, 0, 0);
    for (;;) {
        siginfo_t info;
        long sig = raw4(SYS_rt_sigtimedwait, (long)&all, (long)&info, 0, sizeof all);
        if (sig > 0 && sig < 64 && ((1UL << sig) & REAPER_FORWARDED)) raw4(SYS_kill, server, sig, 0, 0);
        int status;
        long p;
        while ((p = raw4(SYS_wait4, -1, (long)&status, WNOHANG, 0)) > 0) {
            if (p != server) continue;
            long code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 125;
            raw4(SYS_exit_group, code, 0, 0, 0);
        }
    }
}
#endif
