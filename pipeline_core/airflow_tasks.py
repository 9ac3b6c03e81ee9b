"""What DAG tasks need from Airflow: settings from its connections and the run id.

Kept out of the DAG files so they only wire tasks, and out of the stage code so the
stages run without Airflow.
"""

from __future__ import annotations

import dataclasses

from pipeline_core.settings import Settings, load_settings, map_parallelism


def _airflow_connection(conn_id: str) -> dict | None:
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
    return {
        "host": conn.host,
        "port": conn.port,
        "login": conn.login,
        "password": conn.password,
        "extra": conn.extra_dejson,
    }


def task_settings() -> Settings:
    """Settings with connections resolved by Airflow (env, metadata DB or secrets backend)."""
    return load_settings(connection_lookup=_airflow_connection)


def current_run_id() -> str:
    from airflow.sdk import get_current_context

    return get_current_context()["run_id"]


# --- Task definitions shared by main_dag and the single-layer DAGs -------------------

from datetime import UTC, datetime, time, timedelta  # noqa: E402

from airflow.sdk import Asset, CronDataIntervalTimetable, Param, task  # noqa: E402

from pipeline_core.alerting import dag_failure_callbacks, failure_callbacks  # noqa: E402

#: Every task retries before failing the run; failures always raise.
DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "on_failure_callback": failure_callbacks(),
}
#: @dag(on_failure_callback=...): one alert per failed run, with Airflow's reason.
DAG_FAILURE_CALLBACKS = dag_failure_callbacks()

#: early enough that `airflow backfill create` can cover the historical feed (catchup is off)
START_DATE = datetime(2019, 1, 1)
#: main_dag picks up what has arrived every 15 minutes; each run has a real data interval.
MAIN_SCHEDULE = CronDataIntervalTimetable("*/15 * * * *", timezone="UTC")
#: DAG params: extra event dates to rebuild in every layer (backfill), ISO strings.
PARAMS = {
    "rebuild_dates": Param(
        [],
        type="array",
        items={"type": "string", "format": "date"},
        description="Event dates (YYYY-MM-DD) to rebuild besides those with new data",
    )
}

#: DAG params of the DAGs that extract (main_dag, lake_dag): the run may list every key
LIST_EVERY_KEY = {
    "list_every_key": Param(
        False,
        type="boolean",
        description=(
            "List every source key this run, not only those from the newest landed object's"
            " hour less FLEET_LIST_LOOKBACK_HOURS: picks up deliveries later than that"
        ),
    )
}


def listing_settings(
    settings: Settings, params: dict, interval_start: datetime | None = None
) -> Settings:
    """``settings`` for extract's plan: every key is listed if the run asks for it; the run
    of each day's first interval (from 00:00 UTC) lists the last ``list_sweep_days`` dates
    (every key if None), so that a delivery later than the lookback is picked up within a
    day without anyone asking, and the daily sweep does not grow with the bucket."""
    first_of_day = interval_start is not None and interval_start.astimezone(UTC).time() == time(0)
    if params.get("list_every_key"):
        return dataclasses.replace(settings, list_lookback_hours=None)
    if first_of_day and settings.list_lookback_hours is not None:
        days, hours = settings.list_sweep_days, settings.list_lookback_hours
        sweep = None if days is None else max(days * 24, hours)  # never less than the lookback
        return dataclasses.replace(settings, list_lookback_hours=sweep)
    return settings


LANDING = Asset(name="lake_landing", uri="s3://fleet-lake/landing/")
LAKE_PARQUET = Asset(name="lake_parquet", uri="s3://fleet-lake/parquet/")


#: mapped lake tasks (extract shards, convert batches) run at once per DAG run: the
#: embedded default has 2 cores; raise it where Celery workers share the work.
MAP_PARALLELISM = map_parallelism()
#: runs after a mapped step even when it had nothing to map (and so was skipped)
AFTER_MAPPED = "none_failed"


