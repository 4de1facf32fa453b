"""The modelfile room stays light: no numpy/gguf until a tiny pair is written."""

from __future__ import annotations

import subprocess
import sys


def test_heavy_modules_are_imported_lazily():
    code = (
        "import sys\n"
        "import mcv.modelfile.generations, mcv.modelfile.gguf_meta, mcv.modelfile.identify\n"
        "import mcv.modelfile.render, mcv.selftest.tinypair\n"
        "heavy = [m for m in ('numpy', 'gguf', 'llama_cpp', 'pydantic') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""
