/* Internal to the child stage: raw-syscall helpers shared by launch.c and mounts.c.
 * Everything here runs after clone(), in a copy of one thread of a multi-threaded process:
 * no malloc, no stdio, no locks, no glibc wrappers that talk to other threads. */
#ifndef MCPBOX_LAUNCH_CHILD_H
#define MCPBOX_LAUNCH_CHILD_H
#if defined(__linux__)
#include "mcpbox_launch.h"

/* Writes {stage, err, index} to the error pipe and exits with `code`. */
__attribute__((noreturn)) void mcpbox_child_fail(int error_fd, int stage, int err, int index,
                                                 int code);

/* Most mounts a sandbox may have (bounds the child's stack array of trees). */
#define MCPBOX_MAX_MOUNTS 1024

/* statx(2): the mount's unique 64-bit id (Linux 6.8), what statmount(2) takes. */
#define MCPBOX_STATX_MNT_ID_UNIQUE 0x00004000U

/* A detached clone (open_tree OPEN_TREE_CLONE|AT_RECURSIVE) of the object `fd` refers to,
 * nosuid,nodev (ro when `read_only`), private; -1 with errno. */
int mcpbox_clone_tree(int fd, int read_only);

/* Makes every mount private and turns each bind source into a detached tree in trees[i]
 * (-1 for other kinds). Runs before setresuid: an unprivileged caller's sources are
 * re-opened with the caller's own access. On failure reports and exits. */
void mcpbox_prepare_mounts(const struct mcpbox_launch *launch, int error_fd, int *trees);

/* Detaches the old root stacked on the new one after pivot_root(".", "."), given the new
 * root's fd and the old root's unique mount id; 0 once the detach is under way (the caller
 * makes sure it is done before the server starts), -1 with errno. */
typedef int (*mcpbox_detach_fn)(void *ctx, int root_fd, uint64_t old_root_id);

/* Builds the whole filesystem view from `trees` and the plan, pivots into it, and makes the
 * root read-only. The old root is detached by `detach` (with `ctx`) when given, else here
 * with umount2 (which waits for an RCU grace period). Must run as pid 1 of the new pid
 * namespace (for procfs) with a mapped uid (files it creates need an owner). On failure
 * reports and exits. */
void mcpbox_build_root(const struct mcpbox_launch *launch, int error_fd, const int *trees,
                       mcpbox_detach_fn detach, void *ctx);

/* Network helper, inside the new network namespace with lo up: makes the egress listeners
 * and sends them to mcpbox on launch->egress_fd (egress.c); -1 with errno. */
int mcpbox_egress_listeners(const struct mcpbox_launch *launch);

/* pid 1 after the server is forked (reaper.c): no fds, no capabilities, not dumpable (the
 * server runs as the same uid and must not be able to ptrace it or write its /proc/1/mem).
 * It releases the memory it inherited from mcpbox (its mappings read from `maps_fd`, an fd
 * of /proc/self/maps, or -1 to keep them), forwards the terminating signals to the server,
 * reaps every orphan, and exits with the server's status, which kills whatever is left in
 * the pid namespace. */
__attribute__((noreturn)) void mcpbox_reaper(pid_t server, int maps_fd);

#endif
#endif
