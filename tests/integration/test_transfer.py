"""Bulk movement between databases: every row arrives, and a failure on either side raises
and leaves both connections usable (real embedded PostgreSQL)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from dwh_pipelines.transfer import relay
from pipeline_core.db import connect


def test_relay_moves_every_row_across_blocks(stack):
    with connect(stack, "raw_db") as src, connect(stack, "staging_db") as dst:
        dst.execute("CREATE TEMP TABLE t (a int, b text)")
        query = sql.SQL("SELECT g, repeat('x', g %% 50) FROM generate_series(1, %(n)s) g")
        rows = relay(
            src, query, dst, sql.Identifier("t"), ["a", "b"], {"n": 30_000}, block_bytes=999
        )
        assert rows == 30_000
        assert dst.execute("SELECT count(*), sum(a), sum(length(b)) FROM t").fetchone() == (
            30_000,
            450_015_000,
            sum(g % 50 for g in range(1, 30_001)),
        )


@pytest.mark.parametrize(
    ("query", "target_b", "error"),
    [
        # the source fails midway, after some blocks went to the target
        (
            "SELECT g, (1 / (g - 20000))::text FROM generate_series(1, 30000) g",
            "text",
            psycopg.errors.DivisionByZero,
        ),
        # the source fails before its first row
        (
            "SELECT g, repeat('x', 100)::int::text FROM generate_series(1, 3000000) g",
            "text",
            psycopg.errors.InvalidTextRepresentation,
        ),
        # the target (an int column for text) rejects the first block while the source
        # still streams: the source is stopped
        (
            "SELECT g, repeat('x', 100) FROM generate_series(1, 3000000) g",
            "int",
            psycopg.errors.InvalidBinaryRepresentation,
        ),
    ],
    ids=["source-fails", "source-fails-at-once", "target-fails"],
)
def test_a_failure_on_either_side_raises_and_leaves_both_usable(stack, query, target_b, error):
    with connect(stack, "raw_db") as src, connect(stack, "staging_db") as dst:
        dst.execute(sql.SQL("CREATE TEMP TABLE t (a int, b {})").format(sql.SQL(target_b)))
        with pytest.raises(error):
            relay(src, sql.SQL(query), dst, sql.Identifier("t"), ["a", "b"])
        src.rollback()
        dst.rollback()
        assert src.execute("SELECT 1").fetchone() == (1,)
        assert dst.execute("SELECT 2").fetchone() == (2,)
