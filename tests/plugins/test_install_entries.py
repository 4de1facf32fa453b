"""Every generated entry, checked as data: the project's own Exec lint, desktop-file-validate on
Application shims, xmllint on uca.xml, plistlib on the macOS bundles, the Windows .reg text."""

from __future__ import annotations

import configparser
import plistlib
import re
import subprocess
from pathlib import Path

import pytest
from support.desktop import tools

from mcv.plugins.actions import ACTIONS, MENU_LABEL
from mcv.plugins.install import entries
from mcv.plugins.install.context import Context
from mcv.plugins.install.targets import dolphin, macos, nemo, pcmanfm_qt, thunar, windows

LAUNCHERS = ["/usr/bin/mcv", "/home/u s/.local/bin/mcv", "/opt/we$ird \"q\" `b` 50%/mcv"]


def make_context(tmp_path: Path, launcher: str, platform: str = "linux") -> Context:
    home = tmp_path / "home"
    return Context(environ={"HOME": str(home)}, home=home, launcher=(launcher,), platform=platform,
                   root=tmp_path / "root", exports=tmp_path / "exports")  # fmt: skip


def keyfile_groups(data: bytes) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(data.decode("utf-8"))
    return parser


def unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[m.group(1)], value)


def exec_values(tmp_path: Path, launcher: str) -> list[tuple[str, str]]:
    """(where, raw Exec value) of every desktop-entry style file mcv writes."""
    context = make_context(tmp_path, launcher)
    found = []
    for change in dolphin.plan(context) + nemo.plan(context) + pcmanfm_qt.plan(context):
        parser = keyfile_groups(change.data)
        for group in parser.sections():
            if "Exec" in parser[group]:
                found.append((f"{change.path.name} [{group}]", parser[group]["Exec"]))
    return found


# --- the project's own lint -------------------------------------------------------------------------


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_every_exec_line_passes_the_lint(tmp_path, launcher):
    values = exec_values(tmp_path, launcher)
    assert len(values) == 3 * len(ACTIONS)
    for where, raw in values:
        assert entries.lint_exec(unescape(raw)) == [], where
        words = [word for word, _ in entries.split_exec(unescape(raw))]
        assert words[0].replace("%%", "%") == launcher and words[-2:] == ["--", "%F"]


@pytest.mark.parametrize(
    "bad,problem",
    [
        ('/usr/bin/mcv describe -- "%F"', "field code inside a quoted argument"),
        ("/usr/bin/mcv describe -- %f %F", "expected exactly one file field code"),
        ("/usr/bin/mcv describe %F", "`--` must come right before the paths"),
        ("mcv describe -- %F", "the program must be an absolute path"),
        ("/bin/sh -c '/usr/bin/mcv describe -- %F'", "runs a shell"),
        ("/usr/bin/mcv describe -- x%F", "must be an argument on its own"),
        ("/usr/bin/mcv describe -- %F %Z", "unknown field code"),
    ],
)
def test_the_lint_catches_what_desktop_file_validate_misses(bad, problem):
    assert any(problem in found for found in entries.lint_exec(bad))


def test_thunar_command_lint(tmp_path):
    (change,) = thunar.plan(make_context(tmp_path, LAUNCHERS[2]))
    from xml.etree import ElementTree

    commands = [a.findtext("command") for a in ElementTree.fromstring(change.merge(thunar.EMPTY)).iter("action")]
    assert len(commands) == len(ACTIONS)
    for command in commands:
        assert entries.lint_shell_command(command.replace("%%", "%")) == []
    assert entries.lint_shell_command("/usr/bin/mcv describe -- '%F'")  # quoted: Thunar quotes each path itself
    assert entries.lint_shell_command("sh -c 'mcv describe -- %F'")


@pytest.mark.skipif(not tools("desktop-file-validate"), reason="needs desktop-file-utils")
@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_application_shims_pass_desktop_file_validate(tmp_path, launcher):
    for index, (where, raw) in enumerate(exec_values(tmp_path, launcher)):
        shim = tmp_path / f"shim{index}.desktop"
        shim.write_text(f"[Desktop Entry]\nType=Application\nName=shim\nExec={raw}\n", encoding="utf-8")
        done = subprocess.run(["desktop-file-validate", str(shim)], capture_output=True, text=True)
        assert done.returncode == 0 and not done.stdout.strip(), f"{where}: {done.stdout}"


def test_exec_quoting_rules():
    assert entries.exec_quote("/usr/bin/mcv") == "/usr/bin/mcv"
    assert entries.exec_quote("/a b/mcv") == '"/a b/mcv"'
    assert entries.exec_quote('/a"$`\\/mcv') == '"/a\\"\\$\\`\\\\/mcv"'
    assert entries.exec_quote("/50%/mcv") == "/50%%/mcv"
    assert entries.keyfile_value('"/a \\$b"') == '"/a \\\\$b"'


# --- per-target facts ------------------------------------------------------------------------------


