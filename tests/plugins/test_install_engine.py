"""`mcv plugins ls|install|uninstall|status` on a private home: idempotent installs, XDG
folders honoured, --dry-run, and an uninstall that leaves nothing of mcv's and everything else."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from support.cli import run_mcv
from support.desktop import tools

from mcv.plugins.actions import ACTIONS
from mcv.plugins.install.context import Context
from mcv.plugins.install.targets.nautilus import has_python_loader

MCV = "/opt/mcv tools/bin/mcv"  # only a name (entries are checked, not run)
# The nautilus-python extension is installed where its loader is (python3-nautilus on this machine?).
EXTENSION = int(has_python_loader(Context(environ={}, home=Path("/nonexistent"), launcher=(MCV,))))
LINUX_TARGETS = ["nautilus", "nemo", "caja", "dolphin", "thunar", "pcmanfm-qt"]
DESKTOP_TARGETS = [*LINUX_TARGETS, "macos", "windows"]  # this issue's; editors and MCP clients have their own tests

OTHER_UCA = """<?xml version="1.0" encoding="UTF-8"?>
<!-- the person's own actions -->
<actions>
<action>
	<icon>utilities-terminal</icon>
	<name>Open Terminal Here</name>
	<submenu></submenu>
	<unique-id>1700000000000001-1</unique-id>
	<command>exo-open --working-directory %f --launch TerminalEmulator</command>
	<description>Example for a custom action</description>
	<range></range>
	<patterns>*</patterns>
	<startup-notify/>
	<directories/>
</action>
<action>
	<icon></icon>
	<name>Résumé &amp; "mcv-like" name</name>
	<unique-id>1700000000000002-2</unique-id>
	<command>gimp %F</command>
	<description>mcv- in a description is not ours</description>
	<patterns>*.png</patterns>
	<image-files/>
</action>
</actions>
"""


@pytest.fixture
def mcv_path(tmp_path) -> str:
    """An mcv that exists (status says "needs reinstall" when the installed one is gone)."""
    path = tmp_path / "mcv tools" / "bin" / "mcv"
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def home(tmp_path, mcv_env):
    """A person's home with their own things already in the folders mcv writes to."""
    root = tmp_path / "home"
    data, config = root / "xdg data", root / "xdg config"  # XDG variables honoured, spaces and all
    mcv_env.update(HOME=str(root), XDG_DATA_HOME=str(data), XDG_CONFIG_HOME=str(config),
                   XDG_CONFIG_DIRS=str(tmp_path / "etc-xdg"), PATH="/usr/bin:/bin")  # fmt: skip
    (config / "Thunar").mkdir(parents=True)
    (config / "Thunar" / "uca.xml").write_text(OTHER_UCA, encoding="utf-8")
    (data / "nautilus" / "scripts").mkdir(parents=True)
    (data / "nautilus" / "scripts" / "my script").write_text("#!/bin/sh\necho mine\n")
    (data / "kio" / "servicemenus").mkdir(parents=True)
    (data / "kio" / "servicemenus" / "other.desktop").write_text("[Desktop Entry]\nType=Service\n")
    (data / "file-manager" / "actions").mkdir(parents=True)
    (data / "file-manager" / "actions" / "mine.desktop").write_text("[Desktop Entry]\nType=Action\n")
    return root


