"""Alerts through an SNS topic (e-mail, SMS or HTTPS subscribers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from energymon.ports import Notifier

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

__all__ = ["SnsNotifier", "sns_subject"]

_SUBJECT_MAX = 100  # SNS rejects longer subjects


def sns_subject(text: str) -> str:
    """What SNS takes as a subject: one line, no control characters, at most 100 characters, never empty."""
    cleaned = "".join(c for c in " ".join(text.split()) if c.isprintable())
    return cleaned[:_SUBJECT_MAX].rstrip() or "energymon alert"


class SnsNotifier(Notifier):
    def __init__(self, topic_arn: str, client: SNSClient | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("sns")
        self.topic_arn = topic_arn
        self.client = client

    def notify(self, subject: str, message: str) -> None:
        self.client.publish(TopicArn=self.topic_arn, Subject=sns_subject(subject), Message=message)
