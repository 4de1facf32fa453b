"""Run the benchmarks and print one table of ratios against peers measured in the same run.

    python -m bench.run            # all benchmarks, full size
    python -m bench.run --quick    # smaller inputs, for a smoke run
    python -m bench.run p1 p2      # a selection

Each module exposes `run(quick: bool = False) -> list[dict]`; a row has
`id, what, ours, peer, unit, ratio, target, ok, note`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback

MODULES = {
    "p1": "bench.p1_startup",
    "p2": "bench.p2_images",
    "p3": "bench.p3_batch",
    "p4": "bench.p4_create",
    "p5": "bench.p5_p6_llama",
    "s1": "bench.s1_scale_out",
}


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def print_table(rows: list[dict], out=sys.stdout) -> None:
    headers = ["id", "what", "ours", "peer", "unit", "ratio", "target", "ok", "note"]
    table = [[_fmt(row.get(h, "")) if h != "ok" else ("yes" if row.get("ok") else "NO") for h in headers] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in table)) if table else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out.write(line + "\n" + "  ".join("-" * w for w in widths) + "\n")
    for r in table:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", help=f"benchmarks to run: {', '.join(MODULES)} (default all)")
    parser.add_argument("--quick", action="store_true", help="smaller inputs")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    unknown = [key for key in args.which if key not in MODULES]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(MODULES)}")
    rows: list[dict] = []
    failed = False
    for key in args.which or list(MODULES):
        started = time.monotonic()
        sys.stderr.write(f"bench: running {key} ...\n")
        try:
            module = importlib.import_module(MODULES[key])
            rows.extend(module.run(quick=args.quick))
        except Exception:  # a broken bench is reported, the others still run
            failed = True
            traceback.print_exc()
            rows.append({"id": key.upper(), "what": "FAILED to run", "ok": False, "note": "see stderr"})
        sys.stderr.write(f"bench: {key} took {time.monotonic() - started:.1f} s\n")
    print_table(rows)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
