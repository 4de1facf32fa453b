"""The rooms and their arrows, as docs/ARCHITECTURE.md states them, checked on the source.

    cli, plugins  ->  selftest  ->  packaging  ->  core  ->  modelfile  ->  errors

A room may import from the rooms to its right, never from its left. Every
import counts, also those inside functions and those spelled as strings for
importlib (`"mcv.packaging.store"`), so a lazy import cannot hide an arrow.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mcv"

# Each room and the rooms it may use (besides itself).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "modelfile": {"errors"},
    "core": {"modelfile", "errors"},
    "packaging": {"core", "modelfile", "errors"},
    "selftest": {"packaging", "core", "modelfile", "errors"},
    "plugins": {"cli", "selftest", "packaging", "core", "modelfile", "errors"},
    "cli": {"plugins", "selftest", "packaging", "core", "modelfile", "errors"},
}
TOP_LEVEL = {"__init__", "__main__"}  # the package itself: version, `python -m mcv`
_MODULE_STRING = re.compile(r"^mcv(\.[a-z_]+)+$")


def room_of(module: str) -> str | None:
    """The room a module is in; None for the package itself (`from mcv import __version__`)."""
    if "<relative import" in module:
        return "<relative imports are not allowed>"
    parts = module.split(".")
    if parts[0] != "mcv" or len(parts) < 2:
        return None
    top = SRC / parts[1]
    if not (top.is_dir() or top.with_suffix(".py").is_file()):
        return None  # an attribute of mcv/__init__.py
    return parts[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.add(f"mcv.<relative import in {path.name}>")  # spelled out, an arrow cannot hide
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_STRING.match(node.value):
            found.add(node.value)
    return {module for module in found if module.startswith("mcv")}


def source_files():
    return sorted(SRC.rglob("*.py"))


def test_every_module_is_in_a_known_room():
    rooms = {path.relative_to(SRC).parts[0].removesuffix(".py") for path in source_files()}
    assert rooms - TOP_LEVEL <= set(ALLOWED), rooms - TOP_LEVEL - set(ALLOWED)


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_arrows_run_one_way(room):
    wrong = []
    for path in source_files():
        if path.relative_to(SRC).parts[0].removesuffix(".py") != room:
            continue
        for module in imported_modules(path):
            target = room_of(module)
            if target is None or target == room or target in TOP_LEVEL:
                continue
            if target not in ALLOWED[room]:
                wrong.append(f"{path.relative_to(SRC)} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_lazy_and_string_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f():\n    from mcv.packaging.store import model_files\n"
        "X = 'mcv.cli.main'\nimport mcv.errors\nfrom .. import cli\n"
    )
    found = imported_modules(sample)
    assert found == {
        "mcv.packaging.store", "mcv.packaging.store.model_files", "mcv.cli.main", "mcv.errors",
        "mcv.<relative import in sample.py>",
    }
    assert room_of("mcv.<relative import in sample.py>") not in ALLOWED
