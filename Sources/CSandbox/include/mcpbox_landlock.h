/* Landlock, the sandbox's second wall: the same plan as the mount view, as kernel access
 * rules on paths, TCP ports and scopes (see landlock.c). The parent probes the ABI and derives
 * the rules (MCPBoxCore/Landlock.swift, already masked to that ABI); the server applies them
 * in its last steps before execve, and test-only harnesses apply the very same code on the
 * host. Raw syscalls only; safe between clone and execve. */
#ifndef MCPBOX_LANDLOCK_H
#define MCPBOX_LANDLOCK_H
#if defined(__linux__)
#include <stddef.h>
#include <stdint.h>

/* Filesystem rights (uapi linux/landlock.h), with the ABI that introduced each. */
#define MCPBOX_LL_FS_EXECUTE (1ULL << 0)
#define MCPBOX_LL_FS_WRITE_FILE (1ULL << 1)
#define MCPBOX_LL_FS_READ_FILE (1ULL << 2)
#define MCPBOX_LL_FS_READ_DIR (1ULL << 3)
#define MCPBOX_LL_FS_REMOVE_DIR (1ULL << 4)
#define MCPBOX_LL_FS_REMOVE_FILE (1ULL << 5)
#define MCPBOX_LL_FS_MAKE_CHAR (1ULL << 6)
#define MCPBOX_LL_FS_MAKE_DIR (1ULL << 7)
#define MCPBOX_LL_FS_MAKE_REG (1ULL << 8)
#define MCPBOX_LL_FS_MAKE_SOCK (1ULL << 9)
#define MCPBOX_LL_FS_MAKE_FIFO (1ULL << 10)
#define MCPBOX_LL_FS_MAKE_BLOCK (1ULL << 11)
#define MCPBOX_LL_FS_MAKE_SYM (1ULL << 12)
#define MCPBOX_LL_FS_REFER (1ULL << 13)     /* ABI 2 */
#define MCPBOX_LL_FS_TRUNCATE (1ULL << 14)  /* ABI 3 */
#define MCPBOX_LL_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
/* The rights that apply to a regular file (a rule on a non-directory may hold only these). */
#define MCPBOX_LL_FS_FILE_RIGHTS (MCPBOX_LL_FS_EXECUTE | MCPBOX_LL_FS_WRITE_FILE | \
                                  MCPBOX_LL_FS_READ_FILE | MCPBOX_LL_FS_TRUNCATE | \
                                  MCPBOX_LL_FS_IOCTL_DEV)
/* Network rights (ABI 4). */
#define MCPBOX_LL_NET_BIND_TCP (1ULL << 0)
#define MCPBOX_LL_NET_CONNECT_TCP (1ULL << 1)
/* Scopes (ABI 6). */
#define MCPBOX_LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define MCPBOX_LL_SCOPE_SIGNAL (1ULL << 1)

/* One filesystem rule: `access` beneath `path` (absolute, no symlinks). On a non-directory
 * only the file rights of `access` are granted. */
struct mcpbox_landlock_rule {
    const char *path;
    uint64_t access;
};

/* One TCP port rule: `access` (MCPBOX_LL_NET_*) for `port`. */
struct mcpbox_landlock_port {
    uint64_t port;
    uint64_t access;
};

/* A complete ruleset, every mask already limited to what the probed ABI supports. */
struct mcpbox_landlock {
    uint64_t handled_fs;      /* rights denied unless a rule grants them */
    uint64_t handled_net;     /* 0 on ABI < 4 */
    uint64_t scoped;          /* 0 on ABI < 6 */
    const struct mcpbox_landlock_rule *rules;
    size_t n_rules;
    const struct mcpbox_landlock_port *ports;
    size_t n_ports;
};

/* landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION): the kernel's Landlock
 * ABI version, or 0 when Landlock is absent or disabled (ENOSYS, EOPNOTSUPP). */
int mcpbox_landlock_abi(void);

/* Creates the ruleset and adds every rule, each path opened with openat2(O_PATH,
 * RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS) in the caller's current mount view. Returns the
 * ruleset fd (close-on-exec), or -1 with errno and *failed set to the index of the rule that
 * failed (-1 when it was not a filesystem rule). */
int mcpbox_landlock_prepare(const struct mcpbox_landlock *ll, int *failed);

/* landlock_restrict_self(ruleset_fd, 0), then closes the fd; needs no_new_privs (or
 * CAP_SYS_ADMIN). 0, or -1 with errno. */
int mcpbox_landlock_enforce(int ruleset_fd);

#endif /* __linux__ */
#endif /* MCPBOX_LANDLOCK_H */
