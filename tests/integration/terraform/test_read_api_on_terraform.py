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
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import boto3
import pytest

import apigw
import readside
from energymon.adapters.aws.settings_object import load_shared_settings
from energymon.runtimes import api_lambda, lambda_handler

from .conftest import moto_vars
from .test_iam_enforced import granted_actions
from .test_pipeline_on_terraform import tls_only_policy_lifted

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from .conftest import AppliedStack, MotoServer, Terraform
    from .roles import RoleRunner

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
        ("ReadOwnTableItems", ("dynamodb:GetItem", "dynamodb:Query")),
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


#: GET routes whose hosted answer is not 200 by design, with why.
NOT_200_ON_THE_HOSTED_API = {
    "/api/live": (501, "API Gateway buffers responses: no server-sent events, the dashboard polls /power"),
}
#: Granted actions of the read API role that no code of the app calls, with who does call them.
READ_API_GRANTS_FOR_AWS = {
    "logs:CreateLogStream": "Lambda runtime (function logs)",
    "logs:PutLogEvents": "Lambda runtime (function logs)",
    "kms:Decrypt": "Lambda env, DynamoDB and S3 server-side on the role's behalf",
}


def read_paths(app: Any, device: str, start_ms: int) -> list[str]:
    """Every GET route of ``app`` (from its router, so a new route is covered without editing this), with
    ``device`` for a device id, each static file by name, and every value of an enumerated query parameter
    (energy periods, power resolutions: from the OpenAPI document), over a range inside the readings."""
    from fastapi.routing import APIRoute, iter_route_contexts

    from energymon.api.params import MAX_SPAN

    static = sorted(p.name for p in (resources.files("energymon.api") / "static").iterdir()
                    if p.name != "index.html")  # index.html is the page itself, served at /
    operations = app.openapi()["paths"]
    out = []
    # FastAPI 0.165 keeps included routers as such in app.routes; iter_route_contexts flattens them.
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or "GET" not in (route.methods or ()):
            continue
        names = {"device_id": [device], "name": static}
        path_params = [p.name for p in route.original_route.dependant.path_params]
        unknown = set(path_params) - set(names)
        assert not unknown, f"{route.path}: no value for path parameter(s) {unknown}: add one to read_paths"
        template = str(route.path_format)
        paths = [template]
        for param in path_params:
            paths = [p.replace(f"{{{param}}}", v) for p in paths for v in names[param]]
        variants: list[dict[str, str]] = [{}]
        query = {p["name"]: p["schema"] for p in operations.get(template, {}).get("get", {}).get(
            "parameters", []) if p["in"] == "query"}
        for name, schema in query.items():
            values = schema.get("enum") or [v for s in schema.get("anyOf", []) for v in s.get("enum", [])]
            if values:
                variants = [{**v, name: value} for v in variants for value in values]
        for variant in variants:
            params = dict(variant)
            resolution = variant.get("period") or variant.get("resolution")
            if resolution is not None and "from" in query:  # a range the resolution answers, over the data
                span_ms = min(int(MAX_SPAN[resolution].total_seconds() * 1000), 86_400_000)
                params.update({"from": str(start_ms), "to": str(start_ms + span_ms)})
            out += [f"{p}?{urlencode(params)}" if params else p for p in paths]
    return out


def test_read_api_role_serves_every_read_path_with_iam_enforced_and_every_grant_is_used(
        applied_stack: AppliedStack, role_runner: RoleRunner, filled: dict[str, Any]) -> None:
    """The hosted read API built as its Lambda builds it (the function's own environment, the function's role),
    every GET route of the app through Mangum for a device with data: nothing denied, every grant used."""
    from mangum import Mangum

    env = function_env(applied_stack, str(applied_stack["read_api_function_name"]))
    start_ms = int(readside.t0().timestamp() * 1000) + 3_600_000
    answers: dict[str, int] = {}
    with role_runner.run_as_role(str(applied_stack["read_api_role_name"])) as session:
        app = api_lambda.build_app(env, session)  # what api_lambda.handler builds at cold start
        handler = Mangum(app, lifespan="off")
        paths = read_paths(app, readside.DEVICES[0], start_ms)
        for path in paths:
            response = handler(apigw.event("GET", path, {"authorization": f"Bearer {MOTO_TOKEN}"}), None)
            answers[path] = response["statusCode"]
    log = session.log

    # THEN no call was refused and every call had an IAM mapping
    denied = sorted({f"{d.request.action} on {d.request.resource}" for d in log.denied})
    assert (denied, log.unmapped) == ([], []), "\n".join([*denied, *log.unmapped])
    # AND every route answered as it does for a dashboard (200, but where the host cannot by design)
    expected = {p: NOT_200_ON_THE_HOSTED_API.get(p.split("?")[0], (200, ""))[0] for p in paths}
    assert answers == expected
    assert {"/api/devices", "/healthz", "/", "/static/app.js"} <= set(paths)
    device_energy = f"/api/devices/{readside.DEVICES[0]}/energy?"
    assert sum(p.startswith(device_energy) for p in paths) == 4 and sum("/power?" in p for p in paths) == 2, paths
    # AND the reads reached the table and the settings document (else this proves less than it says)
    exercised = log.actions()
    assert {"dynamodb:GetItem", "dynamodb:Query", "s3:GetObject"} <= exercised, sorted(exercised)
    # AND the role grants nothing that neither the app nor AWS on its behalf uses
    unused = sorted(granted_actions(log.evaluator.statements) - exercised - set(READ_API_GRANTS_FOR_AWS))
    assert unused == [], f"granted but never used: {unused} — remove them from modules/read_api/iam.tf"
