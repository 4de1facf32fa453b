#!/usr/bin/env python3
"""A stand-in `mcv` for editor tests: records its argv (one JSON line in $MCV_STUB_LOG), then
answers in two chunks, like `mcv ask --plain` streaming to a pipe. A file named fail.png fails
the way mcv does: one line on stderr, exit code 2."""

import json
import os
import sys
import time

with open(os.environ["MCV_STUB_LOG"], "a", encoding="utf-8", errors="surrogateescape") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")
if any(arg.endswith("fail.png") for arg in sys.argv):
    sys.stderr.write("mcv: error: fail.png: not an image (it is text)\n")
    sys.exit(2)
preset = sys.argv[sys.argv.index("--preset") + 1] if "--preset" in sys.argv else "question"
sys.stdout.write(f"First part of the {preset} answer,")
sys.stdout.flush()
time.sleep(0.2)
sys.stdout.write(" [second] part.\nLast line.\n")
sys.stdout.flush()
