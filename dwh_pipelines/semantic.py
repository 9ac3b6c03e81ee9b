"""semantic_db (L3): the Kimball model and the business rules, with write-audit-publish.

Inputs are streamed from staging_db prod: the vehicle events of staging's loads after the
watermark (dates replaced whole, or the rows appended to a date), and every lifecycle and
operating-period event (small, and a delete may arrive days after its create). Facts are
rebuilt for every operating period that a replaced date touches or whose definition
changed, so a period that spans midnight is always computed whole. A period that new
positions fall in is continued instead when each of its tracks can be (every new position
after every position the pair had): the tracks go on from their last accepted points, so a
15-minute load computes the points of those 15 minutes, not the periods' whole tracks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from uuid import UUID

from psycopg import sql

from dwh_pipelines.partitions import (
    LayerResult,
    PartitionCounts,
    Slice,
    adopt_part_days,
    adopt_scratch_partition,
    advance_watermark,
    analyze_if_grown,
    create_part_days,
    create_scratch_partitions,
    day_key,
    ensure_date_partitions,
    ensure_load_log,
    key_day,
    move_into_partitions,
    partition_days,
    pending_slice,
    record_accounting,
    scratch_partition,
    set_aside_unpartitioned,
    split_by_first_write,
    stage_accounting,
)
from dwh_pipelines.quality import Check, gate, run_checks
from dwh_pipelines.transfer import relay
from pipeline_core.audit import audited, ensure_ops_schema
from pipeline_core.db import (
    connect,
    create_scratch_parts,
    execute_sql_file,
    part_name,
    read_sql,
    recreate_scratch_tables,
    run_in_sessions,
    split_ranges,
)
from pipeline_core.settings import Settings

SQL_DIR = Path(__file__).parent / "sql" / "semantic"
CHECKS_DIR = SQL_DIR / "checks"


def _check(name: str, severity: str, description: str) -> Check:
    return Check(name, severity, description, CHECKS_DIR / f"{name}.sql")


CHECKS = [
    _check("counted_periods_only", "block", "only created, not deleted periods carry distance"),
    _check("points_inside_period", "block", "every point lies in [start, finish) of its period"),
    _check("step_speed_limit", "block", "no accepted step exceeds the GPS-jump speed limit"),
    _check("distance_sane", "block", "pair distance = sum of its steps, at least one point"),
    _check("orphan_facts", "block", "facts reference existing dimension rows"),
    _check("inferred_vehicles", "warn", "vehicles with positions were registered"),
    _check("gps_jumps", "warn", "no GPS jumps were dropped"),
]

#: Rule: only updates with coordinates and a position time can count. Relayed date by date
#: into the date's dev table (see create_scratch_partitions), in time order: the (time,
#: organization) btree is then built without sorting, and a timestamp sorts several times
#: faster than the text organization id leading a key (too few values for abbreviated keys).
_UPDATES_COLUMNS = [
    "event_key",
    "organization_id",
    "vehicle_id",
    "location_lat",
    "location_lng",
    "location_at",
    "event_at",
    "event_date",
]
_UPDATES_QUERY = (
    "SELECT {cols} FROM prod.stg_vehicle_events"
    " WHERE ({slice}) AND event = 'update' AND has_location"
    " ORDER BY location_at"
)

#: the slice's vehicle events counted per date, into dev.src_vehicle_dates
_DATES_COLUMNS = ["event_date", "vehicle_events", "first_event_at", "last_event_at"]
_DATES_QUERY = (
    "SELECT event_date, count(*), min(event_at), max(event_at) FROM prod.stg_vehicle_events"
    " WHERE ({slice}) GROUP BY event_date"
)

#: every run's small inputs, whole; the lifecycle events of every date through staging's
#: partial index (stg_vehicle_events_lifecycle), not a scan of every published date
_INPUTS = [
    (
        "src_lifecycle_events",
        ["event", "organization_id", "vehicle_id", "event_at"],
        "SELECT {cols} FROM prod.stg_vehicle_events WHERE event IN ('register', 'deregister')",
    ),
    (
        "src_operating_period_events",
        ["event", "organization_id", "period_id", "event_at", "period_start", "period_finish"],
        "SELECT {cols} FROM prod.stg_operating_period_events",
    ),
]


#: the model's tables, dimensions before the facts that reference them
MODEL_TABLES = [
    "int_vehicle_updates",
    "int_vehicle_daily_updates",
    "int_period_daily_distance",
    "dim_organization",
    "dim_vehicle",
    "dim_operating_period",
    "dim_date",
    "fact_vehicle_location",
    "fact_vehicle_period_distance",
    "fact_client_daily_activity",
]


def create_model_tables(conn, schema: str, tables: list[str] = MODEL_TABLES) -> None:
    """Create the model's tables in ``schema`` (the one definition, reused by dwh_db)."""
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    for table in tables:
        execute_sql_file(conn, SQL_DIR / "tables" / f"{table}.sql", schema=schema)


