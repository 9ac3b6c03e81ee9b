"""Unit tests of the feed simulator: determinism, format, faults and ground truth."""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import boto3
import pytest
from moto import mock_aws

from data_lake.simulate import (
    BERLIN_BBOX,
    EARTH_RADIUS_KM,
    REDELIVERY_SUFFIX,
    SimulationConfig,
    format_ts,
    generate_feed,
    haversine_km,
    iter_feed,
    main,
    object_name,
    upload_feed,
    write_feed_to_dir,
    write_ground_truth,
)

SMALL = SimulationConfig(vehicles=4, hours=0.1, organizations=2, seed=7)
NAME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(\d{1,2})-(\d{1,2})-(\d{1,2})-events.*\.json$")


def _ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _lines(feed, *, skip_redelivered: bool = False):
    for name, data in feed.objects.items():
        if skip_redelivered and REDELIVERY_SUFFIX in name:
            continue
        for line in data.decode().split("\n")[:-1]:
            yield name, line


def _parsed(feed, **kw):
    out = []
    for name, line in _lines(feed, **kw):
        try:
            out.append((name, json.loads(line)))
        except json.JSONDecodeError:
            continue
    return out


def _clean_points(feed) -> dict[str, list[tuple[datetime, float, float]]]:
    """Vehicle -> sorted unique located points (the clean feed has nothing else)."""
    pts: dict[str, set] = defaultdict(set)
    for _, ev in _parsed(feed, skip_redelivered=True):
        loc = ev["data"].get("location") if ev["event"] == "update" else None
        if loc and loc["at"] is not None:
            pts[ev["data"]["id"]].add((_ts(loc["at"]), loc["lat"], loc["lng"]))
    return {v: sorted(p) for v, p in pts.items()}


@pytest.fixture(scope="module")
def faulty():
    return generate_feed(SMALL)


@pytest.fixture(scope="module")
def clean():
    return generate_feed(SimulationConfig(**{**SMALL.__dict__, "faults": False}))


def test_same_seed_same_feed_other_seed_other_feed(faulty):
    again = generate_feed(SMALL)
    assert again.objects == faulty.objects
    assert again.ground_truth == faulty.ground_truth
    assert again.stats == faulty.stats
    other = generate_feed(SimulationConfig(**{**SMALL.__dict__, "seed": 8}))
    assert other.objects != faulty.objects
    assert other.ground_truth != faulty.ground_truth


def test_faults_do_not_change_the_clean_world(faulty, clean):
    gt_f = {k: v for k, v in faulty.ground_truth.items() if k != "config"}
    gt_c = {k: v for k, v in clean.ground_truth.items() if k != "config"}
    assert gt_f == gt_c
    assert faulty.stats["events_by_kind"] == clean.stats["events_by_kind"]


def test_object_names_are_local_time_three_hours_behind(faulty):
    for name, ev in _parsed(faulty):
        m = NAME_RE.match(name)
        assert m, name
        local = datetime(*map(int, m.groups()), tzinfo=UTC)
        stamped_utc = local + timedelta(hours=3)
        at = _ts(ev["at"])
        # The object holds its own second; late (out-of-order / duplicated) lines are older.
        assert stamped_utc - timedelta(seconds=6) <= at < stamped_utc + timedelta(seconds=1)
    # Names themselves: no zero padding on hour/minute/second, zero padding on month/day.
    assert object_name(int(datetime(2019, 6, 1, 18, 17, 4, tzinfo=UTC).timestamp())) == (
        "2019-06-01-15-17-4-events.json"
    )
    assert object_name(int(datetime(2019, 6, 1, 2, 5, 9, tzinfo=UTC).timestamp())) == (
        "2019-05-31-23-5-9-events.json"
    )


def test_clean_objects_hold_exactly_their_second(clean):
    for name, ev in _parsed(clean):
        local = datetime(*map(int, NAME_RE.match(name).groups()), tzinfo=UTC)
        at = _ts(ev["at"])
        assert local + timedelta(hours=3) <= at < local + timedelta(hours=3, seconds=1)


