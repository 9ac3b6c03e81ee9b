"""Test helpers that act on the real servers (never mocks)."""

from __future__ import annotations

import json
from pathlib import Path

from psycopg import sql

from pipeline_core.db import connect
from pipeline_core.settings import WAREHOUSE_DATABASES, Settings
from pipeline_core.stack import ensure_buckets, ensure_databases
from pipeline_core.storage import s3_client


def reset_platform(settings: Settings) -> None:
    """Drop the warehouse databases and empty the buckets: a platform with no data."""
    with connect(settings, "postgres", autocommit=True) as conn:
        for db in WAREHOUSE_DATABASES:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db))
            )
    ensure_databases(settings)
    s3 = s3_client(settings)
    ensure_buckets(settings)
    for bucket in (settings.source_bucket, settings.lake_bucket):
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def put_source(settings: Settings, objects: dict[str, bytes]) -> None:
    s3 = s3_client(settings)
    for name, body in objects.items():
        s3.put_object(Bucket=settings.source_bucket, Key=settings.source_prefix + name, Body=body)


def query(settings: Settings, database: str, text: str, params=None) -> list[tuple]:
    with connect(settings, database) as conn:
        return conn.execute(text, params).fetchall()


def line(event: str, on: str, at: str, data: dict, org: str = "org-1") -> bytes:
    return json.dumps(
        {"event": event, "on": on, "at": at, "data": data, "organization_id": org}
    ).encode()


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"\n".join(lines) + b"\n")


DWH_TABLES = [
    "marts.avg_distance_per_operating_period",
    "marts.avg_distance_overall",
    "marts.no_updates_per_client",
    "marts.latest_updates_on_top1_client",
    "marts.kpi_client_daily",
    "marts.kpi_client_monthly",
    "star.fact_vehicle_period_distance",
    "star.fact_client_daily_activity",
    "star.dim_operating_period",
    "star.dim_vehicle",
]


def snapshot(settings: Settings, tables: list[str] = DWH_TABLES, database: str = "dwh_db") -> dict:
    """Every row of each table, sorted, floats rounded: equal snapshots mean equal tables."""
    out = {}
    with connect(settings, database) as conn:
        for name in tables:
            schema, table = name.split(".")
            rows = conn.execute(
                sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, table))
            ).fetchall()
            out[name] = sorted(
                tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in rows
            )
    return out


def run_pipeline(settings: Settings, run_id: str, dates=()) -> dict:
    """Every stage of main_dag in order, without Airflow; returns each stage's summary."""
    from data_lake.convert import convert
    from data_lake.extract import extract
    from dwh_pipelines.dwh import build_dwh
    from dwh_pipelines.raw import load_raw
    from dwh_pipelines.semantic import build_semantic
    from dwh_pipelines.staging import build_staging

    return {
        "extract": extract(settings, run_id).as_dict(),
        "convert": convert(settings, run_id).as_dict(),
        "raw": load_raw(settings, run_id, dates=dates).as_dict(),
        "staging": build_staging(settings, run_id, dates=dates).as_dict(),
        "semantic": build_semantic(settings, run_id, dates=dates).as_dict(),
        "dwh": build_dwh(settings, run_id, dates=dates).as_dict(),
    }


def seed_simulated(settings: Settings, **config):
    """Upload a simulated feed (faults on) to the source bucket; returns the feed."""
    from data_lake.simulate import SimulationConfig, generate_feed, upload_feed

    feed = generate_feed(SimulationConfig(**config))
    upload_feed(feed, s3_client(settings), settings.source_bucket, prefix=settings.source_prefix)
    return feed
