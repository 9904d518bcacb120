"""An odd MCP client (raw JSON-RPC over stdio, standard library only) that writes its lines by
hand, as a client splicing a model's JSON text into its request would, so a line can hold what
SDK clients never send (a duplicate key deep inside the arguments).

Usage: python mcp_raw_client.py CONFIG_JSON
CONFIG: {"command": str, "args": [str], "env": {str: str}, "call": str (the params of one
  tools/call, raw JSON text), "answer": "accept"|"decline", "initialize": str? (the params of
  initialize, raw JSON text; default: protocol 2025-11-25 declaring form elicitation)}
It declares elicitation and answers every elicitation/create with "answer".
Prints one JSON object: {"asked": [elicitation messages shown], "initialize": its response,
  "response": the tools/call's response (object), "stderr": mcpbox's stderr}.
"""
import json
import subprocess
import sys

CONFIG = json.loads(sys.argv[1])
proc = subprocess.Popen([CONFIG["command"]] + CONFIG["args"], env=CONFIG.get("env"), stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
out = {"asked": [], "response": None}


def send(text):
    proc.stdin.write(text + "\n")
    proc.stdin.flush()


def until(ident):
    """Reads until the response to `ident`, answering mcpbox's and the server's requests meanwhile."""
    for line in proc.stdout:
        msg = json.loads(line)
        if msg.get("method") == "elicitation/create" and "id" in msg:
            out["asked"].append(msg["params"]["message"])
            send(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": {"action": CONFIG["answer"], "content": {}}}))
        elif "method" in msg and "id" in msg:
            send(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "Method not found"}}))
        elif msg.get("id") == ident and "method" not in msg:
            return msg
    return None


INITIALIZE = CONFIG.get("initialize") or json.dumps({
    "protocolVersion": "2025-11-25", "capabilities": {"elicitation": {"form": {}}},
    "clientInfo": {"name": "raw-client", "version": "1.0"}})
send('{"jsonrpc":"2.0","id":1,"method":"initialize","params":%s}' % INITIALIZE)
out["initialize"] = until(1)
send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
send('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":%s}' % CONFIG["call"])
out["response"] = until(2)
proc.stdin.close()
out["stderr"] = proc.stderr.read()
proc.wait(timeout=60)
print(json.dumps(out))
