"""Backups, restore checks and VACUUM on the real embedded servers, with a filled warehouse.

The warehouse is filled once for the module (simulated feed through every layer); each test
leaves it as it found it (extra rows or tables are removed again).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from psycopg import sql

from dwh_pipelines.maintenance import (
    VOLATILE_TABLES,
    BackupError,
    PgToolError,
    RestoreCheckError,
    backup_databases,
    latest_backup,
    list_backups,
    restore_check,
    vacuum_analyze,
)
from pipeline_core import alerting
from pipeline_core.db import connect
from pipeline_core.settings import WAREHOUSE_DATABASES
from pipeline_core.storage import s3_client
from tests.helpers import query, reset_platform, run_pipeline, seed_simulated

pytestmark = pytest.mark.integration
DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def filled(stack):
    reset_platform(stack)
    seed_simulated(stack, vehicles=3, hours=0.1, organizations=2, seed=1)
    run_pipeline(stack, "maint_seed")
    return stack


def _scratch_databases(settings) -> list[str]:
    rows = query(
        settings, "postgres", "SELECT datname FROM pg_database WHERE datname LIKE '%_restore_check'"
    )
    return [r[0] for r in rows]


def _audit(settings, run_id: str) -> list[tuple[str, str]]:
    return query(
        settings,
        "dwh_db",
        "SELECT stage, status FROM ops.task_runs WHERE run_id = %s ORDER BY id",
        [run_id],
    )


def test_backup_and_restore_check_of_every_database(filled):
    keys = backup_databases(filled, "maint_backup", keep=7)

    assert [k.split("/")[1] for k in keys] == list(WAREHOUSE_DATABASES)
    s3 = s3_client(filled)
    for key in keys:
        assert key.startswith("backups/") and key.endswith(".dump")
        head = s3.head_object(Bucket=filled.lake_bucket, Key=key)
        assert head["ContentLength"] > 0 and len(head["Metadata"]["sha256"]) == 64

    for database in WAREHOUSE_DATABASES:
        report = restore_check(filled, database, run_id="maint_check")
        assert report["ok"] and report["mismatches"] == []
        assert report["against"] == "live" and report["backup_key"] in keys
        assert report["tables"], database
        for name, row in report["tables"].items():
            assert row["restored"] == row["at_backup"], name
            if name not in VOLATILE_TABLES:
                assert row["restored"] == row["live"], name
    # The warehouse really had data: the check compared something.
    dwh = restore_check(filled, "dwh_db", run_id="maint_check")
    assert dwh["tables"]["star.dim_vehicle"]["restored"] == 3
    assert sum(r["restored"] or 0 for r in dwh["tables"].values()) > 100

    assert _scratch_databases(filled) == []
    assert _audit(filled, "maint_backup") == [("maintenance.backup", "success")]
    assert _audit(filled, "maint_check") == [("maintenance.restore_check", "success")] * 5


def test_retention_keeps_only_the_newest_backups(filled):
    s3 = s3_client(filled)
    # A leftover of a crashed backup, older than every real one: retention removes it too.
    orphan = "backups/raw_db/20000101T000000.000000Z.dump"
    s3.put_object(Bucket=filled.lake_bucket, Key=orphan, Body=b"partial")

    made = [
        backup_databases(filled, f"maint_keep_{i}", keep=2, databases=["raw_db"]) for i in range(3)
    ]

    refs = list_backups(filled, "raw_db")
    assert [r.dump_key for r in refs] == [made[2][0], made[1][0]]
    assert all(r.complete for r in refs)
    assert latest_backup(filled, "raw_db").dump_key == made[2][0]
    # Other databases untouched by a raw_db-only backup.
    assert len(list_backups(filled, "staging_db")) >= 1


def test_rows_written_after_the_backup_are_reported_as_a_mismatch(filled):
    backup_databases(filled, "maint_mismatch", databases=["dwh_db"])
    with connect(filled, "dwh_db") as conn:
        before = conn.execute("SELECT count(*) FROM ops.dq_results").fetchone()[0]
        conn.execute("""INSERT INTO ops.dq_results
                   (run_id, layer, check_name, severity, status, rows_affected, description)
               VALUES ('maint_mismatch', 'staging', 'late_row', 'warn', 'pass', 0, 'test')""")
    try:
        with pytest.raises(RestoreCheckError) as err:
            restore_check(filled, "dwh_db", run_id="maint_mismatch")
        message = str(err.value)
        assert "dwh_db" in message and "ops.dq_results" in message
        assert f"restored={before} live={before + 1}" in message
        assert [m["table"] for m in err.value.report["mismatches"]] == ["ops.dq_results"]
        assert _audit(filled, "maint_mismatch")[-1] == ("maintenance.restore_check", "failed")
        # Against the dump's own snapshot the backup is complete and correct.
        assert restore_check(filled, "dwh_db", against="backup")["ok"]
    finally:
        with connect(filled, "dwh_db") as conn:
            conn.execute("DELETE FROM ops.dq_results WHERE run_id = 'maint_mismatch'")
    assert _scratch_databases(filled) == []


def test_damaged_backups_are_detected(filled):
    backup_databases(filled, "maint_damage", databases=["staging_db"])
    ref = latest_backup(filled, "staging_db")
    s3 = s3_client(filled)
    bucket = filled.lake_bucket

    # Bytes changed after upload: the sha256 recorded at backup time no longer matches.
    s3.put_object(Bucket=bucket, Key=ref.dump_key, Body=b"PGDMP not really a dump")
    with pytest.raises(BackupError, match=r"staging_db is corrupt: sha256"):
        restore_check(filled, "staging_db")

    # Garbage with a matching checksum: pg_restore itself refuses, naming the scratch database.
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=ref.manifest_key)["Body"].read())
    import hashlib

    manifest["sha256"] = hashlib.sha256(b"PGDMP not really a dump").hexdigest()
    s3.put_object(Bucket=bucket, Key=ref.manifest_key, Body=json.dumps(manifest).encode())
    with pytest.raises(PgToolError, match=r"pg_restore on database 'staging_db_restore_check'"):
        restore_check(filled, "staging_db")
    assert _scratch_databases(filled) == []

    # A dump that lost rows (recorded counts say more than it holds): a backup mismatch.
    backup_databases(filled, "maint_damage", databases=["staging_db"])
    ref = latest_backup(filled, "staging_db")
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=ref.manifest_key)["Body"].read())
    table = next(name for name, n in sorted(manifest["tables"].items()) if n)
    manifest["tables"][table] += 1
    s3.put_object(Bucket=bucket, Key=ref.manifest_key, Body=json.dumps(manifest).encode())
    with pytest.raises(RestoreCheckError, match=rf"{table}: restored=\d+ backup=\d+"):
        restore_check(filled, "staging_db", against="backup")


def test_vacuum_analyze_reports_invalid_indexes(filled):
    # What a failed CREATE INDEX CONCURRENTLY leaves behind: an index marked invalid.
    with connect(filled, "staging_db", autocommit=True) as conn:
        conn.execute("CREATE TABLE public.maint_probe (x int)")
        conn.execute("INSERT INTO public.maint_probe VALUES (1), (1)")
        with pytest.raises(Exception, match="could not create unique index"):
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY maint_probe_x ON public.maint_probe (x)")
    try:
        report = vacuum_analyze(filled, run_id="maint_vacuum")
    finally:
        with connect(filled, "staging_db", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier("public", "maint_probe")))

    assert set(report) == set(WAREHOUSE_DATABASES)
    invalid = report["staging_db"]["invalid_indexes"]
    assert [i["index"] for i in invalid] == ["public.maint_probe_x"]
    assert invalid[0]["table"] == "public.maint_probe" and invalid[0]["valid"] is False
    assert all(report[db]["invalid_indexes"] == [] for db in ("raw_db", "semantic_db", "dwh_db"))
    assert all(report[db]["vacuum_s"] >= 0 for db in WAREHOUSE_DATABASES)
    # ANALYZE ran: the planner has statistics for the warehouse tables.
    analyzed = query(
        filled,
        "dwh_db",
        "SELECT count(*) FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL "
        "AND relname = 'dim_vehicle'",
    )
    assert analyzed == [(1,)]
    assert _audit(filled, "maint_vacuum") == [("maintenance.vacuum", "success")]


def test_cli_backup_and_restore_check(filled, capsys):
    from dwh_pipelines.maintenance.__main__ import main

    assert (
        main(["backup", "--database", "semantic_db", "--keep", "2", "--run-id", "maint_cli"]) == 0
    )
    keys = json.loads(capsys.readouterr().out)
    assert len(keys) == 1 and keys[0].startswith("backups/semantic_db/")
    assert main(["restore-check", "semantic_db", "--run-id", "maint_cli"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert _audit(filled, "maint_cli") == [
        ("maintenance.backup", "success"),
        ("maintenance.restore_check", "success"),
    ]


def _parse_maintenance_dag(deadline_minutes: str | None):
    from airflow.dag_processing.dagbag import DagBag

    with pytest.MonkeyPatch.context() as mp:
        if deadline_minutes is None:
            mp.delenv(alerting.ENV_DEADLINE_MINUTES, raising=False)
        else:
            mp.setenv(alerting.ENV_DEADLINE_MINUTES, deadline_minutes)
        bag = DagBag(dag_folder=str(DAGS / "maintenance_dag.py"))
    assert bag.import_errors == {}
    return bag.dags["maintenance_dag"]


@pytest.fixture(scope="module")
def maintenance_dag():
    return _parse_maintenance_dag(None)


def test_maintenance_dag_is_nightly_and_ordered(maintenance_dag):
    from airflow.sdk import CronDataIntervalTimetable

    dag = maintenance_dag
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression == "0 2 * * *" and not dag.catchup
    assert set(dag.task_ids) == {"backup", "restore_check", "vacuum"}
    assert dag.get_task("restore_check").upstream_task_ids == {"backup"}
    assert dag.get_task("vacuum").upstream_task_ids == {"restore_check"}
    assert all(t.retries >= 1 and t.on_failure_callback for t in dag.tasks)
    assert dag.on_failure_callback and dag.deadline


@pytest.mark.e2e
def test_maintenance_dag_runs_through_airflow(filled, airflow_db):
    # Deadlines off: dag.test() crashes after a successful run with one (apache/airflow#73428).
    dag = _parse_maintenance_dag("0")
    assert dag.deadline is None
    before = {db: len(list_backups(filled, db)) for db in WAREHOUSE_DATABASES}

    run = dag.test()

    assert run.state == "success"
    for db in WAREHOUSE_DATABASES:
        assert len(list_backups(filled, db)) == min(before[db] + 1, 7), db
    stages = [stage for stage, status in _audit(filled, run.run_id) if status == "success"]
    assert stages == ["maintenance.backup"] + ["maintenance.restore_check"] * 4 + [
        "maintenance.vacuum"
    ]
