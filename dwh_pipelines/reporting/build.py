"""Reports step: static HTML pages about what the platform holds, copied to the lake.

Analysts get answers without a BI tool or database access: the pages are plain files
(plotly charts, plotly.js shipped beside them), built from dwh_db only (marts, star, ops)
in one read-only snapshot, so a page never mixes two builds of a mart. The step is
audited like every stage and each build is also kept in the lake under
``reports/<YYYY-MM-DD>/``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from psycopg import IsolationLevel

from dwh_pipelines.reporting.pages import ALL_PAGES, Context, Reader
from dwh_pipelines.reporting.site import render, write_assets, write_atomic
from pipeline_core import run_summary
from pipeline_core.audit import audited, ensure_ops_schema
from pipeline_core.db import connect
from pipeline_core.settings import OPS_DATABASE, Settings
from pipeline_core.storage import s3_client

LAKE_PREFIX = "reports"
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}


def build_reports(
    settings: Settings,
    run_id: str,
    out_dir: Path | None = None,
    *,
    publish: bool = True,
    data_docs: bool = True,
) -> list[Path]:
    """Write every report page (and the data docs page) and copy them to the lake.

    Returns the files written: the pages first (``index.html`` is the first), then the
    shared assets. ``publish=False`` skips the lake copy (local previews).
    """
    out = Path(out_dir) if out_dir is not None else settings.reports_dir
    ensure_ops_schema(settings)
    with audited(settings, run_id, "reports.build") as audit:
        generated = datetime.now(UTC)
        summary = run_summary.collect(settings)
        with connect(settings, OPS_DATABASE) as conn:
            # one consistent, read-only snapshot of dwh_db for every page
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            conn.execute("SET TIME ZONE 'UTC'")
            reader = Reader(conn)
            last_run = _last_run(reader, run_id)
            ctx = Context(reader, summary, run_id, generated, last_run)
            pages = [builder(ctx) for builder in ALL_PAGES]
        footer = (
            f"Generated {generated:%Y-%m-%d %H:%M} UTC by run {run_id} · figures read from "
            "dwh_db (schemas marts, star, ops)"
        )
        paths = [write_atomic(out / page.file, render(page, footer)) for page in pages]
        if data_docs:
            from dwh_pipelines.datadocs.build import build_data_docs

            paths += build_data_docs(settings, out, None)
        paths += write_assets(out)
        keys = publish_to_lake(settings, paths, generated.date()) if publish else []
        audit.rows_out = len(paths)
        audit.details = {
            "out_dir": str(out),
            "pages": [p.name for p in paths if p.suffix == ".html"],
            "lake_keys": len(keys),
            "lake_prefix": _prefix(generated.date()) if publish else None,
        }
    return paths


def _last_run(reader: Reader, run_id: str) -> dict | None:
    df = reader.frame("last_run", {"run_id": run_id}, requires=["ops.task_runs"])
    return None if df.empty else df.iloc[0].to_dict()


def _prefix(day: date) -> str:
    return f"{LAKE_PREFIX}/{day.isoformat()}/"


def publish_to_lake(settings: Settings, paths: list[Path], day: date) -> list[str]:
    """Copy the files to ``s3://<lake>/reports/<day>/`` (a rebuild the same day replaces)."""
    s3 = s3_client(settings)
    keys = []
    for path in paths:
        key = _prefix(day) + path.name
        s3.put_object(
            Bucket=settings.lake_bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType=_CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
        )
        keys.append(key)
    return keys
