"""Run the data-lake stage without Airflow.

python -m data_lake extract|convert|all [--run-id ID]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from pipeline_core.logs import configure_cli_logging
from pipeline_core.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data_lake", description=__doc__)
    parser.add_argument("step", choices=["extract", "convert", "all"])
    parser.add_argument("--run-id", default=f"cli__{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}")
    args = parser.parse_args(argv)
    configure_cli_logging()

    from data_lake.convert import convert
    from data_lake.extract import extract

    settings = load_settings()
    out = {}
    if args.step in ("extract", "all"):
        out["extract"] = extract(settings, args.run_id).as_dict()
    if args.step in ("convert", "all"):
        out["convert"] = convert(settings, args.run_id).as_dict()
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
