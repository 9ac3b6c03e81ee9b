"""Warehouse guarantees: idempotent reruns, incremental = all at once, write-audit-publish."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from psycopg import sql

from data_lake.convert import convert
from data_lake.extract import extract
from data_lake.simulate import SimulationConfig, generate_feed, upload_feed
from dwh_pipelines import semantic, staging
from dwh_pipelines.governance import apply_governance
from dwh_pipelines.partitions import LayerResult, Slice
from dwh_pipelines.quality import DataQualityError, run_check
from dwh_pipelines.raw import SQL_DIR as RAW_SQL_DIR
from dwh_pipelines.raw import load_raw
from dwh_pipelines.staging import build_staging
from pipeline_core.db import connect, execute_sql_file
from pipeline_core.storage import s3_client
from tests.helpers import line, put_source, query, reset_platform, run_pipeline, snapshot

pytestmark = pytest.mark.integration

STAGING_PROD = [
    "prod.stg_vehicle_events",
    "prod.stg_operating_period_events",
    "prod.stg_removed_duplicates",
    "prod.stg_rejected_events",
]


RAW_SCHEMA = RAW_SQL_DIR / "schema.sql"


def upload(settings, objects: dict[str, bytes]) -> None:
    put_source(settings, objects)


#: the masked views governance makes over the per-event tables (location columns)
MASKED = [
    ("raw_db", "raw_masked.vehicle_events", "raw.vehicle_events"),
    ("staging_db", "prod_masked.stg_vehicle_events", "prod.stg_vehicle_events"),
    ("semantic_db", "prod_masked.fact_vehicle_location", "prod.fact_vehicle_location"),
]


def test_older_plain_tables_are_moved_into_date_partitions(platform):
    """An installation from before partitioning keeps its rows; a date is then swapped.
    Raw's and staging's per-event tables are from before ``load_seq`` too, and governance
    had masked views over the plain tables: they go with the old tables, and governance's
    next apply makes them over the partitioned ones."""
    feed = generate_feed(SimulationConfig(vehicles=3, hours=0.2, organizations=2, seed=4))
    upload_feed(feed, s3_client(platform), platform.source_bucket, prefix=platform.source_prefix)
    run_pipeline(platform, "run-1")
    before = snapshot(platform)
    points = ["prod.int_vehicle_updates", "prod.fact_vehicle_location"]
    points_before = snapshot(platform, points, "semantic_db")
    layouts = [  # (database, table, its key and an index in the previous release)
        ("raw_db", "raw.vehicle_events", None, "event_date"),
        ("staging_db", "prod.stg_vehicle_events", "event_key", "event_date"),
        ("semantic_db", "prod.int_vehicle_updates", None, "event_date"),
        ("semantic_db", "prod.fact_vehicle_location", "period_key, vehicle_id, point_no", None),
    ]
    before_load_seq = {"raw.vehicle_events", "prod.stg_vehicle_events"}
    for database, table, key, index in layouts:
        with connect(platform, database) as conn:  # the layout of the previous release
            schema, name = table.split(".")
            plain, parent = sql.Identifier(schema, "plain"), sql.Identifier(schema, name)
            conn.execute(sql.SQL("CREATE TABLE {} AS SELECT * FROM {}").format(plain, parent))
            conn.execute(sql.SQL("DROP TABLE {} CASCADE").format(parent))
            conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(plain, sql.Identifier(name)))
            if table in before_load_seq:
                conn.execute(sql.SQL("ALTER TABLE {} DROP COLUMN load_seq").format(parent))
            if key:
                conn.execute(sql.SQL(f"ALTER TABLE {{}} ADD PRIMARY KEY ({key})").format(parent))
            if index:
                conn.execute(
                    sql.SQL(f"CREATE INDEX {{}} ON {{}} ({index})").format(
                        sql.Identifier(f"{name}_old_index"), parent
                    )
                )
            conn.commit()
    apply_governance(platform)  # masked views over the plain tables
    for database, view, _ in MASKED:
        assert query(platform, database, "SELECT to_regclass(%s)", (view,)) != [(None,)], view

    # each layer moves the rows on its next run
    run_pipeline(platform, "run-2")  # nothing new: only the layout changes
    apply_governance(platform)
    for database, view, table in MASKED:
        count = sql.SQL("SELECT count(*) FROM {}")
        with connect(platform, database) as conn:
            masked, rows = (
                conn.execute(count.format(sql.Identifier(*name.split(".")))).fetchone()
                for name in (view, table)
            )
        assert masked == rows and rows[0] > 0, view
    partitions = """SELECT c.relkind::text,
                           (SELECT count(*) FROM pg_catalog.pg_inherits i WHERE i.inhparent = c.oid)
                      FROM pg_catalog.pg_class c WHERE c.oid = %s::regclass"""
    for database, table, _, _ in layouts:
        assert query(platform, database, partitions, (table,)) == [("p", 1)], table
        gone = query(platform, database, "SELECT to_regclass(%s)", (table + "_unpartitioned",))
        assert gone == [(None,)]
    assert snapshot(platform) == before
    assert snapshot(platform, points, "semantic_db") == points_before
    run_pipeline(platform, "run-3", dates=[date(2019, 6, 1)])
    assert snapshot(platform) == before
    assert snapshot(platform, points, "semantic_db") == points_before


def published_as_built(settings, database: str, partition: str) -> tuple[list, list]:
    """(parent indexes the partition's indexes are attached to, [(no explicit grant,
    analysed, CHECK constraints left)]) of a partition moved in from dev."""
    indexes = query(
        settings,
        database,
        """SELECT p.relname FROM pg_catalog.pg_index i
             JOIN pg_catalog.pg_inherits h ON h.inhrelid = i.indexrelid
             JOIN pg_catalog.pg_class p ON p.oid = h.inhparent
            WHERE i.indrelid = %s::regclass ORDER BY 1""",
        (partition,),
    )
    state = query(
        settings,
        database,
        """SELECT c.relacl IS NULL, c.reltuples > 0,
                  (SELECT count(*) FROM pg_catalog.pg_constraint k
                    WHERE k.conrelid = c.oid AND k.contype = 'c')
             FROM pg_catalog.pg_class c WHERE c.oid = %s::regclass""",
        (partition,),
    )
    return indexes, state


def test_rerunning_a_date_gives_the_same_warehouse(platform):
    """A rebuilt date's partitions are the dev build's tables moved in: not copied, their
    indexes attached to prod's, their bounds constraint gone, no grant of the dev schema."""
    feed = generate_feed(SimulationConfig(vehicles=3, hours=0.2, organizations=2, seed=3))
    upload_feed(feed, s3_client(platform), platform.source_bucket, prefix=platform.source_prefix)
    run_pipeline(platform, "run-1")
    before = snapshot(platform)
    run_pipeline(platform, "run-2", dates=[date(2019, 6, 1)])
    assert snapshot(platform) == before
    assert published_as_built(
        platform, "staging_db", "prod_partitions.stg_vehicle_events_20190601"
    ) == (
        [
            ("stg_vehicle_events_lifecycle",),
            ("stg_vehicle_events_load_seq",),
            ("stg_vehicle_events_pkey",),
        ],
        [(True, True, 0)],
    )
    # semantic reads every lifecycle event on every run: an index serves that, not a scan of
    # every published date
    _, columns, text = next(i for i in semantic._INPUTS if i[0] == "src_lifecycle_events")
    lifecycle = sql.SQL(text).format(cols=sql.SQL(", ").join(map(sql.Identifier, columns)))
    with connect(platform, "staging_db") as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute(sql.SQL("EXPLAIN {}").format(lifecycle)))
    assert "Seq Scan" not in plan and "stg_vehicle_events_20190601" in plan, plan
    # raw's date is a new table swapped in: the parent's index built on it, analysed, and
    # the CHECK that spared ATTACH its scan dropped
    assert published_as_built(platform, "raw_db", "raw_partitions.vehicle_events_20190601") == (
        [("vehicle_events_load_seq",)],
        [(True, True, 0)],
    )

    # semantic step by step: the tables the build wrote are the ones published
    table = "int_vehicle_updates_20190601"
    cut = semantic.pending(platform, [date(2019, 6, 1)])
    split = semantic.build_dev(platform, cut)
    assert split.parts == 2 and date(2019, 6, 1) in split.days  # FLEET_DB_SESSIONS
    built = query(platform, "semantic_db", "SELECT %s::regclass::oid", (f"dev.{table}",))
    oid_of = "SELECT %s::regclass::oid"
    points = [f"fact_vehicle_location_part{n}_20190601" for n in range(split.parts)]
    built_points = [query(platform, "semantic_db", oid_of, (f"dev.{p}",))[0] for p in points]
    semantic.publish(platform, cut, split, LayerResult("semantic", cut.dates), "step-by-step")
    published = f"prod_partitions.{table}"
    assert query(platform, "semantic_db", "SELECT %s::regclass::oid", (published,)) == built
    assert query(platform, "semantic_db", "SELECT to_regclass(%s)", (f"dev.{table}",)) == [(None,)]
    assert published_as_built(platform, "semantic_db", published) == (
        [("int_vehicle_updates_at_org",)],
        [(True, True, 0)],
    )
    # the points' day is partitioned as the sessions split the periods: each session's
    # table of the day is a part, with its key attached, its statistics, and no CHECK
    day = "prod_partitions.fact_vehicle_location_20190601"
    parts = query(
        platform,
        "semantic_db",
        """SELECT i.inhrelid, c.relname FROM pg_catalog.pg_inherits i
             JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = %s::regclass ORDER BY 2""",
        (day,),
    )
    assert [(oid,) for oid, _ in parts] == built_points
    for _, name in parts:
        assert published_as_built(platform, "semantic_db", f"prod_partitions.{name}") == (
            [("fact_vehicle_location_20190601_pkey",)],
            [(True, True, 0)],
        )
    assert snapshot(platform) == before


