"""Runs a script of steps against an MCP server through the real Python SDK client (stdio).

Usage: python mcp_pin_client.py CONFIG_JSON
CONFIG: {"command": str, "args": [str], "env": {str: str}, "steps": ["list" | {"call": name, "arguments": {...}}],
         "elicit": "accept"|"decline"|"cancel"|null}
With "elicit" the client declares elicitation and answers every request with that action ("never":
it shows the question and never answers); the report's "elicitations" lists the messages it was shown.
With "modern": true the SDK's high-level Client is used (it negotiates protocol 2026-07-28 through
server/discover and answers input-required results itself); "protocol" reports the version.
Prints one JSON object: {"server": name, "instructions": str|null, "steps": [
  {"list": [{"name", "description"}]} | {"call": name, "is_error": bool, "text": str, "code": int|null}],
  "error": str|null}
"""
import json
import sys

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

CONFIG = json.loads(sys.argv[1])


async def main():
    out = {"server": None, "instructions": None, "steps": [], "error": None, "elicitations": []}
    callbacks = {}
    if CONFIG.get("elicit"):
        import mcp_types as types

        async def elicitation(context, params):
            out["elicitations"].append(params.message)
            if CONFIG["elicit"] == "never":
                await anyio.sleep_forever()
            return types.ElicitResult(action=CONFIG["elicit"], content={} if CONFIG["elicit"] == "accept" else None)

        callbacks["elicitation_callback"] = elicitation
    params = StdioServerParameters(command=CONFIG["command"], args=CONFIG["args"], env=CONFIG.get("env") or None)
    if CONFIG.get("modern"):
        return await modern(out, params, callbacks)
    try:
        with anyio.fail_after(CONFIG.get("timeout", 120)):
            async with stdio_client(params) as (read, write):
                async with ClientSession(read, write, **callbacks) as session:
                    init = await session.initialize()
                    out["server"] = init.server_info.name
                    out["instructions"] = init.instructions
                    for step in CONFIG["steps"]:
                        if step == "list":
                            tools = await session.list_tools()
                            out["steps"].append({"list": [{"name": t.name, "description": t.description} for t in tools.tools]})
                            continue
                        await call_step(session, step, out)
    except Exception as e:  # noqa: BLE001
        out["error"] = "%s: %s" % (type(e).__name__, e)
    return out


async def call_step(caller, step, out):
    """One tool call (a ClientSession or the high-level Client): its result, or its error as a result."""
    try:
        r = await caller.call_tool(step["call"], step.get("arguments", {}))
        text = "\n".join(getattr(b, "text", "") or "" for b in r.content or [])
        out["steps"].append({"call": step["call"], "is_error": bool(r.is_error), "text": text, "code": None})
    except Exception as e:  # noqa: BLE001 - a protocol error is a result here
        out["steps"].append({"call": step["call"], "is_error": True, "text": "%s: %s" % (type(e).__name__, e),
                             "code": getattr(getattr(e, "error", None), "code", None)})


async def modern(out, params, callbacks):
    from mcp.client.client import Client

    try:
        with anyio.fail_after(CONFIG.get("timeout", 120)):
            async with Client(params, **callbacks) as client:
                out["protocol"] = client.session.protocol_version
                out["server"] = "connected"
                out["instructions"] = client.instructions
                for step in CONFIG["steps"]:
                    if step == "list":
                        tools = await client.list_tools()
                        out["steps"].append({"list": [{"name": t.name, "description": t.description} for t in tools.tools]})
                        continue
                    await call_step(client, step, out)
    except Exception as e:  # noqa: BLE001
        out["error"] = "%s: %s" % (type(e).__name__, e)
    return out


print(json.dumps(anyio.run(main), indent=1))
