"""`mcv mcp` over real stdio, driven by the official `mcp` client, against the strict Ollama stand-in
and against a tiny GGUF pair in process (the fallback when no daemon answers)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest

pytest.importorskip("mcp")

from mcp import Client
from mcp.client.stdio import StdioServerParameters


def _params(env: dict[str, str], cwd: Path, *args: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "mcv", "mcp", *args], env=env, cwd=str(cwd))


def _session(params: StdioServerParameters, script):
    """Run `script(client)` against a fresh server process; returns what it returns."""

    async def main():
        async with Client(params, read_timeout_seconds=120) as client:
            return await script(client)

    return anyio.run(main)


@pytest.fixture
def workdir(tmp_path, photo_jpeg, receipt_png):
    root = tmp_path / "work"
    (root / "shots").mkdir(parents=True)
    (root / "shots" / "photo.jpg").write_bytes(Path(photo_jpeg).read_bytes())
    (root / "receipt.png").write_bytes(Path(receipt_png).read_bytes())
    return root


@pytest.fixture
def standin_env(mcv_env, ollama_standin):
    mcv_env["OLLAMA_HOST"] = ollama_standin.url
    mcv_env["MCV_BACKEND"] = "ollama"
    return mcv_env


def _text(result) -> str:
    return "".join(block.text for block in result.content if block.type == "text")


def test_tools_answer_through_the_core_session(ollama_standin, standin_env, workdir):
    ollama_standin.add_model("minicpm-v", answer=lambda request: "Answer to: " + request["messages"][-1]["content"].replace("[img]", "").strip()[:40])

    async def script(client):
        names = [tool.name for tool in (await client.list_tools()).tools]
        described = await client.call_tool("describe_image", {"path": "shots/photo.jpg", "mode": "ui"})
        text = await client.call_tool("extract_text", {"path": str(workdir / "receipt.png")})
        asked = await client.call_tool("ask_image", {"path": "shots/photo.jpg", "question": "how many cats?"})
        return names, described, text, asked

    names, described, text, asked = _session(_params(standin_env, workdir), script)
    assert {"describe_image", "extract_text", "ask_image", "extract_json"} <= set(names)
    assert {"preset_describe", "preset_receipt", "preset_tags", "preset_alt"} <= set(names)
    assert not described.is_error and _text(described).startswith("Answer to: Describe this image")
    assert not text.is_error and _text(text).startswith("Answer to: Transcribe all the text")
    assert _text(asked) == "Answer to: how many cats?"
    chats = ollama_standin.requests_to("/api/chat")
    assert len(chats) == 3
    ui_prompt = chats[0].json["messages"][-1]["content"]
    assert "screenshot of a user interface" in ui_prompt
    assert chats[0].json["messages"][-1]["images"]  # the image went to the model
    # ocr's preset: its system prompt and temperature 0; the next call starts afresh
    assert chats[1].json["messages"][0]["role"] == "system" and chats[1].json["options"]["temperature"] == 0
    assert chats[2].json["messages"][0]["role"] == "user" and "temperature" not in chats[2].json.get("options", {})


def test_extract_json_returns_structured_content(ollama_standin, standin_env, workdir):
    ollama_standin.add_model("minicpm-v", answer='{"merchant": "Corner Shop", "total": 12.5}')

    async def script(client):
        return await client.call_tool(
            "extract_json", {"path": "receipt.png", "schema": "merchant, total float"}
        )

    result = _session(_params(standin_env, workdir), script)
    assert not result.is_error, _text(result)
    assert result.structured_content == {"merchant": "Corner Shop", "total": 12.5}
    assert json.loads(_text(result)) == {"merchant": "Corner Shop", "total": 12.5}
    request = ollama_standin.requests_to("/api/chat")[-1].json
    assert request["format"]["required"] == ["merchant", "total"]


def test_a_preset_with_an_array_schema_is_wrapped(ollama_standin, standin_env, workdir):
    ollama_standin.add_model("minicpm-v", answer='["cat", "sofa"]')

    async def script(client):
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        return tools["preset_tags"], await client.call_tool("preset_tags", {"path": "shots/photo.jpg"})

    tool, result = _session(_params(standin_env, workdir), script)
    assert tool.output_schema["properties"]["result"]["type"] == "array"
    assert result.structured_content == {"result": ["cat", "sofa"]}


def test_escapes_are_refused_and_nothing_is_asked(ollama_standin, standin_env, workdir, tmp_path, photo_jpeg):
    ollama_standin.add_model("minicpm-v", answer="should not be asked")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(Path(photo_jpeg).read_bytes())
    (workdir / "link.jpg").symlink_to(outside / "secret.jpg")
    (workdir / "linkdir").symlink_to(outside)
    (workdir / "notes.png").write_text("not an image at all")
    with open(workdir / "huge.png", "wb") as sparse:  # 60 MB with PNG magic: refused by size, never read
        sparse.write(b"\x89PNG\r\n\x1a\n")
        sparse.truncate(60_000_000)
    attempts = {
        "../outside/secret.jpg": "'..'",
        "shots/../../outside/secret.jpg": "'..'",
        str(outside / "secret.jpg"): "outside the allowed folders",
        "link.jpg": "outside the allowed folders (through a symlink)",
        "linkdir/secret.jpg": "outside the allowed folders (through a symlink)",
        "https://example.com/cat.jpg": "URLs are not fetched",
        "file:///etc/passwd": "URLs are not fetched",
        "/etc/passwd": "outside the allowed folders",
        "notes.png": "not an image",
        "huge.png": "over the 50 MB limit",
        "missing.png": "no such file",
    }

    async def script(client):
        return {path: await client.call_tool("describe_image", {"path": path}) for path in attempts}

    results = _session(_params(standin_env, workdir), script)
    for path, expected in attempts.items():
        assert results[path].is_error, path
        assert expected in _text(results[path]), (path, _text(results[path]))
    assert ollama_standin.requests_to("/api/chat") == []


def test_allow_adds_a_root(ollama_standin, standin_env, workdir, tmp_path, photo_jpeg):
    ollama_standin.add_model("minicpm-v", answer="A photo.")
    extra = tmp_path / "pictures"
    extra.mkdir()
    (extra / "p.jpg").write_bytes(Path(photo_jpeg).read_bytes())
    standin_env["MCV_MCP_ALLOW"] = str(tmp_path / "from-config")
    (tmp_path / "from-config").mkdir()
    (tmp_path / "from-config" / "c.jpg").write_bytes(Path(photo_jpeg).read_bytes())

    async def script(client):
        return [
            await client.call_tool("describe_image", {"path": str(extra / "p.jpg")}),
            await client.call_tool("describe_image", {"path": str(tmp_path / "from-config" / "c.jpg")}),
        ]

    results = _session(_params(standin_env, workdir, "--allow", str(extra)), script)
    assert [_text(result) for result in results] == ["A photo.", "A photo."]


def test_bad_arguments_and_engine_errors_are_tool_errors(ollama_standin, standin_env, workdir):
    async def script(client):
        return [
            await client.call_tool("ask_image", {"path": "shots/photo.jpg"}),
            await client.call_tool("extract_json", {"path": "shots/photo.jpg", "schema": "total wrongtype"}),
            await client.call_tool("describe_image", {"path": "shots/photo.jpg"}),  # no such model
        ]

    missing_question, bad_schema, no_model = _session(_params(standin_env, workdir), script)
    assert missing_question.is_error and "'question' is a required property" in _text(missing_question)
    assert bad_schema.is_error and "unknown type 'wrongtype'" in _text(bad_schema)
    assert no_model.is_error and "minicpm-v" in _text(no_model)
    assert "Traceback" not in _text(no_model)


@pytest.mark.slow
def test_tiny_pair_answers_when_no_daemon_does(ollama_standin, mcv_env, tiny_pair_25, workdir):
    llm, mmproj = tiny_pair_25
    ollama_standin.stop()
    mcv_env.update(OLLAMA_HOST=ollama_standin.url, MCV_LLAMA_MODEL=str(llm), MCV_LLAMA_MMPROJ=str(mmproj), MCV_BACKEND="auto")

    async def script(client):
        return [await client.call_tool("preset_caption", {"path": "shots/photo.jpg"}) for _ in range(2)]

    results = _session(_params(mcv_env, workdir), script)
    for result in results:
        assert not result.is_error, _text(result)
        assert isinstance(_text(result), str)
