"""`mcv ask` end to end against the strict Ollama stand-in: in process and as a real subprocess."""

from __future__ import annotations

import base64
import io
import json
import signal
import subprocess
import sys

import pytest
from PIL import Image

from support.cli import run_mcv
from support.images import QUADRANTS, dominant

MAX_PIXELS = 9 * 448 * 448


@pytest.fixture
def daemon(ollama_standin, mcv_env):
    """The stand-in with a vision model, and an environment pointing mcv at it."""
    ollama_standin.add_model("minicpm-v", answer="The total is **42.00**.\n\n- milk\n- bread")
    mcv_env["OLLAMA_HOST"] = ollama_standin.url
    mcv_env["MCV_BACKEND"] = "ollama"
    return ollama_standin, mcv_env


def sent_images(standin) -> list[Image.Image]:
    chat = standin.requests_to("/api/chat")[-1].json
    images = [img for message in chat["messages"] for img in message.get("images", [])]
    return [Image.open(io.BytesIO(base64.b64decode(b64, validate=True))) for b64 in images]


def test_piped_answer_is_plain_text_and_request_is_right(daemon, photo_jpeg):
    standin, env = daemon
    result = run_mcv(["ask", str(photo_jpeg), "read the receipt"], environ=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "The total is **42.00**.\n\n- milk\n- bread\n"
    assert result.stderr == ""
    chat = standin.requests_to("/api/chat")[-1].json
    assert chat["model"] == "minicpm-v"
    assert chat["stream"] is True
    (user,) = chat["messages"]
    assert user["role"] == "user" and user["content"] == "[img]\nread the receipt"  # Ollama puts the image there
    (b64,) = user["images"]
    assert not b64.startswith("data:")


def test_images_arrive_upright_within_budget(daemon, exif_rotated_jpeg, tmp_path):
    standin, env = daemon
    big = tmp_path / "big.jpg"
    from support.images import make_photo

    make_photo(2400, 1800, seed=3).save(big, quality=90)
    result = run_mcv(["ask", str(exif_rotated_jpeg), str(big), "compare"], environ=env)
    assert result.exit_code == 0, result.stderr
    upright, shrunk = sent_images(standin)
    assert upright.size == (300, 400)
    w, h = upright.size
    assert dominant(upright, (0, 0, w // 4, h // 4)) == pytest.approx(QUADRANTS["top_left"], abs=40)
    assert dominant(upright, (3 * w // 4, 3 * h // 4, w, h)) == pytest.approx(QUADRANTS["bottom_right"], abs=40)
    assert shrunk.width * shrunk.height <= MAX_PIXELS
    assert abs(shrunk.width / shrunk.height - 2400 / 1800) < 0.01


def test_default_prompt_system_options_and_json_metrics(daemon, photo_jpeg):
    standin, env = daemon
    result = run_mcv(
        [
            "ask", str(photo_jpeg), "--json", "--system", "Be terse.", "-t", "0.2",
            "-o", "num_ctx=8192", "-o", "stop=END", "--keep-alive", "10m",
        ],
        environ=env,
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["answer"].startswith("The total is")
    assert payload["model"] == "minicpm-v" and payload["backend"] == "ollama"
    assert payload["done_reason"] == "stop"
    metrics = payload["metrics"]
    assert metrics["eval_count"] > 0 and metrics["prompt_eval_count"] > 0
    assert metrics["tokens_per_second"] == pytest.approx(
        metrics["eval_count"] / metrics["eval_duration_ns"] * 1e9
    )
    chat = standin.requests_to("/api/chat")[-1].json
    assert chat["messages"][0] == {"role": "system", "content": "Be terse."}
    assert chat["messages"][1]["content"] == "[img]\nDescribe this image."
    assert chat["options"] == {"num_ctx": 8192, "stop": ["END"], "temperature": 0.2}
    assert chat["keep_alive"] == "10m"


def test_schema_is_sent_as_format(daemon, photo_jpeg, tmp_path):
    standin, env = daemon
    schema = {"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"]}
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    standin.find("minicpm-v").answer = '{"total": 42.0}'  # an answer that validates (tests/cli/test_structured.py has the rest)
    result = run_mcv(["ask", str(photo_jpeg), "--schema", str(path)], environ=env)
    assert (result.exit_code, result.stdout) == (0, '{"total": 42.0}\n'), result.stderr
    assert standin.requests_to("/api/chat")[-1].json["format"] == schema


def test_terminal_gets_rendered_markdown(daemon, photo_jpeg):
    _, env = daemon
    result = run_mcv(["ask", str(photo_jpeg)], environ=env, stdout_tty=True)
    assert result.exit_code == 0, result.stderr
    # rich renders the bold and the bullets; the raw Markdown markers are gone.
    assert "42.00" in result.stdout and "**" not in result.stdout
    assert "•" in result.stdout


def test_verbose_prints_image_notes_and_metrics_on_stderr(daemon, photo_jpeg):
    _, env = daemon
    result = run_mcv(["ask", str(photo_jpeg), "-v"], environ=env)
    assert result.exit_code == 0
    assert "tok/s" in result.stderr and "sending" in result.stderr
    assert "tok/s" not in result.stdout


def test_stdin_image(daemon, photo_jpeg):
    standin, env = daemon
    result = run_mcv(["ask", "-", "what is it"], environ=env, stdin=photo_jpeg.read_bytes())
    assert result.exit_code == 0, result.stderr
    assert len(sent_images(standin)) == 1


def test_daemon_down_is_one_line_exit_1(ollama_standin, mcv_env, photo_jpeg):
    mcv_env["OLLAMA_HOST"] = ollama_standin.url
    ollama_standin.stop()
    for backend in ("ollama", "auto"):
        mcv_env["MCV_BACKEND"] = backend
        result = run_mcv(["ask", str(photo_jpeg)], environ=mcv_env)
        assert result.exit_code == 1
        first = result.stderr.splitlines()[0]
        assert first.startswith("mcv: error: ") and "Traceback" not in result.stderr
        assert "ollama serve" in result.stderr


def test_model_missing_and_daemon_down_are_told_apart(daemon, photo_jpeg):
    standin, env = daemon
    standin.add_model("llava:13b")
    missing = run_mcv(["ask", "-m", "nope", str(photo_jpeg)], environ=env)
    assert missing.exit_code == 1
    assert missing.stderr.splitlines() == [
        f"mcv: error: model 'nope' is not in Ollama at {standin.url}; its vision models: minicpm-v:latest, llava:13b",
        "mcv: hint: get it with `mcv model pull nope`, or make it from GGUF files with `mcv model create nope LLM.gguf MMPROJ.gguf`",
    ]
    assert not standin.requests_to("/api/chat")
    standin.stop()
    down = run_mcv(["ask", "-m", "nope", str(photo_jpeg)], environ=env)
    assert down.exit_code == 1
    assert down.stderr.splitlines()[0] == f"mcv: error: Ollama is not running at {standin.url} (nothing answers there)"
    assert "`ollama serve`" in down.stderr.splitlines()[1]


def test_no_stream_asks_ollama_for_the_whole_answer(daemon, photo_jpeg):
    standin, env = daemon
    result = run_mcv(["ask", str(photo_jpeg), "--no-stream"], environ=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "The total is **42.00**.\n\n- milk\n- bread\n"
    assert standin.requests_to("/api/chat")[-1].json["stream"] is False


def test_model_without_vision_refused_before_sending(daemon, photo_jpeg):
    standin, env = daemon
    standin.add_model("textonly", capabilities=("completion",))
    result = run_mcv(["ask", "-m", "textonly", str(photo_jpeg)], environ=env)
    assert result.exit_code == 1
    assert "vision" in result.stderr.splitlines()[0]
    assert not standin.requests_to("/api/chat")


def test_mid_stream_error_keeps_partial_answer(ollama_standin, mcv_env, photo_jpeg):
    ollama_standin.add_model("minicpm-v", answer="one two three four five", error_after=2, error="out of memory")
    mcv_env.update(OLLAMA_HOST=ollama_standin.url, MCV_BACKEND="ollama")
    result = run_mcv(["ask", str(photo_jpeg)], environ=mcv_env)
    assert result.exit_code == 1
    assert result.stdout.startswith("one two") and "five" not in result.stdout
    assert result.stderr.splitlines()[0].startswith("mcv: error: ")
    assert result.stderr.splitlines()[0].endswith("out of memory")

    result = run_mcv(["ask", str(photo_jpeg), "--json"], environ=mcv_env)
    payload = json.loads(result.stdout)
    assert payload["answer"].startswith("one two") and payload["error"].endswith("out of memory")


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "--option", "colour=red", "IMG"], "unknown option 'colour'"),
        (["ask", "missing.png", "hi"], "missing.png: no such file"),
        (["ask", "just words"], "no image given"),
        (["ask", "IMG", "--keep-alive", "soon"], "--keep-alive"),
        (["ask", "IMG", "--schema", "{not json"], "--schema"),
        (["ask", "IMG", "--schema", ""], "--schema is empty"),  # not silently no schema
        (["ask", "IMG", "--frobnicate"], "No such option"),
    ],
)
def test_bad_usage_is_one_line_exit_2(daemon, photo_jpeg, args, message):
    standin, env = daemon
    args = [str(photo_jpeg) if a == "IMG" else a for a in args]
    result = run_mcv(args, environ=env)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr.splitlines()[0]
    assert "Traceback" not in result.stderr
    assert not standin.requests_to("/api/chat")


def test_bad_image_is_one_line_exit_2(daemon, tmp_path):
    _, env = daemon
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"this is not an image at all")
    result = run_mcv(["ask", str(bad), "hi"], environ=env)
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) <= 2 and "notes.png" in result.stderr


