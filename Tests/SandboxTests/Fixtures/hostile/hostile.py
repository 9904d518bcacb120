"""A hostile server for the sandbox suite: tries every escape, harmlessly, from inside.

Usage: python3 hostile.py CONFIG.json   (a file: argv is visible to every process inside)
Prints one JSON object {check: {"ok": bool, "detail": str}} on stdout; ok means the escape
failed (or, for a legitimate operation, that it worked). Python standard library only.
Every attempt is the harmless form: files are opened for writing but never written, only
secrets the test planted are read, and connections go only to listeners the test opened on
127.0.0.1, an abstract socket and a socket file. Nothing is sent anywhere else.
"""
import os

# Before anything else opens a file: which descriptors beyond 0-2 did we inherit?
STARTUP_FDS = []
for _fd in range(3, 1024):
    try:
        os.fstat(_fd)
        STARTUP_FDS.append(_fd)
    except OSError:
        pass

import errno
import json
import pwd
import socket
import stat
import subprocess
import sys
import signal
import threading
import time

with open(sys.argv[1]) as _f:
    CONFIG = json.load(_f)
RESULTS = {}


def check(name, legit=False):
    """Register a check; an unexpected exception counts against it, never for it."""
    def wrap(fn):
        try:
            ok, detail = fn()
        except Exception as e:  # noqa: BLE001 - any surprise is a failed check
            ok, detail = False, "check crashed: %s: %s" % (type(e).__name__, e)
        RESULTS[name] = {"ok": bool(ok), "detail": str(detail), "kind": "legit" if legit else "escape"}
        return fn
    return wrap


def oserr(e):
    return "%s (%s)" % (errno.errorcode.get(e.errno, e.errno), e.strerror) if isinstance(e, OSError) else repr(e)


def refused(action):
    """Run action; ok when it raises OSError."""
    try:
        result = action()
    except OSError as e:
        return True, "refused: " + oserr(e)
    return False, "SUCCEEDED: %r" % (result,)


