"""GNOME Files: scripts (Scripts > MiniCPM-V), and where python3-nautilus is installed, a
nautilus-python extension with a MiniCPM-V submenu shown only for local images."""

from __future__ import annotations

from mcv.plugins.actions import ACTIONS, IMAGE_MIME_TYPES, MENU_LABEL
from mcv.plugins.install.changes import WriteFile
from mcv.plugins.install.context import Context
from mcv.plugins.install.targets.scripts import script_changes
from mcv.plugins.install.templates import render

NAME = "nautilus"
DESCRIPTION = "GNOME Files: scripts, plus a MiniCPM-V submenu extension where python3-nautilus is installed"
AFTER = "restart GNOME Files to load the extension: nautilus -q"
EXTENSION_NAME = "mcv_nautilus.py"
# Where distributions put nautilus-python's loader (Debian: python3-nautilus).
_LOADER_GLOBS = ("usr/lib/*/nautilus/extensions-4/libnautilus-python.so", "usr/lib*/nautilus/extensions-4/libnautilus-python.so")


def detect(context: Context) -> str | None:
    return None if context.which("nautilus") else "nautilus is not on PATH"


def has_python_loader(context: Context) -> bool:
    return any(any(context.root.glob(pattern)) for pattern in _LOADER_GLOBS)


def plan(context: Context) -> list[WriteFile]:
    changes = script_changes(context, context.data_home / "nautilus" / "scripts", "GNOME Files", NAME)
    if has_python_loader(context):
        extension = render(
            "nautilus-extension.py.in",
            menu_label=MENU_LABEL,
            menu_label_literal=repr(MENU_LABEL),
            launcher=repr(list(context.launcher)),
            actions=repr([(action.command, action.label) for action in ACTIONS]),
            mime_types=repr(list(IMAGE_MIME_TYPES)),
        )
        changes.append(WriteFile(context.data_home / "nautilus-python" / "extensions" / EXTENSION_NAME, extension))
    return changes
