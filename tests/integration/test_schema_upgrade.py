"""A warehouse made by an earlier release takes the current schema files as they are."""

from __future__ import annotations

from psycopg import sql

from pipeline_core.audit import OPS_SCHEMA_SQL, ensure_ops_schema
from pipeline_core.db import connect, execute_sql_file
from pipeline_core.settings import OPS_DATABASE

#: columns the ops schema adds to tables of earlier releases (its DO block)
ADDED_COLUMNS = [("layer_partitions", "expired_at"), ("lake_batches", "expired_at")]


def _columns(conn, table: str) -> set[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = 'ops' AND table_name = %s",
        (table,),
    ).fetchall()
    return {name for (name,) in rows}


def test_the_ops_schema_applies_over_tables_from_before_retention(platform):
    """The ops tables of a release before retention marked what it deleted lack
    ``expired_at``; the schema file adds it before anything (a comment) names it. Run in
    one transaction that is rolled back, so the shared stack keeps its schema."""
    ensure_ops_schema(platform)
    with connect(platform, OPS_DATABASE) as conn:
        try:
            for table, column in ADDED_COLUMNS:
                conn.execute(
                    sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(
                        sql.Identifier("ops", table), sql.Identifier(column)
                    )
                )
            execute_sql_file(conn, OPS_SCHEMA_SQL)
            for table, column in ADDED_COLUMNS:
                assert column in _columns(conn, table), table
        finally:
            conn.rollback()
