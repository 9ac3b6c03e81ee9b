"""PostgreSQL access: one driver (psycopg 3) everywhere, COPY for bulk data."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path

import psycopg
from psycopg import sql

from pipeline_core.settings import Settings

#: every pipeline session works in UTC (event dates, day keys, partition bounds), whatever
#: the server's or the database's default time zone: a managed server may keep local time
SESSION_OPTIONS = "-c TimeZone=UTC"


def connect(settings: Settings, database: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection to one warehouse database; the name says which layer."""
    info = settings.postgres.conninfo(database)
    try:
        return psycopg.connect(
            **info,
            autocommit=autocommit,
            application_name="fleet-pipeline",
            connect_timeout=10,
            options=SESSION_OPTIONS,
        )
    except psycopg.OperationalError as exc:
        raise psycopg.OperationalError(
            f"cannot connect to database {database!r} at "
            f"{settings.postgres.host}:{settings.postgres.port}: {exc}"
        ) from exc


@contextmanager
def transaction(settings: Settings, database: str) -> Iterator[psycopg.Connection]:
    """A connection whose work commits as one transaction or rolls back whole."""
    conn = connect(settings, database)
    try:
        with conn.transaction():
            yield conn
    finally:
        conn.close()


def read_sql(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def execute_sql_file(
    conn: psycopg.Connection, path: Path, params: dict | None = None, **identifiers: str
) -> None:
    """Run a .sql file; ``{name}`` placeholders are filled with quoted identifiers only.

    Values always travel as bind parameters (``%(name)s``), never as text.
    """
    text = read_sql(path)
    query: sql.Composable = sql.SQL(text)
    if identifiers:
        query = sql.SQL(text).format(**{k: sql.Identifier(v) for k, v in identifiers.items()})
    try:
        if params:
            # client-side binding lets one file hold several statements
            psycopg.ClientCursor(conn).execute(query, params)
        else:
            conn.execute(query)
    except psycopg.Error as exc:
        raise type(exc)(f"{path.name} failed in {conn.info.dbname}: {exc}") from exc


def part_name(table: str, part: int) -> str:
    """The name of the table of a scratch ``table`` that session ``part`` writes (see
    ``create_scratch_parts``)."""
    return f"{table}_part{part}"


def recreate_scratch_tables(
    conn: psycopg.Connection,
    tables: list[str],
    *,
    like: str = "prod",
    scratch: str = "dev",
    split_by: dict[str, str] | None = None,
) -> None:
    """Re-create ``scratch.<table>`` as an empty unlogged heap shaped like ``like.<table>``.

    The write-audit-publish work area is rebuilt on every run and audited by checks before
    anything reaches ``like``, whose keys and foreign keys then guard what is published;
    without indexes, keys and WAL, writing it costs a fraction of a logged, indexed table.

    A table named in ``split_by`` (table -> column) is written by several sessions at once
    (``run_in_sessions``): it is created partitioned by range of that column, and its parts
    are made by ``create_scratch_parts`` once the split is known.
    """
    split_by = split_by or {}
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(scratch)))
    for table in tables:
        target, source = sql.Identifier(scratch, table), sql.Identifier(like, table)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(target))
        shape = sql.SQL("(LIKE {} INCLUDING DEFAULTS INCLUDING COMMENTS)").format(source)
        if table in split_by:
            conn.execute(
                sql.SQL("CREATE TABLE {} {} PARTITION BY RANGE ({})").format(
                    target, shape, sql.Identifier(split_by[table])
                )
            )
        else:
            conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} {}").format(target, shape))
        conn.execute(
            sql.SQL("COMMENT ON TABLE {} IS {}").format(
                target,
                sql.Literal(
                    f"Work area of write-audit-publish: rows of {like}.{table} being rebuilt, "
                    "audited by the checks before publication."
                ),
            )
        )


def range_bound(value: object | None, open_end: str) -> sql.Composable:
    """A range partition's bound: the value, or ``open_end`` (MINVALUE, MAXVALUE) for None."""
    return sql.SQL(open_end) if value is None else sql.Literal(value)


def split_ranges(split_at: Sequence) -> list[tuple[object | None, object | None]]:
    """The parts' [low, high) ranges cut at the increasing ``split_at`` values (None: open)."""
    edges = [None, *split_at, None]
    return list(pairwise(edges))


def create_scratch_parts(
    conn: psycopg.Connection,
    table: str,
    split_at: Sequence,
    *,
    scratch: str = "dev",
    by: str | None = None,
) -> None:
    """The parts of a split scratch table (see ``recreate_scratch_tables``), one per session,
    cut at ``split_at``: part n holds the range [split_at[n-1], split_at[n]), so a serial
    scan of a part reads its rows in the order its session wrote them and float sums over
    it come out the same on every run. A part is an unlogged heap, or, with ``by`` (a day
    column), partitioned by range of it: its session then adds a table per day
    (``dwh_pipelines.partitions.create_part_days``), which publish moves into prod as is.
    """
    parent = sql.Identifier(scratch, table)
    for part, (low, high) in enumerate(split_ranges(split_at)):
        bounds = sql.SQL("FOR VALUES FROM ({}) TO ({})").format(
            range_bound(low, "MINVALUE"), range_bound(high, "MAXVALUE")
        )
        name = sql.Identifier(scratch, part_name(table, part))
        if by is None:
            statement = sql.SQL("CREATE UNLOGGED TABLE {} PARTITION OF {} {}")
            conn.execute(statement.format(name, parent, bounds))
        else:
            statement = sql.SQL("CREATE TABLE {} PARTITION OF {} {} PARTITION BY RANGE ({})")
            conn.execute(statement.format(name, parent, bounds, sql.Identifier(by)))


def run_in_sessions(
    settings: Settings,
    database: str,
    sessions: int,
    work: Callable[[psycopg.Connection, int], None],
) -> None:
    """Run ``work(conn, part)`` for every part below ``sessions`` at once, each on its own
    connection in one transaction: PostgreSQL runs a statement on one core, and a window
    function never in parallel, so set-based work split by part uses as many cores.

    Every session is waited for; the first failure is raised, naming its part.
    """

    def one(part: int) -> None:
        with connect(settings, database) as conn:
            try:
                with conn.transaction():
                    work(conn, part)
            except psycopg.Error as exc:
                exc.add_note(f"in session {part + 1} of {sessions} on {database}")
                raise

    with ThreadPoolExecutor(max_workers=sessions) as pool:
        futures = [pool.submit(one, part) for part in range(sessions)]
        for future in futures:
            future.result()
