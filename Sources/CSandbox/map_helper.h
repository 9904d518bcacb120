/* Internal: running newuidmap/newgidmap, shared by launch.c and userns_exec.c (parent side,
 * after clone). */
#ifndef MCPBOX_MAP_HELPER_H
#define MCPBOX_MAP_HELPER_H
#if defined(__linux__)
#include <stddef.h>
#include <sys/types.h>

/* Runs HELPER PID ARGS... (newuidmap or newgidmap) and waits for it. With `msg` (len > 0) its
 * stdin and stdout are /dev/null and its stderr is collected into `msg`; without, it keeps the
 * caller's stdio. Returns 0 when it exited 0, else its exit status (128+signal when a signal
 * ended it, errno EPERM), 127 when it cannot be run (errno: why; `msg`: "cannot run HELPER:
 * WHY"), 125 when a pipe or wait failed (errno: why). */
int mcpbox_run_map_helper(const char *helper, pid_t pid, const char *const *args, char *msg,
                          size_t len);

#endif
#endif
