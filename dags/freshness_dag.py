"""freshness_dag: alert when dwh_db lags the feed by more than 30 minutes.

Runs every 10 minutes on its own, so it notices a paused, failing or stuck main_dag too.
The lag is the age of the oldest source object whose data is not in dwh_db yet; over the
limit the task fails and its failure callback sends the alert (webhook and/or e-mail).
Logic lives in ``dwh_pipelines.maintenance.freshness``.
"""

from airflow.sdk import CronDataIntervalTimetable, dag

from pipeline_core.airflow_tasks import (
    DAG_FAILURE_CALLBACKS,
    DEFAULT_ARGS,
    START_DATE,
    freshness_check,
)


@dag(
    dag_id="freshness_dag",
    schedule=CronDataIntervalTimetable("5-59/10 * * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=DAG_FAILURE_CALLBACKS,
    tags=["fleet", "ops"],
    doc_md=__doc__,
)
def freshness_dag():
    freshness_check()


freshness_dag()
