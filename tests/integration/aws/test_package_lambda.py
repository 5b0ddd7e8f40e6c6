"""`energymon package-lambda`: the zip holds what the handler needs, runs in a bare interpreter, builds the same twice.

Builds are made once per session (pip's wheel cache keeps rebuilds to seconds). The host build
(x86_64 / the host's Python) is imported by a bare base interpreter (``-I -S``: no site-packages, no
PYTHON* variables) that sees only the unpacked zip and — as the Lambda runtime provides them — boto3 and
its dependencies, then handles a Kinesis event against the session moto server.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import struct
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from energymon.adapters.aws.settings_object import publish_shared_settings
from energymon.deploy.package_lambda import PackageError, build_lambda_zip, runtime_provided_modules
from energymon.runtimes import lambda_handler
from energymon.runtimes.cli import app
from energymon.shared_settings import SharedSettings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
EVENT = ROOT / "tests" / "events" / "kinesis_two_devices.json"
HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
BASE_PYTHON = Path(sys.base_prefix) / "bin" / "python3"
ELF_MACHINE = {0x3E: "x86_64", 0xB7: "aarch64"}
# fastapi, pydantic, uvicorn and plotly are in: the read API Lambda (api_lambda) runs from the same zip.
NEVER_IN_ZIP = ("boto3/", "botocore/", "s3transfer/", "jmespath/", "urllib3/", "dateutil/", "typer/", "rich/",
                "amqtt/", "paho/", "sqlalchemy/")


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lambda-build")


@pytest.fixture(scope="session")
def host_build(build_dir: Path) -> tuple[Path, str]:
    """The host build, made through the CLI; (zip, CLI output)."""
    if platform.machine() != "x86_64":
        pytest.skip("the import test needs an x86_64 host (the zip's native wheels must load here)")
    output = build_dir / "host" / "energymon-lambda.zip"
    result = CliRunner().invoke(app, ["package-lambda", "--output", str(output), "--arch", "x86_64",
                                      "--python-version", HOST_PYTHON])
    assert result.exit_code == 0, result.output
    return output, result.output


@pytest.fixture(scope="session")
def arm_build(build_dir: Path) -> Path:
    return build_lambda_zip(build_dir / "arm64" / "energymon-lambda.zip").path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def elf_machine(data: bytes) -> str:
    assert data[:4] == b"\x7fELF", "not an ELF shared object"
    return ELF_MACHINE.get(struct.unpack_from("<H", data, 18)[0], "other")


def test_given_a_build_then_the_cli_prints_path_size_and_sha256(host_build: tuple[Path, str]) -> None:
    output, text = host_build
    assert str(output) in text
    assert f"{output.stat().st_size:,} bytes" in text
    assert sha256(output) in text


def test_given_the_same_inputs_then_two_builds_are_byte_identical(host_build: tuple[Path, str],
                                                                  build_dir: Path) -> None:
    first, _ = host_build
    again = build_lambda_zip(build_dir / "again" / "energymon-lambda.zip", arch="x86_64", python_version=HOST_PYTHON)
    assert again.sha256 == sha256(first)


def test_given_the_zip_then_entries_are_sorted_dated_1980_mode_0644_and_without_bytecode(
        host_build: tuple[Path, str]) -> None:
    with zipfile.ZipFile(host_build[0]) as archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 for i in infos} == {0o100644}
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        records = [n for n in names if n.endswith(".dist-info/RECORD")]
        assert records, "dist-info metadata is kept"
        assert not [r for r in records if b".pyc" in archive.read(r)], "RECORD lists bytecode"
    assert "energymon/runtimes/lambda_handler.py" in names
    assert not [n for n in names if n.startswith(NEVER_IN_ZIP)], "runtime-provided or unused packages in the zip"


def runtime_dir(root: Path) -> Path:
    """What the Lambda runtime brings (boto3 and its dependencies), symlinked from this venv — nothing else."""
    root.mkdir()
    for name in runtime_provided_modules():
        spec = importlib.util.find_spec(name)
        assert spec is not None
        locations = spec.submodule_search_locations
        source = Path(locations[0]) if locations else Path(spec.origin or "")
        (root / source.name).symlink_to(source)
    return root


PROBE = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from energymon.runtimes import lambda_handler
with open(sys.argv[3]) as f:
    event = json.load(f)
result = lambda_handler.handler(event, None)
files = sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())} - {""})
print("PROBE " + json.dumps({"result": result, "files": files}))
"""


