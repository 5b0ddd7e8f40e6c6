"""Bad settings are refused at plan time with a message that names the problem, before
anything is created (examples/moto pointed at a moto server, its own empty state).

Every terraform plan starts the 700 MB aws provider several times (about 15 s here), so the
bad values are planned together once and each message is checked by its own test."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

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
    # Checked against stream_retention_hours: in a plan of its own (the root plan below has that one bad too).
    "raw_retention_days": ("30", "raw_retention_days is shorter than the processor's recompute reach"),
    "archive_interval_minutes": ("2", "archive_interval_minutes must be a whole number of minutes between 5 and 1440"),
    "archive_mode": ("hourly", "archive_mode must be per_batch or scheduled"),
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


@pytest.mark.parametrize("variable", list(BAD_SETTINGS), ids=["batch-size-0", "window-400s", "retention-30-days", "archive-every-2-minutes", "archive-mode-hourly", "malformed-email"])
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


# --- Every variable of the root module, planned directly (conftest.plan_root) -------------------------------

#: variable -> (a bad value, the message that must name the problem). One plan holds them all.
BAD_ROOT_SETTINGS = {
    "name": ("n" + "a" * 25 + "z", "name must be 3-26 lowercase letters"),
    "tags": ('{"aws:owner" = "me"}', "no key starting with aws:"),
    "kms_deletion_window_days": ("6", "kms_deletion_window_days must be a whole number of days between 7 and 30"),
    "stream_mode": ("FAST", "stream_mode must be PROVISIONED or ON_DEMAND"),
    "stream_shard_count": ("0", "stream_shard_count must be a whole number between 1 and 500"),
    "stream_retention_hours": ("23", "stream_retention_hours must be a whole number of hours between 24 and 8760"),
    "lambda_runtime": ("python3.9", "lambda_runtime must be python3.12 or python3.13"),
    "lambda_memory_size": ("64", "lambda_memory_size must be a whole number of MB between 128 and 10240"),
    "lambda_timeout_seconds": ("901", "lambda_timeout_seconds must be a whole number between 1 and 900"),
    "lambda_reserved_concurrent_executions": ("0", "0 would throttle every invocation"),
    "lambda_tracing_mode": ("On", "lambda_tracing_mode must be PassThrough or Active"),
    "parallelization_factor": ("11", "parallelization_factor must be a whole number between 1 and 10"),
    "maximum_retry_attempts": ("-1", "one poison record would block its shard"),
    "maximum_record_age_in_seconds": ("30", "maximum_record_age_in_seconds must be a whole number between 60"),
    "default_timezone": ("amsterdam", "default_timezone must be an IANA time zone name"),
    "metrics_namespace": ("AWS/Energymon", "must not start with AWS/"),
    "log_level": ("TRACE", "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    "log_retention_days": ("2", "log_retention_days must be one of 1, 3, 5"),
    "archive_bucket_name": ("Archive_Bucket", "archive_bucket_name must be null or a valid S3 bucket name"),
    "archive_noncurrent_version_expiration_days": ("0", "must be between 1 and 3650"),
    "archive_expiration_days": ("100", "archive_expiration_days must be null (never expire) or between"),
    "iterator_age_alarm_threshold_ms": ("10", "iterator_age_alarm_threshold_ms must be between 1000"),
    "alert_emails": ('["me"]', "Every entry of alert_emails must be a valid e-mail address"),
    "alerts": ('{rules = [{name = "kettle", kind = "sparks"}]}', "alerts.rules[*].kind must be one of power_above"),
    "alert_emails_consumption": ('["me@example"]', "Every entry of alert_emails_consumption must be a valid e-mail"),
    # EventBridge wants the singular for 1 ("rate(1 minutes)" is refused there): the variable refuses it first.
    "alerts_schedule_expression": ("rate(1 minutes)", "alerts_schedule_expression must be rate(1 minute), rate(N"),
    "encryption": ("kms", "encryption must be customer_key or aws_managed"),
    "metrics_mode": ("prometheus", "metrics_mode must be emf, emf_lean, log_filters or logs_only"),
    # with basic_ingest = false as well (a good value on its own, set by the fixture): no topic left to publish to
    "broker_topic": ("false", "broker_topic and basic_ingest cannot both be false"),
}


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
def bad_root_plan(terraform_plans: Terraform, moto_server: MotoServer, lambda_zip: Path) -> TerraformResult:
    from .conftest import plan_root

    assignments = [arg for name, (value, _) in BAD_ROOT_SETTINGS.items() for arg in ("-var", f"{name}={value}")]
    return plan_root(terraform_plans, moto_server, lambda_zip, *assignments, "-var", "basic_ingest=false")


def test_a_root_plan_with_every_variable_bad_fails_once_per_variable(bad_root_plan: TerraformResult) -> None:
    assert bad_root_plan.returncode != 0, bad_root_plan.output[-3000:]
    assert bad_root_plan.output.count("Error: Invalid value for variable") == len(BAD_ROOT_SETTINGS), (
        bad_root_plan.output[-6000:]
    )


@pytest.mark.parametrize("variable", list(BAD_ROOT_SETTINGS))
def test_each_bad_root_variable_is_refused_with_a_message_naming_it(
    bad_root_plan: TerraformResult, variable: str
) -> None:
    _, expected = BAD_ROOT_SETTINGS[variable]
    assert expected in " ".join(bad_root_plan.output.split()), bad_root_plan.output[-6000:]


#: Planned on their own: a validation that reads another variable is skipped while that one is invalid.
SEPARATE_BAD_ROOT_SETTINGS = {
    # IoT's CreateThing takes at most 3 attributes without a thing type, of a charset without spaces
    # (moto takes anything).
    "things": [('{"apt-1" = {attributes = {a = "1", b = "2", c = "3", d = "4"}}}', "at most 3 attributes"),
               ('{"apt-2" = {attributes = {label = "flat 12"}}}', "may only hold letters, digits")],
    "archive_standard_ia_after_days": [("10", "S3 does not allow STANDARD_IA before day 30")],
    # batch_size, parallelization_factor, maximum_retry_attempts and sqs_maximum_concurrency read buffer.
    "buffer": [("fifo", "buffer must be kinesis or sqs")],
    # buffer is kinesis (the default): an SQS-only setting cannot work with it. (It reads buffer, whose own checks
    # read parallelization_factor and maximum_retry_attempts: with those bad, it would not be validated.)
    "sqs_maximum_concurrency": [("5", 'sqs_maximum_concurrency applies to buffer = "sqs" only')],
    "alerts": [('{rules = [{name = "kettle", kind = "power_above", channels = ["pager"]}]}',
                "Every channel a rule names (alerts.rules[*].channels) must be one of alerts.channels[*].name"),
               ('{channels = [{name = "phone", kind = "sns", topic_arn = "my-topic"}]}', "must be an SNS topic ARN")],
}


@pytest.mark.parametrize("variable", list(SEPARATE_BAD_ROOT_SETTINGS))
def test_bad_variables_that_others_depend_on_are_refused_at_plan(
    terraform_plans: Terraform, moto_server: MotoServer, lambda_zip: Path, variable: str
) -> None:
    from .conftest import plan_root

    for value, expected in SEPARATE_BAD_ROOT_SETTINGS[variable]:
        result = plan_root(terraform_plans, moto_server, lambda_zip, "-var", f"{variable}={value}")
        assert result.returncode != 0 and expected in " ".join(result.output.split()), result.output[-3000:]


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


# --- The lean profile: combinations an SQS buffer cannot work with, refused at plan with the reason ----------

#: variable -> (value, the reason). With buffer = "sqs", each is refused on its own (one plan holds them all);
#: the checks sit on the buffer variable (variables.tf says why), so each error points at buffer.
BAD_SQS_COMBINATIONS = {
    "parallelization_factor": ("2", 'parallelization_factor applies to buffer = "kinesis" only: an SQS event source '
                                    "mapping has no parallelization factor"),
    # More than 10 messages without a window: the window stays valid (0), so the combination is what is refused.
    "batch_size": ("100", 'With buffer = "sqs", a batch_size above 10 needs maximum_batching_window_in_seconds of at '
                          "least 1"),
    "maximum_batching_window_in_seconds": ("0", None),
    "maximum_retry_attempts": ("1000", "SQS allows a maxReceiveCount of 1-1000"),
}
#: Out of the SQS mapping's ranges (the same ranges as Kinesis': the variables' own checks refuse them).
SQS_OUT_OF_RANGE = {
    "batch_size": ("10001", "batch_size must be a whole number between 1 and 10000"),
    "maximum_batching_window_in_seconds": ("301", "maximum_batching_window_in_seconds must be a whole number of "
                                                  "seconds between 0 and 300"),
}


def _sqs_plan(terraform: Terraform, moto: MotoServer, lambda_zip: Path, settings: dict[str, tuple[str, Any]]
              ) -> TerraformResult:
    from .conftest import plan_root

    assignments = ["-var", "buffer=sqs"]
    for name, (value, _) in settings.items():
        assignments += ["-var", f"{name}={value}"]
    return plan_root(terraform, moto, lambda_zip, *assignments)


@pytest.mark.parametrize(("settings", "errors"), [(BAD_SQS_COMBINATIONS, 3), (SQS_OUT_OF_RANGE, 2)],
                         ids=["impossible-combinations", "out-of-range"])
def test_given_buffer_sqs_when_a_setting_the_sqs_mapping_refuses_is_planned_then_the_plan_fails_with_the_reason(
    terraform_plans: Terraform, moto_server: MotoServer, lambda_zip: Path,
    settings: dict[str, tuple[str, str | None]], errors: int,
) -> None:
    result = _sqs_plan(terraform_plans, moto_server, lambda_zip, settings)
    assert result.returncode != 0, result.output[-3000:]
    assert result.output.count("Error: Invalid value for variable") == errors, result.output[-6000:]
    flat = " ".join(result.output.split())
    for name, (_, reason) in settings.items():
        assert reason is None or reason in flat, (name, result.output[-6000:])


def test_given_the_lean_profile_with_sqs_settings_that_work_then_the_root_plans_a_queue_and_no_stream_or_key(
    terraform_plans: Terraform, moto_server: MotoServer, lambda_zip: Path
) -> None:
    """GIVEN buffer = sqs, aws_managed keys, log-filter metrics, 10 messages without a window (the most SQS takes
    without one) WHEN the root (IoT policy and rule included) is planned THEN it plans the queue, its mapping and
    the rule's SQS action, and no stream, no KMS key, no Kinesis alarm."""
    from .conftest import plan_root

    result = plan_root(terraform_plans, moto_server, lambda_zip, "-var", "buffer=sqs", "-var", "encryption=aws_managed",
                       "-var", "metrics_mode=log_filters", "-var", "batch_size=10",
                       "-var", "maximum_batching_window_in_seconds=0", "-var", "maximum_retry_attempts=999")
    assert result.returncode == 0, result.output[-4000:]
    out = result.output
    assert "module.queue[0].aws_sqs_queue.this will be created" in out
    assert "module.processor.aws_lambda_event_source_mapping.this will be created" in out
    assert re.search(r"\+ sqs \{\n\s+\+ queue_url\s+= \(known after apply\)", out) or "+ sqs {" in out
    assert "module.stream" not in out and "aws_kms_key.this" not in out
    assert "kinesis_read_throughput_exceeded" not in out and "processor_silent_stop" not in out
    assert out.count("aws_cloudwatch_log_metric_filter.this[") == 3


