"""Create the source and lake buckets in the stack's S3 store (idempotent).

Run by the one-shot ``seaweedfs-init`` compose service with the Airflow image, so it
reads exactly what the DAG tasks read: ``AIRFLOW_CONN_FLEET_S3`` for the endpoint and
keys, ``FLEET_SOURCE_BUCKET`` / ``FLEET_LAKE_BUCKET`` for the names. Retries while the
store is still starting; rejected credentials fail at once.
"""

from __future__ import annotations

import sys
import time

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_core.settings import load_settings
from pipeline_core.storage import s3_client

ATTEMPTS = 30
DELAY_S = 2.0
_MISSING = {"404", "NoSuchBucket", "NotFound"}
_ALREADY_THERE = {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}
_AUTH = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def ensure_bucket(client, name: str) -> bool:
    """Create ``name`` unless it exists; True when it was created now."""
    try:
        client.head_bucket(Bucket=name)
        return False
    except ClientError as exc:
        if _code(exc) not in _MISSING:
            raise
    try:
        client.create_bucket(Bucket=name)
    except ClientError as exc:
        if _code(exc) not in _ALREADY_THERE:
            raise
        return False
    return True


def main() -> int:
    settings = load_settings()
    client = s3_client(settings)
    buckets = [settings.source_bucket, settings.lake_bucket]
    for attempt in range(1, ATTEMPTS + 1):
        try:
            for name in buckets:
                state = "created" if ensure_bucket(client, name) else "exists"
                print(f"bucket {name}: {state} ({settings.s3.endpoint_url})", flush=True)
            return 0
        except ClientError as exc:
            if _code(exc) in _AUTH:
                print(
                    f"S3 rejected the credentials ({_code(exc)}): check S3_ACCESS_KEY / "
                    "S3_SECRET_KEY in .env",
                    file=sys.stderr,
                )
                return 1
            error: Exception = exc
        except BotoCoreError as exc:
            error = exc
        print(f"S3 not ready ({error}); attempt {attempt}/{ATTEMPTS}", flush=True)
        time.sleep(DELAY_S)
    print(f"gave up creating buckets {buckets} after {ATTEMPTS} attempts", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
