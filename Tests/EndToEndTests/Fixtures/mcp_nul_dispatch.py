"""A small MCP server (raw JSON-RPC over stdio, standard library only) that dispatches tool calls
the way a server with C strings does: a tool name ends at its first NUL, so a call for
"git_commit\\u0000" runs git_commit. Its git_commit is harmless: it appends the name it was called
with to the file named by $NUL_CALLS (the canary). Used by MCPRedTeamTests.
"""
import json
import os
import sys


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    msg = json.loads(line)
    method, ident = msg.get("method"), msg.get("id")
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": ident, "result": {
            "protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
            "serverInfo": {"name": "mcp-nul-dispatch", "version": "1.0"}}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": ident, "result": {"tools": [
            {"name": "git_status", "inputSchema": {"type": "object"}},
            {"name": "git_commit", "inputSchema": {"type": "object"}},
            {"name": "git_commit\0", "inputSchema": {"type": "object"}}]}})
    elif method == "tools/call":
        name = msg["params"]["name"]
        if name.split("\0")[0] == "git_commit":
            with open(os.environ["NUL_CALLS"], "a") as f:
                f.write(json.dumps(name) + "\n")
            text = "committed"
        else:
            text = "clean"
        send({"jsonrpc": "2.0", "id": ident, "result": {"content": [{"type": "text", "text": text}]}})
    elif ident is not None:
        send({"jsonrpc": "2.0", "id": ident, "result": {}} if method == "ping" else
             {"jsonrpc": "2.0", "id": ident, "error": {"code": -32601, "message": "Method not found"}})
