"""Shared fixtures: one real embedded stack per test session, reset between tests.

Airflow reads its configuration at import, so its home and metadata DB (SQLite, for
in-process ``dag.test()``) are set here, before any test module imports Airflow.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="fleet-test-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME}/airflow.db",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        # dag.test() crashes after a successful run of a DAG with a deadline in Airflow 3.3.2
        # (apache/airflow#73428); deadlines are tested on their own in tests/ops.
        "FLEET_ALERT_DEADLINE_MINUTES": "0",
    }
)
# Tests never alert real people: a developer's alert settings do not leak in.
for _name in ("FLEET_ALERT_WEBHOOK_URL", "FLEET_ALERT_EMAIL_TO"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def private_dir_factory():
    """Folders outside pytest's basetemp for server data (see ``stack``); removed at the end."""
    made: list[Path] = []

    def make() -> Path:
        made.append(Path(tempfile.mkdtemp(prefix="fleet-test-")))
        return made[-1]

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """A private PostgreSQL + SeaweedFS on free ports; the environment points at it."""
    from pipeline_core.settings import embedded_connection_env
    from pipeline_core.stack import running_stack

    # Not under pytest's basetemp: another pytest session on the machine resets that
    # folder to mode 0700 and prunes old runs, which the postgres system user cannot survive.
    state = Path(tempfile.mkdtemp(prefix="fleet-test-stack-"))
    with running_stack(state) as settings:
        env = {
            **embedded_connection_env(settings),
            "FLEET_STATE_DIR": str(settings.state_dir),
            "FLEET_PG_PORT": str(settings.ports.postgres),
            "FLEET_S3_PORT": str(settings.ports.s3),
            "FLEET_SEAWEED_MASTER_PORT": str(settings.ports.seaweed_master),
            "FLEET_SEAWEED_VOLUME_PORT": str(settings.ports.seaweed_volume),
            "FLEET_SEAWEED_FILER_PORT": str(settings.ports.seaweed_filer),
            "FLEET_REPORTS_DIR": str(tmp_path_factory.mktemp("reports")),
            "FLEET_PSEUDONYM_KEY": secrets.token_hex(16),
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            from pipeline_core.settings import load_settings

            yield load_settings()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def platform(stack):
    """Empty warehouse databases and buckets for one test (the stack keeps running)."""
    from tests.helpers import reset_platform

    reset_platform(stack)
    return stack


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata DB (SQLite) migrated once for in-process dag.test() runs."""
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _AIRFLOW_HOME
