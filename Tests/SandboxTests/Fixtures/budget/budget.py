#!/usr/bin/env python3
"""Tries to take a host-wide budget from inside the sandbox, bounded, and holds what it got
until stdin closes, so the test can look at the host meanwhile.

  budget.py aio           io_setup(1024) up to 4 times          -> "aio CONTEXTS ERRNO"
  budget.py lease FILE    fcntl(F_SETLEASE, F_RDLCK) on FILE    -> "lease RESULT ERRNO"
  budget.py inotify       inotify_init1 up to 1000 times        -> "inotify COUNT ERRNO"
  budget.py tcp MIB       fills loopback TCP buffers, at most MIB MiB -> "tcp BYTES"
Then "holding"; exits 0 at stdin EOF.
"""
import ctypes
import errno
import fcntl
import os
import socket
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
kept = []


def say(line):
    os.write(1, (line + "\n").encode())


def aio():
    contexts, err = 0, 0
    for _ in range(4):
        ctx = ctypes.c_ulong(0)
        if libc.syscall(206, ctypes.c_long(1024), ctypes.byref(ctx)) != 0:  # io_setup
            err = ctypes.get_errno()
            break
        contexts += 1
    say("aio %d %d" % (contexts, err))


def lease(path):
    fd = os.open(path, os.O_RDONLY)
    kept.append(fd)
    r = libc.fcntl(fd, 1024, fcntl.F_RDLCK)  # F_SETLEASE
    say("lease %d %d" % (r, ctypes.get_errno() if r != 0 else 0))


def inotify():
    count, err = 0, 0
    for _ in range(1000):
        fd = libc.inotify_init1(os.O_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            break
        kept.append(fd)
        count += 1
    say("inotify %d %d" % (count, err))


def tcp(mib):
    cap = mib << 20
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    kept.append(listener)
    chunk = b"x" * (1 << 20)
    total = 0
    for _ in range(64):
        if total >= cap:
            break
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        c.connect(listener.getsockname())
        s, _ = listener.accept()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        kept.extend([c, s])
        c.setblocking(False)
        while total < cap:
            try:
                n = c.send(chunk[: min(len(chunk), cap - total)])
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno in (errno.ENOBUFS, errno.ENOMEM):
                    break
                raise
            total += n
    say("tcp %d" % total)


what = sys.argv[1]
if what == "aio":
    aio()
elif what == "lease":
    lease(sys.argv[2])
elif what == "inotify":
    inotify()
elif what == "tcp":
    tcp(int(sys.argv[2]))
say("holding")
while os.read(0, 4096):
    pass
