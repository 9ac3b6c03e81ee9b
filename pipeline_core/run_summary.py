"""The run summary (``reports/run_summary.json``): what the platform holds after a run."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pipeline_core.db import connect, read_sql
from pipeline_core.settings import OPS_DATABASE, Settings

SQL_DIR = Path(__file__).parent / "sql"


def collect(settings: Settings, *, since: datetime | None = None) -> dict:
    """Totals: ``source`` over everything ingested so far (``new_objects`` since ``since``),
    ``lake`` and ``layers`` over what is held (less what retention expired)."""
    with connect(settings, OPS_DATABASE) as conn:
        objects, new_objects = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE extracted_at >= %s) FROM ops.lake_objects",
            (since or datetime.min,),
        ).fetchone()
        lines, rows, quarantined = conn.execute("""SELECT coalesce(sum(input_lines), 0),
                      coalesce(sum(parquet_rows) FILTER (WHERE expired_at IS NULL), 0),
                      coalesce(sum(quarantined_lines) FILTER (WHERE expired_at IS NULL), 0)
                 FROM ops.lake_batches WHERE converted_at IS NOT NULL""").fetchone()
        dates, drift = conn.execute(
            """SELECT (SELECT coalesce(array_agg(event_date ORDER BY event_date), '{}')
                         FROM ops.layer_partitions
                        WHERE layer = 'lake' AND expired_at IS NULL),
                      (SELECT coalesce(array_agg(DISTINCT f ORDER BY f), '{}')
                         FROM ops.lake_batches, unnest(schema_drift) f
                        WHERE converted_at IS NOT NULL)"""
        ).fetchone()
        layers = {
            r[0]: {
                "event_dates": r[1],
                "rows_in": int(r[2]),
                "rows_out": int(r[3]),
                "duplicates_removed": int(r[4]),
                "rejected": int(r[5]),
                "last_loaded_at": r[6].isoformat(),
            }
            for r in conn.execute(read_sql(SQL_DIR / "run_summary_layers.sql"))
        }
        answer = _answer(conn)
        checks = [
            {"layer": r[0], "check": r[1], "severity": r[2], "status": r[3], "rows": r[4]}
            for r in conn.execute(
                """SELECT DISTINCT ON (layer, check_name) layer, check_name, severity, status,
                          rows_affected
                     FROM ops.dq_results ORDER BY layer, check_name, checked_at DESC"""
            )
        ]
    return {
        "source": {"objects": objects, "lines": int(lines), "new_objects": new_objects},
        "layers": layers,
        "answer": answer,
        "data_quality": {
            "status": _dq_status(checks),
            "checks": checks,
        },
        "lake": {
            "parquet_rows": int(rows),
            "quarantined_lines": int(quarantined),
            "event_dates": [d.isoformat() for d in dates],
            "schema_drift_fields": sorted(drift),
        },
    }


def _dq_status(checks: list[dict]) -> str:
    statuses = {c["status"] for c in checks}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"


def _answer(conn) -> dict:
    """The BI answer from the marts (empty until the dwh layer has run)."""
    exists = conn.execute("SELECT to_regclass('marts.avg_distance_overall')").fetchone()[0]
    if exists is None:
        return {"avg_km_per_vehicle_period": None, "vehicle_periods": 0, "periods": []}
    overall = conn.execute(
        "SELECT avg_km_per_vehicle_period, vehicle_periods FROM marts.avg_distance_overall"
    ).fetchone() or (None, 0)
    periods = [
        {
            "organization_id": r[0],
            "operating_period_id": r[1],
            "period_start": r[2].isoformat(),
            "period_finish": r[3].isoformat(),
            "vehicles": r[4],
            "avg_km": r[5],
        }
        for r in conn.execute(
            """SELECT organization_id, operating_period_id, period_start, period_finish,
                      vehicles, avg_km
                 FROM marts.avg_distance_per_operating_period
                ORDER BY organization_id, period_start, operating_period_id"""
        )
    ]
    return {
        "avg_km_per_vehicle_period": overall[0],
        "vehicle_periods": overall[1],
        "periods": periods,
    }


def write(summary: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    return path
