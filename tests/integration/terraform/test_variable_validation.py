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
