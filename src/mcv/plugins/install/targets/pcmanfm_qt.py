"""PCManFM-Qt (LXQt), and Caja with caja-actions: FileManager-Actions files (DES-EMA).

libfm-qt puts each selected path into `%F` through g_shell_quote and runs
the line with g_spawn_command_line_async: no shell. A `Type=Menu` file
groups the actions in a MiniCPM-V submenu.
"""

from __future__ import annotations

from mcv.plugins.actions import ACTIONS, IMAGE_MIME_TYPES, MENU_LABEL
from mcv.plugins.install.changes import WriteFile
from mcv.plugins.install.context import Context
from mcv.plugins.install.entries import exec_line, keyfile

NAME = "pcmanfm-qt"
DESCRIPTION = "PCManFM-Qt (LXQt): file-manager actions in a MiniCPM-V submenu"
AFTER = None


def action_id(command: str) -> str:
    return "mcv-" + command


def detect(context: Context) -> str | None:
    return None if context.which("pcmanfm-qt") else "pcmanfm-qt is not on PATH"


def plan(context: Context) -> list[WriteFile]:
    folder = context.data_home / "file-manager" / "actions"
    menu = keyfile([(
        "Desktop Entry",
        (
            ("Type", "Menu"),
            ("Name", MENU_LABEL),
            ("Icon", "image-x-generic"),
            ("ItemsList", "".join(action_id(action.command) + ";" for action in ACTIONS)),
        ),
    )])  # fmt: skip
    changes = [WriteFile(folder / "mcv-menu.desktop", menu)]
    for action in ACTIONS:
        entry = keyfile([
            (
                "Desktop Entry",
                (("Type", "Action"), ("Name", action.label), ("Icon", action.icon), ("Profiles", "image;")),
            ),
            (
                "X-Action-Profile image",
                (
                    ("Name", action.label),
                    ("MimeTypes", ";".join(IMAGE_MIME_TYPES) + ";"),
                    ("Schemes", "file;"),
                    ("SelectionCount", ">0"),
                    ("Exec", exec_line([*context.launcher, action.command])),
                    ("ExecutionMode", "Normal"),  # DisplayOutput would block the file manager while the model works
                ),
            ),
        ])  # fmt: skip
        changes.append(WriteFile(folder / f"{action_id(action.command)}.desktop", entry))
    return changes
