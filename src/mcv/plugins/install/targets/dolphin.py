"""Dolphin (KDE): a KIO service menu. KDE runs a .desktop file outside the system
folders only if it is executable (KDesktopFile::isAuthorizedDesktopFile): mode 0755."""

from __future__ import annotations

from mcv.plugins.actions import ACTIONS, IMAGE_MIME_TYPES, MENU_LABEL
from mcv.plugins.install.changes import WriteFile
from mcv.plugins.install.context import Context
from mcv.plugins.install.entries import exec_line, keyfile

NAME = "dolphin"
DESCRIPTION = "Dolphin (KDE): a service menu with a MiniCPM-V submenu"
AFTER = None


def action_id(command: str) -> str:
    return "mcv-" + command


def detect(context: Context) -> str | None:
    return None if context.which("dolphin") else "dolphin is not on PATH"


def plan(context: Context) -> list[WriteFile]:
    entry = (
        "Desktop Entry",
        (
            ("Type", "Service"),
            ("Name", MENU_LABEL),
            ("MimeType", ";".join(IMAGE_MIME_TYPES) + ";"),
            ("X-KDE-ServiceTypes", "KonqPopupMenu/Plugin"),  # Plasma 5; Plasma 6 reads MimeType
            ("X-KDE-Protocols", "file"),  # local files only
            ("X-KDE-Submenu", MENU_LABEL),
            ("Actions", "".join(action_id(action.command) + ";" for action in ACTIONS)),
        ),
    )
    actions = [
        (
            f"Desktop Action {action_id(action.command)}",
            (
                ("Name", action.label),
                ("Icon", action.icon),
                ("Exec", exec_line([*context.launcher, action.command])),
            ),
        )
        for action in ACTIONS
    ]
    return [WriteFile(context.data_home / "kio" / "servicemenus" / "mcv.desktop", keyfile([entry, *actions]), 0o755)]
