/* A program run as uid and gid 0 of a new user namespace whose maps newuidmap/newgidmap write:
 * gVisor's runsc for an ordinary user (userns_exec.c; GVisorRootless.swift says why). */
#ifndef MCPBOX_USERNS_H
#define MCPBOX_USERNS_H
#if defined(__linux__)
#include <sys/types.h>

/* Stages reported by mcpbox_userns_spawn. Keep in sync with GVisorUserNamespace.stageName. */
enum mcpbox_userns_stage {
    MCPBOX_USERNS_PIPE = 1,
    MCPBOX_USERNS_CLONE,
    MCPBOX_USERNS_UID_MAP,
    MCPBOX_USERNS_GID_MAP,
    MCPBOX_USERNS_SYNC,
    MCPBOX_USERNS_IDENTITY,
    MCPBOX_USERNS_PDEATHSIG,
    MCPBOX_USERNS_SETSID,
    MCPBOX_USERNS_STDIO,
    MCPBOX_USERNS_EXEC,
};

struct mcpbox_userns_exec {
    const char *path;
    char *const *argv;
    char *const *envp;
    int stdin_fd, stdout_fd, stderr_fd;
    const char *newuidmap_path;
    const char *newgidmap_path;
    /* "inside outside count" triples after the pid, NULL-terminated. */
    const char *const *uid_map_args;
    const char *const *gid_map_args;
};

/* Starts `x->path`: clone(CLONE_NEWUSER); the parent runs newuidmap and newgidmap on the child
 * (their stderr into `map_error`, NUL-terminated, at most `map_error_len` bytes); the child
 * then drops its supplementary groups, takes uid and gid 0 of the namespace (setgroups,
 * setresgid, setresuid: raw syscalls), gets a parent-death SIGKILL, starts a new session, takes
 * its stdio, closes every other fd at execve, resets every signal and execs. Returns 0 with
 * *pid once execve succeeded, else -1 with *stage (enum mcpbox_userns_stage) and *err (errno;
 * for the map stages the helper's exit status) and nothing left running. */
int mcpbox_userns_spawn(const struct mcpbox_userns_exec *x, pid_t *pid, int *stage, int *err,
                        char *map_error, size_t map_error_len);

#endif
#endif
