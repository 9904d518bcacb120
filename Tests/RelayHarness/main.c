/* relay-harness: runs COMMAND unsandboxed on O_CLOEXEC pipes and relays its stdio with
 * mcpbox_relay_run(), exactly as `mcpbox run` does after the launch. Test and benchmark use only.
 *
 *   relay-harness [--grace SECONDS] [--wall SECONDS] -- COMMAND [ARGS...] */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/close_range.h>
#include "mcpbox_relay.h"

int main(int argc, char **argv) {
    /* Whatever the test process leaked must not keep the pipes open (as the Launcher does). */
    close_range(3, ~0U, 0);
    double grace = 3, wall = 0;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--")) { i++; break; }
        if (i + 1 < argc && !strcmp(argv[i], "--grace")) grace = atof(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--wall")) wall = atof(argv[++i]);
        else { fprintf(stderr, "relay-harness: unknown argument %s\n", argv[i]); return 125; }
    }
    if (i >= argc) { fprintf(stderr, "usage: relay-harness [--grace S] [--wall S] -- COMMAND [ARGS...]\n"); return 125; }

    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
        fprintf(stderr, "relay-harness: pipe2: %s\n", strerror(errno));
        return 125;
    }
    pid_t pid = fork();
    if (pid < 0) { fprintf(stderr, "relay-harness: fork: %s\n", strerror(errno)); return 125; }
    if (pid == 0) {
        /* Like the sandbox's server: a new session, stdio from the relay pipes only. */
        setsid();
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0) _exit(125);
        execvp(argv[i], argv + i);
        _exit(errno == ENOENT ? 127 : 126);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    struct mcpbox_relay_config config = {
        .client_in = 0, .client_out = 1, .client_err = 2,
        .server_in = in[1], .server_out = out[0], .server_err = err[0],
        .child = pid, .grace_seconds = grace, .wall_time_seconds = wall,
    };
    return mcpbox_relay_run(&config);
}
