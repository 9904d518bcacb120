"""Reads an MCP client configuration the way a client does and drives every server in it with the
real Python MCP SDK client: for each entry of `mcpServers`, spawn `command` with `args` and `env`
(merged over the SDK's default environment, as Claude Desktop does), initialize, list the tools,
call one.

Usage: python wrapped_config_client.py CONFIG_FILE CALLS_JSON
CALLS: {"server name": {"tool": str, "arguments": {...}}}
Prints one JSON object: {"server name": {"server": name, "tools": [...], "call": {"is_error", "text"},
"error": str|null}}.
"""
import json
import sys

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

CONFIG = json.load(open(sys.argv[1]))
CALLS = json.loads(sys.argv[2])


async def drive(name, entry):
    out = {"server": None, "tools": [], "call": None, "error": None}
    params = StdioServerParameters(command=entry["command"], args=entry.get("args", []), env=entry.get("env"),
                                   cwd=entry.get("cwd"))
    try:
        with anyio.fail_after(120):
            async with stdio_client(params) as (read, write):
                async with ClientSession(read, write) as session:
                    init = await session.initialize()
                    out["server"] = init.server_info.name
                    tools = await session.list_tools()
                    out["tools"] = sorted(t.name for t in tools.tools)
                    call = CALLS[name]
                    result = await session.call_tool(call["tool"], call.get("arguments", {}))
                    text = "\n".join(getattr(b, "text", None) or repr(b) for b in result.content or [])
                    is_error = getattr(result, "is_error", None)
                    if is_error is None:
                        is_error = getattr(result, "isError", False)
                    out["call"] = {"is_error": bool(is_error), "text": text}
    except Exception as e:  # noqa: BLE001 - reported, the test judges it
        while isinstance(e, BaseExceptionGroup) and e.exceptions:
            e = e.exceptions[0]
        out["error"] = "%s: %s" % (type(e).__name__, e)
    return out


async def main():
    return {name: await drive(name, entry) for name, entry in CONFIG["mcpServers"].items()}


print(json.dumps(anyio.run(main), indent=1))
