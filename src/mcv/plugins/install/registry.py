"""Every install target: name -> module (targets/__init__.py says what a module provides).

A new target (an editor, an MCP client's config, a global shortcut) is one
module plus one line here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from mcv.errors import UsageError

TARGETS: dict[str, str] = {
    "nautilus": "mcv.plugins.install.targets.nautilus",
    "nemo": "mcv.plugins.install.targets.nemo",
    "caja": "mcv.plugins.install.targets.caja",
    "dolphin": "mcv.plugins.install.targets.dolphin",
    "thunar": "mcv.plugins.install.targets.thunar",
    "pcmanfm-qt": "mcv.plugins.install.targets.pcmanfm_qt",
    "macos": "mcv.plugins.install.targets.macos",
    "windows": "mcv.plugins.install.targets.windows",
    "shortcut": "mcv.plugins.install.targets.shortcut",  # a global key for `mcv snap`; only when named
    "vscode": "mcv.plugins.install.targets.vscode",
    "neovim": "mcv.plugins.install.targets.neovim",
    "emacs": "mcv.plugins.install.targets.emacs",
    "claude-desktop": "mcv.plugins.install.targets.claude_desktop",
    "vscode-mcp": "mcv.plugins.install.targets.vscode_mcp",
    "zed": "mcv.plugins.install.targets.zed",
    "cursor": "mcv.plugins.install.targets.cursor",
}


def load_target(name: str) -> ModuleType:
    if name not in TARGETS:
        raise UsageError(f"no install target called {name!r}", hint="targets: " + ", ".join(TARGETS))
    return importlib.import_module(TARGETS[name])
