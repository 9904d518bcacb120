/* Probes for `mcpbox doctor`: each one runs what a launch would in a child that then exits. */
#include "mcpbox_probe.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

int mcpbox_probe_namespaces(int *step) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls here: the parent may have threads. */
        int result[2] = {0, 0};
        if (unshare(CLONE_NEWUSER) != 0) {
            result[0] = errno;
            result[1] = 1;
        } else if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP) != 0) {
            result[0] = errno;
            result[1] = 2;
        }
        ssize_t unused = write(fds[1], result, sizeof result);
        (void)unused;
        _exit(0);
    }
    close(fds[1]);
    int result[2] = {0, 0};
    ssize_t n;
    do { n = read(fds[0], result, sizeof result); } while (n < 0 && errno == EINTR);
    close(fds[0]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    if (n != (ssize_t)sizeof result) return -1;
    *step = result[1];
    return result[0];
}
