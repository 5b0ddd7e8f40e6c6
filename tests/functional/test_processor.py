"""The ONE handler fed Kinesis-shaped events from tests/events/, with the local adapters on tmp_path."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.store import SqliteStore
from energymon.domain.reading import parse_ts
from energymon.errors import StoreError
from energymon.processing.processor import Processor, ZoneResolver

EVENTS = Path(__file__).parents[1] / "events"
NOW_S = parse_ts("2026-11-27T21:10:00Z") / 1000
DAY = (parse_ts("2026-11-27T00:00:00Z") - 86_400_000, parse_ts("2026-11-29T00:00:00Z"))


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


class Local:
    def __init__(self, root: Path, store: SqliteStore | None = None) -> None:
        self.store = store or SqliteStore(root / "store.db")
        self.archive_root = root / "archive"
        self.dead_letters = SqliteDeadLetters(root / "dlq.db")
        self.metrics = PrometheusMetrics()
        self.processor = Processor(
            self.store, FolderArchive(self.archive_root), self.dead_letters, self.metrics,
            ZoneResolver(default="UTC", devices={"apt-12": "Europe/Berlin"}), clock=lambda: NOW_S,
        )

    def kwh(self, device: str, tz: str = "UTC") -> float:
        return sum(p.import_kwh for p in self.store.periods(device, "day", *DAY, tz))


@pytest.fixture
def local(tmp_path: Path) -> Local:
    return Local(tmp_path)


def test_given_the_aws_documentation_event_when_handled_then_the_energy_published_is_stored(local: Local) -> None:
    response = local.processor.handle(load("kinesis_aws_doc_example.json"), None)
    assert response == {"batchItemFailures": []}
    # 1234567.0 → 1234574.0 Wh: 7 Wh, in the device's own day.
    assert local.kwh("apt-12", "Europe/Berlin") == pytest.approx(0.007, abs=1e-9)
    [summary] = local.store.devices()
    assert (summary.device_id, summary.readings, summary.last_energy_wh) == ("apt-12", 3, 1234574.0)


def test_given_two_devices_when_handled_then_each_devices_kwh_is_what_it_published(local: Local) -> None:
    response = local.processor.handle(load("kinesis_two_devices.json"), None)
    assert response == {"batchItemFailures": []}
    assert local.kwh("apt-12", "Europe/Berlin") == pytest.approx(0.029, abs=1e-9)  # 5000 → 5029 Wh
    assert local.kwh("apt-7") == pytest.approx(0.050, abs=1e-9)  # 1200 W for 150 s
    assert local.metrics.total("readings_processed") == 36


def test_given_the_same_event_twice_when_handled_then_nothing_is_counted_twice(local: Local) -> None:
    event = load("kinesis_two_devices.json")
    local.processor.handle(event, None)
    local.processor.handle(event, None)
    assert local.kwh("apt-12", "Europe/Berlin") == pytest.approx(0.029, abs=1e-9)
    assert local.kwh("apt-7") == pytest.approx(0.050, abs=1e-9)
    assert {d.device_id: d.readings for d in local.store.devices()} == {"apt-12": 30, "apt-7": 6}


def test_given_malformed_records_when_handled_then_each_is_dead_lettered_with_its_reason_and_the_batch_succeeds(
    local: Local,
) -> None:
    event = load("kinesis_malformed.json")
    expected_codes = json.loads((EVENTS / "kinesis_malformed.expected.json").read_text())
    response = local.processor.handle(event, None)
    # THEN the batch does not fail (retrying bad input can never help) ...
    assert response == {"batchItemFailures": []}
    # ... every bad record is kept with a readable reason and where it came from ...
    letters = list(reversed(local.dead_letters.recent(100)))
    assert [dl.code for dl in letters] == expected_codes
    assert all(dl.stage == "processor" and dl.reason and dl.payload for dl in letters)
    bad_ids = [r["eventID"] for r in event["Records"][1:-1]]
    assert [dl.source for dl in letters] == bad_ids
    spoofed = next(dl for dl in letters if dl.code == "spoofed")
    assert "apt-13" in spoofed.reason and "apt-12" in spoofed.reason
    # ... the good records around them are stored ...
    assert local.kwh("apt-12", "Europe/Berlin") == pytest.approx(0.001, abs=1e-9)
    # ... and rejections are counted in metrics.
    assert local.metrics.total("readings_rejected") == len(expected_codes)


def test_given_an_oversized_record_when_handled_then_it_is_rejected_as_too_large(local: Local) -> None:
    event = copy.deepcopy(load("kinesis_aws_doc_example.json"))
    body = orjson.loads(base64.b64decode(event["Records"][0]["kinesis"]["data"]))
    body["padding"] = "x" * 140_000
    event["Records"][0]["kinesis"]["data"] = base64.b64encode(orjson.dumps(body)).decode()
    assert local.processor.handle(event, None) == {"batchItemFailures": []}
    [letter] = local.dead_letters.recent()
    assert letter.code == "too_large" and "131328-byte limit" in letter.reason  # the message limit + its stamp


class FailingStore(SqliteStore):
    """A store whose writes fail for one device, as a throttled DynamoDB partition would."""

    def __init__(self, path: Path, failing_device: str) -> None:
        super().__init__(path)
        self.failing_device = failing_device

    def add_readings(self, device_id: str, readings: Any) -> int:
        if device_id == self.failing_device:
            raise StoreError(f"throttled writing {device_id}")
        return super().add_readings(device_id, readings)


def test_given_a_store_failure_for_one_device_when_handled_then_exactly_its_sequence_numbers_are_reported(
    tmp_path: Path,
) -> None:
    local = Local(tmp_path, FailingStore(tmp_path / "store.db", failing_device="apt-7"))
    event = load("kinesis_two_devices.json")
    response = local.processor.handle(event, None)
    apt7 = [r["kinesis"]["sequenceNumber"] for r in event["Records"] if r["kinesis"]["partitionKey"] == "apt-7"]
    assert set(response) == {"batchItemFailures"}
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == sorted(apt7)
    # The other device is stored in full; the failing one is not half-written.
    assert local.kwh("apt-12", "Europe/Berlin") == pytest.approx(0.029, abs=1e-9)
    assert local.kwh("apt-7") == 0
    assert local.dead_letters.count() == 0  # a store failure is retried, not rejected
    # WHEN the store recovers and the failed records are retried THEN the device's energy arrives.
    local.store.failing_device = "none"
    retry = {"Records": [r for r in event["Records"] if r["kinesis"]["sequenceNumber"] in apt7]}
    assert local.processor.handle(retry, None) == {"batchItemFailures": []}
    assert local.kwh("apt-7") == pytest.approx(0.050, abs=1e-9)


class HalfWayStore(SqliteStore):
    """Fails one device after its readings are written, while its minutes are replaced."""

    def _replace_minutes(self, device_id: str, *args: Any) -> None:
        if device_id == "apt-7":
            raise StoreError("disk I/O error")
        super()._replace_minutes(device_id, *args)


def test_given_a_device_failing_half_way_in_a_batch_when_handled_then_only_it_is_undone_and_retried(
    tmp_path: Path,
) -> None:
    # GIVEN a batch of two devices WHEN one fails after its readings were written (one transaction per batch)
    local = Local(tmp_path, HalfWayStore(tmp_path / "store.db"))
    event = load("kinesis_two_devices.json")
    response = local.processor.handle(event, None)
    # THEN exactly its records are retried, none of its readings stand, and the other device is stored in full
    apt7 = sorted(r["kinesis"]["sequenceNumber"] for r in event["Records"] if r["kinesis"]["partitionKey"] == "apt-7")
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == apt7
    assert {d.device_id: d.readings for d in local.store.devices()}.get("apt-7") is None
    assert local.store.readings_around("apt-7", 0, 2**62) == []
    assert local.kwh("apt-12", "Europe/Berlin") == pytest.approx(0.029, abs=1e-9)


class CommitFailsStore(SqliteStore):
    """The batch's commit fails (a full disk shows there)."""

    @contextmanager
    def batch(self) -> Iterator[None]:
        with super().batch():
            yield
            raise StoreError("database or disk is full")


