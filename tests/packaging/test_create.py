"""`create_model` against the strict Ollama stand-in: calls, payloads, idempotence, refusals."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from support.ollama_standin import gguf as standin_gguf
from support.ollama_standin.models import Layer

from mcv.errors import BackendError, CapabilityError, UsageError
from mcv.core.ollama.client import OllamaClient
from mcv.modelfile import identify, render
from mcv.packaging import existing
from mcv.packaging.create import create_model, split_arguments, target_names
from mcv.packaging.events import Reporter

GENERATIONS = ["2.5", "2.6", "o-2.6", "4.0", "4.5", "4.6"]


def sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def environ(tmp_path):
    return {"MCV_STATE_DIR": str(tmp_path / "mcv-state")}


@pytest.fixture
def client(ollama_standin):
    with OllamaClient(ollama_standin.url) as c:
        yield c


def create(client, standin, pair, environ, **kwargs):
    return create_model(client, pair, host=standin.url, environ=environ, **kwargs)


def mutating(standin):
    return [
        (r.method, r.path)
        for r in standin.requests
        if (r.method, r.path) not in {("POST", "/api/show")} and r.method not in ("GET", "HEAD")
    ]


@pytest.mark.parametrize("generation", GENERATIONS)
def test_every_generation_creates_a_vision_model(ollama_standin, client, environ, tiny_pair_factory, generation):
    llm, mmproj = tiny_pair_factory(generation)
    pair = identify.validate_pair(llm, mmproj)
    result = create(client, ollama_standin, pair, environ)

    tag = render.default_tag(pair)
    assert result.names == [f"minicpm-v:{tag}", "minicpm-v:latest"]
    assert result.created == result.names and result.up_to_date == []
    assert result.uploaded_bytes == llm.stat().st_size + mmproj.stat().st_size
    assert ollama_standin.bytes_received == result.uploaded_bytes

    # Each blob: HEAD (404) strictly before its POST, which the stand-in verified (201).
    for path in (llm, mmproj):
        calls = [(r.method, r.status) for r in ollama_standin.requests if r.path == f"/api/blobs/{sha(path)}"]
        assert calls == [("HEAD", 404), ("POST", 201)]
        assert ollama_standin.blob_bytes(sha(path)) == path.read_bytes()

    creates = ollama_standin.requests_to("/api/create")
    assert [r.status for r in creates] == [200, 200]
    first, second = creates[0].json, creates[1].json
    files = {llm.name: sha(llm), mmproj.name: sha(mmproj)}
    assert first == render.create_payload(pair, f"minicpm-v:{tag}", files=files)
    assert first["files"] == files and first["template"] == pair.generation.ollama_template
    assert first["parameters"] == render.parameters(pair.generation)
    assert first.get("system") == pair.generation.system and first["license"]
    # The second name is made from the first: no files, so no second copy of the weights.
    assert "files" not in second and second["from"] == f"minicpm-v:{tag}" and second["model"] == "minicpm-v:latest"

    for name in result.names:
        assert "vision" in client.capabilities(name)
    assert ollama_standin.find("minicpm-v").projector_info["clip.projector_type"] == pair.generation.projector_type


def test_second_create_uploads_nothing_and_changes_nothing(ollama_standin, client, environ, tiny_pair_25):
    pair = identify.validate_pair(*tiny_pair_25)
    create(client, ollama_standin, pair, environ)
    received, creates = ollama_standin.bytes_received, len(ollama_standin.requests_to("/api/create"))
    digest_before = existing.manifest_digest(client, "minicpm-v")

    again = create(client, ollama_standin, pair, environ)
    assert again.uploaded_bytes == 0 and ollama_standin.bytes_received == received
    assert again.created == [] and again.up_to_date == again.names
    assert len(ollama_standin.requests_to("/api/create")) == creates
    assert existing.manifest_digest(client, "minicpm-v") == digest_before


def test_swapped_arguments_and_a_folder_give_the_same_model(ollama_standin, client, environ, tiny_pair_26):
    llm, mmproj = tiny_pair_26
    create(client, ollama_standin, identify.validate_pair(mmproj, llm), environ)  # projector first: fine
    payload = ollama_standin.requests_to("/api/create")[0].json
    assert payload["files"] == {llm.name: sha(llm), mmproj.name: sha(mmproj)}


def test_explicit_tag_makes_one_model(ollama_standin, client, environ, tiny_pair_25):
    pair = identify.validate_pair(*tiny_pair_25)
    result = create(client, ollama_standin, pair, environ, name="me/vision:v1")
    assert result.names == result.created == ["me/vision:v1"]
    assert [m.name for m in ollama_standin.models] == ["me/vision:v1"]


def test_existing_model_with_other_contents_is_kept(ollama_standin, client, environ, tiny_pair_25):
    library = ollama_standin.add_model("minicpm-v")  # the user's library minicpm-v (2.6)
    pair = identify.validate_pair(*tiny_pair_25)
    with pytest.raises(UsageError, match="already has a model minicpm-v:latest with other contents") as caught:
        create(client, ollama_standin, pair, environ)
    assert "--force" in caught.value.hint
    assert ollama_standin.find("minicpm-v") is library
    assert ollama_standin.requests_to("/api/create") == []
    assert ollama_standin.bytes_received == 0  # refused before any upload

    forced = create(client, ollama_standin, pair, environ, force=True)
    assert forced.created == forced.names
    assert ollama_standin.find("minicpm-v") is not library
    assert ollama_standin.find("minicpm-v").details["family"] == "llama"


def test_a_model_mcv_did_not_record_is_not_assumed_identical(ollama_standin, client, environ, tmp_path, tiny_pair_25):
    """Ollama >= 0.30 rewrites the LLM blob, so without mcv's record the content cannot be proven equal."""
    pair = identify.validate_pair(*tiny_pair_25)
    create(client, ollama_standin, pair, environ)
    other_machine = {"MCV_STATE_DIR": str(tmp_path / "elsewhere")}
    with pytest.raises(UsageError, match="other contents"):
        create(client, ollama_standin, pair, other_machine)
    assert create(client, ollama_standin, pair, other_machine, force=True).created


