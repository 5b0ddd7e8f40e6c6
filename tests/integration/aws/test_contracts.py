"""The port contracts of tests/functional/contracts run against the AWS adapters on the moto server."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from energymon.adapters.aws.dynamodb_alerts import DynamoDBAlerts
from energymon.adapters.aws.dynamodb_store import DynamoDBStore
from energymon.adapters.aws.kinesis_stream import KinesisStream
from energymon.adapters.aws.s3_archive import S3Archive
from energymon.adapters.aws.s3_dead_letters import S3DeadLetters
from functional.contracts.alert_state_contract import *  # noqa: F403
from functional.contracts.archive_contract import *  # noqa: F403
from functional.contracts.deadletters_contract import *  # noqa: F403
from functional.contracts.store_contract import *  # noqa: F403
from functional.contracts.stream_contract import *  # noqa: F403

pytestmark = pytest.mark.integration


@pytest.fixture
def store_factory(client: Any, new_table: Any):  # noqa: ANN201
    ddb = client("dynamodb")
    return lambda: DynamoDBStore(new_table(), client=ddb)


@pytest.fixture(params=[1, 4], ids=["1-shard", "4-shards"])
def stream_factory(client: Any, new_table: Any, request: pytest.FixtureRequest):  # noqa: ANN201
    kinesis, ddb = client("kinesis"), client("dynamodb")

    def make() -> KinesisStream:
        name = f"energymon-{uuid.uuid4().hex[:8]}"
        kinesis.create_stream(StreamName=name, ShardCount=request.param)
        kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1})
        return KinesisStream(name, new_table(), client=kinesis, dynamodb_client=ddb)

    return make


def _bucket(s3: Any) -> str:
    name = f"energymon-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def archive_factory(client: Any):  # noqa: ANN201
    s3 = client("s3")

    def make():  # noqa: ANN202
        bucket = _bucket(s3)
        return S3Archive(bucket, client=s3), lambda key: s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    return make


@pytest.fixture
def dead_letters_factory(client: Any):  # noqa: ANN201
    s3 = client("s3")
    return lambda: S3DeadLetters(_bucket(s3), client=s3)


@pytest.fixture
def alerts_factory(client: Any, new_table: Any):  # noqa: ANN201
    ddb = client("dynamodb")
    return lambda: DynamoDBAlerts(new_table(), client=ddb)
