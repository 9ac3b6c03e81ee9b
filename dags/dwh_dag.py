"""dwh_db (L4): star copy, marts and user-access views.

Triggered by hand (developers); ``main_dag`` runs the same task on a schedule.
"""

from airflow.sdk import dag

from pipeline_core.airflow_tasks import DEFAULT_ARGS, PARAMS, START_DATE, dwh_build


@dag(
    dag_id="dwh_dag",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["fleet", "layer:dwh"],
    doc_md=__doc__,
)
def dwh_dag():
    dwh_build()


dwh_dag()
