"""Every AWS call the code makes, checked against the IAM policy Terraform rendered for a role.

moto 5.2 enforces IAM only roughly: for DynamoDB, SNS, Kinesis, KMS and Logs it authorizes every request
against the resource ``*`` (so any statement scoped to a table or topic ARN never matches and a
least-privilege role is refused everything), and it names a TransactWriteItems call
``dynamodb:TransactWriteItems``, an action that does not exist in IAM (AWS authorizes each item of the
transaction as PutItem, DeleteItem, UpdateItem or ConditionCheckItem). S3, SQS and STS it evaluates with
real resource ARNs.

So this module evaluates each call itself, the way IAM's identity-policy evaluation does for an
unconditioned policy: an explicit Deny wins, else an Allow whose Action/NotAction and Resource/NotResource
match (``*`` and ``?`` wildcards, case-insensitive actions), else an implicit deny. A call is mapped to the
action(s) and resource ARN(s) AWS's Service Authorization Reference gives for it; an operation without a
mapping here fails the check too, so new code cannot slip an unchecked call past it.

The check runs in botocore's ``before-call`` event: a denied call raises the AccessDenied error AWS would
return before anything reaches the emulator, so the code under test reacts as it would on a real account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from botocore.exceptions import ClientError

__all__ = ["Arns", "CallLog", "Decision", "PolicyEvaluator", "Request", "record_params", "requests_for"]


@dataclass(frozen=True)
class Request:
    """One IAM authorization request: an action on a resource ARN."""

    action: str
    resource: str


def _match(pattern: str, value: str, *, case_sensitive: bool) -> bool:
    # IAM wildcards: * any run of characters, ? one character; nothing else is special.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@dataclass(frozen=True)
class Decision:
    request: Request
    allowed: bool
    statement: str | None  # the Sid that decided (Allow or Deny), None for an implicit deny


class PolicyEvaluator:
    """Identity policies of one principal (unconditioned statements only: a Condition fails the check)."""

    def __init__(self, documents: list[dict[str, Any]]) -> None:
        self.statements = [s for doc in documents for s in _as_list_of_dicts(doc["Statement"])]
        conditioned = [s.get("Sid", "?") for s in self.statements if s.get("Condition")]
        if conditioned:
            # Nothing in the roles uses conditions today; evaluating them half-way would be worse than refusing.
            raise ValueError(f"statements with conditions are not evaluated here: {conditioned}")

    def _applies(self, statement: dict[str, Any], request: Request) -> bool:
        if "Action" in statement:
            action_ok = any(_match(p, request.action, case_sensitive=False) for p in _as_list(statement["Action"]))
        else:
            action_ok = not any(_match(p, request.action, case_sensitive=False)
                                for p in _as_list(statement["NotAction"]))
        if not action_ok:
            return False
        if "Resource" in statement:
            return any(_match(p, request.resource, case_sensitive=True) for p in _as_list(statement["Resource"]))
        return not any(_match(p, request.resource, case_sensitive=True) for p in _as_list(statement["NotResource"]))

    def decide(self, request: Request) -> Decision:
        allow: str | None = None
        allowed = False
        for statement in self.statements:
            if not self._applies(statement, request):
                continue
            if statement["Effect"] == "Deny":
                return Decision(request, False, statement.get("Sid", "(no sid)"))
            allowed, allow = True, statement.get("Sid", "(no sid)")
        return Decision(request, allowed, allow)


def _as_list_of_dicts(value: Any) -> list[dict[str, Any]]:
    return [value] if isinstance(value, dict) else list(value)


# --- From an API call to the IAM requests AWS makes of it ------------------------------------------


@dataclass(frozen=True)
class Arns:
    partition: str
    region: str
    account: str

    def table(self, name_or_arn: str) -> str:
        if name_or_arn.startswith("arn:"):
            return name_or_arn
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{name_or_arn}"

    def stream(self, params: dict[str, Any]) -> str:
        if "StreamARN" in params:
            return str(params["StreamARN"])
        if "StreamName" in params:
            return f"arn:{self.partition}:kinesis:{self.region}:{self.account}:stream/{params['StreamName']}"
        raise UnmappedCallError("kinesis call names no stream (pass StreamARN or StreamName)")

    def queue(self, url: str) -> str:
        name = urlparse(url).path.rstrip("/").rsplit("/", 1)[-1]
        return f"arn:{self.partition}:sqs:{self.region}:{self.account}:{name}"

    def s3(self, bucket: str, key: str | None = None) -> str:
        return f"arn:{self.partition}:s3:::{bucket}" + (f"/{unquote(key)}" if key is not None else "")


class UnmappedCallError(Exception):
    pass


# Operations whose IAM action is "<service>:<Operation>" on one resource, with how to find that resource.
_DYNAMODB_TABLE_OPS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "DescribeTable"}
_TRANSACT_ITEM_ACTIONS = {"Put": "PutItem", "Delete": "DeleteItem", "Update": "UpdateItem",
                          "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
_S3_OBJECT_ACTIONS = {"PutObject": "PutObject", "GetObject": "GetObject", "HeadObject": "GetObject",
                      "DeleteObject": "DeleteObject"}
_S3_BUCKET_ACTIONS = {"ListObjectsV2": "ListBucket", "ListObjects": "ListBucket"}
_KINESIS_STREAM_OPS = {"GetShardIterator", "ListShards", "PutRecord", "PutRecords", "DescribeStream",
                       "DescribeStreamSummary"}
_SQS_QUEUE_OPS = {"SendMessage", "ReceiveMessage", "DeleteMessage", "GetQueueAttributes",
                  "ChangeMessageVisibility"}


def requests_for(service: str, operation: str, params: dict[str, Any], arns: Arns) -> list[Request]:
    """The IAM requests one API call makes (Service Authorization Reference, "Actions defined by ...")."""
    if service == "dynamodb":
        if operation in _DYNAMODB_TABLE_OPS:
            table = arns.table(params["TableName"])
            if operation in {"Query", "Scan"} and params.get("IndexName"):
                table = f"{table}/index/{params['IndexName']}"
            return [Request(f"dynamodb:{operation}", table)]
        if operation in {"BatchGetItem", "BatchWriteItem"}:
            return [Request(f"dynamodb:{operation}", arns.table(t)) for t in params["RequestItems"]]
        if operation in {"TransactWriteItems", "TransactGetItems"}:
            out = []
            for item in params["TransactItems"]:
                (kind, body), = item.items()
                out.append(Request(f"dynamodb:{_TRANSACT_ITEM_ACTIONS[kind]}", arns.table(body["TableName"])))
            return out
    if service == "s3":
        if operation in _S3_OBJECT_ACTIONS:
            return [Request(f"s3:{_S3_OBJECT_ACTIONS[operation]}", arns.s3(params["Bucket"], params["Key"]))]
        if operation == "DeleteObjects":  # one s3:DeleteObject per key
            return [Request("s3:DeleteObject", arns.s3(params["Bucket"], o["Key"])) for o in params["Delete"]["Objects"]]
        if operation in _S3_BUCKET_ACTIONS:
            return [Request(f"s3:{_S3_BUCKET_ACTIONS[operation]}", arns.s3(params["Bucket"]))]
    if service == "sns" and operation == "Publish":
        return [Request("sns:Publish", str(params["TopicArn"]))]
    if service == "kinesis":
        if operation in _KINESIS_STREAM_OPS:
            return [Request(f"kinesis:{operation}", arns.stream(params))]
        if operation == "GetRecords":
            return [Request("kinesis:GetRecords", arns.stream(params))]
    if service == "sqs" and operation in _SQS_QUEUE_OPS:
        return [Request(f"sqs:{operation}", arns.queue(params["QueueUrl"]))]
    if service == "sts" and operation == "GetCallerIdentity":
        return []  # always allowed, whatever the policy says
    raise UnmappedCallError(
        f"{service}:{operation} has no IAM mapping in tests/integration/terraform/iam_check.py: add the action(s) "
        "and resource AWS's Service Authorization Reference gives for it"
    )


@dataclass
class CallLog:
    """Every call made through the clients it is attached to, with the policy's decision on each request."""

    evaluator: PolicyEvaluator
    arns: Arns
    principal: str
    calls: list[tuple[str, str]] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-call.*.*", self._before_call)
        return client

    def _before_call(self, model: Any, params: Any, **_: Any) -> Any:
        service = model.service_model.endpoint_prefix
        service = {"streams.dynamodb": "dynamodb"}.get(service, service)
        operation = model.name
        self.calls.append((service, operation))
        # ``params`` is the serialized request dict; the user's parameters are in its context.
        api_params = params.get("context", {}).get("energymon_api_params") or {}
        try:
            requests = requests_for(service, operation, api_params, self.arns)
        except UnmappedCallError as exc:
            self.unmapped.append(str(exc))
            raise _access_denied(operation, f"(unmapped) {exc}") from None
        for request in requests:
            decision = self.evaluator.decide(request)
            self.decisions.append(decision)
            if not decision.allowed:
                raise _access_denied(operation, f"{self.principal} is not authorized to perform: "
                                                f"{request.action} on resource: {request.resource}")
        return None

    @property
    def denied(self) -> list[Decision]:
        return [d for d in self.decisions if not d.allowed]

    def operations(self) -> set[str]:
        return {f"{service}:{operation}" for service, operation in self.calls}

    def actions(self) -> set[str]:
        return {d.request.action for d in self.decisions}


def _keep_api_params(params: Any, context: Any, **_: Any) -> None:
    # provide-client-params sees the caller's own parameters; before-call only the serialized request.
    context["energymon_api_params"] = dict(params)


def record_params(client: Any) -> Any:
    client.meta.events.register("provide-client-params.*.*", _keep_api_params)
    return client


def _access_denied(operation: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": "AccessDeniedException", "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)
