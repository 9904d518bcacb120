#!/usr/bin/env python3
"""Echoes stdin to stdout unchanged, as soon as it arrives (the benchmark's server); exits 0 at EOF.

`--sleep SECONDS` first reads nothing for that long (its stdin pipe fills meanwhile)."""
import os
import sys
import time

if len(sys.argv) == 3 and sys.argv[1] == "--sleep":
    time.sleep(float(sys.argv[2]))
while True:
    chunk = os.read(0, 1 << 20)
    if not chunk:
        break
    view = memoryview(chunk)
    while view:
        view = view[os.write(1, view):]
