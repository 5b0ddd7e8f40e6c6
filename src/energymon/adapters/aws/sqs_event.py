"""Build the exact event Lambda's SQS event source mapping hands a function, from SQS messages.

The lean profile's buffer is an SQS queue; moto cannot run the mapping, so tests (and anyone replaying a queue by
hand) turn a ``ReceiveMessage`` answer into the event the mapping would have delivered and call the same handler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["sqs_event", "sqs_record"]


def sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """One record of the event, from one message of ``ReceiveMessage`` (asked with ``AttributeNames=["All"]``)."""
    region = queue_arn.split(":")[3] if queue_arn.count(":") >= 5 else "local"
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message.get("ReceiptHandle", ""),
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": dict(message.get("MessageAttributes") or {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def sqs_event(messages: Iterable[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {"Records": [sqs_record(m, queue_arn) for m in messages]}
