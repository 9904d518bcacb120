/* The relay host: `mcpbox run`'s own process stays a small C relay from its first instruction.
 *
 * At start-up (a constructor of the mcpbox executable, before any Swift code) `mcpbox run`
 * forks a worker and the original process, the one the client started and signals, waits:
 *   - the worker runs mcpbox as usual: it plans, checks and starts the sandbox; for a plain
 *     session (no MCP layer, no egress enforcement point, no gVisor, nothing to do after the
 *     session but removing cgroups) it clones the sandbox's pid 1 as a child of the host
 *     (CLONE_PARENT) and, once the server has exec'd, hands the host its ends of the server's
 *     pipes, pid 1 and the cgroup directories (mcpbox_host_handoff), then exits;
 *   - the host then runs mcpbox_relay_run itself and removes the cgroups: its memory is the
 *     relay's and what the C library's start-up touched, never the Swift start-up's (the
 *     worker's pages are its own, gone when it exits);
 *   - when the worker relays itself (the MCP layer, egress, gVisor, package markers, git
 *     sweeps: Swift work during or after the session), its relay says so first; the host gives
 *     up its stdio, forwards the relay's signals to the worker (whose relay forwards only
 *     those), and exits as the worker does (the same code, or the same signal);
 *   - when the worker exits without either (usage errors, a refused profile, a failed launch:
 *     it has said why on stderr), the host exits as it did.
 * Signals the relay forwards stay blocked in the host from the start: one that arrives before
 * the relay runs waits and is forwarded once the server runs. The worker dies with the host
 * (PR_SET_PDEATHSIG); pid 1 dies with its parent, the host. */
#ifndef MCPBOX_HOST_H
#define MCPBOX_HOST_H
#if defined(__linux__)
#include <sys/types.h>
#include "mcpbox_relay.h"

#define MCPBOX_HOST_MAX_CGROUPS 2
#define MCPBOX_HOST_CGROUP_PATH 256

/* In the worker: its end of the host socket (-1 when there is no host: every process but a
 * worker of `mcpbox run`, tests included; -1 again once the worker relays itself). */
int mcpbox_host_socket(void);

/* In the worker: the host's pid (0 without one). */
pid_t mcpbox_host_pid(void);

/* Called once from the executable's constructor with its argc/argv: for `mcpbox run` (not
 * --dry-run, not --help), forks the worker; returns in the worker (and in the one process when
 * the host cannot be set up: socketpair, fork or pidfd_open failed); never returns in the host. */
void mcpbox_host_start(int argc, char **argv);

/* In the worker, once the server has exec'd: sends the host the server ends of `config` (the
 * client ends are the host's own 0-2), pid 1 (a child of the host), the grace and wall time,
 * and the cgroup directories to remove after pid 1 is reaped (at most MCPBOX_HOST_MAX_CGROUPS,
 * each shorter than MCPBOX_HOST_CGROUP_PATH). Returns 0 (the worker then exits) or -1 with errno. */
int mcpbox_host_handoff(const struct mcpbox_relay_config *config, const char *const *cgroup_dirs,
                        int n_cgroup_dirs);

/* In the worker, before it relays itself: tells the host (once; nothing without a host). */
void mcpbox_host_proxy(void);

#endif
#endif
