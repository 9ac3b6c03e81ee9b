"""NDJSON bytes to typed Arrow tables, with every line accounted for.

pyarrow's JSON reader parses whole chunks natively. It rejects a whole block when one
line is bad, so on failure the chunk is bisected (still with pyarrow) until each bad
line stands alone and can be quarantined with the reader's own error as reason. Line
boundaries, line numbers and source keys are found with numpy over the joined bytes,
never with a Python loop over lines.
"""

from __future__ import annotations

import io
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from data_lake.schema import (
    EVENT_LINE_SCHEMA,
    OPERATING_PERIOD_EVENTS_SCHEMA,
    QUARANTINE_SCHEMA,
    VEHICLE_EVENTS_SCHEMA,
)
from pipeline_core.arrow_utils import constant

BOM = b"\xef\xbb\xbf"
_READ_OPTIONS = pj.ReadOptions(block_size=64 << 20, use_threads=True)
_PARSE_OPTIONS = pj.ParseOptions(
    explicit_schema=EVENT_LINE_SCHEMA, unexpected_field_behavior="infer"
)
_KNOWN = {
    (): set(EVENT_LINE_SCHEMA.names),
    ("data",): {f.name for f in EVENT_LINE_SCHEMA.field("data").type},
    ("data", "location"): {"lat", "lng", "at"},
}
ENTITIES = {"vehicle": "vehicle_events", "operating_period": "operating_period_events"}


@dataclass
class ParsedChunk:
    """Typed rows per lake dataset plus the quarantined lines of one chunk of objects."""

    datasets: dict[str, pa.Table]
    quarantine: pa.Table
    input_lines: int
    schema_drift: set[str] = field(default_factory=set)

    @property
    def rows(self) -> int:
        return sum(t.num_rows for t in self.datasets.values())


@dataclass
class _Lines:
    buf: bytes
    starts: np.ndarray  # byte offset of each line
    ends: np.ndarray  # byte offset after the line's content (CR and LF excluded)
    obj: np.ndarray  # object index of each line
    number: np.ndarray  # 1-based line number within its object


def _split_lines(bodies: list[bytes]) -> _Lines:
    norm = []
    for body in bodies:
        if body.startswith(BOM):
            body = body[len(BOM) :]
        if body and not body.endswith(b"\n"):
            body += b"\n"  # a last line without newline is still a line
        norm.append(body)
    buf = b"".join(norm)
    sizes = np.fromiter((len(b) for b in norm), dtype=np.int64, count=len(norm))
    obj_starts = np.concatenate(([0], np.cumsum(sizes)[:-1])) if len(norm) else sizes
    arr = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(arr == 0x0A)
    starts = np.concatenate(([0], nl[:-1] + 1)).astype(np.int64) if len(nl) else nl
    ends = nl.astype(np.int64)
    has_cr = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == 0x0D)
    ends = ends - has_cr
    obj = np.searchsorted(obj_starts, starts, side="right") - 1
    first_line = np.searchsorted(starts, obj_starts)
    number = np.arange(len(starts)) - first_line[obj] + 1 if len(starts) else starts
    return _Lines(buf, starts, ends, obj, number)


def _read(buf: bytes) -> pa.Table:
    return pj.read_json(io.BytesIO(buf), read_options=_READ_OPTIONS, parse_options=_PARSE_OPTIONS)


def _drift(schema: pa.Schema) -> set[str]:
    found: set[str] = set()

    def walk(path: tuple[str, ...], fields) -> None:
        known = _KNOWN.get(path)
        for f in fields:
            if known is not None and f.name not in known:
                found.add(".".join(path + (f.name,)))
            elif pa.types.is_struct(f.type) and path + (f.name,) in _KNOWN:
                walk(path + (f.name,), list(f.type))

    walk((), list(schema))
    return found


#: lines parsed per reader call (about 1 MB of events)
_PART_LINES = 8192
_ERROR_ROW = re.compile(r" in row (\d+)$")


