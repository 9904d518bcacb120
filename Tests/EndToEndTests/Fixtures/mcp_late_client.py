"""A raw JSON-RPC client (standard library only) that answers mcpbox's confirmation too late.

Usage: python mcp_late_client.py CONFIG_JSON
CONFIG: {"command": [argv of mcpbox run ...], "env": {str: str}, "call": {"name", "arguments"},
         "after": {"name", "arguments"}}
It declares elicitation, sends `call` (a tool under [tools] confirm), reads mcpbox's
elicitation/create and does not answer it; once the call's result has come (mcpbox's timeout), it
answers the question with accept, sends `after`, reads its result and closes stdin.
Prints one JSON object: {"question": request, "cancelled": bool, "result": result of call,
"after": result of after, "error": str|null}.
"""
import json
import queue
import subprocess
import sys
import threading

CONFIG = json.loads(sys.argv[1])
proc = subprocess.Popen(CONFIG["command"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=CONFIG["env"])
lines = queue.Queue()


def pump():
    for raw in proc.stdout:
        lines.put(json.loads(raw))
    lines.put(None)


threading.Thread(target=pump, daemon=True).start()


def send(msg):
    proc.stdin.write((json.dumps(msg) + "\n").encode())
    proc.stdin.flush()


def until(pred, seen):
    while True:
        msg = lines.get(timeout=120)
        if msg is None:
            raise RuntimeError("mcpbox closed stdout")
        seen.append(msg)
        if pred(msg):
            return msg


out = {"question": None, "cancelled": False, "result": None, "after": None, "error": None}
seen = []
try:
    send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {"elicitation": {"form": {}}},
        "clientInfo": {"name": "late-client", "version": "1"}}})
    until(lambda m: m.get("id") == 1, seen)
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": CONFIG["call"]})
    out["question"] = until(lambda m: m.get("method") == "elicitation/create", seen)
    out["result"] = until(lambda m: m.get("id") == 2 and "method" not in m, seen)
    out["cancelled"] = any(m.get("method") == "notifications/cancelled"
                           and m["params"].get("requestId") == out["question"]["id"] for m in seen)
    send({"jsonrpc": "2.0", "id": out["question"]["id"], "result": {"action": "accept", "content": {}}})
    send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": CONFIG["after"]})
    out["after"] = until(lambda m: m.get("id") == 3 and "method" not in m, seen)
except Exception as e:  # noqa: BLE001
    out["error"] = "%s: %s" % (type(e).__name__, e)
proc.stdin.close()
try:
    proc.wait(timeout=60)
except subprocess.TimeoutExpired:
    proc.kill()
print(json.dumps(out))
