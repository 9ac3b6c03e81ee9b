"""The governance policy: ``governance/policy.yaml`` loaded, validated and resolved.

One declarative file drives roles, access, RLS, masking, pseudonymisation and retention, so
that what is enforced and what the README documents cannot drift apart. Validation happens
before anything touches a database: a policy that would let a junior read a scratch table or
anyone but the pipeline write a published schema is refused, not half-applied.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline_core.classification import MASKED_CLASSES, REGISTRY, Sensitivity, classify
from pipeline_core.settings import REPO_ROOT, WAREHOUSE_DATABASES

#: The policy file; FLEET_GOVERNANCE_POLICY points elsewhere (e.g. in a container image, where
#: the packages are installed without the repository around them).
DEFAULT_POLICY = Path(
    os.environ.get("FLEET_GOVERNANCE_POLICY") or REPO_ROOT / "governance" / "policy.yaml"
)
#: Marks roles created by governance (COMMENT ON ROLE), so stale ones can be recognised.
MANAGED_MARK = "fleet-governance:"
#: The schema `apply` creates in the RLS database for assignments and pseudonyms.
GOVERNANCE_SCHEMA = "governance"
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
TIMESTAMP_UNITS = ("second", "minute", "hour", "day")
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PolicyError(ValueError):
    """The policy file is invalid; nothing was applied."""


@dataclass(frozen=True)
class RoleSpec:
    name: str
    family: str
    tier: str
    description: str
    masked: bool
    restricted: bool


@dataclass(frozen=True)
class Access:
    """Who reads and writes one schema or table (role names, audiences expanded)."""

    read: frozenset[str]
    write: frozenset[str]

    @property
    def readers(self) -> frozenset[str]:
        return self.read | self.write


@dataclass(frozen=True)
class SchemaRule:
    name: str
    access: Access
    scratch: bool = False
    security_invoker: bool = False
    tables: dict[str, Access] = field(default_factory=dict)

    def access_for(self, relation: str) -> Access:
        return self.tables.get(relation, self.access)

    def all_readers(self) -> frozenset[str]:
        out = set(self.access.readers)
        for acc in self.tables.values():
            out |= acc.readers
        return frozenset(out)


@dataclass(frozen=True)
class DatabaseRule:
    name: str
    connect: frozenset[str]
    schemas: dict[str, SchemaRule]


@dataclass(frozen=True)
class Masking:
    tiers: frozenset[str]
    schema_suffix: str
    coordinate_decimals: int
    timestamp_unit: str

    def masked_schema(self, schema: str) -> str:
        return schema + self.schema_suffix


@dataclass(frozen=True)
class RowLevelSecurity:
    database: str
    schemas: tuple[str, ...]
    column: str
    restricted: frozenset[str]
    all_rows: frozenset[str]
    assignments_table: str
    unfiltered_allowed: frozenset[str]


@dataclass(frozen=True)
class Pseudonymisation:
    database: str
    schemas: tuple[str, ...]
    column: str
    prefix: str
    digest_chars: int
    key_env: str
    mapping_table: str


@dataclass(frozen=True)
class Retention:
    days: int | None
    date_column: str
    extra_tables: dict[str, dict[str, str]]


@dataclass(frozen=True)
class Policy:
    path: Path
    pipeline_role: str
    roles: dict[str, RoleSpec]
    audiences: dict[str, frozenset[str]]
    write_privileges: tuple[str, ...]
    read_only_schemas: frozenset[str]
    databases: dict[str, DatabaseRule]
    masking: Masking
    rls: RowLevelSecurity
    pseudonymisation: Pseudonymisation
    retention: Retention

    @property
    def group_roles(self) -> list[str]:
        return list(self.roles)

    def masked_columns(self, columns: list[str]) -> list[str]:
        """Columns whose classification is masked for junior tiers (the registry decides)."""
        return [c for c in columns if classify(c) in MASKED_CLASSES]


def _as_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where}: expected a list of names, got {value!r}")
    return value


def check_name(name: str, where: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or name.startswith("pg_"):
        raise PolicyError(f"{where}: {name!r} is not a plain lower-case SQL name")
    return name


def _resolve_audiences(raw: dict, roles: set[str]) -> dict[str, frozenset[str]]:
    resolved: dict[str, frozenset[str]] = {}

    def expand(name: str, seen: tuple[str, ...]) -> frozenset[str]:
        if name in roles:
            return frozenset({name})
        if name not in raw:
            raise PolicyError(f"audiences: {name!r} is neither a role nor an audience")
        if name in seen:
            raise PolicyError(f"audiences: cycle {' -> '.join(seen + (name,))}")
        if name not in resolved:
            members: set[str] = set()
            for item in _as_list(raw[name], f"audiences.{name}"):
                members |= expand(item, seen + (name,))
            resolved[name] = frozenset(members)
        return resolved[name]

    for name in raw:
        check_name(name, "audiences")
        if name in roles:
            raise PolicyError(f"audiences: {name!r} is also a role name")
        expand(name, ())
    return resolved


def load_policy(path: Path = DEFAULT_POLICY) -> Policy:
    """Parse and validate the policy; raises PolicyError naming the offending entry."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"cannot read policy {path}: {exc}") from exc
    if raw.get("version") != 1:
        raise PolicyError(f"{path}: unsupported policy version {raw.get('version')!r}")

    pipeline_role = check_name(raw.get("pipeline_role", ""), "pipeline_role")
    masking_raw = raw.get("masking") or {}
    masked_tiers = frozenset(_as_list(masking_raw.get("tiers"), "masking.tiers"))
    rls_raw = raw.get("row_level_security") or {}

    role_names: set[str] = set()
    for name in raw.get("roles") or {}:
        check_name(name, "roles")
        role_names.add(name)
    if not role_names:
        raise PolicyError("roles: at least one group role is required")
    if pipeline_role in role_names:
        raise PolicyError("pipeline_role must not also be a group role")
    audiences = _resolve_audiences(raw.get("audiences") or {}, role_names)

    def names(value: Any, where: str) -> frozenset[str]:
        out: set[str] = set()
        for item in _as_list(value, where):
            if item in role_names:
                out.add(item)
            elif item in audiences:
                out |= audiences[item]
            else:
                raise PolicyError(f"{where}: unknown role or audience {item!r}")
        return frozenset(out)

    restricted = names(rls_raw.get("restricted"), "row_level_security.restricted")
    roles: dict[str, RoleSpec] = {}
    for name, spec in (raw.get("roles") or {}).items():
        spec = spec or {}
        tier = str(spec.get("tier", ""))
        roles[name] = RoleSpec(
            name=name,
            family=str(spec.get("family", "")),
            tier=tier,
            description=str(spec.get("description", "")),
            masked=tier in masked_tiers,
            restricted=name in restricted,
        )

    write_privileges = tuple(
        str(p).upper() for p in _as_list(raw.get("write_privileges"), "write_privileges")
    )
    for priv in write_privileges:
        if priv not in TABLE_PRIVILEGES or priv == "SELECT":
            raise PolicyError(f"write_privileges: {priv!r} is not a table write privilege")
    read_only = frozenset(_as_list(raw.get("read_only_schemas"), "read_only_schemas"))
    suffix = str(masking_raw.get("schema_suffix", "_masked"))
    if not re.match(r"^_[a-z0-9_]{1,20}$", suffix):
        raise PolicyError(f"masking.schema_suffix {suffix!r} must look like _masked")

    databases: dict[str, DatabaseRule] = {}
    for db, db_raw in (raw.get("databases") or {}).items():
        if db not in WAREHOUSE_DATABASES:
            raise PolicyError(f"databases: {db!r} is not a warehouse database")
        db_raw = db_raw or {}
        connect = names(db_raw.get("connect"), f"databases.{db}.connect")
        schemas: dict[str, SchemaRule] = {}
        for schema, s_raw in (db_raw.get("schemas") or {}).items():
            where = f"databases.{db}.schemas.{schema}"
            check_name(schema, where)
            if schema.endswith(suffix):
                raise PolicyError(f"{where}: names ending in {suffix!r} are for masked views")
            s_raw = s_raw or {}
            access = Access(names(s_raw.get("read"), where), names(s_raw.get("write"), where))
            tables = {
                check_name(t, where): Access(
                    names((t_raw or {}).get("read"), f"{where}.tables.{t}"),
                    names((t_raw or {}).get("write"), f"{where}.tables.{t}"),
                )
                for t, t_raw in (s_raw.get("tables") or {}).items()
            }
            rule = SchemaRule(
                name=schema,
                access=access,
                scratch=bool(s_raw.get("scratch", False)),
                security_invoker=bool(s_raw.get("security_invoker", False)),
                tables=tables,
            )
            _validate_schema(db, rule, roles, connect, read_only, where)
            schemas[schema] = rule
        databases[db] = DatabaseRule(db, connect, schemas)

    decimals = int(masking_raw.get("coordinate_decimals", 3))
    unit = str(masking_raw.get("timestamp_unit", "minute"))
    if not 0 <= decimals <= 10 or unit not in TIMESTAMP_UNITS:
        raise PolicyError(
            "masking: coordinate_decimals must be 0-10, timestamp_unit one of "
            + ", ".join(TIMESTAMP_UNITS)
        )
    masking = Masking(masked_tiers, suffix, decimals, unit)

    rls = RowLevelSecurity(
        database=str(rls_raw.get("database", "dwh_db")),
        schemas=tuple(_as_list(rls_raw.get("schemas"), "row_level_security.schemas")),
        column=check_name(rls_raw.get("column", ""), "row_level_security.column"),
        restricted=restricted,
        all_rows=names(rls_raw.get("all_rows"), "row_level_security.all_rows"),
        assignments_table=check_name(
            rls_raw.get("assignments_table", "analyst_organizations"), "assignments_table"
        ),
        unfiltered_allowed=frozenset(
            _as_list(rls_raw.get("unfiltered_allowed"), "row_level_security.unfiltered_allowed")
        ),
    )
    if rls.database not in databases:
        raise PolicyError(f"row_level_security.database {rls.database!r} is not in databases")
    if rls.restricted & rls.all_rows:
        raise PolicyError("row_level_security: a role cannot be both restricted and all_rows")
    for role in rls.restricted:
        for db, rule in databases.items():
            if db != rls.database and role in rule.connect:
                raise PolicyError(f"RLS-restricted role {role} may only connect to {rls.database}")

    ps_raw = raw.get("pseudonymisation") or {}
    pseudo = Pseudonymisation(
        database=str(ps_raw.get("database", rls.database)),
        schemas=tuple(_as_list(ps_raw.get("schemas"), "pseudonymisation.schemas")),
        column=check_name(ps_raw.get("column", "vehicle_id"), "pseudonymisation.column"),
        prefix=str(ps_raw.get("prefix", "veh_")),
        digest_chars=int(ps_raw.get("digest_chars", 32)),
        key_env=str(ps_raw.get("key_env", "FLEET_PSEUDONYM_KEY")),
        mapping_table=check_name(ps_raw.get("mapping_table", "vehicle_pseudonyms"), "mapping"),
    )
    if REGISTRY.get(pseudo.column, (None,))[0] is not Sensitivity.PSEUDONYMOUS_IDENTIFIER:
        raise PolicyError(
            f"pseudonymisation.column {pseudo.column!r} is not classified as a pseudonymous "
            "identifier in pipeline_core.classification"
        )
    if not 16 <= pseudo.digest_chars <= 64:
        raise PolicyError("pseudonymisation.digest_chars must be 16-64")

    ret_raw = raw.get("retention") or {}
    days = ret_raw.get("days")
    if days is not None and (not isinstance(days, int) or days < 0):
        raise PolicyError("retention.days must be null or a non-negative integer")
    extra: dict[str, dict[str, str]] = {}
    for db, tables in (ret_raw.get("extra_tables") or {}).items():
        if db not in WAREHOUSE_DATABASES:
            raise PolicyError(f"retention.extra_tables: {db!r} is not a warehouse database")
        for qualified, column in (tables or {}).items():
            schema, _, table = str(qualified).partition(".")
            for part in (schema, table, column):
                check_name(part, f"retention.extra_tables.{db}.{qualified}")
        extra[db] = {str(k): str(v) for k, v in (tables or {}).items()}
    retention = Retention(
        days=days,
        date_column=check_name(ret_raw.get("date_column", "event_date"), "retention"),
        extra_tables=extra,
    )

    return Policy(
        path=path,
        pipeline_role=pipeline_role,
        roles=roles,
        audiences=audiences,
        write_privileges=write_privileges,
        read_only_schemas=read_only,
        databases=databases,
        masking=masking,
        rls=rls,
        pseudonymisation=pseudo,
        retention=retention,
    )


def _validate_schema(
    db: str,
    rule: SchemaRule,
    roles: dict[str, RoleSpec],
    connect: frozenset[str],
    read_only: frozenset[str],
    where: str,
) -> None:
    accesses = [("", rule.access)] + [(f".tables.{t}", a) for t, a in rule.tables.items()]
    for label, access in accesses:
        if access.write and rule.name in read_only:
            raise PolicyError(f"{where}{label}: {rule.name} is written by the pipeline only")
        for role in access.write:
            if roles[role].masked:
                raise PolicyError(f"{where}{label}: masked role {role} cannot write")
        for role in access.readers:
            if role not in connect:
                raise PolicyError(f"{where}{label}: {role} reads but may not connect to {db}")
            if rule.scratch and roles[role].masked:
                raise PolicyError(
                    f"{where}{label}: {role} is masked and {rule.name} is scratch (re-created "
                    "tables cannot carry masked views)"
                )
