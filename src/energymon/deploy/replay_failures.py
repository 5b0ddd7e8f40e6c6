"""Replay the batches the event source mapping gave up on (``energymon aws replay-failures``).

Two buffers, two kinds of failure queue. The lean profile's SQS buffer redrives a message the processor keeps
failing into its dead-letter queue *whole* (the device message itself): each one is handed back to the handler as
the one-record SQS event the mapping would have built, and deleted once it went through.

The Kinesis mapping's on-failure SQS queue holds only metadata (``KinesisBatchInfo``: shard, first and last
sequence number, stream ARN; see tests/events/kinesis_on_failure_sqs_record.json, the example of the
Lambda developer guide). The records themselves are re-read from the stream — while it still holds them
(its retention, 24 h by default) — built into the Kinesis event Lambda would have sent, and handed to the
handler. A message is deleted only after its whole batch went through; the handler is idempotent
(stored readings are keyed by device and time, minutes are recomputed from the stored truth), so a replay
that is repeated, or that overlaps records Lambda did process, stores nothing twice.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from energymon.errors import EnergymonError
from energymon.ports import Metrics

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "BatchInfo",
    "BatchOutcome",
    "CountingMetrics",
    "Invoker",
    "ReplayError",
    "FailureQueue",
    "find_failure_queue",
    "deployed_invoker",
    "failure_queue_at",
    "function_environment",
    "local_invoker",
    "parse_failure_record",
    "read_batch",
    "replay_failures",
]

#: GetRecords calls per batch before giving up (10,000 records a batch, at most 10,000 per call: a
#: stream that keeps answering without reaching the end sequence number is not one we should spin on).
_MAX_GET_RECORDS_CALLS = 1_000


class ReplayError(EnergymonError):
    """Something that stops the whole replay (no queue, no credentials, a wrong region)."""


@dataclass(frozen=True)
class BatchInfo:
    shard_id: str
    start_sequence: str
    end_sequence: str
    batch_size: int
    stream_arn: str
    condition: str = ""

    @property
    def stream_name(self) -> str:
        return self.stream_arn.rsplit("/", 1)[-1]

    @property
    def region(self) -> str:
        return self.stream_arn.split(":")[3]


@dataclass(frozen=True)
class FailureQueue:
    """Where the failed batches wait: the Kinesis mapping's on-failure queue (metadata), or the dead-letter queue of
    the SQS buffer (the messages themselves; ``source_arn`` is the buffer they were redriven from)."""

    url: str
    kind: Literal["kinesis", "sqs"]
    source_arn: str = ""


@dataclass
class BatchOutcome:
    """What happened to one on-failure message; ``deleted`` only when the batch was replayed in full."""

    message_id: str
    batch: BatchInfo | None
    status: Literal["replayed", "would-replay", "expired", "failed", "unreadable"]
    reason: str = ""
    records: int = 0
    stored: int = 0
    rejected: int = 0
    deleted: bool = False

    def line(self) -> str:
        b = self.batch
        where = f"{b.shard_id} {b.start_sequence}..{b.end_sequence}" if b else f"message {self.message_id}"
        counts = f"{self.records} record(s) re-read" if b or self.status == "unreadable" else \
            f"{self.records} message(s) from the dead-letter queue"
        if self.stored < 0:
            counts += ", stored/rejected not reported by the deployed function"
        elif self.status in {"replayed", "failed"} and self.records:
            counts += f", {self.stored} reading(s) stored, {self.rejected} rejected"
        verdict = "deleted" if self.deleted else f"kept: {self.reason}" if self.reason else "kept"
        return f"{self.status:<12} {where}: {counts}; {verdict}"


def parse_failure_record(body: str) -> BatchInfo:
    """The ``KinesisBatchInfo`` of an on-failure record, or ReplayError saying what is missing."""
    try:
        document = json.loads(body)
        info = document["KinesisBatchInfo"]
        return BatchInfo(
            shard_id=str(info["shardId"]),
            start_sequence=str(info["startSequenceNumber"]),
            end_sequence=str(info["endSequenceNumber"]),
            batch_size=int(info.get("batchSize", 0)),
            stream_arn=str(info["streamArn"]),
            condition=str((document.get("requestContext") or {}).get("condition", "")),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ReplayError(f"not a Kinesis on-failure record ({type(exc).__name__}: {exc})") from None


def _aws_error(exc: Exception, what: str) -> ReplayError:
    """One line for the errors a user can fix (credentials, region, a name), never a traceback."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    if isinstance(exc, NoCredentialsError):
        return ReplayError(f"{what}: no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                           f"AWS_SECRET_ACCESS_KEY)")
    if isinstance(exc, NoRegionError):
        return ReplayError(f"{what}: no AWS region configured (pass --region or set AWS_REGION)")
    if isinstance(exc, EndpointConnectionError):
        return ReplayError(f"{what}: cannot reach the AWS endpoint ({exc}); check --region / --endpoint-url")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return ReplayError(f"{what}: {error.get('Code', 'error')}: {error.get('Message', exc)}")
    return ReplayError(f"{what}: {exc}")


