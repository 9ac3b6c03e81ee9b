"""What extract lists of the source: the keys named from the newest landed object's hour
less the lookback on (each hour of the newest date by its prefix, later dates at once), or
every key when nothing tells the date."""

from datetime import date

import pytest

from data_lake.extract import listing_plan

TODAY = date(2026, 11, 24)


def _hours(day: str, *hours: int) -> list[tuple[str, None]]:
    out = []
    for h in hours:
        out.append((f"data/{day}-{h}-", None))
        if h < 10:
            out.append((f"data/{day}-{h:02d}-", None))
    return out


@pytest.mark.parametrize(
    "newest, lookback, requests",
    [
        (
            "data/2019-06-02-15-17-4-events.json",
            3,
            _hours("2019-06-02", *range(12, 24)) + [("data/", "data/2019-06-03")],
        ),
        (
            "data/2019-06-02-9-5-3-events.json",
            0,
            _hours("2019-06-02", *range(9, 24)) + [("data/", "data/2019-06-03")],
        ),
        # the window crosses midnight, and the end of a month
        (
            "data/2019-03-01-1-0-0-events.json",
            3,
            _hours("2019-02-28", 22, 23)
            + _hours("2019-03-01", *range(0, 24))
            + [("data/", "data/2019-03-02")],
        ),
        # a name with a date but no hour: whole dates from the day before
        ("data/2019-06-02-events-redelivered.json", 3, [("data/", "data/2019-06-01")]),
        ("data/2019-06-02-24-0-0-events.json", 3, [("data/", "data/2019-06-01")]),
        # a day or more: whole dates from the window's first (not a listing per hour)
        ("data/2019-06-02-1-2-3-events.json", 48, [("data/", "data/2019-05-31")]),
        ("data/2019-06-02-0-2-3-events.json", 24, [("data/", "data/2019-06-01")]),
        (
            "data/2019-06-02-1-2-3-events.json",
            23,
            _hours("2019-06-01", *range(2, 24))
            + _hours("2019-06-02", *range(24))
            + [("data/", "data/2019-06-03")],
        ),
        # every key: nothing landed, a listing of all asked for, or no date to go by
        (None, 3, [("data/", None)]),
        ("data/2019-06-02-15-17-4-events.json", None, [("data/", None)]),
        ("data/readme.json", 3, [("data/", None)]),
        ("data/2019-13-45-0-0-0-events.json", 3, [("data/", None)]),
        ("other/2019-06-02-15-17-4-events.json", 3, [("data/", None)]),
        # a local name may be a day ahead of UTC; a later date is a misnamed object, which
        # must not hide the feed's real keys: whole dates from today
        (
            "data/2026-11-25-1-0-0-events.json",
            3,
            _hours("2026-11-24", 22, 23)
            + _hours("2026-11-25", *range(0, 24))
            + [("data/", "data/2026-11-26")],
        ),
        ("data/2030-01-01-0-0-0-events.json", 3, [("data/", "data/2026-11-24")]),
    ],
)
def test_listing_covers_the_newest_hour_less_the_lookback_on(newest, lookback, requests):
    plan = listing_plan(newest, "data/", lookback, TODAY)
    assert list(plan.requests) == requests
    # the audit's start: the first hour's prefix, the first date, or None (every key)
    assert plan.start == (requests[0][1] if requests[0][0] == "data/" else requests[0][0])


def _listed(plan, keys: list[str]) -> set[str]:
    """The keys the plan's S3 listings return (Prefix, then StartAfter, as S3 does)."""
    return {
        k
        for prefix, after in plan.requests
        for k in keys
        if k.startswith(prefix) and (after is None or k > after)
    }


def test_listing_returns_each_key_of_the_window_once_and_none_before():
    plan = listing_plan("data/2019-06-02-15-17-4-events.json", "data/", 3, TODAY)
    inside = [
        "data/2019-06-02-12-0-0-events.json",
        "data/2019-06-02-15-59-59-events.json",
        "data/2019-06-02-23-0-1-events.json",
        "data/2019-06-03-0-0-0-events.json",
        "data/2019-06-03-9-0-0-events.json",
        "data/2019-07-01-1-0-0-events.json",
    ]
    before = [
        "data/2019-06-02-11-59-59-events.json",
        "data/2019-06-02-1-0-0-events.json",  # hour 1, which sorts between 12 and 15
        "data/2019-06-01-23-0-0-events.json",
    ]
    assert _listed(plan, inside + before) == set(inside)
    hits = [k for k in inside for p, a in plan.requests if k.startswith(p) and (a is None or k > a)]
    assert sorted(hits) == sorted(inside)  # no key is listed twice


def test_listing_finds_zero_padded_hours_too():
    plan = listing_plan("data/2019-06-02-8-0-0-events.json", "data/", 2, TODAY)
    keys = ["data/2019-06-02-06-0-0-events.json", "data/2019-06-02-6-0-0-events.json"]
    assert _listed(plan, keys) == set(keys)
