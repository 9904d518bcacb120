#!/usr/bin/env python3
"""`status.py exit N` exits with N; `status.py signal N` kills itself with signal N.
Either way after writing `bye` to stdout and stderr."""
import os
import signal
import sys

os.write(1, b"bye\n")
os.write(2, b"bye\n")
if sys.argv[1] == "exit":
    sys.exit(int(sys.argv[2]))
if int(sys.argv[2]) not in (signal.SIGKILL, signal.SIGSTOP):
    signal.signal(int(sys.argv[2]), signal.SIG_DFL)
os.kill(os.getpid(), int(sys.argv[2]))
