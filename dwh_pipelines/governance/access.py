"""Per-database governance: ownership, masked views, security_invoker, RLS and privileges.

Everything is computed as a desired state and compared with the catalog, and only the
difference is executed: a second run issues no statement at all, and privileges that the
policy no longer lists are revoked (for the managed roles and PUBLIC; other grantees are
left alone). One transaction per database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import psycopg
from psycopg import errors, sql

from dwh_pipelines.governance.common import (
    SYSTEM_SCHEMAS,
    Changes,
    GovernanceError,
    digest,
    grantee,
    member_of_any,
    privileges,
)
from dwh_pipelines.governance.policy import GOVERNANCE_SCHEMA, Policy, SchemaRule
from pipeline_core.db import execute_sql_file

SQL_DIR = Path(__file__).parent / "sql"
TABLE_KINDS = ("r", "p")
READABLE_KINDS = ("r", "p", "v", "m", "f")
ALTER_KEYWORD = {
    "r": "TABLE",
    "p": "TABLE",
    "v": "VIEW",
    "m": "MATERIALIZED VIEW",
    "f": "FOREIGN TABLE",
}
MASK_MARK = "fleet-governance masked view"
POLICY_MARK = "fleet-governance policy"
#: RLS policies governance owns on a table: any other policy there is dropped.
RLS_READ, RLS_PIPELINE = "fleet_rls_read", "fleet_rls_pipeline"
ASSIGN_READ, ASSIGN_WRITE = "fleet_assignments_read", "fleet_assignments_write"


@dataclass(frozen=True)
class Column:
    name: str
    type_schema: str
    type_name: str


@dataclass
class Relation:
    schema: str
    name: str
    kind: str
    owner: str
    rls: bool
    force_rls: bool
    options: list[str]
    comment: str | None
    columns: list[Column] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.schema, self.name)

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


Grant = tuple[str, str, str, str, str, str]  # (kind, schema, relation, column, grantee, priv)


def read_relations(conn: psycopg.Connection) -> dict[tuple[str, str], Relation]:
    """Every user relation (not system, not part of an extension) with its columns."""
    rels: dict[tuple[str, str], Relation] = {}
    for row in conn.execute(
        """SELECT n.nspname, c.relname, c.relkind::text, pg_catalog.pg_get_userbyid(c.relowner),
                  c.relrowsecurity, c.relforcerowsecurity, coalesce(c.reloptions, '{}'),
                  pg_catalog.obj_description(c.oid, 'pg_class')
             FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = ANY(%s) AND n.nspname <> ALL(%s) AND n.nspname NOT LIKE 'pg\\_%%'
              AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                               WHERE d.classid = 'pg_catalog.pg_class'::regclass
                                 AND d.objid = c.oid AND d.deptype = 'e')
            ORDER BY 1, 2""",
        (list(READABLE_KINDS), list(SYSTEM_SCHEMAS)),
    ):
        rels[(row[0], row[1])] = Relation(*row)
    for schema, rel, col, tschema, tname in conn.execute(
        """SELECT n.nspname, c.relname, a.attname, tn.nspname, t.typname
             FROM pg_catalog.pg_attribute a
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
             JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
            WHERE c.relkind = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
              AND n.nspname <> ALL(%s) AND n.nspname NOT LIKE 'pg\\_%%'
            ORDER BY n.nspname, c.relname, a.attnum""",
        (list(READABLE_KINDS), list(SYSTEM_SCHEMAS)),
    ):
        if (schema, rel) in rels:
            rels[(schema, rel)].columns.append(Column(col, tschema, tname))
    return rels


def _schemas(conn: psycopg.Connection) -> dict[str, str]:
    """Non-system schemas (except public, which belongs to the database owner) -> owner."""
    return dict(
        conn.execute(
            """SELECT n.nspname, pg_catalog.pg_get_userbyid(n.nspowner)
                 FROM pg_catalog.pg_namespace n
                WHERE n.nspname <> ALL(%s) AND n.nspname NOT LIKE 'pg\\_%%'
                  AND n.nspname <> 'public'
                  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                   WHERE d.classid = 'pg_catalog.pg_namespace'::regclass
                                     AND d.objid = n.oid AND d.deptype = 'e')""",
            (list(SYSTEM_SCHEMAS),),
        ).fetchall()
    )


@dataclass
class DatabaseGovernance:
    """Brings one database in line with the policy (see module docstring)."""

    conn: psycopg.Connection
    policy: Policy
    database: str
    pipeline_login: str
    managed_grantees: frozenset[str]
    changes: Changes
    missing: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rule = self.policy.databases.get(self.database)
        self.rels: dict[tuple[str, str], Relation] = {}
        self._bases: dict[tuple[str, str], list[Relation]] = {}
        self._masked: dict[tuple[str, str], tuple[Relation, list[str], set[str]]] = {}

    # ------------------------------------------------------------------ helpers

    def _run(self, stmt: sql.Composable) -> None:
        self.changes.run(self.conn, stmt, self.database)

    def _refresh(self) -> None:
        self.rels = read_relations(self.conn)
        self._bases.clear()
        self.__dict__.pop("schemas", None)
        self.__dict__.pop("rls_tables", None)

    @cached_property
    def schemas(self) -> dict[str, str]:
        return _schemas(self.conn)

    def _schema_rules(self) -> list[SchemaRule]:
        """Rules of the schemas that exist (a layer that has not run yet has none)."""
        if self.rule is None:
            return []
        return [rule for name, rule in self.rule.schemas.items() if name in self.schemas]

    @property
    def is_rls_database(self) -> bool:
        return self.database == self.policy.rls.database

    @cached_property
    def rls_tables(self) -> set[tuple[str, str]]:
        """Tables whose rows RLS filters by organization (those with the column)."""
        if not self.is_rls_database:
            return set()
        rls = self.policy.rls
        return {
            rel.key
            for rel in self.rels.values()
            if rel.kind in TABLE_KINDS
            and rel.schema in rls.schemas
            and rls.column in rel.column_names
        }

    def base_tables(self, rel: Relation) -> list[Relation]:
        """Tables (not views) a view reads, through any depth of views."""
        if rel.kind != "v":
            return [rel]
        if rel.key not in self._bases:
            rows = self.conn.execute(
                """WITH RECURSIVE deps(oid) AS (
                       SELECT %s::regclass::oid
                       UNION
                       SELECT d.refobjid
                         FROM deps
                         JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = deps.oid
                         JOIN pg_catalog.pg_depend d
                           ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = rw.oid
                          AND d.refclassid = 'pg_catalog.pg_class'::regclass
                          AND d.refobjid <> deps.oid)
                   SELECT DISTINCT n.nspname, c.relname
                     FROM deps JOIN pg_catalog.pg_class c ON c.oid = deps.oid
                     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relkind <> 'v'""",
                (rel.ident.as_string(self.conn),),
            ).fetchall()
            self._bases[rel.key] = [self.rels[k] for k in map(tuple, rows) if k in self.rels]
        return self._bases[rel.key]

    def _readers_by_policy(self, role: str, rel: Relation) -> bool:
        rule = self.rule.schemas.get(rel.schema) if self.rule else None
        return rule is not None and role in rule.access_for(rel.name).readers

    def may_read(self, role: str, rel: Relation) -> bool:
        """The policy lets ``role`` read ``rel`` and, for a view, every table under it.

        RLS-restricted roles only get tables whose rows RLS filters (or that the policy
        explicitly allows unfiltered), so nothing a restricted role reads bypasses RLS.
        """
        if not self._readers_by_policy(role, rel):
            return False
        for base in self.base_tables(rel):
            if base is not rel and not self._readers_by_policy(role, base):
                return False
            if (
                self.policy.roles[role].restricted
                and base.schema != GOVERNANCE_SCHEMA
                and base.key not in self.rls_tables
                and f"{base.schema}.{base.name}" not in self.policy.rls.unfiltered_allowed
            ):
                return False
        return True

    # ------------------------------------------------------------------ steps

    def apply(self) -> None:
        self.conn.execute("SET LOCAL search_path = pg_catalog")
        if self.is_rls_database:
            execute_sql_file(
                self.conn,
                SQL_DIR / "governance_schema.sql",
                schema=GOVERNANCE_SCHEMA,
                assignments=self.policy.rls.assignments_table,
                pseudonyms=self.policy.pseudonymisation.mapping_table,
            )
        self._refresh()
        if self.rule is not None:
            self.missing.extend(
                f"{self.database}.{name}" for name in self.rule.schemas if name not in self.schemas
            )
        self.ensure_masked_views()
        self.ensure_ownership()
        self.ensure_security_invoker()
        if self.is_rls_database:
            self.ensure_rls()
        self.ensure_grants()
        self.ensure_default_privileges()

    def ensure_ownership(self) -> None:
        """The pipeline role owns every schema, relation, sequence and routine."""
        owner = sql.Identifier(self.policy.pipeline_role)
        for schema, current in sorted(self.schemas.items()):
            if current != self.policy.pipeline_role:
                self._run(
                    sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(schema), owner)
                )
        for rel in self.rels.values():
            if rel.owner != self.policy.pipeline_role:
                self._run(
                    sql.SQL("ALTER {} {} OWNER TO {}").format(
                        sql.SQL(ALTER_KEYWORD[rel.kind]), rel.ident, owner
                    )
                )
        # sequences owned by a column followed their table above; the others:
        for schema, name in self.conn.execute(
            """SELECT n.nspname, c.relname FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind = 'S' AND pg_catalog.pg_get_userbyid(c.relowner) <> %s
                  AND n.nspname <> ALL(%s) AND n.nspname NOT LIKE 'pg\\_%%'
                  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                   WHERE d.classid = 'pg_catalog.pg_class'::regclass
                                     AND d.objid = c.oid AND d.deptype IN ('a', 'i', 'e'))""",
            (self.policy.pipeline_role, list(SYSTEM_SCHEMAS)),
        ).fetchall():
            self._run(
                sql.SQL("ALTER SEQUENCE {} OWNER TO {}").format(sql.Identifier(schema, name), owner)
            )
        for schema, name, args in self.conn.execute(
            """SELECT n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)
                 FROM pg_catalog.pg_proc p
                 JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                WHERE pg_catalog.pg_get_userbyid(p.proowner) <> %s
                  AND n.nspname <> ALL(%s) AND n.nspname NOT LIKE 'pg\\_%%'
                  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                   WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                                     AND d.objid = p.oid AND d.deptype = 'e')
                ORDER BY 1, 2, 3""",
            (self.policy.pipeline_role, list(SYSTEM_SCHEMAS)),
        ).fetchall():
            # the argument list is PostgreSQL's own rendering of the routine's signature
            self._run(
                sql.SQL("ALTER ROUTINE {}({}) OWNER TO {}").format(
                    sql.Identifier(schema, name), sql.SQL(args), owner
                )
            )
        self._refresh()

    def ensure_security_invoker(self) -> None:
        """Views of security_invoker schemas check the reader's privileges (and RLS)."""
        for rule in self._schema_rules():
            if not rule.security_invoker:
                continue
            for rel in self.rels.values():
                if rel.schema == rule.name and rel.kind == "v":
                    if "security_invoker=true" not in rel.options:
                        self._run(
                            sql.SQL("ALTER VIEW {} SET (security_invoker = true)").format(rel.ident)
                        )

    # ------------------------------------------------------------------ masking

    def _mask_expression(self, col: Column) -> sql.Composable:
        m = self.policy.masking
        ident = sql.Identifier(col.name)
        if col.type_schema == "pg_catalog" and col.type_name in ("float8", "float4", "numeric"):
            rounded = sql.SQL("round({}::numeric, {})").format(
                ident, sql.Literal(m.coordinate_decimals)
            )
            cast = {"float8": "::double precision", "float4": "::real", "numeric": ""}
            return sql.SQL("{}{}").format(rounded, sql.SQL(cast[col.type_name]))
        if col.type_schema == "pg_catalog" and col.type_name == "timestamptz":
            return sql.SQL("date_trunc({}, {}, 'UTC')").format(sql.Literal(m.timestamp_unit), ident)
        if col.type_schema == "pg_catalog" and col.type_name == "timestamp":
            return sql.SQL("date_trunc({}, {})").format(sql.Literal(m.timestamp_unit), ident)
        # anything else of a sensitive class (raw lines, payloads) is withheld
        return sql.SQL("CAST(NULL AS {})").format(sql.Identifier(col.type_schema, col.type_name))

    def _mask_note(self, col: Column) -> str:
        m = self.policy.masking
        if col.type_schema == "pg_catalog" and col.type_name in ("float8", "float4", "numeric"):
            return f"rounded to {m.coordinate_decimals} decimals"
        if col.type_schema == "pg_catalog" and col.type_name in ("timestamptz", "timestamp"):
            return f"truncated to the {m.timestamp_unit}"
        return "withheld (always null)"

    def _column_comments(self, rel: Relation, masked: list[str]) -> dict[str, str]:
        """The base columns' descriptions, plus what masking did, for the data dictionary."""
        described = dict(
            self.conn.execute(
                """SELECT a.attname, pg_catalog.col_description(a.attrelid, a.attnum)
                     FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped""",
                (rel.ident.as_string(self.conn),),
            ).fetchall()
        )
        out = {}
        for col in rel.columns:
            text = described.get(col.name) or f"See {rel.schema}.{rel.name}.{col.name}."
            if col.name in masked:
                text = f"{text} Masked for junior roles: {self._mask_note(col)}."
            out[col.name] = text
        return out

    def _masked_query(self, rel: Relation, masked: list[str]) -> sql.Composable:
        items = []
        for col in rel.columns:
            ident = sql.Identifier(col.name)
            if col.name in masked:
                items.append(sql.SQL("{} AS {}").format(self._mask_expression(col), ident))
            else:
                items.append(ident)
        if rel.kind == "v":
            # Read what the view reads, not the view: an invoker view inside this (definer)
            # view would check the junior's own privileges on the precise columns and fail.
            # With search_path = pg_catalog, PostgreSQL qualifies every name in the definition.
            viewdef = self.conn.execute(
                "SELECT pg_catalog.pg_get_viewdef(%s::regclass)", (rel.ident.as_string(self.conn),)
            ).fetchone()[0]
            source = sql.SQL("({}) AS src").format(sql.SQL(viewdef.strip().rstrip(";")))
        else:
            source = rel.ident
        return sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(items), source)

    def desired_masked(self) -> dict[tuple[str, str], tuple[Relation, list[str], set[str]]]:
        """(masked schema, name) -> (base relation, masked columns, junior readers)."""
        out = {}
        for rule in self._schema_rules():
            if rule.scratch:
                continue
            for rel in self.rels.values():
                if rel.schema != rule.name:
                    continue
                masked = self.policy.masked_columns(rel.column_names)
                if not masked:
                    continue
                readers = {
                    role
                    for role in rule.access_for(rel.name).readers
                    if self.policy.roles[role].masked and self.may_read(role, rel)
                }
                if readers:
                    out[(self.policy.masking.masked_schema(rel.schema), rel.name)] = (
                        rel,
                        masked,
                        readers,
                    )
        return out

    def ensure_masked_views(self) -> None:
        """Create/replace/drop the masked copies juniors read (definer views, barrier)."""
        desired = self.desired_masked()
        self._masked = desired
        masked_schemas = {
            self.policy.masking.masked_schema(r) for r in (self.rule.schemas if self.rule else {})
        }
        for schema in sorted({s for s, _ in desired} - set(self.schemas)):
            self._run(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            self._run(
                sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                    sql.Identifier(schema),
                    sql.Literal(f"Masked copies for junior roles ({MASK_MARK}s)."),
                )
            )
        for (schema, name), (base, masked, _) in sorted(desired.items()):
            query = self._masked_query(base, masked)
            ident = sql.Identifier(schema, name)
            create = sql.SQL("CREATE OR REPLACE VIEW {} WITH (security_barrier = true) AS {}")
            stmt = create.format(ident, query)
            columns = self._column_comments(base, masked)
            fingerprint = digest(stmt.as_string(self.conn) + repr(sorted(columns.items())))
            comment = (
                f"Masked copy of {base.schema}.{base.name} for junior roles: "
                f"{', '.join(masked)} reduced ({MASK_MARK} {fingerprint})"
            )
            current = self.rels.get((schema, name))
            if current is not None and current.comment == comment:
                continue
            if current is not None and current.kind != "v":
                raise GovernanceError(f"{schema}.{name} exists and is not a (masked) view")
            try:
                with self.conn.transaction():
                    self._run(stmt)
            except (errors.InvalidTableDefinition, errors.FeatureNotSupported):
                # columns renamed or removed in the base: CREATE OR REPLACE cannot do that
                self._run(sql.SQL("DROP VIEW {}").format(ident))
                self._run(stmt)
            self._run(sql.SQL("COMMENT ON VIEW {} IS {}").format(ident, sql.Literal(comment)))
            for column, text in columns.items():
                self._run(
                    sql.SQL("COMMENT ON COLUMN {} IS {}").format(
                        sql.Identifier(schema, name, column), sql.Literal(text)
                    )
                )
        for rel in list(self.rels.values()):
            if rel.schema in masked_schemas and rel.key not in desired and rel.kind == "v":
                self._run(sql.SQL("DROP VIEW {}").format(rel.ident))
        for schema in sorted(masked_schemas & set(self.schemas)):
            if not any(s == schema for s, _ in desired):
                self._run(sql.SQL("DROP SCHEMA {}").format(sql.Identifier(schema)))
        self._refresh()

    # ------------------------------------------------------------------ row-level security

    def _policies(self) -> dict[tuple[str, str], dict[str, str | None]]:
        out: dict[tuple[str, str], dict[str, str | None]] = {}
        for schema, table, name, comment in self.conn.execute(
            """SELECT n.nspname, c.relname, p.polname,
                      pg_catalog.obj_description(p.oid, 'pg_policy')
                 FROM pg_catalog.pg_policy p
                 JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"""
        ):
            out.setdefault((schema, table), {})[name] = comment
        return out

    def _desired_policies(self) -> dict[tuple[str, str], dict[str, sql.Composable]]:
        rls = self.policy.rls
        pipeline = member_of_any([self.policy.pipeline_role])
        all_rows = member_of_any(rls.all_rows | {self.policy.pipeline_role})
        assignments = sql.Identifier(GOVERNANCE_SCHEMA, rls.assignments_table)
        assigned = sql.SQL(
            "{} IN (SELECT a.organization_id FROM {} a"
            " JOIN pg_catalog.pg_roles r ON r.rolname = a.role_name"
            " WHERE pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER'))"
        ).format(sql.Identifier(rls.column), assignments)
        out: dict[tuple[str, str], dict[str, sql.Composable]] = {}
        for key in sorted(self.rls_tables):
            table = sql.Identifier(*key)
            out[key] = {
                RLS_READ: sql.SQL(
                    "CREATE POLICY {} ON {} AS PERMISSIVE FOR SELECT TO PUBLIC USING ({} OR {})"
                ).format(sql.Identifier(RLS_READ), table, all_rows, assigned),
                RLS_PIPELINE: sql.SQL(
                    "CREATE POLICY {} ON {} AS PERMISSIVE FOR ALL TO PUBLIC"
                    " USING ({}) WITH CHECK ({})"
                ).format(sql.Identifier(RLS_PIPELINE), table, pipeline, pipeline),
            }
        # the assignments: each user sees the rows of roles they belong to; engineers (the
        # schema's readers), writers and the pipeline see all; only writers change them
        gov = self.rule.schemas.get(GOVERNANCE_SCHEMA) if self.rule else None
        acc = gov.access_for(rls.assignments_table) if gov else None
        writers = (acc.write if acc else frozenset()) | {self.policy.pipeline_role}
        see_all = writers | (gov.access.readers if gov else frozenset())
        own = sql.SQL(
            "EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = role_name"
            " AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER'))"
        )
        key = (GOVERNANCE_SCHEMA, rls.assignments_table)
        table = sql.Identifier(*key)
        out[key] = {
            ASSIGN_READ: sql.SQL(
                "CREATE POLICY {} ON {} AS PERMISSIVE FOR SELECT TO PUBLIC USING ({} OR {})"
            ).format(sql.Identifier(ASSIGN_READ), table, member_of_any(see_all), own),
            ASSIGN_WRITE: sql.SQL(
                "CREATE POLICY {} ON {} AS PERMISSIVE FOR ALL TO PUBLIC USING ({}) WITH CHECK ({})"
            ).format(
                sql.Identifier(ASSIGN_WRITE), table, member_of_any(writers), member_of_any(writers)
            ),
        }
        return out

    def ensure_rls(self) -> None:
        """ENABLE + FORCE RLS and exactly the policies above on every filtered table."""
        desired = self._desired_policies()
        current = self._policies()
        for key, policies in desired.items():
            rel = self.rels[key]
            if not rel.rls:
                self._run(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(rel.ident))
            if not rel.force_rls:
                # FORCE: the owner (the pipeline role, hence the masked definer views) is
                # filtered too; only the superuser login bypasses
                self._run(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(rel.ident))
            existing = current.get(key, {})
            for name in sorted(set(existing) - set(policies)):
                self._run(sql.SQL("DROP POLICY {} ON {}").format(sql.Identifier(name), rel.ident))
            for name, stmt in policies.items():
                mark = f"{POLICY_MARK} {digest(stmt.as_string(self.conn))}"
                if existing.get(name) == mark:
                    continue
                if name in existing:
                    self._run(
                        sql.SQL("DROP POLICY {} ON {}").format(sql.Identifier(name), rel.ident)
                    )
                self._run(stmt)
                self._run(
                    sql.SQL("COMMENT ON POLICY {} ON {} IS {}").format(
                        sql.Identifier(name), rel.ident, sql.Literal(mark)
                    )
                )
        # governance's policies left on tables that are no longer filtered
        for key, existing in current.items():
            if key in desired or key not in self.rels:
                continue
            for name in sorted(existing):
                if name in (RLS_READ, RLS_PIPELINE):
                    self._run(
                        sql.SQL("DROP POLICY {} ON {}").format(
                            sql.Identifier(name), self.rels[key].ident
                        )
                    )

    # ------------------------------------------------------------------ privileges

    def desired_grants(self) -> set[Grant]:
        out: set[Grant] = set()
        write_privs = self.policy.write_privileges
        for rule in self._schema_rules():
            for role in rule.all_readers():
                out.add(("schema", rule.name, "", "", role, "USAGE"))
            for rel in self.rels.values():
                if rel.schema != rule.name:
                    continue
                access = rule.access_for(rel.name)
                masked = set(self.policy.masked_columns(rel.column_names))
                for role in access.readers:
                    if not self.may_read(role, rel):
                        continue
                    if self.policy.roles[role].masked and masked:
                        for col in rel.column_names:
                            if col not in masked:
                                out.add(("column", rel.schema, rel.name, col, role, "SELECT"))
                    else:
                        out.add(("table", rel.schema, rel.name, "", role, "SELECT"))
                if rel.kind in TABLE_KINDS:
                    for role in access.write:
                        for priv in write_privs:
                            out.add(("table", rel.schema, rel.name, "", role, priv))
        for (schema, name), (_, _, readers) in self._masked.items():
            for role in readers:
                out.add(("schema", schema, "", "", role, "USAGE"))
                out.add(("table", schema, name, "", role, "SELECT"))
        return out

    def current_grants(self) -> set[Grant]:
        """Managed grantees' privileges on every non-system schema, relation and column."""
        rows = self.conn.execute(
            """SELECT 'schema', n.nspname, '', '', coalesce(r.rolname, 'PUBLIC'), a.privilege_type
                 FROM pg_catalog.pg_namespace n
                 CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a
                 LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
                WHERE n.nspname <> ALL(%(sys)s) AND n.nspname NOT LIKE 'pg\\_%%'
                  AND n.nspname <> 'public'
               UNION ALL
               SELECT 'table', n.nspname, c.relname, '', coalesce(r.rolname, 'PUBLIC'),
                      a.privilege_type
                 FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
                 LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
                WHERE c.relkind = ANY(%(kinds)s)
                  AND n.nspname <> ALL(%(sys)s) AND n.nspname NOT LIKE 'pg\\_%%'
               UNION ALL
               SELECT 'column', n.nspname, c.relname, att.attname, coalesce(r.rolname, 'PUBLIC'),
                      a.privilege_type
                 FROM pg_catalog.pg_attribute att
                 JOIN pg_catalog.pg_class c ON c.oid = att.attrelid
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 CROSS JOIN LATERAL pg_catalog.aclexplode(att.attacl) a
                 LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
                WHERE att.attnum > 0 AND NOT att.attisdropped AND att.attacl IS NOT NULL
                  AND c.relkind = ANY(%(kinds)s)
                  AND n.nspname <> ALL(%(sys)s) AND n.nspname NOT LIKE 'pg\\_%%'""",
            {"sys": list(SYSTEM_SCHEMAS), "kinds": list(READABLE_KINDS)},
        ).fetchall()
        return {tuple(r) for r in rows if r[4] in self.managed_grantees}  # type: ignore[misc]

    def _grant_sql(
        self,
        verb: str,
        kind: str,
        schema: str,
        rel: str,
        cols: list[str],
        who: str,
        privs: list[str],
    ) -> sql.Composable:
        to_from = sql.SQL("TO" if verb == "GRANT" else "FROM")
        if kind == "schema":
            target = sql.SQL("SCHEMA {}").format(sql.Identifier(schema))
            what = privileges(privs)
        elif kind == "table":
            target = sql.SQL("TABLE {}").format(sql.Identifier(schema, rel))
            what = privileges(privs)
        else:
            target = sql.SQL("TABLE {}").format(sql.Identifier(schema, rel))
            what = sql.SQL("{} ({})").format(
                privileges(privs), sql.SQL(", ").join(map(sql.Identifier, sorted(cols)))
            )
        return sql.SQL("{} {} ON {} {} {}").format(
            sql.SQL(verb), what, target, to_from, grantee(who)
        )

    def _execute_grants(self, verb: str, grants: set[Grant]) -> None:
        """One statement per object and grantee (columns and privileges grouped)."""
        grouped: dict[tuple[str, str, str, str], dict[str, set[str]]] = {}
        for kind, schema, rel, col, who, priv in grants:
            bucket = grouped.setdefault((kind, schema, rel, who), {})
            bucket.setdefault(priv, set()).add(col)
        for (kind, schema, rel, who), by_priv in sorted(grouped.items()):
            if kind == "column":
                by_cols: dict[frozenset[str], list[str]] = {}
                for priv, cols in by_priv.items():
                    by_cols.setdefault(frozenset(cols), []).append(priv)
                for cols, privs in sorted(by_cols.items(), key=lambda kv: sorted(kv[0])):
                    self._run(self._grant_sql(verb, kind, schema, rel, list(cols), who, privs))
            else:
                self._run(self._grant_sql(verb, kind, schema, rel, [], who, sorted(by_priv)))

    def ensure_grants(self) -> None:
        desired = self.desired_grants()
        self._execute_grants("REVOKE", self.current_grants() - desired)
        # a table-level REVOKE also removes column grants: compare again before granting
        self._execute_grants("GRANT", desired - self.current_grants())

    def ensure_default_privileges(self) -> None:
        """New tables in policy schemas get the seniors' privileges at creation time.

        Only roles that see whole tables unfiltered get defaults: junior (masked) and
        RLS-restricted roles wait for the next apply, which grants them columns and checks
        RLS first; until then they have nothing on a new table (fail closed).
        """
        owners = [self.pipeline_login, self.policy.pipeline_role]
        desired: set[tuple[str, str, str, str]] = set()
        for rule in self._schema_rules():
            for owner in owners:
                for role in rule.access.readers:
                    spec = self.policy.roles[role]
                    if not spec.masked and not spec.restricted:
                        desired.add((owner, rule.name, role, "SELECT"))
                for role in rule.access.write:
                    for priv in self.policy.write_privileges:
                        desired.add((owner, rule.name, role, priv))
        rows = self.conn.execute(
            """SELECT pg_catalog.pg_get_userbyid(d.defaclrole), n.nspname,
                      coalesce(r.rolname, 'PUBLIC'), a.privilege_type
                 FROM pg_catalog.pg_default_acl d
                 JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
                 CROSS JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) a
                 LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
                WHERE d.defaclobjtype = 'r'
                  AND pg_catalog.pg_get_userbyid(d.defaclrole) = ANY(%s)""",
            (owners,),
        ).fetchall()
        current = {tuple(r) for r in rows if r[2] in self.managed_grantees}
        for verb, todo in (("REVOKE", current - desired), ("GRANT", desired - current)):
            grouped: dict[tuple[str, str, str], list[str]] = {}
            for owner, schema, who, priv in todo:
                grouped.setdefault((owner, schema, who), []).append(priv)
            for (owner, schema, who), privs in sorted(grouped.items()):
                self._run(
                    sql.SQL(
                        "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} {} {} ON TABLES {} {}"
                    ).format(
                        sql.Identifier(owner),
                        sql.Identifier(schema),
                        sql.SQL(verb),
                        privileges(privs),
                        sql.SQL("TO" if verb == "GRANT" else "FROM"),
                        grantee(who),
                    )
                )
