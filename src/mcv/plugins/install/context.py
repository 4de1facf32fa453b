"""Where an installer writes, and what it writes into entries: the facts of this machine and user.

XDG base directories are honoured as the spec says (an unset or relative
value means the default). `launcher` is the absolute command that runs this
mcv: file managers started from a session often lack ~/.local/bin in PATH.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from mcv.errors import UsageError


@dataclass(frozen=True)
class Context:
    environ: Mapping[str, str]
    home: Path
    launcher: tuple[str, ...]  # absolute argv prefix: ("/home/u/.local/bin/mcv",)
    platform: str = field(default_factory=lambda: sys.platform)
    root: Path = Path("/")  # where system files are looked for (tests point it elsewhere)
    exports: Path | None = None  # where files for another platform go (.reg, .workflow); None: mcv's data folder
    options: Mapping[str, str] = field(default_factory=dict)  # a target's own options from the command line ("key")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], *, mcv_path: str | None = None, **kwargs) -> "Context":
        home = Path(environ.get("HOME") or os.path.expanduser("~"))
        return cls(environ=environ, home=home, launcher=find_launcher(environ, mcv_path), **kwargs)

    # --- XDG base directories ----------------------------------------------------------------

    def _xdg_home(self, name: str, default: str) -> Path:
        value = self.environ.get(name, "")
        return Path(value) if os.path.isabs(value) else self.home / default

    def _xdg_dirs(self, name: str, default: str) -> list[Path]:
        value = self.environ.get(name, "") or default
        return [Path(part) for part in value.split(os.pathsep) if os.path.isabs(part)]

    @property
    def data_home(self) -> Path:
        return self._xdg_home("XDG_DATA_HOME", ".local/share")

    @property
    def config_home(self) -> Path:
        return self._xdg_home("XDG_CONFIG_HOME", ".config")

    @property
    def data_dirs(self) -> list[Path]:
        return [self.system(p) for p in self._xdg_dirs("XDG_DATA_DIRS", "/usr/local/share:/usr/share")]

    @property
    def config_dirs(self) -> list[Path]:
        return [self.system(p) for p in self._xdg_dirs("XDG_CONFIG_DIRS", "/etc/xdg")]

    def system(self, path: str | Path) -> Path:
        """A system path under `root`."""
        return self.root / Path(path).relative_to("/")

    def export_dir(self) -> Path:
        if self.exports is not None:
            return self.exports
        from mcv.core.history.store import data_dir

        return data_dir(self.environ) / "exports"

    # --- programs ---------------------------------------------------------------------------------

    def which(self, name: str) -> str | None:
        return shutil.which(name, path=self.environ.get("PATH", os.defpath))


def find_launcher(environ: Mapping[str, str], mcv_path: str | None = None) -> tuple[str, ...]:
    """The absolute command for this mcv: `--mcv-path`, else the `mcv` script of this installation
    (beside its Python: a venv, pipx), else `mcv` on PATH, else this Python with `-m mcv`."""
    if mcv_path:
        # Either kind: the entries may be for another system (a .reg for Windows, bundles for macOS).
        if not (posixpath.isabs(mcv_path) or ntpath.isabs(mcv_path)):
            raise UsageError(f"--mcv-path must be absolute, not {mcv_path!r}")
        return (mcv_path,)
    names = ("mcv.exe", "mcv") if sys.platform == "win32" else ("mcv",)
    here = Path(sys.executable).parent
    for folder in (here, here / "Scripts"):
        for name in names:
            if (folder / name).is_file():
                return (str(folder / name),)
    on_path = shutil.which("mcv", path=environ.get("PATH", os.defpath))
    if on_path:
        return (os.path.abspath(on_path),)
    return (os.path.abspath(sys.executable), "-m", "mcv")
