"""The hosted read API as `terraform apply` created it on the moto server (examples/moto, modules/read_api).

GIVEN the session's applied stack, readings written by the processor handler (built from the processor Lambda's
own environment) into Terraform's table, THEN the read API handler built from the read API Lambda's own
environment answers API Gateway v2 events with exactly what the local app answers for the same readings; and
the module's throttled stage, read-only role, hashed token and plan-time token checks are what the README says.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest

import apigw
import readside
from energymon.adapters.aws.settings_object import load_shared_settings
from energymon.runtimes import api_lambda, lambda_handler

from .conftest import moto_vars
from .test_pipeline_on_terraform import tls_only_policy_lifted

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from .conftest import AppliedStack, MotoServer, Terraform

pytestmark = pytest.mark.integration

MOTO_TOKEN = "moto-read-api-token-0123456789abcdefghij"  # noqa: S105 - examples/moto's throw-away default


def function_env(stack: AppliedStack, name: str) -> dict[str, str]:
    config = stack.moto.client("lambda").get_function_configuration(FunctionName=name)
    env: dict[str, str] = config["Environment"]["Variables"]
    return env


def test_outputs_name_an_https_url_and_the_function(applied_stack: AppliedStack) -> None:
    assert str(applied_stack["read_api_url"]).startswith("https://")
    assert applied_stack["read_api_function_name"] == "energymon-moto-read-api"


def test_stage_is_throttled_and_access_logged(applied_stack: AppliedStack) -> None:
    api_id = str(applied_stack["read_api_url"]).split("//")[1].split(".")[0]
    stage = applied_stack.moto.client("apigatewayv2").get_stage(ApiId=api_id, StageName="$default")
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 20
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 10
    assert stage["AccessLogSettings"]["DestinationArn"].endswith(":log-group:/aws/apigateway/energymon-moto-read-api")
    assert "querystring" not in stage["AccessLogSettings"]["Format"].lower()  # a ?token= link is never logged


def test_environment_carries_only_the_token_hash(applied_stack: AppliedStack) -> None:
    env = function_env(applied_stack, str(applied_stack["read_api_function_name"]))
    assert set(env) == set(api_lambda.ENVIRONMENT)
    assert env["ENERGYMON_API_TOKEN_SHA256"] == hashlib.sha256(MOTO_TOKEN.encode()).hexdigest()
    config = applied_stack.moto.client("lambda").get_function_configuration(
        FunctionName=str(applied_stack["read_api_function_name"]))
    assert MOTO_TOKEN not in json.dumps(config, default=str)
    assert config["Handler"] == "energymon.runtimes.api_lambda.handler"


def test_role_may_only_read_items_of_its_table(applied_stack: AppliedStack) -> None:
    iam = applied_stack.moto.client("iam")
    role = str(applied_stack["read_api_role_name"])
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    (name,) = names
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    grants = {(s["Sid"], tuple(sorted([s["Action"]] if isinstance(s["Action"], str) else s["Action"])))
              for s in document["Statement"]}
    assert grants == {
        ("ReadOwnTableItems", ("dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query")),
        ("WriteOwnLogs", ("logs:CreateLogStream", "logs:PutLogEvents")),
        ("DecryptWithStackKey", ("kms:Decrypt",)),
        ("ReadSettingsDocument", ("s3:GetObject",)),
    }
    table_arn = applied_stack.moto.client("dynamodb").describe_table(
        TableName=str(applied_stack["table_name"]))["Table"]["TableArn"]
    table_statement = next(s for s in document["Statement"] if s["Sid"] == "ReadOwnTableItems")
    assert table_statement["Resource"] == table_arn
    # No wildcard resource but the log streams of its own log group (what CloudWatch Logs needs).
    for statement in document["Statement"]:
        resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        assert statement["Effect"] == "Allow"
        assert all("*" not in r or r.endswith(":log-group:/aws/lambda/energymon-moto-read-api:*") for r in resources)


@pytest.fixture(scope="module")
def filled(applied_stack: AppliedStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The processor handler (its Lambda's own environment) writes the readings into Terraform's table; the
    local processor writes the same readings into SQLite with the same default zone. Afterwards the items and
    objects written here are removed again: the pipeline test counts what is in the shared stack."""
    moto = applied_stack.moto
    session = boto3.session.Session(region_name=moto.region, aws_access_key_id="testing",
                                    aws_secret_access_key="testing")
    endpoint_session = _EndpointSession(session, moto.endpoint)
    processor_env = function_env(applied_stack, str(applied_stack["function_name"]))
    batches = readside.events(readside.t0())
    s3 = moto.client("s3")
    bucket = processor_env["ENERGYMON_ARCHIVE_BUCKET"]
    before = _keys(s3, bucket)
    with tls_only_policy_lifted(s3, bucket):
        readside.feed(lambda_handler.build(processor_env, endpoint_session).processor.handle, batches)
        tmp = tmp_path_factory.mktemp("tf-read")
        config = tmp / "local.toml"
        deployed = load_shared_settings(s3, bucket, processor_env["ENERGYMON_SETTINGS_KEY"])
        config.write_text(f'timezone = "{deployed.timezone}"\n')
        readside.fill_local(tmp / "data", config, batches)
        try:
            yield {"session": endpoint_session, "config": config, "data": tmp / "data"}
        finally:
            # By version: the bucket is versioned, and a plain delete would leave delete markers behind
            # (moto 5.2 then fails terraform destroy's DeleteObjects of them with a 500).
            for key in _keys(s3, bucket) - before:
                listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
                for version in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]:
                    if version["Key"] == key:
                        s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
            _delete_devices(moto.client("dynamodb"), processor_env["ENERGYMON_TABLE_NAME"], readside.DEVICES)