def test_given_kinesis_under_aws_managed_keys_then_the_root_plans_the_stream_under_aws_kinesis_and_no_key(
    terraform_plans: Terraform, moto_server: MotoServer, lambda_zip: Path
) -> None:
    """GIVEN the fleet's Kinesis buffer without the customer managed key (encryption = aws_managed) WHEN the root
    is planned THEN the stream is encrypted under AWS's own Kinesis key, the bucket under SSE-S3, and no KMS key
    (nor any grant on one) is planned; the Kinesis alarms stay."""
    from .conftest import plan_root

    result = plan_root(terraform_plans, moto_server, lambda_zip, "-var", "encryption=aws_managed")
    assert result.returncode == 0, result.output[-4000:]
    out = result.output
    stream = out[out.index("module.stream[0].aws_kinesis_stream.this will be created"):]
    assert re.search(r'\+ kms_key_id\s+= "alias/aws/kinesis"', stream[:2000]), stream[:2000]
    assert re.search(r'\+ sse_algorithm\s+= "AES256"', out)
    table = out[out.index("module.storage.aws_dynamodb_table.this will be created"):]
    assert re.search(r"\+ server_side_encryption \{\n\s+\+ enabled\s+= false", table), "table not on AWS's own key"
    assert '+ server_side_encryption = "AES256"' in out  # the settings document
    assert "aws_kms_key.this" not in out and "aws_kms_alias" not in out
    assert "module.queue" not in out
    assert "kinesis_read_throughput_exceeded" in out and "processor_silent_stop" in out
