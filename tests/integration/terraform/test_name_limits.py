"""Every name the stack generates fits its service's limit at the longest inputs the variables accept.

GIVEN the real root module planned (conftest.plan_root) with the longest `name` its validation accepts,
in the longest region name AWS has, and an IoT thing with the longest name and the most attributes the
variables accept, WHEN the planned values are read (`terraform show -json`) THEN every resource's name
attribute fits the service's length and character rules, and every thing's attributes fit IoT's.

A resource type that carries a name and is not in LIMITS fails the test: a new module (read API,
scheduled alerts) adds its limits here, from the service's API reference.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest

from .conftest import longest_region_name, plan_root

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from .conftest import MotoServer, Terraform

pytestmark = pytest.mark.integration

LONGEST_NAME = "n" + "a" * 24 + "z"  # variables.tf: ^[a-z][a-z0-9-]{1,24}[a-z0-9]$
LONGEST_THING = "t" * 128

#: (resource type, attribute) -> (max length, allowed characters) — each service's API reference.
LIMITS: dict[tuple[str, str], tuple[int, str]] = {
    ("aws_s3_bucket", "bucket"): (63, r"[a-z0-9][a-z0-9.-]*[a-z0-9]"),
    ("aws_lambda_function", "function_name"): (64, r"[A-Za-z0-9_-]+"),
    ("aws_lambda_permission", "function_name"): (64, r"[A-Za-z0-9_-]+"),  # the function's name, as above
    ("aws_iam_role", "name"): (64, r"[\w+=,.@-]+"),
    ("aws_iam_role_policy", "name"): (128, r"[\w+=,.@-]+"),
    ("aws_iam_policy", "name"): (128, r"[\w+=,.@-]+"),
    ("aws_sqs_queue", "name"): (80, r"[A-Za-z0-9_-]+"),
    ("aws_iot_topic_rule", "name"): (128, r"[a-zA-Z0-9_]+"),
    ("aws_iot_policy", "name"): (128, r"[\w+=,.@-]+"),
    ("aws_iot_thing", "name"): (128, r"[a-zA-Z0-9:_-]+"),
    ("aws_kinesis_stream", "name"): (128, r"[a-zA-Z0-9_.-]+"),
    ("aws_dynamodb_table", "name"): (255, r"[a-zA-Z0-9_.-]{3,}"),
    ("aws_cloudwatch_log_group", "name"): (512, r"[\w/.#-]+"),
    ("aws_sns_topic", "name"): (256, r"[A-Za-z0-9_-]+"),
    ("aws_kms_alias", "name"): (256, r"alias/[a-zA-Z0-9/_-]+"),
    ("aws_cloudwatch_metric_alarm", "alarm_name"): (255, r"[^\x00-\x1f]+"),
    ("aws_cloudwatch_dashboard", "dashboard_name"): (255, r"[A-Za-z0-9_-]+"),
    ("aws_cloudwatch_event_rule", "name"): (64, r"[\w.-]+"),
    ("aws_scheduler_schedule", "name"): (64, r"[0-9a-zA-Z_.-]+"),
    ("aws_apigatewayv2_api", "name"): (128, r".+"),
    ("aws_apigatewayv2_stage", "name"): (128, r"[\w$-]+"),
    ("aws_s3_object", "key"): (1024, r".+"),
    # Glue allows 255 characters; Athena reads only lowercase letters, digits and '_' in these names
    ("aws_glue_catalog_database", "name"): (255, r"[a-z0-9_]+"),
    ("aws_glue_catalog_table", "name"): (255, r"[a-z0-9_]+"),
}
NAME_ATTRIBUTES = ("name", "function_name", "bucket", "alarm_name", "dashboard_name", "key", "name_prefix")

#: CreateThing without a thing type (FACTS.md; IoT API reference, AttributePayload).
IOT_MAX_ATTRIBUTES = 3
IOT_ATTRIBUTE_NAME = re.compile(r"[a-zA-Z0-9_.,@/:#-]{1,128}")
IOT_ATTRIBUTE_VALUE = re.compile(r"[a-zA-Z0-9_.,@/:#=\[\]-]{0,800}")


def device_variable(terraform: Terraform) -> list[str]:
    """The longest thing the variables accept, through whichever variable declares the devices."""
    variables = (terraform.root("") / "variables.tf").read_text()
    if 'variable "devices"' in variables:
        return ["-var", f"devices={json.dumps({LONGEST_THING: {}})}"]
    attributes = {"a" * 128: "v" * 800, "b" * 128: "w" * 800, "c" * 128: "x" * 800}
    return ["-var", f"things={json.dumps({LONGEST_THING: {'attributes': attributes}})}"]


def resources(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from resources(child)


@pytest.fixture(scope="module")
def planned(terraform_plans: Terraform, moto_server: MotoServer, lambda_zip: Path) -> list[dict[str, Any]]:
    region = longest_region_name()
    plan_file = terraform_plans.tree / "longest-names.tfplan"
    result = plan_root(
        terraform_plans, moto_server, lambda_zip, "-var", f"name={LONGEST_NAME}",
        *device_variable(terraform_plans), f"-out={plan_file}", region=region,
    )
    result.check()
    shown = terraform_plans.run("", "show", "-json", str(plan_file)).check().stdout
    return [r for r in resources(json.loads(shown)["planned_values"]["root_module"]) if r["mode"] == "managed"]


def test_the_longest_region_name_is_the_one_the_name_limit_was_computed_for() -> None:
    # variables.tf's limit of 26 assumes 15 characters; a longer region needs a shorter name.
    assert len(longest_region_name()) == 15, longest_region_name()


def test_every_generated_name_fits_its_service_limit_at_the_longest_inputs(planned: list[dict[str, Any]]) -> None:
    problems, unknown, checked = [], set(), 0
    for resource in planned:
        values = resource.get("values") or {}
        for attribute in NAME_ATTRIBUTES:
            value = values.get(attribute)
            if not isinstance(value, str):
                continue
            limit = LIMITS.get((resource["type"], attribute))
            if limit is None:
                unknown.add(f"{resource['type']}.{attribute}")
                continue
            checked += 1
            longest, charset = limit
            if len(value) > longest or not re.fullmatch(charset, value):
                problems.append(f"{resource['address']}: {attribute} {value!r} ({len(value)} > {longest} or not {charset})")
    assert not unknown, f"add the service limits of {sorted(unknown)} to LIMITS"
    assert problems == [], "\n".join(problems)
    assert checked >= 15, checked  # the plan really held the stack
    (bucket,) = [r["values"]["bucket"] for r in planned if r["type"] == "aws_s3_bucket"]
    assert len(bucket) == 63, bucket  # the limit is reached exactly: name's validation is as loose as it can be


def test_every_iot_thing_fits_iots_attribute_limits(planned: list[dict[str, Any]]) -> None:
    things = [r for r in planned if r["type"] == "aws_iot_thing"]
    assert [t["values"]["name"] for t in things] == [LONGEST_THING]
    for thing in things:
        attributes = thing["values"].get("attributes") or {}
        assert thing["values"].get("thing_type_name") or len(attributes) <= IOT_MAX_ATTRIBUTES, attributes
        for key, value in attributes.items():
            assert IOT_ATTRIBUTE_NAME.fullmatch(key), f"attribute name {key!r}"
            assert IOT_ATTRIBUTE_VALUE.fullmatch(value), f"attribute {key} value {value!r}"
