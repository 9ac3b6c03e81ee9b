"""staging_db (L2): cleaned, conformed events with write-audit-publish.

raw loads after the watermark (dates replaced whole, rows appended) -> dev.src_* (streamed
COPY) -> dev.stg_* (set-based SQL) -> checks -> publish to prod, the load log and the
watermark (one transaction) only if no blocking check failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

from psycopg import sql

from dwh_pipelines.partitions import (
    LayerResult,
    PartitionCounts,
    Slice,
    add_missing_load_seq,
    adopt_scratch_partition,
    advance_watermark,
    create_scratch_partitions,
    ensure_date_partitions,
    ensure_load_log,
    log_load,
    move_into_partitions,
    next_load_seq,
    pending_slice,
    record_accounting,
    set_aside_unpartitioned,
    split_by_first_write,
    stage_accounting,
)
from dwh_pipelines.quality import Check, gate, run_checks
from dwh_pipelines.transfer import relay
from pipeline_core.audit import audited, ensure_ops_schema
from pipeline_core.db import connect, execute_sql_file, read_sql, recreate_scratch_tables
from pipeline_core.settings import OPS_DATABASE, Settings

SQL_DIR = Path(__file__).parent / "sql" / "staging"
CHECKS_DIR = SQL_DIR / "checks"

SRC_COLUMNS = {
    "vehicle_events": [
        "event",
        "organization_id",
        "event_at",
        "vehicle_id",
        "location_lat",
        "location_lng",
        "location_at",
        "source_key",
        "source_line",
        "ingestion_run_id",
        "batch_id",
        "event_date",
    ],
    "operating_period_events": [
        "event",
        "organization_id",
        "event_at",
        "period_id",
        "period_start",
        "period_finish",
        "source_key",
        "source_line",
        "ingestion_run_id",
        "batch_id",
        "event_date",
    ],
}


def _check(name: str, severity: str, description: str, database: str | None = None) -> Check:
    return Check(name, severity, description, CHECKS_DIR / f"{name}.sql", database)


CHECKS = [
    _check("not_null_keys", "block", "organization, entity id, event time and key are not null"),
    _check("unique_event_key", "block", "one row per event key after deduplication"),
    _check("accounting", "block", "raw rows = staged + removed duplicates + rejected, per date"),
    _check("rejected_ratio", "block", "at most 20 % of a date's rows break a rule"),
    _check("accepted_values", "warn", "event types are known (offenders are rejected)"),
    _check("coordinate_range", "warn", "coordinates lie on the globe (offenders are rejected)"),
    _check("period_bounds", "warn", "created periods have start < finish (offenders rejected)"),
    _check("unregistered_vehicle_updates", "warn", "updated vehicles were registered"),
    _check("delete_without_create", "warn", "deleted periods were created"),
    _check("volume", "warn", "a rebuilt date has at least half the usual rows"),
    _check("freshness", "warn", "the feed delivered within 30 minutes", OPS_DATABASE),
]


#: staging's tables, created in prod; dev holds unkeyed scratch copies during a build
TABLES = [
    "stg_vehicle_events",
    "stg_operating_period_events",
    "stg_removed_duplicates",
    "stg_rejected_events",
]


#: the per-event table, partitioned by event date (a rebuilt date is swapped in whole)
PARTITIONED = "stg_vehicle_events"


def _ensure_prod(conn) -> None:
    """prod's tables and load log; an older installation's plain table is partitioned."""
    # load_seq first: the set-aside table is moved with the new table's columns
    add_missing_load_seq(conn, "prod", ["stg_vehicle_events", "stg_operating_period_events"])
    old = set_aside_unpartitioned(conn, "prod", PARTITIONED)
    execute_sql_file(conn, SQL_DIR / "schema.sql", schema="prod")
    if old is not None:
        move_into_partitions(conn, "prod", PARTITIONED, old)
    ensure_load_log(conn, "prod")


def ensure_schema(conn, dates: Iterable[date] = ()) -> None:
    """prod, and dev re-created empty (the vehicle events' tables for ``dates``)."""
    _ensure_prod(conn)
    recreate_scratch_tables(conn, [t for t in TABLES if t != PARTITIONED])
    create_scratch_partitions(conn, "prod", PARTITIONED, dates)


def pending(settings: Settings, dates: Iterable[date] = ()) -> Slice:
    """raw's loads staging has not published yet; ``dates`` are rebuilt whole."""
    with connect(settings, "raw_db") as raw, connect(settings, "staging_db") as stg:
        with stg.transaction():
            stg.execute("SELECT pg_advisory_xact_lock(hashtext('fleet.staging.prod'))")
            _ensure_prod(stg)
        return pending_slice(raw, "raw", stg, "prod", dates)


def build_dev(settings: Settings, cut: Slice, load_seq: int) -> None:
    """Refill dev.src_* with the slice of raw and rebuild the dev tables (one transaction)."""
    with connect(settings, "raw_db") as raw, connect(settings, "staging_db") as stg:
        with stg.transaction():
            stg.execute("SELECT pg_advisory_xact_lock(hashtext('fleet.staging.dev'))")
            ensure_schema(stg, cut.dates)
            execute_sql_file(stg, SQL_DIR / "src_tables.sql")
            # date by date: each read prunes to its date (see Slice.filter)
            for dataset, columns in SRC_COLUMNS.items():
                for part in cut.by_date():
                    query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
                        sql.SQL(", ").join(map(sql.Identifier, columns)),
                        sql.Identifier("raw", dataset),
                        part.filter(),
                    )
                    relay(
                        raw,
                        query,
                        stg,
                        sql.Identifier("dev", f"src_{dataset}"),
                        columns,
                        part.params(),
                        freeze=True,  # created in this transaction: no reader sets hint bits
                    )
            execute_sql_file(
                stg,
                SQL_DIR / "build_dev.sql",
                {"append_dates": cut.append, "load_seq": load_seq},
            )


