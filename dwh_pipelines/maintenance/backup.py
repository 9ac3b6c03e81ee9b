"""Backups of the warehouse databases to the lake, and proof that they restore.

Why: a backup nobody has restored is a hope, not a backup. Each night every database is dumped
with ``pg_dump --format=custom`` to ``s3://<lake>/backups/<db>/<UTC timestamp>.dump`` and then
restored into a scratch database whose table row counts are compared with the live database.

Layout per backup (the manifest is written last, so a dump without one is incomplete)::

    backups/<db>/20260101T020000.123456Z.dump   pg_dump custom format (sha256 in its metadata)
    backups/<db>/20260101T020000.123456Z.json   manifest: run, versions, size, sha256, and the
                                                row count of every table *in the dump's snapshot*

The row counts are taken in the very snapshot pg_dump dumps (``pg_export_snapshot`` +
``pg_dump --snapshot``), so "restored = manifest" proves the dump is complete regardless of
what the pipeline wrote since.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psycopg
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from psycopg import sql

from dwh_pipelines.maintenance.pgtools import run_pg_tool, tool_version
from pipeline_core.audit import audited, ensure_ops_schema
from pipeline_core.db import connect
from pipeline_core.logs import log_event
from pipeline_core.settings import WAREHOUSE_DATABASES, Settings
from pipeline_core.storage import s3_client

BACKUP_PREFIX = "backups"
DUMP_SUFFIX = ".dump"
MANIFEST_SUFFIX = ".json"
SCRATCH_SUFFIX = "_restore_check"
#: Appended to by every audited stage, including the backup itself *after* its dump; its live
#: count therefore always differs from the backup's and is checked against the manifest only.
VOLATILE_TABLES = frozenset({"ops.task_runs"})
#: Multipart in 64 MiB parts, two at a time: bounded memory on a 2-core box.
TRANSFER = TransferConfig(
    multipart_threshold=64 * 1024 * 1024,
    multipart_chunksize=64 * 1024 * 1024,
    max_concurrency=2,
)
DUMP_TIMEOUT_S = 6 * 3600
RESTORE_TIMEOUT_S = 6 * 3600
#: pg_dump gives up instead of queueing forever behind a pipeline's exclusive lock.
LOCK_WAIT_TIMEOUT = "10min"

Baseline = Literal["live", "backup"]


class BackupError(RuntimeError):
    """A backup could not be written, found or read; the message names the database/key."""


class RestoreCheckError(RuntimeError):
    """The restored copy does not match; ``report`` holds the full comparison."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


def _check_database(database: str) -> str:
    if database not in WAREHOUSE_DATABASES:
        raise ValueError(f"unknown database {database!r}; expected one of {WAREHOUSE_DATABASES}")
    return database


def _stamp(now: datetime | None = None) -> str:
    """Fixed-width UTC timestamp: lexical order = time order, microseconds avoid collisions."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")


def _prefix(database: str) -> str:
    return f"{BACKUP_PREFIX}/{database}/"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- row counts


_TABLES_SQL = """
SELECT n.nspname, c.relname, c.relkind = 'm' AND NOT c.relispopulated AS unpopulated
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm')              -- tables (incl. partitions) and materialized views
  AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%'
  AND n.nspname NOT LIKE 'pg\\_temp%%'
  AND NOT EXISTS (                          -- extension-owned tables are not dumped
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""


def table_counts(conn: psycopg.Connection) -> dict[str, int | None]:
    """Exact ``count(*)`` of every user table (None: materialized view never populated)."""
    counts: dict[str, int | None] = {}
    for schema, table, unpopulated in conn.execute(_TABLES_SQL).fetchall():
        name = f"{schema}.{table}"
        if unpopulated:
            counts[name] = None
            continue
        try:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
            ).fetchone()
        except psycopg.Error as exc:
            raise type(exc)(f"counting rows of {name} in {conn.info.dbname} failed: {exc}") from exc
        counts[name] = int(row[0]) if row else 0
    return counts


def _live_counts(settings: Settings, database: str) -> dict[str, int | None]:
    with connect(settings, database) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return table_counts(conn)


