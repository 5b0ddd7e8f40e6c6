"""Tariffs: validity periods, time-of-use windows in local time, standing charge per local day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from energymon.domain.tariffs import Tariff, TariffNotDefined
from energymon.errors import ConfigError

BERLIN = ZoneInfo("Europe/Berlin")
D = Decimal


def local_ms(*args: int, tz: ZoneInfo = BERLIN) -> int:
    return int(datetime(*args, tzinfo=tz).timestamp() * 1000)  # type: ignore[misc]


def minutes(start_ms: int, end_ms: int, wh: float = 1.0) -> dict[int, float]:
    return {m: wh for m in range(start_ms, end_ms, 60_000)}


FLAT_WITH_CHANGE: dict[str, Any] = {
    "currency": "EUR",
    "periods": [
        {"from": "2026-01-01", "price_per_kwh": "0.30", "standing_charge_per_day": "0.40"},
        {"from": date(2026, 1, 15), "price_per_kwh": 0.36, "standing_charge_per_day": "0.45"},
    ],
}

TOU: dict[str, Any] = {
    "currency": "GBP",
    "name": "night saver",
    "periods": [
        {
            "from": "2026-01-01",
            "standing_charge_per_day": "0.50",
            "price_per_kwh": "0.28",  # weekday daytime: outside every window
            "windows": [
                {"name": "night", "days": "all", "start": "22:00", "end": "06:00", "price_per_kwh": "0.10"},
                {
                    "name": "weekend day",
                    "days": ["sat", "sun"],
                    "start": "06:00",
                    "end": "22:00",
                    "price_per_kwh": "0.20",
                },
                {"name": "peak", "days": "weekdays", "start": 17, "end": 19, "price_per_kwh": "0.40"},
            ],
        }
    ],
}


# -- validity periods -------------------------------------------------------------------------
def test_given_a_price_change_mid_month_when_costing_the_month_then_each_day_pays_its_own_price() -> None:
    # GIVEN 0.30/kWh from Jan 1 and 0.36/kWh from Jan 15 (local midnight, Berlin)
    tariff = Tariff.from_dict(FLAT_WITH_CHANGE)
    # WHEN one kWh a day is used across January (1000 Wh in the first minute of each local day)
    usage = {local_ms(2026, 1, day, 0, 0): 1000.0 for day in range(1, 32)}
    # THEN 14 days at 0.30 and 17 days at 0.36 - the new price never reaches back
    assert tariff.cost_of(usage, BERLIN) == D("14") * D("0.30") + D("17") * D("0.36")
    assert tariff.price_at(local_ms(2026, 1, 14, 23, 59), BERLIN) == D("0.30")
    assert tariff.price_at(local_ms(2026, 1, 15, 0, 0), BERLIN) == D("0.36")
    assert tariff.standing_charges(date(2026, 1, 1), date(2026, 1, 31)) == D("14") * D("0.40") + D("17") * D("0.45")


def test_given_the_change_at_local_midnight_when_utc_is_still_the_previous_day_then_the_new_price_applies() -> None:
    tariff = Tariff.from_dict(FLAT_WITH_CHANGE)
    instant = datetime(2026, 1, 14, 23, 30, tzinfo=UTC)  # 00:30 on Jan 15 in Berlin
    assert tariff.price_at(instant, "Europe/Berlin") == D("0.36")
    assert tariff.price_at(instant, "UTC") == D("0.30")


def test_given_usage_before_the_first_period_when_priced_then_it_is_an_explicit_gap_not_a_guess() -> None:
    tariff = Tariff.from_dict(FLAT_WITH_CHANGE)
    with pytest.raises(TariffNotDefined, match="2025-12-31"):
        tariff.price_at(local_ms(2025, 12, 31, 12, 0), BERLIN)


def test_given_a_period_with_an_end_when_priced_after_it_then_the_gap_is_reported() -> None:
    cfg = {"currency": "EUR", "periods": [{"from": "2026-01-01", "to": "2026-02-01", "price_per_kwh": 1}]}
    tariff = Tariff.from_dict(cfg)
    assert tariff.price_at(local_ms(2026, 1, 31, 23, 59), BERLIN) == D(1)
    with pytest.raises(TariffNotDefined):
        tariff.standing_charge_for_day(date(2026, 2, 1))


# -- time of use ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("local", "price"),
    [
        ((2026, 1, 5, 12, 0), "0.28"),  # Monday day
        ((2026, 1, 5, 17, 0), "0.40"),  # Monday peak starts (inclusive)
        ((2026, 1, 5, 18, 59), "0.40"),
        ((2026, 1, 5, 19, 0), "0.28"),  # peak end is exclusive
        ((2026, 1, 5, 22, 0), "0.10"),  # night starts Monday 22:00 ...
        ((2026, 1, 6, 5, 59), "0.10"),  # ... and runs across midnight to Tuesday 06:00
        ((2026, 1, 6, 6, 0), "0.28"),
        ((2026, 1, 10, 5, 0), "0.10"),  # Saturday early: Friday's night window
        ((2026, 1, 10, 17, 30), "0.20"),  # Saturday: weekend day, no weekday peak
        ((2026, 1, 11, 23, 0), "0.10"),  # Sunday night into Monday
        ((2026, 1, 12, 0, 30), "0.10"),
    ],
)
def test_given_a_time_of_use_tariff_when_priced_then_local_weekday_and_hour_pick_the_window(
    local: tuple[int, ...], price: str
) -> None:
    tariff = Tariff.from_dict(TOU)
    assert tariff.price_at(local_ms(*local), BERLIN) == D(price)


def test_given_an_hour_of_usage_across_a_window_edge_when_costed_then_each_minute_gets_its_own_price() -> None:
    tariff = Tariff.from_dict(TOU)
    # 21:30-22:30 Monday, 60 Wh per minute: 30 minutes at 0.28 and 30 at 0.10
    usage = minutes(local_ms(2026, 1, 5, 21, 30), local_ms(2026, 1, 5, 22, 30), 60.0)
    assert tariff.cost_of(list(usage.items()), BERLIN) == D("1.8") * D("0.28") + D("1.8") * D("0.10")


def test_given_zero_usage_when_costed_then_cost_is_zero_even_outside_any_period() -> None:
    tariff = Tariff.from_dict(TOU)
    assert tariff.cost_of({local_ms(2020, 1, 1, 0, 0): 0.0}, BERLIN) == 0


@pytest.mark.parametrize(
    ("intervals", "error"),
    [
        ({1_767_222_000_001: 1.0}, ValueError),  # not a whole minute
        ({1_767_222_000_000: -1.0}, ValueError),
        ({1_767_222_000_000: float("nan")}, ValueError),
        ({1_767_222_000_000: "1"}, TypeError),
    ],
)
def test_given_malformed_intervals_when_costed_then_the_caller_is_told(intervals: dict[int, Any], error: type) -> None:
    with pytest.raises(error):
        Tariff.from_dict(TOU).cost_of(intervals, BERLIN)


def test_given_a_naive_datetime_when_priced_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        Tariff.from_dict(TOU).price_at(datetime(2026, 1, 5, 12, 0), BERLIN)  # noqa: DTZ001


# -- DST and standing charges -----------------------------------------------------------------
@pytest.mark.parametrize(("day", "hours"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 6, 1), 24)])
def test_given_a_dst_day_in_berlin_when_billed_then_all_its_hours_are_costed_and_one_standing_charge_applies(
    day: date, hours: int
) -> None:
    tariff = Tariff.from_dict(FLAT_WITH_CHANGE)
    start = datetime(day.year, day.month, day.day, tzinfo=BERLIN)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=BERLIN)
    usage = minutes(int(start.timestamp() * 1000), int(end.timestamp() * 1000), 1000.0 / 60)
    # GIVEN a 23/24/25-hour local day using 1 kWh per hour
    assert len(usage) == hours * 60
    local_days = {datetime.fromtimestamp(m / 1000, BERLIN).date() for m in usage}
    # THEN it is one local day with one standing charge, and every hour is costed
    assert local_days == {day}
    assert tariff.standing_charge_for_day(day) == D("0.45")
    assert round(tariff.cost_of(usage, BERLIN), 9) == D(hours) * D("0.36")


def test_given_a_week_spanning_the_autumn_change_when_standing_charges_are_summed_then_seven_are_charged() -> None:
    tariff = Tariff.from_dict(FLAT_WITH_CHANGE)
    assert tariff.standing_charges(date(2026, 10, 22), date(2026, 10, 28)) == 7 * D("0.45")


def test_given_a_datetime_for_a_standing_charge_when_asked_then_a_local_date_is_required() -> None:
    with pytest.raises(TypeError):
        Tariff.from_dict(TOU).standing_charge_for_day(datetime(2026, 1, 1, tzinfo=UTC))


def test_given_the_repeated_autumn_hour_when_priced_then_both_passes_get_the_night_price() -> None:
    cfg = {
        "currency": "EUR",
        "periods": [
            {
                "from": "2026-01-01",
                "price_per_kwh": "0.3",
                "windows": [{"days": "all", "start": "02:00", "end": "03:00", "price_per_kwh": "0.1"}],
            }
        ],
    }
    tariff = Tariff.from_dict(cfg)
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET
    assert tariff.price_at(first, BERLIN) == tariff.price_at(second, BERLIN) == D("0.1")


# -- config errors ----------------------------------------------------------------------------
def period(**extra: Any) -> dict[str, Any]:
    return {"from": "2026-01-01", "price_per_kwh": "0.30", **extra}


def window(**extra: Any) -> dict[str, Any]:
    return {"days": "weekdays", "start": "22:00", "end": "06:00", "price_per_kwh": "0.1", **extra}


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"currency": "euro", "periods": [period()]}, "currency: 'euro' is not an ISO 4217 code"),
        ({"currency": "eur", "periods": [period()]}, "currency"),
        ({"periods": [period()]}, "currency: None"),
        ({"currency": "EUR", "periods": []}, "periods: expected a non-empty list"),
        ({"currency": "EUR", "periods": [period()], "tarif": 1}, "tariff: unknown key(s) tarif"),
        ({"currency": "EUR", "periods": [period(price_per_kwh="-0.01")]}, "periods[0].price_per_kwh: negative price"),
        (
            {"currency": "EUR", "periods": [period(standing_charge_per_day=-1)]},
            "periods[0].standing_charge_per_day: negative",
        ),
        (
            {"currency": "EUR", "periods": [period(price_per_kwh="cheap")]},
            "periods[0].price_per_kwh: 'cheap' is not a number",
        ),
        ({"currency": "EUR", "periods": [period(price_per_kwh=True)]}, "periods[0].price_per_kwh"),
        ({"currency": "EUR", "periods": [period(price_per_kwh="NaN")]}, "not a finite number"),
        ({"currency": "EUR", "periods": [period(**{"from": "1st Jan"})]}, "periods[0].from: '1st Jan' is not a date"),
        ({"currency": "EUR", "periods": [{"price_per_kwh": 1}]}, "periods[0].from: missing"),
        ({"currency": "EUR", "periods": [period(to="2025-12-01")]}, "periods[0].to: 2025-12-01 is not after"),
        ({"currency": "EUR", "periods": [{"from": "2026-01-01"}]}, "periods[0].price_per_kwh: missing"),
        (
            {"currency": "EUR", "periods": [period(to="2026-03-01"), period(**{"from": "2026-02-01"})]},
            "periods[0].to: 2026-03-01 overlaps periods[1]",
        ),
        ({"currency": "EUR", "periods": [period(), period()]}, "periods[1].from: 2026-01-01 overlaps periods[0]"),
        (
            {"currency": "EUR", "periods": [period(windows=[window(days=["mo"])])]},
            "periods[0].windows[0].days: unknown day name 'mo'",
        ),
        ({"currency": "EUR", "periods": [period(windows=[window(days=[])])]}, "periods[0].windows[0].days"),
        (
            {"currency": "EUR", "periods": [period(windows=[window(start="25:00")])]},
            "periods[0].windows[0].start: '25:00' is out of range",
        ),
        ({"currency": "EUR", "periods": [period(windows=[window(start="24:00")])]}, "periods[0].windows[0].start"),
        ({"currency": "EUR", "periods": [period(windows=[window(end="24:30")])]}, "periods[0].windows[0].end"),
        (
            {"currency": "EUR", "periods": [period(windows=[window(end=-1)])]},
            "periods[0].windows[0].end: -1 is out of range",
        ),
        (
            {"currency": "EUR", "periods": [period(windows=[window(start="7pm")])]},
            "periods[0].windows[0].start: expected HH:MM",
        ),
        (
            {"currency": "EUR", "periods": [period(windows=[window(end="22:00")])]},
            "periods[0].windows[0].end: equals start",
        ),
        (
            {"currency": "EUR", "periods": [period(windows=[window(price_per_kwh=-2)])]},
            "periods[0].windows[0].price_per_kwh: negative",
        ),
        ({"currency": "EUR", "periods": [period(windows=[{"days": "all"}])]}, "periods[0].windows[0].start: missing"),
        (
            {"currency": "EUR", "periods": [period(windows=[window(colour="red")])]},
            "periods[0].windows[0]: unknown key(s) colour",
        ),
        (
            {
                "currency": "EUR",
                "periods": [period(windows=[window(), window(days="fri", start="05:00", end="07:00")])],
            },
            "periods[0].windows[1]: overlaps periods[0].windows[0] at fri 05:00",
        ),
        (
            {"currency": "EUR", "periods": [{"from": "2026-01-01", "windows": [window()]}]},
            "periods[0].windows: no window covers mon 00:00",
        ),
    ],
)
def test_given_bad_config_when_loaded_then_the_error_names_the_offending_key(cfg: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        Tariff.from_dict(cfg)
    assert message in str(err.value)


def test_given_toml_native_values_when_loaded_then_dates_and_floats_are_accepted_exactly() -> None:
    import tomllib

    tariff = Tariff.from_dict(
        tomllib.loads(
            """
            currency = "CHF"
            [[periods]]
            from = 2026-01-01
            price_per_kwh = 0.1
            standing_charge_per_day = 1
            """
        )
    )
    assert tariff.periods[0].price_per_kwh == D("0.1")  # not 0.1000000000000000055511...
    assert tariff.standing_charge_for_day(date(2026, 5, 5)) == D(1)


# -- properties -------------------------------------------------------------------------------
instants = st.integers(min_value=1_767_222_000_000 // 60_000, max_value=1_830_000_000_000 // 60_000).map(
    lambda m: m * 60_000
)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def week_partitions(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Valid full-week ToU windows: the same cut times every day (one window crosses midnight
    unless a cut is at 00:00), separate prices for weekdays and weekend."""
    cuts = sorted(draw(st.sets(st.integers(min_value=0, max_value=95), min_size=1, max_size=5)))
    cuts = [q * 15 for q in cuts] if len(cuts) > 1 else [0]  # one window: a whole day, 00:00-24:00
    windows = []
    for group in ("weekdays", "weekend"):
        for i, start in enumerate(cuts):
            end = cuts[(i + 1) % len(cuts)]
            if len(cuts) == 1 and start == 0:
                end = 1440
            price = draw(st.decimals(min_value=0, max_value=1, places=4))
            windows.append(
                {
                    "days": group,
                    "start": _hhmm(start),
                    "end": "24:00" if end == 1440 else _hhmm(end),
                    "price_per_kwh": price,
                }
            )
    return windows


