"""Where extract's listing of the source starts: from the newest landed object's date less
the lookback, or at the first key when nothing tells the date."""

from datetime import date

import pytest

from data_lake.extract import listing_start

TODAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    "newest, lookback, start",
    [
        ("data/2019-06-02-15-17-4-events.json", 1, "data/2019-06-01"),
        ("data/2019-06-02-9-5-3-events.json", 0, "data/2019-06-02"),
        ("data/2019-03-01-0-0-0-events.json", 1, "data/2019-02-28"),
        ("data/2019-06-02-1-2-3-events-redelivered.json", 2, "data/2019-05-31"),
        # every key: nothing landed, a listing of all asked for, or no date to go by
        (None, 1, None),
        ("data/2019-06-02-15-17-4-events.json", None, None),
        ("data/readme.json", 1, None),
        ("data/2019-13-45-0-0-0-events.json", 1, None),
        ("other/2019-06-02-15-17-4-events.json", 1, None),
        # a local name may be a day ahead of UTC; a later date is a misnamed object, which
        # must not hide the feed's real keys
        ("data/2026-11-25-1-0-0-events.json", 1, "data/2026-11-24"),
        ("data/2030-01-01-0-0-0-events.json", 1, "data/2026-11-24"),
    ],
)
def test_listing_starts_at_the_newest_date_less_the_lookback(newest, lookback, start):
    assert listing_start(newest, "data/", lookback, TODAY) == start


def test_listing_start_sorts_before_every_key_of_its_day():
    start = listing_start("data/2019-06-02-15-17-4-events.json", "data/", 1, TODAY)
    assert start < "data/2019-06-01-0-0-0-events.json" < "data/2019-06-02-0-0-0-events.json"
    assert "data/2019-05-31-23-59-59-events.json" < start
