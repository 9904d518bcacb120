/* The stdio relay between the MCP client and the sandboxed server.
 *
 * One poll() loop in C moves bytes client stdin -> server stdin, server stdout -> client
 * stdout and server stderr -> client stderr, unchanged and as soon as they arrive: splice()
 * when both ends are pipes (no copy; stdin and stdout only), else read/write through one fixed
 * 64 KiB buffer per direction. A source is read only when its destination accepts, so memory stays bounded
 * whatever the peers do.
 *
 * Lifecycle (the MCP stdio shutdown sequence, enforced):
 *   - client stdin EOF: the server's stdin is closed; client stdout gone (EPIPE/POLLERR/POLLHUP):
 *     the server's stdout is closed (it sees EPIPE); server stdout EOF: client stdout is closed,
 *     stderr keeps flowing.
 *   - SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 sent to mcpbox are forwarded to `child`;
 *     while the client is there, its own signals decide the shutdown (mcpbox adds none).
 *   - mcpbox's own escalation, only when the client is gone: its end of stdout closed (EPIPE,
 *     POLLERR/POLLHUP), or stdin EOF where its presence cannot be seen (client stdout neither a
 *     pipe, a socket nor a tty, or already closed). Then the child gets `grace_seconds` to exit,
 *     then SIGTERM, then another grace, then SIGKILL (which ends the whole pid namespace).
 *     Reaching `wall_time_seconds` sends SIGTERM at once, then SIGKILL after the grace. Every
 *     signal mcpbox sends on its own is said on client_err ("mcpbox: sent SIGTERM ...").
 *   - When the child exits, what the server left in its stdout/stderr pipes is forwarded (the
 *     namespace is empty by then, so nothing more can come), waiting at most max(grace, 1 s)
 *     without progress for a client that does not read; then the child's status is returned.
 *
 * The caller creates all six fds; the server ends may be blocking (the relay sets O_NONBLOCK on
 * them). The client's file descriptions are never changed (they may be shared with the client):
 * a client stdin or stdout pipe (anonymous; a named FIFO is left as it is) is replaced, on the
 * same fd number, by a non-blocking file description of the relay's own on the same pipe
 * (reopened through /proc/self/fd), the only ones it splices (splice() takes RWF_NOWAIT
 * support away from the files it touches); a terminal or named FIFO as stdout is reopened the
 * same way, and as stderr written through an extra such description (neither supports
 * RWF_NOWAIT); other client fds are used with RWF_NOWAIT, and stderr is copied, never spliced.
 * On return the
 * forwarded signals stay blocked and SIGPIPE ignored: the caller is expected to exit with the
 * returned status. */
#ifndef MCPBOX_RELAY_H
#define MCPBOX_RELAY_H
#if defined(__linux__)
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

/* The MCP layer's hook (issue 9). When a relay_config carries one, the client->server (dir 0)
 * and server->client (dir 1) bytes are handed to `input` as they are read (no splice for those
 * two directions; stderr is untouched) and the relay writes out what the filter queued:
 * `pending` for dir 0 goes to the server's stdin, for dir 1 to the client's stdout. A direction's
 * source is read only when its own queue is empty (and, for dir 0, when dir 1's queue holds at
 * most MCPBOX_RELAY_FILTER_BACKLOG bytes), so the filter's memory stays bounded by what it holds
 * for one message. Without a filter the relay is exactly the plain byte loop. */
