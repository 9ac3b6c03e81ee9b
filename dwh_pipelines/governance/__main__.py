"""CLI: ``python -m dwh_pipelines.governance apply|create-user|table|pseudonymise|retention``."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import date
from pathlib import Path

from dwh_pipelines.governance.common import GovernanceError
from dwh_pipelines.governance.policy import DEFAULT_POLICY, PolicyError, load_policy

PASSWORD_ENV = "FLEET_USER_PASSWORD"  # nosec B105  # env var name


def _password(name: str) -> str:
    """From FLEET_USER_PASSWORD, else prompted twice; never an argument (shell history)."""
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        raise GovernanceError(f"set {PASSWORD_ENV} or run in a terminal to be prompted")
    first = getpass.getpass(f"password for {name}: ")
    if first != getpass.getpass("again: "):
        raise GovernanceError("the passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    from pipeline_core.logs import configure_cli_logging
    from pipeline_core.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m dwh_pipelines.governance")
    parser.add_argument("--policy", type=Path, default=DEFAULT_POLICY, help="policy YAML")
    sub = parser.add_subparsers(dest="command", required=True)
    p_apply = sub.add_parser("apply", help="make the warehouse match the policy (idempotent)")
    p_apply.add_argument(
        "--prune", action="store_true", help="drop stale managed roles that own nothing"
    )
    p_user = sub.add_parser("create-user", help=f"a person's login (password: ${PASSWORD_ENV})")
    p_user.add_argument("name")
    p_user.add_argument("--role", required=True, help="group role of the policy")
    sub.add_parser("table", help="print the Markdown access table for the README")
    sub.add_parser("pseudonymise", help="pseudonymise vehicle ids in the marts")
    p_ret = sub.add_parser("retention", help="delete events older than --days everywhere")
    p_ret.add_argument("--days", type=int, required=True)
    p_ret.add_argument("--today", type=date.fromisoformat, help="reference day (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    configure_cli_logging()

    from dwh_pipelines.governance import (
        apply_governance,
        apply_retention,
        create_user,
        pseudonymise_vehicle_ids,
    )
    from dwh_pipelines.governance.report import access_table

    try:
        if args.command == "table":
            print(access_table(load_policy(args.policy)))
            return 0
        settings = load_settings()
        if args.command == "apply":
            result = apply_governance(settings, args.policy, prune=args.prune)
            result.pop("statements")
            print(json.dumps(result, indent=2))
        elif args.command == "create-user":
            outcome = create_user(settings, args.name, args.role, _password(args.name), args.policy)
            print(f"user {args.name}: {outcome}, member of {args.role}")
        elif args.command == "pseudonymise":
            print(json.dumps(pseudonymise_vehicle_ids(settings, args.policy), indent=2))
        elif args.command == "retention":
            counts = apply_retention(settings, args.days, policy_path=args.policy, today=args.today)
            print(json.dumps(counts, indent=2))
    except (GovernanceError, PolicyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
