"""`mcv plugins install claude-desktop | vscode-mcp | zed | cursor`: the server entry merged into each
app's JSON settings; everything else kept byte for byte (comments, order, trailing commas), a backup
kept, an install again changes nothing, uninstall takes out only mcv's entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import run_mcv

from mcv.plugins.install.json_merge import remove_member, set_member

MCV = "/opt/mcv tools/bin/mcv"

CLAUDE = """{
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/Desktop"]
    }
  }
}
"""
ZED = """// Zed settings
{
  "theme": "One Dark", // the person's comment
  /* a block comment */
  "context_servers": {
    "postgres": {"command": "pg-mcp", "args": []},
  },
  "vim_mode": true,
}
"""
VSCODE = '{\n\t"servers": {},\n\t"inputs": []\n}\n'


def files_of(home: Path) -> dict[str, Path]:
    config = home / "config"
    return {
        "claude-desktop": config / "Claude" / "claude_desktop_config.json",
        "vscode-mcp": config / "Code" / "User" / "mcp.json",
        "zed": config / "zed" / "settings.json",
        "cursor": home / ".cursor" / "mcp.json",
    }


@pytest.fixture
def home(tmp_path, mcv_env):
    root = tmp_path / "home"
    mcv_env.update(HOME=str(root), XDG_CONFIG_HOME=str(root / "config"), PATH="/usr/bin:/bin", OLLAMA_HOST="127.0.0.1:11500")
    paths = files_of(root)
    for name, text in (("claude-desktop", CLAUDE), ("zed", ZED), ("vscode-mcp", VSCODE)):
        paths[name].parent.mkdir(parents=True)
        paths[name].write_text(text)
    return root


def plugins(args, environ):
    result = run_mcv(["plugins", *args], environ=environ)
    assert result.exit_code == 0, result.stderr
    return result


def _strip_jsonc(text: str) -> dict:
    import re

    text = re.sub(r"//[^\n]*", "", re.sub(r"/\*.*?\*/", "", text, flags=re.S))
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", text))


def test_entries_merged_backups_kept_and_uninstall_restores_every_byte(home, mcv_env):
    paths = files_of(home)
    targets = list(paths)
    env = {"OLLAMA_HOST": "127.0.0.1:11500", "MCV_CONFIG": mcv_env["MCV_CONFIG"]}  # passed on: apps start servers with few variables
    installed_output = plugins(["install", "--mcv-path", MCV, *targets], mcv_env).stdout
    # Claude Desktop starts the server in `/`, no root: the install says how to allow a folder
    assert "claude-desktop: quit Claude Desktop" in installed_output and "mcv config set mcp.allow" in installed_output
    claude = json.loads(paths["claude-desktop"].read_text())
    assert claude["mcpServers"]["mcv"] == {"command": MCV, "args": ["mcp"], "env": env}
    assert claude["mcpServers"]["filesystem"]["command"] == "npx" and claude["globalShortcut"] == "Ctrl+Space"
    assert paths["claude-desktop"].read_text().startswith(CLAUDE[: CLAUDE.index("    }\n  }")])  # the rest as it was
    vscode = json.loads(paths["vscode-mcp"].read_text())
    assert vscode == {"servers": {"mcv": {"type": "stdio", "command": MCV, "args": ["mcp"], "env": env}}, "inputs": []}
    zed_text = paths["zed"].read_text()
    assert "// the person's comment" in zed_text and "/* a block comment */" in zed_text
    zed = _strip_jsonc(zed_text)
    assert zed["context_servers"]["mcv"]["command"] == MCV and zed["context_servers"]["postgres"]["command"] == "pg-mcp"
    assert json.loads(paths["cursor"].read_text()) == {"mcpServers": {"mcv": {"command": MCV, "args": ["mcp"], "env": env}}}
    # backups of the files that were there, as they were
    for name, text in (("claude-desktop", CLAUDE), ("zed", ZED), ("vscode-mcp", VSCODE)):
        assert paths[name].with_name(paths[name].name + ".mcv-backup").read_text() == text
    assert not paths["cursor"].with_name("mcp.json.mcv-backup").exists()  # it did not exist: nothing to back up

    installed = {name: path.read_bytes() for name, path in paths.items()}
    again = plugins(["install", "--mcv-path", MCV, *targets], mcv_env)
    assert ": wrote " not in again.stdout
    assert {name: path.read_bytes() for name, path in paths.items()} == installed

    plugins(["uninstall", *targets], mcv_env)
    assert paths["claude-desktop"].read_text() == CLAUDE
    assert paths["zed"].read_text() == ZED
    assert paths["vscode-mcp"].read_text() == VSCODE
    assert not paths["cursor"].exists() and not paths["cursor"].parent.exists()  # mcv made them


def test_someone_elses_change_is_kept_and_a_newer_mcv_entry_replaced(home, mcv_env):
    path = files_of(home)["claude-desktop"]
    plugins(["install", "--mcv-path", MCV, "claude-desktop"], mcv_env)
    # the person adds a server after mcv's, by hand
    text = path.read_text().replace('"mcpServers": {', '"mcpServers": {\n    "mine": {"command": "mine"},', 1)
    path.write_text(text)
    plugins(["install", "--mcv-path", "/usr/local/bin/mcv", "claude-desktop"], mcv_env)
    data = json.loads(path.read_text())
    assert data["mcpServers"]["mcv"]["command"] == "/usr/local/bin/mcv" and data["mcpServers"]["mine"] == {"command": "mine"}
    plugins(["uninstall", "claude-desktop"], mcv_env)
    assert path.read_text() == CLAUDE.replace('"mcpServers": {', '"mcpServers": {\n    "mine": {"command": "mine"},', 1)


def test_broken_json_is_left_alone(home, mcv_env):
    path = files_of(home)["claude-desktop"]
    path.write_text('{"mcpServers": {')
    result = run_mcv(["plugins", "install", "--mcv-path", MCV, "claude-desktop"], environ=mcv_env)
    assert result.exit_code == 2 and "is not valid JSON" in result.stderr and "Traceback" not in result.stderr
    assert path.read_text() == '{"mcpServers": {'


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        "{}\n",
        '{"a": 1}',
        '{\n    "a": [1, 2],\n    "b": {"c": null}\n}\n',
        '{\n\t"mcpServers": {\n\t\t"x": {}\n\t}\n}',
        '{\n  "a": 1, // trailing\n  "mcpServers": {\n    "x": 1,\n  },\n}\n',
        '\ufeff{"k": "é ✓"}',
    ],
)
def test_set_then_remove_gives_back_the_same_bytes(text):
    merged = set_member(text, ("mcpServers", "mcv"), {"command": "/bin/mcv", "args": ["mcp"]})
    assert _strip_jsonc(merged.lstrip("\ufeff"))["mcpServers"]["mcv"]["args"] == ["mcp"]
    assert remove_member(merged, ("mcpServers", "mcv")) == text
    changed = set_member(merged, ("mcpServers", "mcv"), {"command": "/other"})
    assert remove_member(changed, ("mcpServers", "mcv")) == text


def test_the_backup_replaces_a_link_in_its_place_and_keeps_the_mode(home, mcv_env, tmp_path):
    """The backup is written like every other file (atomically): a link where it goes is replaced,
    not written through to the file it points at; it keeps the settings file's permissions."""
    path = files_of(home)["claude-desktop"]
    path.chmod(0o600)  # settings may hold keys in "env"
    elsewhere = tmp_path / "someone-elses.txt"
    elsewhere.write_text("not mcv's to change")
    backup = path.with_name(path.name + ".mcv-backup")
    backup.symlink_to(elsewhere)
    plugins(["install", "--mcv-path", MCV, "claude-desktop"], mcv_env)
    assert elsewhere.read_text() == "not mcv's to change"
    assert not backup.is_symlink() and backup.read_text() == CLAUDE
    assert backup.stat().st_mode & 0o777 == 0o600
