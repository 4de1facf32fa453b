"""Emacs: mcv.el in mcv's data folder, and the lines that load it (printed: your init file is yours)."""

from __future__ import annotations

from pathlib import Path

from mcv.plugins.install.changes import WriteFile
from mcv.plugins.install.context import Context
from mcv.plugins.install.editor_files import editor_changes

NAME = "emacs"
DESCRIPTION = "Emacs: mcv.el (mcv-describe-image, mcv-ocr-image, mcv-ask-image, mcv-insert-alt-text); prints the load-path setup"
AFTER = None  # after(): the setup lines, with this folder and this mcv
BY_DEFAULT = False  # only when named


def folder(context: Context) -> Path:
    return context.data_home / "mcv" / "emacs"


def detect(context: Context) -> str | None:
    return None if context.which("emacs") else "emacs is not on PATH"


def elisp_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def setup_lines(context: Context) -> str:
    program = " ".join(elisp_string(word) for word in context.launcher)
    return (
        f"(add-to-list 'load-path {elisp_string(str(folder(context)))})\n"
        "(require 'mcv)\n"
        f"(setq mcv-program '({program}))\n"
    )


def after(context: Context) -> str:
    return "add these lines to your init file (~/.emacs.d/init.el or ~/.emacs):\n" + setup_lines(context).rstrip("\n")


def plan(context: Context) -> list[WriteFile]:
    return editor_changes("emacs", folder(context))
