"""(fuzz) Issue 9's full campaign: ≥ 100,000 hostile MQTT messages through a real Mosquitto into ``energymon run``.

The hostile messages (every kind of ``tests/fuzzgen.py``, deterministic from ``--seed``) are interleaved with
the known series of three honest meters; then a final honest batch must still arrive. In the same run, a clean
campaign publishes the same number of valid messages (honest meters only) through a fresh broker and runtime.

Figures: messages/s under fuzz against messages/s clean — messages acknowledged by the broker for the bridge,
divided by the time from the first publish until every one of them is in the stream or dead-lettered and the
processor has caught up (lag 0). Then the accounting: where every message ended, by kind, and every broken
promise. Exits 1 if the accounting fails (anything vanished, a rejected message stored, honest energy not
exact, a stall, /healthz not ok, an unclean stop).

    python -m benchmarks --only fuzz          # or: python -m benchmarks.fuzz [--hostile N] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.pipeline import _mosquitto


def _fuzzgen() -> Any:
    """The generator and harness live with the tests (the short campaign imports them there)."""
    tests = str(Path(__file__).resolve().parents[1] / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import fuzzgen

    return fuzzgen


def _one(name: str, messages: list[Any], t0_ms: int, per_device: int, devices: tuple[Any, ...],
         timeout_s: float) -> tuple[Any | None, str | None]:
    """One campaign on its own Mosquitto and data directory: (campaign, None) or (None, why it stopped)."""
    fz = _fuzzgen()
    with tempfile.TemporaryDirectory(prefix=f"energymon-fuzz-{name}-") as tmp:
        root = Path(tmp)
        mosq, port = _mosquitto(root)
        try:
            camp = fz.run_campaign(root / "data", f"mqtt://127.0.0.1:{port}", port, messages, t0_ms, per_device,
                                   devices=devices, settle_timeout_s=timeout_s, final_timeout_s=120, stall_s=60,
                                   log_path=root / "runtime.log")
        except fz.CampaignError as exc:
            return None, str(exc)
        finally:
            mosq.terminate()
            mosq.wait(10)
    return camp, None


def run(hostile: int = 100_000, seed: int = 20_261_201, timeout_s: float = 1800.0) -> dict[str, Any]:
    fz = _fuzzgen()
    per_device = max(10, hostile // 60)  # ≈ 1 honest message per 20 hostile ones
    now_ms = int(time.time() * 1000)
    started = time.perf_counter()
    messages, t0 = fz.generate(seed, hostile, per_device, now_ms)
    print(f"(fuzz) generated {len(messages):,} messages ({hostile:,} hostile, {per_device * len(fz.HONEST):,} honest "
          f"in {len(fz.HONEST)} series, {sum(len(m.payload) for m in messages) / 1e6:,.0f} MB) in "
          f"{time.perf_counter() - started:.1f} s; seed {seed}", flush=True)
    fuzz, fuzz_error = _one("hostile", messages, t0, per_device, fz.HONEST, timeout_s)

    # The clean run: as many valid messages, from ten honest meters, nothing else.
    clean_devices = tuple(fz.HonestDevice(f"clean-{i}", fz.HONEST[i % len(fz.HONEST)].power_w, 1000.0 * i)
                          for i in range(1, 11))
    clean_per_device = len(messages) // len(clean_devices)
    clean_t0 = fz.honest_t0_ms(int(time.time() * 1000), clean_per_device + 10)
    clean_messages = fz.honest_messages(clean_t0, 0, clean_per_device, clean_devices)
    print(f"(fuzz) clean run: {len(clean_messages):,} valid messages from {len(clean_devices)} meters", flush=True)
    clean, clean_error = _one("clean", clean_messages, clean_t0, clean_per_device, clean_devices, timeout_s)

    failed = False
    result: dict[str, Any] = {"seed": seed, "hostile": hostile, "messages": len(messages)}
    for label, camp, error in (("fuzz", fuzz, fuzz_error), ("clean", clean, clean_error)):
        if camp is None:
            failed = True
            print(f"(fuzz) {label}: STOPPED — {error}")
            result[label] = {"error": error}
            continue
        acc = camp.accounting
        f = camp.figures
        result[label] = {**f, "problems": acc.problems, "outcomes": {k: dict(v) for k, v in acc.outcomes.items()},
                         "refused_by_broker": acc.refused, "unsubscribed": acc.unsubscribed,
                         "stream": acc.counts.stream, "dead_letters": {"bridge": acc.counts.bridge,
                                                                       "processor": acc.counts.processor,
                                                                       "poller": acc.counts.poller}}
        print(f"(fuzz) {label}: {f['sent']:,} messages for the bridge settled in {f['settled_s']:.1f} s = "
              f"{f['msgs_per_s']:,.0f} messages/s (publisher {f['sent'] / f['publish_s']:,.0f}/s acked; bridge "
              f"done after {f.get('bridge_settled_s', float('nan')):.1f} s, the processor after "
              f"{f['settled_s']:.1f} s); final honest batch stored {f['final_batch_s']:.1f} s after its publish")
        print(f"(fuzz) {label}: accounting — refused by the broker {acc.refused:,}, acked on unsubscribed topics "
              f"{acc.unsubscribed:,}; stream {acc.counts.stream:,} + bridge dead letters {acc.counts.bridge:,} = "
              f"{acc.counts.stream + acc.counts.bridge:,} (sent {acc.sent:,}); processor dead letters "
              f"{acc.counts.processor:,}, poller {acc.counts.poller:,}, lag {acc.counts.lag}")
        for device, (mwh, want_mwh, samples, want_samples) in sorted(acc.honest.items()):
            print(f"(fuzz) {label}: {device} {mwh:,} mWh from {samples:,} samples (expected {want_mwh:,} mWh from "
                  f"{want_samples:,}) {'OK' if (mwh, samples) == (want_mwh, want_samples) else 'WRONG'}")
        if label == "fuzz":
            print(acc.table())
            if acc.undecodable:
                print(f"(fuzz) {len(acc.undecodable)} rejections caught by a catch-all (an exception was the "
                      f"reason), e.g. {acc.undecodable[0]}")
        if acc.problems:
            failed = True
            print(f"(fuzz) {label}: {len(acc.problems)} BROKEN PROMISE(S):")
            for problem in acc.problems:
                print(f"  - {problem}")
        else:
            print(f"(fuzz) {label}: accounting OK — nothing vanished, honest energy exact, /healthz ok, clean stop")
    if fuzz is not None and clean is not None:
        ratio = fuzz.figures["msgs_per_s"] / clean.figures["msgs_per_s"]
        result["fuzz_over_clean"] = ratio
        print(f"(fuzz) under fuzz {fuzz.figures['msgs_per_s']:,.0f} messages/s vs clean "
              f"{clean.figures['msgs_per_s']:,.0f} messages/s ({ratio:.2f}×)")
    result["ok"] = not failed
    print(f"(fuzz) {'OK' if not failed else 'FAILED'}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hostile", type=int, default=100_000, help="hostile messages (default 100,000)")
    parser.add_argument("--seed", type=int, default=20_261_201)
    parser.add_argument("--timeout", type=float, default=1800.0, help="bounded wait for each run to settle (s)")
    args = parser.parse_args()
    result = run(args.hostile, args.seed, args.timeout)
    if not result["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
