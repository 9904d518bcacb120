#!/usr/bin/env python3
"""Runs argv[1:] (an `mcpbox run` command) with a pseudo-terminal's master as its stdout and
stdin from /dev/null, and copies to its own stdout what arrives at the terminal's slave: the bytes
written to the master, unchanged (the slave is raw). It keeps its own copy of the master open, so
that the terminal is not hung up (and its unread input dropped) when the command exits. Stops 1 s
after the command ended with nothing more to read, or after 30 s in all; exits with the
command's status."""
import os
import select
import subprocess
import sys
import time
import tty

master, slave = os.openpty()
tty.setraw(slave)
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=master)
deadline = time.monotonic() + 30
quiet_after = None
while time.monotonic() < deadline:
    if child.poll() is not None and quiet_after is None:
        quiet_after = time.monotonic() + 1
    if quiet_after is not None and time.monotonic() > quiet_after:
        break
    ready, _, _ = select.select([slave], [], [], 0.1)
    if ready:
        data = os.read(slave, 65536)
        if not data:
            break
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        if quiet_after is not None:
            quiet_after = time.monotonic() + 1
if child.poll() is None:
    child.kill()
sys.exit(child.wait())
