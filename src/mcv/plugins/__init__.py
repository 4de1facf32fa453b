"""Desktop, editor and MCP integrations (later issues)."""
