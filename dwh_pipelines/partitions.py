"""Which event-date partitions a layer must rebuild, which rows it must add, and the record.

Two grains of incremental work:

- **dates**: a partition is dirty for a layer when its upstream layer wrote it after the
  layer last did (``ops.layer_partitions``); raw (from the lake) and dwh rebuild whole dates.
- **loads**: raw, staging and semantic pass rows on by load. Each load stamps its rows with
  a ``load_seq`` and writes ``<schema>.load_log`` (date, replace or append) in the same
  transaction; the next layer takes the loads after its watermark (a :class:`Slice`),
  replacing the dates replaced upstream and appending the rows appended, and moves the
  watermark in its publish transaction. A 15-minute run therefore moves 15 minutes of rows,
  and a crash anywhere leaves a watermark that matches the data.

``ops.layer_partitions`` keeps the per-date accounting either way (appends add to it). raw,
staging and semantic publish in their own databases, so each stages its load's accounting in
the publish transaction (``<schema>.unrecorded_accounting``) and moves it into ops after,
exactly once (``record_accounting``): a run stopped in between loses neither the figures nor
the next layer's cue to rebuild. dwh publishes in the ops database and records directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from pipeline_core.db import (
    connect,
    execute_sql_file,
    part_name,
    range_bound,
    split_ranges,
)
from pipeline_core.logs import log_event
from pipeline_core.settings import OPS_DATABASE, Settings

LAYERS = ("lake", "raw", "staging", "semantic", "dwh")
LOAD_LOG_SQL = Path(__file__).parent / "sql" / "load_log.sql"

#: rows of a table stamped with load_seq that a :class:`Slice` selects (its params bound):
#: every row of the dates replaced whole, and the rows appended to the others after low_seq
_REPLACED_ROWS = sql.SQL("(event_date = ANY(%(replace_dates)s) AND load_seq <= %(high_seq)s)")
_APPENDED_ROWS = sql.SQL(
    "(event_date = ANY(%(append_dates)s)"
    " AND load_seq > %(low_seq)s AND load_seq <= %(high_seq)s)"
)


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
    #: dates whose rows were added to (counts add up), not replaced
    appended: set[date] = field(default_factory=set)

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
            "appended_dates": [d.isoformat() for d in sorted(self.appended)],
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


def record_partitions(
    conn: psycopg.Connection,
    result: LayerResult,
    run_id: str,
    loaded_at: datetime | None = None,
) -> None:
    """Mark the dates as written at ``loaded_at`` (default: now), with their accounting
    (added to for appended dates), on ``conn`` (the ops database), in the caller's
    transaction.

    ``dirty_dates`` compares these times, so a layer that reads its upstream by them (raw
    reads the lake, dwh reads semantic) passes a time from before its read: an upstream
    write it did not see then stays newer than its mark. Its upstream's marks are taken
    after their commits (the default)."""
    with conn.cursor() as cur:
        # an appended date adds to its accounting, unless retention expired the date
        cur.executemany(
            """INSERT INTO ops.layer_partitions AS p
                   (layer, event_date, loaded_at, run_id, rows_in, rows_out,
                    duplicates_removed, rejected)
               VALUES (%(layer)s, %(day)s, coalesce(%(loaded_at)s, clock_timestamp()),
                       %(run_id)s, %(rows_in)s,
                       %(rows_out)s, %(duplicates_removed)s, %(rejected)s)
               ON CONFLICT (layer, event_date) DO UPDATE
                  SET loaded_at = excluded.loaded_at, run_id = excluded.run_id,
                      expired_at = NULL,
                      rows_in = excluded.rows_in
                          + CASE WHEN %(add)s AND p.expired_at IS NULL
                                 THEN p.rows_in ELSE 0 END,
                      rows_out = excluded.rows_out
                          + CASE WHEN %(add)s AND p.expired_at IS NULL
                                 THEN p.rows_out ELSE 0 END,
                      duplicates_removed = excluded.duplicates_removed
                          + CASE WHEN %(add)s AND p.expired_at IS NULL
                                 THEN p.duplicates_removed ELSE 0 END,
                      rejected = excluded.rejected
                          + CASE WHEN %(add)s AND p.expired_at IS NULL
                                 THEN p.rejected ELSE 0 END""",
            [
                {
                    "layer": result.layer,
                    "day": d,
                    "loaded_at": loaded_at,
                    "run_id": run_id,
                    "rows_in": c.rows_in,
                    "rows_out": c.rows_out,
                    "duplicates_removed": c.duplicates_removed,
                    "rejected": c.rejected,
                    "add": d in result.appended,
                }
                for d, c in result.counts.items()
            ],
        )


def _counts_json(result: LayerResult) -> dict:
    return {
        d.isoformat(): {**asdict(c), "appended": d in result.appended}
        for d, c in sorted(result.counts.items())
    }


def _result_from_json(layer: str, counts: dict) -> LayerResult:
    result = LayerResult(layer, sorted(date.fromisoformat(d) for d in counts))
    for day, c in counts.items():
        d = date.fromisoformat(day)
        if c.pop("appended"):
            result.appended.add(d)
        result.counts[d] = PartitionCounts(**c)
    return result


def stage_accounting(
    conn: psycopg.Connection,
    schema: str,
    result: LayerResult,
    run_id: str,
    *,
    marked_at_start: bool = False,
) -> None:
    """Keep the load's accounting in the layer's own database, in the caller's (publishing)
    transaction, until ``record_accounting`` has moved it into ops (another database): a run
    that stops between the two loses neither the figures nor the next layer's cue to
    rebuild (``dirty_dates``). ``marked_at_start``: the dates are marked with this
    transaction's start, from before the layer read its upstream (see
    ``record_partitions``), however late they are recorded; otherwise when recorded."""
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (layer, run_id, counts, loaded_at)"
            " VALUES (%s, %s, %s, CASE WHEN %s THEN now() END)"
        ).format(sql.Identifier(schema, "unrecorded_accounting")),
        (result.layer, run_id, Jsonb(_counts_json(result)), marked_at_start),
    )


def record_accounting(settings: Settings, database: str, schema: str) -> int:
    """Move the layer's staged accountings into ``ops.layer_partitions``, oldest first, each
    exactly once. ops notes each one it applies in the same transaction
    (``ops.recorded_accounting``), so a replay after a stop between ops' commit and the
    delete here skips it; the notes go once the deletes are committed. The staged rows stay
    locked until then, so a concurrent call waits and finds them gone. Each build calls it
    before it starts and after it publishes; ops is connected to only when there is work.
    Returns how many it moved."""
    source = f"{database}.{schema}"
    outbox = sql.Identifier(schema, "unrecorded_accounting")
    with connect(settings, database) as layer:  # one transaction: the rows stay locked
        exists = layer.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.unrecorded_accounting",)
        ).fetchone()[0]
        staged = (
            layer.execute(
                sql.SQL(
                    "SELECT id, layer, run_id, counts, loaded_at FROM {} ORDER BY seq FOR UPDATE"
                ).format(outbox)
            ).fetchall()
            if exists  # not before a layer's first publish has made its load log
            else []
        )
        if not staged:
            return 0
        with connect(settings, OPS_DATABASE) as ops:
            for outbox_id, layer_name, run_id, counts, loaded_at in staged:
                with ops.transaction():
                    new = ops.execute(
                        "INSERT INTO ops.recorded_accounting (outbox_id, source)"
                        " VALUES (%s, %s) ON CONFLICT DO NOTHING",
                        (outbox_id, source),
                    ).rowcount
                    if new:
                        result = _result_from_json(layer_name, counts)
                        record_partitions(ops, result, run_id, loaded_at)
                layer.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(outbox), (outbox_id,))
            layer.commit()
            with ops.transaction():
                ops.execute(
                    "DELETE FROM ops.recorded_accounting WHERE outbox_id = ANY(%s)",
                    ([row[0] for row in staged],),
                )
    log_event("accounting.recorded", source=source, loads=len(staged))
    return len(staged)


@dataclass
class Slice:
    """The upstream loads a layer takes in one run: dates to replace whole, and dates to
    which rows were appended, for loads ``low`` < load_seq <= ``high``."""

    upstream: str
    replace: list[date]
    append: list[date]
    low: int
    high: int

    @property
    def dates(self) -> list[date]:
        return sorted(set(self.replace) | set(self.append))

    def params(self) -> dict:
        return {
            "replace_dates": self.replace,
            "append_dates": self.append,
            "low_seq": self.low,
            "high_seq": self.high,
        }

    def filter(self) -> sql.Composable:
        """The WHERE condition of the slice's rows (bind ``params()``).

        Only the kinds of dates the slice has are written, each with its dates: the planner
        then reads only their partitions, and an appended date through its load_seq
        block-range index. Under an OR of both kinds every partition of the slice is read in
        full, so callers read a slice by date (``by_date``). The one condition this replaced
        read every partition, the history included: a 15-minute load of the bench's day
        took 0.9 s to read its 79,000 rows from raw_db.
        """
        branches = [
            b for b, d in ((_REPLACED_ROWS, self.replace), (_APPENDED_ROWS, self.append)) if d
        ]
        return sql.SQL(" OR ").join(branches) if branches else sql.SQL("false")

    def by_date(self) -> list[Slice]:
        """The slice cut into one slice per date, so that each query reads one date the
        cheapest way (see ``filter``)."""
        replaced = set(self.replace)
        return [
            (
                Slice(self.upstream, [d], [], self.low, self.high)
                if d in replaced
                else Slice(self.upstream, [], [d], self.low, self.high)
            )
            for d in self.dates
        ]


def ensure_load_log(conn: psycopg.Connection, schema: str) -> None:
    execute_sql_file(conn, LOAD_LOG_SQL, schema=schema)


def next_load_seq(conn: psycopg.Connection, schema: str) -> int:
    seq = sql.Literal(f"{schema}.load_seq")
    return conn.execute(sql.SQL("SELECT nextval({}::regclass)").format(seq)).fetchone()[0]


def log_load(
    conn: psycopg.Connection,
    schema: str,
    load_seq: int,
    rows: dict[date, int],
    appended: set[date],
    run_id: str,
) -> None:
    """Record what load ``load_seq`` wrote, in the caller's (publishing) transaction."""
    with conn.cursor() as cur:
        cur.executemany(
            sql.SQL(
                "INSERT INTO {} (load_seq, event_date, mode, rows, run_id)"
                " VALUES (%s, %s, %s, %s, %s)"
            ).format(sql.Identifier(schema, "load_log")),
            [
                (load_seq, d, "append" if d in appended else "replace", n, run_id)
                for d, n in sorted(rows.items())
            ],
        )


