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

/* Builds the whole filesystem view in the current (new) mount namespace, pivots into it,
 * and makes the root read-only. Must run as pid 1 of the new pid namespace (for procfs).
 * On failure reports through the error pipe and exits. */
void mcpbox_build_root(const struct mcpbox_launch *launch, int error_fd);

#endif
#endif
