"""governance_dag: roles, ownership, RLS, masking and privacy routines from governance/policy.yaml.

One task, ``governance_apply``: apply the policy (idempotent: a run with nothing new changes
nothing), pseudonymise vehicle ids in the marts (needs ``FLEET_PSEUDONYM_KEY``; refuses to
run without it), then retention if the policy sets ``retention.days``. Triggered by hand;
``main_dag`` runs the same task last, so that objects the run created are re-owned, granted
and filtered before analysts read them.
"""

from airflow.sdk import dag

from pipeline_core.airflow_tasks import DEFAULT_ARGS, START_DATE, governance_apply


@dag(
    dag_id="governance_dag",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["fleet", "layer:governance"],
    doc_md=__doc__,
)
def governance_dag():
    governance_apply()


governance_dag()
