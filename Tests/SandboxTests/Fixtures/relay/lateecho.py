#!/usr/bin/env python3
"""Reads nothing for 1.5 s (its stdin pipe fills), then copies stdin to stdout; exits 0 at EOF."""
import os
import time

time.sleep(1.5)
while True:
    chunk = os.read(0, 1 << 16)
    if not chunk:
        break
    view = memoryview(chunk)
    while view:
        view = view[os.write(1, view):]
