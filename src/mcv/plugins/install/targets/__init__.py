"""Install targets: one module per program mcv puts itself into; registry.py maps names to them.

Adding a target is one module here plus one line in registry.TARGETS; the engine
(engine.py) never needs to change. A target module provides:

    NAME: str                               the name on the command line (`mcv plugins install NAME`)
    DESCRIPTION: str                        one line for `mcv plugins ls`
    AFTER: str | None                       what to do after installing (restart a program), if anything
    BY_DEFAULT: bool (optional, True)       installed by a bare `mcv plugins install` when detected;
                                            False: only when named (editors, MCP clients)
    detect(context) -> str | None           None when the program is here, else why it is not (a sentence)
    plan(context) -> list[Change]           every change an install makes, as data; nothing is written here

The contract the engine relies on:

- `plan` is pure and deterministic: the same context gives byte-identical changes
  (install is idempotent, `status` compares, `--dry-run` lists them). Use fixed ids
  (uuid5), sorted keys, no timestamps.
- Changes are the kinds in changes.py: `WriteFile` (a file mcv owns whole; mode 0644,
  0755 for scripts and KDE service menus), `MergeFile` (mcv's entries inside a file shared
  with the person: `merge` puts them in, the importable "module:function" `unmerge` takes
  them out byte-exactly, as Thunar's uca.xml does), `RegistryKeys` (HKEY_CURRENT_USER,
  winreg). A new kind of change goes into changes.py (a class + a revert_<kind>), never
  into a target. Uninstall works from the manifest's records, so it removes what an
  earlier version of a plan wrote, too.
- Paths come from the `Context` (context.py): `data_home`, `config_home`, `config_dirs`
  (XDG variables honoured), `home`, `export_dir()` (files for another platform),
  `system(path)` (system files, under `root` in tests), `which(name)` (PATH of the
  context's environment). Never touch a system folder; never read os.environ directly.
- Commands inside other programs' files: `context.launcher` (the absolute mcv argv
  prefix), the action (`mcv.plugins.actions.ACTIONS`), `--`, then the paths. Build them
  with entries.py (`exec_line` + `keyfile` for desktop entries, `shell_words` where a
  shell runs them), never by pasting strings; tests run `entries.lint_exec` /
  `lint_shell_command` on every generated line and launch them with hostile file names.
"""
