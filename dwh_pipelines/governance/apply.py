"""``apply_governance``: make the server match the policy, safely, on every run."""

from __future__ import annotations

from pathlib import Path

from dwh_pipelines.governance.access import DatabaseGovernance
from dwh_pipelines.governance.common import GOVERNANCE_LOCK, LAYER_LOCKS, Changes, lock
from dwh_pipelines.governance.policy import DEFAULT_POLICY, load_policy
from dwh_pipelines.governance.roles import ensure_connect, ensure_roles, prune_roles, stale_roles
from pipeline_core.audit import audited, ensure_ops_schema
from pipeline_core.db import connect
from pipeline_core.logs import log_event
from pipeline_core.settings import WAREHOUSE_DATABASES, Settings


def apply_governance(
    settings: Settings, policy_path: Path = DEFAULT_POLICY, *, prune: bool = False
) -> dict:
    """Roles, CONNECT, ownership, masked views, RLS and privileges as the policy says.

    Idempotent: it compares the catalog with the policy and executes only the difference,
    so a second run changes nothing (``changes == 0``). Roles are created only if missing and
    altered otherwise; none is ever dropped unless ``prune`` is set, and even then never one
    that owns objects or has members. Objects that do not exist yet are skipped and listed in
    ``missing`` (run it again after the pipeline has created them).
    """
    policy = load_policy(policy_path)
    changes = Changes()
    login = settings.postgres.user
    with connect(settings, "postgres") as conn, conn.transaction():
        lock(conn, [GOVERNANCE_LOCK])
        ensure_roles(conn, policy, login, changes)
        stale = stale_roles(conn, policy)
        # stale managed roles stay managed with nothing desired: their privileges are revoked
        managed = frozenset({*policy.roles, *stale, "PUBLIC"})
        missing = ensure_connect(conn, policy, set(managed) | {policy.pipeline_role}, changes)

    per_database: dict[str, int] = {"cluster": changes.count("cluster")}
    for db in WAREHOUSE_DATABASES:
        if db in missing:
            continue
        with connect(settings, db) as conn, conn.transaction():
            lock(conn, [GOVERNANCE_LOCK, *LAYER_LOCKS.get(db, ())])
            gov = DatabaseGovernance(conn, policy, db, login, managed, changes)
            gov.apply()
            missing.extend(gov.missing)
        per_database[db] = changes.count(db)

    result: dict = {
        "policy": str(policy.path),
        "changes": len(changes.items),
        "changes_per_database": per_database,
        "statements": changes.items,
        "missing": missing,
        "stale_roles": stale,
        "dropped_roles": [],
        "retained_roles": [],
    }
    if prune and stale:
        pruned = prune_roles(settings, policy, changes)
        result.update(pruned)
        result["changes"] = len(changes.items)
    log_event(
        "governance.apply",
        changes=result["changes"],
        per_database=per_database,
        missing=missing,
        stale_roles=stale,
        dropped_roles=result["dropped_roles"],
    )
    return result


def run_governance(settings: Settings, run_id: str, policy_path: Path = DEFAULT_POLICY) -> dict:
    """The governance step of a pipeline run: apply, pseudonymise, retention (if configured).

    Audited like every stage. Pseudonymisation refuses to run without its key, so a
    deployment that forgot the key fails loudly instead of showing analysts real ids.
    """
    from dwh_pipelines.governance.privacy import apply_retention, pseudonymise_vehicle_ids

    policy = load_policy(policy_path)
    ensure_ops_schema(settings)
    with audited(settings, run_id, "governance.apply") as audit:
        applied = apply_governance(settings, policy_path)
        pseudonyms = pseudonymise_vehicle_ids(settings, policy_path)
        retention = None
        if policy.retention.days is not None:
            retention = apply_retention(
                settings, policy.retention.days, policy_path=policy_path, run_id=run_id
            )
        summary = {
            "changes": applied["changes"],
            "changes_per_database": applied["changes_per_database"],
            "missing": applied["missing"],
            "stale_roles": applied["stale_roles"],
            "pseudonyms": pseudonyms,
            "retention": retention,
        }
        audit.rows_out = applied["changes"]
        audit.details = summary
    return summary
