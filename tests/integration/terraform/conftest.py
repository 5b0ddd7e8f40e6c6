"""Fixtures for the Terraform tests: offline provider mirror, a scratch copy of the tree,
a moto server on a free loopback port, and one session-wide apply of examples/moto.

Everything runs against copies in tmp dirs, so no `.terraform/` or state lands in the repo.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from energymon.runtimes.lambda_handler import ENVIRONMENT, OPTIONAL_ENVIRONMENT

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .roles import RoleRunner

REPO_ROOT = Path(__file__).resolve().parents[3]
TERRAFORM_DIR = REPO_ROOT / "infra" / "terraform"
PROVIDER_MIRROR = Path(os.environ.get("ENERGYMON_TF_PROVIDER_MIRROR", "/opt/tf-plugins"))
CHECKOV_VENV = Path(os.environ.get("ENERGYMON_CHECKOV_VENV", "/opt/energymon-checkov-venv"))
MOTO_REGION = "eu-west-1"

#: The environment of the processor Lambda, exactly: the variables energymon.runtimes.lambda_handler reads.
# Terraform sets the optional names too (a hand-built environment may leave them out)
LAMBDA_ENVIRONMENT_VARIABLE_NAMES = frozenset(ENVIRONMENT) | frozenset(OPTIONAL_ENVIRONMENT)

#: Runnable roots, relative to infra/terraform.
ROOTS = ("", "examples/single-apartment", "examples/moto", "examples/single-home-lean")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class TerraformResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def check(self) -> TerraformResult:
        assert self.returncode == 0, (
            f"terraform {' '.join(self.args)} exited {self.returncode}\n"
            f"--- stdout ---\n{self.stdout[-6000:]}\n--- stderr ---\n{self.stderr[-6000:]}"
        )
        return self


@dataclass
class Terraform:
    """Runs the terraform CLI offline, through the provider mirror, on a scratch tree."""

    binary: str
    tree: Path
    env: dict[str, str]
    _initialised: set[str] = field(default_factory=set)

    def root(self, relative: str) -> Path:
        return self.tree / relative if relative else self.tree

    def run(
        self, relative: str, *args: str, timeout: float = 300, extra_env: dict[str, str] | None = None
    ) -> TerraformResult:
        cmd = [self.binary, *args]
        proc = subprocess.run(
            cmd,
            cwd=self.root(relative),
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return TerraformResult(list(args), proc.returncode, proc.stdout, proc.stderr)

    def init(self, relative: str) -> None:
        if relative in self._initialised:
            return
        self.run(relative, "init", "-backend=false", "-input=false", "-no-color").check()
        self._initialised.add(relative)


def _scratch_terraform(tmp_path_factory: pytest.TempPathFactory, name: str) -> Terraform:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.fail("missing: terraform on PATH — install Terraform 1.11 (the machine image provides it)")
    if not PROVIDER_MIRROR.is_dir():
        pytest.fail(f"missing: the offline terraform provider mirror {PROVIDER_MIRROR} (it comes with the machine image)")

    base = tmp_path_factory.mktemp(name)
    cli_config = base / "terraformrc"
    cli_config.write_text(
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{PROVIDER_MIRROR}"\n'
        '    include = ["registry.terraform.io/hashicorp/aws"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/*/*"]\n'
        "  }\n"
        "}\n"
    )
    tree = base / "tree"
    shutil.copytree(
        TERRAFORM_DIR,
        tree,
        ignore=shutil.ignore_patterns(".terraform", "*.tfstate", "*.tfstate.*", ".terraform.lock.hcl", "*.tfplan"),
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "TF_")) and key not in {"CHECKPOINT_DISABLE"}
    }
    env.update(
        {
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            # Never reach a real account: dummy credentials, no shared config or IMDS.
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": MOTO_REGION,
            "AWS_DEFAULT_REGION": MOTO_REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return Terraform(binary=binary, tree=tree, env=env)


@pytest.fixture(scope="session")
def terraform(tmp_path_factory: pytest.TempPathFactory) -> Terraform:
    """GIVEN terraform on PATH and the offline aws provider mirror, a scratch copy of infra/terraform
    (the one the session's moto stack is applied from)."""
    return _scratch_terraform(tmp_path_factory, "terraform")


@pytest.fixture(scope="session")
def terraform_plans(tmp_path_factory: pytest.TempPathFactory) -> Terraform:
    """A second scratch copy with its own (empty) state, for plans that must not see the applied stack."""
    return _scratch_terraform(tmp_path_factory, "terraform-plans")


@pytest.fixture(scope="session")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in deployment zip with the handler module at its real import path (moto never runs it)."""
    path = tmp_path_factory.mktemp("lambda") / "energymon-lambda.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("energymon/__init__.py", "")
        zf.writestr("energymon/runtimes/__init__.py", "")
        zf.writestr(
            "energymon/runtimes/lambda_handler.py",
            "def handler(event, context):\n    return {'batchItemFailures': []}\n",
        )
    return path


def _moto_python() -> str:
    """The interpreter that has moto's server: the project venv, else the system python3."""
    if importlib.util.find_spec("moto") is not None and importlib.util.find_spec("flask") is not None:
        return sys.executable
    system = shutil.which("python3")
    if (
        system
        and subprocess.run([system, "-c", "import moto.server"], capture_output=True, check=False).returncode == 0
    ):
        return system
    pytest.fail("missing: moto[server] — install it with: .venv/bin/pip install -e '.[test]' (make test does)")


@dataclass(frozen=True)
class MotoServer:
    endpoint: str
    region: str = MOTO_REGION

    def client(self, service: str):  # type: ignore[no-untyped-def]
        import boto3  # a test extra: missing, it fails the test, it never skips it
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """A moto server on a free loopback port for the whole session (no Docker needed:
    Lambda functions are stored, never run)."""
    python = _moto_python()
    port = _free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": MOTO_REGION})
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):  # noqa: S310 - loopback
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield MotoServer(endpoint=endpoint)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass(frozen=True)
class AppliedStack:
    outputs: dict[str, object]
    moto: MotoServer
    apply_output: str

    def __getitem__(self, name: str) -> object:
        return self.outputs[name]


