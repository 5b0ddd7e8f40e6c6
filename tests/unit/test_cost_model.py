"""The monthly AWS cost model: each line is a hand-checkable quantity × price from the dated price table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from energymon.deploy.bill import (
    FLEET_ALARMS,
    LEAN_ALARMS,
    Deployment,
    estimate,
    free_tier_credits,
    load_prices,
    traffic,
)

TERRAFORM = Path(__file__).resolve().parents[2] / "infra" / "terraform"


def _line(lines, service: str, prefix: str):  # type: ignore[no-untyped-def]
    (line,) = [x for x in lines if x.service == service and x.item.startswith(prefix)]
    return line


def _total(lines) -> float:  # type: ignore[no-untyped-def]
    return sum(x.monthly_usd for x in lines)


def test_the_price_table_is_dated_and_names_its_region_and_sources() -> None:
    prices = load_prices()
    assert prices["as_of"] == "2026-12-02"
    assert prices["region"] == "us-east-1"
    assert prices["kinesis_per_shard_hour"] == 0.015
    for key in ("sqs_source", "kms_source", "cloudwatch_source"):
        assert "aws.amazon.com" in prices[key]


def test_one_apartment_at_1_hz_is_priced_line_by_line() -> None:
    lines = estimate(Deployment(apartments=1))
    # 30 days of one message per 10 s: 259,200 IoT messages, through Basic Ingest: no messaging charge
    assert _line(lines, "IoT Core", "messages").quantity == 259_200
    assert _line(lines, "IoT Core", "messages").monthly_usd == 0
    # the rules engine still bills each message's trigger and action
    assert _line(lines, "IoT Core", "rule triggers").monthly_usd == pytest.approx(259_200 * 0.30 / 1e6)
    # one provisioned shard all month: 720 h × $0.015 — the largest line for one apartment
    shard = _line(lines, "Kinesis", "1 provisioned")
    assert shard.monthly_usd == pytest.approx(10.80)
    assert shard.monthly_usd == max(line.monthly_usd for line in lines)
    # 259,200 batches of 10 readings × (2.0 + 10 × 0.0176) measured write units (0.2176 a reading) at $0.625/M
    assert _line(lines, "DynamoDB", "write").quantity == pytest.approx(259_200 * 2.176)
    assert _line(lines, "DynamoDB", "write").monthly_usd == pytest.approx(2_592_000 * 0.2176 * 0.625 / 1e6)
    # and (2.0 + 10 × 0.0016) measured read units per batch at $0.125/M
    assert _line(lines, "DynamoDB", "read units").quantity == pytest.approx(259_200 * 2.016)
    # the batching window, not the batch size, sets the invocations of a quiet stream: one per 10 s
    assert _line(lines, "Lambda", "requests").quantity == pytest.approx(259_200)


def test_devices_on_the_broker_topic_pay_the_messaging_per_5_kb() -> None:
    broker = estimate(Deployment(apartments=1, basic_ingest=False))
    assert _line(broker, "IoT Core", "messages").monthly_usd == pytest.approx(0.2592)  # 259,200 at $1 per million
    big = estimate(Deployment(apartments=1, basic_ingest=False, publish_interval_s=100))  # 7.5 KB: two units each
    assert _line(big, "IoT Core", "messages").quantity == 2 * 25_920
    basic = estimate(Deployment(apartments=1))
    others = {(line.service, line.item): line.monthly_usd for line in basic if "messages" not in line.item}
    assert others == {(line.service, line.item): line.monthly_usd for line in broker if "messages" not in line.item}


def test_a_thousand_apartments_share_one_shard_and_fill_batches() -> None:
    lines = estimate(Deployment(apartments=1000))
    # 100 records/s arrive: batches fill (100 records), so one invocation per second
    assert _line(lines, "Lambda", "requests").quantity == pytest.approx(2_592_000)
    assert _line(lines, "Kinesis", "1 provisioned").monthly_usd == pytest.approx(10.80)


@pytest.mark.parametrize("bad", [{"apartments": 0}, {"apartments": -3}, {"sample_hz": 0},
                                 {"publish_interval_s": 0.5}, {"profile": "cheap"}, {"archive_interval_min": 0},
                                 {"shards": 0}, {"dashboard_visits_per_day": -1}, {"sqs_idle_pollers": 0}])
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


# ---- alarms, counted from the Terraform source ------------------------------------------------------------

def _block(text: str, start: int) -> str:
    """The text from ``start`` (at an opening brace or parenthesis) to its matching close."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] in "{(":
            depth += 1
        elif text[i] in "})":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    raise AssertionError("unbalanced braces")


def _variable_default_length(module: Path, name: str) -> int:
    text = (module / "variables.tf").read_text()
    match = re.search(rf'variable\s+"{name}"\s*', text)
    assert match, f"{module.name}: no variable {name}"
    body = _block(text, text.index("{", match.end()))
    default = re.search(r"default\s*=\s*\[(.*?)\]", body, re.S)
    assert default, f"{module.name}: variable {name} has no list default"
    return len(re.findall(r'"[^"]*"', default.group(1)))


def terraform_alarm_metrics() -> dict[str, int]:
    """Every ``aws_cloudwatch_metric_alarm`` the modules declare -> the metrics it lists (what CloudWatch bills)."""
    alarms: dict[str, int] = {}
    for module in sorted((TERRAFORM / "modules").iterdir()):
        text = "\n".join(p.read_text() for p in sorted(module.glob("*.tf")))
        for match in re.finditer(r'resource\s+"aws_cloudwatch_metric_alarm"\s+"(\w+)"\s*', text):
            body = _block(text, text.index("{", match.end()))
            each = re.search(r"^\s*for_each\s*=\s*local\.(\w+)", body, re.M)
            if each:
                local = re.search(rf"^\s*{each.group(1)}\s*=\s*", text, re.M)
                assert local, f"{module.name}: local.{each.group(1)} is not defined"
                definitions = _block(text, local.end() + text[local.end():].index("("))
                for key in re.findall(r"(\w+)\s*=\s*\{\s*description\s*=", definitions):
                    alarms[key] = 1
                continue
            metrics = 0
            for dynamic in re.finditer(r'dynamic\s+"metric_query"\s*', body):
                inner = _block(body, body.index("{", dynamic.end()))
                variable = re.search(r"for_each\s*=\s*var\.(\w+)", inner)
                assert variable, f"{match.group(1)}: dynamic metric_query over something other than a variable"
                assert variable.group(1) not in (TERRAFORM / "main.tf").read_text(), (
                    f"the root sets {variable.group(1)}: count its value, not the module default")
                metrics += _variable_default_length(module, variable.group(1)) * len(
                    re.findall(r"\bmetric\s*\{", inner))
            static = re.sub(r'dynamic\s+"metric_query"\s*\{.*', "", body, flags=re.S)
            metrics += len(re.findall(r"\bmetric\s*\{", static))
            alarms[match.group(1)] = metrics or 1
    return alarms


def test_the_bill_prices_every_alarm_the_terraform_declares_with_its_metrics() -> None:
    # GIVEN the alarms of infra/terraform/modules (a metric-math alarm is billed once per metric it lists)
    declared = terraform_alarm_metrics()
    priced = {**FLEET_ALARMS, **LEAN_ALARMS}
    # THEN each is priced by a profile with the metrics it evaluates, and each fleet alarm is declared
    # (tests/integration/terraform/test_alarms.py pins the exact set the fleet's apply creates)
    assert set(declared) <= set(priced), f"alarms without a price: {sorted(set(declared) - set(priced))}"
    assert {key: priced[key] for key in declared} == declared
    assert set(FLEET_ALARMS) <= set(declared)
    lines = estimate(Deployment(apartments=1))
    alarms = _line(lines, "CloudWatch", "alarms")
    assert alarms.quantity == sum(FLEET_ALARMS.values()) == 19
    assert alarms.monthly_usd == pytest.approx(1.90)


# ---- the lean profile ---------------------------------------------------------------------------------------

def test_the_lean_home_has_no_idle_capacity_lines() -> None:
    lines = estimate(Deployment(profile="lean"))
    services = {line.service for line in lines}
    # GIVEN the lean profile THEN no shard-hours and no customer-managed key are billed
    assert "Kinesis" not in services
    assert "KMS" not in services
    assert _line(lines, "CloudWatch", "alarms").quantity == 5  # the data-protecting set, the archiver's included


def test_the_lean_queue_is_billed_for_the_mappings_long_polls_even_when_idle() -> None:
    lines = estimate(Deployment(profile="lean", publish_interval_s=10))
    # 5 pollers, one 20 s long poll each at a time: 15 empty receives a minute, 648,000 a month at $0.40/M
    idle = _line(lines, "SQS", "ReceiveMessage: 5 pollers")
    assert idle.quantity == pytest.approx(5 * 30 * 24 * 3600 / 20)
    assert idle.monthly_usd == pytest.approx(648_000 * 0.40 / 1e6)
    # one SendMessage per MQTT message (810 B: one 64 KB chunk), one receive per message on a quiet queue
    assert _line(lines, "SQS", "SendMessage").quantity == pytest.approx(259_200)
    assert _line(lines, "SQS", "ReceiveMessage: receives").quantity == pytest.approx(259_200)
    # each of the 5 pollers hands over its own batch per 60 s window: 216,000 batches, one delete call each
    assert _line(lines, "SQS", "DeleteMessageBatch").quantity == pytest.approx(5 * 43_200)
    assert _line(lines, "Lambda", "requests").quantity == pytest.approx(5 * 43_200)
    # fewer pollers (Lambda may go down to 2 on a quiet queue): fewer empty receives
    two = estimate(Deployment(profile="lean", sqs_idle_pollers=2, publish_interval_s=10))
    assert _line(two, "SQS", "ReceiveMessage: 2 pollers").quantity == pytest.approx(259_200)


def test_the_lean_archive_is_priced_as_deployed_scheduled_with_hour_markers() -> None:
    """The lean example archives on schedule: no object per batch but hour markers in the table, one PUT per
    hourly run, the hour's minute items read back strongly consistent; --archive-mode per_batch prices the
    object per batch instead (one batch per 30 s message on a quiet queue)."""
    lines = estimate(Deployment(profile="lean"))
    assert _line(lines, "S3", "archive PUTs").quantity == pytest.approx(720)  # one per hour
    assert _line(lines, "DynamoDB", "archive: hour markers").quantity == pytest.approx(720 * (4 + 1))
    assert _line(lines, "DynamoDB", "archive: read units").quantity == pytest.approx(720 * 7)
    assert _line(lines, "Lambda", "archive: scheduled runs").quantity == pytest.approx(720)
    # runs every 15 minutes find a closed hour only once an hour: the PUTs stay at one per hour
    quarter = estimate(Deployment(profile="lean", archive_interval_min=15))
    assert _line(quarter, "S3", "archive PUTs").quantity == pytest.approx(720)
    assert _line(quarter, "Lambda", "archive: scheduled runs").quantity == pytest.approx(4 * 720)
    per_batch = estimate(Deployment(profile="lean", archive_mode="per_batch"))
    assert _line(per_batch, "S3", "archive PUTs").quantity == pytest.approx(30 * 24 * 3600 / 30)
    assert not [x for x in per_batch if x.item.startswith("archive: ")]
    assert _total(lines) < _total(per_batch) - 0.40  # 86,400 PUTs ($0.43) become 720 and a few table units
    with pytest.raises(ValueError, match="unknown archive mode 'hourly': choose per_batch, scheduled"):
        Deployment(archive_mode="hourly")


def test_the_lean_home_costs_a_fifth_of_the_fleet_home_and_the_free_tier_brings_it_under_2_dollars() -> None:
    lean = estimate(Deployment(profile="lean"))
    fleet = estimate(Deployment(profile="fleet"))
    assert _total(lean) < _total(fleet) / 5
    # the always-free tier covers Lambda, SQS, alarms, metrics and logs of a one-home account
    credited = lean + free_tier_credits(lean)
    assert _total(credited) < 2.00
    assert all(line.monthly_usd <= 0 for line in free_tier_credits(lean))


def test_the_free_tier_never_credits_more_than_a_line_costs() -> None:
    lines = estimate(Deployment(profile="fleet", apartments=1000))
    credits = free_tier_credits(lines)
    lambda_requests = sum(x.quantity for x in lines if x.meter == "lambda_requests")
    (credit,) = [x for x in credits if x.item.endswith("lambda requests")]
    assert -credit.quantity == min(lambda_requests, 1_000_000)


def test_the_traffic_shown_with_the_lines_is_what_they_are_computed_from() -> None:
    prices = load_prices()
    t = traffic(Deployment(apartments=1000, profile="lean", publish_interval_s=10), prices)
    assert t.messages_per_s == pytest.approx(100)
    assert t.records_per_batch == pytest.approx(100)
    assert t.sqs_pollers == 5


def test_the_lean_home_is_priced_with_30_s_messages_and_meets_the_2_dollar_goal_without_the_free_tier() -> None:
    """Samples stay at 1 Hz; each message carries 30 of them (the agent's batch_interval_s = 30)."""
    lean = estimate(Deployment(profile="lean"))
    assert Deployment(profile="lean").message_interval_s == 30
    assert _line(lean, "IoT Core", "messages").quantity == pytest.approx(30 * 24 * 3600 / 30)
    assert _total(lean) <= 2.00
    # at the agent's default 10 s messages the same home costs a little more than the goal: the README says so
    assert _total(estimate(Deployment(profile="lean", publish_interval_s=10))) > 2.00
    # no custom metric in the lean default (logs_only); emf_lean adds its two steady metrics
    assert _total(estimate(Deployment(profile="lean", metrics_mode="emf_lean"))) == pytest.approx(
        _total(lean) + 2 * 0.30, abs=0.02)
