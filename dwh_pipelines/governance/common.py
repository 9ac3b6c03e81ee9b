"""Small pieces shared by the governance modules: the change log, locks, SQL fragments."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from pipeline_core.logs import log_event

#: Schemas no policy touches.
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
#: Advisory locks the pipeline's own writers take per database (dwh_pipelines.*): governance
#: takes them too, so it never interleaves with a build (and never deadlocks with one).
LAYER_LOCKS = {
    "raw_db": ("fleet.raw",),
    "staging_db": ("fleet.staging.dev", "fleet.staging.prod"),
    "semantic_db": ("fleet.semantic.dev", "fleet.semantic.prod"),
    "dwh_db": ("fleet.dwh",),
}
GOVERNANCE_LOCK = "fleet.governance"
#: Privilege keywords as PostgreSQL names them (aclexplode); only these are ever spliced in.
KNOWN_PRIVILEGES = frozenset(
    {
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "TRUNCATE",
        "REFERENCES",
        "TRIGGER",
        "MAINTAIN",
        "USAGE",
        "CREATE",
        "CONNECT",
        "TEMPORARY",
        "EXECUTE",
    }
)


class GovernanceError(RuntimeError):
    """Governance could not be applied as the policy says; the message says why."""


@dataclass
class Changes:
    """Every statement that changed the catalog, so a rerun can prove it changed nothing."""

    items: list[str] = field(default_factory=list)

    def run(self, conn: psycopg.Connection, stmt: sql.Composable, database: str) -> None:
        text = stmt.as_string(conn)
        conn.execute(stmt)
        self.items.append(f"{database}: {text}")
        log_event("governance.change", logging.DEBUG, database=database, statement=text)

    def count(self, database: str) -> int:
        return sum(1 for item in self.items if item.startswith(database + ": "))


def lock(conn: psycopg.Connection, names: Iterable[str]) -> None:
    """Transaction-scoped advisory locks, always taken in the same (sorted) order."""
    for name in sorted(set(names)):
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))


def privileges(privs: Iterable[str]) -> sql.Composable:
    """A privilege list; refuses anything that is not a known privilege keyword."""
    items = sorted(set(privs))
    for priv in items:
        if priv not in KNOWN_PRIVILEGES:
            raise GovernanceError(f"unknown privilege {priv!r}")
    return sql.SQL(", ").join(sql.SQL(p) for p in items)


def grantee(name: str) -> sql.Composable:
    return sql.SQL("PUBLIC") if name == "PUBLIC" else sql.Identifier(name)


def name_array(names: Iterable[str]) -> sql.Composable:
    """``ARRAY['a', 'b']::name[]`` (sorted, so the SQL text is stable between runs)."""
    items = sorted(set(names))
    if not items:
        return sql.SQL("ARRAY[]::name[]")
    return sql.SQL("ARRAY[{}]::name[]").format(sql.SQL(", ").join(map(sql.Literal, items)))


def member_of_any(roles: Iterable[str]) -> sql.Composable:
    """current_user is (a member of) one of ``roles``; unknown role names are simply false."""
    return sql.SQL(
        "EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = ANY ({})"
        " AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER'))"
    ).format(name_array(roles))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