def test_lines_parse_with_expected_shape(faulty):
    bad = 0
    for _, line in _lines(faulty, skip_redelivered=True):
        try:
            ev = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        assert list(ev) == ["event", "on", "at", "data", "organization_id"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ev["at"])
        assert ev["organization_id"].startswith("org-")
        data = ev["data"]
        assert isinstance(data["id"], str) and data["id"]
        if ev["on"] == "vehicle":
            assert ev["event"] in {"register", "update", "deregister"}
            loc = data.get("location")
            if loc is not None:
                assert set(loc) == {"lat", "lng", "at"}
                if loc["at"] is not None:
                    assert isinstance(loc["lat"], float) and isinstance(loc["lng"], float)
                    lag = _ts(ev["at"]) - _ts(loc["at"])
                    assert timedelta(milliseconds=1) <= lag <= timedelta(milliseconds=400)
        else:
            assert ev["on"] == "operating_period"
            assert ev["event"] in {"create", "delete"}
            assert _ts(data["start"]) < _ts(data["finish"])
    assert bad == faulty.stats["faults"]["malformed_lines"]
    total = sum(1 for _ in _lines(faulty))
    assert total == faulty.stats["lines"]
    assert len(faulty.objects) == faulty.stats["objects"]


def test_clean_feed_has_no_faults(clean):
    lines = [line for _, line in _lines(clean)]
    assert len(lines) == len(set(lines))
    for line in lines:
        json.loads(line)
    assert not any(REDELIVERY_SUFFIX in n for n in clean.objects)
    assert all(v == 0 for v in clean.stats["faults"].values())
    assert clean.stats["lines"] == sum(clean.stats["events_by_kind"].values())


def test_every_fault_kind_is_injected(faulty, clean):
    f = faulty.stats["faults"]
    assert all(v > 0 for v in f.values()), f
    added = (
        f["duplicate_lines"]
        + f["redelivered_lines"]
        + f["gps_jumps"]
        + f["null_locations"]
        + f["malformed_lines"]
    )
    assert faulty.stats["lines"] == clean.stats["lines"] + added
    # Duplicates and re-deliveries are exact copies.
    lines = [line for _, line in _lines(faulty)]
    assert len(lines) - len(set(lines)) >= f["duplicate_lines"] + f["redelivered_lines"]
    for name in faulty.objects:
        if REDELIVERY_SUFFIX in name:
            assert faulty.objects[name] == faulty.objects[name.replace(REDELIVERY_SUFFIX, "")]
    # Null locations.
    nulls = sum(
        1
        for _, ev in _parsed(faulty, skip_redelivered=True)
        if ev["event"] == "update"
        and (ev["data"]["location"] is None or ev["data"]["location"]["lat"] is None)
    )
    assert nulls == f["null_locations"]


def test_clean_points_survive_faults(faulty, clean):
    c, f = _clean_points(clean), _clean_points(faulty)
    for vid, pts in c.items():
        assert set(pts) <= set(f[vid])
    jumps = sum(len(f[v]) - len(c[v]) for v in c)
    assert jumps == faulty.stats["faults"]["gps_jumps"]


def test_out_of_order_lines_land_in_later_objects(faulty):
    late = 0
    for name, ev in _parsed(faulty, skip_redelivered=True):
        local = datetime(*map(int, NAME_RE.match(name).groups()), tzinfo=UTC)
        if _ts(ev["at"]) < local + timedelta(hours=3) - timedelta(seconds=1):
            late += 1
    assert late >= faulty.stats["faults"]["out_of_order_lines"]


