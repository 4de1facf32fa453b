"""`mcv mcp [--allow FOLDER]...`: the MCP server on stdio; options here, mcv/plugins/mcp does the work."""

from __future__ import annotations

from typing import List, Optional

import typer

from mcv.cli import common_options as common

MCP_HELP = """Serve MiniCPM-V to assistant apps over the Model Context Protocol (stdio).

Tools: describe_image (mode general, brief, ocr, ui, diagram), extract_text,
ask_image, extract_json (answer also as structured content), and one
preset_NAME per preset (`mcv presets ls`).

Images are read only from the allowed folders: the working folder, each
--allow FOLDER, and the `mcp.allow` config key. Paths with `..`, symlinks
leading out of them, URLs, files that are not images and files over the
size limit are refused. Logs go to stderr; stdout is the protocol.

\b
Register it with an app:
  mcv plugins install claude-desktop | vscode-mcp | zed | cursor
"""


def register(app: typer.Typer) -> None:
    app.command("mcp", help=MCP_HELP)(mcp)


def mcp(
    ctx: typer.Context,
    allow: Optional[List[str]] = typer.Option(None, "--allow", metavar="FOLDER", help="Another folder tools may read images from (repeatable)."),
    model: Optional[str] = common.MODEL,
    host: Optional[str] = common.HOST,
    backend: Optional[str] = common.BACKEND,
) -> int:
    import os

    from mcv.core.settings import Settings
    from mcv.packaging.local_pairs import SOURCES
    from mcv.plugins.mcp.sandbox import Sandbox, allowed_from_config
    from mcv.plugins.mcp.server import serve
    from mcv.plugins.mcp.tools import Toolbox

    env = ctx.obj
    settings = Settings.load(env.environ, flags={"model": model, "host": host, "backend": backend}, pair_sources=SOURCES)
    folders = [*(allow or []), *allowed_from_config(settings.config.get("mcp.allow"))]
    sandbox = Sandbox.from_folders(os.getcwd(), folders)
    env.note(f"mcp: serving {settings.config.get('model')} on stdio; images from {sandbox.describe()}")
    toolbox = Toolbox(settings, sandbox)
    try:
        serve(toolbox, env.note)
    except KeyboardInterrupt:
        return 130
    finally:
        toolbox.close()
    return 0
