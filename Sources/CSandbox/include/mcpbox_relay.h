/* The stdio relay between the MCP client and the sandboxed server. */
#ifndef MCPBOX_RELAY_H
#define MCPBOX_RELAY_H
#if defined(__linux__)
#include <sys/types.h>

struct mcpbox_relay_config {
    int client_in, client_out, client_err;  /* mcpbox's own 0, 1, 2 */
    int server_in, server_out, server_err;  /* mcpbox's ends of the server's pipes */
    pid_t child;                            /* the sandbox's pid 1 (waited for) */
    double grace_seconds;                   /* escalation grace (see README, "Lifecycle") */
    double wall_time_seconds;               /* 0 = unlimited */
};

/* Relays until the server is gone and its output drained; returns the exit status mcpbox
 * should exit with (the server's, or 128+N for signal N). */
int mcpbox_relay_run(const struct mcpbox_relay_config *config);

#endif
#endif
