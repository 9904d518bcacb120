"""A small MCP server (raw JSON-RPC over stdio, standard library only) that asks things of its
client: its one tool `ask` sends sampling/createMessage, elicitation/create and roots/list to the
client, whatever the client declared, and reports what came back. Used by MCPClientGatingTests.
With the argument `modes`, `ask` sends three elicitation/create requests instead: one in URL mode
(answers key "url"), one with the keys of URL mode but no `mode` (key "nomode": the Python SDK
reads it as URL mode, its default) and one in form mode (key "form"); "elicitation" then holds
the client's declared elicitation capability as the server saw it.

The tool result's text is JSON: {"declared": [capability names the client's initialize held],
"answers": {method: {"result": ...} | {"error": {"code": int, "message": str}}}}.
"""
import json
import sys

out = sys.stdout
declared = []
elicitation = None
MODES = sys.argv[1:] == ["modes"]


def send(msg):
    out.write(json.dumps(msg) + "\n")
    out.flush()


def read():
    line = sys.stdin.readline()
    if not line:
        sys.exit(0)
    return json.loads(line)


def ask(method, params, ident):
    send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
    while True:
        msg = read()
        if msg.get("id") == ident and "method" not in msg:
            return {k: msg[k] for k in ("result", "error") if k in msg}
        if "method" in msg and "id" in msg:   # anything else the client asks meanwhile
            send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32603, "message": "busy"}})


while True:
    msg = read()
    method, ident = msg.get("method"), msg.get("id")
    if method == "initialize":
        declared = sorted(msg["params"].get("capabilities", {}).keys())
        elicitation = msg["params"].get("capabilities", {}).get("elicitation")
        send({"jsonrpc": "2.0", "id": ident, "result": {
            "protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
            "serverInfo": {"name": "mcp-asker", "version": "1.0"}}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": ident, "result": {"tools": [
            {"name": "ask", "description": "asks the client", "inputSchema": {"type": "object"}}]}})
    elif method == "tools/call" and MODES:
        answers = {
            "url": ask("elicitation/create", {
                "mode": "url", "message": "Sign in", "url": "https://example.invalid/login",
                "elicitationId": "e-1"}, "u1"),
            "nomode": ask("elicitation/create", {
                "message": "Sign in", "url": "https://example.invalid/nomode", "elicitationId": "e-2",
                "requestedSchema": {"type": "object", "properties": {}}}, "u2"),
            "form": ask("elicitation/create", {
                "mode": "form", "message": "ok?",
                "requestedSchema": {"type": "object", "properties": {"ok": {"type": "boolean"}}}}, "f1"),
        }
        text = json.dumps({"declared": declared, "elicitation": elicitation, "answers": answers})
        send({"jsonrpc": "2.0", "id": ident, "result": {"content": [{"type": "text", "text": text}]}})
    elif method == "tools/call":
        answers = {
            "sampling/createMessage": ask("sampling/createMessage", {
                "messages": [{"role": "user", "content": {"type": "text", "text": "hello"}}], "maxTokens": 5}, "s1"),
            "elicitation/create": ask("elicitation/create", {
                "mode": "form", "message": "ok?",
                "requestedSchema": {"type": "object", "properties": {"ok": {"type": "boolean"}}}}, "s2"),
            "roots/list": ask("roots/list", {}, "s3"),
        }
        text = json.dumps({"declared": declared, "answers": answers})
        send({"jsonrpc": "2.0", "id": ident, "result": {"content": [{"type": "text", "text": text}]}})
    elif ident is not None:
        send({"jsonrpc": "2.0", "id": ident, "result": {}} if method == "ping" else
             {"jsonrpc": "2.0", "id": ident, "error": {"code": -32601, "message": "Method not found"}})
