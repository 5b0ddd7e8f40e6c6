"""`energymon device provision` against the moto server: thing, certificate from a local CSR, policy, files.

moto 5.2's CreateCertificateFromCsr does not sign the CSR's key: it issues a certificate for a fresh key of
its own, which a device could never use. So the success paths run through ``SigningIot``: every call goes to
moto, except that one, which signs the CSR with a test CA (as AWS does with its own) and registers the result
in moto with RegisterCertificateWithoutCA. Against plain moto the mismatch is caught, and rolled back.
"""

from __future__ import annotations

import stat
import tomllib
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from energymon.agent import DeviceAgent, SimulatorSource
from energymon.agent.config import load_agent_config
from energymon.deploy.device_provision import ProvisionError, Route, provision_device
from energymon.runtimes.cli import app

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

DEVICE_POLICY = {  # the Terraform iot module's device policy, with this account's ARNs
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect",
         "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}",
         "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}},
        {"Effect": "Allow", "Action": "iot:Publish",
         "Resource": "arn:aws:iot:us-east-1:123456789012:topic/energy/${iot:Connection.Thing.ThingName}/*",
         "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}},
    ],
}


class SigningIot:
    """The moto IoT client, with CreateCertificateFromCsr done as AWS does it (the CSR's key is signed)."""

    def __init__(self, iot: Any) -> None:
        self._iot = iot
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        self._ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test stand-in for the AWS IoT CA")])

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._iot, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return method(**kwargs)

        return call

    def create_certificate_from_csr(self, certificateSigningRequest: str, setAsActive: bool) -> dict[str, Any]:
        self.calls.append(("create_certificate_from_csr", {"certificateSigningRequest": certificateSigningRequest}))
        csr = x509.load_pem_x509_csr(certificateSigningRequest.encode())
        now = datetime.now(UTC)
        cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(self._ca_name)
                .public_key(csr.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(days=365))
                .sign(self._ca_key, hashes.SHA256()))
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        made = self._iot.register_certificate_without_ca(certificatePem=pem,
                                                          status="ACTIVE" if setAsActive else "INACTIVE")
        return {"certificateArn": made["certificateArn"], "certificateId": made["certificateId"],
                "certificatePem": pem}


