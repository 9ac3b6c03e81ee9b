"""Every boundary of the governance policy, proven by logging in as real users.

The package's governed platform (conftest.py); each group role gets a user with a password
(SCRAM over TCP, as a person would connect). The junior analyst is assigned the top client,
the senior analyst the other one, by the senior data engineer through their own login.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg
import pytest
from psycopg import errors, sql

from dwh_pipelines.governance import (
    GovernanceError,
    apply_governance,
    create_user,
    load_policy,
    pseudonymise_vehicle_ids,
)
from dwh_pipelines.governance.__main__ import main as cli
from pipeline_core.classification import MASKED_CLASSES, classify
from pipeline_core.db import connect, execute_sql_file
from tests.governance.support import ROLES, Users, rows

pytestmark = pytest.mark.integration

ANALYSTS = {"junior_data_analyst", "senior_data_analyst"}
SCIENTISTS = {"junior_data_scientist", "senior_data_scientist"}
ENGINEERS = {"junior_data_engineer", "senior_data_engineer"}
JUNIORS = {"junior_data_analyst", "junior_data_scientist", "junior_data_engineer"}
SENIORS = set(ROLES) - JUNIORS
EVERYONE = set(ROLES)

#: The issue's access matrix, written out independently of policy.yaml.
CONNECT = {
    "raw_db": ENGINEERS,
    "staging_db": SCIENTISTS | ENGINEERS,
    "semantic_db": SCIENTISTS | ENGINEERS,
    "dwh_db": EVERYONE,
}

#: (database, query, roles that may run it); every other role that can connect is denied.
READS = [
    ("raw_db", "SELECT * FROM raw.vehicle_events LIMIT 1", {"senior_data_engineer"}),
    (
        "raw_db",
        "SELECT event, organization_id, vehicle_id FROM raw.vehicle_events LIMIT 1",
        ENGINEERS,
    ),
    ("raw_db", "SELECT * FROM raw_masked.vehicle_events LIMIT 1", {"junior_data_engineer"}),
    ("raw_db", "SELECT * FROM raw.operating_period_events LIMIT 1", ENGINEERS),
    (
        "staging_db",
        "SELECT * FROM prod.stg_vehicle_events LIMIT 1",
        {"senior_data_scientist", "senior_data_engineer"},
    ),
    (
        "staging_db",
        "SELECT event_key, organization_id FROM prod.stg_vehicle_events LIMIT 1",
        SCIENTISTS | ENGINEERS,
    ),
    (
        "staging_db",
        "SELECT * FROM prod_masked.stg_vehicle_events LIMIT 1",
        {"junior_data_scientist", "junior_data_engineer"},
    ),
    ("staging_db", "SELECT * FROM dev.stg_vehicle_events LIMIT 1", {"senior_data_engineer"}),
    # date partitions are read through their parent only (its grants and masking apply)
    ("staging_db", "SELECT * FROM prod_partitions.stg_vehicle_events_20190601", set()),
    ("raw_db", "SELECT * FROM raw_partitions.vehicle_events_20190601", set()),
    ("semantic_db", "SELECT * FROM prod_partitions.fact_vehicle_location_20190601", set()),
    ("semantic_db", "SELECT * FROM prod_partitions.int_vehicle_updates_20190601", set()),
    # rejected rows as JSON (positions included): seniors only
    (
        "staging_db",
        "SELECT * FROM prod.stg_rejected_events LIMIT 1",
        {"senior_data_scientist", "senior_data_engineer"},
    ),
    (
        "semantic_db",
        "SELECT * FROM prod.fact_vehicle_location LIMIT 1",
        {"senior_data_scientist", "senior_data_engineer"},
    ),
    (
        "semantic_db",
        "SELECT * FROM prod_masked.fact_vehicle_location LIMIT 1",
        {"junior_data_scientist", "junior_data_engineer"},
    ),
    (
        "semantic_db",
        "SELECT * FROM prod.fact_vehicle_period_distance LIMIT 1",
        SCIENTISTS | ENGINEERS,
    ),
    ("semantic_db", "SELECT rules.haversine_km(52.5, 13.4, 52.6, 13.5)", SCIENTISTS | ENGINEERS),
    ("semantic_db", "SELECT * FROM dev.dim_vehicle LIMIT 1", {"senior_data_engineer"}),
    ("dwh_db", "SELECT * FROM analytics.kpi_client_daily", EVERYONE),
    ("dwh_db", "SELECT * FROM analytics.kpi_client_monthly", EVERYONE),
    ("dwh_db", "SELECT * FROM analytics.avg_distance_per_operating_period", EVERYONE),
    ("dwh_db", "SELECT * FROM analytics.no_updates_per_client", EVERYONE),
    ("dwh_db", "SELECT * FROM marts.kpi_client_daily", EVERYONE),
    # a cross-client aggregate: not for analysts (see row_level_security in the policy)
    ("dwh_db", "SELECT * FROM analytics.avg_distance_overall", SCIENTISTS | ENGINEERS),
    ("dwh_db", "SELECT * FROM marts.avg_distance_overall", SCIENTISTS | ENGINEERS),
    ("dwh_db", "SELECT * FROM analytics.latest_updates_on_top1_client", SENIORS),
    ("dwh_db", "SELECT * FROM analytics_masked.latest_updates_on_top1_client", JUNIORS),
    ("dwh_db", "SELECT * FROM marts_masked.latest_updates_on_top1_client", JUNIORS),
    (
        "dwh_db",
        "SELECT organization_id, seq, vehicle_id FROM marts.latest_updates_on_top1_client",
        EVERYONE,
    ),
    ("dwh_db", "SELECT * FROM star.fact_vehicle_period_distance", SCIENTISTS | ENGINEERS),
    ("dwh_db", "SELECT * FROM star.dim_vehicle", SCIENTISTS | ENGINEERS),
    ("dwh_db", "SELECT * FROM ops.task_runs", ENGINEERS),
    ("dwh_db", "SELECT * FROM ops.dq_results", {"senior_data_engineer"}),
    ("dwh_db", "SELECT * FROM ops.column_profiles", {"senior_data_engineer"}),
    ("dwh_db", "SELECT * FROM governance.vehicle_pseudonyms", ENGINEERS),
    ("dwh_db", "SELECT * FROM governance.analyst_organizations", EVERYONE),
]

#: Writes, run in a transaction that is always rolled back.
WRITES = [
    ("raw_db", "DELETE FROM raw.vehicle_events WHERE false", {"senior_data_engineer"}),
    (
        "raw_db",
        "INSERT INTO raw.operating_period_events"
        " SELECT * FROM raw.operating_period_events WHERE false",
        {"senior_data_engineer"},
    ),
    ("raw_db", "CREATE TABLE raw.intruder (a int)", set()),
    (
        "staging_db",
        "UPDATE dev.stg_vehicle_events SET event = event WHERE false",
        {"senior_data_engineer"},
    ),
    ("staging_db", "DELETE FROM prod.stg_vehicle_events WHERE false", set()),
    ("semantic_db", "DELETE FROM dev.int_vehicle_updates WHERE false", {"senior_data_engineer"}),
    ("semantic_db", "DELETE FROM prod.int_vehicle_updates WHERE false", set()),
    ("semantic_db", "INSERT INTO prod.dim_date SELECT * FROM prod.dim_date WHERE false", set()),
    ("dwh_db", "DELETE FROM marts.kpi_client_daily WHERE false", set()),
    ("dwh_db", "TRUNCATE marts.kpi_client_daily", set()),
    ("dwh_db", "INSERT INTO star.dim_date SELECT * FROM star.dim_date WHERE false", set()),
    ("dwh_db", "DELETE FROM ops.task_runs WHERE false", set()),
    ("dwh_db", "CREATE TABLE analytics.intruder (a int)", set()),
    (
        "dwh_db",
        "DELETE FROM governance.analyst_organizations WHERE false",
        {"senior_data_engineer"},
    ),
    ("dwh_db", "DELETE FROM governance.vehicle_pseudonyms WHERE false", set()),
]

DENIED = (errors.InsufficientPrivilege,)


@dataclass
class World:
    settings: object
    users: Users
    key: str
    top: str  # the client of marts.latest_updates_on_top1_client
    other: str
    real_path: list[tuple]  # (seq, vehicle_id, location_at, lat, lng, org) before pseudonyms


@pytest.fixture(scope="module")
def world(governed):
    stack = governed.settings
    users = Users("acc")
    users.create(stack)
    with users.login(stack, "senior_data_engineer", "dwh_db") as conn:
        conn.execute(
            "INSERT INTO governance.analyst_organizations (role_name, organization_id)"
            " VALUES (%s, %s), (%s, %s)",
            (
                users.name("junior_data_analyst"),
                governed.top,
                users.name("senior_data_analyst"),
                governed.other,
            ),
        )
    yield World(stack, users, governed.key, governed.top, governed.other, governed.real_path)
    with connect(stack, "dwh_db") as conn:
        conn.execute("DELETE FROM governance.analyst_organizations")
        conn.commit()
    users.drop(stack)


def _outcome(conn: psycopg.Connection, query: str, *, rollback: bool = False) -> str:
    try:
        if rollback:
            with conn.transaction(force_rollback=True):
                conn.execute(query)
        else:
            conn.execute(query).fetchall()
        return "allowed"
    except DENIED:
        return "denied"


# ----------------------------------------------------------------------------- connect


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("database", list(CONNECT))
def test_connect_only_where_the_policy_allows(world, role, database):
    if role in CONNECT[database]:
        with world.users.login(world.settings, role, database) as conn:
            assert conn.execute("SELECT current_user").fetchone()[0] == world.users.name(role)
    else:
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            with world.users.login(world.settings, role, database):
                pass


def test_junior_analyst_reaches_dwh_db_only(world):
    for database in ("raw_db", "staging_db", "semantic_db"):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            with world.users.login(world.settings, "junior_data_analyst", database):
                pass
    with world.users.login(world.settings, "junior_data_analyst", "dwh_db") as conn:
        assert conn.execute("SELECT count(*) FROM analytics.kpi_client_daily").fetchone()[0] > 0


def test_senior_engineer_reads_all_four_databases(world):
    checks = {
        "raw_db": "SELECT count(*) FROM raw.vehicle_events",
        "staging_db": "SELECT count(*) FROM prod.stg_vehicle_events",
        "semantic_db": "SELECT count(*) FROM prod.fact_vehicle_location",
        "dwh_db": "SELECT count(*) FROM marts.latest_updates_on_top1_client",
    }
    for database, query in checks.items():
        with world.users.login(world.settings, "senior_data_engineer", database) as conn:
            assert conn.execute(query).fetchone()[0] == rows(world.settings, database, query)[0][0]
            assert conn.execute(query).fetchone()[0] > 0


def test_passwords_are_checked(world):
    """pg_hba: every login but the superuser authenticates with SCRAM."""
    s = world.settings
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host=s.postgres.host,
            port=s.postgres.port,
            dbname="dwh_db",
            user=world.users.name("senior_data_engineer"),
            password="wrong-password",
        )
    method = rows(
        s,
        "postgres",
        "SELECT rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_authid" " WHERE rolname = %s",
        (world.users.name("senior_data_engineer"),),
    )
    assert method == [(True,)]


# ----------------------------------------------------------------------------- privileges


@pytest.mark.parametrize("role", ROLES)
def test_reads_and_writes_follow_responsibility(world, role):
    mismatches = []
    for cases, rollback in ((READS, False), (WRITES, True)):
        for database, query, allowed in cases:
            if role not in CONNECT[database]:
                continue
            with world.users.login(world.settings, role, database) as conn:
                got = _outcome(conn, query, rollback=rollback)
            want = "allowed" if role in allowed else "denied"
            if got != want:
                mismatches.append(f"{database}: {query!r}: {got}, expected {want}")
    assert mismatches == []


def test_senior_engineer_really_writes_raw_a_junior_cannot(world):
    row = (
        "update",
        "org-x",
        datetime(2019, 6, 1),
        "veh-x",
        52.5,
        13.4,
        datetime(2019, 6, 1),
        "manual",
        1,
        "manual",
        "manual",
        datetime(2019, 6, 1).date(),
        "manual",
    )
    insert = (
        "INSERT INTO raw.vehicle_events (event, organization_id, event_at, vehicle_id,"
        " location_lat, location_lng, location_at, source_key, source_line, ingestion_run_id,"
        " batch_id, event_date, load_run_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
        " %s, %s, %s)"
    )
    with world.users.login(world.settings, "senior_data_engineer", "raw_db") as conn:
        with conn.transaction(force_rollback=True):
            conn.execute(insert, row)
            assert (
                conn.execute(
                    "SELECT count(*) FROM raw.vehicle_events WHERE vehicle_id = 'veh-x'"
                ).fetchone()[0]
                == 1
            )
    with world.users.login(world.settings, "junior_data_engineer", "raw_db") as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(insert, row)


# ----------------------------------------------------------------------------- RLS


ORG_QUERIES = [
    "SELECT DISTINCT organization_id FROM analytics.kpi_client_daily",
    "SELECT DISTINCT organization_id FROM analytics.kpi_client_monthly",
    "SELECT DISTINCT organization_id FROM analytics.avg_distance_per_operating_period",
    "SELECT DISTINCT organization_id FROM analytics.no_updates_per_client",
    "SELECT DISTINCT organization_id FROM marts.kpi_client_daily",
]


def test_rls_flags_on_every_client_table(world):
    flags = rows(
        world.settings,
        "dwh_db",
        """SELECT n.nspname || '.' || c.relname, c.relrowsecurity, c.relforcerowsecurity
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id'
            WHERE n.nspname IN ('marts', 'star') AND c.relkind = 'r'""",
    )
    assert len(flags) >= 9
    assert [f for f in flags if not (f[1] and f[2])] == []
    invoker = rows(
        world.settings,
        "dwh_db",
        "SELECT relname, reloptions FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'analytics'",
    )
    assert invoker and all(o == ["security_invoker=true"] for _, o in invoker)


@pytest.mark.parametrize(
    "role,expected", [("junior_data_analyst", "top"), ("senior_data_analyst", "other")]
)
def test_analysts_see_only_their_clients(world, role, expected):
    org = getattr(world, expected)
    with world.users.login(world.settings, role, "dwh_db") as conn:
        for query in ORG_QUERIES:
            assert {r[0] for r in conn.execute(query)} == {org}, query
        mine = conn.execute("SELECT * FROM marts.kpi_client_daily ORDER BY date").fetchall()
        masked_path = (
            conn.execute(
                "SELECT organization_id FROM marts_masked.latest_updates_on_top1_client"
            ).fetchall()
            if role.startswith("junior")
            else conn.execute(
                "SELECT organization_id FROM analytics.latest_updates_on_top1_client"
            ).fetchall()
        )
        own = conn.execute(
            "SELECT role_name, organization_id FROM " "governance.analyst_organizations"
        ).fetchall()
    truth = rows(
        world.settings,
        "dwh_db",
        "SELECT * FROM marts.kpi_client_daily" " WHERE organization_id = %s ORDER BY date",
        (org,),
    )
    assert mine == truth and mine
    # the latest path belongs to the top client: only its analyst sees it
    assert {r[0] for r in masked_path} == ({org} if org == world.top else set())
    assert own == [(world.users.name(role), org)]


def test_unassigned_analyst_sees_no_rows(world):
    name, password = "acc_unassigned_analyst", secrets.token_urlsafe(18)
    create_user(world.settings, name, "senior_data_analyst", password)
    try:
        s = world.settings
        with psycopg.connect(
            host=s.postgres.host,
            port=s.postgres.port,
            dbname="dwh_db",
            user=name,
            password=password,
        ) as conn:
            for query in ORG_QUERIES:
                assert conn.execute(query).fetchall() == [], query
    finally:
        with connect(world.settings, "postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.mark.parametrize("role", sorted(SCIENTISTS | ENGINEERS))
def test_scientists_and_engineers_see_every_client(world, role):
    with world.users.login(world.settings, role, "dwh_db") as conn:
        for query in ORG_QUERIES:
            assert {r[0] for r in conn.execute(query)} == {world.top, world.other}, query


def test_only_senior_engineers_assign_clients(world):
    insert = "INSERT INTO governance.analyst_organizations VALUES (%s, %s)"
    for role in ("junior_data_analyst", "senior_data_analyst", "junior_data_engineer"):
        with world.users.login(world.settings, role, "dwh_db") as conn:
            with pytest.raises(DENIED):
                conn.execute(insert, (world.users.name(role), world.other))
    with world.users.login(world.settings, "senior_data_engineer", "dwh_db") as conn:
        assert len(conn.execute("SELECT * FROM governance.analyst_organizations").fetchall()) == 2


def test_rls_holds_while_the_pipeline_resets_the_views(world):
    """The dwh build re-creates the analytics views with security_invoker itself, and the
    policies filter by current_user: analysts see only their clients at every moment."""
    from dwh_pipelines.dwh import SQL_DIR

    with connect(world.settings, "dwh_db") as conn:
        execute_sql_file(conn, SQL_DIR / "schema.sql")
        conn.commit()
    options = rows(
        world.settings,
        "dwh_db",
        "SELECT reloptions FROM pg_class" " WHERE oid = 'analytics.kpi_client_daily'::regclass",
    )
    assert options == [(["security_invoker=true"],)]
    with world.users.login(world.settings, "senior_data_analyst", "dwh_db") as conn:
        for query in ORG_QUERIES:
            assert {r[0] for r in conn.execute(query)} == {world.other}, query
    apply_governance(world.settings)
    assert apply_governance(world.settings)["changes"] == 0


# ----------------------------------------------------------------------------- masking


def test_juniors_get_rounded_positions_and_minutes(world):
    with world.users.login(world.settings, "junior_data_analyst", "dwh_db") as conn:
        masked = conn.execute(
            "SELECT seq, location_at, location_lat, location_lng"
            " FROM analytics_masked.latest_updates_on_top1_client ORDER BY seq"
        ).fetchall()
        for precise in ("location_lat", "location_lng", "location_at"):
            for schema in ("analytics", "marts"):
                with pytest.raises(DENIED):
                    conn.execute(
                        sql.SQL("SELECT {} FROM {}").format(
                            sql.Identifier(precise),
                            sql.Identifier(schema, "latest_updates_on_top1_client"),
                        )
                    )
    assert len(masked) == len(world.real_path)
    for (seq, at, lat, lng), real in zip(masked, world.real_path, strict=True):
        assert seq == real[0]
        assert lat == round(real[3], 3) and lng == round(real[4], 3)
        assert at == real[2].replace(second=0, microsecond=0)
    assert any(real[3] != round(real[3], 3) for real in world.real_path)  # it did round


def test_seniors_see_full_precision(world):
    with world.users.login(world.settings, "senior_data_scientist", "dwh_db") as conn:
        precise = conn.execute(
            "SELECT seq, location_at, location_lat, location_lng"
            " FROM analytics.latest_updates_on_top1_client ORDER BY seq"
        ).fetchall()
    assert precise == [(r[0], r[2], r[3], r[4]) for r in world.real_path]


@pytest.mark.parametrize(
    "role,database,schema,table,key",
    [
        ("junior_data_engineer", "raw_db", "raw", "vehicle_events", ["source_key", "source_line"]),
        (
            "junior_data_scientist",
            "semantic_db",
            "prod",
            "fact_vehicle_location",
            ["period_key", "vehicle_id", "point_no"],
        ),
        ("junior_data_scientist", "staging_db", "prod", "stg_vehicle_events", ["event_key"]),
    ],
)
def test_masked_views_in_every_layer(world, role, database, schema, table, key):
    def select(from_schema: str) -> sql.Composable:
        cols = [*key, "location_lat", "location_lng", "location_at"]
        return sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
            sql.SQL(", ").join(map(sql.Identifier, cols)),
            sql.Identifier(from_schema, table),
            sql.SQL(", ").join(map(sql.Identifier, key)),
        )

    with world.users.login(world.settings, role, database) as conn:
        got = conn.execute(select(schema + "_masked")).fetchall()
    with connect(world.settings, database) as conn:
        truth = conn.execute(select(schema)).fetchall()
    assert len(got) == len(truth) > 0
    n = len(key)
    for g, t in zip(got, truth, strict=True):
        assert g[:n] == t[:n]
        lat, lng, at = t[n:]
        assert g[n] == (None if lat is None else round(lat, 3))
        assert g[n + 1] == (None if lng is None else round(lng, 3))
        assert g[n + 2] == (None if at is None else at.replace(second=0, microsecond=0))


def test_masked_columns_come_from_the_classification(world):
    """Juniors lack SELECT exactly on the columns whose class is masked, wherever they read."""
    policy = load_policy()
    checked = 0
    for database, rule in policy.databases.items():
        for schema, srule in rule.schemas.items():
            for role in sorted(srule.access.read & JUNIORS):
                user = world.users.name(role)
                for table, column, allowed in rows(
                    world.settings,
                    database,
                    """SELECT c.relname, a.attname, has_column_privilege(%s, c.oid, a.attname,
                              'SELECT')
                         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
                        WHERE n.nspname = %s AND c.relkind IN ('r', 'v') AND NOT a.attisdropped
                          AND has_any_column_privilege(%s, c.oid, 'SELECT')""",
                    (user, schema, user),
                ):
                    sensitive = classify(column) in MASKED_CLASSES
                    assert allowed is not sensitive, (database, schema, table, column, role)
                    checked += sensitive
    assert checked > 10  # sensitive columns were seen, none of them granted to a junior...
    masked_views = rows(
        world.settings,
        "dwh_db",
        "SELECT count(*) FROM pg_class c JOIN"
        " pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE '%%_masked'",
    )
    assert masked_views[0][0] >= 2  # ...and they read them through the masked views


# ----------------------------------------------------------------------------- pseudonyms


def test_marts_show_keyed_pseudonyms(world):
    key = world.key.encode()
    expected = {
        "veh_" + hmac.new(key, r[1].encode(), hashlib.sha256).hexdigest()[:32]
        for r in world.real_path
    }
    with world.users.login(world.settings, "junior_data_analyst", "dwh_db") as conn:
        shown = {
            r[0]
            for r in conn.execute(
                "SELECT vehicle_id FROM analytics_masked.latest_updates_on_top1_client"
            )
        }
    assert shown == expected
    with world.users.login(world.settings, "junior_data_engineer", "dwh_db") as conn:
        mapping = dict(
            conn.execute(
                "SELECT pseudonym, vehicle_id FROM governance.vehicle_pseudonyms"
            ).fetchall()
        )
    assert {mapping[p] for p in shown} == {r[1] for r in world.real_path}
    # the star (not readable by analysts) keeps the real ids
    star_ids = {
        r[0] for r in rows(world.settings, "dwh_db", "SELECT vehicle_id FROM star.dim_vehicle")
    }
    assert {r[1] for r in world.real_path} <= star_ids


@pytest.mark.parametrize("role", sorted(ANALYSTS | SCIENTISTS))
def test_pseudonym_mapping_hidden_from_non_engineers(world, role):
    with world.users.login(world.settings, role, "dwh_db") as conn:
        with pytest.raises(DENIED):
            conn.execute("SELECT * FROM governance.vehicle_pseudonyms")


def test_pseudonymisation_is_idempotent_and_needs_its_key(world, monkeypatch):
    again = pseudonymise_vehicle_ids(world.settings)
    assert again["new_pseudonyms"] == 0 and set(again["rows_updated"].values()) == {0}
    monkeypatch.delenv("FLEET_PSEUDONYM_KEY")
    with pytest.raises(GovernanceError, match="FLEET_PSEUDONYM_KEY"):
        pseudonymise_vehicle_ids(world.settings)


# ----------------------------------------------------------------------------- roles, users


def test_pipeline_role_owns_everything_and_is_member_of_nothing(world):
    role = rows(
        world.settings,
        "postgres",
        "SELECT rolcanlogin, rolsuper, rolbypassrls FROM"
        " pg_roles WHERE rolname = 'fleet_pipeline'",
    )
    assert role == [(False, False, False)]
    assert rows(
        world.settings,
        "postgres",
        "SELECT count(*) FROM pg_auth_members" " WHERE member = 'fleet_pipeline'::regrole",
    ) == [(0,)]
    assert rows(
        world.settings,
        "postgres",
        "SELECT pg_has_role('postgres', 'fleet_pipeline',"
        " 'MEMBER'), pg_has_role('fleet_pipeline', 'postgres', 'MEMBER')",
    ) == [(True, False)]
    for database in CONNECT:
        foreign = rows(
            world.settings,
            database,
            """SELECT 'schema ' || nspname FROM pg_namespace
                WHERE nspowner <> 'fleet_pipeline'::regrole
                  AND nspname !~ '^(pg_|information_schema|public$)'
               UNION ALL
               SELECT 'relation ' || c.oid::regclass FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relowner <> 'fleet_pipeline'::regrole
                  AND n.nspname !~ '^(pg_|information_schema)'
               UNION ALL
               SELECT 'routine ' || p.oid::regprocedure FROM pg_proc p
                 JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE p.proowner <> 'fleet_pipeline'::regrole
                  AND n.nspname !~ '^(pg_|information_schema)'""",
        )
        assert foreign == [], database


def test_users_belong_to_exactly_one_group(world):
    name = "acc_mover"
    create_user(world.settings, name, "junior_data_analyst", secrets.token_urlsafe(18))
    try:
        create_user(world.settings, name, "senior_data_scientist", secrets.token_urlsafe(18))
        groups = rows(
            world.settings,
            "postgres",
            "SELECT roleid::regrole::text FROM" " pg_auth_members WHERE member = %s::regrole",
            (name,),
        )
        assert groups == [("senior_data_scientist",)]
        for bad in (
            dict(name="x_short", role="senior_data_analyst", password="short"),
            dict(name="x_role", role="fleet_pipeline", password=secrets.token_urlsafe(18)),
            dict(
                name="senior_data_engineer",
                role="senior_data_engineer",
                password=secrets.token_urlsafe(18),
            ),
            dict(name="postgres", role="senior_data_engineer", password=secrets.token_urlsafe(18)),
        ):
            with pytest.raises(GovernanceError):
                create_user(world.settings, **bad)
    finally:
        with connect(world.settings, "postgres", autocommit=True) as conn:
            conn.execute("DROP ROLE acc_mover")


def test_cli_creates_a_user_from_the_environment(world, monkeypatch, capsys):
    password = secrets.token_urlsafe(18)
    monkeypatch.setenv("FLEET_USER_PASSWORD", password)
    assert cli(["create-user", "acc_cli_user", "--role", "senior_data_analyst"]) == 0
    try:
        assert "acc_cli_user: created" in capsys.readouterr().out
        s = world.settings
        with psycopg.connect(
            host=s.postgres.host,
            port=s.postgres.port,
            dbname="dwh_db",
            user="acc_cli_user",
            password=password,
        ) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("acc_cli_user",)
    finally:
        with connect(world.settings, "postgres", autocommit=True) as conn:
            conn.execute("DROP ROLE acc_cli_user")


@pytest.mark.parametrize("database", ["raw_db", "staging_db", "semantic_db", "dwh_db"])
def test_masked_views_are_documented(world, database):
    """Every column of a masked view says what it is and, if masked, how (data dictionary)."""
    described = rows(
        world.settings,
        database,
        """SELECT c.relname, a.attname, col_description(c.oid, a.attnum)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
            WHERE n.nspname LIKE '%%\\_masked'""",
    )
    assert described
    for relation, column, text in described:
        assert text, (relation, column)
        assert ("Masked for junior roles" in text) == (classify(column) in MASKED_CLASSES)