#: the dimensions and their keys: publish replaces only the rows that changed
DIMENSION_KEYS = {
    "dim_organization": "organization_key",
    "dim_vehicle": "vehicle_key",
    "dim_operating_period": "period_key",
    "dim_date": "date_key",
}

#: the per-point tables, partitioned by day (a day written whole is swapped in)
PARTITIONED = ["int_vehicle_updates", "fact_vehicle_location"]

#: built in dev as one table per event date, which publish moves into prod as it is
UPDATES = "int_vehicle_updates"

#: the tracks' tables, written by parallel sessions (one part each, split by period)
TRACKS = {"fact_vehicle_location": "period_key", "fact_vehicle_period_distance": "period_key"}
#: the points: each part a table per day, which publish moves into prod as it is
POINTS, POINTS_DAY = "fact_vehicle_location", "date_key"


def _ensure_prod(conn) -> None:
    """prod's model and load log; an older installation's plain per-point tables are
    partitioned."""
    execute_sql_file(conn, SQL_DIR / "functions.sql")
    conn.execute("CREATE SCHEMA IF NOT EXISTS prod")
    old = {table: set_aside_unpartitioned(conn, "prod", table) for table in PARTITIONED}
    create_model_tables(conn, "prod")
    for table, name in old.items():
        if name is not None:
            move_into_partitions(conn, "prod", table, name)
    execute_sql_file(conn, SQL_DIR / "fill_intermediates.sql")
    ensure_load_log(conn, "prod")


def ensure_schema(conn, dates: Iterable[date] = ()) -> None:
    """prod, and dev re-created empty (the updates' tables for ``dates``; the tracks' tables
    get their parts once the build knows its periods, see ``_split_tracks``)."""
    _ensure_prod(conn)
    tables = [t for t in MODEL_TABLES if t != UPDATES]
    recreate_scratch_tables(conn, tables, split_by=TRACKS)
    create_scratch_partitions(conn, "prod", UPDATES, dates)


@dataclass(frozen=True)
class TrackSplit:
    """How the tracks' sessions share the affected periods: part n takes the period keys
    from ``split_at[n - 1]`` to before ``split_at[n]`` (open at both ends), and writes its
    points into a table per day of ``days``."""

    split_at: list[UUID]
    days: list[date]

    @property
    def parts(self) -> int:
        return len(self.split_at) + 1


def _split_tracks(conn, sessions: int) -> TrackSplit:
    """Cut the affected periods into up to ``sessions`` parts of about equal estimated
    points, and make the tracks' tables' parts (dev.track_period_days, built with the
    dimensions, holds the estimate and the days)."""
    split_at = [
        key for (key,) in conn.execute(read_sql(SQL_DIR / "track_split.sql"), {"parts": sessions})
    ]
    days = [key_day(k) for (k,) in conn.execute(read_sql(SQL_DIR / "track_days.sql"))]
    for table in TRACKS:
        create_scratch_parts(conn, table, split_at, by=POINTS_DAY if table == POINTS else None)
    return TrackSplit(split_at, days)


def pending(settings: Settings, dates: Iterable[date] = ()) -> Slice:
    """staging's loads semantic has not published yet; ``dates`` are rebuilt whole."""
    with connect(settings, "staging_db") as stg, connect(settings, "semantic_db") as sem:
        with sem.transaction():
            sem.execute("SELECT pg_advisory_xact_lock(hashtext('fleet.semantic.prod'))")
            _ensure_prod(sem)
        return pending_slice(stg, "prod", sem, "prod", dates)


