"""Conversion of NDJSON to typed rows: every line is a row or a quarantined line."""

import pyarrow as pa
import pytest

from data_lake.parse import parse_objects
from data_lake.schema import OPERATING_PERIOD_EVENTS_SCHEMA, VEHICLE_EVENTS_SCHEMA

UPDATE = (
    b'{"event":"update","on":"vehicle","at":"2019-06-01T18:17:04.079Z","data":{"id":"v1",'
    b'"location":{"lat":52.5,"lng":13.4,"at":"2019-06-01T18:17:04.011Z"}},"organization_id":"o1"}'
)
CREATE = (
    b'{"event":"create","on":"operating_period","at":"2019-06-01T18:17:04.079Z","data":'
    b'{"id":"p1","start":"2019-06-01T18:00:00.000Z","finish":"2019-06-01T19:00:00.000Z"},'
    b'"organization_id":"o1"}'
)


def parse(*objects):
    return parse_objects(list(objects), run_id="run-1", batch_id="b-1")


def reasons(chunk):
    q = chunk.quarantine
    return {
        (k, n): r
        for k, n, r in zip(
            q.column("source_key").to_pylist(),
            q.column("source_line").to_pylist(),
            q.column("reason").to_pylist(),
            strict=True,
        )
    }


def test_clean_lines_become_typed_rows_with_lineage():
    chunk = parse(("a.json", UPDATE + b"\n" + CREATE + b"\n"))
    vehicles = chunk.datasets["vehicle_events"]
    periods = chunk.datasets["operating_period_events"]
    assert vehicles.schema == VEHICLE_EVENTS_SCHEMA
    assert periods.schema == OPERATING_PERIOD_EVENTS_SCHEMA
    row = vehicles.to_pylist()[0]
    assert row["vehicle_id"] == "v1" and row["location_lat"] == 52.5
    assert row["event_at"].isoformat() == "2019-06-01T18:17:04.079000+00:00"
    assert (row["source_key"], row["source_line"], row["ingestion_run_id"]) == (
        "a.json",
        1,
        "run-1",
    )
    assert periods.column("source_line").to_pylist() == [2]
    assert chunk.input_lines == 2 and chunk.quarantine.num_rows == 0


def test_bad_lines_are_quarantined_with_reason_and_position():
    body = b"\n".join([UPDATE, b"{broken", b"", UPDATE + UPDATE, b"42", b"  ", UPDATE])
    chunk = parse(("a.json", body))
    found = reasons(chunk)
    assert set(found) == {("a.json", 2), ("a.json", 3), ("a.json", 4), ("a.json", 5), ("a.json", 6)}
    assert found[("a.json", 3)] == "empty line"
    assert "2 JSON objects" in found[("a.json", 4)]
    assert chunk.datasets["vehicle_events"].column("source_line").to_pylist() == [1, 7]
    assert chunk.input_lines == chunk.rows + chunk.quarantine.num_rows == 7


def test_raw_bytes_of_quarantined_lines_are_kept_exactly():
    bad = b'{"event": "update", "on": "vehicle", \xff\xfe'
    chunk = parse(("a.json", UPDATE + b"\n" + bad + b"\n"))
    assert chunk.quarantine.column("raw_line").to_pylist() == [bad]


@pytest.mark.parametrize(
    "line, reason",
    [
        (
            b'{"event":"update","on":"bus","at":"2019-06-01T18:00:00Z","data":{"id":"x"},'
            b'"organization_id":"o"}',
            "unknown entity in 'on'",
        ),
        (
            b'{"event":"update","on":"vehicle","data":{"id":"x"},"organization_id":"o"}',
            "missing event time 'at'",
        ),
        (
            b'{"on":"vehicle","at":"2019-06-01T18:00:00Z","data":{"id":"x"},"organization_id":"o"}',
            "missing field 'event'",
        ),
        (
            b'{"event":"update","on":"vehicle","at":"2019-06-01T18:00:00Z","data":{"id":"x"}}',
            "missing field 'organization_id'",
        ),
        (
            b'{"event":"update","on":"vehicle","at":"2019-06-01T18:00:00Z","data":{},'
            b'"organization_id":"o"}',
            "missing field 'data.id'",
        ),
    ],
)
def test_schema_rules(line, reason):
    chunk = parse(("a.json", UPDATE + b"\n" + line))
    assert reasons(chunk) == {("a.json", 2): reason}
    assert chunk.rows == 1


