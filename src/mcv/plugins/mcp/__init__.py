"""`mcv mcp`: MiniCPM-V as tools for assistant apps, over the Model Context Protocol (stdio).

    sandbox.py   which files a tool may read: allowed roots, no `..`, no symlink out,
                 regular files only, size cap, image magic bytes; no URLs
    tools.py     the tools as data (describe_image, extract_text, ask_image, extract_json,
                 one per preset) and how a call is asked: through the core session
    server.py    the `mcp` package's low-level server over stdio (imported only by `mcv mcp`)

Logs go to stderr: stdout is the protocol.
"""