def _error_row(error: str | None, lines: int) -> int | None:
    """The row a syntax error names. It counts JSON objects, not lines, so it is only a
    hint: splitting there re-reads a part about twice, bisecting about log2(n) times."""
    match = _ERROR_ROW.search(error or "")
    row = int(match.group(1)) if match else -1
    return row if 0 <= row < lines else None


def _parse_part(lines: _Lines, idx: np.ndarray) -> tuple[list[tuple[np.ndarray, pa.Table]], dict]:
    """Parse the lines ``idx`` (non-blank, in order); split around failures."""
    pieces: list[tuple[np.ndarray, pa.Table]] = []
    failures: dict[int, str] = {}
    stack = [idx]
    while stack:
        part = stack.pop()
        if len(part) == 0:
            continue
        segment = lines.buf[lines.starts[part[0]] : lines.ends[part[-1]]]
        try:
            table = _read(segment)
            table.validate(full=True)  # the reader does not check UTF-8 inside strings
            error = None
        except pa.ArrowInvalid as exc:
            table, error = None, str(exc)
        if table is not None and table.num_rows == len(part):
            pieces.append((part, table))
        elif len(part) == 1:
            if error is None:
                error = f"line holds {table.num_rows} JSON objects, expected exactly one"
            failures[int(part[0])] = f"not a valid event line: {error}"
        elif (row := _error_row(error, len(part))) is not None:
            # the reader named the row: split around it (each part is checked again)
            stack.extend([part[row + 1 :], part[row : row + 1], part[:row]])
        else:
            mid = len(part) // 2
            stack.append(part[mid:])
            stack.append(part[:mid])
    return pieces, failures


