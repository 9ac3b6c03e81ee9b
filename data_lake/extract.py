"""Extract: land every source object not yet ingested in the lake, exactly once.

The manifest ``ops.lake_objects`` is keyed by (source key, ETag): an object is new when
that pair is not in it. New objects are stored unchanged, many to a landing bundle, and
the manifest says which bundle and byte range (of its uncompressed bytes) hold each one.
A bundle is zstd-compressed: JSON lines shrink about twelve times, and the object store
then writes, and convert reads, a twelfth of the bytes. The source is not listed whole on
every run: the feed names objects by date and hour, so a run lists from the newest landed
object's hour less ``FLEET_LIST_LOOKBACK_HOURS`` on (``listing_plan``).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from data_lake.schema import LANDING_PREFIX
from pipeline_core.audit import audited, ensure_ops_schema
from pipeline_core.db import connect, execute_sql_file
from pipeline_core.logs import log_event
from pipeline_core.settings import OPS_DATABASE, Settings
from pipeline_core.storage import s3_client

SQL_DIR = Path(__file__).parent / "sql"

#: landing bundles: zstd at its fastest level (a 64 MB bundle in about 0.1 s, 12x smaller)
BUNDLE_SUFFIX = ".ndjson.zst"
_BUNDLE_CODEC = pa.Codec("zstd", compression_level=1)


@dataclass(frozen=True)
class SourceObject:
    key: str
    etag: str
    size: int
    last_modified: datetime | None


@dataclass(frozen=True)
class ExtractPlan:
    """The new objects of a run, cut into shards (one mapped Airflow task each)."""

    listed: int
    new_objects: int
    shards: list[int]


@dataclass(frozen=True)
class ExtractResult:
    listed: int
    new_objects: int
    new_bytes: int

    def as_dict(self) -> dict:
        return {"listed": self.listed, "new_objects": self.new_objects, "new_bytes": self.new_bytes}


def list_source(s3, bucket: str, prefix: str, start_after: str | None = None) -> list[SourceObject]:
    """Every object under the prefix (after ``start_after`` in key order, if given), page by
    page (a real day is 86,400 objects)."""
    objects: list[SourceObject] = []
    paginator = s3.get_paginator("list_objects_v2")
    options = {"StartAfter": start_after} if start_after else {}
    for page in paginator.paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": 1000}, **options
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


#: the feed names an object by its date and hour first (``2019-06-01-15-17-4-events.json``:
#: the date zero-padded, the hour not)
_KEY_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})(?:-(\d{1,2})-)?")


@dataclass(frozen=True)
class Listing:
    """The S3 listings, as (Prefix, StartAfter), that together return every key a run looks
    at; ``start`` names where they begin, for the audit (None: every key)."""

    requests: tuple[tuple[str, str | None], ...]
    start: str | None


def listing_plan(
    newest_key: str | None, prefix: str, lookback_hours: int | None, today: date
) -> Listing:
    """What extract lists: the keys named from the newest landed object's hour less
    ``lookback_hours`` on, so a 15-minute run lists a few hours of keys, not the day's.

    Dates are zero-padded, so the later dates are one listing (``StartAfter`` the next
    date); hours are not (``-9-`` sorts after ``-10-``), so each hour of the newest date is
    its own listing, by ``Prefix`` (a zero-padded hour is listed too); a lookback of a day
    or more lists whole dates from the window's first on. A key named before the window
    is a late delivery, which main_dag's run of each day's first interval (it looks
    ``FLEET_LIST_SWEEP_DAYS`` back), a run with the ``list_every_key`` param or
    ``FLEET_LIST_LOOKBACK_HOURS=all`` picks up.
    Without a landed key named by date, every key is listed. A name without an hour, or a
    date after tomorrow (``today`` in UTC, plus a day for local names: a misnamed object,
    which must not hide the feed's real keys), is listed by whole dates from the day before.
    """

    def from_date(first: date) -> Listing:  # whole dates, in one listing
        start = prefix + first.isoformat()
        return Listing(((prefix, start),), start)

    every_key = Listing(((prefix, None),), None)
    if lookback_hours is None or newest_key is None or not newest_key.startswith(prefix):
        return every_key
    found = _KEY_TIME.match(newest_key, len(prefix))
    if found is None:
        return every_key
    try:
        day = date.fromisoformat(found.group(1))
    except ValueError:  # shaped like a date, but not one (2019-13-45)
        return every_key
    tomorrow = today + timedelta(days=1)
    if found.group(2) is None or int(found.group(2)) > 23 or day > tomorrow:
        return from_date(min(day, tomorrow) - timedelta(days=-(-lookback_hours // 24)))
    at = datetime(day.year, day.month, day.day, int(found.group(2)))
    at -= timedelta(hours=lookback_hours)
    if lookback_hours >= 24:  # a day or more: by whole dates, not a listing per hour
        return from_date(at.date())
    requests: list[tuple[str, str | None]] = []
    while at.date() <= day:
        for hour in dict.fromkeys((str(at.hour), f"{at.hour:02d}")):
            requests.append((f"{prefix}{at.date().isoformat()}-{hour}-", None))
        at += timedelta(hours=1)
    requests.append((prefix, prefix + (day + timedelta(days=1)).isoformat()))
    return Listing(tuple(requests), requests[0][0])


def _newest_landed_key(conn, prefix: str) -> str | None:
    """The landed key named latest: of the last date in key order (dates are zero-padded),
    a key of the greatest hour (hours are not: key order puts ``-9-`` after ``-23-``)."""
    row = conn.execute(
        "SELECT source_key FROM ops.lake_objects WHERE starts_with(source_key, %s)"
        " ORDER BY source_key DESC LIMIT 1",
        (prefix,),
    ).fetchone()
    if row is None:
        return None
    found = _KEY_TIME.match(row[0], len(prefix))
    if found is None or found.group(2) is None:
        return row[0]
    day = f"{prefix}{found.group(1)}-"
    return conn.execute(
        "SELECT source_key FROM ops.lake_objects WHERE starts_with(source_key, %s)"
        " ORDER BY substring(substr(source_key, %s) FROM '^([0-9]{1,2})-')::integer"
        " DESC NULLS LAST, source_key DESC LIMIT 1",
        (day, len(day) + 1),
    ).fetchone()[0]


def list_recent_source(settings: Settings, s3) -> tuple[str | None, list[SourceObject]]:
    """The source objects a run looks at for new ones (extract's plan, the freshness
    check): those ``listing_plan`` lists; returns (where the listing started, them)."""
    with connect(settings, OPS_DATABASE) as conn:
        newest = _newest_landed_key(conn, settings.source_prefix)
    today = datetime.now(UTC).date()
    plan = listing_plan(newest, settings.source_prefix, settings.list_lookback_hours, today)
    listed = [
        obj
        for prefix, after in plan.requests
        for obj in list_source(s3, settings.source_bucket, prefix, after)
    ]
    return plan.start, listed


def _copy_listing(conn, listed: list[SourceObject]) -> None:
    conn.execute(
        "CREATE TEMP TABLE listing (source_key text, etag text, size_bytes bigint,"
        " last_modified timestamptz) ON COMMIT DROP"
    )
    with conn.cursor().copy(
        "COPY listing (source_key, etag, size_bytes, last_modified) FROM STDIN"
    ) as copy:
        for obj in listed:
            copy.write_row((obj.key, obj.etag, obj.size, obj.last_modified))


def bundles(
    todo: list[SourceObject], max_objects: int, max_bytes: int
) -> Iterator[list[SourceObject]]:
    """Consecutive groups of new objects, each stored as one landing bundle."""
    group: list[SourceObject] = []
    size = 0
    for obj in todo:
        if group and (len(group) >= max_objects or size + obj.size > max_bytes):
            yield group
            group, size = [], 0
        group.append(obj)
        size += obj.size
    if group:
        yield group


def bundle_key(group: list[SourceObject]) -> str:
    """Named by its content's identity, so a redo after a crash overwrites its own bundle."""
    digest = hashlib.sha256()
    for obj in group:
        digest.update(f"{obj.key}\0{obj.etag}\n".encode())
    return f"{LANDING_PREFIX}/bundle-{digest.hexdigest()[:24]}{BUNDLE_SUFFIX}"


def pack_bundle(objects: list[bytes]) -> bytes:
    """A landing bundle's stored bytes: the objects' bytes one after the other, compressed."""
    return _BUNDLE_CODEC.compress(b"".join(objects), asbytes=True)


def unpack_bundle(key: str, stored: bytes) -> bytes:
    """The objects' bytes of the landing bundle ``key`` (manifest offsets index these).
    Bundles landed before compression (``.ndjson``) and single objects are stored as is."""
    if not key.endswith(BUNDLE_SUFFIX):
        return stored
    try:
        return pa.CompressedInputStream(pa.BufferReader(stored), "zstd").read()
    except (OSError, pa.ArrowException) as exc:
        raise RuntimeError(f"landing bundle {key} cannot be decompressed: {exc}") from exc


def _fetch_source(
    s3, bucket: str, groups: list[list[SourceObject]], pool: ThreadPoolExecutor, ahead: int
) -> Iterator[tuple[list[SourceObject], list[tuple[SourceObject, bytes]]]]:
    """Read the groups' objects concurrently and yield each group with its bodies, in order.

    Up to ``ahead`` reads are in flight across group boundaries, so the readers never wait
    for a group's slowest object before starting the next group (memory: ``ahead`` bodies
    besides the group being stored). Each object is described as read (an object rewritten
    since the listing is recorded with the ETag and size of the bytes actually landed)."""

    def get(obj: SourceObject) -> tuple[SourceObject, bytes]:
        try:
            response = s3.get_object(Bucket=bucket, Key=obj.key)
            body = response["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise RuntimeError(f"reading s3://{bucket}/{obj.key} failed: {exc}") from exc
        etag = response.get("ETag", "").strip('"') or obj.etag
        return SourceObject(obj.key, etag, len(body), obj.last_modified), body

    objects = (obj for group in groups for obj in group)
    in_flight: deque[Future] = deque(pool.submit(get, o) for o in itertools.islice(objects, ahead))
    for group in groups:
        landed = []
        for _ in group:
            landed.append(in_flight.popleft().result())
            following = next(objects, None)
            if following is not None:
                in_flight.append(pool.submit(get, following))
        yield group, landed


def _record(conn, landed: list[tuple[SourceObject, bytes]], key: str, run_id: str) -> None:
    with conn.transaction():
        conn.execute(
            "CREATE TEMP TABLE landed (LIKE ops.lake_objects INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        with conn.cursor().copy(
            "COPY landed (source_key, etag, size_bytes, last_modified, landing_key,"
            " landing_offset, landing_length, extract_run_id) FROM STDIN"
        ) as copy:
            offset = 0
            for obj, body in landed:
                copy.write_row(
                    (obj.key, obj.etag, obj.size, obj.last_modified, key, offset, len(body), run_id)
                )
                offset += len(body)
        conn.execute(
            "INSERT INTO ops.lake_objects SELECT * FROM landed"
            " ON CONFLICT (source_key, etag) DO NOTHING"
        )


def plan_extract(
    settings: Settings, run_id: str, *, s3=None, shard_objects: int | None = None
) -> ExtractPlan:
    """List the source once and record its new objects in ``ops.extract_plan``, cut into
    shards of ``shard_objects`` (default ``settings.map_objects``) in key order.

    Each shard is landed by its own task (``extract_shard``), so Celery workers share a
    day's 86,400 objects; the plan is in the ops database, not in XCom, so only the shard
    numbers travel between tasks.
    """
    ensure_ops_schema(settings)
    s3 = s3 or s3_client(settings)
    per_shard = shard_objects or settings.map_objects
    with audited(settings, run_id, "lake.extract_plan") as audit:
        start, listed = list_recent_source(settings, s3)
        log_event("extract.listed", source=settings.source_uri, after=start, objects=len(listed))
        with connect(settings, OPS_DATABASE) as conn:
            with conn.transaction():
                _copy_listing(conn, listed)
                execute_sql_file(
                    conn,
                    SQL_DIR / "plan_extract.sql",
                    {"run_id": run_id, "per_shard": per_shard},
                )
                new, shards = conn.execute(
                    "SELECT count(*), coalesce(max(shard) + 1, 0) FROM ops.extract_plan"
                    " WHERE run_id = %s",
                    (run_id,),
                ).fetchone()
        plan = ExtractPlan(listed=len(listed), new_objects=new, shards=list(range(shards)))
        log_event("extract.planned", new_objects=new, shards=shards, per_shard=per_shard)
        audit.objects = new
        audit.details = {
            "listed": plan.listed,
            "listed_after": start,
            "new_objects": new,
            "shards": shards,
        }
    return plan


def _planned(settings: Settings, run_id: str, shard: int) -> list[SourceObject]:
    """The shard's objects not in the manifest yet (a retried shard skips what it landed)."""
    with connect(settings, OPS_DATABASE) as conn:
        rows = conn.execute(
            """SELECT p.source_key, p.etag, p.size_bytes, p.last_modified
                 FROM ops.extract_plan p
                WHERE p.run_id = %s AND p.shard = %s
                  AND NOT EXISTS (SELECT 1 FROM ops.lake_objects m
                                   WHERE m.source_key = p.source_key AND m.etag = p.etag)
                ORDER BY p.source_key, p.etag""",
            (run_id, shard),
        ).fetchall()
    return [SourceObject(*r) for r in rows]


def extract_shard(
    settings: Settings,
    run_id: str,
    shard: int,
    *,
    s3=None,
    max_workers: int = 32,
    bundle_objects: int | None = None,
    bundle_bytes: int = 64 << 20,
) -> ExtractResult:
    """Land one shard of the run's plan in ``landing/`` bundles and record it in the manifest.

    Objects are read concurrently and stored byte for byte, many to a bundle: a real day
    is 86,400 tiny objects, and reading them back one by one would cost as much again.
    Each bundle is written first and recorded after, so a crash in between only means the
    bundle is rewritten (same name) next time.
    """
    ensure_ops_schema(settings)
    s3 = s3 or s3_client(settings, max_pool_connections=max_workers * 2)
    with audited(settings, run_id, "lake.extract") as audit:
        todo = _planned(settings, run_id, shard)
        t0 = time.monotonic()
        done = landed_bytes = 0

        def store(landed: list[tuple[SourceObject, bytes]], key: str) -> int:
            body = pack_bundle([b for _, b in landed])
            try:
                s3.put_object(Bucket=settings.lake_bucket, Key=key, Body=body)
            except (ClientError, BotoCoreError) as exc:
                raise RuntimeError(
                    f"writing s3://{settings.lake_bucket}/{key} "
                    f"({len(landed)} objects from {landed[0][0].key}) failed: {exc}"
                ) from exc
            _record(conn, landed, key, run_id)
            return sum(len(b) for _, b in landed)

        # one bundle is stored (PUT + manifest) while the next one is read
        with (
            connect(settings, OPS_DATABASE) as conn,
            ThreadPoolExecutor(max_workers=max_workers) as pool,
            ThreadPoolExecutor(max_workers=1) as writer,
        ):
            per_bundle = bundle_objects or settings.landing_bundle_objects
            pending: tuple[Future, int, str] | None = None
            groups = list(bundles(todo, per_bundle, bundle_bytes))
            for group, landed in _fetch_source(
                s3, settings.source_bucket, groups, pool, ahead=4 * max_workers
            ):
                if pending is not None:
                    landed_bytes += pending[0].result()
                    done += pending[1]
                    log_event("extract.progress", shard=shard, landed=done, of=len(todo))
                key = bundle_key(group)
                pending = (writer.submit(store, landed, key), len(group), key)
            if pending is not None:
                landed_bytes += pending[0].result()
                done += pending[1]
                log_event("extract.progress", shard=shard, landed=done, of=len(todo))
            conn.execute(
                "DELETE FROM ops.extract_plan WHERE run_id = %s AND shard = %s", (run_id, shard)
            )
            conn.commit()
        log_event(
            "extract.landed",
            shard=shard,
            objects=done,
            bytes=landed_bytes,
            seconds=round(time.monotonic() - t0, 2),
        )
        result = ExtractResult(listed=len(todo), new_objects=done, new_bytes=landed_bytes)
        audit.objects = done
        audit.details = {"shard": shard, **result.as_dict()}
    return result


def extract(
    settings: Settings,
    run_id: str,
    *,
    s3=None,
    max_workers: int = 32,
    bundle_objects: int | None = None,
    bundle_bytes: int = 64 << 20,
) -> ExtractResult:
    """Plan, then land every shard here, one after the other (CLI and tests; in Airflow,
    and in the bench, each shard is its own mapped task)."""
    s3 = s3 or s3_client(settings, max_pool_connections=max_workers * 2)
    plan = plan_extract(settings, run_id, s3=s3)
    landed = [
        extract_shard(
            settings,
            run_id,
            shard,
            s3=s3,
            max_workers=max_workers,
            bundle_objects=bundle_objects,
            bundle_bytes=bundle_bytes,
        )
        for shard in plan.shards
    ]
    return ExtractResult(
        listed=plan.listed,
        new_objects=sum(r.new_objects for r in landed),
        new_bytes=sum(r.new_bytes for r in landed),
    )
