"""The monthly AWS cost model: each line is a hand-checkable quantity × price from the dated price table."""

from __future__ import annotations

import pytest

from energymon.deploy.bill import Deployment, estimate, load_prices


def _line(lines, service: str, prefix: str):  # type: ignore[no-untyped-def]
    (line,) = [x for x in lines if x.service == service and x.item.startswith(prefix)]
    return line


def test_the_price_table_is_dated_and_names_its_region() -> None:
    prices = load_prices()
    assert prices["as_of"] == "2026-11-27"
    assert prices["region"] == "us-east-1"
    assert prices["kinesis_per_shard_hour"] == 0.015


def test_one_apartment_at_1_hz_is_priced_line_by_line() -> None:
    lines = estimate(Deployment(apartments=1))
    # 30 days of one message per 10 s: 259,200 IoT messages at $1 per million
    assert _line(lines, "IoT Core", "messages").quantity == 259_200
    assert _line(lines, "IoT Core", "messages").monthly_usd == pytest.approx(0.2592)
    # one provisioned shard all month: 720 h × $0.015 — the largest line for one apartment
    shard = _line(lines, "Kinesis", "1 provisioned")
    assert shard.monthly_usd == pytest.approx(10.80)
    assert shard.monthly_usd == max(line.monthly_usd for line in lines)
    # 2,592,000 readings × 0.216 write units × $0.625 per million
    assert _line(lines, "DynamoDB", "write").monthly_usd == pytest.approx(2_592_000 * 0.216 * 0.625 / 1e6)
    # the batching window, not the batch size, sets the invocations of a quiet stream: one per 10 s
    assert _line(lines, "Lambda", "requests").quantity == pytest.approx(259_200)


def test_a_thousand_apartments_share_one_shard_and_fill_batches() -> None:
    lines = estimate(Deployment(apartments=1000))
    # 100 records/s arrive: batches fill (100 records), so one invocation per second
    assert _line(lines, "Lambda", "requests").quantity == pytest.approx(2_592_000)
    assert _line(lines, "Kinesis", "1 provisioned").monthly_usd == pytest.approx(10.80)


@pytest.mark.parametrize("bad", [{"apartments": 0}, {"sample_hz": 0}, {"publish_interval_s": 0.5}])
def test_impossible_deployments_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Deployment(**bad)  # type: ignore[arg-type]


def test_the_archive_writes_one_object_per_batch_not_per_device() -> None:
    # 1,000 apartments: 2,592,000 batches a month → 2,592 thousand PUTs at $0.005, not 259 million
    lines = estimate(Deployment(apartments=1000))
    puts = _line(lines, "S3", "archive PUTs")
    assert puts.quantity == pytest.approx(2_592_000)
    assert puts.monthly_usd == pytest.approx(12.96)


def test_the_hosted_dashboard_checked_20_times_a_day_costs_cents_a_month() -> None:
    lines = estimate(Deployment(apartments=1))
    api = _line(lines, "API Gateway", "read API")
    # 20 visits x 31 requests x 30 days, plus plotly.min.js metered as 10 requests once a day
    assert api.quantity == pytest.approx(20 * 31 * 30 + 10 * 30)
    assert api.monthly_usd == pytest.approx((20 * 31 * 30 + 300) * 1.00 / 1e6)
    total = sum(line.monthly_usd for line in lines if line.item.startswith("read API"))
    assert 0.01 < total < 0.05
    assert not [line for line in estimate(Deployment(dashboard_visits_per_day=0)) if "read API" in line.item]
