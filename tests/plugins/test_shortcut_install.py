"""`mcv plugins install|uninstall|status shortcut` against real settings stores: gsettings with
its keyfile backend in a temporary XDG_CONFIG_HOME (GNOME), a private xfconfd on a private bus
(Xfce), and temporary config folders (KDE, sway, Hyprland, macOS)."""

from __future__ import annotations

import configparser
import os
import plistlib
import subprocess
from pathlib import Path

import pytest

from mcv.plugins.install.settings_changes import CUSTOM_BASE, CUSTOM_SCHEMA, MEDIA_KEYS, parse_gvariant_strings
from mcv.plugins.install.shortcut_keys import Key
from support.cli import run_mcv
from support.desktop import tools



MCV = ""  # set by the `home` fixture: a launcher path with a space (quoting matters everywhere)


@pytest.fixture
def home(tmp_path, mcv_env, monkeypatch):
    """A temporary HOME and XDG folders; the same values in os.environ (reverters read it)."""
    global MCV
    launcher = tmp_path / "mcv bin" / "mcv"
    launcher.parent.mkdir()
    launcher.write_text("#!/bin/sh\n")
    launcher.chmod(0o755)
    MCV = str(launcher)
    environ = {**mcv_env, "HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
               "XDG_DATA_HOME": str(tmp_path / "data"), "GSETTINGS_BACKEND": "keyfile"}  # fmt: skip
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "GSETTINGS_BACKEND", "MCV_STATE_DIR"):
        monkeypatch.setenv(name, environ[name])
    os.makedirs(environ["HOME"])
    return environ


def mcv(args, environ):
    result = run_mcv(["plugins", *args], environ=environ)
    return result


# --- GNOME: gsettings (keyfile backend) ----------------------------------------------------------

needs_gnome_schema = pytest.mark.skipif(
    not tools("gsettings") or subprocess.run(["gsettings", "list-keys", MEDIA_KEYS], capture_output=True).returncode != 0,
    reason="needs gsettings and the media-keys schema (gnome-settings-daemon-common)",
)


def gsettings(environ, *args) -> str:
    return subprocess.run(["gsettings", *args], env=environ, capture_output=True, text=True, check=True).stdout.strip()


def gnome_list(environ) -> list[str]:
    return parse_gvariant_strings(gsettings(environ, "get", MEDIA_KEYS, "custom-keybindings"))


