"""Nemo (Cinnamon): one .nemo_action per action.

Nemo puts each selected path into `%F` escaped for GLib's shell-style
parser and runs the line with g_spawn_command_line_async: no shell.
"""

from __future__ import annotations

from mcv.plugins.actions import ACTIONS, IMAGE_MIME_TYPES, MENU_LABEL
from mcv.plugins.install.changes import WriteFile
from mcv.plugins.install.context import Context
from mcv.plugins.install.entries import exec_line, keyfile

NAME = "nemo"
DESCRIPTION = "Nemo (Cinnamon): actions in ~/.local/share/nemo/actions"
AFTER = None


def detect(context: Context) -> str | None:
    return None if context.which("nemo") else "nemo is not on PATH"


def plan(context: Context) -> list[WriteFile]:
    folder = context.data_home / "nemo" / "actions"
    return [
        WriteFile(
            folder / f"mcv-{action.command}.nemo_action",
            keyfile([(
                "Nemo Action",
                (
                    ("Name", f"{action.label} ({MENU_LABEL})"),
                    ("Comment", f"mcv {action.command}: MiniCPM-V on the selected images"),
                    ("Exec", exec_line([*context.launcher, action.command])),
                    ("Icon-Name", action.icon),
                    ("Selection", "notnone"),
                    ("Mimetypes", ";".join(IMAGE_MIME_TYPES) + ";"),
                    # Nemo hides the entry when the program is gone (mcv uninstalled without this).
                    ("Dependencies", context.launcher[0] + ";"),
                ),
            )]),
        )
        for action in ACTIONS
    ]
