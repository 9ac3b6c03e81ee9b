"""Environment for running Airflow against this repo (``make airflow``, ``make run``, tests)."""

from __future__ import annotations

import os

from pipeline_core.settings import REPO_ROOT, Settings, embedded_connection_env

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
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_uri
        or settings.postgres.uri(AIRFLOW_DB).replace("postgresql://", "postgresql+psycopg://", 1),
        "FLEET_STATE_DIR": str(settings.state_dir),
        "FLEET_PG_PORT": str(settings.ports.postgres),
        "FLEET_S3_PORT": str(settings.ports.s3),
    }
    for key, value in embedded_connection_env(settings).items():
        env[key] = os.environ.get(key, value)
    return env
