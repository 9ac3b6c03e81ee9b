"""Airflow against this repo: its environment, its metadata DB, and ``make airflow``."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from psycopg import sql

from pipeline_core import stack
from pipeline_core.audit import ensure_ops_schema
from pipeline_core.db import connect
from pipeline_core.settings import REPO_ROOT, Settings, embedded_connection_env, load_settings

AIRFLOW_DB = "airflow_db"


def airflow_environment(settings: Settings, *, metadata_uri: str | None = None) -> dict[str, str]:
    """Variables that point Airflow at this repo's DAGs, the stack and its own metadata DB.

    The metadata database defaults to ``airflow_db`` on the same PostgreSQL server
    (LocalExecutor needs a real database). Connections already set in the environment
    (``AIRFLOW_CONN_*``) win over the embedded ones.
    """
    env = {
        "AIRFLOW_HOME": str(settings.state_dir / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_uri
        or settings.postgres.uri(AIRFLOW_DB).replace("postgresql://", "postgresql+psycopg://", 1),
        # airflow standalone starts its components as `airflow ...` from PATH
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "FLEET_STATE_DIR": str(settings.state_dir),
        "FLEET_PG_PORT": str(settings.ports.postgres),
        "FLEET_S3_PORT": str(settings.ports.s3),
    }
    for key, value in embedded_connection_env(settings).items():
        env[key] = os.environ.get(key, value)
    return env


def ensure_pseudonym_key(settings: Settings) -> str:
    """The vehicle-id pseudonym key: the environment's, else one generated once per state dir.

    Generated keys live in the state folder (mode 0600), never in the repository.
    """
    key = os.environ.get("FLEET_PSEUDONYM_KEY")
    if key:
        return key
    path = settings.state_dir / "pseudonym.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    os.environ["FLEET_PSEUDONYM_KEY"] = path.read_text().strip()
    return os.environ["FLEET_PSEUDONYM_KEY"]


def ensure_airflow_db(settings: Settings) -> None:
    """Airflow's metadata database on the same server (created once), migrated."""
    with connect(settings, "postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (AIRFLOW_DB,))
        if exists.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(AIRFLOW_DB)))
    env = {**os.environ, **airflow_environment(settings)}
    result = subprocess.run(  # nosec B603  # fixed argv, no shell
        [_airflow_bin(), "db", "migrate"], env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"airflow db migrate failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )


def _airflow_bin() -> str:
    return str(Path(sys.executable).parent / "airflow")


def standalone() -> int:
    """``make airflow``: stack up, then ``airflow standalone`` on http://localhost:8080."""
    settings = load_settings()
    stack.up(settings)
    ensure_ops_schema(settings)
    ensure_airflow_db(settings)
    ensure_pseudonym_key(settings)
    env = {**os.environ, **airflow_environment(settings)}
    home = Path(env["AIRFLOW_HOME"])
    passwords = home / "simple_auth_manager_passwords.json.generated"
    proc = subprocess.Popen([_airflow_bin(), "standalone"], env=env)  # nosec B603  # fixed argv
    try:
        for _ in range(120):
            if passwords.exists() or proc.poll() is not None:
                break
            time.sleep(1)
        if passwords.exists():
            password = json.loads(passwords.read_text()).get("admin", "?")
            print(
                f"\nAirflow UI: http://localhost:8080  login: admin  password: {password}"
                f"  (stored in {passwords})\n"
                f"Trigger main_dag there; Ctrl-C stops Airflow (the stack keeps running: "
                f"make down).\n",
                flush=True,
            )
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline_core.airflow_env")
    parser.add_argument("command", choices=["standalone", "env"])
    args = parser.parse_args(argv)
    if args.command == "env":
        for key, value in airflow_environment(load_settings()).items():
            print(f"export {key}={value!r}")
        return 0
    return standalone()


if __name__ == "__main__":
    sys.exit(main())