@settings(max_examples=300, deadline=None)
@given(week_partitions(), instants)
def test_any_instant_of_a_full_week_tou_tariff_is_covered_by_exactly_one_window(
    windows: list[dict[str, Any]], ms: int
) -> None:
    # GIVEN any full-week ToU tariff (windows across midnight included)
    tariff = Tariff.from_dict({"currency": "EUR", "periods": [{"from": "2026-01-01", "windows": windows}]})
    # WHEN priced at any minute, THEN exactly one window covers it and sets the price
    local = datetime.fromtimestamp(ms / 1000, BERLIN)
    covering = [w for w in tariff.periods[0].windows if w.covers(local.weekday(), local.hour * 60 + local.minute)]
    assert len(covering) == 1
    assert tariff.price_at(ms, BERLIN) == covering[0].price_per_kwh


day_sets = st.lists(
    st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun", "weekdays", "weekend", "all"]),
    min_size=1,
    max_size=3,
)
quarter = st.integers(min_value=0, max_value=95).map(lambda q: f"{q // 4:02d}:{q % 4 * 15:02d}")
random_windows = st.lists(
    st.fixed_dictionaries(
        {"days": day_sets, "start": quarter, "end": quarter, "price_per_kwh": st.sampled_from(["0.1", "0.2", "0.3"])}
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=500, deadline=None)
@given(random_windows, st.booleans(), instants)
def test_any_accepted_tou_config_gives_every_instant_exactly_one_price(
    windows: list[dict[str, Any]], with_default: bool, ms: int
) -> None:
    # GIVEN arbitrary windows, WHEN from_dict accepts them, THEN no instant has two prices
    # and (without a default price) none has zero: validation is exact, not approximate.
    cfg: dict[str, Any] = {"currency": "EUR", "periods": [{"from": "2026-01-01", "windows": windows}]}
    if with_default:
        cfg["periods"][0]["price_per_kwh"] = "0.5"
    try:
        tariff = Tariff.from_dict(cfg)
    except ConfigError as err:
        assert "periods[0]" in str(err)
        event("rejected")
        return
    event("accepted")
    local = datetime.fromtimestamp(ms / 1000, BERLIN)
    covering = [w for w in tariff.periods[0].windows if w.covers(local.weekday(), local.hour * 60 + local.minute)]
    assert len(covering) <= 1
    if not with_default:
        assert len(covering) == 1
    assert tariff.price_at(ms, BERLIN) == (covering[0].price_per_kwh if covering else D("0.5"))