def test_dolphin_service_menu(tmp_path):
    (change,) = dolphin.plan(make_context(tmp_path, LAUNCHERS[0]))
    assert change.mode == 0o755  # KDE runs a service menu outside the system folders only if executable
    assert change.path == tmp_path / "home/.local/share/kio/servicemenus/mcv.desktop"
    entry = keyfile_groups(change.data)["Desktop Entry"]
    assert entry["Type"] == "Service" and "image/png;" in entry["MimeType"]
    assert entry["X-KDE-ServiceTypes"] == "KonqPopupMenu/Plugin" and entry["X-KDE-Submenu"] == MENU_LABEL
    assert entry["Actions"] == "".join(f"mcv-{a.command};" for a in ACTIONS)


def test_nemo_actions(tmp_path):
    changes = nemo.plan(make_context(tmp_path, LAUNCHERS[0]))
    assert [c.path.name for c in changes] == [f"mcv-{a.command}.nemo_action" for a in ACTIONS]
    action = keyfile_groups(changes[0].data)["Nemo Action"]
    assert action["Selection"] == "notnone" and action["Mimetypes"].endswith(";")
    assert action["Exec"] == "/usr/bin/mcv describe -- %F" and action["Dependencies"] == "/usr/bin/mcv;"


def test_pcmanfm_qt_actions(tmp_path):
    changes = pcmanfm_qt.plan(make_context(tmp_path, LAUNCHERS[0]))
    menu = keyfile_groups(changes[0].data)["Desktop Entry"]
    assert menu["Type"] == "Menu" and menu["ItemsList"] == "".join(f"mcv-{a.command};" for a in ACTIONS)
    profile = keyfile_groups(changes[1].data)["X-Action-Profile image"]
    assert profile["Exec"] == "/usr/bin/mcv describe -- %F" and profile["ExecutionMode"] == "Normal"
    assert profile["Schemes"] == "file;" and profile["SelectionCount"] == ">0"