def build_dev(settings: Settings, cut: Slice) -> TrackSplit:
    """Stream inputs from staging prod and build the dev model in three steps: inputs and
    dimensions (one transaction), the tracks (up to ``settings.db_sessions`` sessions at
    once, each on its part of the periods), the daily facts (one transaction). Returns how
    the tracks were split, which publish needs to move their days into prod."""
    params = {"dates": cut.replace, "max_kmh": settings.max_speed_kmh}
    with connect(settings, "staging_db") as stg, connect(settings, "semantic_db") as sem:
        # held by the session, across the steps' transactions, until it closes
        with sem.transaction():
            sem.execute("SELECT pg_advisory_lock(hashtext('fleet.semantic.dev'))")
        with sem.transaction():
            ensure_schema(sem, cut.dates)
            # prod's updates the build reads: named by date, so the scans skip the
            # partitions of the dates rebuilt whole (a date filter with <> prunes none)
            published = partition_days(sem, "prod", UPDATES)
            params["kept_dates"] = [d for d in published if d not in cut.replace]
            execute_sql_file(sem, SQL_DIR / "src_tables.sql")
            # the updates are read in time order: a day's sort in memory, not in temp files
            stg.execute("SET work_mem = '256MB'")
            # date by date: each read prunes to its date (see Slice.filter); frozen: the
            # tables were created in this transaction, and a reader then sets no hint bits,
            # which with data checksums rewrite every page to WAL
            for part in cut.by_date():
                (day,) = part.dates
                for target, columns, query in (
                    (scratch_partition(UPDATES, day), _UPDATES_COLUMNS, _UPDATES_QUERY),
                    (sql.Identifier("dev", "src_vehicle_dates"), _DATES_COLUMNS, _DATES_QUERY),
                ):
                    select = sql.SQL(query).format(
                        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
                        slice=part.filter(),
                    )
                    relay(stg, select, sem, target, columns, part.params(), freeze=True)
            for table, columns, query in _INPUTS:
                select = sql.SQL(query).format(
                    cols=sql.SQL(", ").join(map(sql.Identifier, columns))
                )
                target = sql.Identifier("dev", table)
                relay(stg, select, sem, target, columns, freeze=True)
            execute_sql_file(sem, SQL_DIR / "build_dimensions.sql", params)
            split = _split_tracks(sem, settings.db_sessions)

        def tracks(conn, part: int) -> None:
            create_part_days(conn, "prod", POINTS, part, split.split_at, split.days)
            low, high = split_ranges(split.split_at)[part]
            part_params = {**params, "low": low, "high": high}
            points = part_name(POINTS, part)
            execute_sql_file(conn, SQL_DIR / "build_tracks.sql", part_params)
            # the recomputed tracks, then the continued ones: one statement each, so the
            # recomputed periods' plan (a sort per period) is not mixed with another source
            for source in ("period_points", "continued_points"):
                execute_sql_file(
                    conn, SQL_DIR / "track_points.sql", params, points=points, source=source
                )
            execute_sql_file(
                conn,
                SQL_DIR / "track_pairs.sql",
                part_params,
                points=points,
                pairs=part_name("fact_vehicle_period_distance", part),
            )

        run_in_sessions(settings, "semantic_db", split.parts, tracks)
        with sem.transaction():
            execute_sql_file(sem, SQL_DIR / "build_activity.sql", params)
        return split


def _counts(settings: Settings, dates: list[date]) -> dict[date, PartitionCounts]:
    counts = {d: PartitionCounts() for d in dates}
    with connect(settings, "semantic_db") as conn:
        for day, rows_in, rows_out in conn.execute(
            """SELECT s.event_date, s.vehicle_events, coalesce(u.n, 0)
                 FROM dev.src_vehicle_dates s
                 LEFT JOIN (SELECT event_date, sum(updates)::bigint AS n
                              FROM dev.int_vehicle_daily_updates GROUP BY 1) u
                        USING (event_date)"""
        ):
            counts[day] = PartitionCounts(rows_in=rows_in, rows_out=rows_out)
    return counts


