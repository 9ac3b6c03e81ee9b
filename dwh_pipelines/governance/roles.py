"""Cluster-wide governance: group roles, the pipeline role, memberships, CONNECT, users.

Roles are shared by every database of the server, so this runs once per apply, on the
``postgres`` maintenance database, in one transaction under an advisory lock.
"""

from __future__ import annotations

import psycopg
from psycopg import errors, sql

from dwh_pipelines.governance.common import (
    GOVERNANCE_LOCK,
    Changes,
    GovernanceError,
    grantee,
    lock,
    privileges,
)
from dwh_pipelines.governance.policy import MANAGED_MARK, Policy, PolicyError, check_name
from pipeline_core.db import connect
from pipeline_core.settings import WAREHOUSE_DATABASES, Settings

#: Attributes of every group role and of the pipeline role: no login, nothing special.
GROUP_ATTRIBUTES = {
    "rolsuper": False,
    "rolinherit": True,
    "rolcreaterole": False,
    "rolcreatedb": False,
    "rolcanlogin": False,
    "rolreplication": False,
    "rolbypassrls": False,
}
GROUP_OPTIONS = sql.SQL(
    "NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS"
)
USER_OPTIONS = sql.SQL(
    "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS"
)
USER_MARK = "fleet-user:"
MIN_PASSWORD_LENGTH = 12


def _roles(conn: psycopg.Connection) -> dict[str, dict]:
    rows = conn.execute(
        """SELECT r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb,
                  r.rolcanlogin, r.rolreplication, r.rolbypassrls,
                  pg_catalog.shobj_description(r.oid, 'pg_authid')
             FROM pg_catalog.pg_roles r"""
    ).fetchall()
    keys = list(GROUP_ATTRIBUTES)
    return {r[0]: {**dict(zip(keys, r[1:8], strict=True)), "comment": r[8]} for r in rows}


def _memberships(conn: psycopg.Connection, member: str) -> list[tuple[str, str]]:
    """(group role, grantor) pairs of ``member``'s memberships."""
    return conn.execute(
        """SELECT g.rolname, gr.rolname
             FROM pg_catalog.pg_auth_members m
             JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
             JOIN pg_catalog.pg_roles u ON u.oid = m.member
             JOIN pg_catalog.pg_roles gr ON gr.oid = m.grantor
            WHERE u.rolname = %s ORDER BY 1, 2""",
        (member,),
    ).fetchall()


def _revoke_membership(
    conn: psycopg.Connection, group: str, member: str, grantor: str, changes: Changes
) -> None:
    changes.run(
        conn,
        sql.SQL("REVOKE {} FROM {} GRANTED BY {}").format(
            sql.Identifier(group), sql.Identifier(member), sql.Identifier(grantor)
        ),
        "cluster",
    )


def stale_roles(conn: psycopg.Connection, policy: Policy) -> list[str]:
    """Roles governance created once that the policy no longer lists."""
    wanted = {policy.pipeline_role, *policy.roles}
    return sorted(
        name
        for name, attrs in _roles(conn).items()
        if (attrs["comment"] or "").startswith(MANAGED_MARK) and name not in wanted
    )


def ensure_roles(
    conn: psycopg.Connection, policy: Policy, pipeline_login: str, changes: Changes
) -> None:
    """CREATE missing roles, ALTER drifted ones, re-assert memberships; never DROP."""
    existing = _roles(conn)
    specs = {policy.pipeline_role: "pipeline role: owns every warehouse object"}
    specs.update({name: role.description for name, role in policy.roles.items()})
    for name, description in specs.items():
        ident = sql.Identifier(name)
        attrs = existing.get(name)
        if attrs is None:
            changes.run(conn, sql.SQL("CREATE ROLE {} {}").format(ident, GROUP_OPTIONS), "cluster")
        elif attrs["comment"] and attrs["comment"].startswith(USER_MARK):
            raise GovernanceError(f"{name} is a person's login (create-user), not a group role")
        elif any(attrs[k] != v for k, v in GROUP_ATTRIBUTES.items()):
            changes.run(conn, sql.SQL("ALTER ROLE {} {}").format(ident, GROUP_OPTIONS), "cluster")
        comment = f"{MANAGED_MARK} {description}".strip()
        if attrs is None or attrs["comment"] != comment:
            changes.run(
                conn,
                sql.SQL("COMMENT ON ROLE {} IS {}").format(ident, sql.Literal(comment)),
                "cluster",
            )
        # group roles and the pipeline role are members of nothing (in particular not of a
        # superuser): their privileges are exactly what the policy grants them
        for group, grantor in _memberships(conn, name):
            _revoke_membership(conn, group, name, grantor, changes)

    if pipeline_login == policy.pipeline_role:
        raise GovernanceError("the pipeline must log in as a user, not as the pipeline role")
    if not any(g == policy.pipeline_role for g, _ in _memberships(conn, pipeline_login)):
        changes.run(
            conn,
            sql.SQL("GRANT {} TO {}").format(
                sql.Identifier(policy.pipeline_role), sql.Identifier(pipeline_login)
            ),
            "cluster",
        )


