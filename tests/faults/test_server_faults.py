"""Server faults: S3 unreachable, PostgreSQL killed mid-load. Nothing half-written."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import psycopg
import pytest
from botocore.exceptions import EndpointConnectionError

from data_lake.convert import convert
from data_lake.extract import extract
from data_lake.simulate import SimulationConfig, generate_feed
from dwh_pipelines.raw import load_raw
from pipeline_core import stack
from pipeline_core.settings import S3Target
from tests.helpers import (
    put_source,
    query,
    reset_platform,
    run_pipeline,
    seed_simulated,
    snapshot,
)

pytestmark = pytest.mark.integration


def test_s3_unreachable_fails_clearly_and_the_next_run_completes(platform):
    feed = seed_simulated(platform, vehicles=2, hours=0.05, organizations=1, seed=21)
    dead = dataclasses.replace(
        platform,
        s3=S3Target("http://127.0.0.1:9", platform.s3.access_key, platform.s3.secret_key),
    )
    with pytest.raises(EndpointConnectionError, match="127.0.0.1:9"):
        extract(dead, "outage")
    assert query(platform, "dwh_db", "SELECT count(*) FROM ops.lake_objects") == [(0,)]
    audit = query(
        platform, "dwh_db", "SELECT status, error FROM ops.task_runs WHERE run_id = 'outage'"
    )
    assert audit[0][0] == "failed" and "127.0.0.1:9" in audit[0][1]

    result = run_pipeline(platform, "after-outage")
    assert result["extract"]["new_objects"] == feed.stats["objects"]
    assert result["convert"]["input_lines"] == feed.stats["lines"]


def raw_counts(settings) -> list[tuple]:
    """Rows and distinct source lines in raw_db: equal after a crash means no loss, no dupes."""
    return query(
        settings,
        "raw_db",
        "SELECT count(*), count(DISTINCT (source_key, source_line)) FROM raw.vehicle_events",
    )


def _kill_postgres_when_copying(settings, database: str, seen: threading.Event) -> None:
    """Wait for the raw load's COPY, then stop the server the hard way (like a crash)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with psycopg.connect(**settings.postgres.conninfo("postgres"), autocommit=True) as c:
            busy = c.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query ILIKE 'COPY%%'",
                (database,),
            ).fetchone()[0]
        if busy:
            seen.set()
            stack._pg_stop(stack._paths(settings), mode="immediate")
            return
        time.sleep(0.005)


def test_postgres_killed_mid_load_rolls_back_and_rerun_is_exact(platform):
    seed_simulated(platform, vehicles=6, hours=0.5, organizations=2, seed=22)
    run_pipeline(platform, "first")  # lake + all layers
    expected = raw_counts(platform)

    seen = threading.Event()
    killer = threading.Thread(target=_kill_postgres_when_copying, args=(platform, "raw_db", seen))
    killer.start()
    with pytest.raises(psycopg.OperationalError):
        load_raw(platform, "crash", dates=[date(2019, 6, 1)])
    killer.join()
    assert seen.is_set(), "the COPY was caught in flight"

    stack.up(platform)  # crash recovery
    assert raw_counts(platform) == expected

    load_raw(platform, "rerun", dates=[date(2019, 6, 1)])
    assert raw_counts(platform) == expected


