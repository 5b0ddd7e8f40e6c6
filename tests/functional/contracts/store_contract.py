"""Store port contract: every Store backend (SqliteStore, a DynamoDB store, ...) must pass these.

HOW TO RUN IT AGAINST ANOTHER BACKEND: in a test module, define a fixture named ``store_factory`` that
returns a zero-argument callable building a fresh, empty store, then import the tests::

    import pytest
    from functional.contracts.store_contract import *  # noqa: F403 - collects the contract tests

    @pytest.fixture
    def store_factory(moto_server):
        return lambda: DynamoStore(table=new_table(), client=boto3.client("dynamodb", endpoint_url=moto_server))

(``functional`` resolves because pytest puts ``tests/`` on sys.path for the root conftest.)
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from energymon.domain.energy import MinuteEnergy
from energymon.domain.reading import Reading, parse_ts
from energymon.domain.timebuckets import local_keys, zone
from energymon.errors import ConfigError
from energymon.ports import Store

StoreFactory = Callable[[], Store]
MIN = 60_000
# 2026-10-24T21:30Z = 23:30 in Berlin on the Saturday before the 25-hour day.
T0 = parse_ts("2026-10-24T21:30:00Z")
WIDE = (T0 - 40 * 86_400_000, T0 + 40 * 86_400_000)


def r(minutes: float, energy: float | None = None, power: float | None = None, device: str = "apt-12") -> Reading:
    return Reading(device, T0 + int(minutes * MIN), power_w=power, energy_wh=energy)


def minute(m: int, mwh: int, peak: float | None = None, samples: int = 1) -> MinuteEnergy:
    return MinuteEnergy(T0 + m * MIN, import_mwh=mwh, export_mwh=mwh // 10, peak_power_w=peak, samples=samples)


def mwh(store: Store, res: str, tz: str = "Europe/Berlin", device: str = "apt-12") -> dict[str, int]:
    return {p.start: round(p.import_kwh * 1e6) for p in store.periods(device, res, *WIDE, tz)}


def test_contract_given_readings_when_added_twice_then_duplicates_are_ignored_and_counted_once(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    assert store.add_readings("apt-12", [r(0, 1.0), r(1, 2.0)]) == 2
    assert store.add_readings("apt-12", [r(1, 2.0), r(2, 3.0)]) == 1
    assert store.add_readings("apt-12", [r(0, 1.0)]) == 0
    # The first value stored for a timestamp wins: a replay never rewrites history.
    assert store.add_readings("apt-12", [r(0, 99.0)]) == 0
    assert [x.energy_wh for x in store.readings_around("apt-12", T0, T0 + 2 * MIN)] == [1.0, 2.0, 3.0]


def test_contract_given_readings_when_asked_around_a_range_then_neighbours_on_each_side_come_too(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    store.add_readings("apt-12", [r(m, float(m)) for m in (0, 5, 6, 7, 20)])
    store.add_readings("apt-7", [r(4, 1.0, device="apt-7")])
    around = store.readings_around("apt-12", T0 + 5 * MIN, T0 + 7 * MIN)
    assert [x.ts_ms for x in around] == [T0 + m * MIN for m in (0, 5, 6, 7, 20)]
    assert all(x.device_id == "apt-12" for x in around)
    # Inclusive bounds, and nothing but the range when there are no neighbours.
    assert [x.ts_ms for x in store.readings_around("apt-12", T0, T0)] == [T0, T0 + 5 * MIN]
    assert store.readings_around("nobody", T0, T0 + MIN) == []
    assert [x.ts_ms for x in store.readings_around("apt-12", T0 + MIN, T0 + 2 * MIN)] == [T0, T0 + 5 * MIN]


def test_contract_given_readings_when_asked_before_a_time_then_the_latest_ones_come_in_order(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    store.add_readings("apt-12", [r(m, float(m)) for m in range(10)])
    assert [x.energy_wh for x in store.readings_before("apt-12", T0 + 5 * MIN, 3)] == [2.0, 3.0, 4.0]
    assert store.readings_before("apt-12", T0, 3) == []


def test_contract_given_minutes_when_replaced_then_every_rollup_is_the_sum_of_its_minutes(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    # 23:28 .. 00:33 Berlin: across an hour, a local day and (no) month boundary.
    store.replace_minutes("apt-12", T0 - 2 * MIN, T0 + 64 * MIN,
                          [minute(m, 1000 + m, peak=100.0 + m) for m in range(-2, 64)], "Europe/Berlin")
    hours = mwh(store, "hour")
    assert hours == {
        "2026-10-24T23:00+02:00": sum(1000 + m for m in range(-2, 30)),
        "2026-10-25T00:00+02:00": sum(1000 + m for m in range(30, 64)),
    }
    assert mwh(store, "day") == {"2026-10-24": hours["2026-10-24T23:00+02:00"],
                                 "2026-10-25": hours["2026-10-25T00:00+02:00"]}
    assert mwh(store, "month") == {"2026-10": sum(hours.values())}
    [day] = [p for p in store.periods("apt-12", "day", *WIDE, "Europe/Berlin") if p.start == "2026-10-25"]
    assert day.peak_power_w == 163.0 and day.samples == 34
    assert round(day.export_kwh * 1e6) == sum((1000 + m) // 10 for m in range(30, 64))


def test_contract_given_minutes_replaced_again_when_some_are_removed_then_rollups_follow(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    store.replace_minutes("apt-12", T0, T0 + 40 * MIN, [minute(m, 500) for m in range(40)], "Europe/Berlin")
    # WHEN the same span is recomputed with fewer, different minutes (e.g. a spike was re-judged)
    store.replace_minutes("apt-12", T0 + 20 * MIN, T0 + 40 * MIN, [minute(25, 7)], "Europe/Berlin")
    assert mwh(store, "minute") == {**{f"2026-10-24T23:{30 + m:02d}+02:00": 500 for m in range(20)},
                                    "2026-10-24T23:55+02:00": 7}
    assert mwh(store, "day") == {"2026-10-24": 20 * 500 + 7}
    # WHEN every minute of a day is removed THEN its day (and month) rows disappear or shrink
    store.replace_minutes("apt-12", T0, T0 + 40 * MIN, [], "Europe/Berlin")
    assert mwh(store, "hour") == {} and mwh(store, "day") == {} and mwh(store, "month") == {}


def test_contract_given_the_same_minutes_when_read_in_another_zone_then_days_are_cut_at_that_zones_midnight(
    store_factory: StoreFactory,
) -> None:
    berlin, kathmandu = store_factory(), store_factory()
    minutes = [minute(m, 100) for m in range(0, 24 * 60, 15)]
    berlin.replace_minutes("apt-12", T0, T0 + 24 * 60 * MIN, minutes, "Europe/Berlin")
    kathmandu.replace_minutes("apt-12", T0, T0 + 24 * 60 * MIN, minutes, "Asia/Kathmandu")
    for store, tz in ((berlin, "Europe/Berlin"), (kathmandu, "Asia/Kathmandu")):
        expected: dict[str, int] = {}
        for m in minutes:
            day = local_keys(m.minute_ms, zone(tz)).day
            expected[day] = expected.get(day, 0) + 100
        assert mwh(store, "day", tz) == expected
        assert sum(mwh(store, "hour", tz).values()) == 96 * 100


def test_contract_given_the_25_hour_day_when_queried_by_hour_then_25_hours_in_local_labels(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    day_start = parse_ts("2026-10-24T22:00:00Z")
    minutes = [MinuteEnergy(day_start + m * MIN, import_mwh=1) for m in range(25 * 60)]
    store.replace_minutes("apt-12", day_start, day_start + 25 * 60 * MIN, minutes, "Europe/Berlin")
    hours = store.periods("apt-12", "hour", day_start, day_start + 25 * 60 * MIN, "Europe/Berlin")
    assert len(hours) == 25 and all(round(h.import_kwh * 1e6) == 60 for h in hours)
    assert [h.start for h in hours].count("2026-10-25T02:00+02:00") == 1
    assert [h.start for h in hours].count("2026-10-25T02:00+01:00") == 1
    assert mwh(store, "day") == {"2026-10-25": 1500}


def test_contract_given_devices_when_summarised_then_counts_and_latest_reading_are_shown(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    assert store.devices() == []
    store.add_readings("apt-12", [r(0, 10.0, 100.0), r(2, 12.0, 300.0)])
    store.add_readings("apt-12", [r(1, 11.0, 200.0), r(2, 12.0, 300.0)])
    store.add_readings("apt-7", [r(5, None, 50.0, device="apt-7")])
    summary = {d.device_id: d for d in store.devices()}
    assert set(summary) == {"apt-12", "apt-7"}
    assert (summary["apt-12"].readings, summary["apt-12"].last_ts_ms) == (3, T0 + 2 * MIN)
    assert (summary["apt-12"].last_power_w, summary["apt-12"].last_energy_wh) == (300.0, 12.0)
    assert (summary["apt-7"].readings, summary["apt-7"].last_power_w, summary["apt-7"].last_energy_wh) == (1, 50.0, None)


def test_contract_given_gap_minutes_when_replaced_then_every_rollup_counts_them(
    store_factory: StoreFactory,
) -> None:
    # GIVEN 10 minutes of which 4 lie inside a gap (no reading, only an even share of a counter's energy)
    store = store_factory()
    minutes = [minute(m, 1000, samples=0 if 3 <= m < 7 else 6) for m in range(10)]
    for m in minutes[3:7]:
        m.gap = 1
    store.replace_minutes("apt-12", T0, T0 + 10 * MIN, minutes, "Europe/Berlin")
    # THEN minutes, hours, days and months all say how many gap minutes they hold
    assert sum(p.gap_minutes for p in store.periods("apt-12", "minute", *WIDE, "Europe/Berlin")) == 4
    for resolution in ("hour", "day", "month"):
        assert sum(p.gap_minutes for p in store.periods("apt-12", resolution, *WIDE, "Europe/Berlin")) == 4
    # AND a later replacement without the gap clears it
    store.replace_minutes("apt-12", T0, T0 + 10 * MIN, [minute(m, 1000, samples=6) for m in range(10)],
                          "Europe/Berlin")
    assert sum(p.gap_minutes for p in store.periods("apt-12", "day", *WIDE, "Europe/Berlin")) == 0


def test_contract_given_an_unknown_resolution_or_zone_then_it_is_refused_and_nothing_is_written(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    with pytest.raises(ValueError, match="resolution must be one of minute, hour, day, month"):
        store.periods("apt-12", "week", *WIDE, "Europe/Berlin")
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Base'"):
        store.replace_minutes("apt-12", T0, T0 + MIN, [minute(0, 5)], "Mars/Base")
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Base'"):
        store.periods("apt-12", "day", *WIDE, "Mars/Base")
    assert mwh(store, "minute") == {} and store.energy_sums("apt-12", [WIDE]) == [0]


def test_contract_given_no_readings_when_added_then_nothing_changes(store_factory: StoreFactory) -> None:
    store = store_factory()
    assert store.add_readings("apt-12", []) == 0
    assert store.devices() == []


def test_contract_given_readings_when_asked_after_a_time_or_for_counters_then_the_nearest_come_in_order(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    store.add_readings("apt-12", [r(m, float(m) if m % 2 == 0 else None, power=1.0) for m in range(10)])
    assert [x.ts_ms for x in store.readings_after("apt-12", T0 + 5 * MIN, 2)] == [T0 + 6 * MIN, T0 + 7 * MIN]
    assert store.readings_after("apt-12", T0 + 9 * MIN, 2) == []
    forward = store.counter_readings("apt-12", T0 + 3 * MIN, 2, forward=True, within_ms=60 * MIN)
    assert [x.energy_wh for x in forward] == [4.0, 6.0]
    backward = store.counter_readings("apt-12", T0 + 5 * MIN, 5, forward=False, within_ms=3 * MIN)
    assert [x.energy_wh for x in backward] == [2.0, 4.0]  # 0.0 lies further than within_ms back


def test_contract_given_minutes_when_day_and_month_periods_are_read_then_they_start_at_local_midnight(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    store.replace_minutes("apt-12", T0, T0 + 60 * MIN, [minute(m, 10) for m in range(60)], "Asia/Kolkata")
    days = store.periods("apt-12", "day", *WIDE, "Asia/Kolkata")
    assert [(d.start, d.start_ms) for d in days] == [("2026-10-25", parse_ts("2026-10-24T18:30:00Z"))]
    [month] = store.periods("apt-12", "month", *WIDE, "Asia/Kolkata")
    assert (month.start, month.start_ms) == ("2026-10", parse_ts("2026-09-30T18:30:00Z"))
    assert store.periods("apt-12", "minute", T0, T0 + MIN, "Asia/Kolkata")[0].start == "2026-10-25T03:00+05:30"
