"""Privacy routines: vehicle-id pseudonymisation for analysts, and retention.

Pseudonymisation covers the tables of ``pseudonymisation.schemas`` (the marts, which analysts
read directly and through the analytics views): each real vehicle id is replaced in place by
``prefix + HMAC-SHA256(key, id)[:digest_chars]``, and the mapping is kept in
``governance.vehicle_pseudonyms`` (engineers only). It does not cover the star or the lower
layers, which keep real ids and which analysts cannot read. Same key, same pseudonym: the
mapping table is the reference, so a later key change does not re-label known vehicles.

Retention deletes events older than N days (by UTC event date) from the lake and from every
warehouse database (see ``apply_retention``); counts are logged, audited and returned.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from data_lake.schema import LANDING_PREFIX, PARQUET_PREFIX, QUARANTINE_PREFIX
from dwh_pipelines.governance.access import SQL_DIR
from dwh_pipelines.governance.common import (
    LAYER_LOCKS,
    SYSTEM_SCHEMAS,
    GovernanceError,
    lock,
)
from dwh_pipelines.governance.policy import DEFAULT_POLICY, GOVERNANCE_SCHEMA, Policy, load_policy
from dwh_pipelines.partitions import drop_days_before
from dwh_pipelines.transfer import relay
from pipeline_core.audit import audited, ensure_ops_schema
from pipeline_core.db import connect, execute_sql_file, transaction
from pipeline_core.logs import log_event
from pipeline_core.settings import OPS_DATABASE, OPS_SCHEMA, WAREHOUSE_DATABASES, Settings
from pipeline_core.storage import s3_client

S3_DELETE_BATCH = 1000


# ----------------------------------------------------------------------------- pseudonyms


def pseudonym(key: bytes, value: str, prefix: str, chars: int) -> str:
    """Keyed, so ids cannot be recomputed from a list of real ids without the key."""
    return prefix + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:chars]


def _ensure_governance_tables(conn: psycopg.Connection, policy: Policy) -> None:
    execute_sql_file(
        conn,
        SQL_DIR / "governance_schema.sql",
        schema=GOVERNANCE_SCHEMA,
        assignments=policy.rls.assignments_table,
        pseudonyms=policy.pseudonymisation.mapping_table,
    )


def pseudonymise_vehicle_ids(
    settings: Settings,
    policy_path: Path = DEFAULT_POLICY,
    *,
    conn: psycopg.Connection | None = None,
) -> dict:
    """Replace vehicle ids in the analyst-facing marts by keyed pseudonyms; idempotent.

    Pass ``conn`` (a dwh_db connection inside a transaction) to pseudonymise within the
    caller's transaction, e.g. at the end of the dwh build, so that readers never see a
    rebuilt mart with real ids. Refuses to run without the key in the environment.
    """
    policy = load_policy(policy_path)
    ps = policy.pseudonymisation
    key = os.environ.get(ps.key_env, "")
    if not key:
        raise GovernanceError(
            f"{ps.key_env} is not set: refusing to pseudonymise vehicle ids (the key must come "
            "from the environment or a secrets backend, never from code)"
        )
    if conn is not None:
        return _pseudonymise(conn, policy, key.encode())
    with transaction(settings, ps.database) as own:
        return _pseudonymise(own, policy, key.encode())


def _pseudonymise(conn: psycopg.Connection, policy: Policy, key: bytes) -> dict:
    ps = policy.pseudonymisation
    lock(conn, LAYER_LOCKS.get(ps.database, ()))
    _ensure_governance_tables(conn, policy)
    mapping = sql.Identifier(GOVERNANCE_SCHEMA, ps.mapping_table)
    col = sql.Identifier(ps.column)
    tables = conn.execute(
        """SELECT n.nspname, c.relname
             FROM pg_catalog.pg_attribute a
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE a.attname = %s AND a.attnum > 0 AND NOT a.attisdropped
              AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY(%s)
            ORDER BY 1, 2""",
        (ps.column, list(ps.schemas)),
    ).fetchall()
    real: set[str] = set()
    for schema, table in tables:
        rows = conn.execute(
            sql.SQL(
                "SELECT DISTINCT t.{col} FROM {table} t WHERE t.{col} IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM {mapping} m"
                " WHERE m.pseudonym = t.{col} OR m.vehicle_id = t.{col})"
            ).format(col=col, table=sql.Identifier(schema, table), mapping=mapping)
        ).fetchall()
        real.update(r[0] for r in rows)
    new = [(v, pseudonym(key, v, ps.prefix, ps.digest_chars)) for v in sorted(real)]
    if new:
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {} (vehicle_id, pseudonym) VALUES (%s, %s)"
                    " ON CONFLICT (vehicle_id) DO NOTHING"
                ).format(mapping),
                new,
            )
    updated: dict[str, int] = {}
    for schema, table in tables:
        cur = conn.execute(
            sql.SQL(
                "UPDATE {table} t SET {col} = m.pseudonym FROM {mapping} m"
                " WHERE t.{col} = m.vehicle_id"
            ).format(table=sql.Identifier(schema, table), col=col, mapping=mapping)
        )
        updated[f"{schema}.{table}"] = cur.rowcount
    result = {"new_pseudonyms": len(new), "rows_updated": updated}
    log_event("governance.pseudonymise", **result)
    return result


# ----------------------------------------------------------------------------- retention


def _cutoff_bound(cutoff: date, type_name: str) -> date | datetime:
    return cutoff if type_name == "date" else datetime.combine(cutoff, time(0), tzinfo=UTC)


def _retention_targets(
    conn: psycopg.Connection, policy: Policy, database: str
) -> list[tuple[str, str, str, str, bool]]:
    """(schema, table, column, type, partitioned) to purge: event_date tables plus the
    policy's extras."""
    extras = policy.retention.extra_tables.get(database, {})
    rows = conn.execute(
        """SELECT n.nspname, c.relname, a.attname, t.typname, c.relkind = 'p'
             FROM pg_catalog.pg_attribute a
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND a.attnum > 0 AND NOT a.attisdropped
              AND n.nspname <> ALL(%s) AND n.nspname NOT LIKE 'pg\\_%%'
              AND t.typname IN ('date', 'timestamptz', 'timestamp')
            ORDER BY 1, 2""",
        (list(SYSTEM_SCHEMAS) + [OPS_SCHEMA],),
    ).fetchall()
    targets = []
    for schema, table, column, type_name, partitioned in rows:
        wanted = extras.get(f"{schema}.{table}")
        if (
            wanted is None
            and column == policy.retention.date_column
            and schema != (GOVERNANCE_SCHEMA)
        ):
            targets.append((schema, table, column, type_name, partitioned))
        elif wanted == column:
            targets.append((schema, table, column, type_name, partitioned))
    return targets


