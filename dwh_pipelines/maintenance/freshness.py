"""Freshness: how far dwh_db lags the feed, and a failure when it lags too much.

main_dag picks up new objects every 15 minutes, so anything delivered reaches dwh_db
within 30 minutes. This check runs on its own schedule (``freshness_dag``), so it also
notices when main_dag is paused, failing or stuck: the lag is the age of the oldest source
object whose data is not in dwh_db yet (not landed, not converted, or its event dates not
published since). Over the limit it raises, and the task's failure callback alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from data_lake.extract import list_recent_source
from pipeline_core.audit import audited, ensure_ops_schema
from pipeline_core.db import connect, read_sql
from pipeline_core.logs import log_event
from pipeline_core.settings import OPS_DATABASE, Settings
from pipeline_core.storage import s3_client

SQL = Path(__file__).parent / "sql" / "freshness.sql"
DEFAULT_MAX_LAG = timedelta(minutes=30)


class FreshnessError(RuntimeError):
    """dwh_db lags the feed by more than the allowed time."""


@dataclass(frozen=True)
class Freshness:
    checked_at: datetime
    pending_objects: int
    oldest_pending_at: datetime | None
    oldest_pending_key: str | None
    dwh_published_at: datetime | None

    @property
    def lag(self) -> timedelta:
        if self.oldest_pending_at is None:
            return timedelta(0)
        return max(timedelta(0), self.checked_at - self.oldest_pending_at)

    def as_dict(self) -> dict:
        return {
            "checked_at": self.checked_at.isoformat(),
            "lag_minutes": round(self.lag.total_seconds() / 60, 1),
            "pending_objects": self.pending_objects,
            "oldest_pending_at": self.oldest_pending_at and self.oldest_pending_at.isoformat(),
            "oldest_pending_key": self.oldest_pending_key,
            "dwh_published_at": self.dwh_published_at and self.dwh_published_at.isoformat(),
        }


def measure_freshness(settings: Settings, *, now: datetime | None = None, s3=None) -> Freshness:
    """Compare the source listing and the manifest with what dwh_db has published."""
    ensure_ops_schema(settings)
    # what extract's next run would list (from the newest landed date less the lookback)
    _, listed = list_recent_source(settings, s3 or s3_client(settings))
    with connect(settings, OPS_DATABASE) as conn:
        with conn.transaction():
            conn.execute(
                "CREATE TEMP TABLE listing (source_key text, etag text,"
                " last_modified timestamptz) ON COMMIT DROP"
            )
            with conn.cursor().copy(
                "COPY listing (source_key, etag, last_modified) FROM STDIN"
            ) as copy:
                for obj in listed:
                    copy.write_row((obj.key, obj.etag, obj.last_modified))
            pending, oldest_at, oldest_key, published_at = conn.execute(read_sql(SQL)).fetchone()
    return Freshness(
        checked_at=now or datetime.now(UTC),
        pending_objects=pending,
        oldest_pending_at=oldest_at if pending else None,
        oldest_pending_key=oldest_key,
        dwh_published_at=published_at,
    )


def check_freshness(
    settings: Settings,
    run_id: str,
    *,
    max_lag: timedelta = DEFAULT_MAX_LAG,
    now: datetime | None = None,
) -> dict:
    """Measure the lag; raise ``FreshnessError`` (naming the oldest object) over ``max_lag``."""
    with audited(settings, run_id, "ops.freshness") as audit:
        result = measure_freshness(settings, now=now)
        audit.objects = result.pending_objects
        audit.details = result.as_dict()
        log_event("freshness", **result.as_dict())
        if result.lag > max_lag:
            raise FreshnessError(
                f"dwh_db lags the feed by {result.lag.total_seconds() / 60:.0f} min "
                f"(limit {max_lag.total_seconds() / 60:.0f}): {result.pending_objects} source "
                f"objects not in dwh_db yet, the oldest {result.oldest_pending_key} "
                f"delivered at {result.oldest_pending_at:%Y-%m-%d %H:%M:%S} UTC; "
                f"dwh_db last published at {result.dwh_published_at}"
            )
    return result.as_dict()
