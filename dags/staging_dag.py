"""staging_db (L2): clean, check in dev, publish to prod (write-audit-publish).

Triggered by hand (developers); ``main_dag`` runs the same task on a schedule.
"""

from airflow.sdk import dag

from pipeline_core.airflow_tasks import DEFAULT_ARGS, PARAMS, START_DATE, staging_build


@dag(
    dag_id="staging_dag",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["fleet", "layer:staging"],
    doc_md=__doc__,
)
def staging_dag():
    staging_build()


staging_dag()
