"""Processor throughput of two revisions measured in the same run: ``python -m benchmarks.compare_revisions``.

Checks a base revision out into a temporary git worktree and runs benchmark (a) against it and against the
working tree. Three modes:

- default: alternating rounds, each in its own interpreter with only that tree's ``src`` on the path;
- ``--inprocess``: both trees imported into this one interpreter (each under its own ``sys.modules``
  snapshot) and run alternately on the same events, so both see the same load at the same moment;
- ``--callgrind``: each tree under ``valgrind --tool=callgrind``, counting the CPU instructions of the
  measured batches only (a tiny C helper switches the counting on and off around them). Instruction counts
  do not depend on what else the machine runs; the base64 + orjson floor is counted the same way.

Prints readings/s (or instructions per reading) for each and the change.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_FILE = Path(__file__).resolve().parent / "processor.py"
DEFAULT_BASE = "fb4903e"  # main before the processor speed work of issue 14

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


# ---- both trees in one interpreter ----------------------------------------------------------------------


def _is_ours(name: str) -> bool:
    return name == "energymon" or name.startswith("energymon.")


class _Tree:
    """One source tree's ``energymon`` modules and its copy of benchmarks/processor.py, kept side by side."""

    def __init__(self, src: Path, tag: str) -> None:
        for name in [n for n in sys.modules if _is_ours(n)]:
            del sys.modules[name]
        sys.path.insert(0, str(src))
        try:
            spec = importlib.util.spec_from_file_location(f"_bench_processor_{tag}", BENCH_FILE)
            assert spec is not None and spec.loader is not None
            self.bench: Any = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(self.bench)
            import energymon

            assert energymon.__file__ is not None and energymon.__file__.startswith(str(src)), energymon.__file__
        finally:
            sys.path.remove(str(src))
        self.modules = {n: m for n, m in sys.modules.items() if _is_ours(n)}
        self.src = src

    @contextlib.contextmanager
    def active(self) -> Any:
        """This tree's modules in ``sys.modules`` (for imports made inside functions while it runs)."""
        for name in [n for n in sys.modules if _is_ours(n)]:
            del sys.modules[name]
        sys.modules.update(self.modules)
        sys.path.insert(0, str(self.src))
        try:
            yield self.bench
        finally:
            sys.path.remove(str(self.src))


def inprocess(base_src: Path, head_src: Path, rounds: int, batches: int) -> dict[str, list[float]]:
    trees = {"base": _Tree(base_src, "base"), "head": _Tree(head_src, "head")}
    events = trees["head"].bench.make_batches(batches, 10)
    out: dict[str, list[float]] = {"base": [], "head": [], "floor": []}
    for i in range(rounds):
        order = ("base", "head") if i % 2 == 0 else ("head", "base")
        for name in order:
            with trees[name].active() as bench, tempfile.TemporaryDirectory(prefix="energymon-cmp-") as tmp:
                out[name].append(bench.processor_rate(events, Path(tmp))[0])
        out["floor"].append(trees["head"].bench.floor_rate(events, repeat=1))
    return out


# ---- instruction counts ---------------------------------------------------------------------------------

_TOGGLE_C = """
#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void cg_stop(const char *label) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT(label); }
"""

_CG_PROBE = """
import base64, ctypes, json, sys, tempfile, orjson
from pathlib import Path
sys.path.insert(0, {bench!r})
import energymon
from benchmarks import processor as bench
assert energymon.__file__.startswith({src!r}), energymon.__file__
cg = ctypes.CDLL({lib!r})
events = bench.make_batches({batches} + 2, 10)
with tempfile.TemporaryDirectory() as tmp:
    root = Path(tmp)
    proc = bench.build_processor(events, root)
    for event in events[:2]:  # warm-up: first connection, caches, statement cache
        proc.handle(event)
    measured = events[2:]
    cg.cg_start()
    for event in measured:
        assert not proc.handle(event)["batchItemFailures"]
    cg.cg_stop(b"processor")
    cg.cg_start()
    n = 0
    for event in measured:
        for record in event["Records"]:
            n += len(orjson.loads(base64.b64decode(record["kinesis"]["data"]))["samples"])
    cg.cg_stop(b"floor")
print(json.dumps({{"readings": n}}))
"""


