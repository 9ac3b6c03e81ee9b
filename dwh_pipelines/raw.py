"""raw_db (L1): load the lake's Parquet partitions as they are, by COPY.

Each dirty event date is replaced whole (all batches' files of that date) in one
transaction, so a rerun gives the same rows.
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
from dwh_pipelines.partitions import LayerResult, PartitionCounts, dirty_dates, record_partitions
from dwh_pipelines.transfer import copy_arrow
from pipeline_core.arrow_utils import constant
from pipeline_core.audit import audited, ensure_ops_schema
from pipeline_core.db import execute_sql_file, transaction
from pipeline_core.logs import log_event
from pipeline_core.settings import Settings
from pipeline_core.storage import arrow_filesystem

SQL_DIR = Path(__file__).parent / "sql" / "raw"


def partition_files(fs: pafs.FileSystem, bucket: str, dataset: str, day: date) -> list[str]:
    base = f"{bucket}/{PARQUET_PREFIX}/{dataset}/event_date={day.isoformat()}"
    infos = fs.get_file_info(pafs.FileSelector(base, allow_not_found=True))
    return sorted(
        i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(".parquet")
    )


def _batches(fs, files: list[str], day: date, run_id: str) -> Iterator[pa.RecordBatch]:
    for path in files:
        with fs.open_input_file(path) as handle:
            for batch in pq.ParquetFile(handle).iter_batches(batch_size=100_000):
                n = batch.num_rows
                yield batch.append_column(
                    "event_date", constant(day, pa.date32(), n)
                ).append_column("load_run_id", constant(run_id, pa.string(), n))


def load_raw(
    settings: Settings, run_id: str, *, dates: Iterable[date] = (), fs=None
) -> LayerResult:
    """Replace raw_db's partitions for every dirty date (and ``dates``) from the lake."""
    ensure_ops_schema(settings)
    fs = fs or arrow_filesystem(settings)
    result = LayerResult("raw", dirty_dates(settings, "raw", dates))
    with audited(settings, run_id, "raw.load") as audit:
        with transaction(settings, "raw_db") as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('fleet.raw'))")
            execute_sql_file(conn, SQL_DIR / "schema.sql")
            for day in result.event_dates:
                counts = result.counts.setdefault(day, PartitionCounts())
                for dataset in DATASETS:
                    table = sql.Identifier("raw", dataset)
                    conn.execute(
                        sql.SQL("DELETE FROM {} WHERE event_date = %s").format(table), (day,)
                    )
                    files = partition_files(fs, settings.lake_bucket, dataset, day)
                    n = copy_arrow(conn, table, _batches(fs, files, day, run_id))
                    counts.rows_in += n
                    counts.rows_out += n
                    log_event(
                        "raw.partition", dataset=dataset, event_date=day, files=len(files), rows=n
                    )
        record_partitions(settings, result, run_id)
        totals = result.totals()
        audit.rows_in, audit.rows_out = totals.rows_in, totals.rows_out
        audit.details = result.as_dict()
    return result
