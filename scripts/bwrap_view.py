# The bwrap command the benchmarks compare mcpbox with (imported by bench-startup, bench-memory
# and startup-timeline, so all three run the same one): what `mcpbox run base` shows the
# server, for bwrap — profiles/base.toml's read-only paths, the merged-/usr links as symlinks,
# mcpbox's own /etc/passwd, /etc/group and /etc/hosts (as files), a tmpfs HOME as the working
# directory, hostname "mcpbox", a cleared environment, uid/gid 65534 (what mcpbox does for root
# without [user]).
import os
import tempfile

ETC_FILES = {
    "passwd": "root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534::/home/nobody:/bin/sh\n",
    "group": "root:x:0:\nnogroup:x:65534:\n",
    "hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tmcpbox\n",
}

BASE_READ_ONLY = ("/etc/ssl/certs", "/etc/ssl/openssl.cnf", "/etc/ca-certificates", "/etc/ca-certificates.conf",
                  "/etc/pki/tls/certs", "/etc/pki/tls/openssl.cnf", "/etc/pki/ca-trust", "/etc/localtime",
                  "/etc/timezone", "/etc/nsswitch.conf", "/etc/ld.so.cache", "/etc/alternatives")


def make_etc_dir():
    """A world-readable directory holding mcpbox's passwd, group and hosts; the caller removes it."""
    etc_dir = tempfile.mkdtemp(prefix="mcpbox-bench-etc-")
    os.chmod(etc_dir, 0o755)
    for name, text in ETC_FILES.items():
        path = os.path.join(etc_dir, name)
        with open(path, "w") as fh:
            fh.write(text)
        os.chmod(path, 0o644)
    return etc_dir


def bwrap_base(etc_dir):
    """bwrap's argv up to the command (append e.g. ["/bin/true"])."""
    args = ["bwrap", "--unshare-all", "--new-session", "--die-with-parent", "--cap-drop", "ALL",
            "--uid", "65534", "--gid", "65534", "--hostname", "mcpbox", "--clearenv",
            "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", "/home/nobody",
            "--ro-bind", "/usr", "/usr"]
    for link in ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"):
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    for path in BASE_READ_ONLY:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    for name in ETC_FILES:
        args += ["--ro-bind", os.path.join(etc_dir, name), "/etc/" + name]
    return args + ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/home/nobody",
                   "--chdir", "/home/nobody"]
