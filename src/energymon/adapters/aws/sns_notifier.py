"""Alerts through an SNS topic (e-mail, SMS or HTTPS subscribers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from energymon.ports import Notifier

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

__all__ = ["SnsNotifier"]

_SUBJECT_MAX = 100  # SNS rejects longer subjects


class SnsNotifier(Notifier):
    def __init__(self, topic_arn: str, client: SNSClient | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("sns")
        self.topic_arn = topic_arn
        self.client = client

    def notify(self, subject: str, message: str) -> None:
        subject = " ".join(subject.split())[:_SUBJECT_MAX] or "energymon alert"
        self.client.publish(TopicArn=self.topic_arn, Subject=subject, Message=message)
