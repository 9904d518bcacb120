/* Precompiled seccomp programs (Sources/CSandbox/seccomp_precompiled.c, written by
 * scripts/gen-seccomp): classic-BPF `struct sock_filter` arrays keyed by the fingerprint of
 * the policy they were compiled from (Seccomp.fingerprint in MCPBoxCore). */
#ifndef MCPBOX_SECCOMP_H
#define MCPBOX_SECCOMP_H
#include <stddef.h>
#include <stdint.h>

struct mcpbox_seccomp_blob {
    uint64_t fingerprint;
    const unsigned char *bpf;  /* struct sock_filter[], native byte order */
    size_t len;                /* bytes (8 per instruction) */
};

/* The embedded program for `fingerprint`, with its length in bytes; NULL when none. */
const unsigned char *mcpbox_seccomp_precompiled(uint64_t fingerprint, size_t *len);

#endif /* MCPBOX_SECCOMP_H */
