"""Bad settings are refused at plan time with a message that names the problem, before
anything is created (examples/moto pointed at a moto server, its own empty state).

Every terraform plan starts the 700 MB aws provider several times (about 15 s here), so the
bad values are planned together once and each message is checked by its own test."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from .conftest import MotoServer, Terraform, TerraformResult, moto_vars

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

BAD_SETTINGS = {
    "batch_size": ("0", "batch_size must be a whole number between 1 and 10000"),
    "maximum_batching_window_in_seconds": (
        "400",
        "maximum_batching_window_in_seconds must be a whole number of seconds between 0 and 300",
    ),
    "alert_emails": (
        '["ops@example.com","not-an-email"]',
        "Every entry of alert_emails must be a valid e-mail address",
    ),
}


def _plan(terraform: Terraform, moto: MotoServer, lambda_zip: Path, *extra: str) -> TerraformResult:
    terraform.init("examples/moto")
    return terraform.run(
        "examples/moto",
        "plan",
        "-refresh=false",
        "-input=false",
        "-no-color",
        "-lock=false",
        *moto_vars(moto, lambda_zip),
        *extra,
    )


@pytest.fixture(scope="module")
def bad_plan(terraform_plans: Terraform, moto_server: MotoServer, lambda_zip: Path) -> TerraformResult:
    """WHEN terraform plan runs with a batch size of 0, a 400 s window and a malformed e-mail."""
    assignments = [arg for name, (value, _) in BAD_SETTINGS.items() for arg in ("-var", f"{name}={value}")]
    return _plan(terraform_plans, moto_server, lambda_zip, *assignments)


def test_plan_with_bad_settings_fails_before_creating_anything(bad_plan: TerraformResult) -> None:
    """THEN the plan fails on variable validation (so nothing can be applied), one error per bad setting."""
    assert bad_plan.returncode != 0, bad_plan.output[-3000:]
    assert bad_plan.output.count("Error: Invalid value for variable") == len(BAD_SETTINGS), bad_plan.output[-4000:]
    assert "Warning" not in bad_plan.output, bad_plan.output[-4000:]


@pytest.mark.parametrize("variable", list(BAD_SETTINGS), ids=["batch-size-0", "window-400s", "malformed-email"])
def test_each_bad_setting_is_named_with_its_allowed_range(bad_plan: TerraformResult, variable: str) -> None:
    """THEN every bad setting is reported, each with a message saying what is allowed."""
    _, expected = BAD_SETTINGS[variable]
    assert expected in " ".join(bad_plan.output.split()), bad_plan.output[-4000:]


def test_boundary_settings_plan_the_whole_stack(
    terraform_plans: Terraform, moto_server: MotoServer, lambda_zip: Path
) -> None:
    """GIVEN the largest allowed batch (10000 records) and window (300 s) WHEN terraform plan runs
    on an empty state THEN it succeeds and plans the whole stack."""
    result = _plan(
        terraform_plans,
        moto_server,
        lambda_zip,
        "-var",
        "batch_size=10000",
        "-var",
        "maximum_batching_window_in_seconds=300",
    )
    assert result.returncode == 0, result.output[-3000:]
    assert "module.energymon.module.processor.aws_lambda_event_source_mapping.this will be created" in result.output
    assert re.search(r"\+ batch_size\s+= 10000\n", result.output)
    assert "Plan: " in result.output and " to add, 0 to change, 0 to destroy." in result.output


# One bad device (or thing) per rule of the devices and things variables, each expected to be named on its own.
BAD_DEVICES = """{
  "apt 1" = {}
  "apt-2" = { timezone = "Mars" }
  "apt-3" = { max_power_w = -5 }
  "apt-4" = { jitter_wh = -1 }
  "apt-5" = { label = "a label of more than sixty-four characters, which the dashboard cannot show" }
  "apt-6" = { tariff = { currency = "euro", periods = [{ from = "2026-01-01", price_per_kwh = "0.30" }] } }
  "apt-7" = { tariff = { currency = "EUR", periods = [{ from = "1 Jan 2026", price_per_kwh = "0.30" }] } }
  "apt-8" = { label = "Flat 8" }
}"""
# With the moto example's devices: apt-12 has a label and a timezone, so two more attributes make 4.
BAD_THINGS = """{
  "apt-12" = { attributes = { room = "12", floor = "2" } }
  "apt-9"  = { attributes = { room = "kitchen 1" } }
}"""
BAD_DEVICE_MESSAGES = {
    "device-id": "Every key of devices must be a device id of 1-128 letters, digits, '_' or '-'",
    "timezone": "devices.<id>.timezone must be an IANA time zone name",
    "max-power": "devices.<id>.max_power_w and devices.<id>.max_gap_s must be greater than 0",
    "jitter": "devices.<id>.jitter_wh must be 0 or more",
    "label": "devices.<id>.label must be 1-64 printable characters",
    "currency": "devices.<id>.tariff.currency must be an ISO 4217 code",
    "tariff-dates": "devices.<id>.tariff.periods must be a non-empty list whose from/to are dates written YYYY-MM-DD",
}
BAD_THING_MESSAGES = {
    "thing-attribute-count": "An IoT thing takes at most 3 attributes (without a thing type), counting the label",
    "thing-attribute-charset": "IoT thing attribute names and values may only hold letters, digits and",
}


@pytest.fixture(scope="module")
def bad_devices_plan(terraform_plans: Terraform, moto_server: MotoServer, lambda_zip: Path) -> TerraformResult:
    """WHEN terraform plan runs with a device map breaking each rule once."""
    return _plan(terraform_plans, moto_server, lambda_zip, "-var", f"devices={BAD_DEVICES}")


@pytest.fixture(scope="module")
def bad_things_plan(terraform_plans: Terraform, moto_server: MotoServer, lambda_zip: Path) -> TerraformResult:
    """WHEN terraform plan runs with things whose attributes IoT would refuse (moto would not)."""
    return _plan(terraform_plans, moto_server, lambda_zip, "-var", f"things={BAD_THINGS}")


def test_plan_with_bad_devices_fails_with_one_error_per_rule(bad_devices_plan: TerraformResult) -> None:
    assert bad_devices_plan.returncode != 0, bad_devices_plan.output[-3000:]
    errors = bad_devices_plan.output.count("Error: Invalid value for variable")
    assert errors == len(BAD_DEVICE_MESSAGES), bad_devices_plan.output[-6000:]


@pytest.mark.parametrize("rule", list(BAD_DEVICE_MESSAGES))
def test_each_bad_device_setting_is_named(bad_devices_plan: TerraformResult, rule: str) -> None:
    assert BAD_DEVICE_MESSAGES[rule] in " ".join(bad_devices_plan.output.split()), bad_devices_plan.output[-6000:]


def test_plan_with_bad_thing_attributes_fails_with_one_error_per_rule(bad_things_plan: TerraformResult) -> None:
    assert bad_things_plan.returncode != 0, bad_things_plan.output[-3000:]
    errors = bad_things_plan.output.count("Error: Invalid value for variable")
    assert errors == len(BAD_THING_MESSAGES), bad_things_plan.output[-6000:]
    for message in BAD_THING_MESSAGES.values():
        assert message in " ".join(bad_things_plan.output.split()), bad_things_plan.output[-6000:]
