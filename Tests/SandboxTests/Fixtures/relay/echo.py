#!/usr/bin/env python3
"""Echoes stdin to stdout unchanged, as soon as it arrives (the benchmark's server); exits 0 at EOF."""
import os

while True:
    chunk = os.read(0, 1 << 20)
    if not chunk:
        break
    view = memoryview(chunk)
    while view:
        view = view[os.write(1, view):]
