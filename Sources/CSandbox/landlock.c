/* Landlock rulesets: see mcpbox_landlock.h. The same functions serve the launch (the server's
 * last steps, inside the new mount view) and the test-only harness (on the host view). */
#if defined(__linux__)
#include "mcpbox_landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

/* uapi structs, spelled out here: the installed headers may predate ABI 4 and 6. */
struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

struct ll_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

struct ll_net_port_attr {
    uint64_t allowed_access;
    uint64_t port;
};

#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2
#define LL_CREATE_RULESET_VERSION (1U << 0)

int mcpbox_landlock_abi(void) {
    int saved = errno;
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
    errno = saved;
    return v > 0 ? (int)v : 0;
}

/* The ruleset attr is passed with the size that holds its last non-zero field, so a kernel
 * older than ABI 4 (or 6) sees the struct it knows. */
static size_t attr_size(const struct ll_ruleset_attr *a) {
    if (a->scoped) return sizeof *a;
    if (a->handled_access_net) return offsetof(struct ll_ruleset_attr, scoped);
    return offsetof(struct ll_ruleset_attr, handled_access_net);
}

int mcpbox_landlock_prepare(const struct mcpbox_landlock *ll, int *failed) {
    *failed = -1;
    struct ll_ruleset_attr attr = {ll->handled_fs, ll->handled_net, ll->scoped};
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size(&attr), 0);
    if (rs < 0) return -1;
    for (size_t i = 0; i < ll->n_rules; i++) {
        const struct mcpbox_landlock_rule *r = &ll->rules[i];
        struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                               .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
        int fd = (int)syscall(SYS_openat2, AT_FDCWD, r->path, &how, sizeof how);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) goto fail_rule;
        struct ll_path_beneath_attr pb = {
            .allowed_access = r->access & ll->handled_fs,
            .parent_fd = fd,
        };
        if (!S_ISDIR(st.st_mode)) pb.allowed_access &= MCPBOX_LL_FS_FILE_RIGHTS;
        if (pb.allowed_access &&
            syscall(SYS_landlock_add_rule, rs, LL_RULE_PATH_BENEATH, &pb, 0) < 0)
            goto fail_rule;
        close(fd);
        continue;
    fail_rule: {
        int e = errno;
        if (fd >= 0) close(fd);
        close(rs);
        *failed = (int)i;
        errno = e;
        return -1;
    }
    }
    for (size_t i = 0; i < ll->n_ports; i++) {
        struct ll_net_port_attr np = {ll->ports[i].access & ll->handled_net, ll->ports[i].port};
        if (np.allowed_access && syscall(SYS_landlock_add_rule, rs, LL_RULE_NET_PORT, &np, 0) < 0) {
            int e = errno;
            close(rs);
            errno = e;
            return -1;
        }
    }
    return rs;
}

int mcpbox_landlock_enforce(int ruleset_fd) {
    long rc = syscall(SYS_landlock_restrict_self, ruleset_fd, 0);
    int e = errno;
    close(ruleset_fd);
    errno = e;
    return rc < 0 ? -1 : 0;
}
#endif
