"""Faults real feeds produce: each case ends with the accounting identity holding.

source lines = staged rows + removed duplicates + quarantined lines + rejected rows
"""

from __future__ import annotations

import itertools
import json

import pytest

from tests.helpers import put_source, query, run_pipeline

pytestmark = pytest.mark.integration

AT = "2019-06-01T10:00:00.000Z"


def event(kind: str, on: str, data: dict, at: str = AT, org: str = "org-1", **extra) -> bytes:
    return json.dumps(
        {"event": kind, "on": on, "at": at, "data": data, "organization_id": org, **extra}
    ).encode()


def update(vehicle: str, lat: float, lng: float, at: str = AT, org: str = "org-1") -> bytes:
    return event(
        "update",
        "vehicle",
        {"id": vehicle, "location": {"lat": lat, "lng": lng, "at": at}},
        at,
        org,
    )


def assert_accounted(settings, source_lines: int) -> dict:
    lake = query(
        settings,
        "dwh_db",
        "SELECT coalesce(sum(input_lines),0), coalesce(sum(parquet_rows),0),"
        " coalesce(sum(quarantined_lines),0) FROM ops.lake_batches",
    )[0]
    staging = query(
        settings,
        "dwh_db",
        "SELECT coalesce(sum(rows_in),0), coalesce(sum(rows_out),0),"
        " coalesce(sum(duplicates_removed),0), coalesce(sum(rejected),0)"
        " FROM ops.layer_partitions WHERE layer = 'staging'",
    )[0]
    assert lake[0] == source_lines, "every line of every object was read"
    assert lake[0] == lake[1] + lake[2], "lake: lines = rows + quarantined"
    assert staging[0] == lake[1], "staging read every lake row"
    assert source_lines == staging[1] + staging[2] + lake[2] + staging[3]
    return {
        "quarantined": int(lake[2]),
        "rows": int(staging[1]),
        "duplicates": int(staging[2]),
        "rejected": int(staging[3]),
    }