def pending_slice(
    upstream_conn: psycopg.Connection,
    upstream_schema: str,
    conn: psycopg.Connection,
    schema: str,
    extra: Iterable[date] = (),
) -> Slice:
    """The upstream loads after this layer's watermark; ``extra`` dates are replaced whole."""
    name = f"{upstream_conn.info.dbname}.{upstream_schema}"
    row = conn.execute(
        sql.SQL("SELECT load_seq FROM {} WHERE upstream = %s").format(
            sql.Identifier(schema, "watermarks")
        ),
        (name,),
    ).fetchone()
    low = row[0] if row else 0
    log = sql.Identifier(upstream_schema, "load_log")
    exists = upstream_conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f"{upstream_schema}.load_log",)
    ).fetchone()[0]
    entries = []
    if exists:
        entries = upstream_conn.execute(
            sql.SQL(
                "SELECT event_date, bool_or(mode = 'replace'), max(load_seq) FROM {}"
                " WHERE load_seq > %s GROUP BY event_date"
            ).format(log),
            (low,),
        ).fetchall()
    high = max([low, *(e[2] for e in entries)])
    replace = {d for d, whole, _ in entries if whole} | set(extra)
    append = {d for d, whole, _ in entries if not whole} - replace
    return Slice(name, sorted(replace), sorted(append), low, high)