def test_two_single_days_equal_one_backfill(platform):
    """A feed across midnight loaded day by day equals the same feed loaded at once."""
    start = datetime(2019, 6, 1, 23, 20, tzinfo=UTC)
    feed = generate_feed(
        SimulationConfig(vehicles=4, hours=1.2, organizations=2, seed=5, start=start)
    )
    names = sorted(feed.objects, key=lambda n: feed.objects[n][:200])
    cut = len(names) // 2
    first = {n: feed.objects[n] for n in names[:cut]}
    second = {n: feed.objects[n] for n in names[cut:]}

    upload(platform, first)
    run_pipeline(platform, "day-1")
    upload(platform, second)
    run_pipeline(platform, "day-2")
    incremental = snapshot(platform)
    dates = query(
        platform,
        "dwh_db",
        "SELECT event_date FROM ops.layer_partitions WHERE layer = 'staging' ORDER BY 1",
    )
    assert [d[0] for d in dates] == [date(2019, 6, 1), date(2019, 6, 2)]

    reset_platform(platform)
    upload(platform, feed.objects)
    run_pipeline(platform, "backfill")
    assert snapshot(platform) == incremental
    overall = query(
        platform, "dwh_db", "SELECT avg_km_per_vehicle_period FROM marts.avg_distance_overall"
    )
    assert overall[0][0] == pytest.approx(feed.ground_truth["avg_km_per_vehicle_period"], rel=0.005)


