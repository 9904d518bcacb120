#!/usr/bin/env python3
"""Prints `got SIGNAME` for each forwarded signal; SIGTERM also exits 7 (unless the argument
`ignore-term` is given); exits 0 at stdin EOF."""
import os
import signal
import sys

def handler(signum, _frame):
    os.write(1, f"got {signal.Signals(signum).name}\n".encode())
    if signum == signal.SIGTERM and "ignore-term" not in sys.argv[1:]:
        os._exit(7)

for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM):
    signal.signal(sig, handler)
os.write(1, b"ready\n")
while True:
    try:
        if not os.read(0, 4096):
            break
    except InterruptedError:
        pass
sys.exit(0)
