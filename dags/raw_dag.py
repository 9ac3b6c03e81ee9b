"""raw_db (L1): reload the lake's dirty event-date partitions.

Triggered by hand (developers); ``main_dag`` runs the same task on a schedule.
"""

from airflow.sdk import dag

from pipeline_core.airflow_tasks import DEFAULT_ARGS, PARAMS, START_DATE, raw_load


@dag(
    dag_id="raw_dag",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["fleet", "layer:raw"],
    doc_md=__doc__,
)
def raw_dag():
    raw_load()


raw_dag()
