/* cgroup v1 join latency, started early.
 *
 * Writing to a v1 cgroup's cgroup.procs/tasks takes the kernel's global cgroup threadgroup
 * rwsem for writing; when no such write happened in the last grace period, that first waits for
 * an RCU grace period (8-24 ms measured here under load, the busier the host the longer). A write within one grace
 * period of another one's end does not wait, and one made while another waits shares its
 * period. mcpbox joins pid 1 only after the plan is built and pid 1 is cloned; this thread
 * starts that wait at the beginning instead, on a thread that only sleeps in the kernel, by
 * re-writing its own thread id into the memory cgroup it is already in (no move, no change
 * to any group; the thread then exits). */
#if defined(__linux__)
#include "mcpbox_launch.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static char warm_path[4096];

static void *warm_main(void *arg) {
    (void)arg;
    int fd = open(warm_path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        char tid[24];
        int n = snprintf(tid, sizeof tid, "%ld", (long)syscall(SYS_gettid));
        if (n > 0) (void)!pwrite(fd, tid, (size_t)n, 0);
        close(fd);
    }
    return NULL;
}

/* The `tasks` file of this process's v1 memory cgroup, from /proc/self/cgroup; 0 or -1. */
static int memory_tasks_path(char *out, size_t size) {
    int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    for (char *line = buf; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        /* "ID:memory:/path" (v1); the controller list may name others too ("4:memory:/x"). */
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2) {
            *c2 = 0;
            if (strcmp(c1 + 1, "memory") == 0 && c2[1] == '/' && !strstr(c2 + 1, "/..")) {
                int len = snprintf(out, size, "/sys/fs/cgroup/memory%s%stasks", c2 + 1, c2[2] ? "/" : "");
                return len > 0 && (size_t)len < size ? 0 : -1;
            }
        }
        line = next;
    }
    return -1;
}

void mcpbox_cgroup_warm_start(void) {
    if (memory_tasks_path(warm_path, sizeof warm_path) < 0 || access(warm_path, W_OK) < 0) return;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t t;
    (void)pthread_create(&t, &attr, warm_main, NULL);
    pthread_attr_destroy(&attr);
}
#endif
