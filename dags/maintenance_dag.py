"""maintenance_dag: nightly backups, restore checks and VACUUM (ANALYZE) of the warehouse.

backup -> restore_check (one mapped task per database) -> vacuum, at 02:00 UTC.
Backups go to ``s3://<lake>/backups/<db>/``, newest 7 kept. The restore check compares each
restored table with the row counts taken in the dump's own snapshot (``against="backup"``):
main_dag writes every 15 minutes, so comparing with the live database at night would raise
false alarms; ``python -m dwh_pipelines.maintenance restore-check DB`` compares with live.
Logic lives in ``dwh_pipelines.maintenance``.
"""

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, chain, dag

from pipeline_core.airflow_tasks import (
    DAG_FAILURE_CALLBACKS,
    DEFAULT_ARGS,
    START_DATE,
    maintenance_backup,
    maintenance_restore_check,
    maintenance_vacuum,
)
from pipeline_core.alerting import deadline_alert
from pipeline_core.settings import WAREHOUSE_DATABASES


@dag(
    dag_id="maintenance_dag",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "execution_timeout": timedelta(hours=3)},
    on_failure_callback=DAG_FAILURE_CALLBACKS,
    deadline=deadline_alert(timedelta(hours=4)),
    tags=["fleet", "maintenance"],
    doc_md=__doc__,
)
def maintenance_dag():
    chain(
        maintenance_backup(),
        maintenance_restore_check.expand(database=list(WAREHOUSE_DATABASES)),
        maintenance_vacuum(),
    )


maintenance_dag()
