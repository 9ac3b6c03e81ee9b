"""Data-quality checks and the write-audit-publish gate.

A check is a SQL file that selects the offending rows. It passes when it selects none;
otherwise a ``warn`` check is recorded and a ``block`` check stops publication: the
task fails naming the checks with sample rows, and ``prod`` stays exactly as it was.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

from pipeline_core.db import connect, read_sql
from pipeline_core.logs import log_event
from pipeline_core.settings import OPS_DATABASE, Settings


@dataclass(frozen=True)
class Check:
    name: str
    severity: str  # "block" or "warn"
    description: str
    path: Path
    database: str | None = None  # None: the layer's own database


@dataclass(frozen=True)
class CheckResult:
    check: Check
    rows_affected: int
    sample: list[dict]

    @property
    def status(self) -> str:
        if self.rows_affected == 0:
            return "pass"
        return "fail" if self.check.severity == "block" else "warn"


class DataQualityError(RuntimeError):
    """A blocking check failed; nothing was published."""


def run_check(conn: psycopg.Connection, check: Check, params: dict) -> CheckResult:
    query = sql.SQL("SELECT count(*) OVER () AS n, to_jsonb(c) AS row FROM ({}) c LIMIT 5").format(
        sql.SQL(read_sql(check.path).strip().rstrip(";"))
    )
    try:
        rows = conn.execute(query, params).fetchall()
    except psycopg.Error as exc:
        raise type(exc)(
            f"data-quality check {check.name} ({check.path.name}) failed to run: {exc}"
        ) from exc
    return CheckResult(check, rows[0][0] if rows else 0, [r[1] for r in rows])


def run_checks(
    settings: Settings,
    layer: str,
    database: str,
    checks: list[Check],
    *,
    run_id: str,
    dates: list[date],
    params: dict | None = None,
) -> list[CheckResult]:
    """Run every check, ``settings.db_sessions`` at once (each on its own connection: a
    check is one statement, which runs on one core), record all results in
    ops.dq_results, and return them in the order of ``checks``."""
    params = {"dates": dates, **(params or {})}

    def run_one(check: Check) -> CheckResult:
        with connect(settings, check.database or database) as conn:
            return run_check(conn, check, params)

    with ThreadPoolExecutor(max_workers=settings.db_sessions) as pool:
        results = list(pool.map(run_one, checks))
    with connect(settings, OPS_DATABASE) as ops:
        with ops.cursor() as cur:
            cur.executemany(
                """INSERT INTO ops.dq_results (run_id, layer, check_name, severity, status,
                       rows_affected, description, sample, event_dates)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                [
                    (
                        run_id,
                        layer,
                        r.check.name,
                        r.check.severity,
                        r.status,
                        r.rows_affected,
                        r.check.description,
                        json.dumps(r.sample, default=str),
                        dates,
                    )
                    for r in results
                ],
            )
    for r in results:
        log_event(
            "dq.check",
            layer=layer,
            check=r.check.name,
            severity=r.check.severity,
            status=r.status,
            rows_affected=r.rows_affected,
        )
    return results


def gate(layer: str, results: list[CheckResult], dates: list[date]) -> None:
    """Raise if any blocking check failed, naming the checks and showing sample rows."""
    failed = [r for r in results if r.status == "fail"]
    if not failed:
        return
    lines = [
        f"{layer}: {len(failed)} blocking data-quality check(s) failed for event dates "
        f"{', '.join(d.isoformat() for d in dates)}; prod was left unchanged"
    ]
    for r in failed:
        lines.append(f"  - {r.check.name} ({r.rows_affected} rows): {r.check.description}")
        for row in r.sample[:3]:
            lines.append(f"      e.g. {json.dumps(row, default=str)[:300]}")
    raise DataQualityError("\n".join(lines))
