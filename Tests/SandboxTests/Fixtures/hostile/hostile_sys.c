/* Raw-syscall escape attempts for the hostile-server suite (x86_64 Linux).
 *
 * Usage: hostile_sys OUT.json
 * Each probe runs in its own forked child, so a probe that the seccomp filter kills (SIGSYS)
 * or that faults (an ABI the kernel lacks) cannot take the others down. Every probe uses the
 * harmless form of its call: attach only to our own child, load nothing, query instead of set.
 * Writes one JSON object {name: {"ok": bool, "detail": str}}; ok means the escape failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define X32_BIT 0x40000000L
#define X32_NR_ptrace (X32_BIT + 521)
#define X32_NR_getpid (X32_BIT + 39)
#define I386_NR_getpid 20
#define I386_NR_ptrace 26

/* What a probe child reports: the raw return value and errno. */
struct outcome {
    long ret;
    int err;
};

/* What counts as "the escape failed". */
enum rule {
    FAIL_ANY,    /* any failure (-1) */
    FAIL_EPERM,  /* -1 with EPERM/EACCES/ENOSYS: refused, not merely a bad argument */
    FAIL_ENOSYS, /* -1 with ENOSYS exactly */
};

static FILE *out;
static int first = 1;
static volatile long target_word = 0x6d6370626f78L;

static void emit(const char *name, int ok, const char *detail) {
    fprintf(out, "%s\"%s\": {\"ok\": %s, \"detail\": \"", first ? "" : ",\n ", name, ok ? "true" : "false");
    for (const char *p = detail; *p; p++) {
        if (*p == '"' || *p == '\\') fputc('\\', out);
        if ((unsigned char)*p >= 0x20) fputc(*p, out);
    }
    fputs("\"}", out);
    first = 0;
}

/* A child that waits to be attached to; dies with its parent (and the probe's process group). */
static pid_t spawn_target(void) {
    pid_t parent = getpid();
    pid_t t = fork();
    if (t == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(0);
        for (;;) pause();
    }
    return t;
}

static void reap_target(pid_t t) {
    if (t > 0) {
        kill(t, SIGKILL);
        waitpid(t, NULL, 0);
    }
}

static long i386_syscall3(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "0"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

typedef struct outcome (*probe_fn)(void);

static struct outcome make(long ret) {
    struct outcome o = {ret, ret == -1 ? errno : 0};
    return o;
}

/* i386 ABI returns -errno in eax. */
static struct outcome make_raw(long ret) {
    struct outcome o = {ret, 0};
    if (ret < 0 && ret > -4096) {
        o.err = (int)-ret;
        o.ret = -1;
    }
    return o;
}

static struct outcome p_ptrace_native(void) {
    pid_t t = spawn_target();
    struct outcome o = make(syscall(SYS_ptrace, PTRACE_ATTACH, t, 0, 0));
    if (o.ret == 0) ptrace(PTRACE_DETACH, t, 0, 0);
    reap_target(t);
    return o;
}

static struct outcome p_ptrace_x32(void) {
    pid_t t = spawn_target();
    struct outcome o = make(syscall(X32_NR_ptrace, PTRACE_ATTACH, t, 0, 0));
    if (o.ret == 0) ptrace(PTRACE_DETACH, t, 0, 0);
    reap_target(t);
    return o;
}

static struct outcome p_ptrace_int80(void) {
    pid_t t = spawn_target();
    struct outcome o = make_raw(i386_syscall3(I386_NR_ptrace, PTRACE_ATTACH, t, 0));
    if (o.ret == 0) ptrace(PTRACE_DETACH, t, 0, 0);
    reap_target(t);
    return o;
}

static struct outcome p_i386_getpid(void) { return make_raw(i386_syscall3(I386_NR_getpid, 0, 0, 0)); }
static struct outcome p_x32_getpid(void) { return make(syscall(X32_NR_getpid)); }

static struct outcome p_process_vm_readv(void) {
    pid_t t = spawn_target();
    long buf = 0;
    struct iovec local = {&buf, sizeof buf};
    struct iovec remote = {(void *)&target_word, sizeof target_word};
    struct outcome o = make(syscall(SYS_process_vm_readv, t, &local, 1, &remote, 1, 0));
    reap_target(t);
    return o;
}

static struct outcome p_io_uring_setup(void) {
    char params[120];
    memset(params, 0, sizeof params);
    return make(syscall(425 /* io_uring_setup */, 1, params));
}

static struct outcome p_clone3(void) {
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWUSER | CLONE_NEWNS;
    args.exit_signal = SIGCHLD;
    long r = syscall(435 /* clone3 */, &args, sizeof args);
    if (r == 0) _exit(0);
    struct outcome o = make(r);
    if (r > 0) waitpid((pid_t)r, NULL, 0);
    return o;
}

static struct outcome p_clone_newuser(void) {
    long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (r == 0) _exit(0);
    struct outcome o = make(r);
    if (r > 0) waitpid((pid_t)r, NULL, 0);
    return o;
}

static struct outcome p_unshare_user(void) { return make(unshare(CLONE_NEWUSER)); }
static struct outcome p_unshare_mount(void) { return make(unshare(CLONE_NEWNS)); }

static struct outcome p_setns(void) {
    int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) _exit(4);
    struct outcome o = make(setns(fd, CLONE_NEWNET));
    close(fd);
    return o;
}