class NoAws:
    """An IoT client that fails the test on any call."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"an AWS call ({name}) was made")


@pytest.fixture
def iot(client: Any) -> Any:
    return client("iot")


@pytest.fixture
def policy(iot: Any) -> str:
    name = f"energymon-device-{uuid.uuid4().hex[:8]}"
    iot.create_policy(policyName=name, policyDocument=orjson.dumps(DEVICE_POLICY).decode())
    return name


@pytest.fixture
def name() -> str:
    return f"apt-{uuid.uuid4().hex[:8]}"


def public_der(key: Any) -> bytes:
    der: bytes = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


@pytest.mark.parametrize("key_type", ["ec", "rsa"])
def test_given_a_new_device_then_thing_certificate_policy_and_files_are_ready(
        iot: Any, policy: str, name: str, tmp_path: Path, key_type: str) -> None:
    signing = SigningIot(iot)
    # WHEN the device is provisioned
    device = provision_device(signing, name, policy, tmp_path / name, key_type=key_type)  # type: ignore[arg-type]
    # THEN the thing exists, with an active certificate attached to it and to the device policy
    assert iot.describe_thing(thingName=name)["thingName"] == name
    cert = iot.describe_certificate(certificateId=device.certificate_id)["certificateDescription"]
    assert cert["status"] == "ACTIVE"
    assert iot.list_thing_principals(thingName=name)["principals"] == [device.certificate_arn]
    assert [p["policyName"] for p in iot.list_attached_policies(target=device.certificate_arn)["policies"]] == [policy]
    # AND the key file was private from the start, and it is the key of the CSR and of the certificate
    assert stat.S_IMODE(device.key_file.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(device.key_file.read_bytes(), None)
    sent_csr = next(kw["certificateSigningRequest"] for op, kw in signing.calls if op == "create_certificate_from_csr")
    csr = x509.load_pem_x509_csr(sent_csr.encode())
    certificate = x509.load_pem_x509_certificate(device.cert_file.read_bytes())
    assert public_der(csr.public_key()) == public_der(certificate.public_key()) == public_der(key.public_key())
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name
    assert device.cert_file.read_text() == cert["certificatePem"]
    # AND the private key never left: no call carried it
    key_body = "".join(device.key_file.read_text().splitlines()[1:-1])
    assert key_body not in repr(signing.calls)
    assert "PRIVATE KEY" not in repr(signing.calls)


def test_given_a_provisioned_device_then_the_agent_reads_its_config(iot: Any, policy: str, name: str,
                                                                    tmp_path: Path) -> None:
    device = provision_device(SigningIot(iot), name, policy, tmp_path / name)
    # moto makes up a new endpoint on every DescribeEndpoint (AWS keeps one per account): check its shape
    assert device.endpoint.endswith("-ats.iot.us-east-1.amazonaws.com")
    raw = tomllib.loads(device.config_file.read_text())["agent"]
    assert raw["broker_url"] == f"mqtts://{device.endpoint}:8883"
    assert f"energy/{name}/telemetry" in device.config_file.read_text()
    cfg = load_agent_config(device.config_file)  # the device agent's own loader
    assert cfg.device_id == name and cfg.mqtt_client_id == name
    assert cfg.cert_file == device.cert_file and cfg.key_file == device.key_file
    assert cfg.cert_file.is_file() and cfg.key_file.is_file()
    assert "AmazonRootCA1.pem" in device.readme_file.read_text()


def test_given_the_stacks_rule_then_the_agent_publishes_via_basic_ingest(iot: Any, policy: str, name: str,
                                                                         tmp_path: Path) -> None:
    rule = "energymon_telemetry_to_kinesis"
    device = provision_device(SigningIot(iot), name, policy, tmp_path / name, route=Route(basic_ingest_rule=rule))
    cfg = load_agent_config(device.config_file)
    assert cfg.basic_ingest_rule == rule
    assert f"$aws/rules/{rule}/energy/{name}/telemetry" in device.readme_file.read_text()
    assert DeviceAgent(cfg, SimulatorSource(name), dry_run=True).topic == f"$aws/rules/{rule}/energy/{name}/telemetry"


def test_given_a_bad_rule_name_on_the_command_line_then_it_is_refused_without_contacting_aws(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["device", "provision", "apt-1", "--policy-name", "p", "--basic-ingest-rule",
                                      "energymon-telemetry", "--endpoint-url", "http://127.0.0.1:9",
                                      "--out-dir", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "basic ingest rule 'energymon-telemetry' is not an IoT rule name" in result.output
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("bad", ["apt/1", "apt 1", "", "a" * 129, "apt.1", "-apt", "apt#", "énergie"])
def test_given_a_bad_thing_name_then_it_is_refused_before_any_aws_call(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match="thing name"):
        provision_device(NoAws(), bad, "policy", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_given_a_bad_name_on_the_command_line_then_it_is_refused_without_contacting_aws(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["device", "provision", "apt/1", "--policy-name", "p",
                                      "--endpoint-url", "http://127.0.0.1:9", "--out-dir", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "thing name 'apt/1' is not valid" in result.output
    assert not (tmp_path / "x").exists()


def test_given_a_provisioned_device_then_a_rerun_is_refused_and_force_adds_a_certificate(
        iot: Any, policy: str, name: str, tmp_path: Path) -> None:
    out = tmp_path / name
    first = provision_device(SigningIot(iot), name, policy, out)
    key_before = first.key_file.read_bytes()
    # WHEN run again on the same files → refused, nothing touched
    with pytest.raises(ProvisionError, match="already exist.*--force"):
        provision_device(NoAws(), name, policy, out)
    # WHEN run again for the same thing into another directory → refused after a read-only look
    with pytest.raises(ProvisionError, match=f"thing '{name}' already exists"):
        provision_device(SigningIot(iot), name, policy, tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists()
    assert first.key_file.read_bytes() == key_before
    assert iot.list_thing_principals(thingName=name)["principals"] == [first.certificate_arn]
    # WHEN forced → a new key and certificate; the old certificate is reported, not revoked
    second = provision_device(SigningIot(iot), name, policy, out, force=True)
    assert second.thing_existed and second.other_principals == (first.certificate_arn,)
    assert second.key_file.read_bytes() != key_before
    assert stat.S_IMODE(second.key_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in out.iterdir()) == ["README.txt", "agent.toml", "device.crt", "device.key"]


def test_given_a_missing_policy_then_nothing_is_created(iot: Any, name: str, tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match="policy 'no-such-policy' does not exist"):
        provision_device(SigningIot(iot), name, "no-such-policy", tmp_path / name)
    assert name not in [t["thingName"] for t in iot.list_things()["things"]]
    assert not (tmp_path / name).exists()


def test_given_plain_moto_then_its_foreign_key_certificate_is_refused_and_rolled_back(
        iot: Any, policy: str, name: str, tmp_path: Path, moto_endpoint: str) -> None:
    # GIVEN moto's CreateCertificateFromCsr (it certifies a key of its own, not the CSR's), through the CLI
    before = {c["certificateId"] for c in iot.list_certificates()["certificates"]}
    result = CliRunner().invoke(app, ["device", "provision", name, "--policy-name", policy,
                                      "--endpoint-url", moto_endpoint, "--out-dir", str(tmp_path / name)])
    # THEN the command refuses to hand the device an unusable certificate, and leaves nothing behind
    assert result.exit_code == 1
    assert "does not carry the public key of the CSR" in result.output
    assert "nothing was left behind" in result.output
    assert {c["certificateId"] for c in iot.list_certificates()["certificates"]} == before
    assert name not in [t["thingName"] for t in iot.list_things()["things"]]
    assert not (tmp_path / name).exists()


def test_given_a_thing_terraform_created_then_provision_certifies_it_without_recreating_it(
        iot: Any, policy: str, name: str, tmp_path: Path) -> None:
    # GIVEN the thing as the Terraform iot module creates it: attributes, no certificate
    iot.create_thing(thingName=name, attributePayload={"attributes": {"apartment": "12"}})
    signing = SigningIot(iot)
    # WHEN provisioned without --force → the thing is used as it is (no CreateThing: real IoT refuses one
    # whose attributes differ), and gets the certificate and the policy
    device = provision_device(signing, name, policy, tmp_path / name)
    assert device.thing_existed and device.other_principals == ()
    assert "create_thing" not in [call for call, _ in signing.calls]
    assert iot.describe_thing(thingName=name)["attributes"] == {"apartment": "12"}
    assert iot.list_thing_principals(thingName=name)["principals"] == [device.certificate_arn]
    # AND a second run for it is refused: it has a certificate now
    with pytest.raises(ProvisionError, match="already exists with a certificate"):
        provision_device(SigningIot(iot), name, policy, tmp_path / "again")
