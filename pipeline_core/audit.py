"""Audit: one row per task run in ``ops.task_runs``, written even when the task fails."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline_core.db import connect, execute_sql_file
from pipeline_core.logs import log_event
from pipeline_core.settings import OPS_DATABASE, Settings

OPS_SCHEMA_SQL = Path(__file__).parent / "sql" / "ops_schema.sql"


def ensure_ops_schema(settings: Settings) -> None:
    """Create the operational metadata tables if missing (idempotent)."""
    with connect(settings, OPS_DATABASE) as conn:
        # Serialise concurrent first runs: CREATE ... IF NOT EXISTS races on the catalog.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('fleet.ops_schema'))")
        execute_sql_file(conn, OPS_SCHEMA_SQL)


@dataclass
class TaskRun:
    run_id: str
    stage: str
    objects: int | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    rows_rejected: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@contextmanager
def audited(settings: Settings, run_id: str, stage: str) -> Iterator[TaskRun]:
    """Record the wrapped work as one audit row; failures are recorded and re-raised."""
    record = TaskRun(run_id=run_id, stage=stage)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    log_event("task.start", run_id=run_id, stage=stage)
    status, error = "success", None
    try:
        yield record
    except BaseException as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        duration = round(time.monotonic() - t0, 3)
        with connect(settings, OPS_DATABASE) as conn:
            conn.execute(
                """INSERT INTO ops.task_runs (run_id, stage, started_at, finished_at, duration_s,
                       status, objects, rows_in, rows_out, rows_rejected, error, details)
                   VALUES (%s, %s, %s, now(), %s, %s, %s, %s, %s, %s, %s, %s)""",
                (
                    run_id,
                    stage,
                    started,
                    duration,
                    status,
                    record.objects,
                    record.rows_in,
                    record.rows_out,
                    record.rows_rejected,
                    error,
                    json.dumps(record.details, default=str),
                ),
            )
        log_event(
            "task.end",
            run_id=run_id,
            stage=stage,
            status=status,
            duration_s=duration,
            objects=record.objects,
            rows_in=record.rows_in,
            rows_out=record.rows_out,
            rows_rejected=record.rows_rejected,
            error=error,
        )
