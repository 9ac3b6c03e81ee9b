"""Nightly VACUUM (ANALYZE) of each warehouse database, with an index health report.

Why: the layers replace whole partitions every 15 minutes (delete + insert), which leaves dead
tuples and stale planner statistics behind faster than autovacuum's defaults may catch up on a
small box. Invalid indexes (a failed ``CREATE INDEX CONCURRENTLY``) are never used by the
planner yet still slow every write, so they are reported by name.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import psycopg

from pipeline_core.audit import audited, ensure_ops_schema
from pipeline_core.db import connect
from pipeline_core.logs import log_event
from pipeline_core.settings import WAREHOUSE_DATABASES, Settings

_INVALID_INDEXES_SQL = """
SELECT n.nspname || '.' || c.relname AS index_name,
       tn.nspname || '.' || t.relname AS table_name,
       i.indisvalid, i.indisready, i.indislive
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE NOT (i.indisvalid AND i.indisready AND i.indislive)
ORDER BY 1
"""

#: Indexes never scanned since statistics were reset, not backing a constraint (those enforce
#: uniqueness / keys even when unused by queries), largest first.
_UNUSED_INDEXES_SQL = """
SELECT s.schemaname || '.' || s.indexrelname AS index_name,
       s.schemaname || '.' || s.relname AS table_name,
       pg_relation_size(s.indexrelid) AS size_bytes
FROM pg_stat_user_indexes s
JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE s.idx_scan = 0
  AND NOT i.indisunique
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = s.indexrelid)
ORDER BY size_bytes DESC, 1
LIMIT 50
"""

_DEAD_TUPLES_SQL = """
SELECT coalesce(sum(n_dead_tup), 0), coalesce(sum(n_live_tup), 0)
FROM pg_stat_user_tables
"""


def _vacuum_one(settings: Settings, database: str) -> dict[str, Any]:
    notices: list[str] = []
    t0 = time.monotonic()

    def keep_notice(diag: psycopg.errors.Diagnostic) -> None:
        if diag.severity_nonlocalized in ("WARNING", "NOTICE"):
            notices.append(diag.message_primary or "")

    with connect(settings, database, autocommit=True) as conn:
        conn.add_notice_handler(keep_notice)
        try:
            # SKIP_LOCKED: a table the pipeline holds a conflicting lock on is skipped (and
            # reported) instead of blocking the pipeline or this task.
            conn.execute("VACUUM (ANALYZE, SKIP_LOCKED)")
        except psycopg.Error as exc:
            raise type(exc)(f"VACUUM (ANALYZE) of database {database!r} failed: {exc}") from exc
        duration = round(time.monotonic() - t0, 3)
        invalid = [
            {
                "index": r[0],
                "table": r[1],
                "valid": r[2],
                "ready": r[3],
                "live": r[4],
            }
            for r in conn.execute(_INVALID_INDEXES_SQL).fetchall()
        ]
        unused = [
            {"index": r[0], "table": r[1], "size_bytes": int(r[2])}
            for r in conn.execute(_UNUSED_INDEXES_SQL).fetchall()
        ]
        dead, live = conn.execute(_DEAD_TUPLES_SQL).fetchone()
    skipped = [n for n in notices if "skipping" in n]
    report = {
        "vacuum_s": duration,
        "invalid_indexes": invalid,
        "unused_indexes": unused,
        "dead_tuples": int(dead),
        "live_tuples": int(live),
        "skipped": skipped,
    }
    for item in invalid:
        log_event("maintenance.invalid_index", database=database, **item)
    return report


def vacuum_analyze(settings: Settings, *, run_id: str | None = None) -> dict[str, Any]:
    """VACUUM (ANALYZE) each warehouse database (autocommit) and report index health.

    Invalid indexes are reported (and logged), not raised: the vacuum itself succeeded and the
    fix (``REINDEX INDEX CONCURRENTLY`` or drop) is a human decision.
    """
    run_id = run_id or f"vacuum__{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    ensure_ops_schema(settings)
    report: dict[str, Any] = {}
    with audited(settings, run_id, "maintenance.vacuum") as audit:
        for database in WAREHOUSE_DATABASES:
            report[database] = _vacuum_one(settings, database)
        audit.objects = len(report)
        audit.details = {
            db: {
                "vacuum_s": r["vacuum_s"],
                "invalid_indexes": [i["index"] for i in r["invalid_indexes"]],
                "unused_indexes": len(r["unused_indexes"]),
                "skipped": r["skipped"],
            }
            for db, r in report.items()
        }
    return report
