"""Energy derivation: counters, power integration, gaps, resets, jitter, spikes, rollovers, spreading."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from energymon.domain.energy import MINUTE_MS, EnergyParams, MinuteEnergy, derive_minutes
from energymon.domain.reading import Reading

T0 = 1_795_813_200_000  # 2026-11-27T21:00:00Z, a minute boundary
S = 1000
PARAMS = EnergyParams()


def counter(*points: tuple[int, float]) -> list[Reading]:
    """Readings with only the import counter: (seconds after T0, Wh)."""
    return [Reading("apt-12", T0 + s * S, energy_wh=wh) for s, wh in points]


def power(*points: tuple[int, float]) -> list[Reading]:
    return [Reading("apt-12", T0 + s * S, power_w=w) for s, w in points]


def total_mwh(minutes: dict[int, MinuteEnergy], attr: str = "import_mwh") -> int:
    return sum(getattr(m, attr) for m in minutes.values())


def per_minute(minutes: dict[int, MinuteEnergy]) -> dict[int, int]:
    """Minute index after T0 → import mWh, for minutes that hold energy."""
    return {(k - T0) // MINUTE_MS: m.import_mwh for k, m in sorted(minutes.items()) if m.import_mwh}


def anomalies(minutes: dict[int, MinuteEnergy]) -> int:
    return sum(m.anomalies for m in minutes.values())


# --- counters ------------------------------------------------------------------------------------


def test_given_a_rising_counter_when_derived_then_each_minute_holds_its_delta() -> None:
    minutes = derive_minutes(counter((0, 1000.0), (60, 1010.0), (120, 1025.5)), PARAMS)
    assert per_minute(minutes) == {0: 10_000, 1: 15_500}
    assert anomalies(minutes) == 0


def test_given_a_single_reading_when_derived_then_no_energy_but_the_sample_counts() -> None:
    minutes = derive_minutes([Reading("apt-12", T0 + 5 * S, power_w=300.0, energy_wh=5.0)], PARAMS)
    assert total_mwh(minutes) == 0
    assert minutes[T0].samples == 1 and minutes[T0].peak_power_w == 300.0


def test_given_an_export_counter_when_derived_then_export_is_kept_apart_from_import() -> None:
    readings = [
        Reading("apt-12", T0, energy_wh=100.0, export_wh=50.0),
        Reading("apt-12", T0 + 60 * S, energy_wh=101.0, export_wh=53.0),
    ]
    minutes = derive_minutes(readings, PARAMS)
    assert total_mwh(minutes) == 1_000
    assert total_mwh(minutes, "export_mwh") == 3_000


def test_given_a_counter_across_a_long_gap_when_derived_then_the_gap_energy_is_kept_and_spread() -> None:
    # The counter is the truth: 10 minutes offline still consumed what the meter counted.
    minutes = derive_minutes(counter((0, 1000.0), (600, 1100.0)), PARAMS)
    assert total_mwh(minutes) == 100_000
    assert per_minute(minutes) == {i: 10_000 for i in range(10)}


# --- power only ----------------------------------------------------------------------------------


def test_given_power_only_when_derived_then_the_trapezoid_is_integrated() -> None:
    # 1000 W then 2000 W over one minute: mean 1500 W for 1/60 h = 25 Wh.
    minutes = derive_minutes(power((0, 1000.0), (60, 2000.0)), PARAMS)
    assert per_minute(minutes) == {0: 25_000}
    assert minutes[T0 + MINUTE_MS].peak_power_w == 2000.0


def test_given_power_only_with_a_gap_over_max_gap_when_derived_then_the_gap_is_not_filled() -> None:
    readings = power((0, 600.0), (60, 600.0), (60 + 301, 600.0), (60 + 361, 600.0))
    minutes = derive_minutes(readings, PARAMS)
    # Two one-minute intervals at 600 W = 10 Wh each; the 301 s gap contributes nothing.
    assert total_mwh(minutes) == 20_000


def test_given_power_only_with_a_gap_of_exactly_max_gap_when_derived_then_it_is_filled() -> None:
    minutes = derive_minutes(power((0, 600.0), (300, 600.0)), PARAMS)
    assert total_mwh(minutes) == 50_000


def test_given_negative_power_when_integrated_then_import_is_never_negative() -> None:
    minutes = derive_minutes(power((0, -500.0), (60, -500.0)), PARAMS)
    assert total_mwh(minutes) == 0
    assert all(m.import_mwh >= 0 for m in minutes.values())


# --- resets, jitter, spikes, rollovers -------------------------------------------------------------


def test_given_a_counter_reset_when_derived_then_counted_from_zero_and_flagged() -> None:
    minutes = derive_minutes(counter((0, 1000.0), (60, 1010.0), (120, 3.0), (180, 8.0)), PARAMS)
    assert per_minute(minutes) == {0: 10_000, 1: 3_000, 2: 5_000}
    assert anomalies(minutes) == 1


def test_given_jitter_below_the_high_water_mark_when_derived_then_nothing_is_counted_twice() -> None:
    minutes = derive_minutes(counter((0, 1000.0), (60, 999.5), (120, 1001.0)), PARAMS)
    # Not 1.5 Wh: the dip is ignored and the next reading is measured from the high-water mark.
    assert total_mwh(minutes) == 1_000
    assert all(m.import_mwh >= 0 for m in minutes.values())
    assert anomalies(minutes) == 0


def test_given_a_spike_when_derived_then_it_is_never_added() -> None:
    # 1010 → 900000 Wh within a minute would be 54 MW.
    minutes = derive_minutes(counter((0, 1000.0), (60, 1010.0), (120, 900_000.0), (180, 1020.0)), PARAMS)
    assert total_mwh(minutes) == 20_000
    assert max(m.import_mwh for m in minutes.values()) == 10_000
    assert anomalies(minutes) == 1


def test_given_a_real_jump_confirmed_by_the_next_reading_when_derived_then_rebased_without_adding_it() -> None:
    # Meter swapped: the counter jumps and stays. The jump itself is never energy; what follows is.
    readings = counter((0, 1000.0), (60, 1010.0), (120, 500_000.0), (180, 500_010.0), (240, 500_025.0))
    minutes = derive_minutes(readings, PARAMS)
    assert per_minute(minutes) == {0: 10_000, 2: 10_000, 3: 15_000}
    assert total_mwh(minutes) == 35_000


def test_given_a_counter_rollover_when_derived_then_the_wrap_is_counted() -> None:
    params = EnergyParams(counter_rollover_wh=100_000.0)
    minutes = derive_minutes(counter((0, 99_990.0), (60, 5.0)), params)
    assert total_mwh(minutes) == 15_000
    assert anomalies(minutes) == 0


def test_given_no_rollover_configured_when_the_counter_wraps_then_it_is_a_reset() -> None:
    minutes = derive_minutes(counter((0, 99_990.0), (60, 5.0)), PARAMS)
    assert total_mwh(minutes) == 5_000
    assert anomalies(minutes) == 1


@given(
    steps=st.lists(
        st.tuples(st.integers(1, 600), st.floats(-3000.0, 3000.0, allow_nan=False)), min_size=1, max_size=40
    )
)
def test_given_any_counter_walk_when_derived_then_energy_is_never_negative(steps: list[tuple[int, float]]) -> None:
    t, wh, points = 0, 10_000.0, [(0, 10_000.0)]
    for dt, change in steps:
        t, wh = t + dt, max(wh + change, 0.0)
        points.append((t, wh))
    minutes = derive_minutes(counter(*points), PARAMS)
    assert all(m.import_mwh >= 0 and m.export_mwh >= 0 for m in minutes.values())
    # Never more than the plausible power over the whole time span.
    assert total_mwh(minutes) <= PARAMS.max_power_w * t / 3600 * 1000 + 1


# --- spreading across minutes ------------------------------------------------------------------------


def test_given_an_interval_across_minute_boundaries_when_spread_then_shares_follow_time() -> None:
    # 30 s before and after a whole minute: 1/4, 1/2, 1/4 of 12.004 Wh.
    minutes = derive_minutes(counter((30, 1000.0), (150, 1012.004)), PARAMS)
    assert per_minute(minutes) == {0: 3_001, 1: 6_002, 2: 3_001}


@settings(max_examples=300)
@given(
    start=st.integers(0, 10 * MINUTE_MS),
    length=st.integers(1, 240 * MINUTE_MS),
    mwh=st.integers(0, 10**9),
)
def test_given_any_interval_when_spread_then_the_total_is_kept_to_half_a_mwh_per_minute(
    start: int, length: int, mwh: int
) -> None:
    # Each minute is rounded to whole mWh once, so the total is within 0.5 mWh per minute touched.
    readings = [Reading("apt-12", T0 + start, energy_wh=1000.0),
                Reading("apt-12", T0 + start + length, energy_wh=1000.0 + mwh / 1000)]
    minutes = derive_minutes(readings, EnergyParams(max_power_w=float("inf")))
    touched = len({(T0 + start + t) // MINUTE_MS for t in range(0, length, 1000)} | {(T0 + start + length - 1) // MINUTE_MS})
    assert abs(total_mwh(minutes) - mwh) <= 0.5 * touched + 1e-9


def test_given_low_power_sampled_every_second_when_derived_then_it_is_neither_lost_nor_inflated() -> None:
    # 1.8 W at 1 Hz is 0.5 mWh per interval: one hour must still be 1.8 Wh, not 0 and not 3.6.
    readings = power(*[(s, 1.8) for s in range(3601)])
    assert abs(total_mwh(derive_minutes(readings, PARAMS)) - 1_800) <= 30


def test_given_readings_in_one_minute_when_derived_then_peak_and_samples_are_per_minute() -> None:
    readings = [
        Reading("apt-12", T0 + 1 * S, power_w=100.0, energy_wh=1.0),
        Reading("apt-12", T0 + 20 * S, power_w=900.0, energy_wh=1.0),
        Reading("apt-12", T0 + 61 * S, power_w=50.0, energy_wh=2.0),
    ]
    minutes = derive_minutes(readings, PARAMS)
    assert (minutes[T0].samples, minutes[T0].peak_power_w) == (2, 900.0)
    assert (minutes[T0 + MINUTE_MS].samples, minutes[T0 + MINUTE_MS].peak_power_w) == (1, 50.0)


# --- known gap: devices that report power and the counter in separate messages -----------------------



def test_given_counter_then_power_only_then_counter_when_derived_then_counted_once() -> None:
    # 100 W for 3 minutes is 5 Wh, whichever fields each reading carries.
    readings = [
        Reading("apt-12", T0, power_w=100.0, energy_wh=1000.0),
        Reading("apt-12", T0 + 60 * S, power_w=100.0),
        Reading("apt-12", T0 + 120 * S, power_w=100.0, energy_wh=1003.333),
        Reading("apt-12", T0 + 180 * S, power_w=100.0, energy_wh=1005.0),
    ]
    # (each minute is rounded to whole mWh once: within 0.5 mWh per minute)
    assert abs(total_mwh(derive_minutes(readings, PARAMS)) - 5_000) <= 2



def test_given_shelly_style_interleaved_power_and_counter_when_derived_then_the_counter_wins() -> None:
    # emdata every minute (counter only), em every 10 s (power only): 600 W = 10 Wh per minute.
    readings = [
        Reading("apt-12", T0 + i * 10 * S, energy_wh=1000.0 + i // 6 * 10.0)
        if i % 6 == 0
        else Reading("apt-12", T0 + i * 10 * S, power_w=600.0)
        for i in range(13)
    ]
    assert total_mwh(derive_minutes(readings, PARAMS)) == 20_000


def test_given_readings_far_apart_when_derived_then_the_silent_minutes_are_flagged_as_a_gap() -> None:
    # A counter read at 0 s and at 600 s: its energy is spread over the ten minutes, and the eight
    # minutes with no reading at all are flagged, so a chart never shows the even share as measured.
    minutes = derive_minutes(counter((0, 1000.0), (600, 1100.0)), PARAMS)
    assert sorted((k - T0) // MINUTE_MS for k, m in minutes.items() if m.gap) == list(range(1, 10))
    # Power only, 10 minutes of silence: nothing integrated, the gap flagged
    silent = derive_minutes(power((0, 500.0), (600, 500.0)), PARAMS)
    assert total_mwh(silent) == 0
    assert sum(m.gap for m in silent.values()) == 9
    # Readings within max_gap: no gap
    assert not any(m.gap for m in derive_minutes(power((0, 500.0), (240, 500.0)), PARAMS).values())


def test_given_a_year_of_silence_when_derived_then_quarter_hour_rows_keep_totals_and_gap_minutes_exact() -> None:
    # A meter back after 365 days with 8,760 kWh more (1 kW on average): the share is spread over
    # quarter-hour rows (35,040 of them, not 525,600 minute rows) and every silent minute is counted.
    year = 365 * 24 * 3600
    minutes = derive_minutes(counter((0, 1000.0), (year, 1000.0 + 8_760_000)), PARAMS)
    assert len(minutes) <= 35_041
    assert abs(total_mwh(minutes) - 8_760_000_000) <= len(minutes)
    assert sum(m.gap for m in minutes.values()) == 365 * 24 * 60 - 1
    assert all((k - T0) % (15 * MINUTE_MS) == 0 for k, m in minutes.items() if m.gap)
