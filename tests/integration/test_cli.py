"""The command lines without Airflow, in process, on the real embedded servers.

``make run SOURCE_DIR=...`` seeds through ``runner.seed_source`` (a folder of real-format
files), and each stage has its CLI: ``python -m data_lake`` and ``python -m dwh_pipelines``.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace

import pytest

from data_lake.__main__ import main as lake_cli
from data_lake.seed import upload_directory
from data_lake.simulate import SimulationConfig, generate_feed, write_feed_to_dir
from dwh_pipelines.__main__ import main as dwh_cli
from pipeline_core import airflow_env, runner
from tests.helpers import query

pytestmark = pytest.mark.integration


def _json_out(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_folder_feed_through_every_cli_gives_the_answer(platform, tmp_path, capsys):
    feed = generate_feed(SimulationConfig(vehicles=3, hours=0.2, organizations=2, seed=5))
    folder = tmp_path / "feed"
    write_feed_to_dir(feed, folder / "nested")  # keys keep the relative path
    (folder / "README.md").write_text("not a feed file")  # skipped: not .json/.txt/...

    said = runner.seed_source(platform, str(folder), vehicles=0, hours=0)
    assert said == f"{feed.stats['objects']} files uploaded from {folder}"

    assert lake_cli(["all", "--run-id", "cli-1"]) == 0
    lake = _json_out(capsys)
    assert lake["extract"]["new_objects"] == feed.stats["objects"]
    assert lake["convert"]["input_lines"] == feed.stats["lines"]
    for layer in ("raw", "staging", "semantic", "dwh"):
        assert dwh_cli([layer, "--run-id", "cli-1"]) == 0
        out = _json_out(capsys)
        assert out["layer"] == layer and out["event_dates"] == lake["convert"]["event_dates"]

    overall = query(
        platform, "dwh_db", "SELECT avg_km_per_vehicle_period FROM marts.avg_distance_overall"
    )[0][0]
    assert overall == pytest.approx(feed.ground_truth["avg_km_per_vehicle_period"], rel=0.005)

    # Uploading the same folder again gives the same keys and ETags: nothing new to extract.
    assert upload_directory(platform, folder) == feed.stats["objects"]
    assert lake_cli(["extract", "--run-id", "cli-2"]) == 0
    assert _json_out(capsys)["extract"]["new_objects"] == 0

    # --date forces a rebuild of that event date (backfill) and leaves the answer unchanged.
    day = lake["convert"]["event_dates"][0]
    for layer in ("staging", "semantic", "dwh"):
        assert dwh_cli([layer, "--date", day, "--run-id", "cli-3"]) == 0
        assert _json_out(capsys)["event_dates"] == [day], layer
    again = query(
        platform, "dwh_db", "SELECT avg_km_per_vehicle_period FROM marts.avg_distance_overall"
    )[0][0]
    assert again == overall


def test_seed_source_simulates_and_writes_the_ground_truth(platform):
    said = runner.seed_source(platform, None, vehicles=3, hours=0.05)
    assert said.startswith("simulated feed (3 vehicles x 0.05 h): ")
    truth = json.loads((platform.reports_dir / "ground_truth.json").read_text())
    assert truth["config"]["vehicles"] == 3
    n = int(said.split(": ")[1].split()[0])
    assert n > 0


def test_upload_directory_names_what_is_wrong(platform, tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        upload_directory(platform, tmp_path / "missing")
    (tmp_path / "notes.md").write_text("x")
    with pytest.raises(FileNotFoundError, match="no feed files"):
        upload_directory(platform, tmp_path)


def test_progress_lines_show_our_events_only():
    line = (
        '2026-01-01 [info] {"event": "task.end", "run_id": "r", "stage": "raw.load", '
        '"rows_out": 12, "error": null}'
    )
    assert runner._progress_line(line) == "    task.end          stage=raw.load, rows_out=12"
    assert runner._progress_line('{"event": "something.else"}') is None
    assert runner._progress_line('{"event": "task.start", broken') is None


def test_airflow_env_points_airflow_at_the_stack_and_the_dags(platform, capsys):
    env = airflow_env.airflow_environment(platform)
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].endswith("dags")
    assert f":{platform.ports.postgres}/airflow_db" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["FLEET_S3_PORT"] == str(platform.ports.s3)
    assert airflow_env.main(["env"]) == 0
    printed = capsys.readouterr().out
    assert "export AIRFLOW_HOME=" in printed and "export AIRFLOW_CONN_" in printed


def test_pseudonym_key_is_generated_once_and_private(platform, tmp_path, monkeypatch):
    monkeypatch.delenv("FLEET_PSEUDONYM_KEY", raising=False)
    settings = replace(platform, state_dir=tmp_path / "state")
    key = airflow_env.ensure_pseudonym_key(settings)
    path = settings.state_dir / "pseudonym.key"
    assert len(key) == 64 and path.read_text() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.delenv("FLEET_PSEUDONYM_KEY")
    assert airflow_env.ensure_pseudonym_key(settings) == key  # reused, not regenerated
    assert os.environ["FLEET_PSEUDONYM_KEY"] == key
    monkeypatch.setenv("FLEET_PSEUDONYM_KEY", "from-the-environment")
    assert airflow_env.ensure_pseudonym_key(settings) == "from-the-environment"
