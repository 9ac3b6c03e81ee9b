"""Which event-date partitions a layer must rebuild, and the record that it did.

A partition is dirty for a layer when its upstream layer wrote it after the layer last
did (``ops.layer_partitions``). Rebuilding exactly the dirty dates makes every run
incremental, and a crash between a layer's commit and this record only means the same
dates are rebuilt again, which gives the same state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from pipeline_core.db import connect
from pipeline_core.settings import OPS_DATABASE, Settings

LAYERS = ("lake", "raw", "staging", "semantic", "dwh")


@dataclass
class PartitionCounts:
    rows_in: int = 0
    rows_out: int = 0
    duplicates_removed: int = 0
    rejected: int = 0


@dataclass
class LayerResult:
    layer: str
    event_dates: list[date] = field(default_factory=list)
    counts: dict[date, PartitionCounts] = field(default_factory=dict)

    def totals(self) -> PartitionCounts:
        total = PartitionCounts()
        for c in self.counts.values():
            total.rows_in += c.rows_in
            total.rows_out += c.rows_out
            total.duplicates_removed += c.duplicates_removed
            total.rejected += c.rejected
        return total

    def as_dict(self) -> dict:
        t = self.totals()
        return {
            "layer": self.layer,
            "event_dates": [d.isoformat() for d in self.event_dates],
            "rows_in": t.rows_in,
            "rows_out": t.rows_out,
            "duplicates_removed": t.duplicates_removed,
            "rejected": t.rejected,
        }


def upstream_of(layer: str) -> str:
    return LAYERS[LAYERS.index(layer) - 1]


def dirty_dates(settings: Settings, layer: str, extra: Iterable[date] = ()) -> list[date]:
    """Dates the upstream layer wrote after ``layer`` last did, plus ``extra`` (backfill)."""
    with connect(settings, OPS_DATABASE) as conn:
        rows = conn.execute(
            """SELECT u.event_date
                 FROM ops.layer_partitions u
                 LEFT JOIN ops.layer_partitions d
                        ON d.layer = %(layer)s AND d.event_date = u.event_date
                WHERE u.layer = %(upstream)s
                  AND (d.loaded_at IS NULL OR d.loaded_at < u.loaded_at)""",
            {"layer": layer, "upstream": upstream_of(layer)},
        ).fetchall()
    return sorted({r[0] for r in rows} | set(extra))


def record_partitions(settings: Settings, result: LayerResult, run_id: str) -> None:
    """Mark the dates as rebuilt now, with their accounting."""
    with connect(settings, OPS_DATABASE) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO ops.layer_partitions
                       (layer, event_date, loaded_at, run_id, rows_in, rows_out,
                        duplicates_removed, rejected)
                   VALUES (%s, %s, clock_timestamp(), %s, %s, %s, %s, %s)
                   ON CONFLICT (layer, event_date) DO UPDATE
                      SET loaded_at = excluded.loaded_at, run_id = excluded.run_id,
                          rows_in = excluded.rows_in, rows_out = excluded.rows_out,
                          duplicates_removed = excluded.duplicates_removed,
                          rejected = excluded.rejected""",
                [
                    (
                        result.layer,
                        d,
                        run_id,
                        c.rows_in,
                        c.rows_out,
                        c.duplicates_removed,
                        c.rejected,
                    )
                    for d, c in result.counts.items()
                ],
            )