/* The target is a fresh private directory, so even a successful mount hides nothing. */
static struct outcome p_mount(void) {
    char dir[] = "/tmp/mcpbox-hostile-mnt.XXXXXX";
    if (!mkdtemp(dir)) _exit(4); /* no result: reported as a failed probe, never as a pass */
    struct outcome o = make(mount("mcpbox-hostile", dir, "tmpfs", 0, "size=1m"));
    if (o.ret == 0) umount2(dir, MNT_DETACH);
    rmdir(dir);
    return o;
}

static struct outcome p_umount(void) { return make(umount2("/mcpbox-hostile-nonexistent", MNT_DETACH)); }

static struct outcome p_keyctl(void) {
    return make(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
}

static struct outcome p_add_key(void) {
    return make(syscall(SYS_add_key, "user", "mcpbox-hostile", "x", 1, KEY_SPEC_PROCESS_KEYRING));
}

static struct outcome p_request_key(void) {
    return make(syscall(SYS_request_key, "user", "mcpbox-hostile", NULL, KEY_SPEC_PROCESS_KEYRING));
}

static struct outcome p_bpf(void) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    struct outcome o = make(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr));
    if (o.ret >= 0) close((int)o.ret);
    return o;
}

static struct outcome p_perf_event_open(void) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.size = sizeof attr;
    attr.config = PERF_COUNT_SW_TASK_CLOCK;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    struct outcome o = make(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
    if (o.ret >= 0) close((int)o.ret);
    return o;
}

static struct outcome p_userfaultfd(void) {
    struct outcome o = make(syscall(SYS_userfaultfd, O_CLOEXEC));
    if (o.ret >= 0) close((int)o.ret);
    return o;
}

/* Invalid flags: a caller allowed past the capability check gets EINVAL, harmlessly. */
static struct outcome p_kexec_load(void) { return make(syscall(SYS_kexec_load, 0, 0, NULL, 0x5a5a0000UL)); }
static struct outcome p_kexec_file_load(void) {
    return make(syscall(SYS_kexec_file_load, -1, -1, 0, NULL, 0x5a5a0000UL));
}

static struct outcome p_init_module(void) { return make(syscall(SYS_init_module, NULL, 0, "")); }
static struct outcome p_finit_module(void) { return make(syscall(SYS_finit_module, -1, "", 0)); }

static struct outcome p_open_by_handle_at(void) {
    struct {
        unsigned int handle_bytes;
        int handle_type;
        unsigned char f_handle[8];
    } h = {8, 1, {0}};
    struct outcome o = make(syscall(SYS_open_by_handle_at, AT_FDCWD, &h, O_RDONLY));
    if (o.ret >= 0) close((int)o.ret);
    return o;
}

static struct outcome p_syslog(void) { return make(syscall(SYS_syslog, 10 /* SIZE_BUFFER */, NULL, 0)); }

static struct outcome tiocsti(int fd) {
    char c = ' ';
    return make(ioctl(fd, TIOCSTI, &c));
}
/* The kernel truncates the request to 32 bits; the filter must compare the same bits. */
static struct outcome p_tiocsti_high(void) {
    char c = ' ';
    return make(syscall(SYS_ioctl, 0, 0x100000000UL | TIOCSTI, &c));
}

/* openat2 carries its mode in a struct the filter cannot read: answered ENOSYS, so a setuid
 * mode cannot slip through it. The file would be created in /tmp only. */
static struct outcome p_openat2(void) {
    struct {
        uint64_t flags, mode, resolve;
    } how = {O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 04755, 0};
    char path[64];
    snprintf(path, sizeof path, "/tmp/hostile-openat2-%d", (int)getpid());
    struct outcome o = make(syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how));
    if (o.ret >= 0) {
        close((int)o.ret);
        unlink(path);
    }
    return o;
}
static struct outcome p_tiocsti0(void) { return tiocsti(0); }
static struct outcome p_tiocsti1(void) { return tiocsti(1); }
static struct outcome p_tiocsti2(void) { return tiocsti(2); }

static struct outcome p_tioclinux(void) {
    char sub = 7; /* TIOCL_GETMOUSEREPORTING: a query */
    return make(ioctl(0, TIOCLINUX, &sub));
}

