"""The MCP server over stdio, on the `mcp` package's low-level Server (mcp 2.x, pinned in pyproject).

The low-level server is used because the tools are data (tools.py): their
input schemas, and the output schemas of presets with a JSON answer, are
written out as they are rather than derived from Python signatures.
`mcp` (and pydantic under it) is imported only here, only by `mcv mcp`.

stdout is the protocol: mcp's stdio transport points file descriptor 1 at
stderr while it serves, so nothing else can write there; mcv's own lines go
to stderr through `log`.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from mcv import __version__
from mcv.plugins.mcp.tools import Cancelled, Toolbox

INSTRUCTIONS = (
    "Tools that look at local image files with MiniCPM-V, a vision model running on this computer. "
    "Give paths of files inside the allowed folders; URLs are not fetched."
)


def serve(toolbox: Toolbox, log: Callable[[str], None]) -> None:
    """Serve MCP on this process's stdin/stdout until the client closes it."""
    import anyio

    anyio.run(_serve, toolbox, log)


async def _serve(toolbox: Toolbox, log: Callable[[str], None]) -> None:
    import anyio
    import mcp_types as types
    from mcp.server.lowlevel import Server
    from mcp.server.stdio import stdio_server

    tools = [
        types.Tool(
            name=spec.name,
            description=spec.description,
            input_schema=spec.input_schema,
            output_schema=spec.output_schema,
            annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
        )
        for spec in toolbox.specs.values()
    ]

    async def list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        stop = threading.Event()
        started = time.monotonic()
        try:
            outcome = await anyio.to_thread.run_sync(
                toolbox.call, params.name, params.arguments, stop, abandon_on_cancel=True
            )
        except anyio.get_cancelled_exc_class():
            stop.set()  # the worker stops the engine at its next event
            log(f"{params.name}: cancelled by the client")
            raise
        except Cancelled:
            return types.CallToolResult(content=[types.TextContent(text="mcv: cancelled")], is_error=True)
        what = "failed: " + outcome.text if outcome.error else "answered"
        log(f"{params.name}: {what} ({time.monotonic() - started:.1f} s)")
        return types.CallToolResult(
            content=[types.TextContent(text=outcome.text)],
            structured_content=outcome.structured,
            is_error=outcome.error,
        )

    server = Server(
        "mcv",
        version=__version__,
        title="mcv (MiniCPM-V)",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
