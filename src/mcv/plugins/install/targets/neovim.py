"""Neovim (0.7+): the Lua plugin as a package Neovim loads at start (pack/mcv/start/mcv).

The folder is under Neovim's data folder ($XDG_DATA_HOME/nvim/site is on its
'packpath'). lua/mcv/launcher.lua records the absolute mcv to run, since
Neovim started from a desktop may lack ~/.local/bin in PATH.
"""

from __future__ import annotations

from pathlib import Path

from mcv.plugins.install.changes import WriteFile
from mcv.plugins.install.context import Context
from mcv.plugins.install.editor_files import editor_changes

NAME = "neovim"
DESCRIPTION = "Neovim: :McvDescribe, :McvOcr, :McvAsk, :McvAlt (a Lua package in nvim/site/pack)"
AFTER = "restart Neovim; :McvDescribe [path], :McvOcr [path], :McvAsk and :McvAlt are there"
BY_DEFAULT = False  # only when named


def folder(context: Context) -> Path:
    return context.data_home / "nvim" / "site" / "pack" / "mcv" / "start" / "mcv"


def detect(context: Context) -> str | None:
    return None if context.which("nvim") else "nvim is not on PATH"


def lua_string(text: str) -> str:
    """A Lua string literal for any text (bytes outside printable ASCII, quotes and backslashes as \\ddd)."""
    data = text.encode("utf-8", "surrogateescape")
    return '"' + "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:03d}" for b in data) + '"'


def plan(context: Context) -> list[WriteFile]:
    launcher = "return { " + ", ".join(lua_string(word) for word in context.launcher) + " }\n"
    return [
        *editor_changes("neovim", folder(context)),
        WriteFile(folder(context) / "lua" / "mcv" / "launcher.lua", ("-- written by `mcv plugins install neovim`\n" + launcher).encode("utf-8")),
    ]
