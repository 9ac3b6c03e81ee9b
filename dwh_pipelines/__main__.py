"""Run one warehouse layer without Airflow.

    python -m dwh_pipelines raw|staging|semantic|dwh [--date YYYY-MM-DD ...] [--run-id ID]

Without ``--date`` a layer rebuilds the event dates its upstream changed; each ``--date``
adds a date to rebuild (backfill).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime

from pipeline_core.logs import configure_cli_logging
from pipeline_core.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dwh_pipelines", description=__doc__)
    parser.add_argument("layer", choices=["raw", "staging", "semantic", "dwh"])
    parser.add_argument("--date", action="append", default=[], type=date.fromisoformat)
    parser.add_argument("--run-id", default=f"cli__{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}")
    args = parser.parse_args(argv)
    configure_cli_logging()

    from dwh_pipelines.dwh import build_dwh
    from dwh_pipelines.raw import load_raw
    from dwh_pipelines.semantic import build_semantic
    from dwh_pipelines.staging import build_staging

    step = {"raw": load_raw, "staging": build_staging, "semantic": build_semantic, "dwh": build_dwh}
    settings = load_settings()
    if args.layer == "dwh":  # the marts' vehicle ids are pseudonymised by the build
        from pipeline_core.airflow_env import ensure_pseudonym_key

        ensure_pseudonym_key(settings)
    result = step[args.layer](settings, args.run_id, dates=args.date)
    print(json.dumps(result.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