def advance_watermark(conn: psycopg.Connection, schema: str, cut: Slice) -> None:
    """Move the watermark to the slice's end, in the caller's (publishing) transaction."""
    conn.execute(
        sql.SQL("""INSERT INTO {} (upstream, load_seq) VALUES (%s, %s)
               ON CONFLICT (upstream) DO UPDATE
                  SET load_seq = excluded.load_seq, updated_at = now()""").format(
            sql.Identifier(schema, "watermarks")
        ),
        (cut.upstream, cut.high),
    )


# --- Date-partitioned tables --------------------------------------------------------------
#
# The big per-event tables are partitioned by day: an event date (``date``), or a day key
# (``integer`` yyyymmdd). A day rebuilt whole, or published for the first time, is swapped
# in for the old partition, in one of three ways:
#
# - the dev build's own table of that day, built with prod's indexes and moved in as it is
#   (``create_scratch_partitions``, ``adopt_scratch_partition``: staging's events,
#   semantic's updates);
# - the dev build's tables of that day from each of its parallel sessions, moved in as the
#   parts of a day partitioned by the sessions' ranges (``create_part_days``,
#   ``adopt_part_days``: semantic's points);
# - a new table filled in the publish transaction and indexed by sort at attach
#   (``replace_date_partition``: raw's dates, an older installation's plain table).
#
# Every such table is created in the transaction that fills it, so a server with
# wal_level=minimal, as the embedded one, writes no WAL for it. Rows added to a published
# day go through the parent. Partitions live in ``<schema>_partitions``, a schema no role
# is granted, so every reader goes through the parent and its grants.


