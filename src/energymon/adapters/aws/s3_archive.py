"""The S3 archive: the same keys and bodies as the local FolderArchive, so replays overwrite, never add."""

from __future__ import annotations

from typing import TYPE_CHECKING

from energymon.adapters.local.archive import group_for_archive
from energymon.ports import Archive

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_s3 import S3Client

    from energymon.domain.reading import Reading

__all__ = ["S3Archive"]


class S3Archive(Archive):
    def __init__(self, bucket: str, client: S3Client | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.bucket = bucket
        self.client = client

    def put_readings(self, batch_id: str, readings: Sequence[Reading]) -> list[str]:
        written = []
        for key, body in group_for_archive(batch_id, readings).items():
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/gzip")
            written.append(key)
        return written
