"""dwh_db (L4): the star copied from semantic prod, the marts, and user-access views.

The star's tables are small (dimensions and aggregate facts), so each run replaces them
and rebuilds the marts in one transaction: analysts never see a half-built mart.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

from psycopg import sql

from dwh_pipelines.governance.privacy import pseudonymise_vehicle_ids
from dwh_pipelines.partitions import LayerResult, PartitionCounts, dirty_dates, record_partitions
from dwh_pipelines.semantic import create_model_tables
from dwh_pipelines.transfer import relay
from pipeline_core.audit import audited, ensure_ops_schema
from pipeline_core.db import connect, execute_sql_file, read_sql
from pipeline_core.settings import Settings

SQL_DIR = Path(__file__).parent / "sql" / "dwh"
STAR_TABLES = [
    "dim_organization",
    "dim_vehicle",
    "dim_operating_period",
    "dim_date",
    "fact_vehicle_period_distance",
    "fact_client_daily_activity",
]
PATH_COLUMNS = [
    "organization_id",
    "vehicle_id",
    "seq",
    "location_at",
    "location_lat",
    "location_lng",
]


def _columns(conn, schema: str, table: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            """SELECT column_name FROM information_schema.columns
                WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position""",
            (schema, table),
        )
    ]


def build_dwh(settings: Settings, run_id: str, *, dates: Iterable[date] = ()) -> LayerResult:
    """Copy the published star and rebuild every mart, atomically."""
    ensure_ops_schema(settings)
    result = LayerResult("dwh", dirty_dates(settings, "dwh", dates))
    with audited(settings, run_id, "dwh.build") as audit:
        if result.event_dates:
            with connect(settings, "semantic_db") as sem, connect(settings, "dwh_db") as dwh:
                with dwh.transaction():
                    dwh.execute("SELECT pg_advisory_xact_lock(hashtext('fleet.dwh'))")
                    create_model_tables(dwh, "star", STAR_TABLES)
                    execute_sql_file(dwh, SQL_DIR / "schema.sql")
                    dwh.execute("SET CONSTRAINTS ALL DEFERRED")
                    for table in reversed(STAR_TABLES):
                        dwh.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier("star", table)))
                    copied = 0
                    for table in STAR_TABLES:
                        cols = _columns(dwh, "star", table)
                        query = sql.SQL("SELECT {} FROM {}").format(
                            sql.SQL(", ").join(map(sql.Identifier, cols)),
                            sql.Identifier("prod", table),
                        )
                        copied += relay(sem, query, dwh, sql.Identifier("star", table), cols)
                    dwh.execute("TRUNCATE marts.latest_updates_on_top1_client")
                    relay(
                        sem,
                        sql.SQL(read_sql(SQL_DIR / "latest_path_source.sql")),
                        dwh,
                        sql.Identifier("marts", "latest_updates_on_top1_client"),
                        PATH_COLUMNS,
                    )
                    execute_sql_file(dwh, SQL_DIR / "build_marts.sql")
                    dwh.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check the star's keys now
                    execute_sql_file(dwh, SQL_DIR / "indexes.sql")
                    # analysts read the marts: their vehicle ids are pseudonymised before
                    # the commit, so no reader ever sees a rebuilt mart with real ids
                    # (governance_apply does it again, finding nothing new)
                    pseudonymise_vehicle_ids(settings, conn=dwh)
                    # the star is copied whole, so its row count belongs to the run, not to
                    # a date; ops is in this database, so the record commits with the marts,
                    # marked with the transaction's start, from before semantic was read
                    result.counts = {d: PartitionCounts() for d in result.event_dates}
                    started = dwh.execute("SELECT now()").fetchone()[0]
                    record_partitions(dwh, result, run_id, started)
            audit.rows_out = copied
        audit.details = result.as_dict()
    return result
