"""semantic_db (L3): Kimball model and business rules, dev -> checks -> prod.

Triggered by hand (developers); ``main_dag`` runs the same task on a schedule.
"""

from airflow.sdk import dag

from pipeline_core.airflow_tasks import DEFAULT_ARGS, PARAMS, START_DATE, semantic_build


@dag(
    dag_id="semantic_dag",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["fleet", "layer:semantic"],
    doc_md=__doc__,
)
def semantic_dag():
    semantic_build()


semantic_dag()
