"""The documented flow on moto: `terraform apply`, then `energymon device provision <thing> --policy-name ...`,
then `terraform plan` again — Terraform and the command never fight over the same thing.

Ownership: Terraform owns the thing (name, attributes) and the device policy; the command owns the
certificate (key made on this machine) and its two attachments (policy, thing principal), which no
Terraform resource manages for a thing without a CSR. So the command must not re-create the thing, and
a later plan must show no change (and so cannot detach the certificate).

moto stands in for two things: its CreateCertificateFromCsr certifies a key of its own, so the command
runs through tests/integration/aws's SigningIot (the CSR signed by a test CA, as AWS does); and the moto
example does not manage the IoT policy (moto cannot tag it), so the test creates it from the document
Terraform rendered (output iot_device_policy_document), under the name the real stack would give it.
"""

from __future__ import annotations

import importlib.util
import json
from typing import TYPE_CHECKING, Any

import pytest

from energymon.deploy.device_provision import provision_device

from .conftest import REPO_ROOT, moto_vars
from .test_pipeline_on_terraform import tls_only_policy_lifted

if TYPE_CHECKING:
    from pathlib import Path

    from .conftest import AppliedStack, Terraform

pytestmark = pytest.mark.integration


def signing_iot(iot: Any) -> Any:
    """tests/integration/aws/test_device_provision.py's SigningIot (that directory is not a package)."""
    path = REPO_ROOT / "tests" / "integration" / "aws" / "test_device_provision.py"
    spec = importlib.util.spec_from_file_location("_energymon_signing_iot", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SigningIot(iot)


#: What moto does not return, so any re-plan on it updates these (on AWS: no change).
MOTO_DRIFT = {
    "module.energymon.module.processor.aws_lambda_function.this",
    "module.energymon.module.read_api[0].aws_lambda_function.this",
    "module.energymon.module.alerts.aws_lambda_function.this",
    "module.energymon.module.archive.aws_lambda_function.this",
    "module.energymon.module.stream[0].aws_kinesis_stream.this",
    # Lifted while planning: moto applies the TLS-only Deny without its condition, and the refresh reads the
    # settings object through it (see tls_only_policy_lifted).
    "module.energymon.module.storage.aws_s3_bucket_policy.archive",
    # The moto example skips the account-id lookup, so the provider asks for the database's tags under an ARN
    # without the account, where moto holds none: every re-plan adds them again.
    "module.energymon.module.catalog[0].aws_glue_catalog_database.this",
}


def changes(terraform: Terraform, applied_stack: AppliedStack, lambda_zip: Path) -> set[str]:
    """Addresses of the resources `terraform plan` would change on the applied stack."""
    plan_file = terraform.tree / "provision-flow.tfplan"
    with tls_only_policy_lifted(applied_stack.moto.client("s3"), str(applied_stack["archive_bucket_name"])):
        plan = terraform.run(
            "examples/moto", "plan", "-detailed-exitcode", "-input=false", "-no-color", "-lock=false",
            f"-out={plan_file}", *moto_vars(applied_stack.moto, lambda_zip),
        )
    assert plan.returncode in {0, 2}, plan.output[-4000:]
    shown = json.loads(terraform.run("examples/moto", "show", "-json", str(plan_file)).check().stdout)
    return {c["address"] for c in shown.get("resource_changes", []) if c["change"]["actions"] != ["no-op"]}


def test_given_terraforms_thing_when_provisioned_then_a_second_plan_shows_no_changes_and_keeps_the_certificate(
    applied_stack: AppliedStack, terraform: Terraform, lambda_zip: Path, tmp_path: Path
) -> None:
    iot = applied_stack.moto.client("iot")
    thing = sorted(applied_stack["iot_thing_names"])[0]  # type: ignore[arg-type]  # one of Terraform's things
    attributes = iot.describe_thing(thingName=thing)["attributes"]
    policy = "energymon-moto-device"
    iot.create_policy(policyName=policy, policyDocument=str(applied_stack["iot_device_policy_document"]))
    before = changes(terraform, applied_stack, lambda_zip)
    device = None
    try:
        # WHEN the command provisions the thing Terraform created (no --force: it has no certificate yet)
        device = provision_device(signing_iot(iot), thing, policy, tmp_path / thing)
        assert device.thing_existed
        assert iot.describe_thing(thingName=thing)["attributes"] == attributes
        # THEN a second plan of the same stack changes nothing the command made or touched: no IoT resource
        # at all, and nothing else than before the command ran (moto's own drift: it returns no Lambda
        # logging_config and no Kinesis tags, so those two plan an update on any re-plan here).
        after = changes(terraform, applied_stack, lambda_zip)
        assert after == before, f"provisioning changed what Terraform plans: {sorted(after ^ before)}"
        assert not {address for address in after if ".aws_iot_" in address}, after
        assert after <= MOTO_DRIFT, f"unexpected changes: {sorted(after - MOTO_DRIFT)}"
        # AND the certificate is still the thing's, with the policy attached
        assert iot.list_thing_principals(thingName=thing)["principals"] == [device.certificate_arn]
        policies = iot.list_attached_policies(target=device.certificate_arn)["policies"]
        assert [p["policyName"] for p in policies] == [policy]
        assert json.loads(iot.get_policy(policyName=policy)["policyDocument"]) == json.loads(
            str(applied_stack["iot_device_policy_document"])
        )
    finally:
        # What the command made is the command's to undo (Terraform's destroy removes the thing).
        if device is not None:
            iot.detach_thing_principal(thingName=thing, principal=device.certificate_arn)
            iot.detach_policy(policyName=policy, target=device.certificate_arn)
            iot.update_certificate(certificateId=device.certificate_id, newStatus="INACTIVE")
            iot.delete_certificate(certificateId=device.certificate_id)
        iot.delete_policy(policyName=policy)
