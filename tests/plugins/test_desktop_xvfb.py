"""A real zenity dialog under Xvfb: `mcv describe --dialog` shows a long answer in a scrollable
text dialog; a screenshot (ImageMagick `import`) is taken and checked; "Copy" is clicked with
xdotool and the answer is on the clipboard."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support.desktop import hostile_folder, tools

from mcv.plugins.desktop.dialogs import TEXT_SIZE

pytestmark = pytest.mark.skipif(
    not tools("Xvfb", "zenity", "xdotool", "import", "xclip"), reason="needs xvfb, zenity, xdotool, imagemagick, xclip"
)

ANSWER = "\n\n".join(f"Paragraph {n}: a long description of the photo, <b>not markup</b> & more." for n in range(30))


def find_window(display: str, name: str) -> str:
    done = subprocess.run(["xdotool", "search", "--sync", "--name", name], capture_output=True, text=True,
                          env={**os.environ, "DISPLAY": display}, timeout=60)  # fmt: skip
    return done.stdout.split()[0]


def test_long_answer_in_a_real_zenity_dialog(ollama_standin, mcv_env, display, tmp_path, no_session_bus):
    ollama_standin.add_model("minicpm-v", answer=ANSWER)
    mcv_env.update(OLLAMA_HOST=ollama_standin.url, MCV_BACKEND="ollama", DISPLAY=display,
                   DBUS_SESSION_BUS_ADDRESS=f"unix:path={tmp_path}/no-bus", XDG_CURRENT_DESKTOP="XFCE")  # fmt: skip
    _, paths = hostile_folder(tmp_path)
    mcv = subprocess.Popen([sys.executable, "-m", "mcv", "describe", "--dialog", "--", paths[2]], env=mcv_env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        window = find_window(display, "Description")
        x_env = {**os.environ, "DISPLAY": display}
        geometry = subprocess.run(["xdotool", "getwindowgeometry", "--shell", window], capture_output=True, text=True,
                                  env=x_env, check=True).stdout  # fmt: skip
        size = dict(line.split("=") for line in geometry.split())
        assert (int(size["WIDTH"]), int(size["HEIGHT"])) == TEXT_SIZE
        shot = tmp_path / "dialog.png"
        subprocess.run(["import", "-window", window, str(shot)], env=x_env, check=True, timeout=30)
        from PIL import Image, ImageStat

        image = Image.open(shot).convert("L")
        assert image.size == TEXT_SIZE
        assert ImageStat.Stat(image).stddev[0] > 10  # text drawn, not a blank window
        if os.environ.get("DESKTOP_TEST_SHOTS"):
            image.save(os.path.join(os.environ["DESKTOP_TEST_SHOTS"], "zenity-long-answer.png"))
        # "Copy" is the right-hand button at the bottom.
        subprocess.run(["xdotool", "mousemove", "--window", window, str(TEXT_SIZE[0] - 45), str(TEXT_SIZE[1] - 25),
                        "click", "1"], env=x_env, check=True)  # fmt: skip
        out, err = mcv.communicate(timeout=60)
    finally:
        mcv.kill()
        mcv.wait()
    assert mcv.returncode == 0, err.decode()
    pasted = subprocess.run(["xclip", "-o", "-selection", "clipboard"], env={**os.environ, "DISPLAY": display},
                            capture_output=True, timeout=10)  # fmt: skip
    assert pasted.stdout.decode() == ANSWER