def _totals(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith("totals:"):  # "summary:" counts from the last zeroing of the statistics
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def callgrind(src: Path, batches: int, work: Path) -> dict[str, float]:
    lib = work / "cgtoggle.so"
    if not lib.exists():
        (work / "cgtoggle.c").write_text(_TOGGLE_C)
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(lib), str(work / "cgtoggle.c")], check=True)
    out_file = work / f"cg.{src.parent.name}.out"
    code = _CG_PROBE.format(bench=str(ROOT), src=str(src), lib=str(lib), batches=batches)
    env = dict(os.environ, PYTHONPATH=str(src))
    run = subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out_file}",
                          sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    readings = int(json.loads(run.stdout.strip().splitlines()[-1])["readings"])
    dumps = sorted(work.glob(f"{out_file.name}.*"), key=lambda p: int(p.suffix[1:]))
    processor, floor = (_totals(p) for p in dumps[-2:])
    for p in dumps:
        p.unlink()
    return {"processor_ir_per_reading": processor / readings, "floor_ir_per_reading": floor / readings,
            "readings": readings}


# ---- main -----------------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", default=DEFAULT_BASE, help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--inprocess", action="store_true", help="both trees in this interpreter, alternately")
    parser.add_argument("--callgrind", action="store_true", help="instruction counts under valgrind")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="energymon-base-") as tmp:
        base_tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base_tree), args.base],
                       check=True)
        init = base_tree / "src" / "energymon" / "__init__.py"
        if not init.exists():  # early revisions had no package __init__: make it a regular package to win the path
            init.write_text("")
        try:
            if args.callgrind:
                if shutil.which("valgrind") is None:
                    raise SystemExit("valgrind is not installed")
                started = time.time()
                base = callgrind(base_tree / "src", args.batches, Path(tmp))
                head = callgrind(ROOT / "src", args.batches, Path(tmp))
                b, h = base["processor_ir_per_reading"], head["processor_ir_per_reading"]
                floor = head["floor_ir_per_reading"]
                print(f"instructions per reading (callgrind Ir), {head['readings']:,} readings after 2 warm-up "
                      f"batches, {time.time() - started:.0f} s under valgrind")
                print(f"    floor (base64 + orjson):  {floor:10,.0f} Ir/reading")
                print(f"    base {args.base}:        {b:10,.0f} Ir/reading  ({floor / b:.3f} of the floor's speed)")
                print(f"    working tree:          {h:10,.0f} Ir/reading  ({floor / h:.3f} of the floor's speed)")
                print(f"    speed-up:              {b / h:10.2f} x fewer instructions per reading")
                return
            if args.inprocess:
                runs = inprocess(base_tree / "src", ROOT / "src", args.rounds, args.batches)
                base, head = runs["base"], runs["head"]
                floor = _median(runs["floor"])
            else:
                base, head = [], []
                for _ in range(args.rounds):
                    base.append(measure(base_tree / "src", args.batches))
                    head.append(measure(ROOT / "src", args.batches))
                floor = 0.0
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)], check=False)
    b, h = _median(base), _median(head)
    mode = "in one interpreter" if args.inprocess else "each in its own interpreter"
    print(f"processor throughput, median of {args.rounds} alternating rounds {mode}, {args.batches * 1000:,} readings each")
    if floor:
        print(f"    floor (base64 + orjson): {floor:12,.0f} readings/s")
    print(f"    base {args.base}:      {b:12,.0f} readings/s  (runs: {', '.join(f'{x:,.0f}' for x in base)})")
    print(f"    working tree:   {h:12,.0f} readings/s  (runs: {', '.join(f'{x:,.0f}' for x in head)})")
    print(f"    change:         {100 * (h - b) / b:+.1f} %  (ratio {h / b:.2f})")
    if floor:
        print(f"    ratio to the floor: base {b / floor:.3f}, working tree {h / floor:.3f}")


if __name__ == "__main__":
    main()