def refused_in_child(action):
    """Like refused, in a forked child: a call that changes the process (chroot, setuid)
    must not change the rest of the run if it succeeds."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.write(w, json.dumps(refused(action)).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        data = f.read()
    os.waitpid(pid, 0)
    return tuple(json.loads(data)) if data else (False, "probe child died")


def try_open(path, flags):
    fd = os.open(path, flags | os.O_CLOEXEC)
    os.close(fd)
    return "opened %s" % path


def try_create(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    os.close(fd)
    os.unlink(path)
    return "created %s" % path


def try_read_all(path):
    with open(path, "rb") as f:
        return f.read()


def try_read(path):
    with open(path, "rb") as f:
        return f.read(64)


# ---- inherited state -------------------------------------------------------------------

@check("inherited_fds_closed")
def _():
    if not STARTUP_FDS:
        return True, "no descriptor beyond 0-2 at startup"
    names = []
    for fd in STARTUP_FDS:
        try:
            names.append("%d -> %s" % (fd, os.readlink("/proc/self/fd/%d" % fd)))
        except OSError:
            names.append("%d" % fd)
    leaked = CONFIG["fd_secret"].encode()
    for fd in STARTUP_FDS:
        try:
            if leaked in os.pread(fd, 4096, 0):
                names.append("fd %d holds the parent's secret" % fd)
        except OSError:
            pass
    return False, "inherited: " + ", ".join(names)


@check("env_secret_hidden")
def _():
    secret = CONFIG["env_secret"]
    found = [k for k, v in os.environ.items() if secret in v or secret in k]
    if found:
        return False, "in own environment: " + ", ".join(found)
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        for part in ("environ", "cmdline"):
            if part == "cmdline" and pid == str(os.getpid()):
                continue
            try:
                data = try_read_all("/proc/%s/%s" % (pid, part))
            except OSError:
                continue
            if secret.encode() in data:
                return False, "found in /proc/%s/%s" % (pid, part)
    return True, "not in the environment nor any readable /proc/*/environ (%d vars)" % len(os.environ)


@check("capabilities_empty")
def _():
    status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
    bad = []
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        if int(status.get(key, "ffff").strip(), 16) != 0:
            bad.append("%s=%s" % (key, status.get(key, "?").strip()))
    if status.get("NoNewPrivs", "").strip() != "1":
        bad.append("NoNewPrivs=%s" % status.get("NoNewPrivs", "?").strip())
    if status.get("Seccomp", "").strip() != "2":
        bad.append("Seccomp=%s (2 = filter)" % status.get("Seccomp", "?").strip())
    summary = " ".join("%s=%s" % (k, status.get(k, "?").strip())
                       for k in ("CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters"))
    return not bad, ("bad: " + ", ".join(bad) + "; " if bad else "") + summary


@check("not_uid_0", legit=True)
def _():
    ids = os.getresuid() + os.getresgid()
    return 0 not in ids, "resuid/resgid inside: %s" % (ids,)


@check("own_session", legit=True)
def _():
    return os.getsid(0) == os.getpid(), "sid=%d pid=%d" % (os.getsid(0), os.getpid())


@check("passwd_names_user", legit=True)
def _():
    return True, "uid %d is %s" % (os.getuid(), pwd.getpwuid(os.getuid()).pw_name)


# ---- filesystem --------------------------------------------------------------------------

@check("etc_shadow_unreadable")
def _():
    return refused(lambda: try_read("/etc/shadow"))


@check("host_file_unreadable")
def _():
    return refused(lambda: try_read(CONFIG["secret_file"]))


@check("home_and_root_unlistable")
def _():
    seen = []
    own_home = os.path.realpath(os.environ.get("HOME", "/nonexistent"))
    for d in ("/home", "/root"):
        try:
            entries = [e for e in os.listdir(d) if os.path.join(d, e) != own_home]
        except OSError as e:
            seen.append("%s: %s" % (d, oserr(e)))
            continue
        if entries:
            return False, "%s lists %s" % (d, entries[:10])
        seen.append("%s: nothing but the sandbox's own HOME" % d)
    return True, "; ".join(seen)


@check("ro_bind_unwritable")
def _():
    a = refused(lambda: try_create(os.path.join(CONFIG["ro_dir"], "created-by-server")))
    b = refused(lambda: try_open(CONFIG["ro_file"], os.O_WRONLY))
    return a[0] and b[0], "create: %s; open existing O_WRONLY: %s" % (a[1], b[1])


@check("usr_unwritable")
def _():
    a = refused(lambda: try_create("/usr/mcpbox-hostile-probe-%d" % os.getpid()))
    b = refused(lambda: try_open(os.path.realpath(os.__file__), os.O_WRONLY))
    return a[0] and b[0], "create: %s; open os.py O_WRONLY: %s" % (a[1], b[1])


@check("root_unwritable")
def _():
    return refused(lambda: try_create("/mcpbox-hostile-probe-%d" % os.getpid()))


@check("symlink_escape")
def _():
    planted = refused(lambda: try_read(CONFIG["planted_symlink"]))
    own = os.path.join(CONFIG["rw_dir"], "link-made-inside")
    os.symlink(CONFIG["secret_file"], own)
    try:
        made = refused(lambda: try_read(own))
    finally:
        os.unlink(own)
    return planted[0] and made[0], "planted link: %s; link made inside: %s" % (planted[1], made[1])


@check("mknod")
def _():
    path = os.path.join(CONFIG["rw_dir"], "mknod-null")

    def attempt():
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        os.unlink(path)
        return "created a char device"
    return refused(attempt)


@check("proc_core_pattern_unwritable")
def _():
    return refused(lambda: try_open("/proc/sys/kernel/core_pattern", os.O_WRONLY))


@check("proc_sysrq_trigger_unwritable")
def _():
    return refused(lambda: try_open("/proc/sysrq-trigger", os.O_WRONLY))


@check("pid1_cmdline_blank")
def _():
    """pid 1 is a copy of mcpbox: its command line (profile path, --set values) must not show."""
    with open("/proc/1/cmdline", "rb") as f:
        data = f.read()
    if data.strip(b"\0"):
        return False, "readable: %r" % data[:200]
    return True, "blank (%d NUL bytes)" % len(data)


@check("proc_sensitive_files_masked")
def _():
    """ARCHITECTURE: /proc/kcore-style files masked (what Docker masks, plus kmsg)."""
    leaks = []
    for path in ("/proc/kcore", "/proc/kmsg", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                 "/proc/latency_stats", "/proc/timer_stats"):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            data = os.read(fd, 256)
        except OSError:
            data = b""
        finally:
            os.close(fd)
        if data:
            leaks.append("%s (%r...)" % (path, data[:40]))
    return not leaks, ("readable: " + "; ".join(leaks)) if leaks else "masked, absent or empty"


def unmovable(path):
    """Renaming `path` (a directory the server owns) must fail; put it back if it did not."""
    moved = path + "-moved"
    try:
        os.rename(path, moved)
    except OSError as e:
        return True, "rename refused: " + oserr(e)
    os.rename(moved, path)
    return False, "renamed %s: the host path is free for a directory of the server's own" % path


@check("nested_ro_bind_unmovable")
def _():
    written = refused(lambda: try_create(os.path.join(CONFIG["nest_ro"], "created-by-server")))
    moved = unmovable(CONFIG["nest_dir"])
    return written[0] and moved[0], "write in the nested read-only bind: %s; its parent: %s" % (written[1], moved[1])


@check("hidden_path_masked_and_unmovable")
def _():
    try:
        data = try_read_all(CONFIG["veiled"])
    except OSError as e:
        data = b""
        masked = (True, "unreadable: " + oserr(e))
    else:
        masked = (CONFIG["veiled_secret"].encode() not in data, "reads %r" % data[:40])
    moved = unmovable(CONFIG["veil_dir"])
    return masked[0] and moved[0], "hidden file: %s; its parent: %s" % (masked[1], moved[1])


@check("setuid_bits_refused")
def _():
    """A setuid or setgid file left in a read-write dir would run as the server's host account."""
    base = os.path.join(CONFIG["rw_dir"], "suid-probe-%d" % os.getpid())
    made = []
    attempts = []

    def note(what, action):
        try:
            action()
            attempts.append("%s: allowed" % what)
        except OSError as e:
            attempts.append("%s: %s" % (what, oserr(e)))

    def create(path, mode):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        made.append(path)
        return fd

    os.close(create(base, 0o755))
    note("chmod u+s", lambda: os.chmod(base, 0o4755))
    note("chmod g+s", lambda: os.chmod(base, 0o2755))
    fd = os.open(base, os.O_RDONLY | os.O_CLOEXEC)
    note("fchmod u+s", lambda: os.fchmod(fd, 0o4755))
    os.close(fd)
    note("open O_CREAT 04755", lambda: os.close(create(base + "-open", 0o4755)))
    note("mknod S_IFREG|02755", lambda: (os.mknod(base + "-mknod", stat.S_IFREG | 0o2755), made.append(base + "-mknod")))
    bad = []
    for path in made:
        mode = os.lstat(path).st_mode
        if mode & (stat.S_ISUID | stat.S_ISGID):
            bad.append("%s mode %o" % (os.path.basename(path), mode & 0o7777))
        os.unlink(path)
    return not bad, ("SET: %s; " % ", ".join(bad) if bad else "") + "; ".join(attempts)


