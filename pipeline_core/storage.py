"""S3 access for the pipeline: boto3 for listing/copying, Arrow's filesystem for Parquet."""

from __future__ import annotations

import boto3
import pyarrow.fs as pafs
from botocore.config import Config

from pipeline_core.settings import Settings


def s3_client(settings: Settings, *, max_pool_connections: int = 32, config: Config | None = None):
    """A boto3 S3 client for any S3 (SeaweedFS, AWS): path-style, retried, bounded timeouts.

    ``config`` replaces the botocore Config (health checks use short timeouts).
    """
    return boto3.client(
        "s3",
        endpoint_url=settings.s3.endpoint_url,
        aws_access_key_id=settings.s3.access_key,
        aws_secret_access_key=settings.s3.secret_key,
        region_name=settings.s3.region,
        config=config
        or Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            max_pool_connections=max_pool_connections,
        ),
    )


def arrow_filesystem(settings: Settings) -> pafs.S3FileSystem:
    """Arrow's S3 filesystem on the same endpoint, for streaming Parquet reads and writes."""
    kwargs: dict = {"region": settings.s3.region}
    if settings.s3.access_key:
        kwargs["access_key"] = settings.s3.access_key
        kwargs["secret_key"] = settings.s3.secret_key
    if settings.s3.endpoint_url:
        scheme, _, rest = settings.s3.endpoint_url.partition("://")
        kwargs["endpoint_override"] = rest.rstrip("/")
        kwargs["scheme"] = scheme
        kwargs["force_virtual_addressing"] = False
    return pafs.S3FileSystem(**kwargs)
