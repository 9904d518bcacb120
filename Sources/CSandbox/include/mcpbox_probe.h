/* Probes for `mcpbox doctor` (probe.c): try what a launch needs, in a throwaway child. */
#ifndef MCPBOX_PROBE_H
#define MCPBOX_PROBE_H
#if defined(__linux__)

/* Forks a child that creates a user namespace, then (with the capabilities it holds there) the
 * mount, pid, network, IPC, UTS and cgroup namespaces a sandbox gets. Returns 0 when all were
 * created, else the errno of the first failure, with *step = 1 (user namespace) or 2 (the
 * others); -1 when the probe itself could not run. */
int mcpbox_probe_namespaces(int *step);

#endif
#endif
