"""raw_db (L1): load the lake's Parquet partitions as they are, by COPY.

For each event date the lake wrote since raw last did, only its new files are appended
(``raw.loaded_files``); a date asked for explicitly, or one whose loaded files changed,
is replaced whole. One transaction per run, stamped with a load (``raw.load_log``), so a
rerun gives the same rows and staging knows exactly which rows are new.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from psycopg import sql

from data_lake.schema import DATASETS, PARQUET_PREFIX
from dwh_pipelines.partitions import (
    LayerResult,
    PartitionCounts,
    add_missing_load_seq,
    dirty_dates,
    ensure_date_partitions,
    ensure_load_log,
    log_load,
    move_into_partitions,
    next_load_seq,
    record_accounting,
    replace_date_partition,
    set_aside_unpartitioned,
    stage_accounting,
)
from dwh_pipelines.transfer import copy_arrow
from pipeline_core.arrow_utils import constant
from pipeline_core.audit import audited, ensure_ops_schema
from pipeline_core.db import execute_sql_file, transaction
from pipeline_core.logs import log_event
from pipeline_core.settings import Settings
from pipeline_core.storage import arrow_filesystem

SQL_DIR = Path(__file__).parent / "sql" / "raw"
#: the per-event table, partitioned by event date (see dwh_pipelines.partitions)
PARTITIONED = "vehicle_events"


def partition_files(fs: pafs.FileSystem, bucket: str, dataset: str, day: date) -> list[str]:
    base = f"{bucket}/{PARQUET_PREFIX}/{dataset}/event_date={day.isoformat()}"
    infos = fs.get_file_info(pafs.FileSelector(base, allow_not_found=True))
    return sorted(
        i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(".parquet")
    )


def _batches(
    fs, files: list[str], day: date, run_id: str, load_seq: int, rows: dict[str, int]
) -> Iterator[pa.RecordBatch]:
    for path in files:
        rows[path] = 0
        with fs.open_input_file(path) as handle:
            for batch in pq.ParquetFile(handle).iter_batches(batch_size=100_000):
                n = batch.num_rows
                rows[path] += n
                yield (
                    batch.append_column("event_date", constant(day, pa.date32(), n))
                    .append_column("load_run_id", constant(run_id, pa.string(), n))
                    .append_column("load_seq", constant(load_seq, pa.int64(), n))
                )


def _loaded_files(conn, dataset: str, day: date) -> set[str]:
    return {
        r[0]
        for r in conn.execute(
            "SELECT path FROM raw.loaded_files WHERE dataset = %s AND event_date = %s",
            (dataset, day),
        )
    }


def _load_partition(
    conn, fs, dataset: str, day: date, files: list[str], run_id: str, load_seq: int, whole: bool
) -> int:
    """COPY ``files`` into one dataset's date, after emptying the date when ``whole``.

    The vehicle events are date-partitioned: a date loaded whole is COPYed into a new
    partition and swapped in (no WAL on the embedded server, indexes built by sort), its
    rows frozen, so staging's first read sets no hint bits (with data checksums, each page
    would be written to WAL once more); appends go through the parent.
    """
    table = sql.Identifier("raw", dataset)
    rows: dict[str, int] = {}
    batches = _batches(fs, files, day, run_id, load_seq, rows)
    if whole:
        conn.execute(
            "DELETE FROM raw.loaded_files WHERE dataset = %s AND event_date = %s", (dataset, day)
        )
    if dataset == PARTITIONED and whole:
        n = replace_date_partition(
            conn,
            "raw",
            dataset,
            day,
            lambda target, _: copy_arrow(conn, target, batches, freeze=True),
        )
    else:
        if dataset == PARTITIONED:
            ensure_date_partitions(conn, "raw", dataset, [day])
        elif whole:
            conn.execute(sql.SQL("DELETE FROM {} WHERE event_date = %s").format(table), (day,))
        n = copy_arrow(conn, table, batches)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO raw.loaded_files (dataset, event_date, path, rows, load_seq)"
            " VALUES (%s, %s, %s, %s, %s)",
            [(dataset, day, path, k, load_seq) for path, k in rows.items()],
        )
    return n


def _has_untracked_rows(conn, dataset: str, day: date) -> bool:
    """Rows loaded before files were tracked (load_seq 0) force a whole-date replace."""
    untracked = sql.SQL(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE event_date = %s AND load_seq = 0)"
    ).format(sql.Identifier("raw", dataset))
    return conn.execute(untracked, (day,)).fetchone()[0]


def load_raw(
    settings: Settings, run_id: str, *, dates: Iterable[date] = (), fs=None
) -> LayerResult:
    """Bring raw_db up to the lake for every dirty date: append new files, or replace
    the date whole (``dates``, or when its loaded files changed)."""
    ensure_ops_schema(settings)
    record_accounting(settings, "raw_db", "raw")  # a stopped run's, before the dates are read
    fs = fs or arrow_filesystem(settings)
    whole = set(dates)
    result = LayerResult("raw", dirty_dates(settings, "raw", dates))
    with audited(settings, run_id, "raw.load") as audit:
        with transaction(settings, "raw_db") as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('fleet.raw'))")
            # load_seq first: the set-aside table is moved with the new table's columns
            add_missing_load_seq(conn, "raw", DATASETS)
            old = set_aside_unpartitioned(conn, "raw", PARTITIONED)
            execute_sql_file(conn, SQL_DIR / "schema.sql")
            if old is not None:
                move_into_partitions(conn, "raw", PARTITIONED, old)
            ensure_load_log(conn, "raw")
            load_seq = next_load_seq(conn, "raw")
            for day in result.event_dates:
                counts = result.counts.setdefault(day, PartitionCounts())
                lake = {d: partition_files(fs, settings.lake_bucket, d, day) for d in DATASETS}
                loaded = {d: _loaded_files(conn, d, day) for d in DATASETS}
                # whole when asked, or when a loaded file is gone from the lake
                replace = day in whole or any(
                    not loaded[d] <= set(lake[d]) or _has_untracked_rows(conn, d, day)
                    for d in DATASETS
                )
                for dataset in DATASETS:
                    files = [f for f in lake[dataset] if replace or f not in loaded[dataset]]
                    # a dataset's first load of a date is also loaded whole (same rows)
                    fresh = replace or not loaded[dataset]
                    n = _load_partition(conn, fs, dataset, day, files, run_id, load_seq, fresh)
                    counts.rows_in += n
                    counts.rows_out += n
                    log_event(
                        "raw.partition",
                        dataset=dataset,
                        event_date=day,
                        files=len(files),
                        rows=n,
                        mode="replace" if replace else "append",
                    )
                if not replace:
                    result.appended.add(day)
            log_load(
                conn,
                "raw",
                load_seq,
                {d: c.rows_out for d, c in result.counts.items()},
                result.appended,
                run_id,
            )
            # marked from before the lake was listed: a file converted since stays newer
            stage_accounting(conn, "raw", result, run_id, marked_at_start=True)
        record_accounting(settings, "raw_db", "raw")
        totals = result.totals()
        audit.rows_in, audit.rows_out = totals.rows_in, totals.rows_out
        audit.details = result.as_dict()
    return result
