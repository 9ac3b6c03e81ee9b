"""reports_dag: the analyst pages (reports/index.html) and the data docs, built from dwh_db.

Triggered by hand; ``main_dag`` runs the same task last. Logic lives in
``dwh_pipelines.reporting``; the CLI is ``python -m dwh_pipelines.reporting``.
"""

from airflow.sdk import dag

from pipeline_core.airflow_tasks import DEFAULT_ARGS, START_DATE, reports_build


@dag(
    dag_id="reports_dag",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["fleet", "layer:reports"],
    doc_md=__doc__,
)
def reports_dag():
    reports_build()


reports_dag()