def partition_schema(schema: str) -> str:
    return f"{schema}_partitions"


def _partition_name(table: str, day: date) -> str:
    return f"{table}_{day:%Y%m%d}"


def partition_ident(schema: str, table: str, day: date) -> sql.Identifier:
    return sql.Identifier(partition_schema(schema), _partition_name(table, day))


def _ensure_partition_schema(conn: psycopg.Connection, schema: str) -> sql.Identifier:
    home = sql.Identifier(partition_schema(schema))
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(home))
    return home


def partition_days(conn: psycopg.Connection, schema: str, table: str) -> list[date]:
    """The days that have a partition of ``schema.<table>`` named by this module (in
    ``<schema>_partitions``, as ``<table>_<yyyymmdd>``)."""
    prefix = f"{table}_"
    names = conn.execute(
        "SELECT c.relname FROM pg_catalog.pg_inherits i"
        " JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = %s::regclass AND c.relnamespace = to_regnamespace(%s)"
        " ORDER BY 1",
        (f"{schema}.{table}", partition_schema(schema)),
    ).fetchall()
    return [
        datetime.strptime(n.removeprefix(prefix), "%Y%m%d").date()
        for (n,) in names
        if n.startswith(prefix) and len(n) == len(prefix) + 8 and n[len(prefix) :].isdigit()
    ]


def day_key(day: date) -> int:
    """The yyyymmdd integer that keys a day in the Kimball model (``date_key``)."""
    return int(f"{day:%Y%m%d}")


