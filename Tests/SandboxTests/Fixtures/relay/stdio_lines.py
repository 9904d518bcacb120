"""What the hostile stdout fixtures (vmsplice.py, reread.py) share: reading the client's lines
from stdin, writing all of a buffer, and how many bytes wait unread in stdout's pipe."""
import fcntl
import os
import struct
import sys
import termios

_pending = b""


def line():
    """The next line from stdin, without its newline; exits at EOF."""
    global _pending
    while b"\n" not in _pending:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            sys.exit(0)
        _pending += chunk
    first, _pending = _pending.split(b"\n", 1)
    return first


def write(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def unread():
    """Bytes written to stdout that its reader (mcpbox) has not taken yet."""
    return struct.unpack("i", fcntl.ioctl(1, termios.FIONREAD, b"\0" * 4))[0]