def test_gps_jumps_are_far_and_between_clean_points_away_from_period_edges(faulty, clean):
    c, f = _clean_points(clean), _clean_points(faulty)
    bounds = defaultdict(set)  # org -> every period start/finish (deleted ones too)
    org_of = {}
    for _, ev in _parsed(faulty):
        if ev["on"] == "operating_period":
            bounds[ev["organization_id"]] |= {_ts(ev["data"]["start"]), _ts(ev["data"]["finish"])}
        else:
            org_of[ev["data"]["id"]] = ev["organization_id"]
    seen = 0
    for vid, pts in f.items():
        clean_set = set(c[vid])
        for i, p in enumerate(pts):
            if p in clean_set:
                continue
            seen += 1
            assert 0 < i < len(pts) - 1
            prev, nxt = pts[i - 1], pts[i + 1]
            assert prev in clean_set and nxt in clean_set
            assert haversine_km(prev[1], prev[2], p[1], p[2]) > 10
            assert not any(prev[0] < b <= nxt[0] for b in bounds[org_of[vid]])
    assert seen == faulty.stats["faults"]["gps_jumps"] > 0


def test_clean_motion_is_plausible_and_inside_berlin(clean):
    min_lat, min_lng, max_lat, max_lng = BERLIN_BBOX
    points = _clean_points(clean)
    assert len(points) == SMALL.vehicles
    for pts in points.values():
        assert (
            52.45 - 0.01 <= pts[0][1] <= 52.58 + 0.01 and 13.25 - 0.01 <= pts[0][2] <= 13.55 + 0.01
        )
        for (t0, la0, ln0), (t1, la1, ln1) in pairwise(pts):
            assert min_lat < la1 < max_lat and min_lng < ln1 < max_lng
            dt = (t1 - t0).total_seconds()
            assert 0.7 < dt < 1.3
            assert haversine_km(la0, ln0, la1, ln1) / (dt / 3600) < 100


def test_vehicle_lifecycle(clean):
    per_vehicle = defaultdict(list)
    for _, ev in _parsed(clean):
        if ev["on"] == "vehicle":
            per_vehicle[ev["data"]["id"]].append((_ts(ev["at"]), ev["event"]))
    orgs = set()
    start = SMALL.start
    for events in per_vehicle.values():
        events.sort()
        assert events[0][1] == "register" and events[-1][1] == "deregister"
        assert {e for _, e in events[1:-1]} == {"update"}
        assert events[0][0] < start + timedelta(hours=SMALL.hours)
    for _, ev in _parsed(clean):
        orgs.add(ev["organization_id"])
    assert len(orgs) == SMALL.organizations
    assert len(per_vehicle) == SMALL.vehicles


def test_haversine_hand_checked():
    # One degree along a meridian is R * pi / 180.
    assert haversine_km(0.0, 0.0, 1.0, 0.0) == pytest.approx(111.195080, abs=1e-6)
    assert EARTH_RADIUS_KM * math.pi / 180 == pytest.approx(111.195080, abs=1e-6)
    # Berlin TV tower -> Brandenburg Gate: 0.505 km north, 2.146 km west, about 2.2 km.
    assert haversine_km(52.520817, 13.409419, 52.516275, 13.377704) == pytest.approx(2.2, abs=0.1)
    assert format_ts(1559413024079) == "2019-06-01T18:17:04.079Z"


