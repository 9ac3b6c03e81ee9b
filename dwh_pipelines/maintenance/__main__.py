"""Database maintenance without Airflow.

    python -m dwh_pipelines.maintenance backup [--keep N] [--database DB ...] [--run-id ID]
    python -m dwh_pipelines.maintenance restore-check DB [--against live|backup] [--run-id ID]
    python -m dwh_pipelines.maintenance vacuum [--run-id ID]
    python -m dwh_pipelines.maintenance freshness [--max-lag-minutes 30] [--run-id ID]

Prints the result as JSON; exits 1 with the reason on stderr when a check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta

from pipeline_core.logs import configure_cli_logging
from pipeline_core.settings import WAREHOUSE_DATABASES, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dwh_pipelines.maintenance",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--run-id", default=f"cli__{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_backup = sub.add_parser(
        "backup", parents=[common], help="pg_dump each database to the lake, apply retention"
    )
    p_backup.add_argument("--keep", type=int, default=7, help="backups kept per database (7)")
    p_backup.add_argument(
        "--database", action="append", choices=WAREHOUSE_DATABASES, help="default: all four"
    )
    p_check = sub.add_parser(
        "restore-check", parents=[common], help="restore the latest backup and compare counts"
    )
    p_check.add_argument("database", choices=WAREHOUSE_DATABASES)
    p_check.add_argument("--against", choices=["live", "backup"], default="live")
    sub.add_parser(
        "vacuum", parents=[common], help="VACUUM (ANALYZE) each database, report index health"
    )
    p_fresh = sub.add_parser(
        "freshness", parents=[common], help="how far dwh_db lags the feed; exit 1 over the limit"
    )
    p_fresh.add_argument("--max-lag-minutes", type=float, default=30)
    args = parser.parse_args(argv)
    configure_cli_logging()

    from dwh_pipelines.maintenance import (
        BackupError,
        PgToolError,
        RestoreCheckError,
        backup_databases,
        restore_check,
        vacuum_analyze,
    )
    from dwh_pipelines.maintenance.freshness import FreshnessError, check_freshness

    settings = load_settings()
    try:
        if args.command == "backup":
            result: object = backup_databases(
                settings,
                args.run_id,
                keep=args.keep,
                databases=args.database or WAREHOUSE_DATABASES,
            )
        elif args.command == "restore-check":
            result = restore_check(
                settings, args.database, against=args.against, run_id=args.run_id
            )
        elif args.command == "freshness":
            result = check_freshness(
                settings, args.run_id, max_lag=timedelta(minutes=args.max_lag_minutes)
            )
        else:
            result = vacuum_analyze(settings, run_id=args.run_id)
    except RestoreCheckError as exc:
        print(json.dumps(exc.report, indent=2, default=str))
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (BackupError, PgToolError, FreshnessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
