/// The seccomp presets as data: every list the compiler, `summary` and explain read.
///
/// The `default` allow-list follows Docker's default profile (moby profiles/seccomp/default.json)
/// for x86_64, minus what the sandbox refuses outright (`refused`), plus syscalls newer than that
/// file that current libcs use. Changing any list changes the policy fingerprint, so the
/// precompiled filters stop matching until `scripts/gen-seccomp` is run again.
enum SeccompTables {
    /// Allowed unconditionally by the `default` preset.
    static let defaultAllowed: [String] = [
        "accept", "accept4", "access", "alarm", "arch_prctl", "bind", "brk",
        "cachestat", "capget", "capset", "chdir", "chmod", "chown",
        "clock_getres", "clock_gettime", "clock_nanosleep", "close", "close_range",
        "connect", "copy_file_range", "creat",
        "dup", "dup2", "dup3",
        "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
        "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
        "execve", "execveat", "exit", "exit_group",
        "faccessat", "faccessat2", "fadvise64", "fallocate", "fanotify_mark",
        "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchownat", "fcntl",
        "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
        "fsetxattr", "fstat", "fstatfs", "fsync", "ftruncate",
        "futex", "futex_requeue", "futex_wait", "futex_waitv", "futex_wake", "futimesat",
        "get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents", "getdents64",
        "getegid", "geteuid", "getgid", "getgroups", "getitimer", "getpeername",
        "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom",
        "getresgid", "getresuid", "getrlimit", "getrusage", "getsid", "getsockname",
        "getsockopt", "gettid", "gettimeofday", "getuid", "getxattr",
        "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
        "ioprio_get", "ioprio_set",
        "kill",
        "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
        "lchown", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr",
        "lremovexattr", "lseek", "lsetxattr", "lstat",
        "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret",
        "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall",
        "mmap", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
        "mq_timedsend", "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv",
        "msgsnd", "msync", "munlock", "munlockall", "munmap",
        "nanosleep", "newfstatat",
        "open", "openat", "openat2",
        "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
        "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "prctl",
        "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
        "pwrite64", "pwritev", "pwritev2",
        "read", "readahead", "readlink", "readlinkat", "readv", "recvfrom", "recvmmsg",
        "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
        "restart_syscall", "rmdir", "rseq",
        "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
        "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo",
        "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity",
        "sched_getattr", "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
        "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
        "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
        "sendfile", "sendmmsg", "sendmsg", "sendto",
        "set_robust_list", "set_thread_area", "set_tid_address",
        "setfsgid", "setfsuid", "setgid", "setgroups", "setitimer", "setpgid",
        "setpriority", "setregid", "setresgid", "setresuid", "setreuid", "setrlimit",
        "setsid", "setsockopt", "setuid", "setxattr",
        "getxattrat", "listxattrat", "removexattrat", "setxattrat",
        "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack",
        "signalfd", "signalfd4", "socketpair", "splice", "stat", "statfs", "statx",
        "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo",
        "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
        "timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime",
        "timerfd_settime", "times", "tkill", "truncate",
        "umask", "uname", "unlink", "unlinkat", "utime", "utimensat", "utimes",
        "vfork", "vmsplice",
        "wait4", "waitid", "write", "writev",
    ]

    /// `personality` values the `default` preset allows (Docker's: PER_LINUX, PER_LINUX32,
    /// UNAME26, UNAME26|PER_LINUX32, and the 0xffffffff query).
    static let personalityValues: [UInt64] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff]

    /// Syscalls whose arguments the guard filters in both presets; `allow` cannot lift these.
    static let guarded: [String] = ["clone", "clone3", "ioctl", "socket", "unshare"]

    /// Refused in both presets: kernel attack surface, other processes' memory, host-wide state.
    static let refused: [String] = [
        "acct", "add_key", "adjtimex", "bpf", "chroot", "clock_adjtime", "clock_settime",
        "delete_module", "fanotify_init", "finit_module", "fsconfig", "fsmount", "fsopen",
        "fspick", "init_module", "io_uring_enter", "io_uring_register", "io_uring_setup",
        "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl",
        "lookup_dcookie", "mount", "mount_setattr", "move_mount", "name_to_handle_at",
        "nfsservctl", "open_by_handle_at", "open_tree", "open_tree_attr", "perf_event_open",
        "pidfd_getfd", "pivot_root", "process_madvise", "process_vm_readv",
        "process_vm_writev", "ptrace", "quotactl", "quotactl_fd", "reboot", "request_key",
        "setns", "settimeofday", "swapoff", "swapon", "syslog", "umount2", "uselib",
        "userfaultfd", "vhangup",
    ]

    /// Native AIO: `io_setup` takes from `fs.aio-max-nr`, one budget for the whole host, so both
    /// presets answer ENOSYS (libaio users fall back to threads) unless `allow` names them.
    static let aioSyscalls: [String] = [
        "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_setup", "io_submit",
    ]

    /// fcntl commands refused: F_SETLEASE (a lease stalls every other opener of the file, the
    /// host user's programs included, for `lease-break-time`).
    static let refusedFcntls: [UInt64] = [1024]

    /// x86_64 numbers of syscalls newer than the libseccomp this was built against
    /// (consulted only when libseccomp does not know the name).
    static let newerX86_64: [(name: String, number: Int32)] = [
        ("mseal", 462), ("setxattrat", 463), ("getxattrat", 464), ("listxattrat", 465),
        ("removexattrat", 466), ("open_tree_attr", 467),
    ]

    /// Namespace flags `clone` and `unshare` may not carry: CLONE_NEWTIME, CLONE_NEWNS,
    /// CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET.
    static let namespaceFlags: [UInt64] = [
        0x0000_0080, 0x0002_0000, 0x0200_0000, 0x0400_0000,
        0x0800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000,
    ]

    /// ioctl requests refused: TIOCSTI (fake terminal input), TIOCLINUX (console control).
    static let refusedIoctls: [UInt64] = [0x5412, 0x541C]

    /// Mode bits no file the server creates or changes may carry: S_ISUID, S_ISGID. A setuid
    /// file left in a read-write path would run as the server's host account for anyone on the
    /// host (systemd's RestrictSUIDSGID); `openat2` hides its mode in a struct and gets ENOSYS.
    static let refusedModeBits: [UInt64] = [0o4000, 0o2000]
    /// Syscalls that set a mode, and the index of their mode argument.
    static let modeArguments: [(name: String, index: UInt32)] = [
        ("chmod", 1), ("fchmod", 1), ("fchmodat", 2), ("fchmodat2", 2), ("creat", 1), ("mknod", 1),
        ("mknodat", 2),
    ]
    /// Syscalls whose mode counts only with a creating flag: name, flags index, mode index.
    static let openModeArguments: [(name: String, flags: UInt32, mode: UInt32)] = [("open", 1, 2), ("openat", 2, 3)]
    /// The creating open flags: O_CREAT, __O_TMPFILE.
    static let creatingOpenFlags: [UInt64] = [0o100, 0o2000_0000]

    /// Socket families allowed: AF_UNIX, AF_INET, AF_INET6 (AF_NETLINK separately, route only).
    static let socketFamilies: [UInt64] = [1, 2, 10]
    static let afNetlink: UInt64 = 16
    /// Families below this bound are refused one by one; anything above it in one comparison.
    static let socketFamilyBound: UInt64 = 16
}