def ensure_connect(
    conn: psycopg.Connection, policy: Policy, managed: set[str], changes: Changes
) -> list[str]:
    """CONNECT on each warehouse database: revoked from PUBLIC, granted per policy."""
    rows = conn.execute(
        """SELECT d.datname, coalesce(r.rolname, 'PUBLIC'), a.privilege_type
             FROM pg_catalog.pg_database d
             CROSS JOIN LATERAL pg_catalog.aclexplode(
                 coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a
             LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
            WHERE d.datname = ANY(%s) AND a.privilege_type = 'CONNECT'""",
        (list(WAREHOUSE_DATABASES),),
    ).fetchall()
    existing = {
        r[0]
        for r in conn.execute(
            "SELECT datname FROM pg_catalog.pg_database WHERE datname = ANY(%s)",
            (list(WAREHOUSE_DATABASES),),
        )
    }
    current = {(db, who) for db, who, _ in rows if who in managed | {"PUBLIC"}}
    desired = set()
    for db in existing:
        rule = policy.databases.get(db)
        for role in (rule.connect if rule else frozenset()) | {policy.pipeline_role}:
            desired.add((db, role))
    for db, who in sorted(current - desired):
        changes.run(
            conn,
            sql.SQL("REVOKE {} ON DATABASE {} FROM {}").format(
                privileges(["CONNECT"]), sql.Identifier(db), grantee(who)
            ),
            "cluster",
        )
    for db, who in sorted(desired - current):
        changes.run(
            conn,
            sql.SQL("GRANT {} ON DATABASE {} TO {}").format(
                privileges(["CONNECT"]), sql.Identifier(db), grantee(who)
            ),
            "cluster",
        )
    return sorted(set(WAREHOUSE_DATABASES) - existing)


def prune_roles(settings: Settings, policy: Policy, changes: Changes) -> dict[str, list]:
    """Drop stale managed roles that own nothing and have no members; keep (report) the rest.

    Their privileges were already revoked by apply (a stale role is managed with nothing
    desired). A role that still owns objects anywhere on the server is never dropped.
    """
    dropped: list[str] = []
    retained: list[dict] = []
    with connect(settings, "postgres") as conn, conn.transaction():
        lock(conn, [GOVERNANCE_LOCK])
        for name in stale_roles(conn, policy):
            owned, members = conn.execute(
                """SELECT (SELECT count(*) FROM pg_catalog.pg_shdepend s
                            WHERE s.refclassid = 'pg_catalog.pg_authid'::regclass
                              AND s.refobjid = r.oid AND s.deptype = 'o')
                          + (SELECT count(*) FROM pg_catalog.pg_database d
                              WHERE d.datdba = r.oid),
                          (SELECT count(*) FROM pg_catalog.pg_auth_members m
                            WHERE m.roleid = r.oid)
                     FROM pg_catalog.pg_roles r WHERE r.rolname = %s""",
                (name,),
            ).fetchone()
            if owned or members:
                retained.append({"role": name, "owned_objects": owned, "members": members})
                continue
            try:
                with conn.transaction():
                    changes.run(
                        conn, sql.SQL("DROP ROLE {}").format(sql.Identifier(name)), "cluster"
                    )
                dropped.append(name)
            except errors.DependentObjectsStillExist as exc:
                # privileges left in a database governance does not manage (e.g. postgres)
                retained.append({"role": name, "reason": str(exc).splitlines()[0]})
    return {"dropped_roles": dropped, "retained_roles": retained}


def create_user(settings: Settings, policy: Policy, name: str, role: str, password: str) -> str:
    """Create (or update) a person's login, member of exactly one group role.

    The password is hashed client-side (SCRAM-SHA-256) so the server, its logs and
    pg_stat_statements only ever see the verifier. Returns "created" or "updated".
    """
    try:
        check_name(name, "user name")
    except PolicyError as exc:
        raise GovernanceError(str(exc)) from exc
    if role not in policy.roles:
        raise GovernanceError(f"{role!r} is not a group role of the policy ({policy.path})")
    if name in policy.roles or name == policy.pipeline_role or name == settings.postgres.user:
        raise GovernanceError(f"{name!r} is a role of the platform, not a person")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise GovernanceError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    with connect(settings, "postgres") as conn, conn.transaction():
        lock(conn, [GOVERNANCE_LOCK])
        existing = _roles(conn)
        if role not in existing:
            raise GovernanceError(f"group role {role} does not exist yet: run `apply` first")
        attrs = existing.get(name)
        if attrs is not None and (
            attrs["rolsuper"] or (attrs["comment"] or "").startswith(MANAGED_MARK)
        ):
            raise GovernanceError(f"{name!r} is a superuser or a managed role: not touched")
        verifier = conn.pgconn.encrypt_password(
            password.encode(), name.encode(), b"scram-sha-256"
        ).decode()
        verb = "CREATE" if attrs is None else "ALTER"
        conn.execute(
            sql.SQL("{} ROLE {} {} PASSWORD {}").format(
                sql.SQL(verb), sql.Identifier(name), USER_OPTIONS, sql.Literal(verifier)
            )
        )
        conn.execute(
            sql.SQL("COMMENT ON ROLE {} IS {}").format(
                sql.Identifier(name), sql.Literal(f"{USER_MARK} member of {role}")
            )
        )
        changes = Changes()
        for group, grantor in _memberships(conn, name):
            if group != role:
                _revoke_membership(conn, group, name, grantor, changes)
        if not any(g == role for g, _ in _memberships(conn, name)):
            conn.execute(
                sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(name))
            )
    return "created" if attrs is None else "updated"
