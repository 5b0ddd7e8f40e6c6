"""The IoT box: ``energymon device run`` (the agent; ``device provision`` joins from aws.py) and ``energymon certs``.

No ``from __future__ import annotations``: Typer reads the options' annotations at run time.
"""

import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from energymon.errors import EnergymonError
from energymon.logs import setup_logging
from energymon.runtimes.cli.common import console, err

__all__ = ["certs", "device_app"]

device_app = typer.Typer(no_args_is_help=True, help="The IoT box's device agent.")
Opt = typer.Option


@device_app.command("run")
def device_run(
    config: Annotated[Path | None, Opt("--config", "-c", help="Agent TOML file (flat keys or an \\[agent] table)")
                      ] = None,
    device_id: Annotated[str | None, Opt("--device-id", help="Thing name, e.g. apt-1")] = None,
    source: Annotated[str | None, Opt(help="simulator, p1, tasmota, shelly or shelly-gen1")] = None,
    broker: Annotated[str | None, Opt(help="mqtts://<iot-endpoint>:8883 or any MQTT broker URL")] = None,
    ca_file: Annotated[Path | None, Opt(help="CA that signed the broker's certificate")] = None,
    cert_file: Annotated[Path | None, Opt(help="Device certificate")] = None,
    key_file: Annotated[Path | None, Opt(help="Device private key")] = None,
    basic_ingest_rule: Annotated[str | None, Opt(
        help="AWS IoT Core: publish via Basic Ingest to this rule (Terraform output iot_topic_rule_name)")] = None,
    mqtt_version: Annotated[str | None, Opt(help="5 (default; falls back to 3.1.1) or 3.1.1")] = None,
    batch_interval: Annotated[float | None, Opt(help="Seconds of samples per live message [10]")] = None,
    buffer: Annotated[Path | None, Opt(help="SQLite buffer file")] = None,
    p1_url: Annotated[str | None, Opt(help="P1 port: /dev/ttyUSB0 or socket://host:port")] = None,
    relay_broker: Annotated[str | None, Opt(help="Home broker for tasmota/shelly")] = None,
    sim_speed: Annotated[float | None, Opt(help="Simulated seconds per real second")] = None,
    status_interval: Annotated[float | None, Opt(help="Seconds between status lines [10]")] = None,
    dry_run: Annotated[bool, Opt("--dry-run", help="Print what would be sent; send nothing")] = False,
    duration: Annotated[float | None, Opt(help="Stop by itself after this many seconds")] = None,
    verbose: Annotated[bool, Opt("--verbose", "-v", help="Log connection events")] = False,
) -> None:
    """Read a meter and publish every reading (buffered in SQLite until its PUBACK) until Ctrl-C."""
    from energymon.agent import DeviceAgent, build_source, load_agent_config

    try:
        cfg = load_agent_config(
            config, device_id=device_id, source=source, broker_url=broker, ca_file=ca_file, cert_file=cert_file,
            key_file=key_file, basic_ingest_rule=basic_ingest_rule, mqtt_version=mqtt_version,
            batch_interval_s=batch_interval, buffer_path=buffer,
            p1_url=p1_url, relay_broker_url=relay_broker, sim_speed=sim_speed, status_interval_s=status_interval,
        )
        agent = DeviceAgent(cfg, build_source(cfg), dry_run=dry_run,
                            on_status=lambda s: err.print(s.line(), soft_wrap=True, markup=False, highlight=False))
    except EnergymonError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    setup_logging(logging.INFO if verbose else logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: agent.stop(timeout_s=0))
    try:
        agent.run(duration_s=duration)
    except KeyboardInterrupt:
        pass


def certs(
    directory: Annotated[Path, Opt("--dir", help="Where the CA, server and device files go")] = Path("certs"),
    device: Annotated[list[str] | None, Opt("--device", "-d", help="Make a certificate for this id")] = None,
    server_name: Annotated[list[str] | None, Opt(help="Broker host names/IPs")] = None,
    uri_domain: Annotated[str, Opt(help="SAN URI domain (spiffe://<domain>/device/<id>)")] = "energymon.local",
) -> None:
    """A local CA, a broker certificate and device certificates, for the brokers' secure mode (mTLS)."""
    from energymon.deploy.certs import check_device_id, ensure_ca, ensure_device

    try:
        # Every id is checked before anything is written: a refused id must not leave a new CA behind.
        # (The bridge's identity may be made here on purpose: an external mTLS broker needs it.)
        for identity in device or []:
            check_device_id(identity)
        paths = ensure_ca(directory, tuple(server_name or ("localhost", "127.0.0.1")))
        made = [ensure_device(paths, d, uri_domain) for d in device or []]
    except EnergymonError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"CA {paths.ca_cert} · broker {paths.server_cert} + {paths.server_key}")
    for d in made:
        console.print(f"device {d.device_id}: {d.cert} + {d.key}")
