"""apply_governance is safe on every run: a rerun changes nothing, a pipeline run in between
is repaired, new objects inherit the policy, and no role that owns objects is ever dropped."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml
from psycopg import errors, sql

from dwh_pipelines.governance import (
    DEFAULT_POLICY,
    GovernanceError,
    apply_governance,
    pseudonymise_vehicle_ids,
    run_governance,
)
from pipeline_core.db import connect
from tests.governance.support import Users, catalog_snapshot, rows
from tests.helpers import run_pipeline

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform_users(governed):
    users = Users("idem")
    users.create(
        governed.settings, ["senior_data_analyst", "senior_data_scientist", "junior_data_scientist"]
    )
    yield governed.settings, users, governed.first_apply
    users.drop(governed.settings)


def test_second_apply_changes_nothing(platform_users):
    stack, _, first = platform_users
    assert first["changes"] > 100 and first["missing"] == []
    before = catalog_snapshot(stack)
    second = apply_governance(stack)
    assert second["changes"] == 0, second["statements"]
    assert catalog_snapshot(stack) == before


def test_apply_after_a_pipeline_run_restores_the_same_state(platform_users):
    """A rebuild re-creates scratch tables and resets the analytics views: the next apply
    re-owns and re-grants them and lands on exactly the same catalog."""
    stack, _, _ = platform_users
    before = catalog_snapshot(stack)
    run_pipeline(stack, "governance-idem-2", dates=[date(2019, 6, 1)])
    assert catalog_snapshot(stack) != before
    # the rebuilt mart was pseudonymised before the dwh build committed: never real ids
    shown = rows(stack, "dwh_db", "SELECT vehicle_id FROM marts.latest_updates_on_top1_client")
    assert shown and all(v.startswith("veh_") for (v,) in shown)
    repaired = apply_governance(stack)
    assert repaired["changes"] > 0
    again = pseudonymise_vehicle_ids(stack)
    assert again["new_pseudonyms"] == 0 and set(again["rows_updated"].values()) == {0}
    assert apply_governance(stack)["changes"] == 0
    assert catalog_snapshot(stack) == before


def test_new_tables_inherit_the_policy(platform_users):
    """Seniors read a table the pipeline creates at once (default privileges); analysts and
    juniors only after the next apply has enabled RLS and granted columns (fail closed)."""
    stack, users, _ = platform_users
    with connect(stack, "dwh_db") as conn:  # as the pipeline's login
        conn.execute("CREATE TABLE marts.kpi_new (organization_id text, value int)")
        conn.execute(
            "INSERT INTO marts.kpi_new SELECT organization_id, 1 FROM star.dim_organization"
        )
        conn.commit()
    orgs = {r[0] for r in rows(stack, "dwh_db", "SELECT organization_id FROM marts.kpi_new")}
    assigned = sorted(orgs)[0]
    with connect(stack, "dwh_db") as conn:
        conn.execute(
            "INSERT INTO governance.analyst_organizations (role_name, organization_id)"
            " VALUES (%s, %s)",
            (users.name("senior_data_analyst"), assigned),
        )
        conn.commit()
    query = "SELECT DISTINCT organization_id FROM marts.kpi_new"
    try:
        with users.login(stack, "senior_data_scientist", "dwh_db") as conn:
            assert {r[0] for r in conn.execute(query)} == orgs
        for role in ("senior_data_analyst", "junior_data_scientist"):
            with users.login(stack, role, "dwh_db") as conn:
                with pytest.raises(errors.InsufficientPrivilege):
                    conn.execute(query)

        result = apply_governance(stack)
        assert any("kpi_new" in s and "OWNER TO" in s for s in result["statements"])
        assert rows(
            stack,
            "dwh_db",
            "SELECT relowner::regrole::text, relrowsecurity,"
            " relforcerowsecurity FROM pg_class WHERE oid = 'marts.kpi_new'::regclass",
        ) == [("fleet_pipeline", True, True)]
        with users.login(stack, "senior_data_analyst", "dwh_db") as conn:
            assert {r[0] for r in conn.execute(query)} == {assigned}
        with users.login(stack, "junior_data_scientist", "dwh_db") as conn:
            assert {r[0] for r in conn.execute(query)} == orgs
    finally:
        with connect(stack, "dwh_db") as conn:
            conn.execute("DROP TABLE marts.kpi_new")
            conn.execute("DELETE FROM governance.analyst_organizations")
            conn.commit()
    assert apply_governance(stack)["changes"] == 0


def _policy_with_extra_roles(tmp_path: Path, *names: str) -> Path:
    policy = yaml.safe_load(DEFAULT_POLICY.read_text())
    for name in names:
        policy["roles"][name] = {"family": "analyst", "tier": "senior", "description": "temp"}
        policy["databases"]["dwh_db"]["connect"].append(name)
        policy["databases"]["dwh_db"]["schemas"]["analytics"]["read"].append(name)
        policy["databases"]["dwh_db"]["schemas"]["marts"]["read"].append(name)
        policy["row_level_security"]["restricted"].append(name)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def test_never_drops_a_role_that_owns_objects(platform_users, tmp_path):
    stack, _, _ = platform_users
    extended = _policy_with_extra_roles(tmp_path, "tmp_owner_role", "tmp_plain_role")
    created = apply_governance(stack, extended)
    assert 'CREATE ROLE "tmp_owner_role"' in " ".join(created["statements"])
    granted = rows(
        stack,
        "dwh_db",
        "SELECT has_table_privilege('tmp_plain_role'," " 'analytics.kpi_client_daily', 'SELECT')",
    )
    assert granted == [(True,)]
    with connect(stack, "postgres") as conn:  # an object outside the warehouse
        conn.execute("CREATE TABLE public.tmp_owned (a int)")
        conn.execute("ALTER TABLE public.tmp_owned OWNER TO tmp_owner_role")
        conn.commit()
    try:
        # without prune, roles dropped from the policy lose their privileges but stay
        kept = apply_governance(stack)
        assert kept["stale_roles"] == ["tmp_owner_role", "tmp_plain_role"]
        assert kept["dropped_roles"] == []
        revoked = rows(
            stack,
            "dwh_db",
            "SELECT has_table_privilege('tmp_plain_role',"
            " 'analytics.kpi_client_daily', 'SELECT')",
        )
        assert revoked == [(False,)]
        # with prune, only the one that owns nothing is dropped
        pruned = apply_governance(stack, prune=True)
        assert pruned["dropped_roles"] == ["tmp_plain_role"]
        assert [r["role"] for r in pruned["retained_roles"]] == ["tmp_owner_role"]
        assert pruned["retained_roles"][0]["owned_objects"] >= 1
        remaining = rows(
            stack,
            "postgres",
            "SELECT rolname FROM pg_roles" " WHERE rolname LIKE 'tmp\\_%%' ORDER BY 1",
        )
        assert remaining == [("tmp_owner_role",)]
        # the pipeline role owns every warehouse object and is never a candidate
        assert "fleet_pipeline" not in pruned["stale_roles"]
    finally:
        with connect(stack, "postgres") as conn:
            conn.execute("DROP TABLE IF EXISTS public.tmp_owned")
            conn.commit()
    assert apply_governance(stack, prune=True)["dropped_roles"] == ["tmp_owner_role"]
    assert apply_governance(stack)["changes"] == 0


def test_group_roles_are_altered_back_not_recreated(platform_users):
    """A drifted group role is ALTERed in place (its members and grants survive)."""
    stack, users, _ = platform_users
    with connect(stack, "postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER ROLE {} CREATEDB").format(sql.Identifier("senior_data_scientist"))
        )
    result = apply_governance(stack)
    assert [s for s in result["statements"] if "senior_data_scientist" in s] == [
        'cluster: ALTER ROLE "senior_data_scientist" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE'
        " INHERIT NOREPLICATION NOBYPASSRLS"
    ]
    with users.login(stack, "senior_data_scientist", "dwh_db") as conn:
        assert conn.execute("SELECT count(*) FROM star.dim_vehicle").fetchone()[0] > 0


def test_masked_views_follow_a_changed_base_table(platform_users):
    """A renamed base column cannot be CREATE OR REPLACEd into a view: the masked view is
    dropped and re-created (grants re-applied), and juniors keep reading it."""
    stack, users, _ = platform_users
    rename = "ALTER TABLE prod.fact_vehicle_location RENAME COLUMN {} TO {}"

    def rename_column(old: str, new: str) -> None:
        with connect(stack, "semantic_db") as conn:
            conn.execute(sql.SQL(rename).format(sql.Identifier(old), sql.Identifier(new)))
            conn.commit()

    rename_column("point_no", "point_number")
    try:
        result = apply_governance(stack)
        assert (
            'semantic_db: DROP VIEW "prod_masked"."fact_vehicle_location"' in result["statements"]
        )
        with users.login(stack, "junior_data_scientist", "semantic_db") as conn:
            got = conn.execute(
                "SELECT point_number, location_lat FROM prod_masked.fact_vehicle_location"
            ).fetchall()
        assert got and all(lat == round(lat, 3) for _, lat in got)
    finally:
        rename_column("point_number", "point_no")
    assert apply_governance(stack)["changes"] > 0
    assert apply_governance(stack)["changes"] == 0


def test_run_governance_is_the_audited_dag_step(platform_users, monkeypatch):
    stack, _, _ = platform_users
    summary = run_governance(stack, "governance-dag-run")
    assert summary["changes"] == 0 and summary["retention"] is None
    assert summary["pseudonyms"]["new_pseudonyms"] == 0
    audit = "SELECT status FROM ops.task_runs WHERE run_id = %s AND stage = 'governance.apply'"
    assert rows(stack, "dwh_db", audit, ("governance-dag-run",)) == [("success",)]
    # a deployment without the key fails loudly (and the failure is audited)
    monkeypatch.delenv("FLEET_PSEUDONYM_KEY")
    with pytest.raises(GovernanceError, match="FLEET_PSEUDONYM_KEY"):
        run_governance(stack, "governance-dag-nokey")
    assert rows(stack, "dwh_db", audit, ("governance-dag-nokey",)) == [("failed",)]
