"""main_dag: the whole flow, source feed to warehouse.

lake_extract_plan -> lake_extract (mapped over shards) -> lake_convert_plan -> lake_convert
(mapped over batches) -> raw_load -> staging_build -> semantic_build -> dwh_build ->
governance_apply -> reports_build (pages show what analysts may see). The mapped lake
tasks let Celery workers share a day's objects.
Each step is also its own single-layer DAG and CLI; logic lives in ``data_lake`` and
``dwh_pipelines``. Every run rebuilds the event dates that received new data; the
``rebuild_dates`` param adds dates (backfill); ``list_every_key`` lists the whole source
bucket once, for deliveries later than ``FLEET_LIST_LOOKBACK_HOURS`` (the run of each day's
first interval, from 00:00 UTC, lists the last ``FLEET_LIST_SWEEP_DAYS`` dates by itself).
"""

from airflow.sdk import chain, dag

from pipeline_core.airflow_tasks import (
    DAG_FAILURE_CALLBACKS,
    DEFAULT_ARGS,
    LIST_EVERY_KEY,
    MAIN_SCHEDULE,
    PARAMS,
    START_DATE,
    dwh_build,
    governance_apply,
    lake_tasks,
    raw_load,
    reports_build,
    semantic_build,
    staging_build,
)
from pipeline_core.alerting import deadline_alert


@dag(
    dag_id="main_dag",
    schedule=MAIN_SCHEDULE,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={**PARAMS, **LIST_EVERY_KEY},
    on_failure_callback=DAG_FAILURE_CALLBACKS,
    # alert when a run has not succeeded FLEET_ALERT_DEADLINE_MINUTES (60) after queueing
    deadline=deadline_alert(),
    tags=["fleet", "main"],
    doc_md=__doc__,
)
def main_dag():
    chain(
        lake_tasks(),
        raw_load(),
        staging_build(),
        semantic_build(),
        dwh_build(),
        governance_apply(),
        reports_build(),
    )


main_dag()
