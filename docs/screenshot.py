"""The README's dashboard screenshot: `make screenshot` writes docs/dashboard.png (and docs/dashboard-phone.png).

It starts the local runtime as `make run` does (embedded broker, simulated apartments; free ports, a throw-away
data directory; the tariff of docs/screenshot.toml), lets the simulator run for --seconds, and photographs the
page in headless Chromium (Debian's /usr/bin/chromium driven by playwright, as tests/e2e do). Nothing is seeded:
the picture shows what a new user sees after that long.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from energymon.config import load_settings
from energymon.runtimes.local import LocalRuntime

DOCS = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def shoot(seconds: float, out: Path, phone: Path | None, config: Path | None = None) -> None:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only this command needs it

    with tempfile.TemporaryDirectory(prefix="energymon-screenshot-") as data:
        settings = load_settings(config, data_dir=Path(data), broker_port=0, web_port=0, simulate=3,
                                 publish_interval_s=1.0, batching_window_s=1.0)
        runtime = LocalRuntime(settings)
        runtime.start()
        try:
            assert runtime.web is not None
            time.sleep(seconds)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.goto(runtime.web.url)
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(3000)  # a few live updates drawn
                page.screenshot(path=str(out), full_page=True)
                print(f"wrote {out}")
                if phone is not None:
                    page.set_viewport_size({"width": 390, "height": 844})
                    page.wait_for_timeout(1500)
                    page.screenshot(path=str(phone), full_page=True)
                    print(f"wrote {phone}")
                browser.close()
        finally:
            runtime.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90, help="how long the simulator runs first (default 90)")
    parser.add_argument("--out", type=Path, default=DOCS / "dashboard.png")
    parser.add_argument("--phone", type=Path, default=DOCS / "dashboard-phone.png", help="phone-width shot")
    parser.add_argument("--config", type=Path, default=DOCS / "screenshot.toml", help="settings (a tariff)")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print("make screenshot: chromium is missing: sudo apt-get install chromium", file=sys.stderr)
        return 1
    shoot(args.seconds, args.out, args.phone, args.config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