def _retention_database(
    settings: Settings, policy: Policy, database: str, cutoff: date
) -> dict[str, int]:
    counts: dict[str, int] = {}
    with transaction(settings, database) as conn:
        lock(conn, LAYER_LOCKS.get(database, ()))
        for schema, table, column, type_name, partitioned in _retention_targets(
            conn, policy, database
        ):
            bound = _cutoff_bound(cutoff, type_name)
            # expired days go whole; the DELETE takes what is left (unpartitioned tables,
            # a day holding a row its bounds do not vouch for)
            parts, dropped = (
                drop_days_before(conn, schema, table, column, cutoff, bound)
                if partitioned
                else (0, 0)
            )
            cur = conn.execute(
                sql.SQL("DELETE FROM {} WHERE {} < %s").format(
                    sql.Identifier(schema, table), sql.Identifier(column)
                ),
                (bound,),
            )
            name = f"{database}.{schema}.{table}"
            counts[name] = dropped + cur.rowcount
            log_event(
                "governance.retention",
                target=name,
                column=column,
                cutoff=cutoff,
                deleted=counts[name],
                partitions_dropped=parts,
            )
    return counts


def _list_keys(s3, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield item["Key"]


def _list_prefixes(s3, bucket: str, prefix: str) -> list[str]:
    out: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    ):
        out.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
    return out


