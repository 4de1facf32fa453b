"""Hostile file names through each real launch path of the generated entries.

The installed entries run a recording `mcv` (in a folder whose own name
needs quoting). Each file manager's way of starting a command is driven with
the code it really uses: GLib's `gio launch` on desktop entries (Dolphin's
service menu and PCManFM-Qt's actions, through an Application shim with the
same Exec), GLib's shell-style parsing for Nemo, `/bin/sh -c` with
GLib-quoted paths for Thunar, and the Nautilus / Caja script run in the
folder with relative names and the *_SCRIPT_* variables. The recorder must
receive the action, `--`, and exactly the selected paths.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest
from support.desktop import (
    Recorder,
    glib_shell_parse_argv,
    glib_shell_quote,
    has_system_gi,
    hostile_folder,
    system_python,
    tools,
)

from mcv.plugins.actions import ACTIONS
from mcv.plugins.install.context import Context
from mcv.plugins.install.targets import caja, dolphin, nautilus, nemo, pcmanfm_qt, thunar

COMMANDS = [action.command for action in ACTIONS]


@pytest.fixture(autouse=True)
def no_injection(tmp_path):
    """The `$(touch INJECTED)` name would leave a file behind wherever a shell ran it."""
    yield
    for folder in (tmp_path, tmp_path / "pictures"):
        assert not (folder / "INJECTED").exists()


def make_context(tmp_path: Path, launcher: str) -> Context:
    home = tmp_path / "home"
    environ = {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config")}
    return Context(environ=environ, home=home, launcher=(launcher,), root=tmp_path / "no-system")


@pytest.fixture
def recorder(tmp_path) -> Recorder:
    # The mcv path itself needs quoting everywhere: a space, $, quotes, a % (field-code look-alike).
    return Recorder.install(tmp_path / "bin $HOME \"q\" it's")


def keyfile_string(path: Path, group: str, key: str) -> str:
    """The value as GLib's GKeyFile reads it (its escapes undone), with Debian's Python."""
    done = system_python(
        "import sys; from gi.repository import GLib; k = GLib.KeyFile(); k.load_from_file(sys.argv[1], 0);"
        " sys.stdout.write(k.get_string(sys.argv[2], sys.argv[3]))",
        str(path), group, key,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


def raw_lines(path: Path, group: str) -> dict[str, str]:
    """The raw `key=value` lines of one group (escapes kept), to copy into a shim verbatim."""
    lines, current = {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            current = line[1:-1]
        elif current == group and "=" in line:
            key, _, value = line.partition("=")
            lines[key] = value
    return lines


def expected(command: str, paths: list[bytes]) -> list[bytes]:
    return [command.encode(), b"--", *paths]


# --- desktop entries through GLib's own launcher -----------------------------------------------


def gio_launch_shim(tmp_path: Path, exec_raw: str, paths: list[bytes], environ: dict[str, str]) -> None:
    shim = tmp_path / "shim.desktop"
    shim.write_text(f"[Desktop Entry]\nType=Application\nName=mcv shim\nExec={exec_raw}\n", encoding="utf-8")
    assert tools("desktop-file-validate")
    validated = subprocess.run(["desktop-file-validate", str(shim)], capture_output=True, text=True)
    assert validated.returncode == 0 and not validated.stdout.strip(), validated.stdout + validated.stderr
    # gio reads a bare `-rf x.png` as its own option: file managers hand over absolute paths.
    subprocess.run(["gio", "launch", str(shim), *paths], check=True, env=environ, timeout=30, cwd=tmp_path)


@pytest.mark.skipif(not tools("gio", "desktop-file-validate"), reason="needs gio (libglib2.0-bin) and desktop-file-utils")
@pytest.mark.parametrize("target", [dolphin, pcmanfm_qt], ids=["dolphin", "pcmanfm-qt"])
def test_desktop_entries_through_gio_launch(tmp_path, recorder, target):
    context = make_context(tmp_path, str(recorder.program))
    _, paths = hostile_folder(tmp_path)
    changes = target.plan(context)
    environ = {**os.environ, "HOME": context.environ["HOME"]}
    for index, command in enumerate(COMMANDS):
        if target is dolphin:
            exec_raw = raw_lines(_written(changes[0]), f"Desktop Action mcv-{command}")["Exec"]
        else:
            change = next(change for change in changes if change.path.name == f"mcv-{command}.desktop")
            exec_raw = raw_lines(_written(change), "X-Action-Profile image")["Exec"]
        gio_launch_shim(tmp_path, exec_raw, paths, environ)
        calls = recorder.wait_calls(index + 1)
        assert len(calls) == index + 1  # one run for the whole selection (%F), not one per file
        assert calls[-1].argv == expected(command, paths)


def _written(change) -> Path:
    change.apply(None)  # as the installer writes it (folders, mode)
    return change.path


# --- Nemo: GLib shell-style parsing, no shell ---------------------------------------------------


@pytest.mark.skipif(not has_system_gi("GLib=2.0"), reason="needs python3-gi")
def test_nemo_action_through_glib_shell_parsing(tmp_path, recorder):
    context = make_context(tmp_path, str(recorder.program))
    folder, paths = hostile_folder(tmp_path)
    for index, change in enumerate(nemo.plan(context)):
        command = change.path.name.removeprefix("mcv-").removesuffix(".nemo_action")
        line = keyfile_string(_written(change), "Nemo Action", "Exec").encode()
        # Nemo puts each path in for %F quoted for GLib's parser and spawns the parsed argv.
        before, _, after = line.rpartition(b"%F")
        argv = glib_shell_parse_argv(before.replace(b"%%", b"%") + b" ".join(map(glib_shell_quote, paths)) + after)
        subprocess.run(argv, check=True, timeout=30, cwd=tmp_path)
        assert recorder.wait_calls(index + 1)[-1].argv == expected(command, paths)


# --- Thunar: /bin/sh -c with GLib-quoted paths --------------------------------------------------


def thunar_command(command_xml: str, paths: list[bytes]) -> bytes:
    """What Thunar's uca model runs: %F -> each path g_shell_quote'd, %% -> %, then `/bin/sh -c`."""
    out, index, text = b"", 0, command_xml.encode()
    while index < len(text):
        if text[index : index + 2] == b"%F":
            out += b" ".join(map(glib_shell_quote, paths))
            index += 2
        elif text[index : index + 2] == b"%%":
            out += b"%"
            index += 2
        else:
            out += text[index : index + 1]
            index += 1
    return out


def test_thunar_actions_through_sh_c(tmp_path, recorder):
    from xml.etree import ElementTree

    context = make_context(tmp_path, str(recorder.program))
    _, paths = hostile_folder(tmp_path)
    (change,) = thunar.plan(context)
    root = ElementTree.fromstring(change.merge(thunar.EMPTY))
    actions = {a.findtext("unique-id"): a.findtext("command") for a in root.iter("action")}
    for index, command in enumerate(COMMANDS):
        line = thunar_command(actions[f"mcv-{command}"], paths)
        subprocess.run([b"/bin/sh", b"-c", line], check=True, timeout=30, cwd=tmp_path)
        assert recorder.wait_calls(index + 1)[-1].argv == expected(command, paths)


# --- Nautilus and Caja scripts: relative names in the folder, and the variables ---------------


@pytest.mark.parametrize("target,prefix", [(nautilus, "NAUTILUS"), (caja, "CAJA")], ids=["nautilus", "caja"])
def test_file_manager_scripts(tmp_path, recorder, target, prefix):
    context = make_context(tmp_path, str(recorder.program))
    folder, paths = hostile_folder(tmp_path)
    names = [os.path.basename(path) for path in paths]
    scripts = [change for change in target.plan(context) if change.mode == 0o755]
    assert len(scripts) == len(ACTIONS)
    uri = lambda path: "file://" + quote_from_bytes(path)  # noqa: E731
    environ = {
        "PATH": os.environ["PATH"],
        f"{prefix}_SCRIPT_SELECTED_FILE_PATHS": "".join(os.fsdecode(path) + "\n" for path in paths),
        f"{prefix}_SCRIPT_SELECTED_URIS": "".join(uri(path) + "\n" for path in paths),
        f"{prefix}_SCRIPT_CURRENT_URI": uri(folder),
    }
    for index, (action, change) in enumerate(zip(ACTIONS, scripts)):
        script = _written(change)
        assert change.path.name == action.label
        subprocess.run([os.fsencode(script), *names], cwd=folder, env=environ, check=True, timeout=30)
        call = recorder.wait_calls(index + 1)[-1]
        assert call.argv == expected(action.command, names)
        assert call.cwd == folder and [os.path.join(call.cwd, name) for name in call.argv[2:]] == paths


# --- nautilus-python: the real extension loader's API, with the system Python ---------------------

_EXTENSION_PROBE = r"""
import json, os, sys, importlib.util
import gi
gi.require_version("Nautilus", "4.0")
from gi.repository import Gio, GLib, Nautilus

