"""A local certificate authority for mutual TLS, mirroring what AWS IoT Core does with device certificates.

``energymon certs`` makes (once) a CA and a server certificate for the broker, then one certificate per
device. A device certificate carries the device id twice, so every broker identifies it the same way:

* subject CN = device id — Mosquitto's ``use_identity_as_username`` (so ``pattern readwrite energy/%u/#``);
* SAN URI ``spiffe://<uri_domain>/device/<device id>`` — amqtt's ``UserAuthCertPlugin``, which also
  requires the MQTT client id to equal it (IoT Core: client id = thing name).

Keys are EC P-256 (fast to make, accepted by IoT Core, Mosquitto and Python's ssl) and written with mode
0600; certificates 0644. Existing files are never overwritten: re-running only adds what is missing. A device
id whose files would be (or, on a case-insensitive disk, alias) the CA's or the broker's is refused: ``-d ca``
would otherwise hand out the CA's own key.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path  # noqa: TC003 - dataclass fields are resolved at runtime by tools
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from energymon.adapters.local.sqlite import path_problem
from energymon.domain.reading import DEVICE_ID_PATTERN
from energymon.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Collection

__all__ = [
    "DEFAULT_URI_DOMAIN",
    "CertPaths",
    "DeviceCert",
    "cert_paths",
    "check_device_id",
    "device_uri",
    "ensure_ca",
    "ensure_device",
    "ensure_server",
]

DEFAULT_URI_DOMAIN = "energymon.local"
_CA_DAYS = 3650
_LEAF_DAYS = 825


@dataclass(frozen=True)
class CertPaths:
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


def cert_paths(directory: Path) -> CertPaths:
    """Where the CA and the broker's files live in a certificates folder."""
    return CertPaths(directory / "ca.crt", directory / "ca.key", directory / "server.crt", directory / "server.key")


_DIR_OPTIONS = "`energymon certs --dir DIR`, `energymon run --certs-dir DIR`"
_FIX_DIR = f"pass a folder energymon can create and write ({_DIR_OPTIONS})"


@dataclass(frozen=True)
class DeviceCert:
    device_id: str
    cert: Path
    key: Path


def device_uri(device_id: str, uri_domain: str = DEFAULT_URI_DOMAIN) -> str:
    return f"spiffe://{uri_domain}/device/{device_id}"


def _write(path: Path, data: bytes, mode: int) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(path, mode)  # the umask may have narrowed it
    except OSError as exc:
        raise ConfigError(
            f"cannot write {path} in the certificates folder {path.parent}: {path_problem(path, exc)}; {_FIX_DIR}"
        ) from exc


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _load(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    fix = f"restore both files, or start a new certificates folder ({_DIR_OPTIONS})"
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the CA certificate {cert_path} ({_why(exc)}); {fix}") from exc
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:  # TypeError: the key is encrypted
        raise ConfigError(f"cannot read the CA key {key_path} ({_why(exc)}); {fix}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{key_path} is not an EC private key")
    return cert, key


def _why(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__


def _pair(cert: Path, key: Path) -> bool:
    """Whether the pair exists (never overwritten); a certificate without its key cannot be used or remade."""
    if cert.exists() and not key.exists():
        raise ConfigError(f"{cert} exists but its key {key} does not: delete {cert} and run again to make a new pair")
    return cert.exists()


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "energymon"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _leaf(
    subject: str,
    sans: list[x509.GeneralName],
    usage: x509.ObjectIdentifier,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=_LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def ensure_ca(directory: Path, server_names: tuple[str, ...] = ("localhost", "127.0.0.1")) -> CertPaths:
    """The CA and the broker's server certificate in ``directory``, made if missing."""
    paths = cert_paths(directory)
    if not _pair(paths.ca_cert, paths.ca_key):
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        name = _name("energymon local CA")
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=_CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write(paths.ca_key, _key_pem(key), 0o600)
        _write(paths.ca_cert, _cert_pem(cert), 0o644)
    ensure_server(paths, server_names)
    return paths


def ensure_server(paths: CertPaths, server_names: tuple[str, ...]) -> None:
    if _pair(paths.server_cert, paths.server_key):
        return
    sans: list[x509.GeneralName] = []
    for name in server_names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    cert, key = _leaf(server_names[0], sans, ExtendedKeyUsageOID.SERVER_AUTH, _load(paths.ca_cert, paths.ca_key))
    _write(paths.server_key, _key_pem(key), 0o600)
    _write(paths.server_cert, _cert_pem(cert), 0o644)


def check_device_id(device_id: str, paths: CertPaths | None = None, *, services: Collection[str] = ()) -> None:
    """Refuse an id that is not a device id, or whose files would overwrite or alias the CA's or the broker's.

    ``services`` are identities the broker trusts with every device's topics (the bridge): a caller making
    certificates for devices passes them, so a device can never be handed a service's certificate.
    """
    if not DEVICE_ID_PATTERN.fullmatch(device_id):
        raise ConfigError(
            f"device id {device_id!r} is not a valid device id: 1 to 128 letters, digits, '_', '.', ':' or '-', "
            "starting with a letter or digit (it is the certificate's name, the MQTT client id and a topic level)"
        )
    if device_id.casefold() in {s.casefold() for s in services}:
        raise ConfigError(
            f"device id {device_id!r} is refused: it is the identity of a service the broker lets read every "
            "device's topics, and its certificate would give a device that right; choose another device id"
        )
    own = paths or cert_paths(Path())
    taken = {p.name.casefold(): p.name for p in (own.ca_cert, own.ca_key, own.server_cert, own.server_key)}
    clashes = [taken[n] for n in (f"{device_id}.crt".casefold(), f"{device_id}.key".casefold()) if n in taken]
    if clashes:
        raise ConfigError(
            f"device id {device_id!r} is refused: its certificate and key would be the files {' and '.join(clashes)}, "
            "which belong to the certificate authority or the broker (handing them out would give a device the "
            "CA's or the broker's own key); choose another device id"
        )


def ensure_device(paths: CertPaths, device_id: str, uri_domain: str = DEFAULT_URI_DOMAIN) -> DeviceCert:
    """A client certificate for ``device_id`` (CN and SAN URI), made if missing."""
    check_device_id(device_id, paths)
    directory = paths.ca_cert.parent
    out = DeviceCert(device_id, directory / f"{device_id}.crt", directory / f"{device_id}.key")
    if not _pair(out.cert, out.key):
        sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(device_uri(device_id, uri_domain))]
        cert, key = _leaf(device_id, sans, ExtendedKeyUsageOID.CLIENT_AUTH, _load(paths.ca_cert, paths.ca_key))
        _write(out.key, _key_pem(key), 0o600)
        _write(out.cert, _cert_pem(cert), 0o644)
    return out
