"""``python -m dwh_pipelines.datadocs``: regenerate the data docs from the live catalog.

Writes ``<reports dir>/data_docs.html`` and ``docs/*.md``; needs the platform's servers
running (``make up``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dwh_pipelines.datadocs.build import DEFAULT_MARKDOWN_DIR, build_data_docs
from pipeline_core.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dwh_pipelines.datadocs", description=__doc__)
    parser.add_argument("--html-dir", type=Path, help="where data_docs.html goes (reports dir)")
    parser.add_argument(
        "--markdown-dir", type=Path, default=DEFAULT_MARKDOWN_DIR, help="Markdown output (docs/)"
    )
    args = parser.parse_args(argv)
    settings = load_settings()
    html_dir = args.html_dir or settings.reports_dir
    for path in build_data_docs(settings, html_dir, args.markdown_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
