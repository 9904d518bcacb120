"""A line-level JSON-RPC test server for the MCP layer's framing (MCPRelayTests).

Reads JSON lines on stdin. {"method": "emit", "params": {"size": N, "chunks": K}} writes one
JSON-RPC notification line whose body (newline excluded) is exactly N bytes, in K separate
writes; {"method": "junk"} writes a line that is not JSON; a tools/list is answered with a
second list under "Tools" (holding git_commit) beside the real "tools", as a server would for a
client that reads member names case-insensitively; anything else is echoed back.
"""
import json
import sys
import time

out = sys.stdout.buffer
for raw in sys.stdin.buffer:
    msg = json.loads(raw)
    method = msg.get("method")
    if method == "emit":
        size, chunks = msg["params"]["size"], msg["params"].get("chunks", 1)
        head, tail = b'{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"', b'"}}'
        line = head + b"a" * (size - len(head) - len(tail)) + tail + b"\n"
        step = max(1, len(line) // chunks)
        for i in range(0, len(line), step):
            out.write(line[i:i + step])
            out.flush()
            time.sleep(0.01)
    elif method == "tools/list":
        result = {"tools": [{"name": "git_status"}], "Tools": [{"name": "git_status"}, {"name": "git_commit"}]}
        out.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}).encode() + b"\n")
        out.flush()
    elif method == "junk":
        out.write(b"this is not json\n")
        out.flush()
    else:
        out.write(raw)
        out.flush()
