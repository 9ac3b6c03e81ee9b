"""Extract: copy every source object not yet ingested into the landing zone, exactly once.

The manifest ``ops.lake_objects`` is keyed by (source key, ETag): an object is new when
that pair is not in it. Objects are copied first and recorded after, in one transaction,
so a crash in between only means the copy is redone (it overwrites itself) next time.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from data_lake.schema import LANDING_PREFIX
from pipeline_core.audit import audited, ensure_ops_schema
from pipeline_core.db import connect, read_sql
from pipeline_core.logs import log_event
from pipeline_core.settings import OPS_DATABASE, Settings
from pipeline_core.storage import s3_client

SQL_DIR = Path(__file__).parent / "sql"


@dataclass(frozen=True)
class SourceObject:
    key: str
    etag: str
    size: int
    last_modified: datetime | None


@dataclass(frozen=True)
class ExtractResult:
    listed: int
    new_objects: int
    new_bytes: int

    def as_dict(self) -> dict:
        return {"listed": self.listed, "new_objects": self.new_objects, "new_bytes": self.new_bytes}


def list_source(s3, bucket: str, prefix: str) -> list[SourceObject]:
    """Every object under the prefix, page by page (a real day is 86,400 objects)."""
    objects: list[SourceObject] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": 1000}
    ):
        for item in page.get("Contents", []):
            if item["Key"].endswith("/"):
                continue  # folder markers are not deliveries
            objects.append(
                SourceObject(
                    key=item["Key"],
                    etag=item["ETag"].strip('"'),
                    size=int(item["Size"]),
                    last_modified=item.get("LastModified"),
                )
            )
    return objects


def _new_objects(conn, listed: list[SourceObject]) -> list[tuple[SourceObject, str]]:
    """Anti-join the listing with the manifest, set-based; returns (object, landing key).

    A key seen before with another ETag is a changed re-delivery: it lands beside the
    first copy (``key~etag``) so both stay in the landing zone.
    """
    conn.execute(
        "CREATE TEMP TABLE listing (source_key text, etag text, size_bytes bigint,"
        " last_modified timestamptz) ON COMMIT DROP"
    )
    with conn.cursor().copy(
        "COPY listing (source_key, etag, size_bytes, last_modified) FROM STDIN"
    ) as copy:
        for obj in listed:
            copy.write_row((obj.key, obj.etag, obj.size, obj.last_modified))
    rows = conn.execute(read_sql(SQL_DIR / "new_objects.sql")).fetchall()
    return [(SourceObject(r[0], r[1], r[2], r[3]), r[4]) for r in rows]


def extract(
    settings: Settings,
    run_id: str,
    *,
    s3=None,
    max_workers: int = 16,
) -> ExtractResult:
    """Copy new source objects into ``landing/`` and record them in the manifest."""
    ensure_ops_schema(settings)
    s3 = s3 or s3_client(settings, max_pool_connections=max_workers * 2)
    with audited(settings, run_id, "lake.extract") as audit:
        listed = list_source(s3, settings.source_bucket, settings.source_prefix)
        log_event("extract.listed", source=settings.source_uri, objects=len(listed))
        with connect(settings, OPS_DATABASE) as conn:
            with conn.transaction():
                todo = _new_objects(conn, listed)

        landing_keys = [f"{LANDING_PREFIX}/{landing}" for _, landing in todo]

        def copy_one(item: tuple[SourceObject, str]) -> None:
            obj, landing_key = item
            try:
                s3.copy_object(
                    Bucket=settings.lake_bucket,
                    Key=landing_key,
                    CopySource={"Bucket": settings.source_bucket, "Key": obj.key},
                )
            except (ClientError, BotoCoreError) as exc:
                raise RuntimeError(
                    f"copying s3://{settings.source_bucket}/{obj.key} to "
                    f"s3://{settings.lake_bucket}/{landing_key} failed: {exc}"
                ) from exc

        t0 = time.monotonic()
        done = 0
        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            for _ in pool.map(copy_one, zip([o for o, _ in todo], landing_keys, strict=True)):
                done += 1
                if done % 5000 == 0:
                    log_event("extract.progress", copied=done, of=len(todo))
        log_event("extract.copied", objects=done, seconds=round(time.monotonic() - t0, 2))

        with connect(settings, OPS_DATABASE) as conn:
            with conn.transaction():
                conn.execute(
                    "CREATE TEMP TABLE landed (LIKE ops.lake_objects INCLUDING DEFAULTS)"
                    " ON COMMIT DROP"
                )
                with conn.cursor().copy(
                    "COPY landed (source_key, etag, size_bytes, last_modified, landing_key,"
                    " extract_run_id) FROM STDIN"
                ) as copy:
                    for (obj, _), landing_key in zip(todo, landing_keys, strict=True):
                        copy.write_row(
                            (obj.key, obj.etag, obj.size, obj.last_modified, landing_key, run_id)
                        )
                conn.execute(
                    "INSERT INTO ops.lake_objects SELECT * FROM landed"
                    " ON CONFLICT (source_key, etag) DO NOTHING"
                )
        result = ExtractResult(
            listed=len(listed),
            new_objects=len(todo),
            new_bytes=sum(o.size for o, _ in todo),
        )
        audit.objects = result.new_objects
        audit.details = result.as_dict()
    return result