def _aws_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def find_failure_queue(lambda_client: Any, sqs_client: Any, function_name: str) -> FailureQueue:
    """The on-failure queue of the function's Kinesis mapping, or the dead-letter queue of its SQS buffer."""
    try:
        # By ARN: the name is resolved (and a missing function said) first; moto matches mappings by ARN only.
        arn = lambda_client.get_function_configuration(FunctionName=function_name)["FunctionArn"]
        mappings = lambda_client.list_event_source_mappings(FunctionName=arn)["EventSourceMappings"]
    except _aws_errors() as exc:
        raise _aws_error(exc, f"cannot read the event source mappings of function {function_name!r}") from None
    destinations = [
        m.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", "")
        for m in mappings if ":kinesis:" in m.get("EventSourceArn", "")
    ]
    queues = [d for d in destinations if d.startswith("arn:") and d.split(":")[2] == "sqs"]
    if queues:
        return FailureQueue(_queue_url(sqs_client, queues[0], "the on-failure queue"), "kinesis")
    buffers = [m["EventSourceArn"] for m in mappings if ":sqs:" in m.get("EventSourceArn", "")]
    if buffers:
        buffer_url = _queue_url(sqs_client, buffers[0], "the buffer queue")
        try:
            attributes = sqs_client.get_queue_attributes(QueueUrl=buffer_url, AttributeNames=["RedrivePolicy"])
            policy = json.loads(attributes.get("Attributes", {}).get("RedrivePolicy") or "{}")
        except _aws_errors() as exc:
            raise _aws_error(exc, f"cannot read the redrive policy of {buffer_url}") from None
        except ValueError:
            policy = {}
        target = str(policy.get("deadLetterTargetArn") or "")
        if not target:
            raise ReplayError(f"the SQS buffer {buffers[0]} of function {function_name!r} has no dead-letter "
                              f"queue (no redrive policy): nothing it gave up on was kept")
        return FailureQueue(_queue_url(sqs_client, target, "the dead-letter queue"), "sqs", buffers[0])
    raise ReplayError(f"function {function_name!r} has neither a Kinesis event source mapping with an SQS "
                      f"on-failure destination nor an SQS buffer (found {len(mappings)} mapping(s)); "
                      f"pass --queue-url")


def _queue_url(sqs_client: Any, arn: str, what: str) -> str:
    _, _, _, _, account, name = arn.split(":", 5)
    try:
        return str(sqs_client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])
    except _aws_errors() as exc:
        raise _aws_error(exc, f"cannot find {what} {name!r}") from None


