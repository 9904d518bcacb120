/* landlock-harness: applies a Landlock ruleset with mcpbox's own code (CSandbox, landlock.c) to
 * itself, on the host's filesystem view (no namespaces, no mounts), then execs a command. Test
 * support only, never shipped: it shows that the rules mcpbox derives from a plan deny access
 * outside the plan on their own, as a second wall behind the mount view.
 *
 *   landlock-harness --fs MASK [--net MASK] [--scope MASK] [--rule MASK PATH]...
 *                    [--port MASK PORT]... -- COMMAND [ARGS...]
 *
 * Exit: 125 when the ruleset cannot be built or enforced (message on stderr), else exec. */
#include "mcpbox_landlock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MAX_RULES 256

static uint64_t number(const char *s) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || !end || *end) {
        fprintf(stderr, "landlock-harness: bad number %s\n", s);
        exit(2);
    }
    return (uint64_t)v;
}

int main(int argc, char **argv) {
    static struct mcpbox_landlock_rule rules[MAX_RULES];
    static struct mcpbox_landlock_port ports[MAX_RULES];
    struct mcpbox_landlock ll = {0};
    ll.rules = rules;
    ll.ports = ports;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) { i++; break; }
        if (strcmp(a, "--fs") == 0 && i + 1 < argc) ll.handled_fs = number(argv[++i]);
        else if (strcmp(a, "--net") == 0 && i + 1 < argc) ll.handled_net = number(argv[++i]);
        else if (strcmp(a, "--scope") == 0 && i + 1 < argc) ll.scoped = number(argv[++i]);
        else if (strcmp(a, "--rule") == 0 && i + 2 < argc && ll.n_rules < MAX_RULES) {
            rules[ll.n_rules].access = number(argv[++i]);
            rules[ll.n_rules++].path = argv[++i];
        } else if (strcmp(a, "--port") == 0 && i + 2 < argc && ll.n_ports < MAX_RULES) {
            ports[ll.n_ports].access = number(argv[++i]);
            ports[ll.n_ports++].port = number(argv[++i]);
        } else {
            fprintf(stderr, "landlock-harness: bad argument %s\n", a);
            return 2;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "landlock-harness: no command\n");
        return 2;
    }
    if (mcpbox_landlock_abi() == 0) {
        fprintf(stderr, "landlock-harness: this kernel has no Landlock\n");
        return 125;
    }
    int failed = -1;
    int rs = mcpbox_landlock_prepare(&ll, &failed);
    if (rs < 0) {
        fprintf(stderr, "landlock-harness: ruleset (rule %d %s): %s\n", failed,
                failed >= 0 ? rules[failed].path : "-", strerror(errno));
        return 125;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || mcpbox_landlock_enforce(rs) < 0) {
        fprintf(stderr, "landlock-harness: enforce: %s\n", strerror(errno));
        return 125;
    }
    execv(argv[i], argv + i);
    fprintf(stderr, "landlock-harness: exec %s: %s\n", argv[i], strerror(errno));
    return 127;
}