def _delete_keys(s3, bucket: str, keys: list[str]) -> int:
    deleted = 0
    for start in range(0, len(keys), S3_DELETE_BATCH):
        chunk = keys[start : start + S3_DELETE_BATCH]
        response = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
        )
        errors = response.get("Errors") or []
        if errors:
            raise GovernanceError(
                f"s3://{bucket}: could not delete {len(errors)} objects: " f"{errors[0]}"
            )
        deleted += len(chunk)
    return deleted


#: a converted batch whose event dates are all before %(cutoff)s (without dates: converted
#: before it); its files go whole, and its counts leave the rows-held figures
BATCH_EXPIRED = sql.SQL(
    "b.converted_at IS NOT NULL AND CASE WHEN coalesce(cardinality(b.event_dates), 0)"
    " > 0 THEN (SELECT max(d) FROM unnest(b.event_dates) d) < %(cutoff)s"
    " ELSE b.converted_at < %(cutoff)s END"
)


def _expired_landing_and_batches(settings: Settings, cutoff: date) -> tuple[list[str], list[str]]:
    """Landing keys and batch ids whose events are all older than the cutoff (by manifest).

    A landing object's events are dated by the raw rows it produced (lineage source_key);
    one that produced none (all quarantined, or not loaded yet) by its conversion batch.
    """
    with connect(settings, "raw_db") as raw, connect(settings, OPS_DATABASE) as ops:
        with ops.transaction():
            ops.execute(
                "CREATE TEMP TABLE retention_source_dates"
                " (source_key text, last_event_date date) ON COMMIT DROP"
            )
            present = raw.execute(
                "SELECT to_regclass('raw.vehicle_events') IS NOT NULL"
                " AND to_regclass('raw.operating_period_events') IS NOT NULL"
            ).fetchone()[0]
            if present:
                relay(
                    raw,
                    sql.SQL(
                        "SELECT source_key, max(event_date) FROM ("
                        "SELECT source_key, event_date FROM raw.vehicle_events UNION ALL "
                        "SELECT source_key, event_date FROM raw.operating_period_events) s "
                        "GROUP BY source_key"
                    ),
                    ops,
                    sql.Identifier("retention_source_dates"),
                    ["source_key", "last_event_date"],
                )
            landing = [
                r[0]
                for r in ops.execute(
                    sql.SQL(
                        "SELECT o.landing_key FROM ops.lake_objects o"
                        " LEFT JOIN ops.lake_batches b USING (batch_id)"
                        " LEFT JOIN (SELECT source_key, max(last_event_date) AS last_event_date"
                        "            FROM retention_source_dates GROUP BY 1) s USING (source_key)"
                        " GROUP BY o.landing_key"
                        # a bundle goes when every object in it has expired
                        " HAVING bool_and(coalesce(b.converted_at IS NOT NULL"
                        "    AND (s.last_event_date < %(cutoff)s"
                        "         OR (s.source_key IS NULL AND {})), false))"
                        " ORDER BY 1"
                    ).format(BATCH_EXPIRED),
                    {"cutoff": cutoff},
                )
            ]
            batches = [
                r[0]
                for r in ops.execute(
                    sql.SQL("SELECT b.batch_id FROM ops.lake_batches b WHERE {} ORDER BY 1").format(
                        BATCH_EXPIRED
                    ),
                    {"cutoff": cutoff},
                )
            ]
    return landing, batches