@task(task_id="lake_extract_plan")
def lake_extract_plan() -> list[int]:
    """List the source once; record its new objects as shards for ``lake_extract``."""
    from airflow.sdk import get_current_context

    from data_lake.extract import plan_extract

    context = get_current_context()
    settings = listing_settings(
        task_settings(), context["params"], context.get("data_interval_start")
    )
    return plan_extract(settings, current_run_id()).shards


#: the label of a mapped task instance in the UI's list, set by the task (see map_label)
MAP_LABEL = "{{ map_label }}"


def extract_label(shard: int, result: dict | None = None) -> str:
    """What a mapped extract instance did, for the UI: its shard, then what it copied."""
    if result is None:
        return f"shard {shard}"
    return f"shard {shard}: {result['new_objects']:,} objects, {result['new_bytes']:,} bytes"


def convert_label(batch_id: str, result: dict | None = None) -> str:
    """What a mapped convert instance did, for the UI: its batch, then its lines and dates."""
    if result is None:
        return f"batch {batch_id}"
    dates = result["event_dates"]
    span = f"{dates[0]}..{dates[-1]}" if len(dates) > 1 else (dates[0] if dates else "no dates")
    return (
        f"batch {batch_id}: {result['input_lines']:,} lines"
        f" ({result['quarantined_lines']:,} quarantined), {span}"
    )


def map_label(label: str) -> None:
    """Name the running mapped instance in the UI (rendered through ``MAP_LABEL`` when it
    ends, and kept if it fails), instead of a bare map index."""
    from airflow.sdk import get_current_context

    get_current_context()["map_label"] = label


@task(
    task_id="lake_extract",
    outlets=[LANDING],
    max_active_tis_per_dagrun=MAP_PARALLELISM,
    map_index_template=MAP_LABEL,
)
def lake_extract(shard: int) -> dict:
    """Copy one shard of new source objects into the landing zone (exactly once, by manifest)."""
    from data_lake.extract import extract_shard

    map_label(extract_label(shard))
    result = extract_shard(task_settings(), current_run_id(), shard).as_dict()
    map_label(extract_label(shard, result))
    return result


@task(task_id="lake_convert_plan", trigger_rule=AFTER_MAPPED)
def lake_convert_plan() -> list[str]:
    """Assign landed objects to conversion batches (crashed batches first)."""
    from data_lake.convert import plan_convert

    return plan_convert(task_settings(), current_run_id())


@task(
    task_id="lake_convert",
    outlets=[LAKE_PARQUET],
    max_active_tis_per_dagrun=MAP_PARALLELISM,
    map_index_template=MAP_LABEL,
)
def lake_convert(batch_id: str) -> dict:
    """One batch of landed NDJSON to typed, partitioned Parquet; bad lines to quarantine."""
    from data_lake.convert import ConvertResult, convert_batch

    map_label(convert_label(batch_id))
    batch = convert_batch(task_settings(), current_run_id(), batch_id)
    result = ConvertResult([batch]).as_dict()
    map_label(convert_label(batch_id, result))
    return result


def lake_tasks():
    """plan -> mapped extract -> plan -> mapped convert; returns the last, to chain on."""
    shards = lake_extract_plan()
    landed = lake_extract.expand(shard=shards)
    batches = lake_convert_plan()
    landed >> batches
    return lake_convert.expand(batch_id=batches)


