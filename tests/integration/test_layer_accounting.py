"""The per-date accounting (ops.layer_partitions, ops.lake_batches): replaced dates restate
it, appended dates add to it, retention marks what it deleted, and a date retention expired
starts again when it is loaded."""

from __future__ import annotations

from datetime import date

import pytest

from dwh_pipelines.governance.privacy import _mark_expired
from dwh_pipelines.partitions import LayerResult, PartitionCounts, record_partitions
from pipeline_core.audit import ensure_ops_schema
from pipeline_core.db import connect
from pipeline_core.settings import OPS_DATABASE

pytestmark = pytest.mark.integration

DAY = date(2019, 6, 1)


def _record(settings, rows_out: int, *, appended: bool) -> None:
    result = LayerResult(
        "staging",
        [DAY],
        {DAY: PartitionCounts(rows_in=rows_out + 1, rows_out=rows_out, duplicates_removed=1)},
        {DAY} if appended else set(),
    )
    record_partitions(settings, result, "test")


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
