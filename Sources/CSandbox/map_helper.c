/* mcpbox_run_map_helper: see map_helper.h. */
#if defined(__linux__)
#include "map_helper.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int mcpbox_run_map_helper(const char *helper, pid_t pid, const char *const *args, char *msg,
                          size_t len) {
    char pidstr[16];
    snprintf(pidstr, sizeof pidstr, "%d", (int)pid);
    const char *argv[64];
    size_t n = 0;
    argv[n++] = helper;
    argv[n++] = pidstr;
    for (size_t i = 0; args && args[i] && n < 63; i++) argv[n++] = args[i];
    argv[n] = NULL;
    int collect = msg && len;
    int errp[2] = {-1, -1};
    if (collect && pipe2(errp, O_CLOEXEC) < 0) return 125;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (collect) {
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    }
    pid_t child;
    int rc = posix_spawn(&child, helper, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (collect) close(errp[1]);
    if (rc != 0) {
        if (collect) {
            close(errp[0]);
            snprintf(msg, len, "cannot run %s: %s", helper, strerror(rc));
        }
        errno = rc;
        return 127;
    }
    if (collect) {
        size_t used = 0;
        for (;;) {
            char buf[256];
            ssize_t r = read(errp[0], buf, sizeof buf);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            for (ssize_t i = 0; i < r && used + 1 < len; i++) msg[used++] = buf[i];
        }
        msg[used < len ? used : len - 1] = 0;
        close(errp[0]);
    }
    int status;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR) return 125;
    errno = EPERM;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 125;
}
#endif
