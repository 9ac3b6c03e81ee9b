"""Data-lake stage alone: source objects -> landing zone -> Parquet (+ quarantine).

Triggered by hand (developers); ``main_dag`` runs the same tasks on a schedule.
"""

from airflow.sdk import dag

from pipeline_core.airflow_tasks import DEFAULT_ARGS, LIST_EVERY_KEY, START_DATE, lake_tasks


@dag(
    dag_id="lake_dag",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params=LIST_EVERY_KEY,
    tags=["fleet", "layer:lake"],
    doc_md=__doc__,
)
def lake_dag():
    lake_tasks()


lake_dag()
