"""The main screen in headless Chromium against the real local runtime (simulator on, a time-of-use tariff, one
alert rule): cost per hour now, today against yesterday and last week, always-on load, this month's peak
demand, the site view over both devices, active alerts and the CSV download. Every figure on the page is checked
against the API, and the API against the store (or the tariff). One runtime start for all of it.

Screenshots at phone (375 px) and desktop width go to ``$ENERGYMON_ARTIFACTS`` (default: this run's pytest
temporary directory, ``.../artifacts``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from energymon.config import load_settings
from energymon.domain.energy import MinuteEnergy
from energymon.domain.tariffs import Tariff
from energymon.domain.timebuckets import local_day_bounds_ms, zone
from energymon.runtimes.local import LocalRuntime

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TZ = "America/New_York"  # apt-2 lives there; apt-1 in UTC
TARIFF = {"currency": "EUR", "periods": [{
    "from": "2026-01-01", "standing_charge_per_day": "0.45", "price_per_kwh": "0.30",
    "windows": [{"days": "all", "start": "22:00", "end": "06:00", "price_per_kwh": "0.20"}]}]}
MEAN_PRICE = (8 * 0.20 + 16 * 0.30) / 24  # the tariff's time-weighted mean: what a constant load pays
ALERTS = {"rules": [{"name": "tiny-budget", "kind": "energy_budget", "device": "apt-1", "budget_kwh": 0.001,
                     "channels": ["hook"]}],
          "channels": [{"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/alerts"}]}
PEAK_MWH_PER_MINUTE = 250_000  # 15 kW for a quarter-hour: far above anything the simulated apartment draws
MIN = 60_000


def _night_mwh(i: int) -> int:
    """Minute i of a seeded day: 36, 42, ... 210 W repeating (each value ten times in a night of 300 minutes)."""
    return 600 + (i % 30) * 100


def _seed(runtime: LocalRuntime, today: date) -> dict[str, Any]:
    """apt-2: yesterday whole (the night pattern, plus a 15 kW quarter-hour at 10:00 when yesterday is in this
    month), and the same weekday last week from 05:00 (so its night is empty whatever the hour now)."""
    store, tz = runtime.adapters.store, zone(TZ)
    yesterday, last_week = today - timedelta(days=1), today - timedelta(days=7)
    start, end = local_day_bounds_ms(yesterday.isoformat(), tz)
    peak_start = int(datetime(yesterday.year, yesterday.month, yesterday.day, 10, tzinfo=tz).timestamp() * 1000)
    peak_in_month = yesterday.month == today.month
    minutes = []
    for i, m in enumerate(range(start, end, MIN)):
        hot = peak_in_month and peak_start <= m < peak_start + 15 * MIN
        minutes.append(MinuteEnergy(m, PEAK_MWH_PER_MINUTE if hot else _night_mwh(i), 0, 100.0, 6))
    store.replace_minutes("apt-2", start, end, minutes, TZ)
    lw_start, lw_end = local_day_bounds_ms(last_week.isoformat(), tz)
    five = lw_start + 5 * 3_600_000
    store.replace_minutes("apt-2", lw_start, lw_end, [MinuteEnergy(m, 500, 0, 30.0, 6) for m in range(five, lw_end, MIN)],
                          TZ)
    return {"peak_in_month": peak_in_month, "peak_start": peak_start}


def _artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("ENERGYMON_ARTIFACTS")
    path = Path(configured) if configured else tmp_path_factory.getbasetemp() / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("overview") / "data", broker_port=0, web_port=0, simulate=2,
        publish_interval_s=1.0, batching_window_s=0.5, device_timezones={"apt-2": TZ}, tariff=TARIFF,
        alerts=ALERTS, alerts_interval_s=1,
    )
    runtime = LocalRuntime(settings)
    runtime.start()
    try:
        deadline = time.monotonic() + 30
        while len(runtime.adapters.store.devices()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        seeded = _seed(runtime, datetime.now(zone(TZ)).date())
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page: Any = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
            errors: list[str] = []
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(str(e)))
            yield {"runtime": runtime, "page": page, "errors": errors, "seeded": seeded,
                   "artifacts": _artifacts(tmp_path_factory)}
            browser.close()
    finally:
        runtime.stop()


def _api(page: Any, path: str) -> Any:
    """What the page's own origin answers (the same cookies and host as the page's scripts)."""
    return page.evaluate("async (p) => { const r = await fetch(p); return {status: r.status, body: "
                         "r.headers.get('content-type').includes('json') ? await r.json() : await r.text()}; }", path)


def _get(base: str, path: str) -> tuple[int, str]:
    """Outside the page: an error answer here must not show as a console error of the page."""
    try:
        with urllib.request.urlopen(base.rstrip("/") + path, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _data(page: Any, selector: str, name: str) -> float | None:
    value = page.get_attribute(selector, f"data-{name}")
    return None if value in (None, "") else float(value)


def _store_quarters(runtime: LocalRuntime, devices: list[str], start: int, end: int) -> dict[int, float]:
    """kWh per UTC quarter-hour straight from the store's minutes, summed over ``devices`` (coincident)."""
    out: dict[int, float] = {}
    for device in devices:
        for p in runtime.adapters.store.periods(device, "minute", start, end, "UTC"):
            out[p.start_ms - p.start_ms % (15 * MIN)] = out.get(p.start_ms - p.start_ms % (15 * MIN), 0) + p.import_kwh
    return out


