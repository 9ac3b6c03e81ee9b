"""Freshness: the lag of dwh_db behind the feed is measured through every stage, and a
lag over the limit fails with a message naming the oldest object (the failure alerts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from psycopg import sql

from data_lake.convert import convert
from data_lake.extract import extract
from dwh_pipelines.maintenance.__main__ import main as maintenance_cli
from dwh_pipelines.maintenance.freshness import (
    SQL,
    FreshnessError,
    check_freshness,
    measure_freshness,
)
from pipeline_core.audit import ensure_ops_schema
from pipeline_core.db import connect, read_sql
from tests.helpers import line, put_source, query, run_pipeline, seed_simulated

pytestmark = pytest.mark.integration

LATE = "2019-06-01-23-59-0-events.json"


def _late_object() -> dict[str, bytes]:
    data = {"id": "v-late", "location": {"lat": 52.5, "lng": 13.4, "at": "2019-06-01T23:59:00Z"}}
    return {LATE: line("update", "vehicle", "2019-06-01T23:59:00Z", data) + b"\n"}


def test_lag_follows_an_object_through_the_stages(platform):
    seed_simulated(platform, vehicles=2, hours=0.05, organizations=1, seed=3)
    run_pipeline(platform, "fresh-1")
    fresh = measure_freshness(platform)
    assert fresh.pending_objects == 0 and fresh.lag == timedelta(0)
    assert fresh.dwh_published_at is not None

    put_source(platform, _late_object())
    pending = measure_freshness(platform)
    assert pending.pending_objects == 1 and pending.oldest_pending_key.endswith(LATE)
    extract(platform, "fresh-2")
    assert measure_freshness(platform).pending_objects == 1  # landed, not in dwh_db yet
    convert(platform, "fresh-2")
    assert measure_freshness(platform).pending_objects == 1  # converted, not published
    run_pipeline(platform, "fresh-3")
    assert measure_freshness(platform).pending_objects == 0


def test_lag_over_the_limit_fails_naming_the_oldest_object(platform, capsys):
    put_source(platform, _late_object())
    in_time = check_freshness(platform, "fresh-ok")
    assert in_time["pending_objects"] == 1 and in_time["lag_minutes"] < 30

    later = datetime.now(UTC) + timedelta(minutes=45)
    with pytest.raises(FreshnessError, match=r"lags the feed by 4[45] min .* 1 source objects"):
        check_freshness(platform, "fresh-late", now=later)
    audit = query(
        platform,
        "dwh_db",
        "SELECT run_id, status, error FROM ops.task_runs WHERE stage = 'ops.freshness'"
        " ORDER BY id",
    )
    assert [(r[0], r[1]) for r in audit] == [("fresh-ok", "success"), ("fresh-late", "failed")]
    assert LATE in audit[-1][2]

    # the CLI (make freshness) exits 1 with the reason when the limit is 0 minutes
    assert maintenance_cli(["freshness", "--max-lag-minutes", "0"]) == 1
    assert "lags the feed" in capsys.readouterr().err


def test_the_manifest_is_read_by_batch_not_whole(platform):
    """The manifest holds every object ever delivered: the freshness check (every 10
    minutes) and convert (every batch) read only the objects they need, by index."""
    ensure_ops_schema(platform)
    with connect(platform, "dwh_db") as conn:
        conn.execute(
            "CREATE TEMP TABLE listing (source_key text, etag text, last_modified timestamptz)"
        )
        conn.execute("SET enable_seqscan = off")
        for statement in (
            sql.SQL(read_sql(SQL)),
            sql.SQL("SELECT source_key FROM ops.lake_objects WHERE batch_id = 'b'"),
        ):
            plan = "\n".join(r[0] for r in conn.execute(sql.SQL("EXPLAIN {}").format(statement)))
            assert "Seq Scan on lake_objects" not in plan, plan
