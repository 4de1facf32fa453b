"""Cursor: `mcv mcp` under "mcpServers" in ~/.cursor/mcp.json (every project)."""

from __future__ import annotations

from pathlib import Path

from mcv.plugins.install import mcp_host
from mcv.plugins.install.context import Context
from mcv.plugins.install.targets import claude_desktop

NAME = "cursor"
DESCRIPTION = "Cursor: the mcv MCP server in ~/.cursor/mcp.json (your other servers kept)"
AFTER = "Cursor picks the server up in Settings > MCP (restart it if it does not show); " + mcp_host.ALLOW_NOTE
BY_DEFAULT = False  # only when named: it changes the app's own settings file
KEYS = ("mcpServers", mcp_host.ENTRY_NAME)


def config_file(context: Context) -> Path:
    return context.home / ".cursor" / "mcp.json"


def detect(context: Context) -> str | None:
    return mcp_host.found(config_file(context), "cursor", context=context)


def plan(context: Context):
    # Cursor reads the same entry shape as Claude Desktop: command, args, env.
    return [mcp_host.merge_change(config_file(context), KEYS, claude_desktop.entry(context), __name__)]


def unmerge(data: bytes) -> bytes:
    return mcp_host.unmerge_at(KEYS, data)


def unmerge_keep_parent(data: bytes) -> bytes:
    return mcp_host.unmerge_at(KEYS, data, keep_parent=True)