@check("dev_tty_unopenable")
def _():
    return refused(lambda: try_open("/dev/tty", os.O_RDWR | os.O_NOCTTY))


@check("no_block_devices_or_kmsg")
def _():
    found = []
    for top, dirs, files in os.walk("/dev"):
        for n in files + dirs:
            p = os.path.join(top, n)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISBLK(st.st_mode):
                found.append(p)
    for p in ("/dev/kmsg", "/dev/mem", "/dev/kmem", "/dev/port"):
        if os.path.lexists(p):
            found.append(p)
    try:
        blocks = os.listdir("/sys/block")
        if blocks:
            found.append("/sys/block: %s" % blocks)
    except OSError:
        pass
    try:
        listing = sorted(os.listdir("/dev"))
    except OSError as e:
        listing = "(not listable: %s)" % e.strerror
    return not found, ("visible: %s" % found) if found else "/dev has: %s" % listing


@check("read_ro_dir", legit=True)
def _():
    data = try_read(CONFIG["ro_file"]).decode()
    return data == CONFIG["ro_content"], "read %r" % data


@check("write_rw_dir", legit=True)
def _():
    path = os.path.join(CONFIG["rw_dir"], "written-by-server")
    with open(path, "w") as f:
        f.write("hello from inside\n")
    return True, "wrote %s" % path


