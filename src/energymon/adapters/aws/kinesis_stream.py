"""The Stream port over a Kinesis data stream, with consumer checkpoints kept in the DynamoDB table.

It lets the local ShardPoller read a real stream (as the Lambda event source mapping would) and the
bridge write one (as the IoT topic rule would).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from energymon.errors import StoreError
from energymon.ports import Stream, StreamRecord

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kinesis import KinesisClient

__all__ = ["KinesisStream"]

PUT_RECORDS_MAX = 500
PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024
_LAG_SCAN_LIMIT = 10_000


class _Failed(StoreError):
    pass


class KinesisStream(Stream):
    def __init__(
        self,
        stream_name: str,
        table_name: str,
        client: KinesisClient | None = None,
        dynamodb_client: DynamoDBClient | None = None,
        *,
        attempts: int = 8,
    ) -> None:
        import boto3

        self.stream_name = stream_name
        self.table_name = table_name
        self.client = client or boto3.client("kinesis")
        self.dynamodb = dynamodb_client or boto3.client("dynamodb")
        self.attempts = attempts
        self._iterators: dict[tuple[str, str | None], str] = {}

    def shard_ids(self) -> list[str]:
        shards: list[str] = []
        kwargs: dict[str, Any] = {"StreamName": self.stream_name}
        while True:
            response = self.client.list_shards(**kwargs)
            shards.extend(s["ShardId"] for s in response["Shards"])
            token = response.get("NextToken")
            if not token:
                return sorted(shards)
            kwargs = {"NextToken": token}

    def _chunks(self, records: Sequence[tuple[str, bytes]]) -> list[list[int]]:
        chunks: list[list[int]] = [[]]
        size = 0
        for index, (key, data) in enumerate(records):
            entry = len(key.encode()) + len(data)
            if len(chunks[-1]) >= PUT_RECORDS_MAX or size + entry > PUT_RECORDS_MAX_BYTES:
                chunks.append([])
                size = 0
            chunks[-1].append(index)
            size += entry
        return [c for c in chunks if c]

    def put_records(self, records: Sequence[tuple[str, bytes]]) -> list[tuple[str, str]]:
        """PutRecords ≤ 500 per call, resending only the entries that failed, with backoff."""
        result: list[tuple[str, str]] = [("", "")] * len(records)
        for chunk in self._chunks(records):
            pending = chunk
            try:
                for attempt in Retrying(
                    stop=stop_after_attempt(self.attempts),
                    wait=wait_random_exponential(multiplier=0.05, max=2.0),
                    retry=retry_if_exception_type(_Failed),
                    reraise=True,
                ):
                    with attempt:
                        response = self.client.put_records(
                            StreamName=self.stream_name,
                            Records=[{"PartitionKey": records[i][0], "Data": records[i][1]} for i in pending],
                        )
                        failed = []
                        for index, entry in zip(pending, response["Records"], strict=True):
                            if entry.get("ErrorCode"):
                                failed.append(index)
                            else:
                                result[index] = (entry["ShardId"], entry["SequenceNumber"])
                        pending = failed
                        if pending:
                            raise _Failed(f"{len(pending)} records throttled or failed")
            except _Failed:
                raise StoreError(
                    f"Kinesis refused {len(pending)} records after {self.attempts} attempts"
                ) from None
        return result

    def _iterator(self, shard_id: str, after: str | None) -> str:
        cached = self._iterators.get((shard_id, after))
        if cached:
            return cached
        kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": shard_id}
        if after:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
        else:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        iterator: str = self.client.get_shard_iterator(**kwargs)["ShardIterator"]
        return iterator

    def get_records(self, shard_id: str, after: str | None, limit: int) -> list[StreamRecord]:
        iterator = self._iterator(shard_id, after)
        try:
            response = self.client.get_records(ShardIterator=iterator, Limit=min(limit, 10_000))
        except self.client.exceptions.ExpiredIteratorException:
            self._iterators.pop((shard_id, after), None)
            response = self.client.get_records(ShardIterator=self._iterator(shard_id, after), Limit=min(limit, 10_000))
        records = [
            StreamRecord(shard_id, r["SequenceNumber"], r["PartitionKey"], bytes(r["Data"]),
                         r["ApproximateArrivalTimestamp"].timestamp())
            for r in response["Records"]
        ]
        if len(self._iterators) > 256:
            self._iterators.clear()
        following = response.get("NextShardIterator")
        if records and following:
            self._iterators[(shard_id, after)] = iterator
            self._iterators[(shard_id, records[-1].sequence_number)] = following
        elif following:  # nothing yet: the next iterator starts at the same place, further along the shard
            self._iterators[(shard_id, after)] = following
        return records

    def _checkpoint_key(self, consumer: str, shard_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"CHECKPOINT#{consumer}"}, "sk": {"S": shard_id}}

    def get_checkpoint(self, consumer: str, shard_id: str) -> str | None:
        item = self.dynamodb.get_item(
            TableName=self.table_name, Key=self._checkpoint_key(consumer, shard_id), ConsistentRead=True
        ).get("Item")
        return item["seq"]["S"] if item else None

    def set_checkpoint(self, consumer: str, shard_id: str, sequence_number: str) -> None:
        self.dynamodb.put_item(
            TableName=self.table_name,
            Item={**self._checkpoint_key(consumer, shard_id), "seq": {"S": sequence_number}},
        )

    def lag(self, consumer: str) -> int:
        """Records after each shard's checkpoint (Kinesis has no count: read, up to 10,000 per shard)."""
        total = 0
        for shard in self.shard_ids():
            after = self.get_checkpoint(consumer, shard)
            while total < _LAG_SCAN_LIMIT:
                batch = self.get_records(shard, after, 1000)
                if not batch:
                    break
                total += len(batch)
                after = batch[-1].sequence_number
        return total
