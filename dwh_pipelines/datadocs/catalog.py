"""The live catalog of the four warehouse databases, read from pg_catalog.

Documentation generated from the catalog cannot drift from the tables: descriptions are
the ``COMMENT ON`` texts the DDL sets, keys come from ``pg_constraint``, and sensitivity
from the one classification registry.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pipeline_core.classification import classify
from pipeline_core.db import connect, read_sql
from pipeline_core.settings import WAREHOUSE_DATABASES, Settings

SQL_DIR = Path(__file__).parent / "sql"


@dataclass
class Column:
    name: str
    data_type: str
    nullable: bool
    description: str | None
    sensitivity: str
    #: where the description comes from: "comment", "inherited from <schema.table>" or None
    description_source: str | None = None
    key: str = ""  # "PK", "FK", "PK, FK", "UK" (for the ERD)


@dataclass
class Relation:
    database: str
    schema: str
    name: str
    kind: str
    owner: str
    description: str | None
    unlogged: bool = False
    columns: list[Column] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def layer(self) -> str:
        return self.database


@dataclass(frozen=True)
class Key:
    """A primary (p), unique (u) or foreign (f) key of a table."""

    database: str
    schema: str
    table: str
    name: str
    kind: str
    columns: tuple[str, ...]
    ref_schema: str | None = None
    ref_table: str | None = None
    ref_columns: tuple[str, ...] = ()
    not_null: bool = True


@dataclass
class Schema:
    database: str
    name: str
    owner: str
    description: str | None


@dataclass
class Catalog:
    relations: list[Relation]
    keys: list[Key]
    schemas: list[Schema]

    def relation(self, database: str, qualified: str) -> Relation | None:
        for rel in self.relations:
            if rel.database == database and rel.qualified == qualified:
                return rel
        return None

    def undocumented(self) -> list[str]:
        """``db:schema.table.column`` of every column without a description (and tables)."""
        missing = []
        for rel in self.relations:
            if not (rel.description or "").strip():
                missing.append(f"{rel.database}:{rel.qualified} (table comment)")
            for col in rel.columns:
                if not (col.description or "").strip():
                    missing.append(f"{rel.database}:{rel.qualified}.{col.name}")
        return missing


def read_catalog(settings: Settings, databases: tuple[str, ...] = WAREHOUSE_DATABASES) -> Catalog:
    """Tables, views, columns, keys and schemas of ``databases`` as they are now."""
    relations: list[Relation] = []
    keys: list[Key] = []
    schemas: list[Schema] = []
    for db in databases:
        with connect(settings, db) as conn:
            conn.read_only = True
            schemas += [
                Schema(db, name, owner, desc)
                for name, owner, desc in conn.execute(read_sql(SQL_DIR / "schemas.sql"))
            ]
            db_keys = [
                Key(db, s, t, name, kind, tuple(cols), rs, rt, tuple(rcols or ()), bool(nn))
                for s, t, name, kind, cols, rs, rt, rcols, nn in conn.execute(
                    read_sql(SQL_DIR / "constraints.sql")
                )
            ]
            keys += db_keys
            rels = _relations(db, conn.execute(read_sql(SQL_DIR / "columns.sql")).fetchall())
            _inherit_view_descriptions(
                rels, conn.execute(read_sql(SQL_DIR / "view_sources.sql")).fetchall()
            )
            _mark_keys(rels, db_keys)
            relations += rels
    return Catalog(relations, keys, schemas)


def _relations(db: str, rows: list[tuple]) -> list[Relation]:
    out: dict[tuple[str, str], Relation] = {}
    for schema, table, kind, unlogged, owner, tdesc, _pos, col, dtype, nullable, cdesc in rows:
        rel = out.get((schema, table))
        if rel is None:
            rel = out[(schema, table)] = Relation(
                db, schema, table, kind, owner, tdesc, unlogged=bool(unlogged)
            )
        rel.columns.append(
            Column(
                name=col,
                data_type=dtype,
                nullable=bool(nullable),
                description=cdesc,
                sensitivity=classify(col).value,
                description_source="comment" if cdesc else None,
            )
        )
    return list(out.values())


def _inherit_view_descriptions(rels: list[Relation], sources: list[tuple]) -> None:
    """A view column without a comment takes the comment of the one column it passes on."""
    by_view: dict[tuple[str, str, str], set[tuple[str, str]]] = defaultdict(set)
    for vschema, vname, sschema, stable, col, desc in sources:
        if desc:
            by_view[(vschema, vname, col)].add((f"{sschema}.{stable}", desc))
    for rel in rels:
        if rel.kind not in ("view", "materialized view"):
            continue
        for c in rel.columns:
            found = by_view.get((rel.schema, rel.name, c.name), set())
            if not c.description and len({d for _, d in found}) == 1:
                source, desc = sorted(found)[0]
                c.description = desc
                c.description_source = f"inherited from {source}.{c.name}"


def _mark_keys(rels: list[Relation], keys: list[Key]) -> None:
    marks: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for k in keys:
        label = {"p": "PK", "u": "UK", "f": "FK"}[k.kind]
        for col in k.columns:
            marks[(k.schema, k.table, col)].add(label)
    for rel in rels:
        for c in rel.columns:
            found = marks.get((rel.schema, rel.name, c.name), set())
            if "PK" in found:
                found.discard("UK")
            c.key = ", ".join(m for m in ("PK", "FK", "UK") if m in found)