def key_day(key: int) -> date:
    """The day of a yyyymmdd ``date_key``."""
    return date(key // 10000, key // 100 % 100, key % 100)


def partition_key(conn: psycopg.Connection, schema: str, table: str) -> tuple[str, bool]:
    """(column, is an integer day key) of a table partitioned by day."""
    row = conn.execute(
        "SELECT a.attname, t.typname IN ('int4', 'int8')"
        "  FROM pg_catalog.pg_partitioned_table p"
        "  JOIN pg_catalog.pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]"
        "  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
        " WHERE p.partrelid = %s::regclass",
        (f"{schema}.{table}",),
    ).fetchone()
    if row is None:
        raise ValueError(f"{schema}.{table} is not partitioned by day")
    return row[0], row[1]


def _bound_values(day: date, integer_key: bool) -> tuple[sql.Literal, sql.Literal]:
    # utility statements take no bind parameters: the bounds are quoted by the driver
    lo, hi = day, day + timedelta(days=1)
    if integer_key:
        lo, hi = day_key(lo), day_key(hi)
    return sql.Literal(lo), sql.Literal(hi)


def _bounds(day: date, integer_key: bool) -> sql.Composable:
    return sql.SQL("FOR VALUES FROM ({}) TO ({})").format(*_bound_values(day, integer_key))


def _attach(conn: psycopg.Connection, schema: str, table: str, day: date) -> None:
    """Attach the day's table in ``<schema>_partitions`` to ``schema.<table>``."""
    _, integer_key = partition_key(conn, schema, table)
    conn.execute(
        sql.SQL("ALTER TABLE {} ATTACH PARTITION {} {}").format(
            sql.Identifier(schema, table),
            partition_ident(schema, table, day),
            _bounds(day, integer_key),
        )
    )


def _bounds_constraint(table: str, day: date) -> sql.Identifier:
    """The CHECK constraint of a day's table made to be attached (see ``_bounds_check``)."""
    return sql.Identifier(f"{_partition_name(table, day)}_bounds")


def _in_range(column: str, low: object | None, high: object | None) -> sql.Composable:
    """``column`` within [low, high); an open end (None) is not tested."""
    tests = [
        sql.SQL("{} {} {}").format(sql.Identifier(column), sql.SQL(op), sql.Literal(value))
        for op, value in ((">=", low), ("<", high))
        if value is not None
    ]
    return sql.SQL(" AND ").join(tests) if tests else sql.SQL("true")


def _bounds_check(
    table: str,
    day: date,
    column: str,
    integer_key: bool,
    split: tuple[str, object | None, object | None] | None = None,
) -> sql.Composable:
    """A table constraint holding the day's partition bounds (and a part's ``split`` range:
    column, low, high). Created with the empty table, it is valid without a scan, and it
    spares ATTACH PARTITION the scan that would prove the bounds (a full day: about 1.3 s);
    it is dropped once attached (``_drop_bounds``)."""
    lo, hi = _bound_values(day, integer_key)
    day_range = sql.SQL("{} >= {} AND {} < {}").format(
        sql.Identifier(column), lo, sql.Identifier(column), hi
    )
    tests = [day_range] if split is None else [day_range, _in_range(*split)]
    return sql.SQL("CONSTRAINT {} CHECK ({})").format(
        _bounds_constraint(table, day), sql.SQL(" AND ").join(tests)
    )


def _drop_bounds(
    conn: psycopg.Connection, schema: str, table: str, day: date, part: int | None = None
) -> None:
    """Drop the attached partition's CHECK (or its ``part``'s): the partition constraint
    now holds the bounds, and the CHECK would only cost inserts."""
    target = partition_ident(schema, table, day)
    if part is not None:
        target = sql.Identifier(partition_schema(schema), _day_part_name(table, day, part))
    conn.execute(
        sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(target, _bounds_constraint(table, day))
    )


def replace_date_partition(
    conn: psycopg.Connection,
    schema: str,
    table: str,
    day: date,
    fill: Callable[[sql.Identifier, date], int],
) -> int:
    """Swap in a new partition for ``day``, written by ``fill(new_table, day)``; returns its
    rows. In the caller's transaction: readers of the parent wait only for the final
    drop-and-attach."""
    parent = sql.Identifier(schema, table)
    part = partition_ident(schema, table, day)
    name = _partition_name(table, day)
    new = sql.Identifier(partition_schema(schema), name + "_new")
    column, integer_key = partition_key(conn, schema, table)
    _ensure_partition_schema(conn, schema)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(new))
    conn.execute(
        sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS, {})").format(
            new, parent, _bounds_check(table, day, column, integer_key)
        )
    )
    rows = fill(new, day)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(part))
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(new, sql.Identifier(name)))
    _attach(conn, schema, table, day)  # builds the parent's indexes on it, by sort
    _drop_bounds(conn, schema, table, day)
    conn.execute(sql.SQL("ANALYZE {}").format(part))
    return rows


def scratch_partition(table: str, day: date, scratch: str = "dev") -> sql.Identifier:
    """The day's table of ``scratch.<table>`` (see ``create_scratch_partitions``)."""
    return sql.Identifier(scratch, _partition_name(table, day))


def create_scratch_partitions(
    conn: psycopg.Connection,
    schema: str,
    table: str,
    days: Iterable[date],
    scratch: str = "dev",
) -> None:
    """Re-create ``scratch.<table>`` partitioned like ``schema.<table>``, with an empty table
    per day shaped as ``schema``'s partition of that day, for a build to fill and index and
    ``adopt_scratch_partition`` to move into ``schema`` at publish instead of copying.

    The days' tables are logged: they become published partitions as they are. Created in
    the build's transaction, they write no WAL on a wal_level=minimal server (the embedded
    one); elsewhere they write the WAL the copy into a new partition would have written.
    Each carries its day's bounds as a CHECK constraint, which spares ATTACH its scan.
    """
    column, integer_key = partition_key(conn, schema, table)
    parent = sql.Identifier(scratch, table)
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(scratch)))
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(parent))
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING COMMENTS)"
            " PARTITION BY RANGE ({})"
        ).format(parent, sql.Identifier(schema, table), sql.Identifier(column))
    )
    conn.execute(
        sql.SQL("COMMENT ON TABLE {} IS {}").format(
            parent,
            sql.Literal(
                f"Work area of write-audit-publish: rows of {schema}.{table} being rebuilt, "
                "one table per day, audited by the checks before publication (a day written "
                "whole is then moved into prod as its partition)."
            ),
        )
    )
    _ensure_partition_schema(conn, schema)
    for day in days:
        _create_scratch_day(
            conn,
            schema,
            scratch,
            parent,
            _partition_name(table, day),
            _bounds_check(table, day, column, integer_key),
            _bounds(day, integer_key),
        )


