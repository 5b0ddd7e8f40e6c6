"""AWS deployment commands: ``energymon package-lambda``, ``energymon device provision`` and
``energymon aws replay-failures``.

Registered on the main app by :func:`register` (the package calls it), so the other commands stay free of AWS code.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from energymon.errors import EnergymonError

if TYPE_CHECKING:
    from energymon.deploy.device_provision import KeyType

__all__ = ["register"]

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Arch(StrEnum):
    arm64 = "arm64"
    x86_64 = "x86_64"


class InvokeWhere(StrEnum):
    local = "local"
    deployed = "deployed"


class KeyKind(StrEnum):
    ec = "ec"
    rsa = "rsa"


def package_lambda(
    output: Annotated[Path, typer.Option("--output", "-o", help="Zip to write")] = Path("build/energymon-lambda.zip"),
    arch: Annotated[Arch, typer.Option(help="Lambda architecture")] = Arch.arm64,
    python_version: Annotated[str, typer.Option(help="Lambda Python runtime version")] = "3.12",
) -> None:
    """Build the Lambda deployment zip (energymon + the handler's dependencies, pinned; reproducible)."""
    from energymon.deploy.package_lambda import build_lambda_zip

    try:
        package = build_lambda_zip(output, arch=arch.value, python_version=python_version)
    except EnergymonError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True)
        raise typer.Exit(1) from None
    console.print(f"built {package.path} for {arch.value} / Python {python_version}")
    console.print(f"  size    {package.size:,} bytes ({package.entries} files)")
    console.print(f"  sha256  {package.sha256}")
    console.print(f"  pinned  {' '.join(package.requirements)}")


def device_provision(
    name: Annotated[str, typer.Argument(help="Thing name = device id = MQTT client id")],
    policy_name: Annotated[str, typer.Option(help="IoT policy to attach (Terraform iot module: device_policy_name)")],
    out_dir: Annotated[Path | None, typer.Option(help="Where key, cert and config go [devices/<name>]")] = None,
    endpoint_url: Annotated[str | None, typer.Option(help="AWS API endpoint override (e.g. a moto server)")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region [from the AWS configuration]")] = None,
    key_type: Annotated[KeyKind, typer.Option(help="ec (P-256) or rsa (2048)")] = KeyKind.ec,
    topic_root: Annotated[str, typer.Option(help="First topic level (Terraform topic_root)")] = "energy",
    basic_ingest_rule: Annotated[str | None, typer.Option(
        help="Publish via Basic Ingest to this topic rule, no messaging charge (Terraform output iot_topic_rule_name; "
             "the stack's basic_ingest must be on)")] = None,
    force: Annotated[bool, typer.Option("--force", help="Reuse an existing thing and replace existing files")] = False,
) -> None:
    """Register a thing on AWS IoT Core with a certificate from a CSR made here; the key never leaves this machine."""
    from energymon.deploy.device_provision import Route, provision_device, validate_thing_name
    from energymon.domain.reading import check_basic_ingest_rule

    try:
        validate_thing_name(name)  # before any AWS client exists
        route = Route(topic_root, None if basic_ingest_rule is None else check_basic_ingest_rule(basic_ingest_rule))
        import boto3

        iot = boto3.session.Session(region_name=region).client("iot", endpoint_url=endpoint_url)
        kind: KeyType = "rsa" if key_type is KeyKind.rsa else "ec"
        device = provision_device(iot, name, policy_name, out_dir or Path("devices") / name, force=force,
                                  key_type=kind, route=route)
    except EnergymonError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True)
        raise typer.Exit(1) from None
    console.print(f"thing {device.thing_name}{' (existed)' if device.thing_existed else ''}: {device.thing_arn}")
    console.print(f"certificate {device.certificate_id}: ACTIVE, policy {device.policy_name}, attached to the thing")
    if device.other_principals:
        console.print(f"note: {len(device.other_principals)} older certificate(s) stay attached to the thing "
                      f"(revoke them if they are no longer used)")
    console.print(f"endpoint {device.endpoint}:8883, topic {route.topic(name)}")
    console.print(f"private key  {device.key_file} (0600, made here, never sent)")
    console.print(f"certificate  {device.cert_file}")
    console.print(f"agent config {device.config_file}  → energymon device run --config {device.config_file}")


aws_app = typer.Typer(no_args_is_help=True, help="Operate a deployed AWS stack.")


