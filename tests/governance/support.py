"""Helpers for the governance tests: real logins with passwords, catalog snapshots."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from dwh_pipelines.governance import create_user
from pipeline_core.db import connect
from pipeline_core.settings import WAREHOUSE_DATABASES, Settings

#: Roles of governance/policy.yaml, one test user each.
ROLES = (
    "junior_data_analyst",
    "senior_data_analyst",
    "junior_data_scientist",
    "senior_data_scientist",
    "junior_data_engineer",
    "senior_data_engineer",
)


@dataclass
class Users:
    """Test users (one per group role) and their passwords, generated per module."""

    prefix: str
    passwords: dict[str, str] = field(default_factory=dict)

    def name(self, role: str) -> str:
        return f"{self.prefix}_{role}"

    def create(self, settings: Settings, roles=ROLES) -> None:
        for role in roles:
            password = secrets.token_urlsafe(18)
            create_user(settings, self.name(role), role, password)
            self.passwords[role] = password

    def drop(self, settings: Settings) -> None:
        with connect(settings, "postgres", autocommit=True) as conn:
            for role in self.passwords:
                conn.execute(
                    sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(self.name(role)))
                )

    @contextmanager
    def login(self, settings: Settings, role: str, database: str) -> Iterator[psycopg.Connection]:
        """A connection AS the role's user, authenticated by password (SCRAM)."""
        conn = psycopg.connect(
            host=settings.postgres.host,
            port=settings.postgres.port,
            user=self.name(role),
            password=self.passwords[role],
            dbname=database,
            connect_timeout=10,
            autocommit=True,
        )
        try:
            yield conn
        finally:
            conn.close()


def rows(settings: Settings, database: str, query: str, params=None) -> list[tuple]:
    """As the superuser (bypasses RLS): the truth to compare users' views with."""
    with connect(settings, database) as conn:
        return conn.execute(query, params).fetchall()


_DB_SNAPSHOT = {
    "schemas": """SELECT nspname, nspowner::regrole::text, nspacl::text FROM pg_namespace
                   WHERE nspname NOT LIKE 'pg\\_%' ORDER BY 1""",
    "relations": """SELECT n.nspname, c.relname, c.relkind::text, c.relowner::regrole::text,
                           c.relacl::text, c.relrowsecurity, c.relforcerowsecurity,
                           c.reloptions::text
                      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
                       AND n.nspname NOT LIKE 'pg\\_temp%' ORDER BY 1, 2""",
    "columns": """SELECT c.oid::regclass::text, a.attname, a.attacl::text
                    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                   WHERE a.attacl IS NOT NULL ORDER BY 1, 2""",
    "routines": """SELECT p.oid::regprocedure::text, p.proowner::regrole::text, p.proacl::text
                     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1""",
    "default_acl": """SELECT defaclrole::regrole::text, defaclnamespace::regnamespace::text,
                             defaclobjtype::text, defaclacl::text
                        FROM pg_default_acl ORDER BY 1, 2, 3""",
    "policies": """SELECT schemaname, tablename, policyname, permissive, roles::text, cmd, qual,
                          with_check FROM pg_policies ORDER BY 1, 2, 3""",
}


def catalog_snapshot(settings: Settings) -> dict:
    """Roles, memberships, ACLs (in stored order), owners, RLS flags and policies."""
    out: dict = {}
    with connect(settings, "postgres") as conn:
        out["roles"] = conn.execute(
            """SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
                      rolreplication, rolbypassrls, rolconnlimit,
                      shobj_description(oid, 'pg_authid')
                 FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1"""
        ).fetchall()
        out["members"] = conn.execute(
            """SELECT r.rolname, m.rolname, g.rolname, a.admin_option, a.inherit_option,
                      a.set_option
                 FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid
                 JOIN pg_roles m ON m.oid = a.member JOIN pg_roles g ON g.oid = a.grantor
                ORDER BY 1, 2, 3"""
        ).fetchall()
        out["databases"] = conn.execute(
            "SELECT datname, datacl::text FROM pg_database ORDER BY 1"
        ).fetchall()
    for db in WAREHOUSE_DATABASES:
        with connect(settings, db) as conn:
            out[db] = {k: conn.execute(q).fetchall() for k, q in _DB_SNAPSHOT.items()}
    return out