def _parse_lines(lines: _Lines, idx: np.ndarray) -> tuple[list[tuple[np.ndarray, pa.Table]], dict]:
    """Parse the lines ``idx`` in parts of ``_PART_LINES``, on all cores (the reader is
    single-threaded within one block). A bad line then costs a re-read of its part, not
    of the whole chunk.

    Returns the parsed pieces (line indices, table) in line order and {line index: reason}
    for failures.
    """
    parts = np.array_split(idx, max(1, -(-len(idx) // _PART_LINES)))
    pieces: list[tuple[np.ndarray, pa.Table]] = []
    failures: dict[int, str] = {}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for part_pieces, part_failures in pool.map(lambda p: _parse_part(lines, p), parts):
            pieces.extend(part_pieces)
            failures.update(part_failures)
    pieces.sort(key=lambda p: int(p[0][0]))
    return pieces, failures


def _flatten(table: pa.Table) -> dict[str, pa.Array]:
    data = table.column("data").combine_chunks()
    location = pc.struct_field(data, "location")
    return {
        "event": table.column("event").combine_chunks(),
        "on": table.column("on").combine_chunks(),
        "event_at": table.column("at").combine_chunks(),
        "organization_id": table.column("organization_id").combine_chunks(),
        "id": pc.struct_field(data, "id"),
        "location_lat": pc.struct_field(location, "lat"),
        "location_lng": pc.struct_field(location, "lng"),
        "location_at": pc.struct_field(location, "at"),
        "period_start": pc.struct_field(data, "start"),
        "period_finish": pc.struct_field(data, "finish"),
    }


def _reasons(cols: dict[str, pa.Array]) -> pa.Array:
    """First schema rule each row breaks (null when it breaks none)."""
    rules = [
        (pc.is_null(cols["on"]), "missing field 'on'"),
        (pc.invert(pc.is_in(cols["on"], pa.array(list(ENTITIES)))), "unknown entity in 'on'"),
        (pc.is_null(cols["event"]), "missing field 'event'"),
        (pc.is_null(cols["event_at"]), "missing event time 'at'"),
        (pc.is_null(cols["organization_id"]), "missing field 'organization_id'"),
        (pc.is_null(cols["id"]), "missing field 'data.id'"),
    ]
    reason = pa.nulls(len(cols["on"]), pa.string())
    for mask, text in reversed(rules):
        reason = pc.if_else(pc.fill_null(mask, False), pa.scalar(text), reason)
    return reason


def parse_objects(objects: list[tuple[str, bytes]], *, run_id: str, batch_id: str) -> ParsedChunk:
    """Turn (source key, body) pairs into typed dataset tables and a quarantine table."""
    keys = pa.array([k for k, _ in objects], pa.string())
    lines = _split_lines([b for _, b in objects])
    n_lines = len(lines.starts)
    blank = lines.ends == lines.starts
    pieces, failures = _parse_lines(lines, np.flatnonzero(~blank))
    for i in np.flatnonzero(blank):
        failures[int(i)] = "empty line"

    drift: set[str] = set()
    flat: list[dict[str, pa.Array]] = []
    line_idx: list[np.ndarray] = []
    for part, table in pieces:
        drift |= _drift(table.schema)
        flat.append(_flatten(table))
        line_idx.append(part)

    datasets: dict[str, pa.Table] = {}
    if flat:
        cols = {name: pa.concat_arrays([f[name] for f in flat]) for name in flat[0]}
        idx = np.concatenate(line_idx)
        reason = _reasons(cols)
        bad = pc.is_valid(reason).to_numpy(zero_copy_only=False)
        for i, text in zip(idx[bad], reason.filter(pa.array(bad)).to_pylist(), strict=True):
            failures[int(i)] = text
        good = ~bad
        idx = idx[good]
        mask = pa.array(good)
        cols = {k: v.filter(mask) for k, v in cols.items()}
        lineage = {
            "source_key": keys.take(pa.array(lines.obj[idx])),
            "source_line": pa.array(lines.number[idx].astype(np.int32)),
            "ingestion_run_id": constant(run_id, pa.string(), len(idx)),
            "batch_id": constant(batch_id, pa.string(), len(idx)),
        }
        renames = {
            "vehicle_events": {"id": "vehicle_id"},
            "operating_period_events": {"id": "period_id"},
        }
        schemas = {
            "vehicle_events": VEHICLE_EVENTS_SCHEMA,
            "operating_period_events": OPERATING_PERIOD_EVENTS_SCHEMA,
        }
        for entity, dataset in ENTITIES.items():
            sel = pc.equal(cols["on"], entity)
            arrays = []
            for fld in schemas[dataset]:
                src = {v: k for k, v in renames[dataset].items()}.get(fld.name, fld.name)
                arr = lineage[fld.name] if fld.name in lineage else cols[src]
                arrays.append(arr.filter(sel).cast(fld.type))
            datasets[dataset] = pa.Table.from_arrays(arrays, schema=schemas[dataset])
    else:
        datasets = {
            "vehicle_events": VEHICLE_EVENTS_SCHEMA.empty_table(),
            "operating_period_events": OPERATING_PERIOD_EVENTS_SCHEMA.empty_table(),
        }

    q_idx = np.array(sorted(failures), dtype=np.int64)
    quarantine = pa.Table.from_arrays(
        [
            keys.take(pa.array(lines.obj[q_idx])) if len(q_idx) else pa.array([], pa.string()),
            pa.array(lines.number[q_idx].astype(np.int32)),
            pa.array([failures[int(i)] for i in q_idx], pa.string()),
            pa.array([lines.buf[lines.starts[i] : lines.ends[i]] for i in q_idx], pa.binary()),
            constant(run_id, pa.string(), len(q_idx)),
            constant(batch_id, pa.string(), len(q_idx)),
        ],
        schema=QUARANTINE_SCHEMA,
    )
    chunk = ParsedChunk(datasets, quarantine, n_lines, drift)
    if chunk.rows + quarantine.num_rows != n_lines:
        raise AssertionError(
            f"line accounting broken in batch {batch_id}: {n_lines} lines in, "
            f"{chunk.rows} rows + {quarantine.num_rows} quarantined out"
        )
    return chunk
