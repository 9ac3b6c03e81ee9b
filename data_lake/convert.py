"""Convert: landed NDJSON objects to typed Parquet, partitioned by dataset and event date.

Work is done in batches recorded in ``ops.lake_batches``. Objects are first assigned to
a batch (committed), then converted chunk by chunk (bounded memory) into one Parquet file
per (dataset, event date) named after the batch, and the batch is closed with its counts.
A batch left open by a crash is redone first by the next run and overwrites its own files,
so every landed object reaches Parquet exactly once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from data_lake.extract import unpack_bundle
from data_lake.parse import ParsedChunk, parse_objects
from data_lake.profile import profile_table
from data_lake.schema import DATASETS, PARQUET_PREFIX, QUARANTINE_PREFIX, QUARANTINE_SCHEMA
from pipeline_core.audit import audited, ensure_ops_schema
from pipeline_core.classification import classification_for, parquet_metadata
from pipeline_core.db import connect, execute_sql_file
from pipeline_core.logs import log_event
from pipeline_core.settings import OPS_DATABASE, Settings
from pipeline_core.storage import arrow_filesystem, s3_client

#: advisory locks: one conversion plan at a time, and one writer per batch's files
_LOCK_KEY = "fleet.lake.convert"
SQL_DIR = Path(__file__).parent / "sql"


@dataclass
class BatchResult:
    batch_id: str
    objects: int = 0
    input_lines: int = 0
    parquet_rows: int = 0
    quarantined_lines: int = 0
    event_dates: set[date] = field(default_factory=set)
    files: list[str] = field(default_factory=list)
    schema_drift: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ConvertResult:
    batches: list[BatchResult]

    @property
    def event_dates(self) -> list[str]:
        return sorted({d.isoformat() for b in self.batches for d in b.event_dates})

    def as_dict(self) -> dict:
        return {
            "batches": [b.batch_id for b in self.batches],
            "objects": sum(b.objects for b in self.batches),
            "input_lines": sum(b.input_lines for b in self.batches),
            "parquet_rows": sum(b.parquet_rows for b in self.batches),
            "quarantined_lines": sum(b.quarantined_lines for b in self.batches),
            "event_dates": self.event_dates,
            "schema_drift": sorted({d for b in self.batches for d in b.schema_drift}),
        }


def partition_key(dataset: str, event_date: date, batch_id: str) -> str:
    return (
        f"{PARQUET_PREFIX}/{dataset}/event_date={event_date.isoformat()}/batch-{batch_id}.parquet"
    )


def quarantine_key(batch_id: str) -> str:
    return f"{QUARANTINE_PREFIX}/batch-{batch_id}.parquet"


class _PartitionWriters:
    """One open Parquet writer per (dataset, event date); row groups flushed per chunk."""

    def __init__(self, fs, bucket: str, batch_id: str) -> None:
        self.fs, self.bucket, self.batch_id = fs, bucket, batch_id
        self.writers: dict[tuple[str, str], pq.ParquetWriter] = {}
        self.keys: list[str] = []

    def write(self, name: str, key: str, table: pa.Table) -> None:
        writer = self.writers.get((name, key))
        if writer is None:
            schema = table.schema.with_metadata(parquet_metadata(table.column_names))
            writer = pq.ParquetWriter(
                f"{self.bucket}/{key}", schema, filesystem=self.fs, compression="zstd"
            )
            self.writers[(name, key)] = writer
            self.keys.append(key)
        writer.write_table(table, row_group_size=1_000_000)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def plan_convert(settings: Settings, run_id: str, *, batch_objects: int | None = None) -> list[str]:
    """Batches to (re)do: any left open by a crash, then new ones of about ``batch_objects``
    (default ``settings.map_objects``) unconverted objects each, in landing order.

    The assignment is committed before any conversion starts, so each batch can be its own
    (mapped) task and a crashed one is redone, with the same files, by the next run.
    """
    ensure_ops_schema(settings)
    for dataset, (_, schema) in DATASETS.items():
        log_event("lake.classification", dataset=dataset, fields=classification_for(schema.names))
    log_event(
        "lake.classification",
        dataset="quarantine",
        fields=classification_for(QUARANTINE_SCHEMA.names),
    )
    per_batch = batch_objects or settings.map_objects
    with audited(settings, run_id, "lake.convert_plan") as audit:
        with connect(settings, OPS_DATABASE) as conn:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_LOCK_KEY,))
                reopened = [
                    r[0]
                    for r in conn.execute(
                        "SELECT batch_id FROM ops.lake_batches WHERE converted_at IS NULL"
                        " ORDER BY batch_id"
                    )
                ]
                prefix = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
                execute_sql_file(
                    conn,
                    SQL_DIR / "plan_convert.sql",
                    {"run_id": run_id, "per_batch": per_batch, "prefix": prefix},
                )
                new = [
                    r[0]
                    for r in conn.execute(
                        "SELECT batch_id FROM ops.lake_batches WHERE batch_id LIKE %s"
                        " ORDER BY batch_id",
                        (prefix + "-%",),
                    )
                ]
        log_event("convert.planned", reopened=reopened, new_batches=len(new), per_batch=per_batch)
        audit.details = {"reopened": reopened, "new_batches": new}
    return reopened + new


def _fetch(
    s3, bucket: str, rows: list[tuple[str, str, int, int]], max_workers: int
) -> list[tuple[str, bytes]]:
    """(source key, bytes) of each object, read from its landing bundle (one GET a bundle)."""
    bundle_keys = sorted({r[1] for r in rows})

    def get(key: str) -> bytes:
        return unpack_bundle(key, s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        bodies = dict(zip(bundle_keys, pool.map(get, bundle_keys), strict=True))
    out = []
    for source_key, landing_key, offset, length in rows:
        body = bodies[landing_key]
        if offset + length > len(body):
            raise RuntimeError(
                f"landing bundle s3://{bucket}/{landing_key} is {len(body)} bytes, but the "
                f"manifest puts {source_key} at bytes {offset}..{offset + length}"
            )
        out.append((source_key, body[offset : offset + length]))
    return out


def _chunks(rows: list[tuple], chunk_objects: int) -> Iterator[list[tuple]]:
    """Groups of whole bundles holding about ``chunk_objects`` objects (bounded memory)."""
    chunk: list[tuple] = []
    for i, row in enumerate(rows):
        chunk.append(row)
        bundle_ends = i + 1 == len(rows) or rows[i + 1][1] != row[1]
        if bundle_ends and len(chunk) >= chunk_objects:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _store_profiles(conn, run_id: str, batch_id: str, chunk_no: int, chunk: ParsedChunk) -> None:
    with conn.cursor().copy(
        "COPY ops.column_profiles (run_id, batch_id, chunk, dataset, column_name, rows, nulls,"
        " distinct_count, min_value, max_value) FROM STDIN"
    ) as copy:
        tables = dict(chunk.datasets, quarantine=chunk.quarantine)
        for dataset, table in tables.items():
            for p in profile_table(table):
                copy.write_row(
                    (
                        run_id,
                        batch_id,
                        chunk_no,
                        dataset,
                        p["column_name"],
                        p["rows"],
                        p["nulls"],
                        p["distinct_count"],
                        p["min_value"],
                        p["max_value"],
                    )
                )
                log_event("profile", dataset=dataset, batch_id=batch_id, chunk=chunk_no, **p)


def _converted(conn, batch_id: str) -> BatchResult | None:
    """The recorded result of a batch already converted (by another run), else None."""
    row = conn.execute(
        """SELECT objects, input_lines, parquet_rows, quarantined_lines, event_dates, files,
                  schema_drift
             FROM ops.lake_batches WHERE batch_id = %s AND converted_at IS NOT NULL""",
        (batch_id,),
    ).fetchone()
    if row is None:
        return None
    return BatchResult(batch_id, *row[:4], set(row[4]), list(row[5]), set(row[6]))


def convert_batch(
    settings: Settings,
    run_id: str,
    batch_id: str,
    *,
    chunk_objects: int = 2000,
    max_workers: int = 16,
) -> BatchResult:
    """Convert one planned batch (one mapped task); rewrites the batch's own files if redone.

    A batch lock keeps two runs from writing the same files; a batch another run finished
    meanwhile is not converted again.
    """
    ensure_ops_schema(settings)
    with (
        audited(settings, run_id, "lake.convert") as audit,
        connect(settings, OPS_DATABASE, autocommit=True) as lock_conn,
    ):
        lock_conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"{_LOCK_KEY}:{batch_id}",))
        t0 = time.monotonic()
        done = _converted(lock_conn, batch_id)
        if done is None:
            done = _convert_batch(
                settings, run_id, batch_id, chunk_objects=chunk_objects, max_workers=max_workers
            )
        else:
            log_event("convert.skipped", batch_id=batch_id, reason="converted by another run")
        lock_conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"{_LOCK_KEY}:{batch_id}",))
        summary = ConvertResult([done]).as_dict()
        audit.objects = summary["objects"]
        audit.rows_in = summary["input_lines"]
        audit.rows_out = summary["parquet_rows"]
        audit.rows_rejected = summary["quarantined_lines"]
        audit.details = summary
        log_event("convert.done", seconds=round(time.monotonic() - t0, 2), **summary)
    return done


def _convert_batch(
    settings: Settings, run_id: str, batch_id: str, *, chunk_objects: int, max_workers: int
) -> BatchResult:
    s3 = s3_client(settings, max_pool_connections=max_workers * 2)
    fs = arrow_filesystem(settings)
    result = BatchResult(batch_id=batch_id)
    with connect(settings, OPS_DATABASE) as conn:
        conn.execute("DELETE FROM ops.column_profiles WHERE batch_id = %s", (batch_id,))
        rows = conn.execute(
            "SELECT source_key, landing_key, landing_offset, landing_length"
            " FROM ops.lake_objects WHERE batch_id = %s"
            " ORDER BY landing_key, landing_offset",
            (batch_id,),
        ).fetchall()
        conn.commit()
        writers = _PartitionWriters(fs, settings.lake_bucket, batch_id)
        try:
            for chunk_no, part in enumerate(_chunks(rows, chunk_objects)):
                named = _fetch(s3, settings.lake_bucket, part, max_workers)
                chunk = parse_objects(named, run_id=run_id, batch_id=batch_id)
                for dataset, table in chunk.datasets.items():
                    if table.num_rows == 0:
                        continue
                    days = pc.cast(table.column("event_at"), pa.date32())
                    for day in pc.unique(days).to_pylist():
                        piece = table.filter(pc.equal(days, pa.scalar(day, pa.date32())))
                        writers.write(dataset, partition_key(dataset, day, batch_id), piece)
                        result.event_dates.add(day)
                if chunk.quarantine.num_rows:
                    writers.write("quarantine", quarantine_key(batch_id), chunk.quarantine)
                _store_profiles(conn, run_id, batch_id, chunk_no, chunk)
                conn.commit()
                result.objects += len(part)
                result.input_lines += chunk.input_lines
                result.parquet_rows += chunk.rows
                result.quarantined_lines += chunk.quarantine.num_rows
                result.schema_drift |= chunk.schema_drift
                log_event(
                    "convert.progress",
                    batch_id=batch_id,
                    objects=f"{result.objects}/{len(rows)}",
                    lines=result.input_lines,
                    rows=result.parquet_rows,
                    quarantined=result.quarantined_lines,
                )
        finally:
            writers.close()
        result.files = writers.keys
        if result.schema_drift:
            log_event(
                "convert.schema_drift",
                batch_id=batch_id,
                fields=sorted(result.schema_drift),
                policy="unknown fields are ignored (not stored) and listed in ops.lake_batches",
            )
        conn.execute(
            """UPDATE ops.lake_batches
                  SET converted_at = now(), objects = %s, input_lines = %s, parquet_rows = %s,
                      quarantined_lines = %s, event_dates = %s, files = %s, schema_drift = %s
                WHERE batch_id = %s""",
            (
                result.objects,
                result.input_lines,
                result.parquet_rows,
                result.quarantined_lines,
                sorted(result.event_dates),
                result.files,
                sorted(result.schema_drift),
                batch_id,
            ),
        )
        # the lake's event-date partitions changed: downstream layers rebuild these dates
        conn.execute(
            """INSERT INTO ops.layer_partitions (layer, event_date, loaded_at, run_id)
               SELECT 'lake', d, clock_timestamp(), %s FROM unnest(%s::date[]) d
               ON CONFLICT (layer, event_date) DO UPDATE
                  SET loaded_at = excluded.loaded_at, run_id = excluded.run_id,
                      expired_at = NULL""",
            (run_id, sorted(result.event_dates)),
        )
        conn.commit()
    return result


def convert(settings: Settings, run_id: str, *, chunk_objects: int = 2000) -> ConvertResult:
    """Plan, then convert every batch here, one after the other (CLI and tests; in Airflow,
    and in the bench, each batch is its own mapped task)."""
    return ConvertResult(
        [
            convert_batch(settings, run_id, batch_id, chunk_objects=chunk_objects)
            for batch_id in plan_convert(settings, run_id)
        ]
    )
