"""The shared settings document on S3: ``config/settings.json`` in the archive bucket, rendered by Terraform.

The Lambda reads it once per container (cold start). Terraform passes the object's key and the SHA-256 of its
content in the function's environment, so a changed document changes the function configuration (new containers
load it) and a document that is not the one Terraform rendered is refused instead of half-applied.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import orjson

from energymon.errors import ConfigError
from energymon.shared_settings import SharedSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["MAX_DOCUMENT_BYTES", "SETTINGS_KEY", "load_shared_settings", "publish_shared_settings"]

SETTINGS_KEY = "config/settings.json"
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024  # thousands of devices fit; a larger object is not ours


def load_shared_settings(s3_client: S3Client, bucket: str, key: str, sha256: str | None = None) -> SharedSettings:
    """The validated document at ``s3://bucket/key``; a :class:`ConfigError` saying what is wrong otherwise.

    ``sha256`` (hex, as Terraform's ``sha256()`` renders it) must match the object's bytes when given.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    origin = f"settings document s3://{bucket}/{key}"
    try:
        response = s3_client.get_object(Bucket=bucket, Key=key)
        length = int(response.get("ContentLength") or 0)
        if length > MAX_DOCUMENT_BYTES:
            raise ConfigError(f"{origin}: {length} bytes is larger than the {MAX_DOCUMENT_BYTES} bytes allowed")
        body = response["Body"].read(MAX_DOCUMENT_BYTES + 1)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise ConfigError(f"{origin} cannot be read ({code}: {exc.response.get('Error', {}).get('Message', '')}); "
                          "apply the Terraform that writes it, or fix ENERGYMON_SETTINGS_KEY") from None
    except BotoCoreError as exc:
        raise ConfigError(f"{origin} cannot be read: {exc}") from None
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ConfigError(f"{origin}: larger than the {MAX_DOCUMENT_BYTES} bytes allowed")
    if sha256 is not None:
        actual = hashlib.sha256(body).hexdigest()
        if actual != sha256.strip().lower():
            raise ConfigError(f"{origin} has SHA-256 {actual}, but ENERGYMON_SETTINGS_SHA256 is {sha256}: the object "
                              "was changed outside Terraform (or the function's configuration is stale); "
                              "apply the Terraform again")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{origin} is not valid JSON ({exc})") from None
    return SharedSettings.from_document(data, origin)


def publish_shared_settings(s3_client: S3Client, bucket: str, shared: SharedSettings, key: str = SETTINGS_KEY,
                            kms_key_id: str | None = None) -> tuple[str, str]:
    """Write ``shared`` as the document the Lambda loads; (key, sha256) for its environment.

    Terraform is the writer of a deployed stack (``aws_s3_object``); this is for stacks without it and for tests.
    """
    body = orjson.dumps(shared.document())
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id} if kms_key_id else {}
    s3_client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **extra)  # type: ignore[arg-type]
    return key, hashlib.sha256(body).hexdigest()
