/* The benchmark client's timing loop in C (loaded by scripts/bench-relay with ctypes): `count`
 * request/response round trips of `msg` over (wfd, rfd), each one's nanoseconds into `out`.
 * Returns 0, or -1 when the server closed its stdout. */
#include <time.h>
#include <unistd.h>

int roundtrips(int wfd, int rfd, const char *msg, long len, int count, long long *out) {
    char buf[65536];
    struct timespec a, b;
    for (int i = 0; i < count; i++) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long off = 0; off < len;) {
            ssize_t n = write(wfd, msg + off, (size_t)(len - off));
            if (n <= 0) return -1;
            off += n;
        }
        for (long got = 0; got < len;) {
            ssize_t n = read(rfd, buf, sizeof buf);
            if (n <= 0) return -1;
            got += n;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        out[i] = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    }
    return 0;
}
