#!/usr/bin/env python3
"""Writes one 1 MiB JSON-RPC notification line to stdout in one write, then a small one every
millisecond until it is killed (or its stdout breaks)."""
import os
import time

def line(text):
    return ('{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"%s"}}\n' % text).encode()

def put(data):
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]

put(line("x" * (1 << 20)))
n = 0
while True:
    n += 1
    put(line("tick %d %s" % (n, "y" * 150)))
    time.sleep(0.001)