def test_given_the_batch_commit_failing_when_handled_then_every_device_is_retried_and_nothing_is_kept(
    tmp_path: Path,
) -> None:
    local = Local(tmp_path, CommitFailsStore(tmp_path / "store.db"))
    event = load("kinesis_two_devices.json")
    response = local.processor.handle(event, None)
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == \
        sorted(r["kinesis"]["sequenceNumber"] for r in event["Records"])
    assert local.store.devices() == []
    assert local.dead_letters.count() == 0


def test_given_an_empty_event_when_handled_then_the_response_is_an_empty_failure_list(local: Local) -> None:
    assert local.processor.handle({"Records": []}, None) == {"batchItemFailures": []}


def test_given_a_batch_when_handled_then_the_archive_holds_one_gzip_ndjson_object_per_date(local: Local) -> None:
    local.processor.handle(load("kinesis_two_devices.json"), None)
    files = sorted(p.relative_to(local.archive_root).as_posix() for p in local.archive_root.rglob("*.gz"))
    assert [f.rsplit("/", 1)[0] for f in files] == ["raw/date=2026-11-27"]
    lines = gzip.decompress((local.archive_root / files[0]).read_bytes()).splitlines()
    every = [orjson.loads(line) for line in lines]
    assert {r["device_id"] for r in every} == {"apt-12", "apt-7"}
    rows = [r for r in every if r["device_id"] == "apt-12"]
    assert len(rows) == 30
    assert rows[0] == {"device_id": "apt-12", "ts": "2026-11-27T21:00:00.000Z", "power_w": 360.0,
                       "energy_wh": 5000.0, "export_wh": 10.0}
    assert [r["ts"] for r in rows] == sorted(r["ts"] for r in rows)