@check("write_tmp", legit=True)
def _():
    path = "/tmp/hostile-%d" % os.getpid()
    with open(path, "w") as f:
        f.write("x" * 1000)
    ok = os.path.getsize(path) == 1000
    os.unlink(path)
    return ok, "wrote and read back %s" % path


# ---- processes ---------------------------------------------------------------------------

@check("host_processes_invisible")
def _():
    pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    comms = []
    for p in pids[:20]:
        try:
            comms.append("%d:%s" % (p, open("/proc/%d/comm" % p).read().strip()))
        except OSError:
            comms.append(str(p))
    return len(pids) <= 8, "%d pids visible: %s" % (len(pids), " ".join(comms))


@check("host_process_unsignalable")
def _():
    return refused(lambda: os.kill(CONFIG["host_pid"], 0))


@check("chroot")
def _():
    return refused_in_child(lambda: os.chroot("/tmp"))


@check("setuid_0")
def _():
    return refused_in_child(lambda: os.setuid(0))


@check("fork_bomb_contained")
def _():
    """The base profile's process limit stops a fork bomb. Harmless form: at most 1100 children
    that only sleep, all killed again before the check returns."""
    children, failure = [], None
    try:
        for _ in range(1100):
            try:
                pid = os.fork()
            except OSError as e:
                failure = e
                break
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            children.append(pid)
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except OSError:
                pass
    if failure is None:
        return False, "forked all 1100 children"
    return True, "stopped after %d children: %s" % (len(children), oserr(failure))


@check("threads", legit=True)
def _():
    out = []
    threads = [threading.Thread(target=lambda i=i: out.append(sum(range(i * 1000)))) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(out) == 8, "8 threads ran"


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)


@check("shell", legit=True)
def _():
    r = run(["/bin/sh", "-c", "echo $((6 * 7))"])
    return r.returncode == 0 and r.stdout.strip() == "42", "rc=%d out=%r err=%r" % (r.returncode, r.stdout, r.stderr[-300:])


@check("git", legit=True)
def _():
    repo = "/tmp/hostile-git-%d" % os.getpid()
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME="/tmp")
    steps = [["git", "init", "-q", repo],
             ["git", "-C", repo, "-c", "user.name=h", "-c", "user.email=h@example.invalid",
              "commit", "-q", "--allow-empty", "-m", "inside"],
             ["git", "-C", repo, "log", "--oneline"]]
    for argv in steps:
        r = run(argv, env=env)
        if r.returncode != 0:
            return False, "%s: rc=%d %s" % (" ".join(argv[:4]), r.returncode, r.stderr[-300:])
    return "inside" in r.stdout, "git log: %r" % r.stdout.strip()


@check("node", legit=True)
def _():
    node = CONFIG.get("node")
    if not node:
        return False, "node is not installed on the host (scripts/setup installs it)"
    r = run([node, "-e", "console.log(6 * 7)"])
    return r.returncode == 0 and r.stdout.strip() == "42", "rc=%d out=%r err=%r" % (r.returncode, r.stdout, r.stderr[-300:])


# ---- network -----------------------------------------------------------------------------

def connect(family, address):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect(address)
        return "connected to %r" % (address,)
    finally:
        s.close()


