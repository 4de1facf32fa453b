"""`mcv model …` end to end, in process (run_mcv) and once as a real subprocess."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import run_mcv

from mcv.cli.env import Environment
from mcv.cli.main import run
from mcv.modelfile import identify, render
from mcv.packaging import hub_catalog

GENERATIONS = ["2.5", "2.6", "o-2.6", "4.0", "4.5", "4.6"]
ROOT = Path(__file__).resolve().parents[2]


def sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def env(mcv_env, tmp_path):
    return {**mcv_env, "MCV_STATE_DIR": str(tmp_path / "mcv-state")}


@pytest.fixture
def ollama_env(env, ollama_standin):
    return {**env, "OLLAMA_HOST": ollama_standin.url}


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("mcv: error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def blob_posts(standin):
    return [r for r in standin.requests if r.method == "POST" and r.path.startswith("/api/blobs/")]


# -- modelfile -------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
def test_modelfile_to_stdout_is_renders_text(env, tiny_pair_factory, tmp_path, monkeypatch, generation):
    llm, mmproj = tiny_pair_factory(generation)
    monkeypatch.chdir(tmp_path)
    result = run_mcv(["model", "modelfile", str(llm), str(mmproj)], environ=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == render.modelfile_text(identify.validate_pair(llm, mmproj), relative_to=tmp_path)


def test_modelfile_bundle_and_its_refusals(env, tiny_pair_25, tmp_path):
    llm, mmproj = tiny_pair_25
    out = tmp_path / "bundle"
    args = ["model", "modelfile", str(llm), str(mmproj), "-o", str(out), "--bundle"]
    first = run_mcv(args, environ=env)
    assert first.exit_code == 0, first.stderr
    assert first.stdout.strip() == str(out / "Modelfile")
    assert sorted(p.name for p in out.iterdir()) == ["Modelfile", "SHA256SUMS", llm.name, mmproj.name]
    assert f"ollama create NAME -f {out / 'Modelfile'}" in first.stderr

    again = run_mcv(args, environ=env)
    assert again.exit_code == 0 and "nothing changed" in again.stderr

    (out / "SHA256SUMS").write_text("edited by hand\n")
    refused = run_mcv(args, environ=env)
    assert refused.exit_code == 2
    assert one_error_line(refused) == f"mcv: error: {out / 'SHA256SUMS'} already exists with other contents; not overwriting it"
    assert (out / "SHA256SUMS").read_text() == "edited by hand\n"
    assert run_mcv(args + ["--force"], environ=env).exit_code == 0
    assert (out / "SHA256SUMS").read_text().startswith(sha(llm)[7:])

    no_dir = run_mcv(["model", "modelfile", str(llm), str(mmproj), "--bundle"], environ=env)
    assert no_dir.exit_code == 2 and "needs a folder" in one_error_line(no_dir)


# -- create ------------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
def test_create_every_generation(ollama_env, ollama_standin, tiny_pair_factory, generation):
    llm, mmproj = tiny_pair_factory(generation)
    tag = render.default_tag(identify.validate_pair(llm, mmproj))
    result = run_mcv(["model", "create", str(llm), str(mmproj)], environ=ollama_env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"created minicpm-v:{tag}\ncreated minicpm-v:latest\n"
    assert {m.name for m in ollama_standin.models} == {f"minicpm-v:{tag}", "minicpm-v:latest"}
    assert all("vision" in m.capabilities for m in ollama_standin.models)
    assert sorted(r.status for r in blob_posts(ollama_standin)) == [201, 201]

    again = run_mcv(["model", "create", str(llm), str(mmproj)], environ=ollama_env)
    assert again.exit_code == 0
    assert again.stdout == f"minicpm-v:{tag} is up to date\nminicpm-v:latest is up to date\n"
    assert "uploaded 0 bytes" in again.stderr
    assert len(blob_posts(ollama_standin)) == 2


def test_create_from_a_folder_with_a_name(ollama_env, ollama_standin, tiny_pair_26):
    folder = tiny_pair_26[0].parent
    result = run_mcv(["model", "create", "vision", str(folder)], environ=ollama_env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["created vision:2.6-q4_K_M", "created vision:latest"]


def test_piped_output_is_quiet(ollama_env, tiny_pair_25):
    result = run_mcv(["model", "create", *map(str, tiny_pair_25)], environ=ollama_env)
    assert result.exit_code == 0
    assert len(result.stderr.splitlines()) <= 6  # a line per upload and model, no bars
    assert "\r" not in result.stderr and "\x1b[" not in result.stderr


def test_terminal_gets_progress_bars(ollama_env, tiny_pair_25):
    stderr = io.StringIO()
    env = Environment(
        stdin=io.BytesIO(), stdout=io.StringIO(), stderr=stderr, stdin_isatty=False, stdout_isatty=False,
        stderr_isatty=True, environ={**ollama_env, "TERM": "xterm"}, width=100,
    )
    assert run(["model", "create", *map(str, tiny_pair_25)], env) == 0
    drawn = stderr.getvalue()
    assert "upload mmproj-model-f16.gguf" in drawn and "hash ggml-model-Q4_K_M.gguf" in drawn
    assert "MB" in drawn  # byte counts drawn by rich's DownloadColumn
    assert "writing manifest" in drawn  # the create status stream is shown


def test_dry_run_prints_the_payload_and_changes_nothing(ollama_env, ollama_standin, tiny_pair_25):
    llm, mmproj = tiny_pair_25
    result = run_mcv(["model", "create", "--dry-run", str(llm), str(mmproj)], environ=ollama_env)
    assert result.exit_code == 0, result.stderr
    body = result.stdout.split("POST /api/create ", 2)[1].rsplit("}", 1)[0] + "}"
    assert json.loads(body)["files"] == {llm.name: sha(llm), mmproj.name: sha(mmproj)}
    assert f"POST /api/blobs/{sha(llm)}" in result.stdout
    assert [r for r in ollama_standin.requests if r.method in ("POST", "DELETE") and r.path != "/api/show"] == []


BAD_PAIRS = ["bad magic", "truncated header", "two LLMs", "n_embd mismatch", "unknown generation"]


def _bad_pair(kind, tiny_pair_factory, tmp_path):
    llm, mmproj = tiny_pair_factory("2.5")
    if kind == "bad magic":
        bad = tmp_path / "mmproj-bad.gguf"
        bad.write_bytes(b"GGML" + mmproj.read_bytes()[4:])
        return [llm, bad], "not a GGUF file (bad magic)"
    if kind == "truncated header":
        cut = tmp_path / "ggml-model-Q4_K_M.gguf"
        cut.write_bytes(llm.read_bytes()[:200])
        return [cut, mmproj], "truncated"
    if kind == "two LLMs":
        return [llm, tiny_pair_factory("2.6")[0]], "both files are LLMs"
    if kind == "n_embd mismatch":
        return list(tiny_pair_factory("2.5", projector_n_embd=256)), "does not match the projector"
    return list(tiny_pair_factory("2.5", minicpmv_version=42)), "unknown MiniCPM-V generation: clip.minicpmv_version 42"


@pytest.mark.parametrize("kind", BAD_PAIRS)
def test_bad_pairs_are_refused_before_any_upload(ollama_env, ollama_standin, tiny_pair_factory, tmp_path, kind):
    paths, expected = _bad_pair(kind, tiny_pair_factory, tmp_path)
    result = run_mcv(["model", "create", *map(str, paths)], environ=ollama_env)
    assert result.exit_code == 2
    assert expected in one_error_line(result)
    assert blob_posts(ollama_standin) == [] and ollama_standin.requests_to("/api/create") == []


def test_swapped_roles_are_fine(ollama_env, tiny_pair_25):
    llm, mmproj = tiny_pair_25
    assert run_mcv(["model", "create", str(mmproj), str(llm)], environ=ollama_env).exit_code == 0


def test_create_failures_are_one_line(ollama_env, ollama_standin, tiny_pair_25):
    ollama_standin.add_model("minicpm-v")
    refused = run_mcv(["model", "create", *map(str, tiny_pair_25)], environ=ollama_env)
    assert refused.exit_code == 2 and "with other contents" in one_error_line(refused)
    assert "mcv: hint: use --force" in refused.stderr

    ollama_standin.inject_create_error("something broke")
    failed = run_mcv(["model", "create", "--force", *map(str, tiny_pair_25)], environ=ollama_env)
    assert failed.exit_code == 1
    assert one_error_line(failed) == "mcv: error: Ollama could not create minicpm-v:2.5-q4_K_M: Ollama error: something broke"

    ollama_standin.stop()
    down = run_mcv(["model", "create", *map(str, tiny_pair_25)], environ=ollama_env)
    assert down.exit_code == 1 and "Ollama is not running" in one_error_line(down)


def test_create_really_runs_as_a_subprocess(ollama_env, ollama_standin, tiny_pair_25):
    llm, mmproj = tiny_pair_25
    proc = subprocess.run(
        [sys.executable, "-m", "mcv", "model", "create", "sub", str(llm), str(mmproj)],
        env=ollama_env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "created sub:2.5-q4_K_M\ncreated sub:latest\n"
    assert ollama_standin.find("sub").capabilities == ["completion", "vision"]
    bad = subprocess.run(
        [sys.executable, "-m", "mcv", "model", "create", str(llm), str(llm)],
        env=ollama_env, capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("mcv: error: ") and "Traceback" not in bad.stderr


# -- pull / ls / show / rm / path -------------------------------------------------------


def test_pull_shows_layers_and_reports_vision(ollama_env, ollama_standin):
    ollama_standin.add_library_model("minicpm-v")
    result = run_mcv(["model", "pull"], environ=ollama_env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "pulled minicpm-v\n"
    assert result.stderr.count("mcv: pull ") == 3  # one line per layer (model, projector, template) when piped
    assert ollama_standin.find("minicpm-v") is not None

    missing = run_mcv(["model", "pull", "nonesuch"], environ=ollama_env)
    assert missing.exit_code == 1 and "not in the Ollama library" in one_error_line(missing)

    ollama_standin.add_library_model("textonly", capabilities=("completion",))
    text = run_mcv(["model", "pull", "textonly"], environ=ollama_env)
    assert text.exit_code == 0 and "has no vision capability" in text.stderr


def test_pull_progress_per_layer(ollama_standin):
    from mcv.core.ollama.client import OllamaClient
    from mcv.packaging.events import Reporter
    from mcv.packaging.pull import pull_model

    class Seen(Reporter):
        def __init__(self):
            self.updates, self.statuses, self.finished = {}, [], []

        def update(self, label, completed, total=None):
            self.updates.setdefault(label, []).append((completed, total))

        def status(self, text):
            self.statuses.append(text)

        def finish(self, label):
            self.finished.append(label)

    ollama_standin.add_library_model("minicpm-v", layers=[("application/vnd.ollama.image.model", 1000),
                                                          ("application/vnd.ollama.image.projector", 200)])
    seen = Seen()
    with OllamaClient(ollama_standin.url) as client:
        result = pull_model(client, "minicpm-v", reporter=seen)
    assert result.vision and sorted(result.layers.values()) == [200, 300, 1000]
    model_layer = [label for label, ups in seen.updates.items() if ups[-1] == (1000, 1000)]
    assert len(model_layer) == 1 and seen.updates[model_layer[0]][0] == (0, 1000)  # "completed" absent at first
    assert seen.statuses == ["pulling manifest", "verifying sha256 digest", "writing manifest", "success"]
    assert sorted(seen.finished) == sorted(seen.updates)


def test_ls_show_rm(ollama_env, ollama_standin, tiny_pair_25):
    assert run_mcv(["model", "create", *map(str, tiny_pair_25)], environ=ollama_env).exit_code == 0
    ollama_standin.add_model("llama3", capabilities=("completion",), family="llama")
    listed = run_mcv(["model", "ls"], environ=ollama_env)
    assert listed.exit_code == 0
    rows = {line.split()[0]: line.split()[1] for line in listed.stdout.splitlines()[1:]}
    assert rows == {"minicpm-v:2.5-q4_K_M": "yes", "minicpm-v:latest": "yes", "llama3:latest": "-"}
    as_json = json.loads(run_mcv(["model", "ls", "--json"], environ=ollama_env).stdout)
    assert {row["name"]: row["vision"] for row in as_json}["llama3:latest"] is False

    shown = run_mcv(["model", "show", "minicpm-v"], environ=ollama_env)
    assert shown.exit_code == 0
    assert "generation    MiniCPM-Llama3-V 2.5" in shown.stdout
    assert "capabilities  completion, vision" in shown.stdout
    assert "projector     arch=clip, type=resampler, minicpmv_version=2" in shown.stdout
    assert 'stop "<|eot_id|>"' in shown.stdout and "<|start_header_id|>{{ .Role }}" in shown.stdout
    assert json.loads(run_mcv(["model", "show", "--json", "minicpm-v"], environ=ollama_env).stdout)["generation"] == "2.5"

    gone = run_mcv(["model", "rm", "minicpm-v:latest", "llama3"], environ=ollama_env)
    assert gone.exit_code == 0 and gone.stdout == "deleted minicpm-v:latest\ndeleted llama3\n"
    assert [m.name for m in ollama_standin.models] == ["minicpm-v:2.5-q4_K_M"]
    missing = run_mcv(["model", "show", "nonesuch"], environ=ollama_env)
    assert missing.exit_code == 1 and "not found" in one_error_line(missing)


def write_store_model(models: Path, relpath: str, *, projector: bool = True) -> list[Path]:
    """An Ollama store entry: blobs + manifest, as `ollama pull` leaves them."""
    layers, paths = [], []
    kinds = ["model"] + (["projector"] if projector else [])
    for kind in kinds:
        data = f"{relpath} {kind}".encode()
        hex_ = hashlib.sha256(data).hexdigest()
        (models / "blobs").mkdir(parents=True, exist_ok=True)
        (models / "blobs" / f"sha256-{hex_}").write_bytes(data)
        layers.append({"mediaType": f"application/vnd.ollama.image.{kind}", "digest": f"sha256:{hex_}", "size": len(data)})
        paths.append(models / "blobs" / f"sha256-{hex_}")
    manifest = models / "manifests" / relpath
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": layers}))
    return paths


def test_path(env, tmp_path):
    models = tmp_path / "ollama-models"
    llm, proj = write_store_model(models, "registry.ollama.ai/library/minicpm-v/2.5-q4_K_M")
    write_store_model(models, "registry.ollama.ai/library/llama3/latest", projector=False)
    environ = {**env, "OLLAMA_MODELS": str(models)}
    found = run_mcv(["model", "path", "minicpm-v:2.5-q4_K_M"], environ=environ)
    assert found.exit_code == 0 and found.stdout == f"{llm}\n{proj}\n"
    flag = run_mcv(["model", "path", "minicpm-v:2.5-q4_K_M", "--models-dir", str(models)], environ=env)
    assert flag.stdout == found.stdout
    text_only = run_mcv(["model", "path", "llama3"], environ=environ)
    assert text_only.exit_code == 1 and "not a vision model" in one_error_line(text_only)
    absent = run_mcv(["model", "path", "minicpm-v"], environ=environ)
    assert absent.exit_code == 1 and "not in the Ollama store" in one_error_line(absent)
    bad = run_mcv(["model", "path", "a/b/c/d"], environ=environ)
    assert bad.exit_code == 2 and "not a model name" in one_error_line(bad)


# -- fetch ------------------------------------------------------------------------------


@pytest.fixture
def hub_env(ollama_env, hf_environ, hf_server, tiny_pair_25):
    repo = hub_catalog.generation("2.5").hf_repo
    for name in ("ggml-model-Q4_K_M.gguf", "ggml-model-Q8_0.gguf"):
        hf_server.add_path(repo, name, tiny_pair_25[0])
    hf_server.add_path(repo, "mmproj-model-f16.gguf", tiny_pair_25[1])
    hf_server.add_file(repo, "README.md", b"# MiniCPM-Llama3-V 2.5\n", lfs=False)
    return {**ollama_env, **hf_environ}


def test_fetch_without_create(hub_env, ollama_standin, tiny_pair_25):
    result = run_mcv(["model", "fetch", "--no-create"], environ=hub_env)
    assert result.exit_code == 0, result.stderr
    llm, proj = map(Path, result.stdout.splitlines())
    assert llm.read_bytes() == tiny_pair_25[0].read_bytes() and proj.read_bytes() == tiny_pair_25[1].read_bytes()
    assert Path(hub_env["HF_HUB_CACHE"]) in llm.parents
    assert ollama_standin.requests == []  # no Ollama involved


def test_fetch_piped_says_how_to_create(hub_env, ollama_standin):
    result = run_mcv(["model", "fetch", "2.5", "--quant", "q8_0"], environ=hub_env)
    assert result.exit_code == 0 and "mcv model fetch 2.5 --quant Q8_0 --create" in result.stderr
    assert Path(result.stdout.splitlines()[0]).name == "ggml-model-Q8_0.gguf"
    assert ollama_standin.models == []
    default = run_mcv(["model", "fetch"], environ=hub_env)
    assert "mcv model fetch 2.5 --create" in default.stderr


def test_fetch_then_create(hub_env, ollama_standin):
    result = run_mcv(["model", "fetch", "--create", "--name", "fromhub"], environ=hub_env)
    assert result.exit_code == 0, result.stderr
    assert "created fromhub:2.5-q4_K_M" in result.stdout
    assert ollama_standin.find("fromhub") is not None


def test_fetch_asks_on_a_terminal(hub_env, ollama_standin):
    env = Environment(
        stdin=io.BytesIO(b"y\n"), stdout=io.StringIO(), stderr=io.StringIO(), stdin_isatty=True,
        stdout_isatty=False, stderr_isatty=True, environ=hub_env, width=100,
    )
    assert run(["model", "fetch"], env) == 0
    assert "Create the Ollama model from this pair now? [Y/n]" in env.stderr.getvalue()
    assert ollama_standin.find("minicpm-v") is not None


def test_fetch_errors(hub_env):
    unknown = run_mcv(["model", "fetch", "2.6"], environ=hub_env)  # not on this Hub
    assert unknown.exit_code == 1
    assert "Hugging Face repository 'openbmb/MiniCPM-V-2_6-gguf' not found at" in one_error_line(unknown)
    refused = run_mcv(["model", "fetch", "2.0"], environ=hub_env)
    assert refused.exit_code == 2 and "not supported" in one_error_line(refused)
    no_quant = run_mcv(["model", "fetch", "--quant", "Q2_K"], environ=hub_env)
    assert no_quant.exit_code == 2
    assert no_quant.stderr.splitlines() == [
        "mcv: error: openbmb/MiniCPM-Llama3-V-2_5-gguf has no Q2_K LLM GGUF",
        "mcv: hint: it has: Q4_K_M, Q8_0 (choose with --quant)",
    ]
