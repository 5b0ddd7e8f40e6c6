"""The hosted read API: the Lambda handler fed API Gateway HTTP API events (payload 2.0) over the moto table.

GIVEN the readings the Lambda handler wrote into DynamoDB on moto (test_aws_read.stack) and the same readings
served locally (`energymon serve --data-dir`), the read API Lambda answers every dashboard request with exactly
the local answer, refuses anonymous requests (401), answers bad parameters with the local 4xx JSON, and the
dashboard in headless Chromium, served through a test-only API Gateway stand-in, shows the local numbers.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import pytest
from test_aws_read import agreeing, api_paths, get, served, stack, steady  # noqa: F401 - fixtures shared with the CLI tests

import apigw
from energymon.api.context import token_digest
from energymon.runtimes import api_lambda

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

TOKEN = "read-api-token-" + "x7" * 12  # noqa: S105 - a test token


def lambda_env(stack: dict[str, Any]) -> dict[str, str]:  # noqa: F811 - the fixture's value
    key, sha = stack["settings"]
    return {"ENERGYMON_TABLE_NAME": stack["table"], "ENERGYMON_API_TOKEN_SHA256": token_digest(TOKEN),
            "ENERGYMON_ARCHIVE_BUCKET": stack["bucket"], "ENERGYMON_SETTINGS_KEY": key,
            "ENERGYMON_SETTINGS_SHA256": sha, "POWERTOOLS_LOG_LEVEL": "WARNING"}


@pytest.fixture(scope="module")
def handler(stack: dict[str, Any], session: Any) -> Any:  # noqa: F811 - the imported fixture
    """The handler exactly as api_lambda builds it (Mangum over build_app): zones as the processor stored them,
    tariffs from the stack's settings document, the one the processor was given."""
    from mangum import Mangum

    app = api_lambda.build_app(lambda_env(stack), session)
    return Mangum(app, lifespan="off")


def call(handler: Any, target: str, token: str | None = TOKEN) -> tuple[int, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = handler(apigw.event("GET", target, headers), None)
    return int(response["statusCode"]), json.loads(apigw.body_of(response))


def test_given_api_gateway_events_then_every_answer_equals_the_local_api(
        handler: Any, served: tuple[str, str]) -> None:  # noqa: F811
    _, local = served
    statuses = set()
    for path in api_paths():
        got, expected = agreeing(lambda: call(handler, path), lambda: get(local + path))  # noqa: B023 - called here
        assert steady(got) == steady(expected), path
        statuses.add(call(handler, path)[0])
    assert 200 in statuses and 404 in statuses and statuses & {400, 422}


def test_given_no_token_or_a_wrong_one_then_every_read_is_refused_401(handler: Any) -> None:
    for path in ("/api/devices", "/api/devices/apt-1/energy", "/api/devices/apt-1/today", "/api/devices/apt-1/power",
                 "/api/live"):
        for token in (None, "wrong-" + TOKEN[6:], TOKEN.upper()):
            status, body = call(handler, path, token)
            assert status == 401, (path, token)
            assert body["error"]["parameter"] == "token"
    assert call(handler, "/api/devices")[0] == 200


def test_given_the_token_only_as_its_hash_then_the_secret_is_not_in_the_environment(stack: dict[str, Any]) -> None:  # noqa: F811
    env = lambda_env(stack)
    assert TOKEN not in json.dumps(env)
    with pytest.raises(Exception, match="ENERGYMON_API_TOKEN_SHA256"):
        api_lambda.build_app({**env, "ENERGYMON_API_TOKEN_SHA256": TOKEN})
    with pytest.raises(Exception, match="ENERGYMON_API_TOKEN_SHA256"):
        api_lambda.build_app({k: v for k, v in env.items() if k != "ENERGYMON_API_TOKEN_SHA256"})


def test_given_live_on_lambda_then_it_answers_501_and_says_to_poll(handler: Any) -> None:
    status, body = call(handler, "/api/live?device=apt-1")
    assert status == 501 and "poll" in body["error"]["message"]


def test_given_the_real_entry_point_then_it_builds_from_the_environment(
        stack: dict[str, Any], aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    for key, value in lambda_env(stack).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(api_lambda, "_asgi", None)
    status, body = call(api_lambda.handler, "/api/devices")
    assert status == 200 and [d["device_id"] for d in body] == ["apt-1", "apt-2"]
    assert [d["timezone"] for d in body] == ["Asia/Kolkata"] * 2  # the zone the processor stored
    assert call(api_lambda.handler, "/api/devices", None)[0] == 401
    assert os.environ["ENERGYMON_API_TOKEN_SHA256"] != TOKEN


@pytest.fixture(scope="module")
def gateway(handler: Any) -> Iterator[str]:
    yield from apigw.serve(handler)


def dashboard_numbers(base: str, token: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(f"{base}/?token={token}&device=apt-1")
            page.wait_for_selector("body[data-ready='apt-1']", timeout=60_000)
            page.wait_for_function("document.querySelector('#connection').textContent !== 'connecting…'",
                                   timeout=30_000)
            return {"today_kwh": page.text_content("#today-kwh"), "today_peak": page.text_content("#today-peak"),
                    "day": page.text_content("#today-day"), "zone": page.text_content("#device-zone"),
                    "connection": page.text_content("#connection")}
        finally:
            browser.close()


def test_given_the_dashboard_through_api_gateway_then_chromium_shows_the_local_numbers(
        gateway: str, served: tuple[str, str]) -> None:  # noqa: F811
    _, local = served
    hosted = dashboard_numbers(gateway, TOKEN)
    at_home = dashboard_numbers(local, "unused")
    assert hosted["zone"] == at_home["zone"] == "Asia/Kolkata"
    assert {k: hosted[k] for k in ("today_kwh", "today_peak", "day")} == \
        {k: at_home[k] for k in ("today_kwh", "today_peak", "day")}
    assert hosted["connection"] == "polling"  # no SSE through API Gateway: the page polls instead of breaking
