"""Provision one IoT box on AWS IoT Core: a thing, a certificate from a CSR made here, the device policy.

The private key is generated on this machine and written once, mode 0600 from its creation (``O_EXCL``):
only the CSR goes to AWS (FACTS.md: a certificate made without a CSR puts its key in someone else's hands).

Order, so a failure leaves nothing half-made:

1. refuse a bad thing name and existing output files (no AWS call yet);
2. read-only checks: the thing does not exist yet (unless ``force``), the policy exists, the ATS endpoint;
3. key (written now, so an unwritable directory fails before any certificate exists) and CSR;
4. CreateThing, CreateCertificateFromCsr (active), a check that the certificate carries our public key,
   AttachPolicy, AttachThingPrincipal;
5. certificate, agent config and README written; all four files renamed into place together.

A failure in 4 or 5 detaches, deactivates and deletes the certificate made here and removes the files
written here; the thing (if this run created it) is deleted too. The previous files (``force``) stay until
the very end.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path  # noqa: TC003 - dataclass fields are resolved at runtime by tools
from typing import TYPE_CHECKING, Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from energymon.domain.reading import DEVICE_ID_PATTERN, with_basic_ingest
from energymon.errors import EnergymonError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "AMAZON_ROOT_CA_URL",
    "THING_NAME_PATTERN",
    "ProvisionError",
    "ProvisionedDevice",
    "Route",
    "make_key_and_csr",
    "provision_device",
    "validate_thing_name",
]

THING_NAME_PATTERN = re.compile(r"\A[a-zA-Z0-9:_-]{1,128}\Z")
AMAZON_ROOT_CA_URL = "https://www.amazontrust.com/repository/AmazonRootCA1.pem"
IOT_MQTT_PORT = 8883
KeyType = Literal["ec", "rsa"]


class ProvisionError(EnergymonError):
    """The device could not be provisioned; the message says why and what was left behind (nothing, normally)."""


@dataclass(frozen=True)
class ProvisionedDevice:
    thing_name: str
    thing_arn: str
    certificate_arn: str
    certificate_id: str
    endpoint: str
    policy_name: str
    key_file: Path
    cert_file: Path
    config_file: Path
    readme_file: Path
    thing_existed: bool = False
    other_principals: tuple[str, ...] = field(default=())


def validate_thing_name(name: str) -> str:
    """An IoT thing name that is also a usable device id and topic level, or a ProvisionError."""
    if not THING_NAME_PATTERN.fullmatch(name):
        raise ProvisionError(f"thing name {name!r} is not valid: 1–128 characters of letters, digits, ':', '_' or '-'")
    if not DEVICE_ID_PATTERN.fullmatch(name):
        raise ProvisionError(f"thing name {name!r} must start with a letter or a digit (it is also the device id)")
    return name


def make_key_and_csr(thing_name: str, key_type: KeyType = "ec") -> tuple[bytes, bytes]:
    """(private key PEM, CSR PEM) with CN = thing name. EC P-256 by default; RSA 2048 on request."""
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if key_type == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    elif key_type == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        raise ProvisionError(f"unknown key type {key_type!r} (ec or rsa)")
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, thing_name)]))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


def _public_der(public_key: Any) -> bytes:
    der: bytes = public_key.public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _aws(action: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as exc:  # botocore ClientError / EndpointConnectionError / NoCredentialsError ...
        if isinstance(exc, ProvisionError):
            raise
        raise ProvisionError(f"{action} failed: {exc}") from exc


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the first byte on (O_EXCL: never follows or reuses a file)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it; never widens beyond ``mode``
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(data)
    finally:
        if fd != -1:
            os.close(fd)


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Route:
    """Where the device publishes: the broker topic, or its Basic Ingest form when the rule is named."""

    topic_root: str = "energy"
    basic_ingest_rule: str | None = None

    def topic(self, thing_name: str) -> str:
        return with_basic_ingest(f"{self.topic_root}/{thing_name}/telemetry", self.basic_ingest_rule)


def _agent_config(thing_name: str, endpoint: str, cert: Path, key: Path, route: Route) -> str:
    ingest = (f"basic_ingest_rule = {_toml_str(route.basic_ingest_rule)}  # no IoT messaging charge\n"
              if route.basic_ingest_rule else "")
    return (
        f"# energymon device agent for thing {thing_name} — run: energymon device run --config <this file>\n"
        f"# Publishes to {route.topic(thing_name)} on AWS IoT Core "
        f"(client id = thing name, as the device policy requires).\n"
        f"# The broker's CA: Amazon Root CA 1, in the system trust store when ca_file is unset;\n"
        f"# or download {AMAZON_ROOT_CA_URL} and set ca_file to it.\n"
        "[agent]\n"
        f"device_id = {_toml_str(thing_name)}\n"
        f"client_id = {_toml_str(thing_name)}\n"
        f"broker_url = {_toml_str(f'mqtts://{endpoint}:{IOT_MQTT_PORT}')}\n"
        f"cert_file = {_toml_str(str(cert))}\n"
        f"key_file = {_toml_str(str(key))}\n"
        f"{ingest}"
        f"# ca_file = {_toml_str(str(cert.parent / 'AmazonRootCA1.pem'))}\n"
        'source = "simulator"\n'
    )


def _readme(device: ProvisionedDevice, route: Route) -> str:
    return (
        f"Thing:        {device.thing_name} ({device.thing_arn})\n"
        f"Certificate:  {device.certificate_id} (ACTIVE, policy {device.policy_name})\n"
        f"Endpoint:     {device.endpoint}:{IOT_MQTT_PORT} (iot:Data-ATS)\n"
        f"Topic:        {route.topic(device.thing_name)}, client id {device.thing_name}\n"
        f"Private key:  {device.key_file.name} (made on this machine, mode 0600; never sent anywhere)\n"
        f"Certificate:  {device.cert_file.name}\n"
        f"Agent config: {device.config_file.name}\n"
        f"Amazon root CA: {AMAZON_ROOT_CA_URL} (most system trust stores already hold it;\n"
        f"  otherwise save it as AmazonRootCA1.pem here and uncomment ca_file in {device.config_file.name}).\n"
    )


@dataclass
class _Made:
    """What this run has made in AWS so far: exactly what a rollback must undo."""

    created_thing: bool = False
    cert_arn: str = ""
    cert_id: str = ""
    attached: list[str] = field(default_factory=list)


def provision_device(
    iot: Any,
    thing_name: str,
    policy_name: str,
    out_dir: Path,
    *,
    force: bool = False,
    key_type: KeyType = "ec",
    route: Route = Route(),  # noqa: B008 - frozen, never mutated
) -> ProvisionedDevice:
    """Register ``thing_name`` with a certificate from a local CSR; write key, certificate and agent config."""
    validate_thing_name(thing_name)
    out_dir = out_dir.resolve()
    key_file, cert_file = out_dir / "device.key", out_dir / "device.crt"
    config_file, readme_file = out_dir / "agent.toml", out_dir / "README.txt"
    outputs = (key_file, cert_file, config_file, readme_file)
    _refuse_existing_outputs(outputs, force)
    # Who owns what: Terraform (the iot module) owns the thing, its attributes and the device policy; this
    # command owns the certificate (its key never leaves this machine) and attaches it. So a thing Terraform
    # created is used as it is: never CreateThing'd again (real IoT refuses a CreateThing whose attributes
    # differ from the existing thing's), and a later `terraform apply` has nothing to change.
    thing_existed = _thing_exists(iot, thing_name)
    if thing_existed and not force:
        certificates = _aws("ListThingPrincipals", lambda: iot.list_thing_principals(thingName=thing_name))
        if certificates.get("principals"):
            raise ProvisionError(f"thing {thing_name!r} already exists with a certificate "
                                 f"({', '.join(certificates['principals'])}); pass --force to give it another")
    _require_policy(iot, policy_name)
    endpoint = _aws("DescribeEndpoint", lambda: iot.describe_endpoint(endpointType="iot:Data-ATS"))["endpointAddress"]

    # Key first: an unwritable directory fails before anything exists in AWS. Every file is written as
    # .<name>.partial and renamed into place at the very end, so a failed run (even with --force) leaves
    # the previous files as they were.
    key_pem, csr_pem = make_key_and_csr(thing_name, key_type)
    partial = {path: path.with_name(f".{path.name}.partial") for path in outputs}
    made_dir = _write_partial_key(out_dir, partial, key_file, key_pem)
    made = _Made()
    try:
        if thing_existed:
            thing_arn = _aws("DescribeThing", lambda: iot.describe_thing(thingName=thing_name))["thingArn"]
        else:
            thing_arn = _aws("CreateThing", lambda: iot.create_thing(thingName=thing_name))["thingArn"]
            made.created_thing = True
        cert_pem = _certificate_from_csr(iot, csr_pem, key_pem, made)
        others = _attach(iot, thing_name, policy_name, made)
        device = ProvisionedDevice(thing_name, thing_arn, made.cert_arn, made.cert_id, endpoint, policy_name,
                                   key_file, cert_file, config_file, readme_file, thing_existed, others)
        _write_files(device, cert_pem, route, partial)
        return device
    except BaseException as exc:
        undone = _roll_back(iot, thing_name, policy_name, made)
        _remove_partial_files(partial, out_dir, made_dir)
        if isinstance(exc, ProvisionError):
            raise ProvisionError(f"{exc}; {undone}") from exc
        raise


def _refuse_existing_outputs(outputs: tuple[Path, ...], force: bool) -> None:
    existing = [p for p in outputs if p.exists() or p.is_symlink()]
    if existing and not force:
        raise ProvisionError(f"{', '.join(str(p) for p in existing)} already exist; pass --force to replace "
                             f"them (the old certificate stays registered until you revoke it)")


def _thing_exists(iot: Any, thing_name: str) -> bool:
    try:
        iot.describe_thing(thingName=thing_name)
    except Exception as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise ProvisionError(f"DescribeThing {thing_name} failed: {exc}") from exc
        return False
    return True


def _require_policy(iot: Any, policy_name: str) -> None:
    try:
        iot.get_policy(policyName=policy_name)
    except Exception as exc:
        if _error_code(exc) == "ResourceNotFoundException":
            raise ProvisionError(f"IoT policy {policy_name!r} does not exist (the Terraform iot module creates it "
                                 f"as device_policy_name)") from exc
        raise ProvisionError(f"GetPolicy {policy_name} failed: {exc}") from exc


def _write_partial_key(out_dir: Path, partial: dict[Path, Path], key_file: Path, key_pem: bytes) -> bool:
    """Clear stale .partial files and write the key as its own; True when this run made ``out_dir``."""
    made_dir = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for tmp in partial.values():
            tmp.unlink(missing_ok=True)
        _write_new(partial[key_file], key_pem, 0o600)
    except OSError as exc:
        raise ProvisionError(f"cannot write the private key to {out_dir}: {exc.strerror or exc}") from None
    return made_dir


def _certificate_from_csr(iot: Any, csr_pem: bytes, key_pem: bytes, made: _Made) -> str:
    """An active certificate for the CSR, checked to carry our public key; its PEM."""
    response = _aws("CreateCertificateFromCsr", lambda: iot.create_certificate_from_csr(
        certificateSigningRequest=csr_pem.decode(), setAsActive=True))
    made.cert_arn, made.cert_id = response["certificateArn"], response["certificateId"]
    cert_pem: str = response["certificatePem"]
    certificate = x509.load_pem_x509_certificate(cert_pem.encode())
    ours = serialization.load_pem_private_key(key_pem, None).public_key()
    if _public_der(certificate.public_key()) != _public_der(ours):
        raise ProvisionError(f"the certificate CreateCertificateFromCsr returned ({made.cert_id}) does not carry "
                             f"the public key of the CSR, so the device could not use it (moto's IoT mock "
                             f"does this; AWS signs the CSR's key)")
    return cert_pem


def _attach(iot: Any, thing_name: str, policy_name: str, made: _Made) -> tuple[str, ...]:
    """Attach the policy and the thing to the certificate; the thing's other principals."""
    cert_arn = made.cert_arn
    _aws("AttachPolicy", lambda: iot.attach_policy(policyName=policy_name, target=cert_arn))
    made.attached.append("policy")
    _aws("AttachThingPrincipal", lambda: iot.attach_thing_principal(thingName=thing_name, principal=cert_arn))
    made.attached.append("thing")
    principals = _aws("ListThingPrincipals", lambda: iot.list_thing_principals(thingName=thing_name))
    return tuple(p for p in principals.get("principals", []) if p != cert_arn)