def _month_start(now: datetime) -> int:
    return local_day_bounds_ms(now.date().replace(day=1).isoformat(), now.tzinfo)[0]  # type: ignore[arg-type]


def _screens(page: Any, artifacts: Path, name: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.wait_for_timeout(800)
    page.screenshot(path=str(artifacts / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 812})
    page.wait_for_timeout(800)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375, "horizontal scroll at 375 px"
    page.screenshot(path=str(artifacts / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 1000})


def test_device_view_figures_match_the_api_and_the_api_matches_the_store(rig: dict[str, Any]) -> None:
    runtime, page = rig["runtime"], rig["page"]
    assert runtime.web is not None
    store, tz = runtime.adapters.store, zone(TZ)
    tariff = Tariff.from_dict(TARIFF)

    # GIVEN yesterday and last week seeded for apt-2 WHEN its main screen opens
    page.goto(f"{runtime.web.url.rstrip('/')}/?device=apt-2")
    page.wait_for_selector("body[data-ready='apt-2']", timeout=30_000)
    page.wait_for_function("document.getElementById('power-now').dataset.w !== ''", timeout=30_000)
    before_ms = int(time.time() * 1000)
    api = _api(page, "/api/devices/apt-2/overview")["body"]
    after_ms = int(time.time() * 1000)

    # THEN the price in force is the tariff's at this instant, and cost per hour is power x that price.
    assert api["live"]["price_per_kwh"] in {float(tariff.price_at(t, tz)) for t in (before_ms, after_ms)}
    watts, cost_h = _data(page, "#power-now", "w"), _data(page, "#cost-hour", "cost")
    assert watts is not None and watts > 0 and cost_h is not None
    price_shown = float(page.text_content("#price-now").split()[1])
    assert price_shown == pytest.approx(api["live"]["price_per_kwh"])
    assert cost_h == pytest.approx(watts / 1000 * price_shown, rel=1e-9)
    assert page.text_content("#cost-hour") == f"{cost_h:.3f} EUR/h"

    # THEN yesterday and last week to the same local time are the store's energy over exactly those bounds.
    for key, selector in (("yesterday", "#vs-yesterday"), ("last_week", "#vs-last-week")):
        row = api[key]
        assert _data(page, selector, "kwh") == pytest.approx(row["import_kwh"])
        assert row["import_kwh"] == pytest.approx(store.energy_sums("apt-2", [(row["start_ms"], row["end_ms"])])[0] / 1e6)
        local_end = datetime.fromtimestamp(row["end_ms"] / 1000, tz)
        assert local_end.date().isoformat() == row["day"]
        assert abs((row["end_ms"] - row["start_ms"]) - (api["today"]["end_ms"] - api["today"]["start_ms"])) <= 3_600_000
        assert f"{row['import_kwh']:.3f} kWh" in page.text_content(selector)
    assert api["yesterday"]["import_kwh"] > 0
    # AND the costs include that day's standing charge (0.45) on top of the energy at its prices.
    assert api["yesterday"]["cost"] > 0.45

    # THEN today's kWh on the page lies between two reads of the store (it grows while we look).
    shown_today = _data(page, "#today-kwh", "kwh")
    assert shown_today is not None and shown_today >= 0

    # THEN always-on is the 10th percentile of seeded night minutes (36..210 W, ten of each): 48 W, from the store.
    assert api["always_on"]["power_w"] == 48.0
    assert _data(page, "#always-on", "w") == 48.0
    assert api["always_on"]["kwh_per_year"] == pytest.approx(48 * 8.76, abs=0.1)
    assert api["always_on"]["cost_per_year"] == pytest.approx(48 * 8.76 * MEAN_PRICE, abs=0.02)
    assert f"{api['always_on']['cost_per_year']:.2f} EUR a year" in page.text_content("#always-on-year")

    # THEN this month's peak 15-minute demand is the store's highest quarter-hour (the seeded 15 kW when it is in
    # this month), and the page shows that figure and when.
    now = datetime.now(tz)
    quarters = _store_quarters(runtime, ["apt-2"], _month_start(now), int(time.time() * 1000) + 1)
    best = max(sorted(quarters), key=lambda k: quarters[k])
    peak = api["peak_demand"]
    assert peak["kw"] == pytest.approx(quarters[best] * 4, abs=0.01)
    if rig["seeded"]["peak_in_month"]:
        assert peak["kw"] == pytest.approx(15.0) and peak["start_ms"] == rig["seeded"]["peak_start"]
        assert page.text_content("#peak-when").startswith(peak["start"][5:16].replace("T", " "))
    assert _data(page, "#peak-kw", "kw") == pytest.approx(peak["kw"])

    # WHEN the week holding yesterday is shown THEN the CSV link downloads exactly the API's periods, with local
    # (New York offsets) and UTC times.
    page.click("button[data-span='week']")
    page.wait_for_timeout(500)
    href = page.get_attribute("#csv-link", "href")
    assert href.startswith("/api/devices/apt-2/energy.csv?")
    energy = _api(page, href.replace("energy.csv", "energy"))["body"]
    rows = list(csv.DictReader(io.StringIO(_api(page, href)["body"])))
    assert [r["start_utc"] for r in rows] == [
        datetime.fromtimestamp(p["start_ms"] / 1000, tz).astimezone(zone("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
        for p in energy["periods"]]
    for r, p in zip(rows, energy["periods"], strict=True):
        assert r["start_local"][:10] == p["start"] and r["start_local"][-6:] in ("-05:00", "-04:00")
        csv_kwh = float(r["import_kwh"]) if r["import_kwh"] else None
        if not p["partial"]:
            assert csv_kwh == p["import_kwh"]
        elif p["import_kwh"] is not None:
            # Today is still being written: the CSV, read after the JSON, can only have grown.
            assert csv_kwh is not None and csv_kwh >= p["import_kwh"]
    # AND a range too large is refused with the limit named.
    too_big = _get(runtime.web.url, "/api/devices/apt-2/energy.csv?period=minute&from=" +
                   (now - timedelta(days=10)).date().isoformat())
    assert too_big[0] == 422 and "at most 7 days" in json.loads(too_big[1])["error"]["message"]

    _screens(page, rig["artifacts"], "overview-device")
    assert rig["errors"] == []


def test_site_view_adds_up_the_devices_and_lists_active_alerts(rig: dict[str, Any]) -> None:
    runtime, page = rig["runtime"], rig["page"]
    assert runtime.web is not None

    # GIVEN the page freshly open on its default device (this test does not rely on where another left it)
    page.goto(runtime.web.url)
    page.wait_for_selector("body[data-ready]", timeout=30_000)
    # WHEN the site view is picked THEN both devices are listed, with live power for each.
    page.select_option("#device", "*")
    page.wait_for_selector("body[data-ready='*']", timeout=30_000)
    assert page.eval_on_selector_all("#devices-table tbody tr", "rs => rs.map(r => r.dataset.device)") == \
        ["apt-1", "apt-2"]
    page.wait_for_function("document.getElementById('live-chart').data.length === 2", timeout=10_000)

    site = _api(page, "/api/site/overview")["body"]
    # THEN the site's figures are the sums of its devices', and the page shows them.
    assert site["yesterday_kwh"] == pytest.approx(sum(d["yesterday"]["import_kwh"] for d in site["devices"]))
    assert site["last_week_kwh"] == pytest.approx(sum(d["last_week"]["import_kwh"] for d in site["devices"]))
    page.wait_for_function(f"document.getElementById('vs-yesterday').dataset.kwh == '{site['yesterday_kwh']}'",
                           timeout=15_000)
    # AND its peak demand is coincident: the store's highest quarter-hour of both devices added up.
    assert site["timezone"] == "UTC"  # the first device's (apt-1): the site's month is cut there
    now = datetime.now(zone(site["timezone"]))
    quarters = _store_quarters(runtime, ["apt-1", "apt-2"], _month_start(now), int(time.time() * 1000) + 1)
    best = max(sorted(quarters), key=lambda k: quarters[k])
    assert site["peak_demand"]["kw"] == pytest.approx(quarters[best] * 4, abs=0.01)
    assert _data(page, "#peak-kw", "kw") == pytest.approx(site["peak_demand"]["kw"], abs=0.01)
    # AND the site's power now is the sum of each device's latest power (both are online).
    watts = _data(page, "#power-now", "w")
    latest = page.evaluate("() => ['apt-1', 'apt-2'].map(d => { const s = state.series[d]; return s[s.length - 1][1]; })")
    assert watts == pytest.approx(sum(latest))

    # THEN the site CSV has one row per device and hour of the day shown.
    page.click("button[data-span='day']")
    page.wait_for_timeout(500)
    href = page.get_attribute("#csv-link", "href")
    assert href.startswith("/api/site/energy.csv?")
    rows = list(csv.DictReader(io.StringIO(_api(page, href)["body"])))
    assert {r["device_id"] for r in rows} == {"apt-1", "apt-2"}
    for device in ("apt-1", "apt-2"):
        mine = [r for r in rows if r["device_id"] == device]
        assert len(mine) in (23, 24, 25)  # hours of apt-1's (UTC) day as cut in each device's zone
    site_energy = _api(page, href.replace("energy.csv", "energy"))["body"]
    chart_total = float(page.get_attribute("#history-total", "data-kwh"))
    assert chart_total == pytest.approx(site_energy["total_import_kwh"], abs=0.01)

    # THEN the alert firing on apt-1 is listed on the site view, as /api/alerts has it.
    page.wait_for_selector("#alerts-list li[data-rule='tiny-budget']", timeout=150_000)
    alerts = _api(page, "/api/alerts")["body"]
    assert [a["rule"] for a in alerts["active"]] == ["tiny-budget"]
    assert page.inner_text("#alerts-list li").startswith("apt-1: tiny-budget")
    assert page.inner_text("#alerts-summary") == "1 firing on the site"

    _screens(page, rig["artifacts"], "overview-site")
    assert rig["errors"] == []