@pytest.mark.skipif(not tools("xmllint"), reason="needs libxml2-utils")
def test_uca_xml_is_valid_xml_and_case_blind(tmp_path):
    (change,) = thunar.plan(make_context(tmp_path, LAUNCHERS[2]))
    path = tmp_path / "uca.xml"
    path.write_bytes(change.merge(thunar.EMPTY))
    done = subprocess.run(["xmllint", "--noout", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    from xml.etree import ElementTree

    for action in ElementTree.parse(path).getroot().iter("action"):
        patterns = action.findtext("patterns").split(";")
        assert {"*.png", "*.PNG", "*.jpg", "*.JPG", "*.jpeg", "*.JPEG", "*.webp"} <= set(patterns)
        assert action.find("image-files") is not None and action.findtext("submenu") == MENU_LABEL


# --- macOS Quick Actions --------------------------------------------------------------------------


def test_macos_quick_actions_as_data(tmp_path):
    launcher = "/Users/u/Library/Application Support/A&B <x>/mcv' ; rm -rf ~ #"
    context = make_context(tmp_path, launcher, platform="darwin")
    changes = macos.plan(context)
    assert len(changes) == 2 * len(ACTIONS)
    assert all(c.path.is_relative_to(tmp_path / "home/Library/Services") for c in changes)
    for action, info_change, flow_change in zip(ACTIONS, changes[::2], changes[1::2]):
        assert info_change.path.name == "Info.plist" and flow_change.path.name == "document.wflow"
        assert flow_change.path.parent.parent.name.endswith(f"({MENU_LABEL}).workflow")
        service = plistlib.loads(info_change.data)["NSServices"][0]
        assert service["NSMenuItem"]["default"] == action.label
        assert service["NSSendFileTypes"] == ["public.image"]
        assert service["NSRequiredContext"]["NSApplicationIdentifier"] == "com.apple.finder"
        flow = plistlib.loads(flow_change.data)
        assert flow["workflowMetaData"]["workflowTypeIdentifier"] == "com.apple.Automator.servicesMenu"
        assert flow["workflowMetaData"]["serviceInputTypeIdentifier"] == "com.apple.Automator.fileSystemObject.image"
        (step,) = flow["actions"]
        parameters = step["action"]["ActionParameters"]
        assert parameters["inputMethod"] == 1  # the selection as arguments, "$@"
        # The fixed shell line: the absolute mcv, one word however it is spelled, then -- "$@".
        import shlex

        assert shlex.split(parameters["COMMAND_STRING"]) == ["exec", launcher, action.command, "--", "$@"]
        run = subprocess.run([parameters["shell"], "-c", parameters["COMMAND_STRING"].replace("exec ", "printf '%s\\n' ", 1),
                              "sh", "a b.png", "-rf x.png"], capture_output=True, text=True)  # fmt: skip
        assert run.stdout.splitlines() == [launcher, action.command, "--", "a b.png", "-rf x.png"]
    # XML-escaped in the file, exact when read back; a reinstall writes the same bytes (stable UUIDs).
    assert b"A&amp;B &lt;x&gt;" in changes[1].data and b"<x>" not in changes[1].data
    assert [c.data for c in macos.plan(context)] == [c.data for c in changes]


def test_macos_bundles_exported_elsewhere(tmp_path):
    changes = macos.plan(make_context(tmp_path, "/usr/local/bin/mcv"))
    assert all(c.path.is_relative_to(tmp_path / "exports/macos/Library/Services") for c in changes)


# --- Windows registry -----------------------------------------------------------------------------


def parse_reg(data: bytes) -> dict[str, dict[str, str]]:
    """A .reg file read the way regedit reads it (UTF-16 LE with a BOM; quoted strings with \\ escapes)."""
    assert data[:2] == b"\xff\xfe"
    text = data[2:].decode("utf-16-le")
    lines = text.split("\r\n")
    assert lines[0] == "Windows Registry Editor Version 5.00"
    keys: dict[str, dict[str, str]] = {}
    current = None
    for line in lines[1:]:
        if line.startswith("["):
            current = line[1:-1]
            keys[current] = {}
        elif line:
            match = re.fullmatch(r'(@|"((?:[^"\\]|\\.)*)")="((?:[^"\\]|\\.)*)"', line)
            assert match, line
            name = "" if match.group(1) == "@" else re.sub(r"\\(.)", r"\1", match.group(2))
            keys[current][name] = re.sub(r"\\(.)", r"\1", match.group(3))
    return keys


def test_windows_reg_files(tmp_path):
    launcher = r"C:\Users\A User\AppData\Local\Programs\mcv\mcvw.exe"
    install, remove = windows.plan(make_context(tmp_path, launcher))
    assert install.path == tmp_path / "exports/windows/mcv-install.reg"
    keys = parse_reg(install.data)
    top = r"HKEY_CURRENT_USER\Software\Classes\SystemFileAssociations\image\shell\mcv"
    assert keys[top] == {"MUIVerb": MENU_LABEL, "SubCommands": "", "MultiSelectModel": "Player"}
    for index, action in enumerate(ACTIONS, 1):
        verb = keys[rf"{top}\shell\{index}-{action.command}"]
        assert verb == {"MUIVerb": action.label, "MultiSelectModel": "Player"}
        command = keys[rf"{top}\shell\{index}-{action.command}\command"][""]
        assert command == f'"{launcher}" {action.command} --gather -- "%1"'  # Explorer's launches: one job
        assert "cmd" not in command.lower().split()
    assert parse_reg(remove.data) == {f"-{top}": {}}


class FakeWinreg:
    """winreg's calls on a dict, enough for RegistryKeys (applied for real only on Windows)."""

    HKEY_CURRENT_USER, KEY_WRITE, REG_SZ = "HKCU", 0x20006, 1

    def __init__(self):
        self.keys: dict[str, dict[str, str]] = {}

    class _Key:
        def __init__(self, owner, name):
            self.owner, self.name = owner, name

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def CreateKeyEx(self, root, subkey, reserved, access):  # noqa: N802
        parts = subkey.split("\\")
        for end in range(1, len(parts) + 1):
            self.keys.setdefault("\\".join(parts[:end]), {})
        return self._Key(self, subkey)

    def OpenKey(self, root, subkey):  # noqa: N802
        if subkey not in self.keys:
            raise FileNotFoundError(subkey)
        return self._Key(self, subkey)

    def SetValueEx(self, key, name, reserved, kind, data):  # noqa: N802
        self.keys[key.name][name] = data

    def QueryValueEx(self, key, name):  # noqa: N802
        if name not in self.keys[key.name]:
            raise FileNotFoundError(name)
        return self.keys[key.name][name], self.REG_SZ

    def EnumKey(self, key, index):  # noqa: N802
        prefix = key.name + "\\"
        children = sorted({k[len(prefix):].split("\\")[0] for k in self.keys if k.startswith(prefix)})
        if index >= len(children):
            raise OSError("no more data")
        return children[index]

    def DeleteKey(self, root, subkey):  # noqa: N802
        if any(other.startswith(subkey + "\\") for other in self.keys):
            raise OSError("key has subkeys")  # as winreg: children first
        if subkey not in self.keys:
            raise FileNotFoundError(subkey)
        del self.keys[subkey]


def test_windows_registry_applied_and_reverted_with_winreg(tmp_path):
    from mcv.plugins.install.changes import INSTALLED, MISSING, revert_registry

    api = FakeWinreg()
    context = make_context(tmp_path, r"C:\mcv\mcvw.exe", platform="win32")
    (change,) = windows.plan(context, winreg=api)
    assert change.state() == MISSING
    record = change.apply(None)
    assert change.state() == INSTALLED
    assert api.keys[rf"{windows.TOP}\shell\1-describe\command"][""] == r'"C:\mcv\mcvw.exe" describe --gather -- "%1"'
    api.keys[r"Software\Classes\SystemFileAssociations\image\shell\other.verb"] = {"": "not ours"}
    before = {key for key in api.keys if not key.startswith(windows.TOP)}  # Software, Classes, ...: not ours
    revert_registry(record, False, winreg=api)
    assert set(api.keys) == before and change.state() == MISSING
