"""The per-date accounting (ops.layer_partitions, ops.lake_batches): replaced dates restate
it, appended dates add to it, retention marks what it deleted, and a date retention expired
starts again when it is loaded."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from dwh_pipelines.governance.privacy import _mark_expired
from dwh_pipelines.partitions import (
    LayerResult,
    PartitionCounts,
    ensure_load_log,
    record_accounting,
    record_partitions,
    stage_accounting,
)
from pipeline_core.audit import ensure_ops_schema
from pipeline_core.db import connect
from pipeline_core.settings import OPS_DATABASE
from tests.helpers import query

pytestmark = pytest.mark.integration

DAY = date(2019, 6, 1)


def _record(settings, rows_out: int, *, appended: bool) -> None:
    result = LayerResult(
        "staging",
        [DAY],
        {DAY: PartitionCounts(rows_in=rows_out + 1, rows_out=rows_out, duplicates_removed=1)},
        {DAY} if appended else set(),
    )
    with connect(settings, OPS_DATABASE) as conn:
        record_partitions(conn, result, "test")


def _accounting(settings) -> tuple:
    with connect(settings, OPS_DATABASE) as conn:
        return conn.execute(
            "SELECT rows_in, rows_out, duplicates_removed, expired_at IS NOT NULL"
            " FROM ops.layer_partitions WHERE layer = 'staging' AND event_date = %s",
            (DAY,),
        ).fetchone()


def test_appends_add_up_and_an_expired_date_starts_again(platform):
    ensure_ops_schema(platform)
    _record(platform, 10, appended=False)
    _record(platform, 5, appended=True)
    assert _accounting(platform) == (17, 15, 2, False)
    _record(platform, 7, appended=False)
    assert _accounting(platform) == (8, 7, 1, False)

    with connect(platform, OPS_DATABASE) as conn:  # as retention marks a dropped date
        conn.execute("UPDATE ops.layer_partitions SET expired_at = now()")
    assert _accounting(platform) == (8, 7, 1, True)
    # a late delivery appended to the expired date: its old rows are gone, so are its counts
    _record(platform, 3, appended=True)
    assert _accounting(platform) == (4, 3, 1, False)


def test_retention_marks_the_accounting_of_what_it_deleted(platform):
    ensure_ops_schema(platform)
    with connect(platform, OPS_DATABASE) as conn:
        conn.execute("""INSERT INTO ops.lake_batches (batch_id, run_id, converted_at, event_dates)
               VALUES ('old', 't', now(), '{2019-05-31,2019-06-01}'),
                      ('straddling', 't', now(), '{2019-06-01,2019-06-02}'),
                      ('open', 't', NULL, '{2019-05-01}')""")
        conn.execute("""INSERT INTO ops.layer_partitions (layer, event_date, loaded_at, run_id)
               VALUES ('raw', '2019-06-01', now(), 't'), ('raw', '2019-06-02', now(), 't')""")
    assert _mark_expired(platform, date(2019, 6, 2)) == {
        "ops.layer_partitions": 1,
        "ops.lake_batches": 1,
    }
    with connect(platform, OPS_DATABASE) as conn:
        expired = conn.execute(
            "SELECT batch_id FROM ops.lake_batches WHERE expired_at IS NOT NULL"
            " UNION ALL SELECT event_date::text FROM ops.layer_partitions"
            " WHERE expired_at IS NOT NULL"
        ).fetchall()
    assert sorted(expired) == [("2019-06-01",), ("old",)]
    # marking again changes nothing
    assert set(_mark_expired(platform, date(2019, 6, 2)).values()) == {0}


def test_a_staged_accounting_is_recorded_once_even_when_its_delete_was_lost(platform):
    """Staged in the layer's database with its publish, moved into ops by the next
    ``record_accounting``. One whose ops transaction committed but whose delete there did
    not (a stop in between) is deleted without being applied again."""
    ensure_ops_schema(platform)
    with connect(platform, "staging_db") as conn:
        conn.execute("CREATE SCHEMA prod")
        ensure_load_log(conn, "prod")
        for rows_out in (10, 5):
            result = LayerResult(
                "staging", [DAY], {DAY: PartitionCounts(rows_in=rows_out, rows_out=rows_out)}
            )
            if rows_out == 5:
                result.appended.add(DAY)
            stage_accounting(conn, "prod", result, "test")
        conn.commit()
    assert record_accounting(platform, "staging_db", "prod") == 2
    assert _accounting(platform) == (15, 15, 0, False)

    with connect(platform, "staging_db") as conn:
        appended = LayerResult(
            "staging", [DAY], {DAY: PartitionCounts(rows_in=3, rows_out=3)}, {DAY}
        )
        stage_accounting(conn, "prod", appended, "test")
        (outbox_id,) = conn.execute("SELECT id FROM prod.unrecorded_accounting").fetchone()
        conn.commit()
    with connect(platform, OPS_DATABASE) as conn:  # as if ops took it and the run stopped
        record_partitions(conn, appended, "test")
        conn.execute(
            "INSERT INTO ops.recorded_accounting (outbox_id, source) VALUES (%s, %s)",
            (outbox_id, "staging_db.prod"),
        )
    assert _accounting(platform) == (18, 18, 0, False)
    assert record_accounting(platform, "staging_db", "prod") == 1
    assert _accounting(platform) == (18, 18, 0, False)  # not added twice
    assert query(platform, "staging_db", "SELECT count(*) FROM prod.unrecorded_accounting") == [
        (0,)
    ]
    assert query(platform, OPS_DATABASE, "SELECT count(*) FROM ops.recorded_accounting") == [(0,)]


def test_concurrent_recorders_apply_each_staged_accounting_once(platform):
    """Two builds of a layer may start at once (a single-layer DAG beside main_dag): both
    replay what is staged, and each staged accounting still counts once."""
    ensure_ops_schema(platform)
    with connect(platform, "staging_db") as conn:
        conn.execute("CREATE SCHEMA prod")
        ensure_load_log(conn, "prod")
        for _ in range(20):
            one = LayerResult("staging", [DAY], {DAY: PartitionCounts(1, 1)}, {DAY})
            stage_accounting(conn, "prod", one, "test")
        conn.commit()
    with ThreadPoolExecutor(max_workers=2) as pool:
        moved = list(pool.map(lambda _: record_accounting(platform, "staging_db", "prod"), [1, 2]))
    assert sum(moved) == 20
    assert _accounting(platform) == (20, 20, 0, False)