def test_blocking_check_leaves_prod_unchanged_and_fails_clearly(platform):
    feed = generate_feed(SimulationConfig(vehicles=3, hours=0.1, organizations=2, seed=9))
    upload_feed(feed, s3_client(platform), platform.source_bucket, prefix=platform.source_prefix)
    run_pipeline(platform, "good")
    before = snapshot(platform, STAGING_PROD, "staging_db")

    at = "2019-07-01T10:00:00.000Z"
    good = [
        line(
            "update",
            "vehicle",
            at,
            {"id": f"v{i}", "location": {"lat": 52.5, "lng": 13.4, "at": at}},
        )
        for i in range(4)
    ]
    broken = [
        line(
            "update",
            "vehicle",
            at,
            {"id": f"w{i}", "location": {"lat": 95.0 + i, "lng": 13.4, "at": at}},
        )
        for i in range(6)
    ]
    put_source(platform, {"2019-07-01-7-0-0-events.json": b"\n".join(good + broken) + b"\n"})
    extract(platform, "bad")
    convert(platform, "bad")
    load_raw(platform, "bad")
    with pytest.raises(DataQualityError) as failure:
        build_staging(platform, "bad")

    message = str(failure.value)
    assert (
        "rejected_ratio" in message
        and "2019-07-01" in message
        and "prod was left unchanged" in message
    )
    assert snapshot(platform, STAGING_PROD, "staging_db") == before
    status = query(
        platform,
        "dwh_db",
        "SELECT status FROM ops.dq_results WHERE run_id = 'bad' AND check_name = 'rejected_ratio'",
    )
    assert status == [("fail",)]
    audit = query(
        platform,
        "dwh_db",
        "SELECT status, error FROM ops.task_runs WHERE run_id = 'bad' AND stage = 'staging.build'",
    )
    assert audit[0][0] == "failed" and "rejected_ratio" in audit[0][1]