@aws_app.command("replay-failures")
def replay_failures_command(  # noqa: PLR0913 - one parameter per option
    function_name: Annotated[str | None, typer.Option(
        help="Processor Lambda: its mapping names the failure queue (Kinesis: the on-failure queue; SQS buffer: "
             "its dead-letter queue), its configuration the handler's environment")] = None,
    queue_url: Annotated[str | None, typer.Option(
        help="The failure queue: a Kinesis on-failure queue or an SQS buffer's dead-letter queue "
             "\\[from the function's mapping]")] = None,
    invoke: Annotated[InvokeWhere, typer.Option(
        help="local: build the handler here from the function's environment (counts readings; works when "
             "the function itself cannot run); deployed: lambda:Invoke the function")] = InvokeWhere.local,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be replayed; change nothing")
                       ] = False,
    max_messages: Annotated[int, typer.Option(min=1, max=10_000, help="Messages to handle at most")] = 100,
    endpoint_url: Annotated[str | None, typer.Option(help="AWS API endpoint override (e.g. a moto server)")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region [from the AWS configuration]")] = None,
) -> None:
    """Run what the event source mapping gave up on through the handler again, and delete each message once it
    went through. Kinesis: each on-failure record's batch is re-read from the stream (it must still hold it: 24 h
    by default). SQS buffer (the lean profile): each dead-letter message is replayed itself."""
    from energymon.deploy.replay_failures import (
        ReplayError,
        deployed_invoker,
        failure_queue_at,
        find_failure_queue,
        function_environment,
        local_invoker,
        replay_failures,
    )

    if function_name is None and (queue_url is None or not dry_run):
        err.print("[red]error:[/red] pass --function-name (the queue alone is enough for --dry-run only: the "
                  "replay needs the function's environment or the function itself)", markup=True)
        raise typer.Exit(2)
    try:
        import boto3
        from botocore.exceptions import BotoCoreError

        try:
            session = boto3.session.Session(region_name=region)
            clients = {name: session.client(name, endpoint_url=endpoint_url)
                       for name in ("sqs", "kinesis", "lambda")}
        except BotoCoreError as exc:  # NoRegionError at client creation
            raise ReplayError(f"no AWS region configured ({exc}): pass --region or set AWS_REGION") from None
        if queue_url is None:
            assert function_name is not None
            queue = find_failure_queue(clients["lambda"], clients["sqs"], function_name)
        else:
            queue = failure_queue_at(clients["sqs"], queue_url)
        invoker = None
        if not dry_run:
            assert function_name is not None
            if invoke is InvokeWhere.local:
                environ = function_environment(clients["lambda"], function_name)
                invoker = local_invoker(environ, session=_endpoint_session(session, endpoint_url))
            else:
                invoker = deployed_invoker(clients["lambda"], function_name)
        totals: dict[str, int] = {}
        for outcome in replay_failures(clients["sqs"], clients["kinesis"], queue, invoker,
                                       max_messages=max_messages, visibility_s=30 if dry_run else 300):
            console.print(outcome.line(), markup=False)
            totals[outcome.status] = totals.get(outcome.status, 0) + 1
            totals["deleted"] = totals.get("deleted", 0) + int(outcome.deleted)
            totals["stored"] = totals.get("stored", 0) + max(outcome.stored, 0)
    except EnergymonError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True)
        raise typer.Exit(1) from None
    handled = sum(v for k, v in totals.items() if k not in {"deleted", "stored"})
    kept = handled - totals.get("deleted", 0)
    console.print(f"{handled} message(s) from {queue.url}: {totals.get('replayed', 0)} replayed and deleted "
                  f"({totals.get('stored', 0)} reading(s) stored), {totals.get('would-replay', 0)} would be "
                  f"replayed, {totals.get('expired', 0)} expired, {totals.get('failed', 0)} failed, "
                  f"{totals.get('unreadable', 0)} unreadable; {kept} kept in the queue", markup=False)
    if totals.get("failed") or totals.get("expired") or totals.get("unreadable"):
        raise typer.Exit(1)


class _EndpointClients:
    """What lambda_handler.build needs of a session (``client(name)``), with every client on ``endpoint_url``."""

    def __init__(self, session: object, endpoint_url: str) -> None:
        self.session, self.endpoint_url = session, endpoint_url

    def client(self, service: str) -> object:
        return self.session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[attr-defined]


def _endpoint_session(session: object, endpoint_url: str | None) -> object:
    return session if endpoint_url is None else _EndpointClients(session, endpoint_url)


def register(app: typer.Typer, device_app: typer.Typer) -> None:
    app.command("package-lambda")(package_lambda)
    device_app.command("provision")(device_provision)
    app.add_typer(aws_app, name="aws")