def _create_scratch_day(
    conn: psycopg.Connection,
    schema: str,
    scratch: str,
    parent: sql.Identifier,
    name: str,
    check: sql.Composable,
    bounds: sql.Composable,
) -> None:
    """Create ``scratch.<name>``, a day's partition of ``parent`` with its bounds ``check``.
    It is created among ``schema``'s partitions, so it takes their privileges (none: every
    reader goes through the parent), not the scratch schema's default grants, then moved."""
    created = sql.Identifier(partition_schema(schema), f"{name}_dev")
    conn.execute(
        sql.SQL("CREATE TABLE {} PARTITION OF {} ({}) {}").format(created, parent, check, bounds)
    )
    conn.execute(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(created, sql.Identifier(scratch)))
    conn.execute(
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(
            sql.Identifier(scratch, f"{name}_dev"), sql.Identifier(name)
        )
    )


def adopt_scratch_partition(
    conn: psycopg.Connection, schema: str, table: str, day: date, scratch: str = "dev"
) -> None:
    """Move the day's table of ``scratch.<table>`` (see ``create_scratch_partitions``) into
    ``schema`` as its partition, in the caller's (publishing) transaction: no copy, no scan
    (the CHECK constraint proves the bounds), and the table's indexes whose definitions
    match the parent's are attached instead of built. Statistics come with the table, so
    the build must have analysed it."""
    moving = scratch_partition(table, day, scratch)
    part = partition_ident(schema, table, day)
    conn.execute(
        sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(sql.Identifier(scratch, table), moving)
    )
    home = _ensure_partition_schema(conn, schema)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(part))
    conn.execute(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(moving, home))
    _attach(conn, schema, table, day)
    _drop_bounds(conn, schema, table, day)


def _day_part_name(table: str, day: date, part: int) -> str:
    """The name of a published day's part (see ``adopt_part_days``)."""
    return f"{_partition_name(table, day)}_part{part}"


def _scratch_part_day(table: str, part: int, day: date) -> str:
    """The name of a part's day table in the scratch schema (see ``create_part_days``)."""
    return f"{part_name(table, part)}_{day:%Y%m%d}"


def create_part_days(
    conn: psycopg.Connection,
    schema: str,
    table: str,
    part: int,
    split_at: Sequence,
    days: Iterable[date],
    scratch: str = "dev",
) -> None:
    """A table per day in part ``part`` of the split ``scratch.<table>`` (see
    ``pipeline_core.db.create_scratch_parts``), for the session that fills the part to
    create in its own transaction: a wal_level=minimal server (the embedded one) then
    writes no WAL for them. Each is logged and carries its day's bounds and its part's
    range as a CHECK, so ``adopt_part_days`` moves it into ``schema`` without a scan."""
    column, integer_key = partition_key(conn, schema, table)
    split_column, _ = partition_key(conn, scratch, table)
    low, high = split_ranges(split_at)[part]
    parent = sql.Identifier(scratch, part_name(table, part))
    for day in days:
        _create_scratch_day(
            conn,
            schema,
            scratch,
            parent,
            _scratch_part_day(table, part, day),
            _bounds_check(table, day, column, integer_key, (split_column, low, high)),
            _bounds(day, integer_key),
        )


