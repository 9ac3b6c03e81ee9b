"""Governance: roles, ownership, RLS, masking and privacy routines, from one policy file.

``governance/policy.yaml`` says who may do what; :func:`apply_governance` makes the
server match it on every run (idempotent), :func:`create_user` gives a person a login in
one group role, :func:`pseudonymise_vehicle_ids` and :func:`apply_retention` are the
privacy routines. CLI: ``python -m dwh_pipelines.governance --help``.
"""

from __future__ import annotations

from pathlib import Path

from dwh_pipelines.governance.apply import apply_governance, run_governance
from dwh_pipelines.governance.common import GovernanceError
from dwh_pipelines.governance.policy import DEFAULT_POLICY, Policy, PolicyError, load_policy
from dwh_pipelines.governance.privacy import apply_retention, pseudonymise_vehicle_ids
from pipeline_core.settings import Settings


def create_user(
    settings: Settings, name: str, role: str, password: str, policy_path: Path = DEFAULT_POLICY
) -> str:
    """A person's login (SCRAM password) in exactly one group role: "created" or "updated"."""
    from dwh_pipelines.governance.roles import create_user as _create_user

    return _create_user(settings, load_policy(policy_path), name, role, password)


__all__ = [
    "DEFAULT_POLICY",
    "GovernanceError",
    "Policy",
    "PolicyError",
    "apply_governance",
    "apply_retention",
    "create_user",
    "load_policy",
    "pseudonymise_vehicle_ids",
    "run_governance",
]