SEMANTIC_PROD = [
    "prod.int_vehicle_updates",
    "prod.dim_operating_period",
    "prod.dim_vehicle",
    "prod.fact_vehicle_location",
    "prod.fact_vehicle_period_distance",
    "prod.fact_client_daily_activity",
]


def _layer_state(settings) -> dict:
    """What each layer holds, without load stamps, times and which copy of a duplicate
    was kept (the one loaded first): equal states, equal layers."""
    staged = {
        t: query(settings, "staging_db", f"SELECT event_key, event_date FROM prod.{t} ORDER BY 1")
        for t in ("stg_vehicle_events", "stg_operating_period_events", "stg_rejected_events")
    }
    removed = query(
        settings,
        "staging_db",
        "SELECT event_key, event_date FROM prod.stg_removed_duplicates ORDER BY 1, 2",
    )
    accounting = query(
        settings,
        "dwh_db",
        "SELECT layer, event_date, rows_in, rows_out, duplicates_removed, rejected"
        " FROM ops.layer_partitions WHERE layer IN ('raw', 'staging', 'semantic') ORDER BY 1, 2",
    )
    return {
        "staged": staged,
        "removed": removed,
        "accounting": accounting,
        "semantic": snapshot(settings, SEMANTIC_PROD, "semantic_db"),
        "dwh": snapshot(settings),
    }


def test_schemas_are_ensured_without_locking_the_published_dates(platform):
    """Every run ensures each layer's tables; on tables already up to date that must not
    lock their date partitions, which autovacuum holds (each run waited 1 s for it to be
    cancelled) and which readers hold (they would queue behind the run)."""
    feed = generate_feed(SimulationConfig(vehicles=3, hours=0.1, organizations=2, seed=5))
    upload(platform, feed.objects)
    run_pipeline(platform, "run-1")
    for database, partition, ensure in (
        ("raw_db", "raw_partitions.vehicle_events_20190601", RAW_SCHEMA),
        ("staging_db", "prod_partitions.stg_vehicle_events_20190601", staging._ensure_prod),
        ("semantic_db", "prod_partitions.int_vehicle_updates_20190601", semantic._ensure_prod),
        ("semantic_db", "prod_partitions.fact_vehicle_location_20190601", semantic._ensure_prod),
    ):
        with connect(platform, database) as holder, connect(platform, database) as run:
            # what autovacuum holds while it vacuums the date
            holder.execute(
                sql.SQL("LOCK TABLE {} IN SHARE UPDATE EXCLUSIVE MODE").format(
                    sql.Identifier(*partition.split("."))
                )
            )
            run.execute("SET lock_timeout = '2s'")
            if callable(ensure):
                ensure(run)
            else:
                execute_sql_file(run, ensure)
            run.rollback()
            holder.rollback()
    # an installation from before load_seq still gets it
    with connect(platform, "raw_db") as conn:
        conn.execute("ALTER TABLE raw.operating_period_events DROP COLUMN load_seq")
        conn.commit()
    run_pipeline(platform, "run-2")
    assert query(
        platform,
        "raw_db",
        "SELECT count(*) FROM pg_catalog.pg_attribute WHERE attname = 'load_seq'"
        " AND attrelid = 'raw.operating_period_events'::regclass AND NOT attisdropped",
    ) == [(1,)]