def adopt_part_days(
    conn: psycopg.Connection,
    schema: str,
    table: str,
    day: date,
    split_at: Sequence,
    scratch: str = "dev",
) -> None:
    """Swap in the day's tables of every part of the split ``scratch.<table>`` (see
    ``create_part_days``) as the day's partition of ``schema.<table>``, itself partitioned
    by the parts' ranges, in the caller's (publishing) transaction: no copy, no scan, and
    the parts' indexes that match the parent's are attached instead of built. The sessions
    analysed the parts; only the day's table is analysed here (ONLY: from a sample of
    them)."""
    split_column, _ = partition_key(conn, scratch, table)
    home = _ensure_partition_schema(conn, schema)
    day_table = partition_ident(schema, table, day)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(day_table))
    conn.execute(
        sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS) PARTITION BY RANGE ({})").format(
            day_table, sql.Identifier(schema, table), sql.Identifier(split_column)
        )
    )
    ranges = split_ranges(split_at)
    for part, (low, high) in enumerate(ranges):
        name = _scratch_part_day(table, part, day)
        published = _day_part_name(table, day, part)
        conn.execute(
            sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                sql.Identifier(scratch, part_name(table, part)), sql.Identifier(scratch, name)
            )
        )
        conn.execute(
            sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(sql.Identifier(scratch, name), home)
        )
        conn.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                sql.Identifier(partition_schema(schema), name), sql.Identifier(published)
            )
        )
        conn.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                day_table,
                sql.Identifier(partition_schema(schema), published),
                range_bound(low, "MINVALUE"),
                range_bound(high, "MAXVALUE"),
            )
        )
    _attach(conn, schema, table, day)
    for part in range(len(ranges)):
        _drop_bounds(conn, schema, table, day, part)
    conn.execute(sql.SQL("ANALYZE ONLY {}").format(day_table))


def analyze_if_grown(
    conn: psycopg.Connection, schema: str, table: str, day: date, fraction: float = 0.1
) -> bool:
    """ANALYZE the day partition of ``schema.<table>`` when it has grown by more than
    ``fraction`` of the pages its statistics were taken on, or has none; returns whether
    it did. A load that makes a day, or grows a young one, leaves it analysed at once; a
    15-minute append to a full day (1 %) leaves it to autovacuum, whose threshold (10 % of
    the rows) is the same. Measured on the partition's leaves (file sizes against
    ``relpages``), so a day published as parts is judged whole."""
    pages, counted, never = conn.execute(
        """SELECT coalesce(sum(pg_catalog.pg_relation_size(t.relid)), 0)
                      / current_setting('block_size')::bigint,
                  coalesce(sum(c.relpages), 0), coalesce(bool_or(c.reltuples < 0), true)
             FROM pg_catalog.pg_partition_tree(format('%%I.%%I', %s::text, %s::text)::regclass) t
             JOIN pg_catalog.pg_class c ON c.oid = t.relid
            WHERE t.isleaf""",
        (partition_schema(schema), _partition_name(table, day)),
    ).fetchone()
    if not never and pages <= (1 + fraction) * counted:
        return False
    conn.execute(sql.SQL("ANALYZE {}").format(partition_ident(schema, table, day)))
    return True


def ensure_date_partitions(
    conn: psycopg.Connection, schema: str, table: str, days: Iterable[date]
) -> None:
    """Empty partitions for the dates that have none yet (before appending to them)."""
    _, integer_key = partition_key(conn, schema, table)
    _ensure_partition_schema(conn, schema)
    for day in days:
        conn.execute(
            sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} {}").format(
                partition_ident(schema, table, day),
                sql.Identifier(schema, table),
                _bounds(day, integer_key),
            )
        )


def drop_days_before(
    conn: psycopg.Connection, schema: str, table: str, column: str, cutoff: date, bound: object
) -> tuple[int, int]:
    """Drop the day partitions of ``schema.<table>`` from before ``cutoff`` in which every
    row has ``column`` < ``bound``; returns (partitions, rows) dropped.

    Retention's DELETE through the parent would leave the emptied tables attached, and
    their dead rows to vacuum: a whole day goes for the cost of counting it. A day holding
    a row that ``column`` does not place before ``bound`` (NULL, or a column other than
    the partition key that disagrees with it) is left for the DELETE. Days published as
    parts go with their parts."""
    parts = rows = 0
    for day in (d for d in partition_days(conn, schema, table) if d < cutoff):
        part = partition_ident(schema, table, day)
        n, kept = conn.execute(
            sql.SQL(
                "SELECT count(*), count(*) FILTER (WHERE {c} IS NULL OR {c} >= %s) FROM {p}"
            ).format(c=sql.Identifier(column), p=part),
            (bound,),
        ).fetchone()
        if kept == 0:
            conn.execute(sql.SQL("DROP TABLE {}").format(part))
            parts, rows = parts + 1, rows + n
    return parts, rows


