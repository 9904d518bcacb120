#!/usr/bin/env python3
"""Writes argv[1] bytes to stdout in 1 MiB blocks, then exits 0 when stdin reaches EOF."""
import os
import sys

total = int(sys.argv[1])
block = bytes(range(256)) * 4096
while total > 0:
    view = memoryview(block)[: min(total, len(block))]
    total -= len(view)
    while view:
        view = view[os.write(1, view):]
os.close(1)
while os.read(0, 4096):
    pass
