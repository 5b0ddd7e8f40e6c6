"""Run code as a role Terraform created, with IAM enforced: `RoleRunner.run_as_role(role_name)`.

Usage (the fixture `role_runner` in conftest.py builds one on the session's applied stack)::

    with role_runner.run_as_role(str(applied_stack["function_role_name"])) as session:
        adapters = lambda_handler.build(env, session=session)
        adapters.processor.handle(event)
    assert session.log.denied == [] and session.log.unmapped == []

Inside the block:

* moto's own enforcement is on (``/moto-api/reset-auth`` with 0 requests left unauthenticated): every
  request must be signed by a known key, and moto authorizes it against that key's policies. It is
  switched off again when the block ends, so the rest of the session (and ``terraform destroy``) runs as
  before.
* Clients of S3, SQS and STS carry the role's STS AssumeRole credentials, so moto itself evaluates the
  role's policy against real resource ARNs there.
* Clients of the other services carry an administrator's keys instead: moto authorizes those services
  against the resource ``*`` only (see iam_check), which would refuse every least-privilege role.
* Every client, whatever its keys, goes through iam_check.CallLog, which evaluates each call against the
  role's policies as read back from IAM (what Terraform rendered and applied) and raises AccessDenied
  before the request is sent.
"""

from __future__ import annotations

import json
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3

from .iam_check import Arns, CallLog, PolicyEvaluator, record_params

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .conftest import MotoServer

__all__ = ["RoleRunner", "RoleSession"]

#: Services whose authorization moto evaluates against real resource ARNs: their clients use the role's keys.
MOTO_ENFORCED_SERVICES = frozenset({"s3", "sqs", "sts"})

_ADMIN_USER = "energymon-test-admin"


@dataclass
class RoleSession:
    """What `lambda_handler.build` needs of a boto3 Session: every client checked against the role's policy."""

    moto: MotoServer
    role_arn: str
    role_credentials: dict[str, str]
    admin_credentials: dict[str, str]
    log: CallLog

    @property
    def region_name(self) -> str:
        """What the read side's composition asks a boto3 Session for (aws_read.open_aws_read)."""
        return self.moto.region

    def client(self, service: str, **kwargs: Any) -> Any:
        credentials = self.role_credentials if service in MOTO_ENFORCED_SERVICES else self.admin_credentials
        client = boto3.session.Session(region_name=self.moto.region, **credentials).client(
            service, endpoint_url=self.moto.endpoint, **kwargs
        )
        return self.log.attach(record_params(client))


def role_policy_documents(iam: Any, role_name: str) -> list[dict[str, Any]]:
    """The role's identity policies as IAM holds them: inline and attached managed."""
    documents = []
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        documents.append(_document(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]))
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
        documents.append(_document(version["PolicyVersion"]["Document"]))
    if not documents:
        raise AssertionError(f"role {role_name} has no policy at all")
    return documents


def _document(value: Any) -> dict[str, Any]:
    return json.loads(urllib.request.unquote(value)) if isinstance(value, str) else dict(value)


class RoleRunner:
    """Assumes roles of the applied stack and switches moto's IAM enforcement on around the caller's code."""

    def __init__(self, moto: MotoServer) -> None:
        self.moto = moto
        self._admin: dict[str, str] | None = None

    def _admin_credentials(self) -> dict[str, str]:
        if self._admin is None:
            iam = self.moto.client("iam")
            iam.create_user(UserName=_ADMIN_USER)
            iam.put_user_policy(
                UserName=_ADMIN_USER,
                PolicyName="everything",
                PolicyDocument=json.dumps(
                    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
                ),
            )
            key = iam.create_access_key(UserName=_ADMIN_USER)["AccessKey"]
            self._admin = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
        return self._admin

    def _set_unauthenticated_requests(self, count: str) -> str:
        request = urllib.request.Request(  # noqa: S310 - the loopback moto server
            f"{self.moto.endpoint}/moto-api/reset-auth",
            data=count.encode(),
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return str(json.loads(response.read())["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])

    @contextmanager
    def run_as_role(self, role_name: str) -> Iterator[RoleSession]:
        iam = self.moto.client("iam")
        role = iam.get_role(RoleName=role_name)["Role"]
        evaluator = PolicyEvaluator(role_policy_documents(iam, role_name))
        admin = self._admin_credentials()
        # AssumeRole while enforcement is still off: the roles trust AWS services (lambda.amazonaws.com,
        # iot.amazonaws.com), never a user, so a user could not assume them on a real account either.
        credentials = self.moto.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="energymon-test")[
            "Credentials"
        ]
        role_credentials = {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
        account = role["Arn"].split(":")[4]
        partition = role["Arn"].split(":")[1]
        principal = f"arn:{partition}:sts::{account}:assumed-role/{role_name}/energymon-test"
        log = CallLog(evaluator, Arns(partition, self.moto.region, account), principal)
        previous = self._set_unauthenticated_requests("0")
        try:
            yield RoleSession(self.moto, role["Arn"], role_credentials, admin, log)
        finally:
            self._set_unauthenticated_requests(previous)
