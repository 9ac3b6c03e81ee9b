"""Bulk data movement: Arrow batches into COPY, and COPY streams between databases.

No row loops and no ``to_sql``: Arrow writes CSV in C and PostgreSQL parses it in COPY;
between databases the binary COPY stream is relayed block by block.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed")


def copy_arrow(
    conn: psycopg.Connection,
    table: sql.Composable,
    batches: Iterable[pa.RecordBatch],
    *,
    target_bytes: int = 8 << 20,
) -> int:
    """COPY record batches into ``table`` (columns by the batches' field names)."""
    batches = iter(batches)
    first = next((b for b in batches if b.num_rows), None)
    if first is None:
        return 0
    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        table, sql.SQL(", ").join(sql.Identifier(c) for c in first.schema.names)
    )
    rows = 0
    buffer = io.BytesIO()
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        for batch in itertools.chain([first], batches):
            pacsv.write_csv(pa.Table.from_batches([batch]), buffer, _CSV_OPTIONS)
            rows += batch.num_rows
            if buffer.tell() >= target_bytes:
                copy.write(buffer.getvalue())
                buffer.seek(0)
                buffer.truncate()
        if buffer.tell():
            copy.write(buffer.getvalue())
    return rows


def relay(
    src: psycopg.Connection,
    query: sql.Composable,
    dst: psycopg.Connection,
    table: sql.Composable,
    columns: list[str],
    params: dict | None = None,
) -> int:
    """Stream ``query`` from one database into ``table`` of another with binary COPY."""
    col_list = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    out_stmt = sql.SQL("COPY ({}) TO STDOUT (FORMAT binary)").format(query)
    if params:
        out_stmt = sql.SQL(psycopg.ClientCursor(src).mogrify(out_stmt, params))
    in_stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(table, col_list)
    with src.cursor() as scur, dst.cursor() as dcur:
        with scur.copy(out_stmt) as out, dcur.copy(in_stmt) as inp:
            for block in out:
                inp.write(block)
        return dcur.rowcount
