"""A short lease on one device, for buffers that deliver the same device to concurrent invocations (SQS).

The store's unit of work reads a device's minute items, merges the batch in and writes them back; with two
writers of one device, the second write would drop the first one's readings (the device item's version check
comes after the minutes). Kinesis never runs two batches of one partition key at once; a standard SQS queue
does, so there the unit of work holds a lease item while it writes: a conditional put that fails while
someone else's lease is live, and a delete of exactly our lease afterwards. A writer that dies keeps the lease
until it expires (longer than the function's timeout can run), then the next writer takes it over.

Cost: two small writes per device and batch, in the SQS profile only.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from energymon.errors import StoreError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["LEASE_S", "DeviceLease", "lease_pk"]

#: Longer than Lambda's 15-minute maximum timeout: a live writer never loses its lease.
LEASE_S = 16 * 60


def lease_pk(device_id: str) -> str:
    # Its own partition: reads of a device's items (pk = D#<device>) never see it.
    return f"LEASE#{device_id}"


class DeviceLease:
    def __init__(self, client: DynamoDBClient, table_name: str, device_id: str, clock: Any = time.time) -> None:
        self.client = client
        self.table_name = table_name
        self.device_id = device_id
        self.clock = clock
        self.token = secrets.token_hex(8)
        self.key = {"pk": {"S": lease_pk(device_id)}, "sk": {"S": "lease"}}

    def acquire(self) -> None:
        now = self.clock()
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={**self.key, "owner": {"S": self.token}, "until": {"N": str(int(now + LEASE_S))},
                      "expires_at": {"N": str(int(now + 2 * LEASE_S))}},
                ConditionExpression="attribute_not_exists(pk) OR #until < :now",
                ExpressionAttributeNames={"#until": "until"},
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise StoreError(f"device {self.device_id} is being written by another invocation; "
                             "its records will be retried") from exc

    def release(self) -> None:
        try:
            self.client.delete_item(TableName=self.table_name, Key=self.key,
                                    ConditionExpression="#owner = :me",
                                    ExpressionAttributeNames={"#owner": "owner"},
                                    ExpressionAttributeValues={":me": {"S": self.token}})
        except self.client.exceptions.ConditionalCheckFailedException:
            pass  # expired and taken over: it is no longer ours to delete