def failure_queue_at(sqs_client: Any, queue_url: str) -> FailureQueue:
    """What ``--queue-url`` names: an SQS buffer's dead-letter queue (some queue redrives into it), else an
    on-failure queue of Kinesis batch metadata."""
    try:
        sources = sqs_client.list_dead_letter_source_queues(QueueUrl=queue_url).get("queueUrls") or []
        if not sources:
            return FailureQueue(queue_url, "kinesis")
        arn = sqs_client.get_queue_attributes(QueueUrl=sources[0], AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"]
    except _aws_errors() as exc:
        raise _aws_error(exc, f"cannot read the queue {queue_url}") from None
    return FailureQueue(queue_url, "sqs", str(arn))


def function_environment(lambda_client: Any, function_name: str) -> dict[str, str]:
    """The deployed function's environment: the local replay builds the handler exactly as Lambda does."""
    try:
        config = lambda_client.get_function_configuration(FunctionName=function_name)
    except _aws_errors() as exc:
        raise _aws_error(exc, f"cannot read the configuration of function {function_name!r}") from None
    return dict((config.get("Environment") or {}).get("Variables") or {})


def read_batch(kinesis_client: Any, batch: BatchInfo) -> list[dict[str, Any]] | str:
    """The batch's records as Lambda's event records, or why they cannot be re-read (expired, gone)."""
    start, end = int(batch.start_sequence), int(batch.end_sequence)
    try:
        iterator = kinesis_client.get_shard_iterator(
            StreamName=batch.stream_name, ShardId=batch.shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=batch.start_sequence,
        )["ShardIterator"]
    except _aws_errors() as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code in {"InvalidArgumentException", "ResourceNotFoundException"}:
            # A sequence number past the retention, or a shard that has expired after a reshard.
            return _expired(batch, f"the stream refuses it: {_aws_error(exc, 'GetShardIterator')}")
        return f"cannot read shard {batch.shard_id} of {batch.stream_name} ({_aws_error(exc, 'GetShardIterator')})"
    records: list[dict[str, Any]] = []
    for _ in range(_MAX_GET_RECORDS_CALLS):
        if iterator is None:
            break
        try:
            page = kinesis_client.get_records(ShardIterator=iterator, Limit=10_000)
        except _aws_errors() as exc:
            return f"reading shard {batch.shard_id} failed ({_aws_error(exc, 'GetRecords')})"
        got = page.get("Records", [])
        done = False
        for record in got:
            if int(record["SequenceNumber"]) > end:
                done = True
                break
            records.append(_event_record(record, batch))
        iterator = page.get("NextShardIterator")
        if done or (not got and page.get("MillisBehindLatest", 0) == 0):
            break
    # An iterator at a trimmed sequence number starts at the oldest record still held: the batch's first
    # record is then missing, and with it the batch (a replay of half a batch would hide the lost half).
    if not records or int(records[0]["kinesis"]["sequenceNumber"]) != start:
        return _expired(batch, "past the stream's retention")
    return records


def _expired(batch: BatchInfo, why: str) -> str:
    return (f"expired: the stream no longer holds sequence number {batch.start_sequence} of shard "
            f"{batch.shard_id} ({why}); its records are lost, the message stays as their record")


def _event_record(record: dict[str, Any], batch: BatchInfo) -> dict[str, Any]:
    """One record in the shape of the Kinesis event Lambda delivers (FACTS.md, tests/events/)."""
    arrival = record.get("ApproximateArrivalTimestamp")
    arrival_s = arrival.timestamp() if isinstance(arrival, datetime) else float(arrival or 0)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record.get("PartitionKey", ""),
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode(),
            "approximateArrivalTimestamp": arrival_s,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{batch.shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "",
        "awsRegion": batch.region,
        "eventSourceARN": batch.stream_arn,
    }


@dataclass
class CountingMetrics(Metrics):
    """The processor's counters for one replay (stored / rejected readings), not sent anywhere: a replay
    from a laptop must not print the Lambda's EMF lines into the terminal."""

    counts: Counter[str] = field(default_factory=Counter)

    def count(self, name: str, value: float = 1, **labels: str) -> None:
        self.counts[name] += int(value)

    def observe(self, name: str, value: float, **labels: str) -> None:
        pass


#: Runs one Kinesis event; returns (batchItemFailures, stored readings, rejected readings; -1 = not known).
Invoker = Callable[[dict[str, Any]], tuple[list[dict[str, str]], int, int]]


def local_invoker(environ: dict[str, str], session: Any) -> Invoker:
    """The handler built in this process from the function's environment (lambda_handler.build), run with
    this machine's credentials: the path the emulator tests prove, and the one that can count readings."""
    from energymon.runtimes import lambda_handler

    adapters = lambda_handler.build(environ, session=session)
    tally = CountingMetrics()
    adapters.processor.metrics = tally

    def invoke(event: dict[str, Any]) -> tuple[list[dict[str, str]], int, int]:
        before = tally.counts.copy()
        failures = adapters.processor.handle(event, None)["batchItemFailures"]
        after = tally.counts
        return (list(failures), after["readings_processed"] - before["readings_processed"],
                after["readings_rejected"] - before["readings_rejected"])

    return invoke


def deployed_invoker(lambda_client: Any, function_name: str) -> Invoker:
    """lambda:Invoke of the deployed function (its code, its role); it reports failures only, not counts."""

    def invoke(event: dict[str, Any]) -> tuple[list[dict[str, str]], int, int]:
        try:
            response = lambda_client.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                            Payload=json.dumps(event).encode())
        except _aws_errors() as exc:
            raise _aws_error(exc, f"cannot invoke function {function_name!r}") from None
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            raise ReplayError(f"function error {response['FunctionError']}: {payload[:300].decode(errors='replace')}")
        result = json.loads(payload or b"{}") or {}
        return list(result.get("batchItemFailures") or []), -1, -1

    return invoke


def _messages(sqs_client: Any, queue_url: str, limit: int, visibility_s: int) -> Iterator[dict[str, Any]]:
    seen = 0
    while seen < limit:
        try:
            page = sqs_client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=min(10, limit - seen),
                                              VisibilityTimeout=visibility_s, WaitTimeSeconds=0,
                                              AttributeNames=["All"], MessageAttributeNames=["All"])
        except _aws_errors() as exc:
            raise _aws_error(exc, f"cannot read the queue {queue_url}") from None
        messages = page.get("Messages", [])
        if not messages:
            return
        for message in messages:
            seen += 1
            yield message


