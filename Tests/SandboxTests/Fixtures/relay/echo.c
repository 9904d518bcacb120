/* The benchmark's echo server in C (scripts/bench-relay builds it): stdin to stdout, unchanged,
 * as soon as it arrives; exits 0 at EOF. No interpreter noise in the round-trip figures. */
#include <unistd.h>

int main(void) {
    static char buf[1 << 20];
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n <= 0) return n < 0;
        for (char *p = buf; n > 0;) {
            ssize_t m = write(1, p, (size_t)n);
            if (m < 0) return 1;
            p += m;
            n -= m;
        }
    }
}