@check("host_tcp_listener_unreachable")
def _():
    return refused(lambda: connect(socket.AF_INET, ("127.0.0.1", CONFIG["tcp_port"])))


@check("host_abstract_socket_unreachable")
def _():
    return refused(lambda: connect(socket.AF_UNIX, "\0" + CONFIG["abstract_name"]))


@check("host_unix_socket_file_unreachable")
def _():
    return refused(lambda: connect(socket.AF_UNIX, CONFIG["unix_path"]))


@check("vsock_refused")
def _():
    def attempt():
        socket.socket(40, socket.SOCK_STREAM).close()  # AF_VSOCK
        return "AF_VSOCK socket created"
    return refused(attempt)


@check("dns_fails")
def _():
    try:
        addrs = socket.getaddrinfo("example.com", 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        return True, "refused: %s" % e
    except OSError as e:
        return True, "refused: " + oserr(e)
    return False, "resolved example.com to %s" % sorted({a[4][0] for a in addrs})


@check("only_loopback_interface")
def _():
    names = [line.split(":")[0].strip() for line in open("/proc/net/dev").read().splitlines()[2:]]
    try:
        names += [n for _, n in socket.if_nameindex()]
    except OSError:
        pass
    return set(names) == {"lo"}, "interfaces: %s" % sorted(set(names))


@check("loopback_works", legit=True)
def _():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = socket.create_connection(srv.getsockname(), timeout=5)
    conn, _ = srv.accept()
    c.sendall(b"ping")
    got = conn.recv(4)
    for s in (c, conn, srv):
        s.close()
    return got == b"ping", "echo over 127.0.0.1 inside: %r" % got


# ---- argument filters the seccomp policy must apply exactly ------------------------------

def refused_by_filter(action):
    """ok only for EPERM, the filter's answer: another error means the kernel was reached."""
    try:
        result = action()
    except OSError as e:
        return e.errno == errno.EPERM, ("refused: " if e.errno == errno.EPERM else "REACHED THE KERNEL: ") + oserr(e)
    return False, "SUCCEEDED: %r" % (result,)


@check("fcntl_setlease_refused")
def _():
    # A lease lets the server stall every host process that opens the file (lease-break-time).
    # An exported bundle once allowed it: runc and crun OR two conditions on one argument.
    import fcntl
    path = "/tmp/hostile-lease-%d" % os.getpid()
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        return refused_by_filter(lambda: fcntl.fcntl(fd, 1024, fcntl.F_RDLCK))  # F_SETLEASE
    finally:
        os.close(fd)
        os.unlink(path)


@check("tty_ioctls_filtered_on_any_fd")
def _():
    # TIOCSTI and TIOCLINUX never reach the kernel, whatever the fd (a regular file here).
    import fcntl
    path = "/tmp/hostile-ioctl-%d" % os.getpid()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        details = []
        for name, req in (("TIOCSTI", 0x5412), ("TIOCLINUX", 0x541C)):
            ok, detail = refused_by_filter(lambda: fcntl.ioctl(fd, req, b"x"))
            if not ok:
                return False, "%s %s" % (name, detail)
            details.append("%s %s" % (name, detail))
        return True, "; ".join(details)
    finally:
        os.close(fd)
        os.unlink(path)


# ---- raw syscalls (compiled helper) -------------------------------------------------------

@check("raw_syscall_probe_ran", legit=True)
def _():
    out = "/tmp/hostile-sys-%d.json" % os.getpid()
    # stdin and stderr stay the server's own, so TIOCSTI is tried on what mcpbox gave us.
    r = subprocess.run([CONFIG["sys_bin"], out], stdout=subprocess.DEVNULL, timeout=120)
    if r.returncode != 0:
        return False, "hostile_sys exited %d" % r.returncode
    with open(out) as f:
        raw = json.load(f)
    os.unlink(out)
    for name, result in raw.items():
        RESULTS[name] = dict(result, kind="escape")
    return True, "%d raw-syscall probes" % len(raw)


json.dump(RESULTS, sys.stdout, indent=1, sort_keys=True)
sys.stdout.write("\n")