# ----------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class BackupRef:
    database: str
    stamp: str
    has_dump: bool
    has_manifest: bool

    @property
    def dump_key(self) -> str:
        return f"{_prefix(self.database)}{self.stamp}{DUMP_SUFFIX}"

    @property
    def manifest_key(self) -> str:
        return f"{_prefix(self.database)}{self.stamp}{MANIFEST_SUFFIX}"

    @property
    def complete(self) -> bool:
        return self.has_dump and self.has_manifest


def list_backups(settings: Settings, database: str, *, client: Any = None) -> list[BackupRef]:
    """Every backup of ``database`` in the lake, newest first (complete or not)."""
    s3 = client or s3_client(settings)
    stems: dict[str, set[str]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.lake_bucket, Prefix=_prefix(database)
    ):
        for obj in page.get("Contents", []):
            name = obj["Key"][len(_prefix(database)) :]
            for suffix in (DUMP_SUFFIX, MANIFEST_SUFFIX):
                if name.endswith(suffix) and "/" not in name:
                    stems.setdefault(name[: -len(suffix)], set()).add(suffix)
    return [
        BackupRef(database, stem, DUMP_SUFFIX in kinds, MANIFEST_SUFFIX in kinds)
        for stem, kinds in sorted(stems.items(), reverse=True)
    ]


def latest_backup(settings: Settings, database: str, *, client: Any = None) -> BackupRef:
    """The newest *complete* backup (dump and manifest); BackupError when there is none."""
    for ref in list_backups(settings, database, client=client):
        if ref.complete:
            return ref
    raise BackupError(
        f"no complete backup of {database} under s3://{settings.lake_bucket}/{_prefix(database)}"
    )