def test_broken_files_are_accounted_line_by_line(platform):
    good = update("v1", 52.5, 13.4)
    objects = {
        "truncated.json": good + b"\n" + good[: len(good) // 2],
        "empty-lines.json": b"\n\n",
        "zero-byte.json": b"",
        "latin1.json": good.replace(b"v1", b"v\xe9") + b"\n",
        "crlf.json": update("v2", 52.5, 13.4) + b"\r\n" + update("v3", 52.5, 13.4) + b"\r\n",
        "bom.json": b"\xef\xbb\xbf" + update("v4", 52.5, 13.4) + b"\n",
    }
    put_source(platform, objects)
    run_pipeline(platform, "faults")
    # truncated: 1 row + 1 quarantined; empty-lines: 2 quarantined; zero-byte: nothing;
    # latin1: 1 quarantined (not UTF-8); crlf: 2 rows; bom: 1 row
    counts = assert_accounted(platform, source_lines=2 + 2 + 0 + 1 + 2 + 1)
    assert counts["quarantined"] == 4
    reasons = query(
        platform,
        "dwh_db",
        "SELECT count(*) FROM ops.lake_objects WHERE source_key LIKE %s",
        ("%zero-byte.json",),
    )
    assert reasons == [(1,)], "an empty object is still recorded as ingested"


def test_redelivery_under_another_key_is_removed_as_duplicates(platform):
    body = b"\n".join(update(f"v{i}", 52.5, 13.4 + i / 100) for i in range(5)) + b"\n"
    put_source(platform, {"2019-06-01-7-0-0-events.json": body, "copy-of-it.json": body})
    run_pipeline(platform, "redelivery")
    counts = assert_accounted(platform, source_lines=10)
    assert counts["rows"] == 5 and counts["duplicates"] == 5


def test_schema_drift_is_ignored_and_listed(platform):
    drifted = event(
        "update",
        "vehicle",
        {"id": "v1", "battery": 0.4, "location": {"lat": 52.5, "lng": 13.4, "at": AT}},
        speed_kmh=31,
    )
    put_source(platform, {"drift.json": drifted + b"\n"})
    run_pipeline(platform, "drift")
    assert_accounted(platform, source_lines=1)
    drift = query(platform, "dwh_db", "SELECT schema_drift FROM ops.lake_batches")[0][0]
    assert sorted(drift) == ["data.battery", "speed_kmh"]


def test_naive_timestamps_are_read_as_utc(platform):
    naive = update("v1", 52.5, 13.4, at="2019-06-01T23:59:59.500")
    put_source(platform, {"naive.json": naive + b"\n"})
    run_pipeline(platform, "naive")
    assert_accounted(platform, source_lines=1)
    rows = query(
        platform,
        "staging_db",
        "SELECT event_date, to_char(event_at AT TIME ZONE 'UTC', 'HH24:MI:SS')"
        " FROM prod.stg_vehicle_events",
    )
    assert [(str(d), t) for d, t in rows] == [("2019-06-01", "23:59:59")]


def test_out_of_order_lines_across_files_give_the_same_distance(platform):
    """Points delivered hours late in another file still sort by position time."""
    create = event(
        "create",
        "operating_period",
        {"id": "p1", "start": "2019-06-01T08:00:00Z", "finish": "2019-06-01T12:00:00Z"},
        at="2019-06-01T07:00:00Z",
    )
    points = [
        update("v1", 52.50 + i * 0.0001, 13.40, at=f"2019-06-01T09:00:{i:02d}.000Z")
        for i in range(6)
    ]
    put_source(
        platform,
        {
            "early.json": create + b"\n" + b"\n".join(points[0:2] + points[4:6]) + b"\n",
            "three-hours-late.json": b"\n".join(points[2:4]) + b"\n",
        },
    )
    run_pipeline(platform, "late")
    assert_accounted(platform, source_lines=7)
    km = query(platform, "dwh_db", "SELECT avg_km FROM marts.avg_distance_per_operating_period")[0][
        0
    ]
    assert km == pytest.approx(5 * 0.01111949, rel=1e-3)  # 5 steps of 0.0001 deg (40 km/h)


def test_gps_jumps_are_dropped_and_the_track_goes_on_from_the_last_accepted_point(platform):
    """v1 jumps at its 4th point and at its 7th and 8th, v2 at its 2nd: the jumps are
    dropped, the next step is measured from the last accepted point, and the accepted
    points are numbered 1..n in track order."""
    create = event(
        "create",
        "operating_period",
        {"id": "p1", "start": "2019-06-01T08:00:00Z", "finish": "2019-06-01T12:00:00Z"},
        at="2019-06-01T07:00:00Z",
    )
    jumps = {"v1": {3, 6, 7}, "v2": {1}}
    lines = [create]
    for vehicle, jumped in jumps.items():
        for i in range(10):
            lat = 52.50 + i * 0.0001 + (1.0 if i in jumped else 0.0)
            lines.append(update(vehicle, lat, 13.40, at=f"2019-06-01T09:00:{i:02d}.000Z"))
    put_source(platform, {"jumps.json": b"\n".join(lines) + b"\n"})
    run_pipeline(platform, "jumps")
    step = 0.01111949  # km of 0.0001 degree of latitude (40 km/h over a second)
    for vehicle, jumped in jumps.items():
        points = query(
            platform,
            "semantic_db",
            "SELECT point_no, extract(second FROM location_at)::int, step_km, step_seconds"
            " FROM prod.fact_vehicle_location WHERE vehicle_id = %s ORDER BY location_at",
            (vehicle,),
        )
        kept = [i for i in range(10) if i not in jumped]
        assert [(n, s) for n, s, _, _ in points] == list(enumerate(kept, start=1))
        gaps = [0] + [b - a for a, b in itertools.pairwise(kept)]
        assert [t for *_, t in points] == gaps
        assert [km for _, _, km, _ in points] == pytest.approx([g * step for g in gaps], rel=1e-3)
        dropped, km = query(
            platform,
            "semantic_db",
            "SELECT gps_jumps_dropped, distance_km FROM prod.fact_vehicle_period_distance"
            " WHERE vehicle_id = %s",
            (vehicle,),
        )[0]
        assert dropped == len(jumped) and km == pytest.approx(9 * step, rel=1e-3)


def test_unregistered_vehicle_and_delete_without_create_are_kept_and_warned(platform):
    lines = [
        update("ghost", 52.5, 13.4),
        event("delete", "operating_period", {"id": "never", "start": AT, "finish": AT}),
    ]
    put_source(platform, {"odd.json": b"\n".join(lines) + b"\n"})
    run_pipeline(platform, "odd")
    assert_accounted(platform, source_lines=2)
    warned = dict(
        query(
            platform,
            "dwh_db",
            "SELECT check_name, status FROM ops.dq_results WHERE run_id = 'odd'"
            " AND check_name IN ('unregistered_vehicle_updates', 'delete_without_create')",
        )
    )
    assert warned == {"unregistered_vehicle_updates": "warn", "delete_without_create": "warn"}
    inferred = query(
        platform,
        "semantic_db",
        "SELECT is_inferred FROM prod.dim_vehicle WHERE vehicle_id = 'ghost'",
    )
    assert inferred == [(True,)]
    period = query(
        platform, "semantic_db", "SELECT is_deleted, is_counted FROM prod.dim_operating_period"
    )
    assert period == [(True, False)]


@pytest.mark.parametrize(
    "identifier",
    [
        'o\'brien "quoted"',
        "x'); DROP TABLE prod.stg_vehicle_events; --",
        "🚗 véhicule",
        "long-" + "x" * 10_000,
    ],
)
def test_hostile_identifiers_pass_through_as_data(platform, identifier):
    put_source(platform, {"ids.json": update(identifier, 52.5, 13.4, org=identifier) + b"\n"})
    run_pipeline(platform, "ids")
    assert_accounted(platform, source_lines=1)
    rows = query(
        platform, "staging_db", "SELECT vehicle_id, organization_id FROM prod.stg_vehicle_events"
    )
    assert rows == [(identifier, identifier)]
    updates = query(platform, "dwh_db", "SELECT organization_id FROM marts.kpi_client_daily")
    assert updates == [(identifier,)]


def test_a_period_deleted_later_takes_its_points_away(platform):
    """A delete in a later load removes the period's facts; the day whose every point was
    the period's is written whole again, as an empty day swapped in."""
    start, finish = "2019-06-01T10:00:00.000Z", "2019-06-01T11:00:00.000Z"
    period = {"id": "p-1", "start": start, "finish": finish}
    lines = [
        event("create", "operating_period", period, at="2019-06-01T09:00:00.000Z"),
        event("register", "vehicle", {"id": "v-1"}, at="2019-06-01T09:30:00.000Z"),
        *(
            update("v-1", 52.5 + i / 1000, 13.4, at=f"2019-06-01T10:{i:02d}:00.000Z")
            for i in range(10)
        ),
    ]
    put_source(platform, {"2019-06-01-10-00-0-events.json": b"\n".join(lines) + b"\n"})
    run_pipeline(platform, "created")
    points = "SELECT count(*) FROM prod.fact_vehicle_location"
    assert query(platform, "semantic_db", points) == [(10,)]
    day = "SELECT c.oid, c.relkind::text FROM pg_catalog.pg_class c WHERE c.oid = %s::regclass"
    partition = ("prod_partitions.fact_vehicle_location_20190601",)
    before = query(platform, "semantic_db", day, partition)

    delete = event("delete", "operating_period", period, at="2019-06-01T12:00:00.000Z")
    put_source(platform, {"2019-06-01-12-00-0-events.json": delete + b"\n"})
    run_pipeline(platform, "deleted")
    assert query(platform, "semantic_db", points) == [(0,)]
    facts = "SELECT count(*) FROM prod.fact_vehicle_period_distance"
    assert query(platform, "semantic_db", facts) == [(0,)]
    deleted = "SELECT is_deleted, is_counted FROM prod.dim_operating_period"
    assert query(platform, "semantic_db", deleted) == [(True, False)]
    after = query(platform, "semantic_db", day, partition)
    assert after[0][1] == "p" and after[0][0] != before[0][0]  # a new day, swapped in empty
