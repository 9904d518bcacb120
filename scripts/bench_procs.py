# mcpbox's processes outside the sandbox, for the benchmarks that read their CPU or memory
# (imported by bench-relay and bench-egress), and the JSON-RPC line the MCP-layer benchmarks send
# (bench-relay --mcp, bench-mcp-upload).
import os
import random


def mcpbox_processes(pid):
    """The process started (`pid`) and, while it lives, its mcpbox worker: the relay host's
    child running the same executable in the same pid namespace (with the MCP layer or egress
    enforcement the worker relays; a plain session is handed over to the host and the worker
    exits). Children in a pid namespace of their own (the sandbox's pid 1) are not counted."""
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except (OSError, ValueError):
        children = []
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return pids
    for child in children:
        try:
            with open(f"/proc/{child}/status") as f:
                nspid = next((l.split()[1:] for l in f if l.startswith("NSpid:")), [])
            same = os.readlink(f"/proc/{child}/exe") == exe
        except OSError:
            continue
        if same and len(nspid) == 1:
            pids.append(child)
    return pids


def json_payload(size):
    """One JSON-RPC notification line of exactly `size` bytes."""
    head = b'{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"'
    tail = b'"}}\n'
    alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
    body = bytes(alphabet[b & 63] for b in random.randbytes(size - len(head) - len(tail)))
    return head + body + tail
