"""Opens N concurrent sessions of one MCP server command, then closes them all at once.

Usage: python mcp_sessions.py CONFIG_JSON
CONFIG: {"mode": "patient"|"sdk", "sessions": int, "command": str, "args": [str], "env": {str: str}}
  patient: plain pipes; each session sends initialize, reads the reply and sends
           notifications/initialized; then every stdin is closed and the client waits, sending
           no signal.
  sdk:     the real Python MCP SDK client (stdio_client + ClientSession.initialize); then every
           session context is left at once, so the SDK runs its own shutdown: close stdin,
           wait 2 s, SIGTERM to the process group, wait 2 s, SIGKILL.
Prints one JSON object: {"sessions": [{"pid", "returncode", "close_seconds", "sigterm", "sigkill",
"stderr"}], "error": str|null}. close_seconds: from closing stdin to the exit being seen.
sigterm/sigkill: whether the SDK sent them (sdk mode; never in patient mode).
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

CONFIG = json.loads(sys.argv[1])
N = CONFIG["sessions"]
ARGV = [CONFIG["command"]] + CONFIG["args"]
ENV = CONFIG.get("env") or None
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "mcpbox-shutdown-test", "version": "1"}}}


def patient():
    procs = [subprocess.Popen(ARGV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
             for _ in range(N)]
    for p in procs:
        p.stdin.write((json.dumps(INIT) + "\n").encode())
        p.stdin.flush()
    for p in procs:
        line = p.stdout.readline()
        if b'"result"' not in line:
            raise RuntimeError("no initialize result from pid %d: %r" % (p.pid, line[:300]))
    for p in procs:
        p.stdin.write(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
        p.stdin.flush()
    start = time.monotonic()
    for p in procs:
        p.stdin.close()
    seen = {}
    while len(seen) < N:
        for i, p in enumerate(procs):
            if i not in seen and p.poll() is not None:
                seen[i] = time.monotonic() - start
        time.sleep(0.01)
    out = []
    for i, p in enumerate(procs):
        p.stdout.read()
        err = p.stderr.read().decode(errors="replace")
        out.append({"pid": p.pid, "returncode": p.returncode, "close_seconds": round(seen[i], 3),
                    "sigterm": False, "sigkill": False, "stderr": err[-2000:]})
    return out


def sdk():
    import anyio
    from mcp import ClientSession, StdioServerParameters
    import mcp.client.stdio as sdk_stdio
    import mcp.os.posix.utilities as posix_utilities

    signals = {}  # pgid -> set of signals the SDK sent
    real_killpg = os.killpg

    def recording_killpg(pgid, sig):
        if sig:
            signals.setdefault(pgid, set()).add(int(sig))
        return real_killpg(pgid, sig)

    posix_utilities.os = type(sys)("os_proxy")
    posix_utilities.os.__dict__.update(os.__dict__)
    posix_utilities.os.killpg = recording_killpg

    closes = {}
    real_stop = sdk_stdio._stop_server_process

    async def timed_stop(process):
        start = time.monotonic()
        await real_stop(process)
        closes[process.pid] = (time.monotonic() - start, process.returncode)

    sdk_stdio._stop_server_process = timed_stop
    pids = []
    real_spawn = sdk_stdio._create_platform_compatible_process

    async def recording_spawn(*args, **kwargs):
        process = await real_spawn(*args, **kwargs)
        pids.append((process.pid, kwargs.get("errlog")))
        return process

    sdk_stdio._create_platform_compatible_process = recording_spawn
    errlogs = [tempfile.TemporaryFile("w+") for _ in range(N)]

    async def main():
        ready = anyio.Event()
        opened = [0]
        all_open = anyio.Event()
        params = StdioServerParameters(command=ARGV[0], args=ARGV[1:], env=ENV)

        async def session(i):
            async with sdk_stdio.stdio_client(params, errlog=errlogs[i]) as (read, write):
                async with ClientSession(read, write) as s:
                    await s.initialize()
                    opened[0] += 1
                    if opened[0] == N:
                        all_open.set()
                    await ready.wait()

        with anyio.fail_after(600):
            async with anyio.create_task_group() as tg:
                for i in range(N):
                    tg.start_soon(session, i)
                await all_open.wait()
                ready.set()

    anyio.run(main)
    out = []
    for pid, errlog in pids:
        seconds, rc = closes.get(pid, (None, None))
        sent = signals.get(pid, set())
        errlog.seek(0)
        out.append({"pid": pid, "returncode": rc, "close_seconds": None if seconds is None else round(seconds, 3),
                    "sigterm": signal.SIGTERM in sent, "sigkill": signal.SIGKILL in sent,
                    "stderr": errlog.read()[-2000:]})
    return out


result = {"sessions": [], "error": None}
try:
    result["sessions"] = patient() if CONFIG["mode"] == "patient" else sdk()
except Exception as e:  # noqa: BLE001 - reported to the test
    result["error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(result))
