"""The core every surface (CLI, chat UI, batch, plugins, MCP) is built on.

Surfaces build a `Settings` (settings.py) and ask through a `Session`
(session.py), which yields events (events.py). Underneath: the image
pipeline (images/), the engines (backends/), the Ollama client (ollama/).
"""