@dataclass(frozen=True)
class _PublishDays:
    """How publish writes each per-point table's days: a date rebuilt or published for the
    first time, and a location day whose every point is recomputed, is swapped in whole;
    the others take rows through the parent."""

    whole_updates: list[date]
    added_updates: list[date]
    whole_locations: list[date]
    #: touched location days not written whole: their affected rows are deleted
    partial_locations: list[date]
    #: of those, the days that take new rows (a partition is created if need be)
    added_locations: list[date]


def _partition_days(conn, cut: Slice) -> _PublishDays:
    whole_updates, added_updates = split_by_first_write(conn, "prod", "int_vehicle_updates", cut)
    touched = conn.execute(read_sql(SQL_DIR / "touched_location_days.sql")).fetchall()
    new_points = conn.execute("SELECT DISTINCT date_key FROM dev.int_period_daily_distance")
    partial = [key_day(k) for k, whole in touched if not whole]
    return _PublishDays(
        whole_updates=whole_updates,
        added_updates=added_updates,
        whole_locations=[key_day(k) for k, whole in touched if whole],
        partial_locations=partial,
        added_locations=sorted({key_day(k) for (k,) in new_points} & set(partial)),
    )


def publish(
    settings: Settings, cut: Slice, split: TrackSplit, result: LayerResult, run_id: str
) -> None:
    """Replace the affected facts, the rebuilt dates' updates and the dimensions, append
    the new updates, move the watermark and stage the accounting, atomically (``split``:
    how build_dev wrote the tracks)."""
    with connect(settings, "semantic_db") as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('fleet.semantic.prod'))")
            days = _partition_days(conn, cut)
            ensure_date_partitions(conn, "prod", "int_vehicle_updates", days.added_updates)
            ensure_date_partitions(conn, "prod", "fact_vehicle_location", days.added_locations)
            params = {
                "dates": cut.replace,
                "whole_update_dates": days.whole_updates,
                "whole_location_days": [day_key(d) for d in days.whole_locations],
                "partial_location_days": [day_key(d) for d in days.partial_locations],
            }
            execute_sql_file(conn, SQL_DIR / "publish.sql", params)
            for table, key in DIMENSION_KEYS.items():
                execute_sql_file(conn, SQL_DIR / "publish_dimension.sql", table=table, key=key)
            for day in days.whole_updates:
                adopt_scratch_partition(conn, "prod", UPDATES, day)
            for day in days.whole_locations:
                adopt_part_days(conn, "prod", POINTS, day, split.split_at)
            for table, added in (
                ("int_vehicle_updates", days.added_updates),
                ("fact_vehicle_location", days.added_locations),
            ):
                for day in added:
                    analyze_if_grown(conn, "prod", table, day)
            advance_watermark(conn, "prod", cut)
            stage_accounting(conn, "prod", result, run_id)


def build_semantic(
    settings: Settings,
    run_id: str,
    *,
    dates: Iterable[date] = (),
    checks: list[Check] | None = None,
) -> LayerResult:
    """Write (dev), audit (checks), publish (prod) the semantic model for staging's new
    loads (``dates`` rebuilt whole)."""
    ensure_ops_schema(settings)
    record_accounting(settings, "semantic_db", "prod")  # a stopped run's
    cut = pending(settings, dates)
    result = LayerResult("semantic", cut.dates, appended=set(cut.append))
    with audited(settings, run_id, "semantic.build") as audit:
        if result.event_dates:
            split = build_dev(settings, cut)
            result.counts = _counts(settings, result.event_dates)
            results = run_checks(
                settings,
                "semantic",
                "semantic_db",
                CHECKS if checks is None else checks,
                run_id=run_id,
                dates=result.event_dates,
                params={"max_kmh": settings.max_speed_kmh},
            )
            gate("semantic", results, result.event_dates)
            publish(settings, cut, split, result, run_id)
            record_accounting(settings, "semantic_db", "prod")
        totals = result.totals()
        audit.rows_in, audit.rows_out = totals.rows_in, totals.rows_out
        audit.details = result.as_dict()
    return result
