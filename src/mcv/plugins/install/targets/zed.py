"""Zed: `mcv mcp` under "context_servers" in Zed's settings.json (JSON with comments: kept as it is)."""

from __future__ import annotations

from pathlib import Path

from mcv.plugins.install import mcp_host
from mcv.plugins.install.context import Context

NAME = "zed"
DESCRIPTION = "Zed: the mcv MCP server in settings.json context_servers (your settings and comments kept)"
AFTER = None  # Zed reloads settings.json when it changes
BY_DEFAULT = False  # only when named: it changes the app's own settings file
KEYS = ("context_servers", mcp_host.ENTRY_NAME)


def config_file(context: Context) -> Path:
    if context.platform == "win32":
        return mcp_host.app_config_dir(context, "Zed") / "settings.json"
    if context.platform == "darwin":
        return context.home / ".config" / "zed" / "settings.json"
    return context.config_home / "zed" / "settings.json"


def detect(context: Context) -> str | None:
    return mcp_host.found(config_file(context), "zed", "zeditor", context=context)


def plan(context: Context):
    command, args = mcp_host.server_command(context)
    value = {"command": command, "args": args, "env": mcp_host.server_env(context)}
    return [mcp_host.merge_change(config_file(context), KEYS, value, __name__)]


def unmerge(data: bytes) -> bytes:
    return mcp_host.unmerge_at(KEYS, data)


def unmerge_keep_parent(data: bytes) -> bytes:
    return mcp_host.unmerge_at(KEYS, data, keep_parent=True)