def _counts(settings: Settings, dates: list[date]) -> dict[date, PartitionCounts]:
    counts = {d: PartitionCounts() for d in dates}
    with connect(settings, "staging_db") as conn:
        rows = conn.execute(read_sql(SQL_DIR / "partition_counts.sql")).fetchall()
    for day, kind, n in rows:
        c = counts.setdefault(day, PartitionCounts())
        if kind == "in":
            c.rows_in += n
        elif kind == "out":
            c.rows_out += n
        elif kind == "dup":
            c.duplicates_removed += n
        else:
            c.rejected += n
    return counts


def publish(
    settings: Settings, result: LayerResult, cut: Slice, load_seq: int, run_id: str
) -> None:
    """Replace prod's rebuilt dates and append the rest, log the load and move the
    watermark, atomically."""
    with connect(settings, "staging_db") as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('fleet.staging.prod'))")
            execute_sql_file(conn, SQL_DIR / "publish.sql", {"replace_dates": cut.replace})
            whole, appended = split_by_first_write(conn, "prod", PARTITIONED, cut)
            for day in whole:
                adopt_scratch_partition(conn, "prod", PARTITIONED, day)
            ensure_date_partitions(conn, "prod", PARTITIONED, appended)
            execute_sql_file(conn, SQL_DIR / "publish_appended.sql", {"append_dates": appended})
            rows = {d: c.rows_out for d, c in result.counts.items()}
            log_load(conn, "prod", load_seq, rows, result.appended, run_id)
            stage_accounting(conn, "prod", result, run_id)
            advance_watermark(conn, "prod", cut)


def build_staging(
    settings: Settings,
    run_id: str,
    *,
    dates: Iterable[date] = (),
    checks: list[Check] | None = None,
) -> LayerResult:
    """Write (dev), audit (checks), publish (prod) raw's new loads (``dates`` whole)."""
    ensure_ops_schema(settings)
    record_accounting(settings, "staging_db", "prod")  # a stopped run's
    cut = pending(settings, dates)
    result = LayerResult("staging", cut.dates, appended=set(cut.append))
    with audited(settings, run_id, "staging.build") as audit:
        if result.event_dates:
            with connect(settings, "staging_db") as conn:
                load_seq = next_load_seq(conn, "prod")
            build_dev(settings, cut, load_seq)
            result.counts = _counts(settings, result.event_dates)
            results = run_checks(
                settings,
                "staging",
                "staging_db",
                CHECKS if checks is None else checks,
                run_id=run_id,
                dates=result.event_dates,
                params={"append_dates": cut.append},
            )
            gate("staging", results, result.event_dates)
            publish(settings, result, cut, load_seq, run_id)
            record_accounting(settings, "staging_db", "prod")
        totals = result.totals()
        audit.rows_in, audit.rows_out = totals.rows_in, totals.rows_out
        audit.rows_rejected = totals.rejected
        audit.details = result.as_dict()
    return result
