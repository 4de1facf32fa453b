"""Caja (MATE): scripts in Scripts > MiniCPM-V."""

from __future__ import annotations

from mcv.plugins.install.changes import WriteFile
from mcv.plugins.install.context import Context
from mcv.plugins.install.targets.scripts import script_changes

NAME = "caja"
DESCRIPTION = "Caja (MATE): scripts in Scripts > MiniCPM-V"
AFTER = None


def detect(context: Context) -> str | None:
    return None if context.which("caja") else "caja is not on PATH"


def plan(context: Context) -> list[WriteFile]:
    return script_changes(context, context.config_home / "caja" / "scripts", "Caja", NAME)
