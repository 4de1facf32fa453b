"""Editor plugins shipped as package data and installed by `mcv plugins install vscode|neovim|emacs`.

    vscode/    a VS Code extension in plain JavaScript (no build step)
    neovim/    a Lua plugin for Neovim 0.7 and later (a pack/start folder)
    emacs/     mcv.el

Each one runs mcv with an argument list, never a shell string:
`mcv ask --plain [--preset describe|ocr|alt] -- FILE [QUESTION]`; the answer
streams on stdout, errors are one line on stderr with mcv's exit code.
"""
