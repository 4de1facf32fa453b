"""The desktop actions, as data: what a file manager's menu offers and what each one runs.

Every installer builds its menu entries from ACTIONS (`mcv <command> -- FILES`),
and the desktop commands take their preset and default output from here, so
a menu label and the command behind it cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcv.core.images.sources import IMAGE_EXTENSIONS

MENU_LABEL = "MiniCPM-V"  # the submenu every file manager shows the actions in
OUTPUTS = ("dialog", "notify", "clipboard", "print")


@dataclass(frozen=True)
class DesktopAction:
    command: str  # `mcv <command>`
    label: str  # the menu entry
    preset: str | None  # core/presets.py; None: the question is asked in a dialog
    output: str  # where the answer goes by default (OUTPUTS)
    doing: str  # progress text: "Describing photo.jpg"
    title: str  # the result's title: "Description"
    icon: str  # a freedesktop icon name

    @property
    def asks_question(self) -> bool:
        return self.preset is None


ACTIONS: tuple[DesktopAction, ...] = (
    DesktopAction("describe", "Describe image", "describe", "dialog", "Describing", "Description", "image-x-generic"),
    DesktopAction("ocr", "Extract text", "ocr", "dialog", "Reading the text in", "Text", "edit-find"),
    DesktopAction("alt", "Copy alt text", "alt", "clipboard", "Writing alt text for", "Alt text", "edit-copy"),
    DesktopAction("ask-dialog", "Ask about image…", None, "dialog", "Answering about", "Answer", "dialog-question"),
)
BY_COMMAND = {action.command: action for action in ACTIONS}

# What the menus are offered for: the still-image formats mcv reads (no PDF: these are image actions).
IMAGE_SUFFIXES: tuple[str, ...] = tuple(sorted(ext.lstrip(".") for ext in IMAGE_EXTENSIONS if ext != ".pdf"))
IMAGE_MIME_TYPES: tuple[str, ...] = (
    "image/jpeg",
    "image/png",
    "image/apng",
    "image/webp",
    "image/gif",
    "image/tiff",
    "image/bmp",
    "image/x-bmp",
    "image/x-ms-bmp",
    "image/heic",
    "image/heif",
    "image/avif",
)