def _keys(s3: Any, bucket: str) -> set[str]:
    return {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])}


def _delete_devices(ddb: Any, table: str, devices: tuple[str, ...]) -> None:
    keys = [{"pk": {"S": "DEVICES"}, "sk": {"S": d}} for d in devices]
    for device in devices:
        for page in ddb.get_paginator("query").paginate(
                TableName=table, KeyConditionExpression="pk = :pk", ProjectionExpression="pk, sk",
                ExpressionAttributeValues={":pk": {"S": f"D#{device}"}}):
            keys.extend(page["Items"])
    for key in keys:
        ddb.delete_item(TableName=table, Key=key)


class _EndpointSession:
    """A boto3 session whose clients all go to the moto server (what AWS_ENDPOINT_URL does)."""

    def __init__(self, session: boto3.session.Session, endpoint: str) -> None:
        self._session = session
        self._endpoint = endpoint
        self.region_name = session.region_name

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self._endpoint)  # type: ignore[call-overload]


def test_read_api_lambda_over_terraforms_table_answers_what_the_local_app_answers(
        applied_stack: AppliedStack, filled: dict[str, Any]) -> None:
    from fastapi.testclient import TestClient
    from mangum import Mangum

    from energymon.api import ApiOptions, create_app
    from energymon.config import load_settings
    from energymon.runtimes.local import LocalAdapters

    env = function_env(applied_stack, str(applied_stack["read_api_function_name"]))
    handler = Mangum(api_lambda.build_app(env, filled["session"]), lifespan="off")
    settings = load_settings(filled["config"], data_dir=filled["data"])
    local = LocalAdapters(settings)
    local_app = TestClient(create_app(local.store, ApiOptions(local.zones, tariff=settings.tariff_model())))
    day = readside.t0().date()
    paths = [f"/api/devices/{d}/energy?period={p}&from={day}&to={day + timedelta(days=2)}"
             for d in readside.DEVICES for p in ("hour", "day")]
    paths += ["/api/devices/apt-1/today", "/api/devices/nope/today", "/api/devices/apt-1/energy?period=week1"]
    for path in paths:
        response = handler(apigw.event("GET", path, {"authorization": f"Bearer {MOTO_TOKEN}"}), None)
        expected = local_app.get(path)
        assert (response["statusCode"], json.loads(apigw.body_of(response))) == (expected.status_code,
                                                                                  expected.json()), path
    anonymous = handler(apigw.event("GET", "/api/devices"), None)
    assert anonymous["statusCode"] == 401


@pytest.fixture(scope="module")
def token_plans(terraform_plans: Terraform, moto_server: MotoServer, lambda_zip: Path,
                tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """WHEN examples/moto is planned with the read API enabled (the default) and no token (null, from a
    .tfvars.json), or a short one."""
    terraform_plans.init("examples/moto")
    unset = tmp_path_factory.mktemp("tfvars") / "no-token.tfvars.json"
    unset.write_text(json.dumps({"read_api_token": None}))
    base = ["plan", "-refresh=false", "-input=false", "-no-color", "-lock=false", *moto_vars(moto_server, lambda_zip)]
    return {"missing": terraform_plans.run("examples/moto", *base, f"-var-file={unset}").output,
            "short": terraform_plans.run("examples/moto", *base, "-var", "read_api_token=too-short").output}


def test_plan_without_a_token_fails_saying_it_is_required(token_plans: dict[str, str]) -> None:
    text = " ".join(token_plans["missing"].split())
    assert "Error: Invalid value for variable" in text
    assert "read_api_token is required" in text and "enable_read_api = false" in text


def test_plan_with_a_short_token_fails_naming_the_rule(token_plans: dict[str, str]) -> None:
    text = " ".join(token_plans["short"].split())
    assert "read_api_token must be 32-256 characters" in text
    assert "too-short" not in text  # a sensitive value is never echoed