def test_same_blobs_and_text_count_as_the_same_model(ollama_standin, client, environ, tiny_pair_25):
    """What an older daemon (no LLM rewrite) shows: FROM lines naming our own blobs."""
    llm, mmproj = tiny_pair_25
    pair = identify.validate_pair(llm, mmproj)
    gen = pair.generation
    layers = [Layer(standin_gguf.MODEL, sha(llm), llm.stat().st_size), Layer(standin_gguf.PROJECTOR, sha(mmproj), 1)]
    ollama_standin.add_model("old:made", layers=layers, template=gen.ollama_template, system=gen.system or "")
    payload = render.create_payload(pair, "old:made", files={llm.name: sha(llm), mmproj.name: sha(mmproj)})
    records = existing.CreatedRecords(None)
    found = existing.examine(client, "old:made", host=ollama_standin.url, payload=payload, records=records)
    assert found.state == existing.SAME
    other = dict(payload, template="{{ .Prompt }}")
    assert existing.examine(client, "old:made", host="", payload=other, records=records).state == existing.DIFFERENT
    assert existing.examine(client, "absent", host="", payload=payload, records=records).state == existing.ABSENT


def test_error_line_in_the_create_stream_is_a_clear_failure(ollama_standin, client, environ, tiny_pair_25):
    ollama_standin.inject_create_error("failed to validate GGUF with llama-quantize: bad tensor", after=2)
    pair = identify.validate_pair(*tiny_pair_25)
    with pytest.raises(BackendError, match=r"Ollama could not create minicpm-v:2.5-q4_K_M: .*bad tensor") as caught:
        create(client, ollama_standin, pair, environ)
    assert "llama.cpp cannot read the LLM" in caught.value.hint
    assert ollama_standin.find("minicpm-v:latest") is None  # stopped at the first failure


def test_no_vision_after_create_is_an_error(ollama_standin, client, environ, tiny_pair_25, monkeypatch):
    # An Ollama too old to recognise the projector files it as a second model layer.
    monkeypatch.setattr(standin_gguf, "media_type", lambda kv: standin_gguf.MODEL)
    pair = identify.validate_pair(*tiny_pair_25)
    with pytest.raises(CapabilityError, match="no vision capability: the projector mmproj-model-f16.gguf") as caught:
        create(client, ollama_standin, pair, environ)
    assert "0.32.15" in caught.value.hint and "too old" in caught.value.hint