static struct outcome p_chroot(void) { return make(chroot("/tmp")); }
static struct outcome p_setuid0(void) { return make(syscall(SYS_setuid, 0)); }

static void probe(const char *name, probe_fn fn, enum rule rule) {
    int fds[2];
    char detail[256];
    if (pipe(fds) != 0) {
        emit(name, 0, "pipe failed");
        return;
    }
    fflush(out);
    pid_t c = fork();
    if (c == 0) {
        setpgid(0, 0);
        close(fds[0]);
        struct outcome o = fn();
        if (write(fds[1], &o, sizeof o) != sizeof o) _exit(3);
        _exit(0);
    }
    close(fds[1]);
    /* The result fits in the pipe buffer: wait first, then kill whatever the probe left
     * behind (a target it forked) so nothing holds the pipe open. */
    setpgid(c, c);
    int status = 0;
    waitpid(c, &status, 0);
    kill(-c, SIGKILL);
    struct outcome o;
    ssize_t n = read(fds[0], &o, sizeof o);
    close(fds[0]);
    if (n != sizeof o) {
        if (WIFSIGNALED(status)) {
            snprintf(detail, sizeof detail, "probe killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
            emit(name, 1, detail);
        } else {
            snprintf(detail, sizeof detail, "probe exited %d without a result", WEXITSTATUS(status));
            emit(name, 0, detail);
        }
        return;
    }
    int ok = 0;
    if (o.ret != -1) {
        ok = 0;
        snprintf(detail, sizeof detail, "call SUCCEEDED (returned %ld)", o.ret);
    } else {
        switch (rule) {
        case FAIL_ANY: ok = 1; break;
        case FAIL_EPERM: ok = o.err == EPERM || o.err == EACCES || o.err == ENOSYS; break;
        case FAIL_ENOSYS: ok = o.err == ENOSYS; break;
        }
        snprintf(detail, sizeof detail, "refused: %s (errno %d)%s", strerror(o.err), o.err,
                 ok ? "" : (rule == FAIL_ENOSYS ? ", expected ENOSYS" : ", reached the kernel's argument checks"));
    }
    emit(name, ok, detail);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.json\n", argv[0]);
        return 2;
    }
    out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 2;
    }
    fputs("{", out);
    probe("ptrace", p_ptrace_native, FAIL_ANY);
    probe("ptrace_x32", p_ptrace_x32, FAIL_ANY);
    probe("ptrace_int80", p_ptrace_int80, FAIL_ANY);
    probe("i386_abi_refused", p_i386_getpid, FAIL_ANY);
    probe("x32_abi_refused", p_x32_getpid, FAIL_ANY);
    probe("process_vm_readv", p_process_vm_readv, FAIL_ANY);
    probe("io_uring_setup", p_io_uring_setup, FAIL_ANY);
    probe("clone3_enosys", p_clone3, FAIL_ENOSYS);
    probe("clone_newuser", p_clone_newuser, FAIL_ANY);
    probe("unshare_user", p_unshare_user, FAIL_ANY);
    probe("unshare_mount", p_unshare_mount, FAIL_ANY);
    probe("setns", p_setns, FAIL_ANY);
    probe("mount", p_mount, FAIL_ANY);
    probe("umount", p_umount, FAIL_EPERM);
    probe("keyctl", p_keyctl, FAIL_ANY);
    probe("add_key", p_add_key, FAIL_ANY);
    probe("request_key", p_request_key, FAIL_EPERM);
    probe("bpf", p_bpf, FAIL_ANY);
    probe("perf_event_open", p_perf_event_open, FAIL_ANY);
    probe("userfaultfd", p_userfaultfd, FAIL_ANY);
    probe("kexec_load", p_kexec_load, FAIL_EPERM);
    probe("kexec_file_load", p_kexec_file_load, FAIL_EPERM);
    probe("init_module", p_init_module, FAIL_EPERM);
    probe("finit_module", p_finit_module, FAIL_EPERM);
    probe("open_by_handle_at", p_open_by_handle_at, FAIL_EPERM);
    probe("syslog", p_syslog, FAIL_ANY);
    probe("tiocsti_fd0", p_tiocsti0, FAIL_ANY);
    probe("tiocsti_fd1", p_tiocsti1, FAIL_ANY);
    probe("tiocsti_fd2", p_tiocsti2, FAIL_ANY);
    probe("tiocsti_high_bits", p_tiocsti_high, FAIL_ANY);
    probe("openat2_enosys", p_openat2, FAIL_ENOSYS);
    probe("tioclinux", p_tioclinux, FAIL_ANY);
    probe("chroot_raw", p_chroot, FAIL_ANY);
    probe("setuid0_raw", p_setuid0, FAIL_ANY);
    fputs("}\n", out);
    return fclose(out) == 0 ? 0 : 1;
}