def split_by_first_write(
    conn: psycopg.Connection, schema: str, table: str, cut: Slice
) -> tuple[list[date], list[date]]:
    """(dates written whole, dates added to) of a publish: a date the slice replaces, or
    appends to while its partition holds no row yet (adding to it is writing it whole), is
    swapped in; the others take rows through the parent."""
    first = []
    for day in cut.append:
        part = partition_ident(schema, table, day)
        if conn.execute("SELECT to_regclass(%s)", (part.as_string(conn),)).fetchone()[0] is None:
            first.append(day)
        elif conn.execute(sql.SQL("SELECT NOT EXISTS (SELECT FROM {})").format(part)).fetchone()[0]:
            first.append(day)
    return [*cut.replace, *first], [d for d in cut.append if d not in first]


def add_missing_load_seq(conn: psycopg.Connection, schema: str, tables: Iterable[str]) -> None:
    """Tables of an installation from before ``load_seq`` get it (tables not created yet
    are skipped: their DDL has it).

    The catalog is checked first: ``ALTER TABLE ... ADD COLUMN IF NOT EXISTS`` locks the
    table and every partition before it finds the column, so every run waited for
    autovacuum on the newest date (1 s) and readers queued behind it.
    """
    for table in tables:
        target = sql.Identifier(schema, table)
        missing = conn.execute(
            "SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = r"
            " AND attname = 'load_seq' AND NOT attisdropped) FROM to_regclass(%s) r"
            " WHERE r IS NOT NULL",
            (target.as_string(conn),),
        ).fetchone()
        if missing and missing[0]:
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN load_seq bigint NOT NULL DEFAULT 0").format(
                    target
                )
            )


def set_aside_unpartitioned(conn: psycopg.Connection, schema: str, table: str) -> str | None:
    """An older installation's plain ``table`` is renamed (keys and indexes dropped) so the
    partitioned one can be created; returns the old table's name, or None."""
    kind = conn.execute(
        "SELECT c.relkind FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s",
        (schema, table),
    ).fetchone()
    if kind is None or kind[0] != "r":
        return None
    old = f"{table}_unpartitioned"
    for (name,) in conn.execute(
        "SELECT conname FROM pg_catalog.pg_constraint WHERE conrelid = %s::regclass"
        " AND contype IN ('p', 'u')",
        (f"{schema}.{table}",),
    ).fetchall():
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(schema, table), sql.Identifier(name)
            )
        )
    for (name,) in conn.execute(
        "SELECT c.relname FROM pg_catalog.pg_index i"
        " JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = %s::regclass",
        (f"{schema}.{table}",),
    ).fetchall():
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, name)))
    conn.execute(
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(
            sql.Identifier(schema, table), sql.Identifier(old)
        )
    )
    return old


def move_into_partitions(conn: psycopg.Connection, schema: str, table: str, old: str) -> None:
    """Copy an older installation's rows (see ``set_aside_unpartitioned``) date by date,
    then drop the old table with the views over it: governance's masked views followed it
    when it was renamed, and governance re-creates them over the new table on its next
    apply (main_dag's next step; until then masked readers see nothing of it, not the old
    rows)."""
    source = sql.Identifier(schema, old)
    columns = sql.SQL(", ").join(
        sql.Identifier(r[0])
        for r in conn.execute(
            "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = %s::regclass"
            " AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (f"{schema}.{table}",),
        ).fetchall()
    )

    column, integer_key = partition_key(conn, schema, table)
    key = sql.Identifier(column)

    def fill(target: sql.Identifier, day: date) -> int:
        statement = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} WHERE {} = %s")
        value = day_key(day) if integer_key else day
        return conn.execute(
            statement.format(target, columns, columns, source, key), (value,)
        ).rowcount

    days = [r[0] for r in conn.execute(sql.SQL("SELECT DISTINCT {} FROM {}").format(key, source))]
    if integer_key:
        days = [key_day(k) for k in days]
    for day in days:
        replace_date_partition(conn, schema, table, day, fill)
    views = [
        name
        for (name,) in conn.execute(
            "SELECT DISTINCT v.oid::regclass::text FROM pg_catalog.pg_depend d"
            " JOIN pg_catalog.pg_rewrite w ON w.oid = d.objid"
            " JOIN pg_catalog.pg_class v ON v.oid = w.ev_class"
            " WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass"
            " AND d.refobjid = %s::regclass AND v.oid <> d.refobjid ORDER BY 1",
            (f"{schema}.{old}",),
        ).fetchall()
    ]
    conn.execute(sql.SQL("DROP TABLE {} CASCADE").format(source))
    log_event("partitions.moved", table=f"{schema}.{table}", days=len(days), dropped_views=views)
