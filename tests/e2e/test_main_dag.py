"""main_dag end to end through dag.test(), on the real embedded servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_lake.simulate import SimulationConfig, generate_feed, upload_feed
from pipeline_core import run_summary
from pipeline_core.storage import s3_client
from tests.helpers import query, snapshot

pytestmark = pytest.mark.e2e
DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def main_dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS)).dags["main_dag"]


def _stage_runs(platform, run_id: str) -> dict[str, int]:
    rows = query(
        platform,
        "dwh_db",
        "SELECT stage, count(*) FROM ops.task_runs WHERE run_id = %s AND status = 'success'"
        " GROUP BY stage",
        (run_id,),
    )
    return dict(rows)


def _map_labels(run_id: str) -> dict[str, list[str]]:
    """The UI's labels (rendered map index) of main_dag's mapped task instances of a run."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.rendered_map_index).where(
                TaskInstance.dag_id == "main_dag",
                TaskInstance.run_id == run_id,
                TaskInstance.map_index >= 0,
            )
        ).all()
    labels: dict[str, list[str]] = {}
    for task_id, label in rows:
        labels.setdefault(task_id, []).append(label)
    return labels


def test_main_dag_answers_the_bi_question(platform, airflow_db, main_dag, monkeypatch):
    feed = generate_feed(SimulationConfig(vehicles=6, hours=0.5, organizations=2, seed=11))
    upload_feed(feed, s3_client(platform), platform.source_bucket, prefix=platform.source_prefix)
    # small shards and batches, so the mapped lake tasks fan out as on a day's feed
    monkeypatch.setenv("FLEET_MAP_OBJECTS", "500")
    shards = -(-feed.stats["objects"] // 500)

    run = main_dag.test()
    assert run.state == "success"
    stages = _stage_runs(platform, run.run_id)
    assert stages["lake.extract"] == shards > 1
    # batches keep landing bundles whole, and parallel shards interleave their bundles, so
    # their number is only bounded by the shards'; each one ran as its own mapped task
    batches = query(platform, "dwh_db", "SELECT count(*) FROM ops.lake_batches")[0][0]
    assert 1 < batches <= shards
    assert stages["lake.convert"] == batches
    # each mapped instance is named in the UI by what it did, not by a bare index
    labels = _map_labels(run.run_id)
    assert len(labels["lake_extract"]) == shards and all(
        label.startswith("shard ") and " objects, " in label for label in labels["lake_extract"]
    )
    assert len(labels["lake_convert"]) == batches and all(
        label.startswith("batch ") and " quarantined), " in label
        for label in labels["lake_convert"]
    )

    summary = run_summary.collect(platform)
    truth = feed.ground_truth
    assert summary["source"]["objects"] == feed.stats["objects"]
    assert summary["source"]["lines"] == feed.stats["lines"]
    answer = summary["answer"]
    assert answer["avg_km_per_vehicle_period"] == pytest.approx(
        truth["avg_km_per_vehicle_period"], rel=0.005
    )
    got = {(p["organization_id"], p["operating_period_id"]): p for p in answer["periods"]}
    assert len(got) == len(truth["periods"])
    for p in truth["periods"]:
        mine = got[(p["organization_id"], p["operating_period_id"])]
        assert mine["vehicles"] == p["vehicles"]
        assert mine["avg_km"] == pytest.approx(p["avg_km"], rel=0.005, abs=1e-9)

    # Nothing lost: every source line is a staged row, a duplicate, quarantined or rejected.
    staging = summary["layers"]["staging"]
    assert feed.stats["lines"] == (
        staging["rows_out"]
        + staging["duplicates_removed"]
        + summary["lake"]["quarantined_lines"]
        + staging["rejected"]
    )

    # A second run ingests nothing and leaves the warehouse as it was.
    before = snapshot(platform)
    again = main_dag.test()
    assert again.state == "success"
    assert run_summary.collect(platform)["source"]["objects"] == feed.stats["objects"]
    assert query(platform, "dwh_db", "SELECT count(*) FROM ops.lake_batches")[0][0] == batches
    assert snapshot(platform) == before
    # nothing to map: the mapped lake tasks are skipped and every layer still runs
    stages = _stage_runs(platform, again.run_id)
    assert "lake.extract" not in stages and "lake.convert" not in stages
    assert {"lake.extract_plan", "lake.convert_plan", "raw.load", "dwh.build"} <= set(stages)