def apply_retention(
    settings: Settings, database: str, keep: int, *, client: Any = None
) -> list[str]:
    """Delete all but the newest ``keep`` complete backups; returns the deleted keys.

    Incomplete backups older than the newest complete one are leftovers of failed runs and go
    too; newer incomplete ones may be in progress and stay.
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    s3 = client or s3_client(settings)
    refs = list_backups(settings, database, client=s3)
    complete = [r for r in refs if r.complete]
    if not complete:
        return []
    kept = {r.stamp for r in complete[:keep]}
    newest = complete[0].stamp
    doomed = [r for r in refs if r.stamp not in kept and r.stamp < newest]
    keys = [
        k
        for r in doomed
        for k, present in ((r.dump_key, r.has_dump), (r.manifest_key, r.has_manifest))
        if present
    ]
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        response = s3.delete_objects(
            Bucket=settings.lake_bucket,
            Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True},
        )
        errors = response.get("Errors") or []
        if errors:
            raise BackupError(
                f"retention of {database}: could not delete {len(errors)} objects, e.g. "
                f"{errors[0].get('Key')}: {errors[0].get('Message')}"
            )
    return keys


# ----------------------------------------------------------------------------- backup


def _backup_one(
    settings: Settings, database: str, run_id: str, s3: Any, workdir: Path
) -> dict[str, Any]:
    """Dump one database in a snapshot whose row counts go into the manifest; upload both."""
    stamp = _stamp()
    ref = BackupRef(database, stamp, True, True)
    dump_path = workdir / f"{database}{DUMP_SUFFIX}"
    t0 = time.monotonic()
    with connect(settings, database) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        server_version = conn.info.server_version
        # The exporting transaction stays open until pg_dump has imported the snapshot
        # (it does so first thing) and while we count rows in that same snapshot.
        run_pg_tool(
            settings,
            database,
            "pg_dump",
            [
                "--format=custom",
                f"--snapshot={snapshot}",
                f"--lock-wait-timeout={LOCK_WAIT_TIMEOUT}",
                f"--file={dump_path}",
            ],
            timeout_s=DUMP_TIMEOUT_S,
        )
        counts = table_counts(conn)
        conn.rollback()
    size = dump_path.stat().st_size
    digest = _sha256(dump_path)
    try:
        s3.upload_file(
            str(dump_path),
            settings.lake_bucket,
            ref.dump_key,
            ExtraArgs={"Metadata": {"sha256": digest, "run-id": run_id}},
            Config=TRANSFER,
        )
        manifest = {
            "database": database,
            "dump_key": ref.dump_key,
            "taken_at": stamp,
            "run_id": run_id,
            "size_bytes": size,
            "sha256": digest,
            "pg_dump": tool_version("pg_dump"),
            "server_version_num": server_version,
            "tables": counts,
        }
        s3.put_object(
            Bucket=settings.lake_bucket,
            Key=ref.manifest_key,
            Body=json.dumps(manifest, indent=2, sort_keys=True).encode(),
            ContentType="application/json",
        )
    except ClientError as exc:
        raise BackupError(
            f"upload of the {database} backup to s3://{settings.lake_bucket}/{ref.dump_key} "
            f"failed: {exc}"
        ) from exc
    finally:
        dump_path.unlink(missing_ok=True)
    log_event(
        "maintenance.backup",
        database=database,
        key=ref.dump_key,
        size_bytes=size,
        tables=len(counts),
        duration_s=round(time.monotonic() - t0, 3),
    )
    return manifest


def backup_databases(
    settings: Settings,
    run_id: str,
    *,
    keep: int = 7,
    databases: Iterable[str] = WAREHOUSE_DATABASES,
) -> list[str]:
    """Dump each warehouse database to the lake, then keep only its newest ``keep`` backups.

    Returns the keys of the new dumps. The dump goes to a temp file and is uploaded from it
    (multipart), so memory stays flat whatever the database size; the file is deleted at once.
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    targets = [_check_database(d) for d in databases]
    ensure_ops_schema(settings)
    s3 = s3_client(settings, max_pool_connections=4)
    keys: list[str] = []
    with audited(settings, run_id, "maintenance.backup") as audit:
        with tempfile.TemporaryDirectory(prefix="fleet-backup-") as tmp:
            for database in targets:
                manifest = _backup_one(settings, database, run_id, s3, Path(tmp))
                keys.append(manifest["dump_key"])
                audit.details[database] = {
                    "key": manifest["dump_key"],
                    "size_bytes": manifest["size_bytes"],
                    "tables": len(manifest["tables"]),
                }
        deleted = {d: apply_retention(settings, d, keep, client=s3) for d in targets}
        audit.objects = len(keys)
        audit.details["retention"] = {"keep": keep, "deleted": deleted}
    return keys


# ----------------------------------------------------------------------------- restore check


def _drop_database(settings: Settings, name: str) -> None:
    with connect(settings, "postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _compare(
    restored: dict[str, int | None],
    manifest: dict[str, int | None],
    live: dict[str, int | None],
    against: Baseline,
) -> tuple[dict[str, dict[str, int | None]], list[dict[str, Any]]]:
    tables: dict[str, dict[str, int | None]] = {}
    mismatches: list[dict[str, Any]] = []
    for name in sorted(set(restored) | set(manifest) | set(live)):
        row = {
            "restored": restored.get(name),
            "at_backup": manifest.get(name),
            "live": live.get(name),
        }
        tables[name] = row
        missing = [
            where for where, d in (("restored", restored), ("backup", manifest)) if name not in d
        ]
        if missing or row["restored"] != row["at_backup"]:
            # The dump itself is incomplete or damaged: always an error.
            mismatches.append({"table": name, "against": "backup", **row, "missing_in": missing})
        elif against == "live" and name not in VOLATILE_TABLES and row["restored"] != row["live"]:
            missing_live = [] if name in live else ["live"]
            mismatches.append({"table": name, "against": "live", **row, "missing_in": missing_live})
    return tables, mismatches


