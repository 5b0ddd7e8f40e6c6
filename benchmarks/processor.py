"""(a) Processor throughput on one core: Kinesis batches of 100 records × 10 samples into SQLite on a tmp dir.

Baseline, measured in the same run: the floor of any processor — base64 + orjson decoding of the very same
records, and nothing else.
"""

from __future__ import annotations

import base64
import gc
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters

try:
    from energymon.adapters.local.kinesis_event import kinesis_event
except ImportError:  # a revision from before the layout (compare_revisions runs this file against old trees)
    from energymon.runtimes.kinesis_event import kinesis_event  # type: ignore[no-redef]
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.store import SqliteStore
from energymon.domain.reading import format_ts
from energymon.ports import StreamRecord
from energymon.processing import Processor, ZoneResolver

try:  # per-device energy limits, as the composition roots pass them (absent from revisions before them)
    from energymon.domain.energy import EnergyParams
    from energymon.processing import ParamsResolver
except ImportError:
    ParamsResolver = None  # type: ignore[assignment,misc]

RECORDS_PER_BATCH = 100
SAMPLES_PER_RECORD = 10
# Yesterday, UTC: the processor refuses readings weeks older than their arrival (stamped now).
START_MS = (int(time.time()) // 86_400 - 1) * 86_400_000


def make_batches(batches: int, devices: int) -> list[dict[str, Any]]:
    """Kinesis events as the poller builds them; the bridge's canonical records, with topic_device_id."""
    counters = {f"apt-{d}": 1_000_000.0 + d for d in range(devices)}
    next_index = dict.fromkeys(counters, 0)
    events = []
    seq = 0
    for b in range(batches):
        records = []
        for r in range(RECORDS_PER_BATCH):
            device = f"apt-{(b * RECORDS_PER_BATCH + r) % devices}"
            samples = []
            for _ in range(SAMPLES_PER_RECORD):
                i = next_index[device]
                next_index[device] += 1
                counters[device] += 0.1 + (i % 7) * 0.01
                samples.append({"ts": format_ts(START_MS + i * 1000), "power_w": 400.0 + i % 50,
                                "energy_wh": round(counters[device], 3)})
            body = {"v": 1, "device_id": device, "seq": i, "samples": samples, "topic_device_id": device}
            seq += 1
            records.append(StreamRecord("shardId-000000000000", str(seq), device, orjson.dumps(body), time.time()))
        events.append(kinesis_event(records, "arn:aws:kinesis:local:000000000000:stream/bench"))
    return events


def floor_rate(events: list[dict[str, Any]], repeat: int = 3) -> float:
    """Readings/s of base64 + orjson alone over the same records (best of ``repeat``)."""
    best = float("inf")
    readings = 0
    for _ in range(repeat):
        readings = 0
        started = time.perf_counter()
        for event in events:
            for record in event["Records"]:
                body = orjson.loads(base64.b64decode(record["kinesis"]["data"]))
                readings += len(body["samples"])
        best = min(best, time.perf_counter() - started)
    return readings / best


class _NullArchive(FolderArchive):
    """Diagnosis only: an archive that writes nothing, to price the archive step."""

    def put_readings(self, batch_id: str, readings: Any) -> list[str]:
        return []


def build_processor(events: list[dict[str, Any]], root: Path, archive: FolderArchive | None = None) -> Processor:
    """The processor as the composition root builds it (per-device energy limits), on files under ``root``."""
    devices = {r["kinesis"]["partitionKey"] for e in events for r in e["Records"]}
    params = None if ParamsResolver is None else ParamsResolver(
        EnergyParams(), {d: EnergyParams(max_power_w=40_000.0 + i) for i, d in enumerate(sorted(devices))})
    return Processor(SqliteStore(root / "store.db"), archive or FolderArchive(root / "archive"),
                     SqliteDeadLetters(root / "deadletters.db"), PrometheusMetrics(), ZoneResolver("UTC"), params)


def processor_rate(events: list[dict[str, Any]], root: Path, archive: FolderArchive | None = None
                   ) -> tuple[float, float, int]:
    """(readings/s, seconds, readings) of Processor.handle with the SQLite store, folder archive and DLQ."""
    processor = build_processor(events, root, archive)
    readings = sum(len(orjson.loads(base64.b64decode(r["kinesis"]["data"]))["samples"])
                   for e in events for r in e["Records"])
    gc.collect()
    started = time.perf_counter()
    for event in events:
        response = processor.handle(event)
        if response["batchItemFailures"]:
            raise RuntimeError(f"processor reported failures: {response['batchItemFailures'][:3]}")
    seconds = time.perf_counter() - started
    stored = sum(d.readings for d in processor.store.devices())  # type: ignore[attr-defined]
    if stored != readings:
        raise RuntimeError(f"stored {stored} readings, expected {readings}")
    return readings / seconds, seconds, readings


def _diagnose(events: list[dict[str, Any]]) -> dict[str, float]:
    """Where the time goes: the same run without the archive step."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="energymon-bench-") as tmp:
        out["no_archive"] = processor_rate(events, Path(tmp), _NullArchive(Path(tmp) / "null"))[0]
    print(f"    diagnosis: the same batches without the archive step: {out['no_archive']:,.0f} readings/s")
    return out


def run(batches: int = 50, devices: int = 10, profile: bool = False, diagnose: bool = False) -> dict[str, Any]:
    events = make_batches(batches, devices)
    floor = floor_rate(events)
    with tempfile.TemporaryDirectory(prefix="energymon-bench-") as tmp:
        if profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            rate, seconds, readings = processor_rate(events, Path(tmp))
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
        else:
            rate, seconds, readings = processor_rate(events, Path(tmp))
    result = {"readings": readings, "seconds": seconds, "readings_per_s": rate, "floor_per_s": floor,
              "ratio": rate / floor, "batches": batches, "devices": devices}
    if diagnose:
        result["diagnosis"] = _diagnose(events)
    ok_rate = "OK" if rate >= 50_000 else "MISSED"
    ok_ratio = "OK" if rate / floor >= 0.1 else "MISSED"
    print(f"(a) processor, {batches} batches × {RECORDS_PER_BATCH} records × {SAMPLES_PER_RECORD} samples, "
          f"{devices} devices, SQLite on tmp dir, one core")
    print(f"    floor (base64 + orjson of the same records): {floor:12,.0f} readings/s")
    print(f"    Processor.handle → SQLite:                    {rate:12,.0f} readings/s "
          f"({readings:,} readings in {seconds:.2f} s)  target ≥ 50,000: {ok_rate}")
    print(f"    ratio to the floor:                           {rate / floor:12.3f}  target ≥ 0.1: {ok_ratio}")
    return result