@pytest.fixture
def gnome(home):
    environ = {**home, "XDG_CURRENT_DESKTOP": "ubuntu:GNOME", "XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}
    other = f"{CUSTOM_BASE}custom0/"
    gsettings(environ, "set", MEDIA_KEYS, "custom-keybindings", f"['{other}']")
    gsettings(environ, "set", f"{CUSTOM_SCHEMA}:{other}", "name", "'Terminal'")
    gsettings(environ, "set", f"{CUSTOM_SCHEMA}:{other}", "command", "'gnome-terminal'")
    gsettings(environ, "set", f"{CUSTOM_SCHEMA}:{other}", "binding", "'<Super>Return'")
    return environ


@needs_gnome_schema
def test_gnome_custom_keybinding_added_kept_and_removed(gnome):
    ours = f"{CUSTOM_BASE}mcv-snap/"
    first = mcv(["install", "shortcut", "--mcv-path", MCV], gnome)
    assert first.exit_code == 0, first.stderr
    assert gnome_list(gnome) == [f"{CUSTOM_BASE}custom0/", ours]  # the other binding kept, ours appended
    schema = f"{CUSTOM_SCHEMA}:{ours}"
    assert parse_gvariant_strings(gsettings(gnome, "get", schema, "binding")) == ["<Super><Shift>t"]
    assert parse_gvariant_strings(gsettings(gnome, "get", schema, "command")) == [f"'{MCV}' snap"]
    assert "press <Super><Shift>t" in first.stdout

    again = mcv(["install", "shortcut", "--mcv-path", MCV], gnome)  # idempotent
    assert "unchanged" in again.stdout and gnome_list(gnome) == [f"{CUSTOM_BASE}custom0/", ours]
    status = mcv(["status", "shortcut"], gnome)
    assert "shortcut: installed" in status.stdout and "<Super><Shift>t" in status.stdout

    gone = mcv(["uninstall", "shortcut"], gnome)
    assert gone.exit_code == 0, gone.stderr
    assert gnome_list(gnome) == [f"{CUSTOM_BASE}custom0/"]
    assert parse_gvariant_strings(gsettings(gnome, "get", f"{CUSTOM_SCHEMA}:{CUSTOM_BASE}custom0/", "command")) == ["gnome-terminal"]
    assert parse_gvariant_strings(gsettings(gnome, "get", schema, "command")) == [""]  # our keys reset
    assert "not installed" in mcv(["status", "shortcut"], gnome).stdout


@needs_gnome_schema
def test_gnome_key_taken_by_another_binding_is_refused(gnome):
    refused = mcv(["install", "shortcut", "--key", "Super+Return"], gnome)
    assert refused.exit_code == 2 and "Terminal" in refused.stderr and "--key" in refused.stderr
    assert gnome_list(gnome) == [f"{CUSTOM_BASE}custom0/"]


@needs_gnome_schema
def test_gnome_key_taken_under_another_spelling_is_refused(gnome):
    # GNOME Settings writes accelerators in GTK's order: <Shift><Super>t is mcv's default key
    other = f"{CUSTOM_BASE}custom0/"
    gsettings(gnome, "set", f"{CUSTOM_SCHEMA}:{other}", "binding", "'<Shift><Super>T'")
    refused = mcv(["install", "shortcut"], gnome)
    assert refused.exit_code == 2 and "Terminal" in refused.stderr
    assert gnome_list(gnome) == [other]


@needs_gnome_schema
def test_gnome_key_is_remembered_on_reinstall(gnome):
    assert mcv(["install", "shortcut", "--key", "Ctrl+Alt+S"], gnome).exit_code == 0
    assert mcv(["install", "shortcut"], gnome).exit_code == 0  # no --key: keeps Ctrl+Alt+S
    schema = f"{CUSTOM_SCHEMA}:{CUSTOM_BASE}mcv-snap/"
    assert parse_gvariant_strings(gsettings(gnome, "get", schema, "binding")) == ["<Primary><Alt>s"]
    assert "installed" in mcv(["status", "shortcut"], gnome).stdout


# --- Xfce: a private xfconfd on a private bus --------------------------------------------------


@pytest.fixture
def xfce(home, monkeypatch):
    if not tools("xfconf-query", "dbus-daemon"):
        pytest.skip("needs xfconf-query and dbus-daemon")
    read_fd, write_fd = os.pipe()
    # xfconfd is started by the bus (D-Bus activation) with the bus's environment: the temporary config folder.
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--print-address={write_fd}"],
                              pass_fds=(write_fd,), env=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        address = pipe.readline().strip()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    environ = {**home, "DBUS_SESSION_BUS_ADDRESS": address, "XDG_CURRENT_DESKTOP": "XFCE", "DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}
    xfconf(environ, "-p", "/commands/custom/<Alt>F2", "-n", "-t", "string", "-s", "xfce4-appfinder --collapsed")
    yield environ
    daemon.terminate()
    daemon.wait(10)


def xfconf(environ, *args) -> subprocess.CompletedProcess:
    return subprocess.run(["xfconf-query", "-c", "xfce4-keyboard-shortcuts", *args], env=environ, capture_output=True, text=True)


def test_xfce_shortcut_added_kept_and_removed(xfce):
    first = mcv(["install", "shortcut", "--mcv-path", MCV], xfce)
    assert first.exit_code == 0, first.stderr
    assert xfconf(xfce, "-p", "/commands/custom/<Super><Shift>t").stdout == f"'{MCV}' snap\n"
    assert xfconf(xfce, "-p", "/commands/custom/<Alt>F2").stdout == "xfce4-appfinder --collapsed\n"
    # the custom tree is in use (as xfsettingsd would have made it), with Xfce's defaults copied in
    assert xfconf(xfce, "-p", "/commands/custom/override").stdout.strip() == "true"
    assert xfconf(xfce, "-p", "/commands/custom/<Primary><Alt>Delete").stdout.strip() == "xfce4-session-logout"

    again = mcv(["install", "shortcut", "--mcv-path", MCV], xfce)
    assert "unchanged" in again.stdout
    assert "shortcut: installed" in mcv(["status", "shortcut"], xfce).stdout

    assert mcv(["uninstall", "shortcut"], xfce).exit_code == 0
    assert xfconf(xfce, "-p", "/commands/custom/<Super><Shift>t").returncode != 0
    assert xfconf(xfce, "-p", "/commands/custom/<Alt>F2").stdout == "xfce4-appfinder --collapsed\n"


def test_xfce_key_taken_is_refused_and_a_changed_key_is_left(xfce):
    refused = mcv(["install", "shortcut", "--key", "<Alt>F2"], xfce)
    assert refused.exit_code == 2 and "xfce4-appfinder" in refused.stderr
    assert mcv(["install", "shortcut"], xfce).exit_code == 0
    xfconf(xfce, "-p", "/commands/custom/<Super><Shift>t", "-s", "my-own-tool")  # the person rebound it
    left = mcv(["uninstall", "shortcut"], xfce)
    assert "changed since" in left.stdout
    assert xfconf(xfce, "-p", "/commands/custom/<Super><Shift>t").stdout == "my-own-tool\n"


def test_xfce_key_taken_under_another_spelling_is_refused(xfce):
    # Xfce's own dialog writes <Shift><Super>t (GTK's order) for mcv's default <Super><Shift>t
    xfconf(xfce, "-p", "/commands/custom/<Shift><Super>t", "-n", "-t", "string", "-s", "my-own-terminal")
    refused = mcv(["install", "shortcut"], xfce)
    assert refused.exit_code == 2 and "my-own-terminal" in refused.stderr
    assert xfconf(xfce, "-p", "/commands/custom/<Super><Shift>t").returncode != 0
    assert xfconf(xfce, "-p", "/commands/custom/<Shift><Super>t").stdout == "my-own-terminal\n"


def test_xfce_default_shortcut_is_not_taken_before_the_custom_tree_is_in_use(xfce):
    # override not set yet: Xfce uses /commands/default, which mcv copies into the custom tree
    xfconf(xfce, "-p", "/commands/default/<Super>Print", "-n", "-t", "string", "-s", "xfce4-screenshooter")
    refused = mcv(["install", "shortcut", "--key", "<Super>Print"], xfce)
    assert refused.exit_code == 2 and "xfce4-screenshooter" in refused.stderr
    assert xfconf(xfce, "-p", "/commands/custom/<Super>Print").returncode != 0


# --- KDE, sway, Hyprland, macOS: files of mcv's own --------------------------------------------


def test_kde_desktop_entry_with_x_kde_shortcuts(home):
    environ = {**home, "XDG_CURRENT_DESKTOP": "KDE", "XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}
    other = os.path.join(home["XDG_DATA_HOME"], "applications", "someone-else.desktop")
    os.makedirs(os.path.dirname(other))
    open(other, "w").write("[Desktop Entry]\nType=Application\nName=Other\nExec=other\n")
    first = mcv(["install", "shortcut", "--mcv-path", MCV], environ)
    assert first.exit_code == 0, first.stderr
    assert "log out and in" in first.stdout
    path = os.path.join(home["XDG_DATA_HOME"], "applications", "mcv-snap.desktop")
    entry = configparser.ConfigParser(interpolation=None, strict=True)
    entry.optionxform = str
    entry.read(path)
    assert entry["Desktop Entry"]["X-KDE-Shortcuts"] == "Meta+Shift+T"
    assert entry["Desktop Entry"]["Exec"] == f'"{MCV}" snap'
    assert "unchanged" in mcv(["install", "shortcut", "--mcv-path", MCV], environ).stdout
    assert mcv(["uninstall", "shortcut"], environ).exit_code == 0
    assert not os.path.exists(path) and os.path.exists(other)


@pytest.mark.parametrize(
    "desktop, folder, line, after",
    [
        ({"XDG_CURRENT_DESKTOP": "sway", "SWAYSOCK": "/run/sway.sock"}, "sway",
         "bindsym Mod4+Shift+t exec '{mcv}' snap", "include "),
        ({"HYPRLAND_INSTANCE_SIGNATURE": "x"}, "hypr", "bind = SUPER SHIFT, T, exec, '{mcv}' snap", "source = "),
    ],
)  # fmt: skip
def test_sway_and_hyprland_get_a_file_to_include(home, desktop, folder, line, after):
    environ = {**home, **desktop, "XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-1"}
    config = os.path.join(home["XDG_CONFIG_HOME"], folder)
    os.makedirs(config)
    own = os.path.join(config, "config")
    open(own, "w").write("# the person's own config\n")
    result = mcv(["install", "shortcut", "--mcv-path", MCV], environ)
    assert result.exit_code == 0, result.stderr
    path = os.path.join(config, "mcv-snap.conf")
    assert line.format(mcv=MCV) in open(path).read().splitlines()
    assert f"{after}{path}" in result.stdout  # the line to add is printed; the person's config is not touched
    assert open(own).read() == "# the person's own config\n"
    assert mcv(["uninstall", "shortcut"], environ).exit_code == 0
    assert not os.path.exists(path) and os.path.exists(own)


def test_macos_quick_action_and_the_steps(home, monkeypatch):
    from mcv.plugins.install.context import Context
    from mcv.plugins.install.targets import shortcut

    context = Context.from_environment(home, mcv_path=MCV, platform="darwin")
    changes = shortcut.plan(context)
    flow = plistlib.loads(next(change.data for change in changes if change.path.name == "document.wflow"))
    parameters = flow["actions"][0]["action"]["ActionParameters"]
    assert parameters["COMMAND_STRING"] == f"exec '{MCV}' snap"
    assert flow["workflowMetaData"]["serviceInputTypeIdentifier"] == "com.apple.Automator.nothing"
    info = plistlib.loads(next(change.data for change in changes if change.path.name == "Info.plist"))
    assert "NSSendFileTypes" not in info["NSServices"][0]
    assert str(changes[0].path).startswith(os.path.join(home["HOME"], "Library", "Services", "Snap (MiniCPM-V).workflow"))
    assert "⇧⌘T" in shortcut.after(context)


# --- the command line ----------------------------------------------------------------------------


def test_key_forms_and_errors(home):
    assert Key.parse("<Super><Shift>T") == Key.parse("super+shift+t") == Key.parse("Meta+Shift+T")
    assert Key.parse("Ctrl+Alt+F5").kde() == "Ctrl+Alt+F5"
    assert Key.parse("<Super>Print").sway() == "Mod4+Print"
    environ = {**home, "XDG_CURRENT_DESKTOP": "GNOME", "DISPLAY": ":0"}
    assert mcv(["install", "shortcut", "--key", "Hyper+T"], environ).exit_code == 2
    assert mcv(["install", "shortcut", "--key", "t"], environ).exit_code == 2
    assert mcv(["install", "nautilus", "--key", "<Super>t"], environ).exit_code == 2


def test_status_where_the_settings_store_cannot_be_read(home, tmp_path):
    # GNOME named, but no gsettings: the shortcut's state is unknown, and the other targets are still listed
    environ = {**home, "XDG_CURRENT_DESKTOP": "GNOME", "DISPLAY": ":0", "PATH": str(tmp_path / "empty-bin")}
    result = mcv(["status"], environ)
    assert result.exit_code == 0, result.stderr
    assert "shortcut: unknown (gsettings is not installed)" in result.stdout
    assert "nautilus: not installed" in result.stdout


def test_unknown_desktop_says_so(home):
    environ = {**home, "XDG_CURRENT_DESKTOP": "", "DISPLAY": ":0"}
    result = mcv(["install", "shortcut"], environ)
    assert result.exit_code == 2 and "bind" in result.stderr


def test_a_plain_install_does_not_take_a_key(home, monkeypatch):
    from mcv.plugins.install import registry
    from mcv.plugins.install.context import Context
    from mcv.plugins.install.engine import chosen_targets
    from mcv.plugins.install.manifest import Manifest

    environ = {**home, "XDG_CURRENT_DESKTOP": "GNOME", "DISPLAY": ":0", "PATH": "/nonexistent"}
    context = Context.from_environment(environ, mcv_path=MCV)
    only = {"shortcut": registry.TARGETS["shortcut"], "nautilus": registry.TARGETS["nautilus"]}
    monkeypatch.setattr(registry, "TARGETS", only)
    monkeypatch.setattr("mcv.plugins.install.engine.TARGETS", only)
    assert chosen_targets(context, ["shortcut"], Manifest.load(environ)) == ["shortcut"]  # named: yes
    with pytest.raises(Exception, match="no supported file manager"):
        chosen_targets(context, [], Manifest.load(environ))


def test_windows_start_menu_shortcut_with_a_hotkey(home):
    from mcv.plugins.install.context import Context
    from mcv.plugins.install.lnk import HOTKEYF_ALT, HOTKEYF_CONTROL, read_link
    from mcv.plugins.install.targets import shortcut

    appdata = os.path.join(home["HOME"], "AppData", "Roaming")
    launcher = r"C:\Users\Zoë Q\AppData\Local\Programs\Python\Python312\python.exe"
    context = Context(environ={**home, "APPDATA": appdata}, home=Path(home["HOME"]), launcher=(launcher, "-m", "mcv"), platform="win32")
    (change,) = shortcut.plan(context)
    assert change.path == Path(appdata, "Microsoft", "Windows", "Start Menu", "Programs", "Snap (MiniCPM-V).lnk")
    link = read_link(change.data)
    assert link["target"] == launcher and link["arguments"] == "-m mcv snap"
    assert link["hotkey"] == ord("T") | (HOTKEYF_CONTROL | HOTKEYF_ALT) << 8  # the Windows default: Ctrl+Alt+T
    assert "Ctrl+Alt+T" in shortcut.after(context)
    if tools("lnkinfo"):  # libyal's parser reads it as a shortcut to that path with those arguments
        path = Path(home["HOME"]) / "snap.lnk"
        path.write_bytes(change.data)
        shown = subprocess.run(["lnkinfo", str(path)], capture_output=True, text=True, check=True).stdout
        assert f"Local path\t\t\t: {launcher}" in shown and "Command line arguments\t\t: -m mcv snap" in shown
    with pytest.raises(Exception, match="Windows key"):
        shortcut.plan(Context(environ={**home, "APPDATA": appdata}, home=Path(home["HOME"]), launcher=(launcher,),
                              platform="win32", options={"key": "<Super><Shift>T"}))  # fmt: skip