def moto_vars(moto: MotoServer, lambda_zip: Path) -> list[str]:
    return ["-var", f"moto_endpoint={moto.endpoint}", "-var", f"lambda_zip_path={lambda_zip}"]


@pytest.fixture(scope="session")
def applied_stack(terraform: Terraform, moto_server: MotoServer, lambda_zip: Path) -> Iterator[AppliedStack]:
    """GIVEN the whole stack applied with `terraform apply` to a moto server (examples/moto);
    destroyed again, and checked gone, when the session ends."""
    root = "examples/moto"
    terraform.init(root)
    variables = moto_vars(moto_server, lambda_zip)
    applied = terraform.run(root, "apply", "-auto-approve", "-input=false", "-no-color", *variables, timeout=540)
    try:
        applied.check()
        raw = terraform.run(root, "output", "-json", "-no-color").check().stdout
        outputs = {name: entry["value"] for name, entry in json.loads(raw).items()}
        yield AppliedStack(outputs=outputs, moto=moto_server, apply_output=applied.output)
    finally:
        # -refresh=false: moto applies the bucket's TLS-only Deny without its condition, so refreshing the
        # settings object (HeadObject) is refused there; the destroy removes the policy before the object.
        destroyed = terraform.run(
            root, "destroy", "-auto-approve", "-input=false", "-no-color", "-refresh=false", *variables, timeout=540
        )
    destroyed.check()
    state = terraform.run(root, "state", "list", "-no-color")
    assert state.stdout.strip() == "", f"resources left in state after destroy:\n{state.stdout}"
    # Gone from the service too (the pipeline test filled them): no table, bucket or stream left behind.
    assert outputs["table_name"] not in moto_server.client("dynamodb").list_tables()["TableNames"]
    assert outputs["archive_bucket_name"] not in {b["Name"] for b in moto_server.client("s3").list_buckets()["Buckets"]}
    assert outputs["stream_name"] not in moto_server.client("kinesis").list_streams()["StreamNames"]


