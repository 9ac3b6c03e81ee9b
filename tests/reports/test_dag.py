"""reports_dag: a manual single-task DAG whose task builds the pages through Airflow."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import query

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def reports_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / "reports_dag.py"))
    assert bag.import_errors == {}
    return bag.dags["reports_dag"]


def test_reports_dag_is_manual_with_one_retried_task(reports_dag):
    assert reports_dag.schedule is None and not reports_dag.catchup
    assert [t.task_id for t in reports_dag.tasks] == ["reports_build"]
    assert reports_dag.tasks[0].retries >= 1


@pytest.mark.e2e
def test_reports_dag_builds_the_pages(platform, airflow_db, reports_dag):
    run = reports_dag.test()
    assert run.state == "success"
    assert (platform.reports_dir / "index.html").exists()
    assert (platform.reports_dir / "data_docs.html").exists()
    audit = query(
        platform,
        "dwh_db",
        "SELECT status FROM ops.task_runs WHERE run_id = %s AND stage = 'reports.build'",
        (run.run_id,),
    )
    assert audit == [("success",)]
