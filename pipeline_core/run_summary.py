"""The run summary (``reports/run_summary.json``): what the platform holds after a run."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pipeline_core.db import connect
from pipeline_core.settings import OPS_DATABASE, Settings


def collect(settings: Settings, *, since: datetime | None = None) -> dict:
    """Totals over everything ingested so far; ``source.new_objects`` counts since ``since``."""
    with connect(settings, OPS_DATABASE) as conn:
        objects, new_objects = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE extracted_at >= %s) FROM ops.lake_objects",
            (since or datetime.min,),
        ).fetchone()
        lines, rows, quarantined = conn.execute(
            """SELECT coalesce(sum(input_lines), 0), coalesce(sum(parquet_rows), 0),
                      coalesce(sum(quarantined_lines), 0)
                 FROM ops.lake_batches WHERE converted_at IS NOT NULL"""
        ).fetchone()
        dates, drift = conn.execute(
            """SELECT (SELECT coalesce(array_agg(DISTINCT d ORDER BY d), '{}')
                         FROM ops.lake_batches, unnest(event_dates) d
                        WHERE converted_at IS NOT NULL),
                      (SELECT coalesce(array_agg(DISTINCT f ORDER BY f), '{}')
                         FROM ops.lake_batches, unnest(schema_drift) f
                        WHERE converted_at IS NOT NULL)"""
        ).fetchone()
    return {
        "source": {"objects": objects, "lines": int(lines), "new_objects": new_objects},
        "lake": {
            "parquet_rows": int(rows),
            "quarantined_lines": int(quarantined),
            "event_dates": [d.isoformat() for d in dates],
            "schema_drift_fields": sorted(drift),
        },
    }


def write(summary: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    return path
