"""The two batch events the processor accepts: Kinesis (the fleet design) and SQS (the lean single-home buffer).

Both carry the same bytes (the IoT rule's JSON, ``topic_device_id`` added), so everything after these few accessors
is one code path. What differs is only where a record keeps its payload, its identity (the ``itemIdentifier`` of a
partial batch failure: Kinesis' sequence number, SQS's message id) and its arrival time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import EventType

from energymon.errors import RejectedReading

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["KINESIS", "SQS", "EventShape", "shape_of"]

_MAX_EPOCH_S = 32_503_680_000  # year 3000: anything later is not a timestamp


def _epoch_ms(seconds: object, clock_ms: int) -> int:
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and 0 < seconds < _MAX_EPOCH_S:
        return int(seconds * 1000)
    return clock_ms


class EventShape:
    """Accessors over one raw record (a plain dict, as Lambda delivers it)."""

    name: str
    event_type: EventType
    concurrent_per_device: bool

    def identifier(self, record: Mapping[str, Any]) -> str:
        """The record's ``itemIdentifier`` in ``batchItemFailures``."""
        raise NotImplementedError

    def source(self, record: Mapping[str, Any]) -> str:
        """What a dead letter names as its origin."""
        raise NotImplementedError

    def payload(self, record: Mapping[str, Any]) -> bytes:
        """The message bytes; data that can never be decoded is rejected, not retried."""
        raise NotImplementedError

    def raw(self, record: Mapping[str, Any]) -> bytes:
        """The payload as far as it can be had, for the dead letter of a rejected record."""
        raise NotImplementedError

    def arrival_ms(self, record: Mapping[str, Any], clock_ms: int) -> int:
        """When the buffer got the message (a replay days later is judged as the first delivery was)."""
        raise NotImplementedError

    def batch_id(self, records: Sequence[Mapping[str, Any]]) -> str:
        """The archive object's name: the same records give the same name, so a redelivery overwrites it."""
        raise NotImplementedError


class _Kinesis(EventShape):
    name = "kinesis"
    event_type = EventType.KinesisDataStreams
    # A partition key (the device) is in one shard, and a shard has one batch in flight.
    concurrent_per_device = False

    def identifier(self, record: Mapping[str, Any]) -> str:
        return str(record["kinesis"]["sequenceNumber"])

    def source(self, record: Mapping[str, Any]) -> str:
        return str(record.get("eventID") or record["kinesis"]["sequenceNumber"])

    def payload(self, record: Mapping[str, Any]) -> bytes:
        try:
            return base64.b64decode(record["kinesis"]["data"])
        except (binascii.Error, ValueError, TypeError):
            raise RejectedReading("record data is not valid base64", "not_base64") from None

    def raw(self, record: Mapping[str, Any]) -> bytes:
        try:
            return self.payload(record)
        except RejectedReading:
            return str(record["kinesis"].get("data", "")).encode()

    def arrival_ms(self, record: Mapping[str, Any], clock_ms: int) -> int:
        return _epoch_ms(record["kinesis"].get("approximateArrivalTimestamp"), clock_ms)

    def batch_id(self, records: Sequence[Mapping[str, Any]]) -> str:
        # A retry hands over the same sequence range of the same shard.
        first = records[0]["kinesis"]["sequenceNumber"]
        last = records[-1]["kinesis"]["sequenceNumber"]
        shard = str(records[0].get("eventID", "shard")).split(":", 1)[0]
        return f"{shard}-{first}-{last}"


class _Sqs(EventShape):
    name = "sqs"
    event_type = EventType.SQS
    # A standard queue hands one device's messages to several invocations at once (the mapping runs at
    # least two): the store must keep their writes of the same device apart.
    concurrent_per_device = True

    def identifier(self, record: Mapping[str, Any]) -> str:
        return str(record["messageId"])

    def source(self, record: Mapping[str, Any]) -> str:
        return str(record.get("messageId", ""))

    def payload(self, record: Mapping[str, Any]) -> bytes:
        # The IoT rule's SQS action sends the JSON as the body itself (useBase64 false).
        body = record.get("body")
        if not isinstance(body, str):
            raise RejectedReading("the SQS message has no text body", "no_body")
        return body.encode("utf-8", "surrogatepass")

    def raw(self, record: Mapping[str, Any]) -> bytes:
        body = record.get("body")
        return body.encode("utf-8", "surrogatepass") if isinstance(body, str) else repr(body)[:10_000].encode()

    def arrival_ms(self, record: Mapping[str, Any], clock_ms: int) -> int:
        sent = (record.get("attributes") or {}).get("SentTimestamp")  # epoch milliseconds, as a string
        if not isinstance(sent, str | int) or not str(sent).isdigit():
            return clock_ms
        return _epoch_ms(int(sent) / 1000, clock_ms)

    def batch_id(self, records: Sequence[Mapping[str, Any]]) -> str:
        # SQS redelivers a set of messages in any order and grouping: name the batch by its sorted message ids.
        queue = str(records[0].get("eventSourceARN", "queue")).rsplit(":", 1)[-1]
        digest = hashlib.sha256("\n".join(sorted(self.identifier(r) for r in records)).encode()).hexdigest()
        return f"sqs-{queue}-{digest[:32]}"


KINESIS: EventShape = _Kinesis()
SQS: EventShape = _Sqs()


def shape_of(records: Sequence[Mapping[str, Any]]) -> EventShape:
    """SQS when the batch's records say so (``eventSource`` ``aws:sqs``, or a ``body`` without ``kinesis``)."""
    first = records[0] if records else {}
    if first.get("eventSource") == "aws:sqs" or ("body" in first and "kinesis" not in first):
        return SQS
    return KINESIS