def _retention_lake(settings: Settings, cutoff: date) -> dict[str, int]:
    s3 = s3_client(settings)
    bucket = settings.lake_bucket
    counts: dict[str, int] = {}
    try:
        landing, batches = _expired_landing_and_batches(settings, cutoff)
        # only objects still there count, so a rerun reports zero
        existing = set(_list_keys(s3, bucket, LANDING_PREFIX + "/"))
        counts[f"s3://{bucket}/{LANDING_PREFIX}"] = _delete_keys(
            s3, bucket, [k for k in landing if k in existing]
        )
        quarantine = set(_list_keys(s3, bucket, QUARANTINE_PREFIX + "/"))
        counts[f"s3://{bucket}/{QUARANTINE_PREFIX}"] = _delete_keys(
            s3,
            bucket,
            [k for b in batches if (k := f"{QUARANTINE_PREFIX}/batch-{b}.parquet") in quarantine],
        )
        for dataset_prefix in _list_prefixes(s3, bucket, PARQUET_PREFIX + "/"):
            keys: list[str] = []
            for partition in _list_prefixes(s3, bucket, dataset_prefix):
                label = partition.rstrip("/").rsplit("/", 1)[-1]
                if not label.startswith("event_date="):
                    continue
                try:
                    day = date.fromisoformat(label.removeprefix("event_date="))
                except ValueError:
                    continue
                if day < cutoff:
                    keys.extend(_list_keys(s3, bucket, partition))
            counts[f"s3://{bucket}/{dataset_prefix.rstrip('/')}"] = _delete_keys(s3, bucket, keys)
    finally:
        s3.close()
    for target, n in counts.items():
        log_event("governance.retention", target=target, cutoff=cutoff, deleted=n)
    return counts


def _mark_expired(settings: Settings, cutoff: date) -> dict[str, int]:
    """Mark the accounting of what retention deleted as expired, in one transaction.

    The rows stay: a layer's date is then not rebuilt, the freshness check still sees it
    published, and its history is kept; the rows-held figures (report funnel, data docs, run
    summary) leave it out. Returns the rows newly marked per table.
    """
    with connect(settings, OPS_DATABASE) as conn, conn.transaction():
        partitions = conn.execute(
            "UPDATE ops.layer_partitions SET expired_at = now()"
            " WHERE event_date < %(cutoff)s AND expired_at IS NULL",
            {"cutoff": cutoff},
        ).rowcount
        batches = conn.execute(
            sql.SQL(
                "UPDATE ops.lake_batches b SET expired_at = now() WHERE {} AND expired_at IS NULL"
            ).format(BATCH_EXPIRED),
            {"cutoff": cutoff},
        ).rowcount
    marked = {"ops.layer_partitions": partitions, "ops.lake_batches": batches}
    log_event("governance.retention_expired", cutoff=cutoff, marked=marked)
    return marked


def apply_retention(
    settings: Settings,
    days: int,
    *,
    policy_path: Path = DEFAULT_POLICY,
    today: date | None = None,
    run_id: str | None = None,
) -> dict[str, int]:
    """Delete events older than ``days`` days everywhere; returns deleted counts per target.

    Targets: lake landing objects (by manifest), quarantine files of fully expired batches,
    Parquet partitions ``parquet/<dataset>/event_date=<d>/``, and in every warehouse database
    each table with the policy's date column (``event_date``) plus the policy's point-level
    extras: a partitioned table's expired days are dropped whole, the rest deleted. The
    manifest rows stay (keys and sizes only), so expired objects are not extracted again,
    and the per-date accounting is marked expired, not deleted (see ``_mark_expired``).
    Database targets are row counts, lake targets object counts.
    """
    if days < 0:
        raise GovernanceError("retention days must be >= 0")
    policy = load_policy(policy_path)
    cutoff = (today or datetime.now(UTC).date()) - timedelta(days=days)
    run_id = run_id or f"retention-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    ensure_ops_schema(settings)
    with connect(settings, "postgres") as conn:
        databases = {
            r[0]
            for r in conn.execute(
                "SELECT datname FROM pg_catalog.pg_database WHERE datname = ANY(%s)",
                (list(WAREHOUSE_DATABASES),),
            )
        }
    counts: dict[str, int] = {}
    with audited(settings, run_id, "governance.retention") as audit:
        # the lake first: landing objects are dated by the raw rows they produced
        counts.update(_retention_lake(settings, cutoff))
        for database in WAREHOUSE_DATABASES:
            if database in databases:
                counts.update(_retention_database(settings, policy, database, cutoff))
        audit.rows_out = sum(v for k, v in counts.items() if not k.startswith("s3://"))
        audit.objects = sum(v for k, v in counts.items() if k.startswith("s3://"))
        expired = _mark_expired(settings, cutoff)
        audit.details = {
            "days": days,
            "cutoff": cutoff.isoformat(),
            "deleted": counts,
            "marked_expired": expired,
        }
    return counts
