#ifndef MCPBOX_CSECCOMP_SHIM_H
#define MCPBOX_CSECCOMP_SHIM_H
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <seccomp.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/memfd.h>

/* Function-like libseccomp macros and variadic calls do not import into Swift;
   these inline wrappers expose them. */

static inline uint32_t mcpbox_scmp_act_errno(uint16_t e) { return SCMP_ACT_ERRNO(e); }
static inline uint32_t mcpbox_scmp_act_kill_process(void) { return SCMP_ACT_KILL_PROCESS; }
static inline uint32_t mcpbox_scmp_act_allow(void) { return SCMP_ACT_ALLOW; }
static inline uint32_t mcpbox_scmp_act_log(void) { return SCMP_ACT_LOG; }
static inline uint32_t mcpbox_scmp_arch_native(void) { return SCMP_ARCH_NATIVE; }

/** seccomp_rule_add_array with an explicit comparison array (may be NULL when count is 0). */
static inline int mcpbox_scmp_rule_add(scmp_filter_ctx ctx, uint32_t action, int syscall,
                                       unsigned int count, const struct scmp_arg_cmp *cmps) {
    return seccomp_rule_add_array(ctx, action, syscall, count, cmps);
}

/** Builds one argument comparison (the SCMP_A0..SCMP_A5 macros are variadic). */
static inline struct scmp_arg_cmp mcpbox_scmp_arg(unsigned int arg, enum scmp_compare op,
                                                  uint64_t datum_a, uint64_t datum_b) {
    struct scmp_arg_cmp c = { arg, op, datum_a, datum_b };
    return c;
}

/** seccomp_export_bpf through a memfd (libseccomp 2.5 exports only to an fd); copies the
    program into buf. Returns its length in bytes, or -errno. */
static inline long mcpbox_scmp_export_bpf(void *buf, size_t cap, scmp_filter_ctx ctx) {
    int fd = (int)syscall(SYS_memfd_create, "mcpbox-seccomp", MFD_CLOEXEC);
    if (fd < 0) return -errno;
    long rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0) { close(fd); return rc; }
    off_t len = lseek(fd, 0, SEEK_END);
    if (len < 0) { rc = -errno; close(fd); return rc; }
    if ((size_t)len > cap) { close(fd); return -ENOSPC; }
    size_t done = 0;
    while (done < (size_t)len) {
        ssize_t n = pread(fd, (char *)buf + done, (size_t)len - done, (off_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { rc = n < 0 ? -errno : -EIO; close(fd); return rc; }
        done += (size_t)n;
    }
    close(fd);
    return (long)len;
}
#endif
