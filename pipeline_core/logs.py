"""Structured log lines: one JSON object per event, greppable and parseable."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from typing import Any

logger = logging.getLogger("fleet")


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``event`` with its fields as one JSON line."""
    logger.log(level, json.dumps({"event": event, **fields}, default=_default, sort_keys=True))


def configure_cli_logging(verbose: bool = False) -> None:
    """Plain stderr logging for the command-line entry points (Airflow has its own)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
