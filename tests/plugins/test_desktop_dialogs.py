"""Dialog tools chosen per desktop, and how text reaches each one: as escaped markup, through a
file, or as AppleScript `argv` items (the script source never holds model output). The tools
are recording stand-ins here; the real zenity runs in test_desktop_xvfb.py."""

from __future__ import annotations

import os

import pytest
from support.desktop import Recorder

from mcv.plugins.desktop import dialogs, files, markup
from mcv.errors import InputError

HOSTILE = '<b>bold</b> & "quotes" \'single\' `tick` $(id) _mnemonic_ \x07bell\r\nline'


def environ_with(tools_dir, **extra) -> dict[str, str]:
    return {"PATH": f"{tools_dir}:/usr/bin:/bin", **extra}


@pytest.mark.parametrize(
    "present,extra,platform,expected",
    [
        (["zenity", "kdialog"], {"DISPLAY": ":0", "XDG_CURRENT_DESKTOP": "KDE"}, "linux", "kdialog"),
        (["zenity", "kdialog"], {"DISPLAY": ":0", "XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}, "linux", "zenity"),
        (["kdialog"], {"WAYLAND_DISPLAY": "wayland-0"}, "linux", "kdialog"),
        (["zenity"], {}, "linux", "stderr"),  # no display: nowhere to show a window
        (["osascript"], {}, "darwin", "osascript"),
        ([], {}, "win32", "windows"),
    ],
)
def test_choose_dialogs(tmp_path, present, extra, platform, expected):
    for name in present:
        Recorder.install(tmp_path / "tools", name)
    chosen = dialogs.choose_dialogs({"PATH": str(tmp_path / "tools"), **extra}, platform=platform)
    assert chosen.name == expected


def test_zenity_short_text_is_escaped_pango(tmp_path):
    tool = Recorder.install(tmp_path / "tools", "zenity", stdout="Copy\n", exit_code=1)
    shown = dialogs.ZenityDialogs(str(tool.program), environ_with(tmp_path / "tools"))
    assert shown.show_text("Title <i>", "short & <b>sweet</b>") is True  # the extra button "Copy"
    (call,) = tool.calls()
    assert "--text=short &amp; &lt;b&gt;sweet&lt;/b&gt;" in call.args and "--title=Title <i>" in call.args


def test_zenity_long_text_goes_through_a_private_file_removed_after(tmp_path):
    tool = Recorder.install(tmp_path / "tools", "zenity", exit_code=0)
    text = (HOSTILE + "\n") * 50
    shown = dialogs.ZenityDialogs(str(tool.program), environ_with(tmp_path / "tools"))
    assert shown.show_text("T", text) is True  # OK is labelled Copy
    (call,) = tool.calls()
    ((argument, content),) = call.files.items()
    assert content == markup.plain(text) and "\x07" not in content and "$(id)" in content
    path = argument.removeprefix("--filename=")
    assert not os.path.exists(path) and os.path.basename(path).startswith("mcv-answer-")


def test_zenity_error_and_question(tmp_path):
    tool = Recorder.install(tmp_path / "tools", "zenity", stdout="what _is_ it?\n", exit_code=0)
    shown = dialogs.ZenityDialogs(str(tool.program), environ_with(tmp_path / "tools"))
    shown.show_error("mcv", "Ollama is <not> running", "start it: ollama serve")
    assert shown.ask("Ask", "about a_b.png") == "what _is_ it?"
    error, entry = tool.calls()
    assert "--text=Ollama is &lt;not&gt; running\n\nHow to fix it: start it: ollama serve" in error.args
    assert "--text=about a__b.png" in entry.args  # a GTK mnemonic would eat the underscore


def test_kdialog_gets_explicit_escaped_rich_text(tmp_path):
    tool = Recorder.install(tmp_path / "tools", "kdialog", exit_code=0)
    shown = dialogs.KDialogs(str(tool.program), environ_with(tmp_path / "tools"))
    assert shown.show_text("T", "a <b>b</b>\nc & d") is True  # "Copy" is the yes button
    (call,) = tool.calls()
    assert call.args[call.args.index("--yesno") + 1] == "<p>a &lt;b&gt;b&lt;/b&gt;<br>c &amp; d</p>"


def test_osascript_text_arrives_as_argv_never_as_source(tmp_path):
    tool = Recorder.install(tmp_path / "tools", "osascript", stdout="Copy\n", exit_code=0)
    shown = dialogs.AppleScriptDialogs(str(tool.program), environ_with(tmp_path / "tools"))
    assert shown.show_text('Title" & (do shell script "id")', HOSTILE) is True
    (call,) = tool.calls()
    separator = call.args.index("--")
    source = call.args[:separator]
    assert source == [part for line in dialogs._AS_TEXT for part in ("-e", line)]  # fixed, whatever the text
    assert call.args[separator + 1 :] == [markup.plain(HOSTILE), 'Title" & (do shell script "id")']


def test_stderr_dialogs(tmp_path):
    import io

    stream = io.StringIO()
    shown = dialogs.StderrDialogs(stream)
    assert shown.show_text("Title", "text") is False and shown.ask("T", "q") is None
    shown.show_error("T", "it broke", "do this")
    assert stream.getvalue() == "Title\n\ntext\nmcv: error: it broke\nmcv: hint: do this\n"


# --- markup --------------------------------------------------------------------------------------


def test_markup_helpers():
    assert markup.pango("a<b>&'\"") == "a&lt;b&gt;&amp;&#39;&quot;"
    assert markup.plain("a\x00b\x1bc\r\nd\x7f\udcff") == "ab" + "c\nd?"
    assert markup.qt_rich_text("x\ny") == "<p>x<br>y</p>"
    assert markup.mnemonic_safe("a_b") == "a__b"
    assert markup.shorten("one two three four five", 12) == "one two…"
    assert markup.shorten("short", 12) == "short"


# --- the files a file manager hands over ---------------------------------------------------------


def test_selected_files(tmp_path):
    sources = files.selected_files(["a b.png", "file:///tmp/x%20y.png", "/abs/../abs/-rf.png"], cwd="/pics")
    assert [source.value for source in sources] == ["/pics/a b.png", "/tmp/x y.png", "/abs/-rf.png"]
    with pytest.raises(InputError, match="is not a local file"):
        files.selected_files(["smb://server/share/a.png"], cwd="/")
    with pytest.raises(InputError, match="empty file name"):
        files.selected_files([""], cwd="/")


def test_selected_file_labels_show_control_characters_escaped():
    # A name with a newline must not read as two lines (a fake header above a fake answer).
    (source,) = files.selected_files(["/pics/a.png\nFake answer\x1b[2J.png"], cwd="/")
    assert source.value == "/pics/a.png\nFake answer\x1b[2J.png"  # the file itself, unchanged
    assert source.label == "a.png\\nFake answer\\x1b[2J.png"