def replay_failures(  # noqa: PLR0913 - the clients, the queue, the invoker and two bounds
    sqs_client: Any,
    kinesis_client: Any,
    queue: FailureQueue,
    invoke: Invoker | None,
    *,
    max_messages: int = 100,
    visibility_s: int = 300,
) -> Iterator[BatchOutcome]:
    """Each failed message in turn: re-read, replay (unless ``invoke`` is None: a dry run), delete.

    Each message is hidden from other readers while it is handled (``visibility_s``); the ones kept are made
    visible again at the end, so the next run (after the cause is fixed) sees them at once.
    """
    queue_url = queue.url
    kept: list[str] = []
    try:
        for outcome, receipt in _handle(sqs_client, kinesis_client, queue, invoke, max_messages, visibility_s):
            if not outcome.deleted:
                kept.append(receipt)
            yield outcome
    finally:
        for receipt in kept:
            try:
                sqs_client.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
            except _aws_errors():
                pass  # it becomes visible by itself when the visibility timeout ends


def _handle(  # noqa: PLR0913 - the clients, the queue, the invoker and two bounds
    sqs_client: Any, kinesis_client: Any, queue: FailureQueue, invoke: Invoker | None, max_messages: int,
    visibility_s: int,
) -> Iterator[tuple[BatchOutcome, str]]:
    seen: set[str] = set()
    to_event = _dead_letter_event if queue.kind == "sqs" else _kinesis_event
    for message in _messages(sqs_client, queue.url, max_messages, visibility_s):
        message_id = message.get("MessageId", "?")
        receipt = message.get("ReceiptHandle", "")
        if message_id in seen:  # received again within this run: every message was handled once
            return
        seen.add(message_id)
        event, batch = to_event(message, queue, kinesis_client)
        if isinstance(event, BatchOutcome):
            yield event, receipt
        elif invoke is None:
            yield BatchOutcome(message_id, batch, "would-replay", "dry run", records=len(event["Records"])), receipt
        else:
            yield _run(sqs_client, queue.url, invoke, event, message_id, batch, receipt), receipt


def _kinesis_event(message: dict[str, Any], queue: FailureQueue, kinesis_client: Any
                   ) -> tuple[dict[str, Any] | BatchOutcome, BatchInfo | None]:
    """The batch an on-failure record names, re-read from the stream, or why it cannot be."""
    message_id = message.get("MessageId", "?")
    try:
        batch = parse_failure_record(message.get("Body", ""))
    except ReplayError as exc:
        return BatchOutcome(message_id, None, "unreadable", str(exc)), None
    records = read_batch(kinesis_client, batch)
    if isinstance(records, str):
        return BatchOutcome(message_id, batch, "expired" if records.startswith("expired") else "failed",
                            records), batch
    return {"Records": records}, batch


def _dead_letter_event(message: dict[str, Any], queue: FailureQueue, kinesis_client: Any
                       ) -> tuple[dict[str, Any] | BatchOutcome, BatchInfo | None]:
    """A dead letter of the SQS buffer is its own one-record event, as the mapping delivers it. The handler
    judges it by its own SentTimestamp, which the redrive keeps: a replay days later is judged as the first
    delivery was."""
    from energymon.adapters.aws.sqs_event import sqs_record

    return {"Records": [sqs_record(message, queue.source_arn or queue.url)]}, None


def _run(  # noqa: PLR0913 - one message's replay, with what its outcome names
    sqs_client: Any, queue_url: str, invoke: Invoker, event: dict[str, Any], message_id: str,
    batch: BatchInfo | None, receipt: str,
) -> BatchOutcome:
    records = len(event["Records"])
    try:
        failures, stored, rejected = invoke(event)
    except Exception as exc:  # noqa: BLE001 - the handler's own failure is this batch's outcome, said in one line
        return BatchOutcome(message_id, batch, "failed", f"the handler raised {type(exc).__name__}: {exc}",
                            records=records)
    outcome = BatchOutcome(message_id, batch, "replayed", records=records, stored=stored, rejected=rejected)
    if failures:
        outcome.status = "failed"
        outcome.reason = (f"the handler reported {len(failures)} record(s) failed (first "
                          f"{failures[0].get('itemIdentifier')}); fix the cause and replay again")
    else:
        try:
            sqs_client.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt)
            outcome.deleted = True
        except _aws_errors() as exc:
            outcome.reason = f"replayed but not deleted ({_aws_error(exc, 'DeleteMessage')})"
    return outcome
