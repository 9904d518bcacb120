#!/usr/bin/env python3
"""Writes a small line to stderr every millisecond until it is killed (or its stderr breaks)."""
import os
import time

n = 0
while True:
    n += 1
    data = ("tick %d %s\n" % (n, "y" * 150)).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(2, view):]
    time.sleep(0.001)