def snapshot(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every file and folder under `root`: mode and bytes (None for a folder)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            path = Path(folder, name)
            found[str(path.relative_to(root))] = (path.stat().st_mode, None)
        for name in files:
            path = Path(folder, name)
            found[str(path.relative_to(root))] = (path.stat().st_mode, path.read_bytes())
    return found


def mcv(args, environ):
    result = run_mcv(["plugins", *args], environ=environ)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def test_install_reinstall_uninstall_leaves_the_home_as_it_was(mcv_path, home, mcv_env, tmp_path):
    before = snapshot(home)
    state = Path(mcv_env["MCV_STATE_DIR"])
    first = mcv(["install", "--mcv-path", mcv_path, *LINUX_TARGETS], mcv_env)
    # scripts x2 (+ the extension), nemo, dolphin, uca.xml, file-manager actions
    assert first.stdout.count(": wrote ") == 4 + EXTENSION + 4 + 4 + 1 + 1 + 5
    installed = snapshot(home)
    assert installed != before
    uca = (home / "xdg config" / "Thunar" / "uca.xml").read_text(encoding="utf-8")
    assert uca.count("<unique-id>mcv-") == len(ACTIONS) and OTHER_UCA.split("</actions>")[0] in uca
    # the dolphin menu and the scripts are executable, the rest is not
    assert installed["xdg data/kio/servicemenus/mcv.desktop"][0] & 0o777 == 0o755
    assert installed["xdg data/nautilus/scripts/MiniCPM-V/Describe image"][0] & 0o777 == 0o755
    assert installed["xdg data/nemo/actions/mcv-describe.nemo_action"][0] & 0o777 == 0o644

    again = mcv(["install", "--mcv-path", mcv_path, *LINUX_TARGETS], mcv_env)
    assert ": wrote " not in again.stdout and again.stdout.count(": unchanged ") == 19 + EXTENSION
    assert snapshot(home) == installed  # idempotent: not a byte, not a mode changed

    status = mcv(["status", *LINUX_TARGETS], mcv_env)
    assert status.stdout.count(": installed") == len(LINUX_TARGETS)
    # every target: those never installed are one line each, the installed ones list their files
    from mcv.plugins.install.registry import TARGETS

    every = mcv(["status"], mcv_env).stdout.splitlines()
    others = [line for line in every if line.endswith(": not installed") or ": not installed (" in line]
    assert len(others) == len(TARGETS) - len(LINUX_TARGETS)
    assert not any(line.startswith("  ") and "missing" in line for line in every)
    assert sum(line.startswith("  installed ") for line in every) == sum(line.startswith("  installed ") for line in status.stdout.splitlines())
    named = mcv(["status", "macos"], mcv_env).stdout.splitlines()
    assert named[0].startswith("macos: not installed") and len(named) > 1 and all(line.startswith("  missing") for line in named[1:])

    gone = mcv(["uninstall"], mcv_env)  # default: every installed target
    assert "left as it is" not in gone.stdout
    assert snapshot(home) == before  # the person's files, byte for byte, and no folder of ours left
    assert not (state / "plugins-installed.json").exists()
    assert mcv(["uninstall"], mcv_env).stdout.strip() == "nothing is installed"


def test_uca_xml_reinstall_and_uninstall_keep_other_actions_byte_for_byte(mcv_path, home, mcv_env):
    uca = home / "xdg config" / "Thunar" / "uca.xml"
    mcv(["install", "--mcv-path", mcv_path, "thunar"], mcv_env)
    # The person adds an action after ours (Thunar rewrites the file in its own layout, ours kept).
    text = uca.read_text(encoding="utf-8").replace(
        "</actions>", "<action><name>Later</name><unique-id>9-9</unique-id><command>x %f</command></action>\n</actions>"
    )
    uca.write_text(text, encoding="utf-8")
    mcv(["install", "--mcv-path", "/other/mcv", "thunar"], mcv_env)  # reinstall with another mcv path
    text = uca.read_text(encoding="utf-8")
    assert text.count("<unique-id>mcv-") == len(ACTIONS) and "/other/mcv" in text and mcv_path not in text
    mcv(["uninstall", "thunar"], mcv_env)
    expected = OTHER_UCA.replace(
        "</actions>", "<action><name>Later</name><unique-id>9-9</unique-id><command>x %f</command></action>\n</actions>"
    )
    assert uca.read_text(encoding="utf-8") == expected
    if tools("xmllint"):
        assert subprocess.run(["xmllint", "--noout", str(uca)]).returncode == 0


def test_uca_xml_created_from_the_system_file_and_removed_again(mcv_path, home, mcv_env, tmp_path):
    uca = home / "xdg config" / "Thunar" / "uca.xml"
    uca.unlink()
    system = tmp_path / "etc-xdg" / "Thunar" / "uca.xml"
    system.parent.mkdir(parents=True)
    system.write_text(OTHER_UCA, encoding="utf-8")
    mcv(["install", "--mcv-path", mcv_path, "thunar"], mcv_env)
    assert "Open Terminal Here" in uca.read_text(encoding="utf-8")  # Thunar would read only this file now
    mcv(["uninstall", "thunar"], mcv_env)
    assert not uca.exists() and system.read_text(encoding="utf-8") == OTHER_UCA


def test_broken_uca_xml_is_left_alone(mcv_path, home, mcv_env):
    uca = home / "xdg config" / "Thunar" / "uca.xml"
    uca.write_bytes(b"<actions><action>")
    result = run_mcv(["plugins", "install", "--mcv-path", mcv_path, "thunar"], environ=mcv_env)
    assert result.exit_code == 2 and "not valid XML" in result.stderr and "Traceback" not in result.stderr
    assert uca.read_bytes() == b"<actions><action>"


def test_dry_run_lists_every_file_and_changes_nothing(mcv_path, home, mcv_env):
    before = snapshot(home)
    result = mcv(["install", "--dry-run", "--mcv-path", mcv_path, *DESKTOP_TARGETS], mcv_env)
    lines = result.stdout.splitlines()
    assert all(": would write " in line for line in lines)
    assert len(lines) == 4 + EXTENSION + 4 + 4 + 1 + 1 + 5 + 8 + 2
    assert any("Thunar/uca.xml" in line for line in lines) and any("mcv-install.reg" in line for line in lines)
    assert snapshot(home) == before and not Path(mcv_env["MCV_STATE_DIR"], "plugins-installed.json").exists()
    mcv(["install", "--mcv-path", mcv_path, "dolphin"], mcv_env)
    undo = mcv(["uninstall", "--dry-run"], mcv_env)
    assert undo.stdout.splitlines() == [f"dolphin: would remove {home}/xdg data/kio/servicemenus/mcv.desktop"]
    assert (home / "xdg data/kio/servicemenus/mcv.desktop").exists()


def test_a_file_in_the_way_is_not_replaced_without_force(mcv_path, home, mcv_env):
    theirs = home / "xdg data" / "nemo" / "actions" / "mcv-describe.nemo_action"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("[Nemo Action]\nName=someone else's\n")
    result = run_mcv(["plugins", "install", "--mcv-path", mcv_path, "nemo"], environ=mcv_env)
    assert result.exit_code == 2 and "is in the way" in result.stderr and "--force" in result.stderr
    assert theirs.read_text() == "[Nemo Action]\nName=someone else's\n"
    assert not (theirs.parent / "mcv-ocr.nemo_action").exists()  # nothing half-installed
    mcv(["install", "--force", "--mcv-path", mcv_path, "nemo"], mcv_env)
    assert mcv_path in theirs.read_text()


def test_a_file_changed_since_install_stays_on_uninstall(mcv_path, home, mcv_env):
    mcv(["install", "--mcv-path", mcv_path, "nemo"], mcv_env)
    edited = home / "xdg data" / "nemo" / "actions" / "mcv-ocr.nemo_action"
    edited.write_text(edited.read_text() + "Comment=my edit\n")
    result = mcv(["uninstall", "nemo"], mcv_env)
    assert "was changed since mcv wrote it" in result.stdout
    assert edited.exists() and not (edited.parent / "mcv-describe.nemo_action").exists()
    assert "needs reinstall" in mcv(["status", "nemo"], mcv_env).stdout
    mcv(["uninstall", "--force", "nemo"], mcv_env)
    assert not edited.exists() and not (home / "xdg data" / "nemo").exists()


def test_moving_xdg_data_home_moves_the_files(mcv_path, home, mcv_env, tmp_path):
    mcv(["install", "--mcv-path", mcv_path, "dolphin"], mcv_env)
    old = home / "xdg data" / "kio" / "servicemenus" / "mcv.desktop"
    assert old.exists()
    mcv_env["XDG_DATA_HOME"] = str(tmp_path / "new data")
    result = mcv(["install", "--mcv-path", mcv_path, "dolphin"], mcv_env)
    assert "(no longer planned)" in result.stdout and not old.exists()
    assert (tmp_path / "new data" / "kio" / "servicemenus" / "mcv.desktop").exists()
    assert (home / "xdg data" / "kio" / "servicemenus" / "other.desktop").exists()


def test_install_finds_the_file_managers_on_path(mcv_path, home, mcv_env, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("thunar", "pcmanfm-qt"):
        (bin_dir / program).write_text("#!/bin/sh\n")
        (bin_dir / program).chmod(0o755)
    mcv_env["PATH"] = str(bin_dir)
    result = mcv(["install", "--mcv-path", mcv_path], mcv_env)
    assert {line.split(":")[0] for line in result.stdout.splitlines() if ": wrote " in line} == {"thunar", "pcmanfm-qt"}
    rows = {line.split()[0]: line.split(None, 1)[1].split("  ")[0] for line in mcv(["ls"], mcv_env).stdout.splitlines()
            if not line.startswith(" ")}  # fmt: skip
    assert rows["thunar"] == "installed" and rows["nemo"] == "not installed"
    mcv_env["PATH"] = str(tmp_path / "empty")
    result = run_mcv(["plugins", "install"], environ=mcv_env)
    assert result.exit_code == 2 and "no supported file manager" in result.stderr


def test_bad_target_and_relative_mcv_path(mcv_env):
    result = run_mcv(["plugins", "install", "konqueror"], environ=mcv_env)
    assert result.exit_code == 2 and "no install target called 'konqueror'" in result.stderr
    result = run_mcv(["plugins", "install", "--mcv-path", "bin/mcv", "nemo"], environ=mcv_env)
    assert result.exit_code == 2 and "--mcv-path must be absolute" in result.stderr


def test_status_follows_the_installed_mcv(home, mcv_env, tmp_path):
    gone = tmp_path / "old" / "mcv"
    gone.parent.mkdir()
    gone.write_text("#!/bin/sh\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nemo").write_text("#!/bin/sh\n")
    (bin_dir / "nemo").chmod(0o755)
    mcv_env["PATH"] = str(bin_dir)
    mcv(["install", "--mcv-path", str(gone), "nemo", "windows"], mcv_env)
    assert mcv(["status", "nemo"], mcv_env).stdout.startswith("nemo: installed")
    gone.unlink()
    assert mcv(["status", "nemo"], mcv_env).stdout.startswith(f"nemo: needs reinstall ({gone} is gone)")
    # an exported .reg names a Windows mcv: not looked for here
    assert mcv(["status", "windows"], mcv_env).stdout.startswith("windows: installed")


def test_dry_runs_say_what_would_really_happen(mcv_path, home, mcv_env):
    uca = home / "xdg config" / "Thunar" / "uca.xml"
    theirs = home / "xdg data" / "nemo" / "actions" / "mcv-ocr.nemo_action"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("[Nemo Action]\nName=someone else's\n")
    mcv(["install", "--mcv-path", mcv_path, "thunar"], mcv_env)
    again = mcv(["install", "--dry-run", "--mcv-path", mcv_path, "thunar", "nemo"], mcv_env).stdout.splitlines()
    assert f"thunar: would leave unchanged {uca} (mcv's entries merged in; the rest kept as it is)" in again
    assert f"nemo: would stop: {theirs} is in the way (mcv did not write it; --force replaces it)" in again
    # The person's uca.xml is not removed: only mcv's entries are taken out of it.
    undo = mcv(["uninstall", "--dry-run", "thunar"], mcv_env).stdout.splitlines()
    assert undo == [f"thunar: would take mcv's entries out of {uca}"]


def test_ls_lines_up_every_target_name(mcv_env):
    from mcv.plugins.install.registry import TARGETS

    lines = mcv(["ls"], mcv_env).stdout.splitlines()
    names, descriptions = lines[0::2], lines[1::2]
    width = max(map(len, TARGETS)) + 2
    assert [line[:width].rstrip() for line in names] == list(TARGETS)
    assert all(line[width - 2 : width] == "  " and line[width] != " " for line in names)  # state column
    assert all(line[:width].strip() == "" and line[width] != " " for line in descriptions)


def test_a_linked_uca_xml_stays_a_link(mcv_path, home, mcv_env, tmp_path):
    # Dotfile managers (stow, chezmoi symlink mode) link the file into place: mcv edits the file
    # the link points to, and the link stays.
    uca = home / "xdg config" / "Thunar" / "uca.xml"
    dotfile = tmp_path / "dotfiles" / "uca.xml"
    dotfile.parent.mkdir()
    dotfile.write_text(OTHER_UCA, encoding="utf-8")
    uca.unlink()
    uca.symlink_to(dotfile)
    mcv(["install", "--mcv-path", mcv_path, "thunar"], mcv_env)
    assert uca.is_symlink() and dotfile.read_text(encoding="utf-8").count("<unique-id>mcv-") == len(ACTIONS)
    assert mcv(["status", "thunar"], mcv_env).stdout.startswith("thunar: installed")
    mcv(["uninstall", "thunar"], mcv_env)
    assert uca.is_symlink() and dotfile.read_text(encoding="utf-8") == OTHER_UCA


def test_a_windows_mcv_path_for_the_exported_reg_file(home, mcv_env):
    # `--mcv-path` names the mcv of the machine that imports the .reg (its help says so).
    exe = r"C:\Users\me\pipx\venvs\mcv\Scripts\mcv.exe"
    out = mcv(["install", "--mcv-path", exe, "windows"], mcv_env).stdout
    reg = Path(out.split("windows: wrote ")[1].split(" (mode")[0])
    assert reg.name == "mcv-install.reg"
    text = reg.read_bytes().decode("utf-16")
    assert '@="\\"C:\\\\Users\\\\me\\\\pipx\\\\venvs\\\\mcv\\\\Scripts\\\\mcv.exe\\" describe --gather -- \\"%1\\""' in text
    result = run_mcv(["plugins", "install", "--mcv-path", r"mcv.exe", "windows"], environ=mcv_env)
    assert result.exit_code == 2 and "--mcv-path must be absolute" in result.stderr
