#!/usr/bin/env python3
"""Echoes every chunk read from stdin to stdout and to stderr, unchanged; exits 0 at EOF."""
import os

while True:
    chunk = os.read(0, 1 << 16)
    if not chunk:
        break
    for fd in (1, 2):
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]
