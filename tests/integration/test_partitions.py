"""Day-partition helpers on the real server."""

from __future__ import annotations

from datetime import date

from dwh_pipelines.partitions import analyze_if_grown, ensure_date_partitions
from pipeline_core.db import connect

DAY = date(2019, 6, 2)


def _rows_in_statistics(conn) -> float:
    return conn.execute(
        "SELECT reltuples FROM pg_catalog.pg_class"
        " WHERE oid = 'scratch_analyze_partitions.points_20190602'::regclass"
    ).fetchone()[0]


def test_a_day_is_analysed_when_a_load_grew_it_by_a_tenth(platform):
    """A new day, or a load that grows a day by more than a tenth, is analysed at once; a
    small append to a large day is left to autovacuum."""
    with connect(platform, "semantic_db") as conn:
        conn.execute("DROP SCHEMA IF EXISTS scratch_analyze CASCADE")
        conn.execute("DROP SCHEMA IF EXISTS scratch_analyze_partitions CASCADE")
        conn.execute("CREATE SCHEMA scratch_analyze")
        conn.execute(
            "CREATE TABLE scratch_analyze.points (day date NOT NULL, n integer)"
            " PARTITION BY RANGE (day)"
        )
        ensure_date_partitions(conn, "scratch_analyze", "points", [DAY])
        conn.commit()

        def load(rows: int) -> bool:
            with conn.transaction():
                conn.execute(
                    "INSERT INTO scratch_analyze.points SELECT %s, g FROM generate_series(1, %s) g",
                    (DAY, rows),
                )
                return analyze_if_grown(conn, "scratch_analyze", "points", DAY)

        try:
            assert load(100_000) and _rows_in_statistics(conn) == 100_000  # never analysed
            assert load(50_000) and _rows_in_statistics(conn) == 150_000  # a third more
            assert not load(5_000) and _rows_in_statistics(conn) == 150_000  # 3 %: autovacuum's
        finally:
            conn.execute("DROP SCHEMA scratch_analyze CASCADE")
            conn.execute("DROP SCHEMA scratch_analyze_partitions CASCADE")
            conn.commit()
