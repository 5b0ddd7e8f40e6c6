"""One moto server per session over HTTP; boto3 clients and fresh resources per test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from energymon.adapters.mqtt.broker import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

REGION = "us-east-1"


def wait_for_port(host: str, port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"moto server did not listen on {host}:{port} within {timeout_s} s")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port, timeout_s=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            # moto exits on SIGTERM by sys.exit, which waits for request threads still holding a client's
            # keep-alive connection open: the throw-away emulator is killed instead.
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def aws_env(moto_endpoint: str) -> dict[str, str]:
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
           "AWS_ENDPOINT_URL": moto_endpoint}
    os.environ.update(env)
    return env


@pytest.fixture(scope="session")
def session(aws_env: dict[str, str]) -> boto3.session.Session:
    # AWS_ENDPOINT_URL (honoured by botocore) sends every client of this session to moto.
    return boto3.session.Session(region_name=REGION)


@pytest.fixture
def client(session: boto3.session.Session, moto_endpoint: str) -> Any:
    def make(service: str) -> Any:
        return session.client(service, endpoint_url=moto_endpoint)

    return make


def create_table(ddb: Any, name: str | None = None) -> str:
    name = name or f"energymon-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    return name


@pytest.fixture
def table(client: Any) -> str:
    return create_table(client("dynamodb"))


@pytest.fixture
def bucket(client: Any) -> str:
    name = f"energymon-{uuid.uuid4().hex[:8]}"
    client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def stream(client: Any) -> str:
    name = f"energymon-{uuid.uuid4().hex[:8]}"
    kinesis = client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1})
    return name


@pytest.fixture
def topic(client: Any) -> str:
    arn: str = client("sns").create_topic(Name=f"energymon-{uuid.uuid4().hex[:8]}")["TopicArn"]
    return arn


@pytest.fixture
def new_table(client: Any) -> Any:
    """A callable making a fresh energymon-shaped table (for factories that build many stores)."""
    ddb = client("dynamodb")
    return lambda: create_table(ddb)
