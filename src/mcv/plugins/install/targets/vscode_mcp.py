"""VS Code: `mcv mcp` under "servers" in the user's mcp.json (Code/User/mcp.json, every workspace).

VS Code starts a stdio server in the open workspace's folder, so that folder
is the server's working folder: the one it may read images from.
"""

from __future__ import annotations

from pathlib import Path

from mcv.plugins.install import mcp_host
from mcv.plugins.install.context import Context

NAME = "vscode-mcp"
DESCRIPTION = "VS Code: the mcv MCP server in your user mcp.json (your other servers kept)"
AFTER = "in VS Code, run `MCP: List Servers` and start mcv (or reload the window)"
BY_DEFAULT = False  # only when named: it changes the app's own settings file
KEYS = ("servers", mcp_host.ENTRY_NAME)


def config_file(context: Context) -> Path:
    return mcp_host.app_config_dir(context, "Code") / "User" / "mcp.json"


def detect(context: Context) -> str | None:
    return mcp_host.found(config_file(context), "code", context=context)


def plan(context: Context):
    command, args = mcp_host.server_command(context)
    value = {"type": "stdio", "command": command, "args": args}
    env = mcp_host.server_env(context)
    if env:
        value["env"] = env
    return [mcp_host.merge_change(config_file(context), KEYS, value, __name__)]


def unmerge(data: bytes) -> bytes:
    return mcp_host.unmerge_at(KEYS, data)


def unmerge_keep_parent(data: bytes) -> bytes:
    return mcp_host.unmerge_at(KEYS, data, keep_parent=True)