def test_dry_run_sends_nothing_that_changes_ollama(ollama_standin, client, environ, tiny_pair_25):
    llm, mmproj = tiny_pair_25
    pair = identify.validate_pair(llm, mmproj)
    result = create(client, ollama_standin, pair, environ, dry_run=True)
    assert mutating(ollama_standin) == []
    assert ollama_standin.models == [] and ollama_standin.bytes_received == 0
    assert {path for path, _, _ in result.would_upload} == {llm, mmproj}
    text = result.dry_run_text()
    assert f"POST /api/blobs/{sha(llm)}" in text and f"POST /api/blobs/{sha(mmproj)}" in text
    assert '"model": "minicpm-v:2.5-q4_K_M"' in text and '"from": "minicpm-v:2.5-q4_K_M"' in text

    create(client, ollama_standin, pair, environ)
    again = create(client, ollama_standin, pair, environ, dry_run=True)
    assert again.would_upload == [] and "no blob to upload" in again.dry_run_text()


def test_dry_run_also_refuses_what_the_real_run_would(ollama_standin, client, environ, tiny_pair_25):
    ollama_standin.add_model("minicpm-v")
    with pytest.raises(UsageError):
        create(client, ollama_standin, identify.validate_pair(*tiny_pair_25), environ, dry_run=True)
    assert mutating(ollama_standin) == []


def test_dry_run_without_a_daemon(ollama_standin, client, environ, tiny_pair_25):
    ollama_standin.stop()
    result = create(client, ollama_standin, identify.validate_pair(*tiny_pair_25), environ, dry_run=True)
    assert not result.server_reachable and len(result.would_upload) == 2
    assert "Ollama not reachable" in result.dry_run_text()


class OverlapProbe(Reporter):
    """Holds the LLM's hashing until the projector upload has begun (or 10 s pass)."""

    def __init__(self, llm: Path, mmproj: Path):
        self.llm_hash, self.proj_upload = f"hash {llm.name}", f"upload {mmproj.name}"
        self.upload_started = threading.Event()
        self.overlapped = None
        self.events = []

    def start(self, label, total, initial=0):
        self.events.append(("start", label))
        if label == self.proj_upload:
            self.upload_started.set()

    def advance(self, label, count):
        if label == self.llm_hash and self.overlapped is None:
            self.overlapped = self.upload_started.wait(timeout=10)

    def finish(self, label):
        self.events.append(("finish", label))


def test_projector_uploads_while_the_llm_still_hashes(ollama_standin, client, environ, tmp_path, tiny_pair_25):
    llm, mmproj = tiny_pair_25
    big = tmp_path / llm.name
    big.write_bytes(llm.read_bytes() + b"\0" * (8 << 20))  # bigger than the projector; valid GGUF still
    probe = OverlapProbe(big, mmproj)
    create(client, ollama_standin, identify.validate_pair(big, mmproj), environ, reporter=probe)
    assert probe.overlapped is True
    assert probe.events.index(("start", probe.proj_upload)) < probe.events.index(("finish", probe.llm_hash))


def test_target_names_and_arguments(tiny_pair_25, tmp_path):
    pair = identify.validate_pair(*tiny_pair_25)
    assert target_names(None, pair) == ["minicpm-v:2.5-q4_K_M", "minicpm-v:latest"]
    assert target_names("vision", pair) == ["vision:2.5-q4_K_M", "vision:latest"]
    assert target_names("me/vision", pair) == ["me/vision:2.5-q4_K_M", "me/vision:latest"]
    assert target_names("vision:mine", pair) == ["vision:mine"]
    llm, mmproj = map(str, tiny_pair_25)
    folder = str(Path(llm).parent)
    assert split_arguments([llm, mmproj]) == (None, [Path(llm), Path(mmproj)])
    assert split_arguments(["name", llm, mmproj]) == ("name", [Path(llm), Path(mmproj)])
    assert split_arguments(["name", folder]) == ("name", [Path(folder)])
    assert split_arguments([folder]) == (None, [Path(folder)])
    with pytest.raises(UsageError):
        split_arguments([])
    with pytest.raises(UsageError):
        split_arguments(["a", "b", "c", "d"])