def _remove_partial_files(partial: dict[Path, Path], out_dir: Path, made_dir: bool) -> None:
    for tmp in partial.values():
        tmp.unlink(missing_ok=True)
    if made_dir and not any(out_dir.iterdir()):
        out_dir.rmdir()


def _write_files(device: ProvisionedDevice, cert_pem: str, route: Route, partial: dict[Path, Path]) -> None:
    """Certificate, agent config and README next to the key, then all four renamed into place."""
    config = _agent_config(device.thing_name, device.endpoint, device.cert_file, device.key_file, route)
    try:
        for path, text in ((device.cert_file, cert_pem), (device.config_file, config),
                           (device.readme_file, _readme(device, route))):
            _write_new(partial[path], text.encode(), 0o644)
        for path, tmp in partial.items():
            os.replace(tmp, path)
    except OSError as exc:
        raise ProvisionError(f"cannot write the device files in {device.key_file.parent}: "
                             f"{exc.strerror or exc}") from None


def _roll_back(iot: Any, thing_name: str, policy_name: str, made: _Made) -> str:
    """Best effort: undo what this run made in AWS; say what is left."""
    left: list[str] = []
    steps: list[tuple[str, Callable[[], Any]]] = []
    cert_arn, cert_id = made.cert_arn, made.cert_id
    if "thing" in made.attached:
        steps.append(("detach the certificate from the thing",
                      lambda: iot.detach_thing_principal(thingName=thing_name, principal=cert_arn)))
    if "policy" in made.attached:
        steps.append(("detach the policy", lambda: iot.detach_policy(policyName=policy_name, target=cert_arn)))
    if cert_id:
        steps.append(("deactivate the certificate",
                      lambda: iot.update_certificate(certificateId=cert_id, newStatus="INACTIVE")))
        steps.append(("delete the certificate", lambda: iot.delete_certificate(certificateId=cert_id)))
    if made.created_thing:
        steps.append(("delete the thing", lambda: iot.delete_thing(thingName=thing_name)))
    for what, call in steps:
        try:
            call()
        except Exception as exc:  # noqa: BLE001, PERF203 - report, go on undoing the rest
            left.append(f"could not {what} ({exc})")
    if left:
        return "rolled back partly: " + "; ".join(left)
    return "nothing was left behind (certificate, thing and files made by this run were removed)"
