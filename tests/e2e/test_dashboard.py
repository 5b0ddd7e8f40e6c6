"""The dashboard in headless Chromium while the simulator runs: live data, device and period switches,
numbers checked against the query port, a screenshot kept in test-artifacts/, no console error."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from energymon.config import load_settings
from energymon.domain.energy import MinuteEnergy
from energymon.domain.timebuckets import local_day_bounds_ms, zone
from energymon.runtimes.local import LocalRuntime

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TZ = "America/New_York"  # apt-2 lives there; apt-1 in UTC


def _seed_history(runtime: LocalRuntime, today: date) -> dict[str, float]:
    """Two past days for apt-2 with known energy; the day between them stays empty (a gap)."""
    store, tz = runtime.adapters.store, zone(TZ)
    seeded = {}
    for days_ago, mwh_per_minute in ((3, 500), (1, 1250)):
        day = (today - timedelta(days=days_ago)).isoformat()
        start, end = local_day_bounds_ms(day, tz)
        minutes = [MinuteEnergy(m, mwh_per_minute, 0, 100.0, 6) for m in range(start, end, 60_000)]
        store.replace_minutes("apt-2", start, end, minutes, TZ)
        seeded[day] = len(minutes) * mwh_per_minute / 1e6
    return seeded


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    settings = load_settings(
        data_dir=tmp_path / "data", broker_port=0, web_port=0, simulate=2, publish_interval_s=1.0,
        batching_window_s=0.5, device_timezones={"apt-2": TZ},
    )
    rt = LocalRuntime(settings)
    rt.start()
    yield rt
    rt.stop()


@pytest.fixture
def page(runtime: LocalRuntime) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1200, "height": 1000})
        pg = context.new_page()
        pg.console_errors = []
        pg.on("console", lambda m: m.type == "error" and pg.console_errors.append(m.text))
        pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
        yield pg
        browser.close()


def _store_today(runtime: LocalRuntime, device: str) -> float:
    tz_name = runtime.adapters.zones(device)
    start, end = local_day_bounds_ms(datetime.now(zone(tz_name)).strftime("%Y-%m-%d"), zone(tz_name))
    return sum(p.import_kwh for p in runtime.adapters.store.periods(device, "day", start, end, tz_name))


def _bars(page: Any) -> dict[str, float | None]:
    x, y = page.evaluate("() => { const d = document.getElementById('history-chart').data[0]; return [d.x, d.y]; }")
    return dict(zip(x, y, strict=True))


def _check_bars_against_store(page: Any, runtime: LocalRuntime, device: str) -> dict[str, float | None]:
    """Every bar equals the store's day total; days the store lacks are drawn as gaps (no bar)."""
    bars = _bars(page)
    tz_name = runtime.adapters.zones(device)
    first, last = min(bars), max(bars)
    start, _ = local_day_bounds_ms(first, zone(tz_name))
    _, end = local_day_bounds_ms(last, zone(tz_name))
    stored = {p.start: p.import_kwh for p in runtime.adapters.store.periods(device, "day", start, end, tz_name)}
    today = datetime.now(zone(tz_name)).strftime("%Y-%m-%d")
    for day, kwh in bars.items():
        if day == today:
            continue  # still growing while we look; checked through the "today" card
        if day in stored:
            assert kwh == pytest.approx(stored[day], abs=1e-6), day
        else:
            assert kwh is None, f"{day} has no data but is drawn as {kwh}"
    return bars


def test_dashboard_shows_live_data_and_the_stored_numbers(runtime: LocalRuntime, page: Any) -> None:
    assert runtime.web is not None
    today = datetime.now(zone(TZ)).date()
    seeded = _seed_history(runtime, today)
    deadline = time.monotonic() + 20
    while len(runtime.adapters.store.devices()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)

    # GIVEN the simulator runs WHEN the dashboard opens THEN live power arrives and keeps coming.
    page.goto(runtime.web.url)
    page.wait_for_selector("body[data-ready='apt-1']", timeout=15_000)
    page.wait_for_selector("#connection[data-state='live']", timeout=10_000)
    count = "() => document.getElementById('live-chart').data[0].y.filter(v => v !== null).length"
    page.wait_for_function(f"({count})() >= 3", timeout=15_000)
    before = page.evaluate(count)
    page.wait_for_function(f"({count})() > {before}", timeout=10_000)
    assert float(page.text_content("#power-now")) > 0

    # THEN today's kWh shown is the store's (it only grows, so it lies between two reads of the store).
    low = _store_today(runtime, "apt-1")
    page.select_option("#device", "apt-2")
    page.wait_for_selector("body[data-ready='apt-2']", timeout=10_000)
    page.select_option("#device", "apt-1")
    page.wait_for_selector("body[data-ready='apt-1']", timeout=10_000)
    shown = float(page.get_attribute("#today-kwh", "data-kwh"))
    high = _store_today(runtime, "apt-1")
    assert low - 0.002 <= shown <= high + 1e-9
    assert page.text_content("#today-kwh") == f"{shown:.3f}"

    # WHEN switching to apt-2 and to the week holding the seeded days THEN the bars are the stored totals.
    page.select_option("#device", "apt-2")
    page.wait_for_selector("body[data-ready='apt-2']", timeout=10_000)
    assert page.text_content("#device-zone") == TZ
    gap_day = (today - timedelta(days=2)).isoformat()
    page.click("button[data-span='week']")
    page.fill("#anchor", gap_day)
    page.dispatch_event("#anchor", "change")
    page.wait_for_function(f"() => document.getElementById('history-chart').data[0].x.includes('{gap_day}')")
    bars = _check_bars_against_store(page, runtime, "apt-2")
    assert bars[gap_day] is None
    for day, kwh in seeded.items():
        if day in bars:
            assert bars[day] == pytest.approx(kwh)
    assert int(page.text_content("#history-gaps")) >= 1

    # WHEN picking month, then year THEN daily bars still match the store, and the total is their sum.
    for span, n_min in (("month", 28), ("year", 365)):
        page.click(f"button[data-span='{span}']")
        page.wait_for_function(f"() => document.getElementById('history-chart').data[0].x.length >= {n_min}")
        bars = _check_bars_against_store(page, runtime, "apt-2")
        total = float(page.get_attribute("#history-total", "data-kwh"))
        assert total == pytest.approx(sum(v for v in bars.values() if v is not None), abs=0.01)
        assert total >= sum(seeded[day] for day in seeded if day in bars) - 1e-6
    ARTIFACTS.mkdir(exist_ok=True)
    page.click("button[data-span='week']")
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    # AND at phone width the page still fits without horizontal scrolling.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(1000)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 392
    page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)

    assert page.console_errors == []

