"""The whole flow on simulated data with faults, without Airflow: the answer is right."""

from __future__ import annotations

import pytest

from data_lake.simulate import SimulationConfig, generate_feed, upload_feed
from pipeline_core.storage import s3_client
from tests.helpers import query, run_pipeline

pytestmark = pytest.mark.integration


@pytest.fixture
def feed():
    return generate_feed(SimulationConfig(vehicles=4, hours=0.25, organizations=2, seed=7))


def test_answer_matches_ground_truth(platform, feed):
    upload_feed(feed, s3_client(platform), platform.source_bucket, prefix=platform.source_prefix)
    result = run_pipeline(platform, "run-1")
    truth = feed.ground_truth

    assert result["convert"]["input_lines"] == feed.stats["lines"]
    overall = query(
        platform, "dwh_db", "SELECT avg_km_per_vehicle_period FROM marts.avg_distance_overall"
    )
    assert overall[0][0] == pytest.approx(truth["avg_km_per_vehicle_period"], rel=0.005)
    periods = {
        (o, p): (v, a)
        for o, p, v, a in query(
            platform,
            "dwh_db",
            "SELECT organization_id, operating_period_id, vehicles, avg_km"
            " FROM marts.avg_distance_per_operating_period",
        )
    }
    expected = {
        (p["organization_id"], p["operating_period_id"]): (p["vehicles"], p["avg_km"])
        for p in truth["periods"]
    }
    assert periods.keys() == expected.keys()
    for key, (vehicles, avg_km) in expected.items():
        assert periods[key][0] == vehicles, key
        assert periods[key][1] == pytest.approx(avg_km, rel=0.005, abs=1e-9), key


def test_accounting_reconciles(platform, feed):
    upload_feed(feed, s3_client(platform), platform.source_bucket, prefix=platform.source_prefix)
    result = run_pipeline(platform, "run-1")
    quarantined = result["convert"]["quarantined_lines"]
    st = result["staging"]
    assert result["raw"]["rows_out"] == result["convert"]["parquet_rows"]
    assert feed.stats["lines"] == (
        st["rows_out"] + st["duplicates_removed"] + quarantined + st["rejected"]
    )


def test_manifest_from_before_landing_bundles_is_upgraded(platform, feed):
    """An installation whose manifest holds one landing object per source object (before
    bundles) upgrades in place: the next run converts those objects as they are."""
    from data_lake.extract import extract, unpack_bundle
    from pipeline_core.db import connect

    s3 = s3_client(platform)
    upload_feed(feed, s3, platform.source_bucket, prefix=platform.source_prefix)
    extract(platform, "old-run")
    with connect(platform, "dwh_db") as conn:  # the previous release's landing zone
        rows = conn.execute(
            "SELECT source_key, landing_key, landing_offset, landing_length FROM ops.lake_objects"
        ).fetchall()
        for source_key, bundle, offset, length in rows:
            stored = s3.get_object(Bucket=platform.lake_bucket, Key=bundle)["Body"].read()
            body = unpack_bundle(bundle, stored)[offset : offset + length]
            key = f"landing/old/{source_key}"
            s3.put_object(Bucket=platform.lake_bucket, Key=key, Body=body)
            conn.execute(
                "UPDATE ops.lake_objects SET landing_key = %s WHERE source_key = %s",
                (key, source_key),
            )
        conn.execute(
            "ALTER TABLE ops.lake_objects DROP COLUMN landing_offset, DROP COLUMN landing_length"
        )
        conn.commit()

    result = run_pipeline(platform, "run-1")
    assert result["extract"]["new_objects"] == 0
    assert result["convert"]["input_lines"] == feed.stats["lines"]
    overall = query(
        platform, "dwh_db", "SELECT avg_km_per_vehicle_period FROM marts.avg_distance_overall"
    )
    assert overall[0][0] == pytest.approx(feed.ground_truth["avg_km_per_vehicle_period"], rel=0.005)
    lengths = query(
        platform,
        "dwh_db",
        "SELECT count(*) FROM ops.lake_objects WHERE landing_length = size_bytes",
    )
    assert lengths[0][0] == len(rows) == feed.stats["objects"]


def test_extract_lists_the_source_from_the_newest_landed_hour(platform):
    """A run lists the keys from the newest landed object's hour less the lookback (three
    hours) on, not the whole bucket nor the whole day: a delivery named before that waits
    for a run listing every key."""
    import dataclasses

    from data_lake.extract import extract, plan_extract

    s3 = s3_client(platform)

    def put(*names: str) -> None:
        for name in names:
            s3.put_object(
                Bucket=platform.source_bucket,
                Key=platform.source_prefix + name,
                Body=b'{"event": "update"}\n',
            )

    # the newest is 12:00, though key order puts 9:30 last (the feed's hours are not padded)
    put("2019-06-01-10-0-0-events.json", "2019-06-02-9-30-0-events.json")
    put("2019-06-02-12-0-0-events.json")
    assert extract(platform, "first").new_objects == 3
    put(
        "2019-05-20-10-0-0-events.json",  # weeks late
        "2019-06-02-7-0-0-events.json",  # five hours before the newest
        "2019-06-02-10-0-0-events.json",  # two hours before it: in the window
        "2019-06-02-13-0-0-events.json",
        "2019-06-03-0-0-1-events.json",
    )

    plan = plan_extract(platform, "second")
    assert (plan.listed, plan.new_objects) == (5, 3)  # from 2019-06-02 09:00 on
    every_key = dataclasses.replace(platform, list_lookback_hours=None)
    plan = plan_extract(every_key, "second")
    assert (plan.listed, plan.new_objects) == (8, 5)
    assert query(
        platform,
        "dwh_db",
        "SELECT details->>'listed_after' FROM ops.task_runs"
        " WHERE stage = 'lake.extract_plan' ORDER BY id",
    ) == [(None,), ("data/2019-06-02-9-",), (None,)]
