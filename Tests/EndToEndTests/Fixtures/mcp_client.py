"""Drives a real MCP server through the real Python MCP SDK client (stdio transport).

Usage: python mcp_client.py CONFIG_JSON
CONFIG: {"command": str, "args": [str], "env": {str: str}, "cwd": str|null,
         "calls": [{"tool": str, "arguments": {...}}], "client_features": bool?}
With client_features the client declares sampling, elicitation and roots (and answers them);
the report then has "client_requests": [methods the server asked, in order].
Prints one JSON object on stdout:
  {"server": name, "tools": [names], "calls": [{"tool", "is_error", "text", "code"?}],
   "close_seconds": float, "escalated": bool, "returncode": int|null, "error": str|null}
`escalated` is true when the SDK's shutdown had to signal the server (stdin close alone did not
end it within the SDK's grace); `returncode` is the exit status of the spawned process (mcpbox).
"""
import json
import sys
import time

import anyio
from mcp import ClientSession, StdioServerParameters
import mcp.client.stdio as sdk_stdio

CONFIG = json.loads(sys.argv[1])
STATE = {"escalated": False, "process": None}

_real_terminate = sdk_stdio._terminate_process_tree
_real_spawn = sdk_stdio._create_platform_compatible_process


async def _recording_terminate(process):
    """The SDK's own escalation, recorded (it still runs)."""
    STATE["escalated"] = True
    await _real_terminate(process)


async def _recording_spawn(*args, **kwargs):
    process = await _real_spawn(*args, **kwargs)
    STATE["process"] = process
    return process


sdk_stdio._terminate_process_tree = _recording_terminate
sdk_stdio._create_platform_compatible_process = _recording_spawn


def text_of(result):
    parts = []
    for block in getattr(result, "content", None) or []:
        parts.append(getattr(block, "text", None) or repr(block))
    return "\n".join(parts)


def client_callbacks(out):
    """With CONFIG["client_features"]: a client that declares sampling, elicitation and roots and
    records every request it gets in out["client_requests"]."""
    if not CONFIG.get("client_features"):
        return {}
    import mcp_types as types
    out["client_requests"] = []

    async def sampling(context, params):
        out["client_requests"].append("sampling/createMessage")
        return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text="sampled"),
                                         model="test-model")

    async def elicitation(context, params):
        out["client_requests"].append("elicitation/create")
        return types.ElicitResult(action="accept", content={"ok": True})

    async def roots(context):
        out["client_requests"].append("roots/list")
        return types.ListRootsResult(roots=[types.Root(uri="file:///client-root")])

    return {"sampling_callback": sampling, "elicitation_callback": elicitation, "list_roots_callback": roots}


async def main():
    out = {"server": None, "tools": [], "calls": [], "close_seconds": None, "escalated": False,
           "returncode": None, "error": None}
    params = StdioServerParameters(command=CONFIG["command"], args=CONFIG["args"], env=CONFIG.get("env") or None,
                                   cwd=CONFIG.get("cwd"))
    close_started = None
    try:
        with anyio.fail_after(CONFIG.get("timeout", 120)):
            async with sdk_stdio.stdio_client(params) as (read, write):
                async with ClientSession(read, write, **client_callbacks(out)) as session:
                    init = await session.initialize()
                    out["server"] = init.server_info.name
                    tools = await session.list_tools()
                    out["tools"] = sorted(t.name for t in tools.tools)
                    for call in CONFIG.get("calls", []):
                        try:
                            result = await session.call_tool(call["tool"], call.get("arguments", {}))
                            out["calls"].append({"tool": call["tool"], "is_error": bool(result.is_error),
                                                 "text": text_of(result)})
                        except Exception as e:  # noqa: BLE001 - a protocol error is a result here
                            out["calls"].append({"tool": call["tool"], "is_error": True,
                                                 "text": "%s: %s" % (type(e).__name__, e),
                                                 "code": getattr(getattr(e, "error", None), "code", None)})
                    close_started = time.monotonic()
    except Exception as e:  # noqa: BLE001
        out["error"] = "%s: %s" % (type(e).__name__, e)
    if close_started is not None:
        out["close_seconds"] = round(time.monotonic() - close_started, 3)
    out["escalated"] = STATE["escalated"]
    if STATE["process"] is not None:
        out["returncode"] = STATE["process"].returncode
    return out


print(json.dumps(anyio.run(main), indent=1))
