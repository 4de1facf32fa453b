"""The core every surface (CLI, chat UI, plugins, MCP) is built on."""