def test_loads_in_slices_equal_one_load(platform):
    """A feed taken in four slices (each run appends only its new rows) gives every layer
    exactly what one load of the whole feed gives, duplicates across slices included."""
    start = datetime(2019, 6, 1, 23, 30, tzinfo=UTC)
    feed = generate_feed(
        SimulationConfig(vehicles=4, hours=1.0, organizations=2, seed=11, start=start)
    )
    names = sorted(feed.objects)
    # a late re-delivery of an object the first slice took: its lines are duplicates of
    # rows already published, which staging must remove against prod
    feed.objects[names[0].replace("-events", "-redelivered-events")] = feed.objects[names[0]]
    slices = [names[i::4] for i in range(4)]  # interleaved: every slice touches both dates
    slices[2].append(names[0].replace("-events", "-redelivered-events"))

    for i, part in enumerate(slices):
        upload(platform, {n: feed.objects[n] for n in part})
        summary = run_pipeline(platform, f"slice-{i}")
        if i:
            for layer in ("raw", "staging", "semantic"):
                assert summary[layer]["appended_dates"] == ["2019-06-01", "2019-06-02"], layer
            assert summary["staging"]["rows_in"] == summary["raw"]["rows_out"]
        if i == 2:
            assert summary["staging"]["duplicates_removed"] >= feed.objects[names[0]].count(b"\n")
    sliced = _layer_state(platform)
    assert sliced["removed"]  # duplicates across slices were met
    # a slice's read prunes to its dates: an appended date is read from its partition alone
    cut = Slice("raw", [], [date(2019, 6, 2)], 0, 100)
    with connect(platform, "raw_db") as conn:
        explain = sql.SQL("EXPLAIN SELECT * FROM raw.vehicle_events WHERE {}").format(cut.filter())
        plan = "\n".join(r[0] for r in conn.execute(explain, cut.params()))
    assert "vehicle_events_20190602" in plan and "20190601" not in plan, plan

    reset_platform(platform)
    upload(platform, feed.objects)
    run_pipeline(platform, "whole")
    assert _layer_state(platform) == sliced


def _feed_time(name: str) -> datetime:
    """An object's feed time from its name (local time, unpadded: 2019-06-01-20-30-5; a
    re-delivered object's name adds " (1)")."""
    return datetime.strptime(name.split("-events")[0], "%Y-%m-%d-%H-%M-%S")


def _shifted(line: bytes, ms: int, lat: float) -> dict:
    """A vehicle update moved ``ms`` in time (event and position) and ``lat`` degrees north:
    a new event of the same vehicle."""
    event = json.loads(line)
    for holder in (event, event["data"]["location"]):
        at = datetime.fromisoformat(holder["at"]) + timedelta(milliseconds=ms)
        holder["at"] = at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    event["data"]["location"]["lat"] += lat
    return event