def restore_check(
    settings: Settings,
    database: str,
    *,
    against: Baseline = "live",
    run_id: str | None = None,
) -> dict[str, Any]:
    """Restore the latest backup of ``database`` into ``<db>_restore_check`` and compare counts.

    Every table's restored row count must equal the count recorded in the dump's own snapshot
    (else the dump is damaged) and, with ``against="live"``, the live database's count (else
    the backup no longer reflects the warehouse; ``VOLATILE_TABLES`` are exempt). Use
    ``against="backup"`` when the pipeline may write concurrently. Raises
    ``RestoreCheckError`` naming the tables; the scratch database is always dropped.
    """
    _check_database(database)
    if against not in ("live", "backup"):
        raise ValueError(f"against must be 'live' or 'backup', got {against!r}")
    run_id = run_id or f"restore_check__{_stamp()}"
    scratch = database + SCRATCH_SUFFIX
    ensure_ops_schema(settings)
    s3 = s3_client(settings, max_pool_connections=4)
    with audited(settings, run_id, "maintenance.restore_check") as audit:
        ref = latest_backup(settings, database, client=s3)
        try:
            body = s3.get_object(Bucket=settings.lake_bucket, Key=ref.manifest_key)["Body"]
            manifest = json.loads(body.read())
        except (ClientError, json.JSONDecodeError) as exc:
            raise BackupError(
                f"manifest {ref.manifest_key} of {database} unreadable: {exc}"
            ) from exc
        # Session lock: two checks of one database would drop each other's scratch copy.
        with connect(settings, "postgres", autocommit=True) as lock_conn:
            got = lock_conn.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s))", [f"fleet.restore_check.{database}"]
            ).fetchone()[0]
            if not got:
                raise BackupError(f"another restore check of {database} is running")
            t0 = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="fleet-restore-") as tmp:
                dump_path = Path(tmp) / Path(ref.dump_key).name
                try:
                    s3.download_file(
                        settings.lake_bucket, ref.dump_key, str(dump_path), Config=TRANSFER
                    )
                except ClientError as exc:
                    raise BackupError(f"download of {ref.dump_key} failed: {exc}") from exc
                digest = _sha256(dump_path)
                if digest != manifest.get("sha256"):
                    raise BackupError(
                        f"backup {ref.dump_key} of {database} is corrupt: sha256 {digest} "
                        f"!= {manifest.get('sha256')} recorded when it was taken"
                    )
                _drop_database(settings, scratch)
                try:
                    lock_conn.execute(
                        sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(
                            sql.Identifier(scratch)
                        )
                    )
                    run_pg_tool(
                        settings,
                        scratch,
                        "pg_restore",
                        [
                            "--exit-on-error",
                            "--single-transaction",
                            "--no-owner",
                            "--no-privileges",
                            f"--dbname={scratch}",
                            str(dump_path),
                        ],
                        timeout_s=RESTORE_TIMEOUT_S,
                    )
                    with connect(settings, scratch) as conn:
                        restored = table_counts(conn)
                    live = _live_counts(settings, database)
                finally:
                    _drop_database(settings, scratch)
        tables, mismatches = _compare(restored, manifest.get("tables") or {}, live, against)
        report = {
            "database": database,
            "backup_key": ref.dump_key,
            "taken_at": manifest.get("taken_at"),
            "scratch_database": scratch,
            "against": against,
            "tables": tables,
            "mismatches": mismatches,
            "ok": not mismatches,
            "restore_s": round(time.monotonic() - t0, 3),
        }
        audit.objects = len(tables)
        audit.rows_in = sum(v for v in restored.values() if v)
        audit.details.update(
            {"database": database, "backup_key": ref.dump_key, "mismatches": mismatches}
        )
        if mismatches:
            shown = "; ".join(
                f"{m['table']}: restored={m['restored']} {m['against']}="
                f"{m['live'] if m['against'] == 'live' else m['at_backup']}"
                + (f" (missing in {', '.join(m['missing_in'])})" if m["missing_in"] else "")
                for m in mismatches[:10]
            )
            more = f" (+{len(mismatches) - 10} more)" if len(mismatches) > 10 else ""
            raise RestoreCheckError(
                f"restore check of {database} from {ref.dump_key} failed: {len(mismatches)} "
                f"table(s) differ: {shown}{more}",
                report,
            )
    log_event("maintenance.restore_check", database=database, key=ref.dump_key, tables=len(tables))
    return report
