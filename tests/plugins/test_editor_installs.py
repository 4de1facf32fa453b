"""`mcv plugins install vscode | neovim | emacs`: the plugins land where each editor loads them, the
installed copies load (nvim and emacs run here), VS Code's extensions.json keeps its other entries
byte for byte, and uninstall leaves the home as it was."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support.cli import run_mcv

MCV = '/opt/mcv "tools"/bin/mcv'  # a quote and a space: the launcher files must carry them exactly
OTHER_EXTENSIONS = '[{"identifier":{"id":"ms-python.python","uuid":"f1f59ae4"},"version":"2024.1.0","location":{"$mid":1,"path":"/home/me/.vscode/extensions/ms-python.python-2024.1.0","scheme":"file"},"relativeLocation":"ms-python.python-2024.1.0","metadata":{"installedTimestamp":1700000000000}}]'


@pytest.fixture
def home(tmp_path, mcv_env):
    root = tmp_path / "home"
    (root / ".vscode" / "extensions").mkdir(parents=True)
    (root / ".vscode" / "extensions" / "extensions.json").write_text(OTHER_EXTENSIONS)
    mcv_env.update(HOME=str(root), XDG_DATA_HOME=str(root / "data"), PATH="/usr/bin:/bin")
    return root


def snapshot(root: Path) -> dict[str, bytes | None]:
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            found[str(Path(folder, name).relative_to(root))] = None
        for name in files:
            found[str(Path(folder, name).relative_to(root))] = Path(folder, name).read_bytes()
    return found


def plugins(args, environ):
    result = run_mcv(["plugins", *args], environ=environ)
    assert result.exit_code == 0, result.stderr
    return result


def test_install_load_and_uninstall(home, mcv_env):
    before = snapshot(home)
    result = plugins(["install", "--mcv-path", MCV, "vscode", "neovim", "emacs"], mcv_env)

    extension = home / ".vscode" / "extensions" / "mcv.mcv-vscode-0.1.0"
    assert json.loads((extension / "launcher.json").read_text()) == [MCV]
    assert json.loads((extension / "package.json").read_text())["main"] == "./extension.js"
    assert (extension / "lib" / "mcv.js").is_file()
    listing = (home / ".vscode" / "extensions" / "extensions.json").read_text()
    assert listing.startswith(OTHER_EXTENSIONS[:-1] + ",")  # the other entry untouched, ours after it
    ours = json.loads(listing)[1]
    assert ours["identifier"] == {"id": "mcv.mcv-vscode"} and ours["relativeLocation"] == extension.name
    assert (home / ".vscode" / "extensions" / "extensions.json.mcv-backup").read_text() == OTHER_EXTENSIONS

    pack = home / "data" / "nvim" / "site" / "pack" / "mcv" / "start" / "mcv"
    assert (pack / "plugin" / "mcv.lua").is_file() and (pack / "lua" / "mcv" / "init.lua").is_file()
    emacs_dir = home / "data" / "mcv" / "emacs"
    assert (emacs_dir / "mcv.el").is_file()
    setup = result.stdout[result.stdout.index("(add-to-list") :].split("\nemacs:")[0]
    setup = "\n".join(line for line in setup.splitlines() if line.startswith("("))
    assert f'"{emacs_dir}"' in setup and "(require 'mcv)" in setup

    if shutil.which("nvim"):  # the installed package loads from Neovim's own data folder, with the launcher
        nvim = subprocess.run(
            ["nvim", "--headless", "-i", "NONE", "-u", "NONE", "--cmd", "set packpath^=" + str(home / "data" / "nvim" / "site"),
             "-c", "packloadall", "-c", "lua io.stderr:write(vim.fn.exists(':McvDescribe') .. ' ' .. vim.fn.json_encode(require('mcv').command()))",
             "-c", "qall!"],
            env={**mcv_env, **{name: str(home.parent / name) for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME")}}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert nvim.stderr.strip() == "2 " + json.dumps([MCV]), nvim.stderr
    if shutil.which("emacs"):  # the printed setup works as it is
        emacs = subprocess.run(
            ["emacs", "--batch", "-Q", "--eval", f"(progn {setup} (princ (format \"%S %S\" (fboundp 'mcv-describe-image) mcv-program)))"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert emacs.stdout == f't ("{MCV}")'.replace('"tools"', '\\"tools\\"'), emacs.stdout + emacs.stderr

    again = plugins(["install", "--mcv-path", MCV, "vscode", "neovim", "emacs"], mcv_env)
    assert ": wrote " not in again.stdout

    plugins(["uninstall", "vscode", "neovim", "emacs"], mcv_env)
    after = snapshot(home)
    after.pop(".vscode/extensions/extensions.json.mcv-backup")  # the backup stays
    assert after == before


def test_without_extensions_json_only_the_folder_is_written(home, mcv_env):
    (home / ".vscode" / "extensions" / "extensions.json").unlink()
    plugins(["install", "--mcv-path", MCV, "vscode"], mcv_env)
    assert not (home / ".vscode" / "extensions" / "extensions.json").exists()
    plugins(["uninstall", "vscode"], mcv_env)
    assert snapshot(home) == {".vscode": None, ".vscode/extensions": None}


def test_editors_are_installed_only_when_named(home, mcv_env, tmp_path):
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("nvim", "emacs", "code", "nautilus"):
        (tools / name).write_text("#!/bin/sh\n")
        (tools / name).chmod(0o755)
    mcv_env["PATH"] = f"{tools}:/usr/bin:/bin"
    result = plugins(["install", "--mcv-path", MCV, "--dry-run"], mcv_env)
    assert re.search(r"^nautilus: would write", result.stdout, re.M)
    assert not re.search(r"^(vscode|neovim|emacs|claude-desktop|zed|cursor|vscode-mcp):", result.stdout, re.M)