#define MCPBOX_RELAY_FILTER_BACKLOG (1024 * 1024)
/* What `tick` returns to end the session. */
#define MCPBOX_RELAY_FILTER_STOP (-2)
struct mcpbox_relay_filter {
    void *context;
    /* `len` bytes read in direction `dir`; len 0 = that source's end (flush what is held).
     * Returns 0, or -1 to end the session (the filter has said why on stderr). */
    int (*input)(void *context, int dir, const char *bytes, size_t len);
    /* The bytes queued for dir's destination: their count, the first one in *bytes. NULL in
     * *bytes: they lie in a file instead (a line spooled out of memory), see `pending_file`. */
    size_t (*pending)(void *context, int dir, const char **bytes);
    /* Where `pending`'s bytes lie when it gave NULL: returns the file's fd and sets *offset. The
     * relay sends them with splice (a pipe destination: the pages move, no copy) or through its
     * buffer, and reports them to `consumed` like any others. Never called when `pending` only
     * gives memory (it may then be NULL). */
    int (*pending_file)(void *context, int dir, int64_t *offset);
    /* `count` bytes of the queue were written (or dropped: the destination is gone). */
    void (*consumed)(void *context, int dir, size_t count);
    /* Optional (NULL: the filter has no clock). Called once per loop turn while the child runs,
     * with CLOCK_MONOTONIC in milliseconds: the filter acts on what fell due (queueing its own
     * messages, written right after) and returns when it next needs a call (same clock), or -1
     * for never. The relay's poll() wakes up by then, so a deadline the filter sets is kept
     * however quiet both peers are. MCPBOX_RELAY_FILTER_STOP ends the session as `input`'s -1
     * does (the filter has said why): the relay reads and writes nothing more for it. */
    int64_t (*tick)(void *context, int64_t now_ms);
    /* Optional (NULL: every byte is copied through `input` and `pending`). Whether dir's current
     * line is passed on as it arrives, with nothing queued ahead of it: its next bytes may then be
     * handed over with `input_verbatim`. */
    int (*passes_through)(void *context, int dir);
    /* `input` for bytes the relay read into a buffer it keeps until they are written: the filter
     * sets *verbatim to how many leading bytes it passes on unchanged without queueing them, and
     * the relay sends those to dir's destination before anything the filter queues. The server's
     * are written from `bytes`, never spliced: a pipe's pages may be its writer's memory
     * (vmsplice) or a file's, changeable after they were judged, and a server can reopen its own
     * stdout pipe for reading (/proc/self/fd/1) and swap the bytes still in it. The client's (dir
     * 0, both ends pipes) were tee'd into `bytes` and are spliced on from the client's pipe: the
     * same pages, which only the client, their author, can reach. */
    int (*input_verbatim)(void *context, int dir, const char *bytes, size_t len, size_t *verbatim);
};

struct mcpbox_relay_config {
    int client_in, client_out, client_err;  /* mcpbox's own 0, 1, 2 */
    int server_in, server_out, server_err;  /* mcpbox's ends of the server's pipes (owned: closed) */
    pid_t child;                            /* the sandbox's pid 1, a child of the caller (reaped) */
    double grace_seconds;                   /* escalation grace; 0 = at once; < 0 or NaN = 2 s */
    double wall_time_seconds;               /* 0 = unlimited */
    const struct mcpbox_relay_filter *filter; /* NULL: plain byte relay */
};

/* Relays until the child is gone and its output drained; returns the exit status mcpbox
 * should exit with: the child's exit code, or 128+N when signal N killed it (137 after the
 * relay's own SIGKILL). Returns 125 (after a `mcpbox: ...` line on client_err and killing the
 * child) if the relay cannot be set up. */
int mcpbox_relay_run(const struct mcpbox_relay_config *config);

/* One line of mcpbox's own (a newline is added when missing) on the client's stderr. While a relay
 * runs (the MCP layer's messages), it never blocks: written like the relay's own lines, at most
 * PIPE_BUF bytes in one write, dropped when the client's stderr has no room (a blocking write
 * to a client that did not read its stderr froze the session). Otherwise a blocking write to fd 2. */
void mcpbox_relay_say(const char *text);

/* Blocks the signals the relay forwards (TERM, INT, HUP, QUIT, USR1, USR2), so that one arriving
 * before mcpbox_relay_run waits for it instead of killing mcpbox; fills *set with them. */
void mcpbox_relay_block_forwarded(sigset_t *set);

#endif
#endif