spec = importlib.util.spec_from_file_location("mcv_nautilus", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

class Info:
    def __init__(self, uri, mime):
        self.uri, self.mime = uri, mime
    def get_uri_scheme(self): return GLib.Uri.peek_scheme(self.uri)
    def get_mime_type(self): return self.mime
    def is_directory(self): return self.mime == "inode/directory"
    def get_location(self): return Gio.File.new_for_uri(self.uri)

def labels(items):
    out = []
    for item in items:
        menu = item.props.menu
        out.append([item.props.label, [sub.props.label for sub in menu.get_items()] if menu else None])
    return out

provider = module.McvMenuProvider()
local = [Info(Gio.File.new_for_path(os.fsdecode(p)).get_uri(), "image/png") for p in map(os.fsencode, sys.argv[2:])]
report = {
    "local": labels(provider.get_file_items(local)),
    "old_api": labels(provider.get_file_items(None, local)),   # Nautilus < 43 passes the window first
    "remote": labels(provider.get_file_items([Info("sftp://host/a.png", "image/png")])),
    "mixed": labels(provider.get_file_items(local + [Info("smb://host/b.png", "image/png")])),
    "text": labels(provider.get_file_items([Info("file:///tmp/a.txt", "text/plain")])),
    "folder": labels(provider.get_file_items([Info("file:///tmp", "inode/directory")])),
}
# Choose "Describe image": the extension starts mcv itself.
provider.get_file_items(local)[0].props.menu.get_items()[0].activate()
print(json.dumps(report))
"""


@pytest.mark.skipif(not has_system_gi("Nautilus=4.0"), reason="needs python3-nautilus (gir1.2-nautilus-4.0)")
def test_nautilus_python_extension(tmp_path, recorder):
    context = make_context(tmp_path, str(recorder.program))
    # The loader is what decides whether the extension is installed: make it exist under `root`.
    loader = context.root / "usr/lib/x86_64-linux-gnu/nautilus/extensions-4/libnautilus-python.so"
    loader.parent.mkdir(parents=True)
    loader.write_bytes(b"")
    extension = next(change for change in nautilus.plan(context) if change.path.name == nautilus.EXTENSION_NAME)
    assert extension.path == context.data_home / "nautilus-python" / "extensions" / "mcv_nautilus.py"
    _, paths = hostile_folder(tmp_path)
    done = system_python(_EXTENSION_PROBE, str(_written(extension)), *paths, cwd=tmp_path)
    assert done.returncode == 0 and not done.stderr, done.stderr.decode()
    import json

    report = json.loads(done.stdout)
    submenu = [action.label for action in ACTIONS]
    assert report["local"] == [["MiniCPM-V", submenu]]
    assert report["old_api"] == report["local"]
    assert report["remote"] == report["mixed"] == report["text"] == report["folder"] == []
    assert recorder.wait_calls(1)[0].argv == expected("describe", paths)


def test_no_python_loader_no_extension(tmp_path):
    context = make_context(tmp_path, "/usr/bin/mcv")
    names = [change.path.name for change in nautilus.plan(context)]
    assert nautilus.EXTENSION_NAME not in names and len(names) == len(ACTIONS)
