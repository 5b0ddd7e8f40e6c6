"""``python -m benchmarks [--only NAME] [--all] [--quick] [--profile] [--json FILE]``

By default: (a) processor throughput and (b) the end-to-end pipeline. ``--only agent|api|dynamodb|decoders|cost|archive`` runs one of
the other benchmarks in this folder (``benchmarks/bench_*.py``, each also runnable on its own); ``--all`` runs
every one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import sys


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "cpu": model, "python": platform.python_version(),
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}


OTHERS = {"agent": "benchmarks.bench_agent", "api": "benchmarks.bench_api", "dynamodb": "benchmarks.bench_dynamodb_wcu",
          "fuzz": "benchmarks.fuzz", "decoders": "benchmarks.bench_decoders", "cost": "benchmarks.bench_cost_profiles",
          "archive": "benchmarks.bench_archive_modes"}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", choices=["processor", "pipeline", *OTHERS])
    parser.add_argument("--all", action="store_true", help="also run the agent, API and DynamoDB benchmarks")
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test of the benchmarks)")
    parser.add_argument("--profile", action="store_true", help="cProfile the processor benchmark")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    info = machine()
    print(f"machine: {info['nproc']} × {info['cpu']} · Python {info['python']} · {info['date']}")
    results: dict[str, object] = {"machine": info}
    if args.only in (None, "processor"):
        from benchmarks import processor

        results["processor"] = processor.run(batches=10 if args.quick else 50, profile=args.profile,
                                             diagnose=not args.quick)
    if args.only in (None, "pipeline"):
        from benchmarks import pipeline

        flat = 2_000 if args.quick else 20_000
        paced = 2_000 if args.quick else 20_000
        rows = []
        for broker in ("amqtt", "mosquitto"):
            rows.append(pipeline.run_one(broker, flat, 0, 1.0))  # sustained: publish flat out
            rows.append(pipeline.run_one(broker, paced, 2_000, 1.0))  # latency at the target, 20,000 readings/s offered
        results["pipeline"] = rows
    for name, module in OTHERS.items():
        if args.only == name or (args.all and args.only is None):
            import runpy

            print(f"--- {name}: python -m {module}", flush=True)
            sys.argv = [module]
            runpy.run_module(module, run_name="__main__")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