def test_mapped_lake_tasks_retry_and_overlap_exactly_once(platform):
    """A shard that failed is retried, a re-planned run skips what landed, and a batch run
    twice (two overlapping DAG runs) is converted once: every object and line once."""
    from data_lake.convert import convert_batch, plan_convert
    from data_lake.extract import extract_shard, plan_extract

    feed = seed_simulated(platform, vehicles=3, hours=0.1, organizations=1, seed=23)
    objects = feed.stats["objects"]
    per_shard = -(-objects // 4)
    plan = plan_extract(platform, "mapped", shard_objects=per_shard)
    assert plan.shards == [0, 1, 2, 3] and plan.new_objects == objects

    dead = dataclasses.replace(
        platform, s3=S3Target("http://127.0.0.1:9", platform.s3.access_key, "x")
    )
    with pytest.raises(RuntimeError, match=r"reading s3://fleet-source/data/.* failed"):
        extract_shard(dead, "mapped", 0)
    assert extract_shard(platform, "mapped", 1).new_objects == per_shard

    # the plan task retried: only what is not landed is planned again
    again = plan_extract(platform, "mapped", shard_objects=per_shard)
    assert again.new_objects == objects - per_shard and len(again.shards) == 3
    for shard in again.shards:
        extract_shard(platform, "mapped", shard)
    assert query(
        platform, "dwh_db", "SELECT count(*), count(DISTINCT source_key) FROM ops.lake_objects"
    ) == [(objects, objects)]
    assert query(platform, "dwh_db", "SELECT count(*) FROM ops.extract_plan") == [(0,)]

    batches = plan_convert(platform, "mapped", batch_objects=per_shard)
    assert len(batches) >= 2 and batches == sorted(batches)
    first = convert_batch(platform, "mapped", batches[0])
    assert convert_batch(platform, "other-run", batches[0]) == first
    for batch_id in batches[1:]:
        convert_batch(platform, "mapped", batch_id)
    assert plan_convert(platform, "later") == []
    assert query(
        platform,
        "dwh_db",
        "SELECT sum(objects), sum(input_lines) FROM ops.lake_batches"
        " WHERE converted_at IS NOT NULL",
    ) == [(objects, feed.stats["lines"])]


#: the per-date accounting of every layer, as ops holds it
ACCOUNTING = """SELECT layer, event_date, rows_in, rows_out, duplicates_removed, rejected
                  FROM ops.layer_partitions ORDER BY 1, 2"""


@contextmanager
def stopped_after_publish(monkeypatch, module) -> Iterator[None]:
    """The block's build stops right after its publish, as a killed worker would: the
    module's second ``record_accounting`` call (the first replays) raises."""
    real, calls = module.record_accounting, []

    def stop(settings, database, schema):
        calls.append(database)
        if len(calls) == 2:
            raise RuntimeError(f"stopped after publishing {database}")
        return real(settings, database, schema)

    monkeypatch.setattr(module, "record_accounting", stop)
    with pytest.raises(RuntimeError, match="stopped after publishing"):
        yield
    monkeypatch.setattr(module, "record_accounting", real)


def test_a_stop_between_a_publish_and_ops_loses_no_accounting(platform, monkeypatch):
    """raw, staging and semantic publish in their own databases and then record the
    accounting in ops (dwh_db). A run stopped between the two leaves it staged beside the
    publish; the retry records it once, and dwh, which takes its cue from semantic's record,
    still rebuilds. Figures and marts equal a run that never stopped."""
    from dwh_pipelines import raw, semantic, staging
    from dwh_pipelines.dwh import build_dwh

    seed_simulated(platform, vehicles=3, hours=0.2, organizations=2, seed=24)
    run_pipeline(platform, "clean")
    clean = query(platform, "dwh_db", ACCOUNTING), snapshot(platform)
    reset_platform(platform)
    seed_simulated(platform, vehicles=3, hours=0.2, organizations=2, seed=24)
    extract(platform, "stopped")
    convert(platform, "stopped")

    for module, build in (
        (raw, raw.load_raw),
        (staging, staging.build_staging),
        (semantic, semantic.build_semantic),
    ):
        with stopped_after_publish(monkeypatch, module):
            build(platform, "stopped")
        if module is semantic:  # semantic's dates are not recorded yet: dwh has no cue
            assert build_dwh(platform, "stopped").event_dates == []
        build(platform, "retry")  # Airflow's retry: records what the stopped run published
    build_dwh(platform, "retry")
    assert (query(platform, "dwh_db", ACCOUNTING), snapshot(platform)) == clean
    for database, outbox in (
        ("raw_db", "SELECT count(*) FROM raw.unrecorded_accounting"),
        ("staging_db", "SELECT count(*) FROM prod.unrecorded_accounting"),
        ("semantic_db", "SELECT count(*) FROM prod.unrecorded_accounting"),
    ):
        assert query(platform, database, outbox) == [(0,)], database


def test_a_raw_load_recorded_late_still_sees_what_was_converted_since(platform, monkeypatch):
    """raw marks its dates with the time it read the lake, not the time ops records them:
    a load recorded only by the next attempt, after more of the date was converted, leaves
    the date dirty, and that attempt loads the new files too."""
    from dwh_pipelines import raw

    feed = generate_feed(SimulationConfig(vehicles=3, hours=0.2, organizations=1, seed=25))
    names = sorted(feed.objects)
    half = len(names) // 2
    put_source(platform, {n: feed.objects[n] for n in names[:half]})
    extract(platform, "first")
    convert(platform, "first")

    with stopped_after_publish(monkeypatch, raw):
        raw.load_raw(platform, "stopped")

    put_source(platform, {n: feed.objects[n] for n in names[half:]})  # more of the date
    extract(platform, "more")
    convert(platform, "more")
    raw.load_raw(platform, "retry")  # records the stopped load, then loads what is new
    lake = query(platform, "dwh_db", "SELECT sum(parquet_rows) FROM ops.lake_batches")
    held = query(
        platform,
        "raw_db",
        "SELECT (SELECT count(*) FROM raw.vehicle_events)"
        " + (SELECT count(*) FROM raw.operating_period_events)",
    )
    assert held == lake and lake[0][0] > 0