def backfill_dates(start: datetime, end: datetime) -> list:
    """Event dates a backfill run over [start, end) rebuilds: those whose midnight (UTC) it
    covers. A day backfilled as 96 fifteen-minute runs is rebuilt once (by its 00:00 run),
    a daily or longer interval rebuilds every day it spans."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    day = start.date() if start.time() == time(0) else start.date() + timedelta(days=1)
    dates = []
    while datetime.combine(day, time(0), UTC) < end:
        dates.append(day)
        day += timedelta(days=1)
    return dates


def _rebuild_dates() -> list:
    """Dates to rebuild besides the dirty ones: the ``rebuild_dates`` param, and for a
    backfill run the event dates of its data interval (``backfill_dates``)."""
    from datetime import date

    from airflow.sdk import get_current_context

    context = get_current_context()
    dates = {date.fromisoformat(d) for d in context["params"].get("rebuild_dates") or []}
    run = context.get("dag_run")
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if run is not None and str(run.run_type).endswith("backfill") and start and end:
        dates.update(backfill_dates(start, end))
    return sorted(dates)


@task(task_id="raw_load", trigger_rule=AFTER_MAPPED)
def raw_load() -> dict:
    """Replace raw_db's dirty event-date partitions from the lake's Parquet."""
    from dwh_pipelines.raw import load_raw

    return load_raw(task_settings(), current_run_id(), dates=_rebuild_dates()).as_dict()


@task(task_id="staging_build")
def staging_build() -> dict:
    """Clean and check in dev, publish to prod only if no blocking check fails."""
    from dwh_pipelines.staging import build_staging

    return build_staging(task_settings(), current_run_id(), dates=_rebuild_dates()).as_dict()


@task(task_id="semantic_build")
def semantic_build() -> dict:
    """Kimball model and business rules, dev -> checks -> prod."""
    from dwh_pipelines.semantic import build_semantic

    return build_semantic(task_settings(), current_run_id(), dates=_rebuild_dates()).as_dict()


@task(task_id="dwh_build")
def dwh_build() -> dict:
    """Marts and user-access views from the published semantic model."""
    from dwh_pipelines.dwh import build_dwh

    return build_dwh(task_settings(), current_run_id(), dates=_rebuild_dates()).as_dict()


# --- maintenance_dag ------------------------------------------------------------------

BACKUP_KEEP = 7


@task(task_id="backup")
def maintenance_backup() -> list[str]:
    """pg_dump every warehouse database to the lake; keep the newest BACKUP_KEEP."""
    from dwh_pipelines.maintenance import backup_databases

    return backup_databases(task_settings(), current_run_id(), keep=BACKUP_KEEP)


# One restore at a time: the warehouse keeps serving main_dag on a small box.
@task(task_id="restore_check", max_active_tis_per_dag=1)
def maintenance_restore_check(database: str) -> dict:
    """Restore the latest backup of one database into a scratch copy and compare row counts."""
    from dwh_pipelines.maintenance import restore_check as check

    return check(task_settings(), database, against="backup", run_id=current_run_id())


@task(task_id="vacuum")
def maintenance_vacuum() -> dict:
    """VACUUM (ANALYZE) each database and report invalid / unused indexes."""
    from dwh_pipelines.maintenance import vacuum_analyze

    return vacuum_analyze(task_settings(), run_id=current_run_id())


# --- freshness_dag -------------------------------------------------------------------


# No retries: a lag is a state to report now, and the failure callback is the alert.
@task(task_id="freshness_check", retries=0)
def freshness_check() -> dict:
    """Fail (and so alert) when dwh_db lags the feed by more than 30 minutes."""
    from dwh_pipelines.maintenance.freshness import check_freshness

    return check_freshness(task_settings(), current_run_id())


@task(task_id="governance_apply")
def governance_apply() -> dict:
    """Make the warehouse match governance/policy.yaml; pseudonymise; retention if set."""
    from dwh_pipelines.governance import run_governance

    return run_governance(task_settings(), current_run_id())


@task(task_id="reports_build")
def reports_build() -> dict:
    """Report pages and data docs from dwh_db, copied to the lake under reports/<date>/."""
    from dwh_pipelines.reporting.build import build_reports

    paths = build_reports(task_settings(), current_run_id())
    return {"pages": [p.name for p in paths if p.suffix == ".html"], "dir": str(paths[0].parent)}
