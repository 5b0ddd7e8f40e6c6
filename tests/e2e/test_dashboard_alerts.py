"""The dashboard shows the alerts firing on the device shown, in headless Chromium, while the simulator runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from energymon.config import load_settings
from energymon.runtimes.local import LocalRuntime

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# A budget of 1 Wh a day (the smallest a rule takes): the simulated apartment passes it within a minute even at
# its night-time base load (about 100 W: 36 s per Wh); the scheduled thread fires it once those minutes are stored.
ALERTS = {"rules": [{"name": "tiny-budget", "kind": "energy_budget", "device": "apt-1", "budget_kwh": 0.001,
                     "critical": True, "channels": ["hook"]}],
          "channels": [{"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/alerts"}]}


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    settings = load_settings(data_dir=tmp_path / "data", broker_port=0, web_port=0, simulate=2,
                             publish_interval_s=1.0, batching_window_s=0.5, alerts=ALERTS, alerts_interval_s=1)
    rt = LocalRuntime(settings)
    rt.start()
    yield rt
    rt.stop()


def test_given_a_firing_alert_when_the_dashboard_shows_its_device_then_it_is_listed_and_not_on_others(
        runtime: LocalRuntime) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    assert runtime.web is not None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page: Any = browser.new_context(viewport={"width": 1200, "height": 1000}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{runtime.web.url.rstrip('/')}/?device=apt-1")
        try:
            page.wait_for_selector("body[data-ready='apt-1']", timeout=30_000)
        except Exception:
            raise AssertionError(f"page not ready: {page.inner_text('#connection')} {errors}") from None
        # The alert fires on the scheduled thread; the page polls /api/alerts every 5 s. A loaded 2-core machine
        # takes its time to store the first minutes: the wait is generous, the test is not timed.
        page.wait_for_selector("#alerts-list li[data-rule='tiny-budget']", timeout=150_000)
        item = page.inner_text("#alerts-list li[data-rule='tiny-budget']")
        assert "energy budget" in item and "limit 0.001 kWh" in item and "since" in item
        assert page.get_attribute("#alerts-list li", "class") == "alert critical"
        assert page.inner_text("#alerts-summary") == "1 firing on apt-1"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-alerts.png"), full_page=True)
        page.select_option("#device", "apt-2")
        page.wait_for_selector("body[data-ready='apt-2']", timeout=60_000)
        page.wait_for_function("document.getElementById('alerts-summary').textContent === 'none firing on apt-2'",
                               timeout=30_000)
        assert page.query_selector_all("#alerts-list li") == []
        assert errors == []
        browser.close()