def test_given_the_unpacked_zip_in_a_bare_interpreter_then_the_handler_processes_a_kinesis_event(
        host_build: tuple[Path, str], tmp_path: Path, aws_env: dict[str, str], client: Any, table: str,
        bucket: str, topic: str) -> None:
    # GIVEN the zip unpacked alone, and boto3 & co. as the Lambda runtime provides them
    code = tmp_path / "task"
    with zipfile.ZipFile(host_build[0]) as archive:
        archive.extractall(code)
    provided = runtime_dir(tmp_path / "runtime")
    key, digest = publish_shared_settings(client("s3"), bucket, SharedSettings(timezone="Europe/Berlin"))
    env = {**aws_env, "PATH": os.environ.get("PATH", ""), "ENERGYMON_TABLE_NAME": table,
           "ENERGYMON_ARCHIVE_BUCKET": bucket, "ENERGYMON_ALERT_TOPIC_ARN": topic,
           "ENERGYMON_SETTINGS_KEY": key, "ENERGYMON_SETTINGS_SHA256": digest, "POWERTOOLS_SERVICE_NAME": "energymon",
           "POWERTOOLS_METRICS_NAMESPACE": "energymon", "POWERTOOLS_LOG_LEVEL": "INFO", "METRICS_MODE": "emf"}
    assert set(lambda_handler.ENVIRONMENT) <= set(env)
    # WHEN the base interpreter (no venv, no site-packages) imports the handler and invokes it
    result = subprocess.run([str(BASE_PYTHON), "-I", "-S", "-c", PROBE, str(code), str(provided), str(EVENT)],
                            env=env, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    probe = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("PROBE "))[6:])
    # THEN every record is accepted and stored in DynamoDB through moto
    assert probe["result"] == {"batchItemFailures": []}
    assert client("dynamodb").scan(TableName=table, Select="COUNT")["Count"] > 0
    # AND nothing was loaded from outside the zip, the runtime's boto3, or the standard library
    allowed = (str(code), str(provided), sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
    assert [f for f in probe["files"] if not f.startswith(allowed)] == []
    assert any(f.startswith(str(code / "orjson")) for f in probe["files"])


API_PROBE = """
import asyncio, base64, json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from energymon.runtimes import api_lambda
def event(path, token):
    headers = {"host": "x.execute-api.us-east-1.amazonaws.com", "x-forwarded-proto": "https"}
    if token:
        headers["authorization"] = "Bearer " + token
    return {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "", "headers": headers,
            "requestContext": {"http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
                                        "sourceIp": "192.0.2.1", "userAgent": "probe"},
                               "stage": "$default", "requestId": "r", "routeKey": "$default"},
            "isBase64Encoded": False}
out = {}
for path, token in (("/api/devices", sys.argv[3]), ("/api/devices", None), ("/static/plotly.min.js", None)):
    r = api_lambda.handler(event(path, token), None)
    body = base64.b64decode(r["body"]) if r.get("isBase64Encoded") else r["body"].encode()
    out[path + (" anonymous" if token is None else "")] = [r["statusCode"], len(body)]
files = sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())} - {""})
print("PROBE " + json.dumps({"result": out, "files": files}))
"""


def test_given_the_unpacked_zip_in_a_bare_interpreter_then_the_read_api_answers_api_gateway_events(
        host_build: tuple[Path, str], tmp_path: Path, aws_env: dict[str, str], table: str, bucket: str,
        client: Any) -> None:
    from energymon.adapters.aws.settings_object import publish_shared_settings
    from energymon.api.context import token_digest
    from energymon.runtimes import api_lambda
    from energymon.shared_settings import SharedSettings

    key, sha = publish_shared_settings(client("s3"), bucket, SharedSettings(timezone="UTC"))

    code = tmp_path / "task"
    with zipfile.ZipFile(host_build[0]) as archive:
        archive.extractall(code)
    provided = runtime_dir(tmp_path / "runtime")
    token = "probe-token-" + "k" * 30  # noqa: S105 - a test token
    env = {**aws_env, "PATH": os.environ.get("PATH", ""), "ENERGYMON_TABLE_NAME": table,
           "ENERGYMON_API_TOKEN_SHA256": token_digest(token), "ENERGYMON_ARCHIVE_BUCKET": bucket,
           "ENERGYMON_SETTINGS_KEY": key, "ENERGYMON_SETTINGS_SHA256": sha, "POWERTOOLS_LOG_LEVEL": "INFO"}
    assert set(api_lambda.ENVIRONMENT) <= set(env)
    result = subprocess.run([str(BASE_PYTHON), "-I", "-S", "-c", API_PROBE, str(code), str(provided), token],
                            env=env, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    probe = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("PROBE "))[6:])
    assert probe["result"]["/api/devices"][0] == 200
    assert probe["result"]["/api/devices anonymous"][0] == 401
    assert probe["result"]["/static/plotly.min.js anonymous"][0] == 200  # the page's script, served from the zip
    assert probe["result"]["/static/plotly.min.js anonymous"][1] > 1_000_000
    allowed = (str(code), str(provided), sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
    assert [f for f in probe["files"] if not f.startswith(allowed)] == []
    assert any(f.startswith(str(code / "mangum")) for f in probe["files"])


def test_given_the_default_build_then_native_code_is_aarch64_for_python_3_12(arm_build: Path) -> None:
    with zipfile.ZipFile(arm_build) as archive:
        shared = {n: elf_machine(archive.read(n)) for n in archive.namelist() if n.endswith(".so")}
    assert shared, "no native extension in the zip"
    assert any(n.startswith("orjson/") and "cpython-312-aarch64" in n for n in shared)
    assert set(shared.values()) == {"aarch64"}, shared


def test_given_a_bad_architecture_then_the_error_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="arm64 or x86_64"):
        build_lambda_zip(tmp_path / "x.zip", arch="sparc")
    result = CliRunner().invoke(app, ["package-lambda", "--output", str(tmp_path / "x.zip"), "--arch", "sparc"])
    assert result.exit_code == 2 and "sparc" in result.output


def test_given_an_unwritable_output_then_the_error_says_where(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(PackageError, match="cannot create the output directory"):
        build_lambda_zip(blocker / "lambda.zip", arch="x86_64", python_version=HOST_PYTHON)
    with pytest.raises(PackageError, match="is a directory"):
        build_lambda_zip(tmp_path, arch="x86_64", python_version=HOST_PYTHON)


def test_given_pip_cannot_find_wheels_then_its_error_is_shown(tmp_path: Path) -> None:
    # GIVEN a Python no wheel of our native pins supports (a future one: older ones would need backports)
    with pytest.raises(PackageError) as caught:
        build_lambda_zip(tmp_path / "x.zip", python_version="3.99")
    # THEN pip's own explanation is in the message, and no zip is left behind
    assert "pip could not fetch" in str(caught.value)
    assert "No matching distribution" in str(caught.value) or "ERROR" in str(caught.value)
    assert list(tmp_path.iterdir()) == []