def _subprocess_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "PYTHONUNBUFFERED": "1"}


def test_real_subprocess_streams_and_pipes(daemon, photo_jpeg):
    standin, env = daemon
    proc = subprocess.run(
        [sys.executable, "-m", "mcv", "ask", str(photo_jpeg), "read the receipt"],
        env=_subprocess_env(env), capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "The total is **42.00**.\n\n- milk\n- bread\n"
    assert standin.requests_to("/api/chat")


def test_real_subprocess_ctrl_c_closes_the_stream(ollama_standin, mcv_env, photo_jpeg):
    words = " ".join(f"w{i}" for i in range(200))
    ollama_standin.add_model("minicpm-v", answer=words, delay=0.05)
    mcv_env.update(OLLAMA_HOST=ollama_standin.url, MCV_BACKEND="ollama")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcv", "ask", str(photo_jpeg)],
        env=_subprocess_env(mcv_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # Wait until the answer is streaming, then interrupt like a terminal would.
    first = proc.stdout.read(3)
    assert first == "w0 "
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert "w199" not in out
    chat = ollama_standin.requests_to("/api/chat")[-1]
    assert ollama_standin.wait_for(chat.finished.is_set)
    assert chat.cancelled and chat.lines_sent < 200


def test_ask_path_imports_no_numpy_pydantic_or_llama(daemon, photo_jpeg):
    _, env = daemon
    code = (
        "import sys\n"
        "from mcv.cli.main import run\n"
        f"rc = run(['ask', {str(photo_jpeg)!r}, 'hi'])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'pydantic', 'llama_cpp', 'ollama', 'gguf'})\n"
        "sys.stderr.write(repr((rc, heavy)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.stderr.endswith("(0, [])"), proc.stderr


def test_think_flag_reaches_ollama_and_thinking_goes_to_stderr(ollama_standin, mcv_env, photo_jpeg):
    ollama_standin.add_model("minicpm-v4.5", answer="Forty-two.", thinking=True, thinking_text="Let me look. ")
    mcv_env.update(OLLAMA_HOST=ollama_standin.url, MCV_BACKEND="ollama")
    result = run_mcv(["ask", "-m", "minicpm-v4.5", "--think", str(photo_jpeg), "total?"], environ=mcv_env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Forty-two.\n"
    assert "Let me look." in result.stderr
    assert ollama_standin.requests_to("/api/chat")[-1].json["think"] is True

    # Without --think a thinking model is told not to think (mcv's default).
    result = run_mcv(["ask", "-m", "minicpm-v4.5", str(photo_jpeg)], environ=mcv_env)
    assert result.exit_code == 0 and "Let me look." not in result.stderr
    assert ollama_standin.requests_to("/api/chat")[-1].json["think"] is False

    ollama_standin.add_model("minicpm-v")
    result = run_mcv(["ask", "-m", "minicpm-v", str(photo_jpeg)], environ=mcv_env)
    assert "think" not in ollama_standin.requests_to("/api/chat")[-1].json
    result = run_mcv(["ask", "-m", "minicpm-v", "--think", str(photo_jpeg)], environ=mcv_env)
    assert result.exit_code == 1 and "thinking" in result.stderr.splitlines()[0]


def test_option_values_are_type_checked(daemon, photo_jpeg):
    standin, env = daemon
    result = run_mcv(["ask", str(photo_jpeg), "-o", "num_ctx=lots"], environ=env)
    assert result.exit_code == 2
    assert "num_ctx" in result.stderr.splitlines()[0] and "integer" in result.stderr
    assert not standin.requests_to("/api/chat")


def test_animated_gif_says_which_frame_is_used(daemon, tmp_path):
    standin, env = daemon
    frames = [Image.new("RGB", (64, 48), colour) for colour in ("red", "green", "blue")]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = run_mcv(["ask", str(gif)], environ=env)
    assert result.exit_code == 0, result.stderr
    assert "anim.gif: animated GIF: first of 3 frames used" in result.stderr
    (sent,) = sent_images(standin)
    assert sent.convert("RGB").getpixel((10, 10))[0] > 200  # the red first frame


def test_a_reader_that_goes_away_is_no_error(ollama_standin, mcv_env, photo_jpeg):
    """`mcv ask ... | head -c 3`: exit 0, no traceback, and the engine stops generating."""
    ollama_standin.add_model("minicpm-v", answer=" ".join(f"w{i}" for i in range(300)), delay=0.02)
    mcv_env.update(OLLAMA_HOST=ollama_standin.url, MCV_BACKEND="ollama")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcv", "ask", str(photo_jpeg)],
        env=_subprocess_env(mcv_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout.read(3) == b"w0 "
    proc.stdout.close()  # the reader is gone
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 0, err
    assert err == ""
    chat = ollama_standin.requests_to("/api/chat")[-1]
    assert ollama_standin.wait_for(chat.finished.is_set)
    assert chat.cancelled


def test_bad_input_is_refused_before_any_engine_is_asked(ollama_standin, mcv_env, photo_jpeg, tmp_path):
    """A text file or a bad page selection is the user's to fix: exit 2, and the daemon is never contacted."""
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\nmilk\n")
    mcv_env.update(OLLAMA_HOST=ollama_standin.url, MCV_BACKEND="auto")
    for args, message in (
        ([str(notes)], f"{notes}: text, not an image"),
        ([str(photo_jpeg), "--pages", "0"], "--pages: bad page range '0'"),
        ([str(photo_jpeg), "--pages", "x"], "--pages: bad page selection 'x'"),
    ):
        result = run_mcv(["ask", *args], environ=mcv_env)
        assert result.exit_code == 2, result.stderr
        assert result.stderr.splitlines()[0].startswith(f"mcv: error: {message}")
    assert ollama_standin.requests == []
    ollama_standin.stop()
    down = run_mcv(["ask", str(notes)], environ=mcv_env)
    assert down.exit_code == 2 and "notes.txt" in down.stderr.splitlines()[0]


def test_prompt_option_keeps_a_question_that_names_a_file(daemon, photo_jpeg, tmp_path, monkeypatch):
    """`--prompt` (what the editors pass): every argument is an image, and a one-word question that
    names an existing file or a URL stays the question instead of becoming a second image."""
    standin, env = daemon
    monkeypatch.chdir(tmp_path)
    (tmp_path / "total").write_bytes(b"a file named like the question")
    for question in ["total", "https://example.com/cat.png"]:
        result = run_mcv(["ask", "--plain", "--prompt", question, "--", str(photo_jpeg)], environ=env)
        assert result.exit_code == 0, result.stderr
        (user,) = standin.requests_to("/api/chat")[-1].json["messages"]
        assert user["content"] == "[img]\n" + question and len(user["images"]) == 1
    asked = len(standin.requests_to("/api/chat"))
    for args, message in [
        (["--prompt", "hi", str(photo_jpeg), "what is this"], "what is this: no such file"),
        (["--prompt", "  ", str(photo_jpeg)], "--prompt is empty"),
    ]:
        result = run_mcv(["ask", *args], environ=env)
        assert result.exit_code == 2 and message in result.stderr.splitlines()[0], result.stderr
    assert len(standin.requests_to("/api/chat")) == asked