@pytest.fixture(scope="session")
def role_runner(moto_server: MotoServer) -> RoleRunner:
    """Runs code as one of the applied stacks' roles with IAM enforced: `role_runner.run_as_role(name)`
    (see roles.py). Reusable for every role Terraform creates (processor, read API, scheduled alerts), in the
    fleet stack (applied_stack) and the lean one (lean_stack) alike: one per moto server."""
    from .roles import RoleRunner

    return RoleRunner(moto_server)


#: The lean example as the tests apply it: what moto cannot do (IoT policy and rule) off, throw-away storage,
#: no read API (its own tests run on the fleet stack), metrics from log filters (emf_lean is the default).
LEAN_ROOT = "examples/single-home-lean"
LEAN_VARIABLES = {
    "manage_iot_policy": "false",
    "manage_iot_topic_rule": "false",
    "table_deletion_protection": "false",
    "archive_force_destroy": "true",
    "enable_read_api": "false",
    "metrics_mode": "log_filters",
}


@pytest.fixture(scope="session")
def lean_stack(terraform: Terraform, moto_server: MotoServer, lambda_zip: Path) -> AppliedStack:
    """GIVEN the lean profile (examples/single-home-lean: SQS buffer, AWS managed keys, log-filter metrics)
    applied once to the session's moto server, beside the fleet stack. Not destroyed: the moto server goes with
    the session, and `terraform destroy` of the same modules is proven on the fleet stack (applied_stack);
    destroying this one too would add two minutes to a suite with a time budget."""
    terraform.init(LEAN_ROOT)
    variables = ["-var", f"endpoint={moto_server.endpoint}", "-var", f"lambda_zip_path={lambda_zip}"]
    for name, value in LEAN_VARIABLES.items():
        variables += ["-var", f"{name}={value}"]
    applied = terraform.run(LEAN_ROOT, "apply", "-auto-approve", "-input=false", "-no-color", *variables, timeout=540)
    applied.check()
    raw = terraform.run(LEAN_ROOT, "output", "-json", "-no-color").check().stdout
    outputs = {name: entry["value"] for name, entry in json.loads(raw).items()}
    return AppliedStack(outputs=outputs, moto=moto_server, apply_output=applied.output)


#: The longest region name AWS has (botocore's endpoint data, every partition): generated names must fit in it.
def longest_region_name() -> str:
    import botocore.loaders

    endpoints = botocore.loaders.Loader().load_data("endpoints")
    regions = [region for partition in endpoints["partitions"] for region in partition["regions"]]
    return max(sorted(regions), key=len)


def plan_root(
    terraform: Terraform, moto: MotoServer, lambda_zip: Path, *args: str, region: str = MOTO_REGION
) -> TerraformResult:
    """`terraform plan` of the real root module (not the moto example: every variable and every resource,
    IoT policy and topic rule included), its provider aimed at the moto server through AWS_ENDPOINT_URL.
    A plan creates nothing, so what moto cannot create does not matter here."""
    terraform.init("")
    return terraform.run(
        "",
        "plan",
        "-refresh=false",
        "-input=false",
        "-no-color",
        "-lock=false",
        "-var",
        f"lambda_zip_path={lambda_zip}",
        "-var",
        "read_api_token=plan-only-token-" + "p" * 24,  # the read API is on by default and needs one
        *args,
        extra_env={"AWS_ENDPOINT_URL": moto.endpoint, "AWS_REGION": region, "AWS_DEFAULT_REGION": region},
    )
