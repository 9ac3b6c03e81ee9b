"""The lake's explicit Arrow schemas: what a line must be to become a Parquet row."""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

#: One input line, as pyarrow's JSON reader must read it. Fields of both entities share
#: ``data``; anything else in a line is schema drift (ignored and recorded).
EVENT_LINE_SCHEMA = pa.schema(
    [
        ("event", pa.string()),
        ("on", pa.string()),
        ("at", TS),
        (
            "data",
            pa.struct(
                [
                    ("id", pa.string()),
                    (
                        "location",
                        pa.struct([("lat", pa.float64()), ("lng", pa.float64()), ("at", TS)]),
                    ),
                    ("start", TS),
                    ("finish", TS),
                ]
            ),
        ),
        ("organization_id", pa.string()),
    ]
)

LINEAGE_FIELDS = [
    pa.field("source_key", pa.string(), nullable=False),
    pa.field("source_line", pa.int32(), nullable=False),
    pa.field("ingestion_run_id", pa.string(), nullable=False),
    pa.field("batch_id", pa.string(), nullable=False),
]

VEHICLE_EVENTS_SCHEMA = pa.schema(
    [
        pa.field("event", pa.string(), nullable=False),
        pa.field("organization_id", pa.string(), nullable=False),
        pa.field("event_at", TS, nullable=False),
        pa.field("vehicle_id", pa.string(), nullable=False),
        pa.field("location_lat", pa.float64()),
        pa.field("location_lng", pa.float64()),
        pa.field("location_at", TS),
        *LINEAGE_FIELDS,
    ]
)

OPERATING_PERIOD_EVENTS_SCHEMA = pa.schema(
    [
        pa.field("event", pa.string(), nullable=False),
        pa.field("organization_id", pa.string(), nullable=False),
        pa.field("event_at", TS, nullable=False),
        pa.field("period_id", pa.string(), nullable=False),
        pa.field("period_start", TS),
        pa.field("period_finish", TS),
        *LINEAGE_FIELDS,
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source_key", pa.string(), nullable=False),
        pa.field("source_line", pa.int32(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw_line", pa.binary(), nullable=False),
        pa.field("ingestion_run_id", pa.string(), nullable=False),
        pa.field("batch_id", pa.string(), nullable=False),
    ]
)

#: lake dataset name -> (value of "on", schema)
DATASETS: dict[str, tuple[str, pa.Schema]] = {
    "vehicle_events": ("vehicle", VEHICLE_EVENTS_SCHEMA),
    "operating_period_events": ("operating_period", OPERATING_PERIOD_EVENTS_SCHEMA),
}

PARQUET_PREFIX = "parquet"
QUARANTINE_PREFIX = "quarantine"
LANDING_PREFIX = "landing"
