"""``python -m dwh_pipelines.reporting``: build the report pages for the current settings.

Needs the platform's servers running (``make up``) and reads dwh_db only; the stack is
never started from here.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from dwh_pipelines.reporting.build import build_reports
from pipeline_core.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dwh_pipelines.reporting", description=__doc__)
    parser.add_argument("--run-id", help="run id for the audit row (default: cli-reports-<time>)")
    parser.add_argument("--out-dir", type=Path, help="where to write (default: reports dir)")
    parser.add_argument("--no-publish", action="store_true", help="do not copy to the lake")
    parser.add_argument("--no-data-docs", action="store_true", help="skip data_docs.html")
    args = parser.parse_args(argv)

    settings = load_settings()
    run_id = args.run_id or f"cli-reports-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    paths = build_reports(
        settings,
        run_id,
        args.out_dir,
        publish=not args.no_publish,
        data_docs=not args.no_data_docs,
    )
    pages = [p for p in paths if p.suffix == ".html"]
    print(f"{len(pages)} pages written to {pages[0].parent}")
    print(f"open {pages[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
