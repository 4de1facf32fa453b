"""Integrations: the desktop surface (file-manager commands, notifications,
dialogs) and the installers that put mcv into other programs' menus.

    actions.py     the desktop actions as data (command, menu label, preset, output)
    desktop/       `mcv describe|ocr|alt|ask-dialog`: files -> one job over the core session,
                   shown through notify.py (desktop-notifier) and dialogs.py (zenity, kdialog,
                   osascript, a Windows message box)
    install/       `mcv plugins`: targets (one module each, registry.py), the changes they
                   make (changes.py), the manifest of what was installed (manifest.py)
    templates/     files installed nearly as they are (package data)
    editors/       VS Code, Neovim and Emacs plugins (package data; `mcv plugins install vscode|neovim|emacs`)
    mcp/           `mcv mcp`: MiniCPM-V as sandboxed MCP tools for assistant apps (stdio)
"""
