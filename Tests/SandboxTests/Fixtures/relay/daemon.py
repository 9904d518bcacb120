#!/usr/bin/env python3
"""Leaves a daemon behind: double-forks a grandchild that calls setsid and execs
`sleep argv[1]` (a unique marker the test looks for on the host). Prints `ready` once the
grandchild has exec'd, then with `exit` exits 0 at once; otherwise exits 0 at stdin EOF."""
import os
import sys

r, w = os.pipe()  # close-on-exec: EOF on r means the grandchild has exec'd
if os.fork() == 0:
    os.close(r)
    os.setsid()
    if os.fork() == 0:
        devnull = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.execv("/usr/bin/sleep", ["sleep", sys.argv[1]])
    os._exit(0)
os.close(w)
os.wait()
os.read(r, 1)
os.write(1, b"ready\n")
if len(sys.argv) > 2 and sys.argv[2] == "exit":
    sys.exit(0)
while os.read(0, 4096):
    pass
