"""The SNS alert channel on the moto server: an SQS queue subscribed to the topic reads what was published."""

from __future__ import annotations

import json
from typing import Any

import pytest

from energymon.adapters.notify import build_channel, parse_channels
from energymon.adapters.notify.sns import SnsChannel
from energymon.domain.alerts.notification import Notification
from energymon.errors import DeliveryError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

START_MS = 1_780_000_000_000


def subscribed_queue(client: Any, topic: str) -> str:
    sqs = client("sqs")
    url: str = sqs.create_queue(QueueName=topic.rsplit(":", 1)[1])["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return url


def received(client: Any, url: str, count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for _ in range(20):
        for m in client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []):
            out.append(json.loads(m["Body"]))
        if len(out) >= count:
            break
    return out


def test_sns_publishes_the_body_with_a_short_subject_and_filterable_attributes(client: Any, topic: str) -> None:
    url = subscribed_queue(client, topic)
    (settings,) = parse_channels([{"name": "aws", "kind": "sns", "topic_arn": topic}])
    sns = SnsChannel(settings, client("sns"))
    rule = "a-rule-whose-name-is-long-enough-that-the-subject-would-pass-the-hundred-characters-sns-allows"
    n = Notification(rule, "energy_budget", "apt-1", "firing", START_MS, 12.5, 10, "kWh", critical=True)
    sns.send(n.body())
    (envelope,) = received(client, url, 1)
    assert len(envelope["Subject"]) <= 100 and envelope["Subject"].startswith("energymon: a-rule-whose-name")
    assert json.loads(envelope["Message"]) == json.loads(json.dumps(n.body()))
    attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
    assert attributes == {"state": "firing", "rule": rule, "device_id": "apt-1", "kind": "energy_budget",
                          "critical": "true"}


def test_sns_to_a_missing_topic_is_a_one_line_delivery_error(client: Any, topic: str) -> None:
    missing = topic.rsplit(":", 1)[0] + ":energymon-no-such-topic"
    (settings,) = parse_channels([{"name": "aws", "kind": "sns", "topic_arn": missing}])
    assert isinstance(build_channel(settings), SnsChannel)
    channel = SnsChannel(settings, client("sns"))
    with pytest.raises(DeliveryError, match=r"^SNS arn:aws:sns:.*:energymon-no-such-topic: NotFound"):
        channel.send(Notification("r", "no_data", "apt-1", "firing", START_MS).body())
