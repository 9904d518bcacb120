"""Calls one tool through the real Python SDK's high-level Client pinned to protocol 2026-07-28
(no server/discover probe), declaring sampling, elicitation and roots and answering them.

Usage: python mcp_modern_client.py CONFIG_JSON
CONFIG: {"command": str, "args": [str], "env": {str: str}, "tool": str}
Prints one JSON object: {"asked": [methods the client was asked, in order], "text": str|null,
  "error": str|null, "code": int|null}
"""
import json
import sys

import anyio
import mcp_types as types
from mcp import StdioServerParameters
from mcp.client.client import Client

CONFIG = json.loads(sys.argv[1])


async def main():
    out = {"asked": [], "text": None, "error": None, "code": None}

    async def sampling(context, params):
        out["asked"].append("sampling/createMessage")
        return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text="sampled"), model="m")

    async def elicitation(context, params):
        out["asked"].append("elicitation/create")
        return types.ElicitResult(action="decline")

    async def roots(context):
        out["asked"].append("roots/list")
        return types.ListRootsResult(roots=[])

    params = StdioServerParameters(command=CONFIG["command"], args=CONFIG["args"], env=CONFIG.get("env") or None)
    try:
        with anyio.fail_after(120):
            async with Client(params, mode="2026-07-28", sampling_callback=sampling,
                              elicitation_callback=elicitation, list_roots_callback=roots) as client:
                r = await client.call_tool(CONFIG["tool"], {})
                out["text"] = "\n".join(getattr(b, "text", "") or "" for b in r.content or [])
    except Exception as e:  # noqa: BLE001 - a protocol error is a result here
        while isinstance(e, BaseExceptionGroup) and len(e.exceptions) == 1:
            e = e.exceptions[0]
        out["error"] = "%s: %s" % (type(e).__name__, e)
        out["code"] = getattr(getattr(e, "error", None), "code", None)
    print(json.dumps(out))
    sys.stdout.flush()


anyio.run(main)
