"""Every DAG file imports cleanly and main_dag is wired as documented."""

from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
#: single-layer DAGs, triggered by hand
MANUAL_DAGS = (
    "lake_dag",
    "raw_dag",
    "staging_dag",
    "semantic_dag",
    "dwh_dag",
    "reports_dag",
    "governance_dag",
)


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"main_dag", "maintenance_dag", "freshness_dag", *MANUAL_DAGS}


def test_main_dag_runs_the_layers_in_order(dagbag):
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    dag = dagbag.dags["main_dag"]
    order = [
        "lake_extract_plan",
        "lake_extract",
        "lake_convert_plan",
        "lake_convert",
        "raw_load",
        "staging_build",
        "semantic_build",
        "dwh_build",
        "governance_apply",
        "reports_build",
    ]
    assert set(dag.task_ids) == set(order)
    for upstream, downstream in zip(order, order[1:], strict=False):
        assert dag.get_task(downstream).upstream_task_ids == {upstream}
    # the lake's work is mapped over shards and batches, so Celery workers share a day
    for mapped in ("lake_extract", "lake_convert"):
        assert isinstance(dag.get_task(mapped), MappedOperator)
    # a run with nothing new to map still converts leftovers and loads rebuild dates
    for after in ("lake_convert_plan", "raw_load"):
        assert dag.get_task(after).trigger_rule == "none_failed"


def test_schedule_has_real_data_intervals_and_retries(dagbag):
    from airflow.sdk import CronDataIntervalTimetable

    dag = dagbag.dags["main_dag"]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.max_active_runs == 1 and not dag.catchup
    assert all(t.retries >= 1 for t in dag.tasks)


def test_single_layer_dags_are_manual(dagbag):
    for dag_id in MANUAL_DAGS:
        assert dagbag.dags[dag_id].schedule is None


def test_freshness_dag_alerts_through_its_failure(dagbag):
    dag = dagbag.dags["freshness_dag"]
    task = dag.get_task("freshness_check")
    assert task.retries == 0  # the lag is reported at once, not retried away
    assert task.on_failure_callback and dag.on_failure_callback
    assert dag.timetable.expression == "5-59/10 * * * *"


def test_backfill_rebuilds_each_covered_date_once():
    from datetime import UTC, date, datetime, timedelta

    from pipeline_core.airflow_tasks import backfill_dates

    day = datetime(2019, 6, 1, tzinfo=UTC)
    quarter = timedelta(minutes=15)
    runs = [backfill_dates(day + i * quarter, day + (i + 1) * quarter) for i in range(2 * 96)]
    assert [d for r in runs for d in r] == [date(2019, 6, 1), date(2019, 6, 2)]
    assert runs[0] == [date(2019, 6, 1)] and runs[96] == [date(2019, 6, 2)]
    # daily and longer intervals rebuild every day they span
    assert backfill_dates(day, day + timedelta(days=1)) == [date(2019, 6, 1)]
    assert backfill_dates(day - timedelta(hours=1), day + timedelta(days=2)) == [
        date(2019, 6, 1),
        date(2019, 6, 2),
    ]


def test_extracting_dags_can_list_every_key_once(dagbag):
    """main_dag and lake_dag offer ``list_every_key`` (off): a run from the UI picks up
    deliveries later than FLEET_LIST_LOOKBACK_HOURS at once; the other layers' DAGs do not."""
    from pipeline_core.airflow_tasks import listing_settings
    from pipeline_core.settings import load_settings

    for dag_id in ("main_dag", "lake_dag"):
        assert dagbag.dags[dag_id].params["list_every_key"] is False
    assert "list_every_key" not in dagbag.dags["raw_dag"].params
    settings = load_settings()
    assert listing_settings(settings, {"list_every_key": False}) is settings
    assert listing_settings(settings, {"list_every_key": True}).list_lookback_hours is None


def test_each_days_first_run_sweeps_the_last_days():
    """The run of the interval from 00:00 UTC lists the last FLEET_LIST_SWEEP_DAYS dates (7;
    all: every key), so a late delivery is picked up within a day and the sweep does not
    grow with the bucket; the day's other runs list from the lookback."""
    import dataclasses
    from datetime import UTC, datetime, timedelta, timezone

    from pipeline_core.airflow_tasks import listing_settings
    from pipeline_core.settings import load_settings

    settings = load_settings()
    assert settings.list_sweep_days == 7
    midnight = datetime(2019, 6, 2, tzinfo=UTC)
    assert listing_settings(settings, {}, midnight).list_lookback_hours == 7 * 24
    berlin = timezone(timedelta(hours=2))
    assert listing_settings(settings, {}, midnight.astimezone(berlin)).list_lookback_hours == 168
    every_day = dataclasses.replace(settings, list_sweep_days=None)
    assert listing_settings(every_day, {}, midnight).list_lookback_hours is None
    # the sweep never lists less than the other runs do
    always_all = dataclasses.replace(settings, list_lookback_hours=None)
    assert listing_settings(always_all, {}, midnight) is always_all
    long_lookback = dataclasses.replace(settings, list_lookback_hours=240)
    assert listing_settings(long_lookback, {}, midnight).list_lookback_hours == 240
    assert (
        listing_settings(settings, {"list_every_key": True}, midnight).list_lookback_hours is None
    )
    for start in (midnight + timedelta(minutes=15), datetime(2019, 6, 2, tzinfo=berlin), None):
        assert listing_settings(settings, {}, start) is settings


def test_mapped_lake_tasks_are_labelled_by_what_they_did(dagbag):
    """The UI lists a mapped extract or convert instance by its shard or batch and, once it
    ran, by what it copied or converted, instead of a bare map index."""
    from pipeline_core.airflow_tasks import MAP_LABEL, convert_label, extract_label

    for dag_id in ("main_dag", "lake_dag"):
        for task_id in ("lake_extract", "lake_convert"):
            assert dagbag.dags[dag_id].get_task(task_id).map_index_template == MAP_LABEL
    assert extract_label(3) == "shard 3"
    assert (
        extract_label(3, {"listed": 9000, "new_objects": 1500, "new_bytes": 2_300_000})
        == "shard 3: 1,500 objects, 2,300,000 bytes"
    )
    assert convert_label("b1") == "batch b1"
    result = {"input_lines": 120_000, "quarantined_lines": 2, "event_dates": []}
    assert convert_label("b1", result) == "batch b1: 120,000 lines (2 quarantined), no dates"
    result["event_dates"] = ["2019-06-01"]
    assert convert_label("b1", result).endswith("(2 quarantined), 2019-06-01")
    result["event_dates"] = ["2019-06-01", "2019-06-02"]
    assert convert_label("b1", result).endswith("(2 quarantined), 2019-06-01..2019-06-02")
