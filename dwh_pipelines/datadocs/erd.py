"""Entity-relationship diagrams from the catalog: Mermaid source and a self-drawn SVG.

Relationships are the foreign keys in ``pg_constraint``; marts have none, so they are
linked *logically* to a star table whose whole primary or unique key they carry under the
same column names (drawn dashed). Mermaid needs its JavaScript from a CDN to render, so
the HTML page draws the same diagram as inline SVG (top-down, parents above children,
orthogonal edges in the gaps between boxes) and the Markdown keeps the Mermaid source.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from markupsafe import Markup, escape

from dwh_pipelines.datadocs.catalog import Catalog, Relation

#: cardinality words -> (Mermaid left-side, Mermaid right-side) notation
_MERMAID_PARENT = {"one": "||", "zero_or_one": "|o"}
_MERMAID_CHILD = {"many": "o{", "zero_or_one": "o|"}
_WORDS = {"one": "exactly one", "zero_or_one": "zero or one", "many": "zero or many"}
_SHORT_TYPES = {
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "double precision": "float8",
    "character varying": "varchar",
    "boolean": "bool",
    "integer": "int",
}


@dataclass(frozen=True)
class Relationship:
    child: str  # schema.table
    parent: str
    columns: tuple[str, ...]
    ref_columns: tuple[str, ...]
    parent_card: str  # one | zero_or_one
    child_card: str  # many | zero_or_one
    kind: str  # "foreign key" | "logical"

    @property
    def reads(self) -> str:
        return (
            f"each {self.child} row has {_WORDS[self.parent_card]} {self.parent}; each "
            f"{self.parent} row has {_WORDS[self.child_card]} {self.child}"
        )


@dataclass
class Diagram:
    """One ERD: the tables of some schemas of one database and their relationships."""

    title: str
    database: str
    schemas: tuple[str, ...]
    entities: list[Relation]
    relationships: list[Relationship]
    bottom_schemas: tuple[str, ...] = ()  # drawn below the others (marts)


def diagram(
    catalog: Catalog,
    title: str,
    database: str,
    schemas: tuple[str, ...],
    *,
    logical_from: tuple[str, ...] = (),
    bottom_schemas: tuple[str, ...] = (),
) -> Diagram:
    """Tables of ``schemas`` in ``database`` with their foreign keys (and logical links
    from the tables of ``logical_from`` schemas to the other schemas' keys)."""
    entities = [
        r
        for r in catalog.relations
        if r.database == database
        and r.schema in schemas
        and r.kind in ("table", "partitioned table")
    ]
    names = {e.qualified for e in entities}
    keys = [k for k in catalog.keys if k.database == database and f"{k.schema}.{k.table}" in names]
    unique: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for k in keys:
        if k.kind in ("p", "u"):
            unique[f"{k.schema}.{k.table}"].append(k.columns)
    rels = []
    for k in keys:
        if k.kind != "f" or f"{k.ref_schema}.{k.ref_table}" not in names:
            continue
        child = f"{k.schema}.{k.table}"
        rels.append(
            Relationship(
                child=child,
                parent=f"{k.ref_schema}.{k.ref_table}",
                columns=k.columns,
                ref_columns=k.ref_columns,
                parent_card="one" if k.not_null else "zero_or_one",
                child_card="zero_or_one" if _covers(k.columns, unique[child]) else "many",
                kind="foreign key",
            )
        )
    # tables that declare no foreign key (marts; fact_vehicle_location, whose references
    # are audited by a check instead) are linked by the keys they carry by name
    declared = {r.child for r in rels}
    children = [e for e in entities if e.schema in logical_from or e.qualified not in declared]
    rels += _logical(entities, unique, children, logical_from)
    rels.sort(key=lambda r: (r.child, r.parent, r.columns))
    return Diagram(title, database, schemas, entities, rels, bottom_schemas)


def _covers(columns: tuple[str, ...], keys: list[tuple[str, ...]]) -> bool:
    return any(set(k) <= set(columns) for k in keys)


def _logical(
    entities: list[Relation],
    unique: dict[str, list[tuple[str, ...]]],
    children: list[Relation],
    logical_from: tuple[str, ...],
) -> list[Relationship]:
    """A child table that carries a whole key of another table by name."""
    out = []
    targets = [e for e in entities if e.schema not in logical_from]
    for child in children:
        cols = {c.name: c for c in child.columns}
        for parent in targets:
            if parent.qualified == child.qualified:
                continue
            for key in unique[parent.qualified]:
                if not set(key) <= set(cols):
                    continue
                if child.schema not in logical_from and not (
                    len(key) == 1 and key[0].endswith("_key")
                ):
                    continue  # outside the marts, only references to a surrogate key
                out.append(
                    Relationship(
                        child=child.qualified,
                        parent=parent.qualified,
                        columns=key,
                        ref_columns=key,
                        parent_card=(
                            "one" if all(not cols[c].nullable for c in key) else "zero_or_one"
                        ),
                        child_card=(
                            "zero_or_one" if _covers(key, unique[child.qualified]) else "many"
                        ),
                        kind="logical",
                    )
                )
    return out


# ----------------------------------------------------------------------------- Mermaid


def _entity_id(d: Diagram, qualified: str) -> str:
    """Bare table name when unique in the diagram, else schema__table (Mermaid ids)."""
    name = qualified.split(".", 1)[1]
    if sum(e.name == name for e in d.entities) == 1:
        return name
    return qualified.replace(".", "__")


def _short_type(data_type: str) -> str:
    base, _, rest = data_type.partition("(")
    short = _SHORT_TYPES.get(base.strip(), base.strip())
    return (short + ("(" + rest if rest else "")).replace(" ", "_").replace(",", "_")


def mermaid(d: Diagram) -> str:
    """Mermaid ``erDiagram`` source: entities with typed, key-marked columns, then links."""
    lines = ["erDiagram"]
    for r in d.relationships:
        link = "--" if r.kind == "foreign key" else ".."
        label = ", ".join(r.columns) + (" (logical)" if r.kind == "logical" else "")
        lines.append(
            f"    {_entity_id(d, r.parent)} {_MERMAID_PARENT[r.parent_card]}{link}"
            f'{_MERMAID_CHILD[r.child_card]} {_entity_id(d, r.child)} : "{label}"'
        )
    for e in sorted(d.entities, key=lambda e: e.qualified):
        lines.append(f"    {_entity_id(d, e.qualified)} {{")
        for c in e.columns:
            key = f" {c.key}" if c.key else ""
            lines.append(f"        {_short_type(c.data_type)} {c.name}{key}")
        lines.append("    }")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- SVG

BOX_W = 250
HEADER_H = 26
ROW_H = 17
GAP_X = 50
MARGIN = 56
LANE = 8
MAX_PER_ROW = 4
_HEADER_COLORS = {"dim": "#1d4ed8", "fact": "#b45309", "marts": "#15803d", "other": "#475569"}


@dataclass
class _Box:
    entity: Relation
    x: float = 0
    y: float = 0
    row: int = 0

    @property
    def h(self) -> float:
        return HEADER_H + ROW_H * len(self.entity.columns) + 6

    @property
    def cx(self) -> float:
        return self.x + BOX_W / 2


def _levels(d: Diagram) -> dict[str, int]:
    parents: dict[str, set[str]] = defaultdict(set)
    for r in d.relationships:
        if r.child != r.parent:
            parents[r.child].add(r.parent)
    memo: dict[str, int] = {}

    def level(name: str, seen: frozenset[str]) -> int:
        if name in memo:
            return memo[name]
        ps = [p for p in parents[name] if p not in seen]
        memo[name] = 0 if not ps else 1 + max(level(p, seen | {name}) for p in ps)
        return memo[name]

    return {e.qualified: level(e.qualified, frozenset()) for e in d.entities}


def _rows(d: Diagram) -> list[list[_Box]]:
    """Entities in rows: parents above children, at most MAX_PER_ROW per row."""
    levels = _levels(d)
    referenced = defaultdict(int)
    for r in d.relationships:
        referenced[r.parent] += 1
    main = [e for e in d.entities if e.schema not in d.bottom_schemas]
    bottom = [e for e in d.entities if e.schema in d.bottom_schemas]
    groups: list[list[Relation]] = []
    for lvl in sorted({levels[e.qualified] for e in main}):
        members = [e for e in main if levels[e.qualified] == lvl]
        groups.append(members)
    if bottom:
        groups.append(bottom)
    rows: list[list[_Box]] = []
    x_of: dict[str, float] = {}
    for members in groups:
        # order by the mean position of already placed parents (fewer crossings)
        def order(e: Relation) -> tuple:
            xs = [
                x_of[r.parent]
                for r in d.relationships
                if r.child == e.qualified and r.parent in x_of
            ]
            return (sum(xs) / len(xs) if xs else -referenced[e.qualified] * 1000, e.name)

        members = sorted(members, key=order)
        for i in range(0, len(members), MAX_PER_ROW):
            chunk = members[i : i + MAX_PER_ROW]
            row = [_Box(e, row=len(rows)) for e in chunk]
            rows.append(row)
            for j, b in enumerate(row):
                x_of[b.entity.qualified] = j
    return rows


def svg(d: Diagram) -> Markup:
    """The diagram as inline SVG: boxes per table and crow's-foot edges for foreign keys.

    Logical links (marts) are left to the relationship table and the Mermaid source: drawn
    across the star they would cross most boxes and hide the real keys.
    """
    if not d.entities:
        return Markup("")
    rows = _rows(d)
    boxes = {b.entity.qualified: b for row in rows for b in row}
    rels = [  # logical links, self-references and upward links are listed, not drawn
        r
        for r in d.relationships
        if r.kind == "foreign key"
        and r.child in boxes
        and r.parent in boxes
        and boxes[r.child].row > boxes[r.parent].row
    ]
    width = MARGIN * 2 + MAX_PER_ROW * BOX_W + (MAX_PER_ROW - 1) * GAP_X
    for row in rows:
        row_w = len(row) * BOX_W + (len(row) - 1) * GAP_X
        x0 = (width - row_w) / 2
        for j, b in enumerate(row):
            b.x = x0 + j * (BOX_W + GAP_X)

    # horizontal lanes: channel i lies above row i; an edge uses the channel above its
    # child's row and, when it skips rows, the channel below its parent's row too
    channel_edges: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(rels):
        c, p = boxes[r.child], boxes[r.parent]
        channel_edges[c.row].append(i)
        if c.row - p.row > 1:
            channel_edges[p.row + 1].append(i)
    y = 24.0
    row_top: dict[int, float] = {}
    channel_top: dict[int, float] = {}
    first_bottom = next(
        (i for i, row in enumerate(rows) if row[0].entity.schema in d.bottom_schemas), None
    )
    separator = None
    for i, row in enumerate(rows):
        if i > 0:
            channel_top[i] = y
            y += 24 + LANE * len(channel_edges[i])
        if i == first_bottom and i > 0:
            separator = y
            y += 30
        row_top[i] = y
        for b in row:
            b.y = y
        y += max(b.h for b in row)
    height = y + 24

    lane_y: dict[tuple[int, int], float] = {}
    for ch, edges in channel_edges.items():
        edges.sort(key=lambda i: (boxes[rels[i].child].cx + boxes[rels[i].parent].cx))
        for k, i in enumerate(edges):
            lane_y[(ch, i)] = channel_top[ch] + 12 + k * LANE

    # anchor points spread along the child's top and the parent's bottom edge
    out_edges: dict[str, list[int]] = defaultdict(list)
    in_edges: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rels):
        out_edges[r.child].append(i)
        in_edges[r.parent].append(i)
    start_x: dict[int, float] = {}
    end_x: dict[int, float] = {}
    for name, edges in out_edges.items():
        b = boxes[name]
        edges.sort(key=lambda i: boxes[rels[i].parent].cx)
        for k, i in enumerate(edges):
            start_x[i] = b.x + BOX_W * (k + 1) / (len(edges) + 1)
    for name, edges in in_edges.items():
        b = boxes[name]
        edges.sort(key=lambda i: boxes[rels[i].child].cx)
        for k, i in enumerate(edges):
            end_x[i] = b.x + BOX_W * (k + 1) / (len(edges) + 1)

    corridor_use: dict[tuple[float, float], int] = defaultdict(int)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" style="max-width:100%;height:auto" role="img" '
        f'aria-label="{escape(d.title)}" font-family="system-ui, sans-serif">'
    ]
    for i, r in enumerate(rels):
        c, p = boxes[r.child], boxes[r.parent]
        sx, sy = start_x[i], c.y
        ex, ey = end_x[i], p.y + p.h
        if c.row - p.row <= 1:
            ly = lane_y[(c.row, i)]
            pts = [(sx, sy), (sx, ly), (ex, ly), (ex, ey)]
        else:
            ly1 = lane_y[(c.row, i)]
            ly2 = lane_y[(p.row + 1, i)]
            gap = _corridor(rows, p.row + 1, c.row, (sx + ex) / 2, width)
            n = corridor_use[gap]
            corridor_use[gap] += 1
            cx = (gap[0] + gap[1]) / 2 + ((n + 1) // 2) * LANE * (1 if n % 2 else -1)
            pts = [(sx, sy), (sx, ly1), (cx, ly1), (cx, ly2), (ex, ly2), (ex, ey)]
        dash = ' stroke-dasharray="6 4"' if r.kind == "logical" else ""
        path = " ".join(
            f"{'M' if k == 0 else 'L'}{x:.1f},{y_:.1f}" for k, (x, y_) in enumerate(pts)
        )
        tip = escape(f"{r.child} ({', '.join(r.columns)}) → {r.parent}: {r.reads} [{r.kind}]")
        parts.append(
            f'<g class="rel"><title>{tip}</title><path d="{path}" fill="none" '
            f'stroke="#475569" stroke-width="1.4"{dash}/>'
            + _parent_glyph(ex, ey, r.parent_card)
            + _child_glyph(sx, sy, r.child_card)
            + "</g>"
        )
    if separator is not None:
        parts.append(
            f'<path d="M{MARGIN / 2:.0f},{separator:.1f} H{width - MARGIN / 2:.0f}" '
            'stroke="#cbd5e1" stroke-dasharray="4 4"/>'
            f'<text x="{MARGIN / 2:.0f}" y="{separator + 19:.1f}" font-size="12" fill="#5b6673">'
            f"{escape(', '.join(d.bottom_schemas))}: no foreign keys (logical links are listed "
            "in the table below)</text>"
        )
    for b in boxes.values():
        parts.append(_box_svg(b))
    parts.append("</svg>")
    return Markup("".join(parts))


def _corridor(
    rows: list[list[_Box]], first: int, last: int, near: float, width: float
) -> tuple[float, float]:
    """A vertical gap free of boxes in rows first..last-1, nearest to x=``near``."""
    free = [(0.0, width)]
    for row in rows[first:last]:
        taken = sorted((b.x - 6, b.x + BOX_W + 6) for b in row)
        nxt = []
        for lo, hi in free:
            cur = lo
            for t_lo, t_hi in taken:
                if t_hi <= cur or t_lo >= hi:
                    continue
                if t_lo > cur:
                    nxt.append((cur, t_lo))
                cur = max(cur, t_hi)
            if cur < hi:
                nxt.append((cur, hi))
        free = [g for g in nxt if g[1] - g[0] >= 12]
    if not free:
        return (width - MARGIN, width)
    return min(free, key=lambda g: abs((g[0] + g[1]) / 2 - near))


def _parent_glyph(x: float, y: float, card: str) -> str:
    """At the parent's bottom edge: || exactly one, |o zero or one."""
    s = f'<path d="M{x - 6:.1f},{y + 7:.1f} H{x + 6:.1f}" stroke="#475569" stroke-width="1.4"/>'
    if card == "one":
        s += (
            f'<path d="M{x - 6:.1f},{y + 12:.1f} H{x + 6:.1f}" stroke="#475569" '
            'stroke-width="1.4"/>'
        )
    else:
        s += f'<circle cx="{x:.1f}" cy="{y + 16:.1f}" r="4" fill="#fff" stroke="#475569"/>'
    return s


def _child_glyph(x: float, y: float, card: str) -> str:
    """At the child's top edge: o< zero or many (crow's foot), o| zero or one."""
    if card == "many":
        s = (
            f'<path d="M{x - 7:.1f},{y:.1f} L{x:.1f},{y - 11:.1f} L{x + 7:.1f},{y:.1f} '
            f'M{x:.1f},{y - 11:.1f} V{y:.1f}" fill="none" stroke="#475569" stroke-width="1.4"/>'
        )
    else:
        s = f'<path d="M{x - 6:.1f},{y - 8:.1f} H{x + 6:.1f}" stroke="#475569" stroke-width="1.4"/>'
    return s + f'<circle cx="{x:.1f}" cy="{y - 16:.1f}" r="4" fill="#fff" stroke="#475569"/>'


def _fit(text: str, size: float, width: float = BOX_W - 16) -> str:
    """A font size at which ``text`` fits ``width`` px (about 0.6 em per character)."""
    return f"{min(size, width / (0.6 * max(len(text), 1))):.1f}"


def _box_svg(b: _Box) -> str:
    e = b.entity
    kind = "marts" if e.schema == "marts" else e.name.split("_", 1)[0]
    color = _HEADER_COLORS.get(kind, _HEADER_COLORS["other"])
    out = [
        f'<g class="entity"><title>{escape(e.qualified)}: {escape(e.description or "")}</title>',
        f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{BOX_W}" height="{b.h:.1f}" rx="5" '
        f'fill="#fff" stroke="#94a3b8"/>',
        f'<path d="M{b.x:.1f},{b.y + HEADER_H:.1f} V{b.y + 5:.1f} q0,-5 5,-5 '
        f"H{b.x + BOX_W - 5:.1f} "
        f'q5,0 5,5 V{b.y + HEADER_H:.1f} Z" fill="{color}"/>',
        f'<text x="{b.x + 8:.1f}" y="{b.y + 17.5:.1f}" font-size="{_fit(e.qualified, 12.5)}" '
        f'font-weight="600" fill="#fff">{escape(e.qualified)}</text>',
    ]
    for k, c in enumerate(e.columns):
        y = b.y + HEADER_H + ROW_H * (k + 1) - 4
        weight = ' font-weight="600"' if "PK" in c.key else ""
        if c.key:
            out.append(
                f'<text x="{b.x + 7:.1f}" y="{y:.1f}" font-size="8.5" fill="#b45309" '
                f'font-weight="700">{escape(c.key.replace(", ", "+"))}</text>'
            )
        out.append(
            f'<text x="{b.x + 46:.1f}" y="{y:.1f}" font-size="11.5" fill="#1d2733"{weight}>'
            f"{escape(c.name)}</text>"
            f'<text x="{b.x + BOX_W - 8:.1f}" y="{y:.1f}" font-size="10.5" fill="#64748b" '
            f'text-anchor="end">{escape(_short_type(c.data_type))}</text>'
        )
    out.append("</g>")
    return "".join(out)
