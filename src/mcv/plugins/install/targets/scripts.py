"""File-manager scripts (Nautilus, Caja): one executable per action in a folder named like the menu."""

from __future__ import annotations

from pathlib import Path

from mcv.plugins.actions import ACTIONS, MENU_LABEL
from mcv.plugins.install.changes import WriteFile
from mcv.plugins.install.context import Context
from mcv.plugins.install.entries import shell_words
from mcv.plugins.install.templates import render


def script_changes(context: Context, scripts_dir: Path, program: str, target: str) -> list[WriteFile]:
    """The scripts folder gets a MENU_LABEL subfolder (a submenu), one script per action, named by its label."""
    folder = scripts_dir / MENU_LABEL
    return [
        WriteFile(
            folder / action.label,
            render(
                "file-manager-script.sh.in",
                label=action.label,
                program=program,
                target=target,
                command=shell_words([*context.launcher, action.command]),
            ),
            0o755,
        )
        for action in ACTIONS
    ]
