"""Processor throughput of two revisions measured in the same run: ``python -m benchmarks.compare_revisions``.

Checks a base revision (default: the first commit of the local pipeline, before the energy-correctness work)
out into a temporary git worktree and runs benchmark (a) against it and against the working tree, in
alternation, each in its own interpreter with only that tree's ``src`` on the path. Prints readings/s for
each and the change. Used for the "must not drop by more than 20 %" check of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE = "4dc4a11"  # "Local pipeline core", before counters-first energy, gaps, tariffs, fast paths

_PROBE = """
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, {bench!r})
import energymon
from benchmarks.processor import make_batches, processor_rate
assert energymon.__file__.startswith({src!r}), energymon.__file__
events = make_batches({batches}, 10)
with tempfile.TemporaryDirectory() as tmp:
    rate, seconds, readings = processor_rate(events, Path(tmp))
print(json.dumps({{"rate": rate, "readings": readings}}))
"""


def measure(src: Path, batches: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(src))
    code = _PROBE.format(bench=str(ROOT), src=str(src), batches=batches)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["rate"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", default=DEFAULT_BASE, help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="energymon-base-") as tmp:
        base_tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base_tree), args.base],
                       check=True)
        init = base_tree / "src" / "energymon" / "__init__.py"
        if not init.exists():  # early revisions had no package __init__: make it a regular package to win the path
            init.write_text("")
        try:
            base, head = [], []
            for _ in range(args.rounds):
                base.append(measure(base_tree / "src", args.batches))
                head.append(measure(ROOT / "src", args.batches))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)], check=False)
    b, h = sorted(base)[len(base) // 2], sorted(head)[len(head) // 2]
    print(f"processor throughput, median of {args.rounds} alternating rounds, {args.batches * 1000:,} readings each")
    print(f"    base {args.base}:      {b:12,.0f} readings/s  (runs: {', '.join(f'{x:,.0f}' for x in base)})")
    print(f"    working tree:   {h:12,.0f} readings/s  (runs: {', '.join(f'{x:,.0f}' for x in head)})")
    print(f"    change:         {100 * (h - b) / b:+.1f} %  (issue bar: no drop of more than 20 %)")


if __name__ == "__main__":
    main()
