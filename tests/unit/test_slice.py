"""A slice's rows are selected by a condition with only the kinds of dates it has, and a
slice is read date by date, so every read prunes to one date."""

from __future__ import annotations

from datetime import date

from dwh_pipelines.partitions import Slice

D1, D2, D3 = date(2019, 6, 1), date(2019, 6, 2), date(2019, 6, 3)


def _text(cut: Slice) -> str:
    return cut.filter().as_string(None)


def test_filter_has_only_the_kinds_of_dates_of_the_slice():
    assert _text(Slice("raw", [D1], [], 0, 5)) == (
        "(event_date = ANY(%(replace_dates)s) AND load_seq <= %(high_seq)s)"
    )
    assert _text(Slice("raw", [], [D2], 3, 5)) == (
        "(event_date = ANY(%(append_dates)s)"
        " AND load_seq > %(low_seq)s AND load_seq <= %(high_seq)s)"
    )
    both = _text(Slice("raw", [D1], [D2], 3, 5))
    assert both.count(" OR ") == 1 and "replace_dates" in both and "append_dates" in both
    assert _text(Slice("raw", [], [], 3, 5)) == "false"


def test_by_date_keeps_each_dates_kind_and_the_load_range():
    parts = Slice("raw", [D3, D1], [D2], 3, 5).by_date()
    assert [(p.replace, p.append, p.low, p.high) for p in parts] == [
        ([D1], [], 3, 5),
        ([], [D2], 3, 5),
        ([D3], [], 3, 5),
    ]
    assert Slice("raw", [], [], 3, 5).by_date() == []
