"""SNS: the body as the message (JSON), a short subject for e-mail subscribers, and message attributes that
subscription filter policies can match (``state``, ``rule``, ``device_id``, ``kind``, ``critical``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from energymon.adapters.aws.sns_notifier import sns_subject
from energymon.adapters.notify.base import Channel, DeliveryError, title

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef

    from energymon.adapters.notify.config import SnsChannelSettings

__all__ = ["SnsChannel", "message_attributes"]

_ATTRIBUTES = ("state", "rule", "device_id", "kind")
_ATTRIBUTE_MAX = 256  # our own bound: a filter matches short values; SNS would take more


def message_attributes(body: dict[str, Any]) -> dict[str, MessageAttributeValueTypeDef]:
    # SNS refuses an attribute with an empty value, so absent or empty fields are left out.
    out: dict[str, MessageAttributeValueTypeDef] = {
        name: {"DataType": "String", "StringValue": str(body[name])[:_ATTRIBUTE_MAX]}
        for name in _ATTRIBUTES if body.get(name) not in (None, "")
    }
    out["critical"] = {"DataType": "String", "StringValue": "true" if body.get("critical") else "false"}
    return out


class SnsChannel(Channel):
    kind = "sns"

    def __init__(self, settings: SnsChannelSettings, client: SNSClient | None = None) -> None:
        super().__init__(settings.name, settings.quiet_hours)
        self.settings = settings
        self._client = client

    @property
    def client(self) -> SNSClient:
        if self._client is None:  # boto3 only when an SNS channel is used (it is the `aws` extra)
            import boto3

            self._client = boto3.client("sns", region_name=self.settings.topic_region)
        return self._client

    def send(self, body: dict[str, Any]) -> None:
        try:
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            raise DeliveryError("an SNS channel needs boto3: pip install 'energymon[aws]'") from None
        try:
            self.client.publish(TopicArn=self.settings.topic_arn, Subject=sns_subject(title(body)),
                                Message=orjson.dumps(body).decode(), MessageAttributes=message_attributes(body))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise DeliveryError(f"SNS {self.settings.topic_arn}: {error.get('Code', '?')}: "
                                f"{error.get('Message', exc)}") from None
        except BotoCoreError as exc:
            raise DeliveryError(f"SNS {self.settings.topic_arn}: {exc}") from None

    def target(self) -> str:
        return self.settings.topic_arn