def test_ground_truth_matches_a_brute_force_recomputation(clean):
    gt = clean.ground_truth
    created, deleted, orgs = {}, set(), {}
    for _, ev in _parsed(clean):
        d = ev["data"]
        if ev["on"] == "operating_period":
            if ev["event"] == "create":
                created[d["id"]] = (ev["organization_id"], _ts(d["start"]), _ts(d["finish"]))
            else:
                deleted.add(d["id"])
        else:
            orgs[d["id"]] = ev["organization_id"]
    assert sorted(deleted) == gt["deleted_periods"] and deleted
    expected = {}
    for vid, pts in _clean_points(clean).items():
        for pid, (org, start, finish) in created.items():
            if pid in deleted or org != orgs[vid]:
                continue
            inside = [p for p in pts if start <= p[0] < finish]
            if inside:
                km = sum(haversine_km(a[1], a[2], b[1], b[2]) for a, b in pairwise(inside))
                expected[(org, pid, vid)] = (km, len(inside))
    got = {
        (p["organization_id"], p["operating_period_id"], p["vehicle_id"]): p for p in gt["pairs"]
    }
    assert set(got) == set(expected)
    for key, (km, n) in expected.items():
        assert got[key]["distance_km"] == pytest.approx(km, abs=1e-5)
        assert got[key]["points"] == n
    keys = [(p["organization_id"], p["operating_period_id"], p["vehicle_id"]) for p in gt["pairs"]]
    assert keys == sorted(keys)


def test_ground_truth_aggregates(faulty):
    gt = faulty.ground_truth
    pairs = gt["pairs"]
    assert pairs and gt["earth_radius_km"] == EARTH_RADIUS_KM
    mean = sum(p["distance_km"] for p in pairs) / len(pairs)
    assert gt["avg_km_per_vehicle_period"] == pytest.approx(mean, abs=1e-5)
    deleted = set(gt["deleted_periods"])
    assert deleted and len(deleted) == faulty.stats["deleted_periods"]
    by_period = defaultdict(list)
    for p in pairs:
        assert p["operating_period_id"] not in deleted
        by_period[p["operating_period_id"]].append(p["distance_km"])
    assert {p["operating_period_id"] for p in gt["periods"]} == set(by_period)
    for row in gt["periods"]:
        assert row["is_deleted"] is False and row["operating_period_id"] not in deleted
        kms = by_period[row["operating_period_id"]]
        assert row["vehicles"] == len(kms)
        assert row["total_km"] == pytest.approx(sum(kms), abs=1e-5)
        assert row["avg_km"] == pytest.approx(sum(kms) / len(kms), abs=1e-5)
    json.dumps(gt)


def test_stream_equals_in_memory(faulty):
    stream = iter_feed(SMALL)
    assert dict(stream) == faulty.objects
    assert stream.ground_truth == faulty.ground_truth and stream.stats == faulty.stats


def test_writers(tmp_path, clean):
    write_feed_to_dir(clean, tmp_path / "feed")
    write_ground_truth(clean, tmp_path / "gt" / "ground_truth.json")
    files = {p.name: p.read_bytes() for p in (tmp_path / "feed").iterdir()}
    assert files == clean.objects
    assert json.loads((tmp_path / "gt" / "ground_truth.json").read_text()) == clean.ground_truth


def test_cli_writes_feed_and_ground_truth(tmp_path, capsys):
    out = tmp_path / "lake" / "feed"
    rc = main(["--vehicles", "3", "--hours", "0.05", "--organizations", "2", "--out-dir", str(out)])
    assert rc == 0
    assert any(out.iterdir())
    gt = json.loads((tmp_path / "lake" / "ground_truth.json").read_text())
    assert gt["config"]["vehicles"] == 3
    assert "objects" in capsys.readouterr().out


def test_invalid_config_is_rejected():
    with pytest.raises(ValueError):
        generate_feed(SimulationConfig(vehicles=2, organizations=3))
    with pytest.raises(ValueError):
        generate_feed(SimulationConfig(hours=0.001))


def test_upload_feed_to_mocked_s3(monkeypatch, faulty):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(var, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="feed")
        assert upload_feed(faulty, s3, "feed", prefix="data/", max_workers=8) == len(faulty.objects)
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="feed", Prefix="data/"):
            keys += [o["Key"] for o in page.get("Contents", [])]
        assert sorted(keys) == sorted(f"data/{n}" for n in faulty.objects)
        name = next(iter(faulty.objects))
        body = s3.get_object(Bucket="feed", Key=f"data/{name}")["Body"].read()
        assert body == faulty.objects[name]