def test_tracks_continued_over_loads_in_time_order_equal_one_load(platform):
    """Loads taken in time order continue each pair's published track from its last
    accepted point instead of recomputing the period, even past a GPS jump dropped at the
    end of the track; a period where a pair's new position comes before a position the pair
    already had (here a late line, before a dropped jump) is recomputed. Either way every
    layer ends as one load leaves it."""
    start = datetime(2019, 6, 1, 23, 30, tzinfo=UTC)
    feed = generate_feed(
        SimulationConfig(vehicles=4, hours=1.0, organizations=2, seed=11, start=start)
    )
    names = sorted(feed.objects, key=_feed_time)
    slices = [names[i * len(names) // 4 : (i + 1) * len(names) // 4] for i in range(4)]
    # the second slice ends inside counted periods. In its last object, a vehicle of each
    # organization gets a GPS jump after its last update (55 km within 300 ms, dropped);
    # the second one also gets a position between its last update and its jump, late:
    # delivered with the third slice
    last, following = slices[1][-1], slices[2][0]
    updates = [x for x in feed.objects[last].splitlines() if b'"update"' in x and b'"lat":5' in x]
    jumped = updates[-1]
    other = next(
        x
        for x in reversed(updates)
        if json.loads(x)["organization_id"] != json.loads(jumped)["organization_id"]
    )
    jump, late = _shifted(jumped, 300, 0.5), _shifted(other, 150, 0.00001)
    for event, name in ((jump, last), (_shifted(other, 300, 0.5), last), (late, following)):
        feed.objects[name] += json.dumps(event).encode() + b"\n"

    def periods_holding(event: dict) -> list[tuple]:
        """(period, affected by the build, vehicle's pair continued) of the counted periods
        holding the event's position."""
        return query(
            platform,
            "semantic_db",
            "SELECT p.period_key, a.period_key IS NOT NULL, c.period_key IS NOT NULL"
            "  FROM prod.dim_operating_period p"
            "  LEFT JOIN dev.affected_periods a USING (period_key)"
            "  LEFT JOIN dev.continued_pairs c ON c.period_key = p.period_key"
            "   AND c.vehicle_id = %(vehicle)s"
            " WHERE p.is_counted AND p.organization_id = %(org)s"
            "   AND %(at)s::timestamptz >= p.period_start"
            "   AND %(at)s::timestamptz < p.period_finish",
            {
                "vehicle": event["data"]["id"],
                "org": event["organization_id"],
                "at": event["data"]["location"]["at"],
            },
        )

    continued = []
    for i, part in enumerate(slices):
        upload(platform, {n: feed.objects[n] for n in part})
        run_pipeline(platform, f"in-order-{i}")
        continued.append(
            query(platform, "semantic_db", "SELECT count(*) FROM dev.continued_pairs")[0][0]
        )
        if i == 2:
            # the first track goes on past its dropped jump; the late position, before the
            # second one's dropped jump, has its period recomputed
            assert {(a, c) for _, a, c in periods_holding(jump)} == {(False, True)}
            assert {(a, c) for _, a, c in periods_holding(late)} == {(True, False)}
    assert all(continued[1:]), continued
    sliced = _layer_state(platform)

    reset_platform(platform)
    upload(platform, feed.objects)
    run_pipeline(platform, "whole")
    assert _layer_state(platform) == sliced


def test_a_load_rewrites_only_the_dimension_rows_that_changed(platform):
    """Publish keeps a dimension row the load did not change (the same row version), and
    replaces the ones it changed: not every period and vehicle version of the history."""
    start = datetime(2019, 6, 1, 23, 30, tzinfo=UTC)
    feed = generate_feed(
        SimulationConfig(vehicles=3, hours=1.0, organizations=2, seed=7, start=start)
    )
    names = sorted(feed.objects, key=_feed_time)
    dims = (
        "SELECT period_key::text, xmin::text, ROW(p.*)::text"
        " FROM prod.dim_operating_period p"
        " UNION ALL SELECT vehicle_key::text, xmin::text, ROW(v.*)::text FROM prod.dim_vehicle v"
    )
    upload(platform, {n: feed.objects[n] for n in names[: len(names) // 2]})
    run_pipeline(platform, "first-half")
    before = {key: (version, row) for key, version, row in query(platform, "semantic_db", dims)}
    upload(platform, {n: feed.objects[n] for n in names[len(names) // 2 :]})
    run_pipeline(platform, "second-half")
    after = {key: (version, row) for key, version, row in query(platform, "semantic_db", dims)}
    kept = [k for k in before.keys() & after.keys() if before[k][1] == after[k][1]]
    assert kept and all(before[k][0] == after[k][0] for k in kept)
    changed = [k for k in before.keys() & after.keys() if before[k][1] != after[k][1]]
    assert all(before[k][0] != after[k][0] for k in changed)
    assert after.keys() - before.keys(), "the second half adds dimension rows"


def test_staging_volume_and_registrations_read_the_load_log_and_the_index(platform):
    """volume judges a rebuilt date against the published dates' rows as prod.load_log
    records them (never counting history); unregistered_vehicle_updates finds a vehicle
    registered in an earlier load."""
    start = datetime(2019, 6, 1, 23, 30, tzinfo=UTC)
    feed = generate_feed(
        SimulationConfig(vehicles=3, hours=1.0, organizations=2, seed=7, start=start)
    )
    upload(platform, feed.objects)
    run_pipeline(platform, "run-1")
    with connect(platform, "staging_db") as conn:  # a week of 100,000-row dates before
        conn.execute(
            "INSERT INTO prod.load_log (load_seq, event_date, mode, rows, run_id)"
            " SELECT 0, d::date, 'replace', 100000, 'history'"
            "   FROM generate_series(date '2019-05-25', date '2019-05-31', interval '1 day') d"
        )
        conn.commit()
    results = (
        "SELECT check_name, status FROM ops.dq_results WHERE run_id = %s"
        " AND check_name IN ('volume', 'unregistered_vehicle_updates') ORDER BY 1"
    )
    registered = query(
        platform,
        "staging_db",
        "SELECT DISTINCT event_date FROM prod.stg_vehicle_events WHERE event = 'register'",
    )
    assert registered == [(date(2019, 6, 1),)]
    # the vehicles of 2019-06-02 were registered in 2019-06-01, published by run-1; the
    # last date of a load (still filling) is not judged by volume
    run_pipeline(platform, "run-2", dates=[date(2019, 6, 2)])
    assert query(platform, "dwh_db", results, ("run-2",)) == [
        ("unregistered_vehicle_updates", "pass"),
        ("volume", "pass"),
    ]
    # 2019-06-01 holds 30 minutes against a usual 100,000 rows
    run_pipeline(platform, "run-3", dates=[date(2019, 6, 1), date(2019, 6, 2)])
    assert query(platform, "dwh_db", results, ("run-3",)) == [
        ("unregistered_vehicle_updates", "pass"),
        ("volume", "warn"),
    ]
    sample = query(
        platform,
        "dwh_db",
        "SELECT sample FROM ops.dq_results WHERE run_id = 'run-3' AND check_name = 'volume'",
    )[0][0]
    assert [(r["event_date"], r["usual_rows"]) for r in sample] == [("2019-06-01", 100000)]


def test_semantic_check_catches_a_point_outside_its_period(platform):
    """points_inside_period reads each period's first and last point: a point moved out of
    its period fails it, naming the period."""
    feed = generate_feed(SimulationConfig(vehicles=3, hours=0.5, organizations=2, seed=4))
    upload_feed(feed, s3_client(platform), platform.source_bucket, prefix=platform.source_prefix)
    run_pipeline(platform, "good")
    # a build holds its points in dev until publish moves the days written whole into prod
    semantic.build_dev(platform, semantic.pending(platform, [date(2019, 6, 1)]))
    check = next(c for c in semantic.CHECKS if c.name == "points_inside_period")
    with connect(platform, "semantic_db") as conn:
        assert run_check(conn, check, {}).rows_affected == 0
        period = conn.execute(
            """UPDATE dev.fact_vehicle_location f SET location_at = p.period_finish
                 FROM dev.dim_operating_period p
                WHERE p.period_key = f.period_key
                  AND (f.period_key, f.vehicle_id, f.point_no)
                      = (SELECT period_key, vehicle_id, point_no FROM dev.fact_vehicle_location
                          ORDER BY 1, 2, 3 LIMIT 1)
            RETURNING f.period_key::text"""
        ).fetchone()[0]
        result = run_check(conn, check, {})
        conn.rollback()
    assert result.rows_affected == 1 and result.status == "fail"
    assert result.sample[0]["period_key"] == period
