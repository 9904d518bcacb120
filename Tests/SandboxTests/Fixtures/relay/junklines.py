#!/usr/bin/env python3
"""Writes argv[1] lines that are not valid JSON (`{` then text) to stdout, which the MCP layer
drops with a line on stderr each; then exits 0 at stdin EOF."""
import os
import sys

view = memoryview(b"{not json\n" * int(sys.argv[1]))
while view:
    view = view[os.write(1, view):]
while os.read(0, 4096):
    pass
