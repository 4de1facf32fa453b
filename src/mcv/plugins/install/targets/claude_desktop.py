"""Claude Desktop: `mcv mcp` under "mcpServers" in claude_desktop_config.json."""

from __future__ import annotations

from pathlib import Path

from mcv.plugins.install import mcp_host
from mcv.plugins.install.context import Context

NAME = "claude-desktop"
DESCRIPTION = "Claude Desktop: the mcv MCP server in claude_desktop_config.json (your other settings kept)"
AFTER = "quit Claude Desktop completely and open it again to load the server; " + mcp_host.ALLOW_NOTE
BY_DEFAULT = False  # only when named: it changes the app's own settings file
KEYS = ("mcpServers", mcp_host.ENTRY_NAME)


def config_file(context: Context) -> Path:
    return mcp_host.app_config_dir(context, "Claude") / "claude_desktop_config.json"


def detect(context: Context) -> str | None:
    return mcp_host.found(config_file(context), "claude", context=context)


def entry(context: Context) -> dict:
    command, args = mcp_host.server_command(context)
    value = {"command": command, "args": args}
    env = mcp_host.server_env(context)
    return {**value, "env": env} if env else value


def plan(context: Context):
    return [mcp_host.merge_change(config_file(context), KEYS, entry(context), __name__)]


def unmerge(data: bytes) -> bytes:
    return mcp_host.unmerge_at(KEYS, data)


def unmerge_keep_parent(data: bytes) -> bytes:
    return mcp_host.unmerge_at(KEYS, data, keep_parent=True)
