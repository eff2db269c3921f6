"""Drives the published ``mcp-suno`` server over stdio with the ``mcp`` client library, as
an MCP host would. Run by the python of mcp-suno's own venv (see real_clients.py), never
imported by the tests:

    python mcp_suno_driver.py PATH/TO/mcp-suno SERVER_LOG

The server inherits ACEDATACLOUD_API_BASE_URL and ACEDATACLOUD_API_TOKEN from this
process. The driver first prints the tools the server lists, then reads one JSON request
a line on stdin, ``{"id", "tool", "arguments"}``, calls the tool and prints one JSON line
back, ``{"id", "tool", "is_error", "text", "structured"}``; ``{"op": "quit"}`` ends it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

PASSED = ("ACEDATACLOUD_API_BASE_URL", "ACEDATACLOUD_API_TOKEN", "SUNO_REQUEST_TIMEOUT",
          "LOG_LEVEL", "HOME", "LANG", "PATH", "PYTHONIOENCODING")


def emit(message: dict) -> None:
    sys.stdout.write(json.dumps(message, ensure_ascii=False) + "\n")
    sys.stdout.flush()


async def main(server_script: str, log_path: str) -> None:
    env = {name: os.environ[name] for name in PASSED if name in os.environ}
    params = StdioServerParameters(command=server_script, args=[], env=env,
                                   cwd=os.getcwd())
    loop = asyncio.get_running_loop()
    with open(log_path, "w") as log:
        async with stdio_client(params, errlog=log) as (read, write):
            async with ClientSession(read, write) as session:
                hello = await session.initialize()
                listed = await session.list_tools()
                emit({"event": "tools",
                      "server": {"name": hello.serverInfo.name,
                                 "version": hello.serverInfo.version},
                      "tools": [{"name": t.name, "input_schema": t.inputSchema}
                                for t in listed.tools]})
                while True:
                    line = await loop.run_in_executor(None, sys.stdin.readline)
                    if not line:
                        break
                    if not line.strip():
                        continue
                    request = json.loads(line)
                    if request.get("op") == "quit":
                        break
                    try:
                        result = await session.call_tool(
                            request["tool"], request.get("arguments") or {},
                            read_timeout_seconds=timedelta(seconds=300))
                    except Exception as exc:  # a protocol error: say so, keep serving
                        emit({"id": request["id"], "tool": request["tool"], "is_error": True,
                              "text": f"driver: {type(exc).__name__}: {exc}",
                              "structured": None})
                        continue
                    texts = [c.text for c in result.content if getattr(c, "type", "") == "text"]
                    emit({"id": request["id"], "tool": request["tool"],
                          "is_error": bool(result.isError), "text": "\n".join(texts),
                          "structured": result.structuredContent})


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
