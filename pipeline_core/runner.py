"""``make run``: stack up, seed the source, run main_dag once, print and write the summary.

Runs ``airflow dags test main_dag`` as a subprocess (a real DAG run, in process, no
scheduler needed), keeps Airflow's full log in a file and prints only our progress.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from pipeline_core import run_summary, stack
from pipeline_core.airflow_env import (
    airflow_environment,
    ensure_airflow_db,
    ensure_pseudonym_key,
)
from pipeline_core.audit import ensure_ops_schema
from pipeline_core.settings import Settings, load_settings
from pipeline_core.storage import s3_client

_PROGRESS_EVENTS = (
    "task.start",
    "task.end",
    "extract.listed",
    "extract.planned",
    "extract.landed",
    "convert.planned",
    "convert.progress",
    "convert.done",
)


def _say(text: str) -> None:
    print(text, flush=True)


def seed_source(settings: Settings, source_dir: str | None, *, vehicles: int, hours: float) -> str:
    """Fill the source bucket; returns a one-line description."""
    if source_dir:
        from data_lake.seed import upload_directory

        n = upload_directory(settings, Path(source_dir))
        return f"{n} files uploaded from {source_dir}"
    from data_lake.simulate import SimulationConfig, generate_feed, upload_feed, write_ground_truth

    feed = generate_feed(SimulationConfig(vehicles=vehicles, hours=hours))
    write_ground_truth(feed, settings.reports_dir / "ground_truth.json")
    n = upload_feed(
        feed, s3_client(settings), settings.source_bucket, prefix=settings.source_prefix
    )
    return (
        f"simulated feed ({vehicles} vehicles x {hours:g} h): {n} objects, "
        f"{feed.stats['lines']} lines; ground truth in "
        f"{settings.reports_dir / 'ground_truth.json'}"
    )


def _progress_line(line: str) -> str | None:
    for marker in _PROGRESS_EVENTS:
        if f'"event": "{marker}"' in line:
            try:
                record, _ = json.JSONDecoder().raw_decode(line[line.find('{"') :])
            except ValueError:
                return None
            event = record.pop("event")
            for noisy in ("run_id", "level", "logger", "timestamp"):
                record.pop(noisy, None)
            fields = ", ".join(f"{k}={v}" for k, v in record.items() if v is not None)
            return f"    {event:<17} {fields}"
    return None


def run_main_dag(settings: Settings, log_dir: Path) -> None:
    """``airflow dags test main_dag``; raises when the run fails, naming the log file."""
    # `airflow dags test` crashes after a successful run of a DAG with a deadline in
    # Airflow 3.3.2 (apache/airflow#73428); the overdue alert is for scheduled runs anyway.
    env = {**os.environ, **airflow_environment(settings), "FLEET_ALERT_DEADLINE_MINUTES": "0"}
    airflow = str(Path(sys.executable).parent / "airflow")
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"main_dag-{datetime.now(UTC):%Y%m%dT%H%M%S}.log"
    subprocess.run(  # nosec B603  # fixed argv, no shell
        [airflow, "db", "migrate"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with log_path.open("w") as log:
        proc = subprocess.Popen(  # nosec B603  # fixed argv, no shell
            [airflow, "dags", "test", "main_dag"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None  # nosec B101  # narrows the type
        failed_state = False
        for line in proc.stdout:
            log.write(line)
            if "state=failed" in line or "DagRun Finished" in line and "failed" in line:
                failed_state = True
            shown = _progress_line(line)
            if shown:
                _say(shown)
        rc = proc.wait()
    if rc != 0 or failed_state:
        raise SystemExit(f"main_dag failed (exit {rc}); full log: {log_path}")
    _say(f"    full Airflow log: {log_path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source-dir", default=os.environ.get("SOURCE_DIR") or None)
    parser.add_argument("--vehicles", type=int, default=int(os.environ.get("VEHICLES", "10")))
    parser.add_argument("--hours", type=float, default=float(os.environ.get("HOURS", "1")))
    args = parser.parse_args(argv)

    t0 = time.monotonic()
    started = datetime.now(UTC)
    settings = load_settings()
    _say("[1/4] stack")
    stack.up(settings)
    ensure_ops_schema(settings)
    ensure_airflow_db(settings)
    ensure_pseudonym_key(settings)
    _say("[2/4] source")
    _say("    " + seed_source(settings, args.source_dir, vehicles=args.vehicles, hours=args.hours))
    _say("[3/4] main_dag (airflow dags test)")
    run_main_dag(settings, settings.state_dir / "logs")
    _say("[4/4] summary")
    summary = run_summary.collect(settings, since=started)
    summary["run"] = {
        "started_at": started.isoformat(),
        "seconds": round(time.monotonic() - t0, 1),
        "source": args.source_dir or "simulated",
    }
    path = run_summary.write(summary, settings.reports_dir / "run_summary.json")
    src, lake = summary["source"], summary["lake"]
    _say(
        f"    source: {src['objects']} objects ({src['new_objects']} new this run), "
        f"{src['lines']} lines\n"
        f"    lake:   {lake['parquet_rows']} Parquet rows + {lake['quarantined_lines']} "
        f"quarantined lines over event dates {', '.join(lake['event_dates']) or '-'}"
    )
    ans = summary["answer"]
    if ans["avg_km_per_vehicle_period"] is not None:
        _say("    answer: average km per vehicle in an operating period")
        for p in ans["periods"]:
            _say(
                f"      {p['organization_id']:<14} {p['operating_period_id']:<20} "
                f"{p['period_start'][:16]} .. {p['period_finish'][11:16]}  "
                f"{p['vehicles']:>3} vehicles  {p['avg_km']:8.3f} km"
            )
        _say(
            f"      overall: {ans['avg_km_per_vehicle_period']:.3f} km over "
            f"{ans['vehicle_periods']} vehicle-periods"
        )
    dq = summary["data_quality"]
    warned = [c["check"] for c in dq["checks"] if c["status"] != "pass"]
    _say(f"    data quality: {dq['status']}" + (f" ({', '.join(warned)})" if warned else ""))
    _say(f"    summary written to {path}")
    _say(
        f"    reports: {settings.reports_dir / 'index.html'}"
        f" (data docs: {settings.reports_dir / 'data_docs.html'})"
    )
    _say(
        "    the stack keeps running: make -s dsn prints dwh_db's URI for psql or any client,"
        " make airflow opens the Airflow UI, make down stops it (data kept)"
    )
    _say(f"done in {summary['run']['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
