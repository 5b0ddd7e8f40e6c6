"""AWS deployment commands: ``energymon package-lambda`` and ``energymon device provision``.

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
    force: Annotated[bool, typer.Option("--force", help="Reuse an existing thing and replace existing files")] = False,
) -> None:
    """Register a thing on AWS IoT Core with a certificate from a CSR made here; the key never leaves this machine."""
    from energymon.deploy.device_provision import provision_device, validate_thing_name

    try:
        validate_thing_name(name)  # before any AWS client exists
        import boto3

        iot = boto3.session.Session(region_name=region).client("iot", endpoint_url=endpoint_url)
        kind: KeyType = "rsa" if key_type is KeyKind.rsa else "ec"
        device = provision_device(iot, name, policy_name, out_dir or Path("devices") / name, force=force,
                                  key_type=kind, topic_root=topic_root)
    except EnergymonError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True)
        raise typer.Exit(1) from None
    console.print(f"thing {device.thing_name}{' (existed)' if device.thing_existed else ''}: {device.thing_arn}")
    console.print(f"certificate {device.certificate_id}: ACTIVE, policy {device.policy_name}, attached to the thing")
    if device.other_principals:
        console.print(f"note: {len(device.other_principals)} older certificate(s) stay attached to the thing "
                      f"(revoke them if they are no longer used)")
    console.print(f"endpoint {device.endpoint}:8883, topic {topic_root}/{name}/telemetry")
    console.print(f"private key  {device.key_file} (0600, made here, never sent)")
    console.print(f"certificate  {device.cert_file}")
    console.print(f"agent config {device.config_file}  → energymon device run --config {device.config_file}")


def register(app: typer.Typer, device_app: typer.Typer) -> None:
    app.command("package-lambda")(package_lambda)
    device_app.command("provision")(device_provision)