def test_bom_crlf_missing_final_newline_and_empty_objects():
    chunk = parse(
        ("bom.json", b"\xef\xbb\xbf" + UPDATE + b"\r\n" + CREATE + b"\r\n"),
        ("empty.json", b""),
        ("no-newline.json", UPDATE),
    )
    assert chunk.input_lines == 3 and chunk.rows == 3 and chunk.quarantine.num_rows == 0
    keys = chunk.datasets["vehicle_events"].column("source_key").to_pylist()
    assert keys == ["bom.json", "no-newline.json"]


def test_timestamps_are_utc_whatever_the_input_offset():
    line = UPDATE.replace(b"2019-06-01T18:17:04.079Z", b"2019-06-01T20:17:04.079+02:00")
    naive = UPDATE.replace(b"2019-06-01T18:17:04.079Z", b"2019-06-01T18:17:04.079")
    chunk = parse(("a.json", line + b"\n" + naive))
    times = chunk.datasets["vehicle_events"].column("event_at").to_pylist()
    assert times[0] == times[1]
    assert chunk.datasets["vehicle_events"].schema.field("event_at").type == pa.timestamp(
        "us", tz="UTC"
    )


def test_unknown_fields_are_reported_as_drift_not_stored():
    line = UPDATE.replace(b'"organization_id"', b'"speed":3,"organization_id"')
    line = line.replace(b'"location"', b'"battery":0.5,"location"')
    chunk = parse(("a.json", line))
    assert chunk.schema_drift == {"speed", "data.battery"}
    assert chunk.rows == 1


def test_null_location_is_a_row_with_null_coordinates():
    line = UPDATE.replace(b'{"lat":52.5,"lng":13.4,"at":"2019-06-01T18:17:04.011Z"}', b"null")
    chunk = parse(("a.json", line))
    row = chunk.datasets["vehicle_events"].to_pylist()[0]
    assert row["location_lat"] is None and row["location_at"] is None


def test_invalid_utf8_inside_a_string_is_quarantined():
    bad = UPDATE.replace(b'"v1"', b'"v\xe9"')
    chunk = parse(("a.json", UPDATE + b"\n" + bad + b"\n"))
    assert chunk.rows == 1
    assert list(reasons(chunk)) == [("a.json", 2)]
    assert "UTF8" in reasons(chunk)[("a.json", 2)].upper().replace("-", "")


def test_faults_spread_over_a_large_chunk_are_each_isolated():
    """Parts, reader row hints and bisection together still quarantine exactly the bad
    lines, wherever they fall (a line of two objects shifts the reader's row count)."""
    from data_lake.parse import _PART_LINES

    n = 3 * _PART_LINES + 7
    bad = {
        5: b'{"event": broken',
        _PART_LINES - 1: UPDATE + UPDATE,  # two objects on one line
        _PART_LINES + 3: b'{"event":"update","at":"not a time"}',
        2 * _PART_LINES + 100: b'{"event": broken',
        2 * _PART_LINES + 101: UPDATE + UPDATE,
        n - 1: b"[1, 2]",
    }
    body = b"\n".join(bad.get(i, UPDATE) for i in range(n)) + b"\n"
    chunk = parse(("big.json", body))
    assert set(reasons(chunk)) == {("big.json", i + 1) for i in bad}
    assert chunk.rows == n - len(bad)
    lines = chunk.datasets["vehicle_events"].column("source_line").to_pylist()
    assert lines == [i + 1 for i in range(n) if i not in bad]
