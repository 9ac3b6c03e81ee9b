"""Landing bundles: stored compressed, read back byte for byte at the manifest's offsets."""

import pytest

from data_lake.extract import SourceObject, bundle_key, pack_bundle, unpack_bundle

OBJECTS = [
    b'{"event":"update","on":"vehicle","at":"2019-06-01T10:00:00Z","data":{"id":"v1"}}\n' * 50,
    b"",
    b'{"event":"create","on":"operating_period"}\r\n\xef\xbb\xbf not json',
]


def test_bundle_round_trip_keeps_every_byte_at_its_offset():
    key = bundle_key([SourceObject("data/a.json", "e1", 1, None)])
    stored = pack_bundle(OBJECTS)
    assert key.endswith(".ndjson.zst")
    assert len(stored) < len(b"".join(OBJECTS)) / 5
    body, offset = unpack_bundle(key, stored), 0
    for obj in OBJECTS:
        assert body[offset : offset + len(obj)] == obj
        offset += len(obj)
    assert offset == len(body)


def test_bundles_landed_before_compression_are_read_as_stored():
    raw = b"".join(OBJECTS)
    assert unpack_bundle("landing/bundle-0123456789abcdef01234567.ndjson", raw) == raw
    assert unpack_bundle("landing/old/data/a.json", raw) == raw


def test_a_damaged_bundle_fails_naming_it():
    key = "landing/bundle-0123456789abcdef01234567.ndjson.zst"
    with pytest.raises(RuntimeError, match=key):
        unpack_bundle(key, pack_bundle(OBJECTS)[:-7])
