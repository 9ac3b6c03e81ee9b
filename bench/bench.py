"""``make bench``: every stage of main_dag on a real-shaped day, against the machine's limits.

Runs on a private embedded stack (free ports, temporary state) so it never touches
``make run``'s data. Measured in the same run on the same data: (a) a bare concurrent
download of the objects and (b) a bare COPY of the same lines into one table; the ratio
``total_s / (baseline_download_s + baseline_copy_s)`` says how close the pipeline is to
the machine's own limits. The day's last 15 minutes (900 objects) are held back and
loaded by a second, incremental run, timed next to the full one. Each task runs in its own
fresh process, and the mapped lake tasks (extract shards, convert batches)
FLEET_MAP_PARALLELISM at once, as main_dag runs them.

    python bench/bench.py [--size 1.0] [--vehicles 100] [--out bench/results.json]
    (SIZE other than 1 writes bench/results-size-<SIZE>.json)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from data_lake.convert import convert_batch, plan_convert  # noqa: E402
from data_lake.extract import extract_shard, list_source, plan_extract  # noqa: E402
from data_lake.simulate import SimulationConfig, iter_feed, upload_objects  # noqa: E402
from dwh_pipelines.dwh import build_dwh  # noqa: E402
from dwh_pipelines.raw import load_raw  # noqa: E402
from dwh_pipelines.semantic import build_semantic  # noqa: E402
from dwh_pipelines.staging import build_staging  # noqa: E402
from pipeline_core.db import connect  # noqa: E402
from pipeline_core.settings import map_parallelism  # noqa: E402
from pipeline_core.stack import running_stack  # noqa: E402
from pipeline_core.storage import s3_client  # noqa: E402


def _plan_extract(settings, run_id: str) -> list[int]:
    return plan_extract(settings, run_id).shards


#: main_dag's stages in order. A mapped stage is a plan task, then one task instance per
#: shard or batch it returns, FLEET_MAP_PARALLELISM at once (pipeline_core.airflow_tasks).
STAGES = {
    "lake_extract": (_plan_extract, extract_shard),
    "lake_convert": (plan_convert, convert_batch),
    "raw_load": (load_raw, None),
    "staging_build": (build_staging, None),
    "semantic_build": (build_semantic, None),
    "dwh_build": (build_dwh, None),
}


def _task_in_child(step, *args) -> tuple[float, float, float, object]:
    """Run one task in this (child) process: (start, end, peak RSS in MB of the process,
    result); start and end on the wall clock all processes share."""
    start = time.time()
    result = step(*args)
    return start, time.time(), _high_water_mb(), result


def _high_water_mb() -> float:
    """This process's own peak RSS (VmHWM; ru_maxrss would include the parent before exec)."""
    for row in Path("/proc/self/status").read_text().splitlines():
        if row.startswith("VmHWM:"):
            return int(row.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_stage(name: str, settings, run_id: str, parallelism: int) -> tuple[float, float]:
    """One stage as Airflow runs it, each task in a fresh process (its peak RSS its own):
    (seconds from the first task's start to the last one's end, peak RSS in MB). Process
    start-up is not counted, as the earlier single-process stages did not count it."""
    context = multiprocessing.get_context("spawn")
    step, mapped = STAGES[name]
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        start, end, peak, items = pool.submit(_task_in_child, step, settings, run_id).result()
    if mapped is None or not items:
        return end - start, peak
    plan_s = end - start
    # a fresh process per task instance, as Airflow runs them: each peak is the task's own
    with ProcessPoolExecutor(
        max_workers=parallelism, mp_context=context, max_tasks_per_child=1
    ) as pool:
        done = list(pool.map(partial(_task_in_child, mapped, settings, run_id), items))
    first, last = min(d[0] for d in done), max(d[1] for d in done)
    return plan_s + last - first, max([peak] + [d[2] for d in done])


def run_stages(settings, run_id: str) -> tuple[dict, float, float]:
    """Every stage of main_dag in order; mapped tasks run FLEET_MAP_PARALLELISM at once."""
    stages, peak, total = {}, 0.0, 0.0
    parallelism = map_parallelism()
    for name in STAGES:
        seconds, rss_mb = _run_stage(name, settings, run_id, parallelism)
        stages[name] = round(seconds, 2)
        total += seconds
        peak = max(peak, rss_mb)
        print(f"  {name:<15} {seconds:8.2f} s   peak RSS {rss_mb:7.0f} MB", flush=True)
    return stages, round(total, 2), peak


def _get_all(settings, keys: list[str], sink=None) -> tuple[float, float]:
    """GET every key with 32 threads in this process (bodies dropped, or written to ``sink``):
    (start, end) on the wall clock all processes share."""
    s3 = s3_client(settings, max_pool_connections=64)

    def get(key: str) -> bytes:
        return s3.get_object(Bucket=settings.source_bucket, Key=key)["Body"].read()

    start = time.time()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for body in pool.map(get, keys):
            if sink is not None:
                sink.write(body)
    return start, time.time()


def baseline_download(settings, keys: list[str], processes: int) -> float:
    """Bare concurrent GET of every object, bodies dropped, in ``processes`` processes of 32
    threads each: the mapped extract runs that many processes, and one Python process alone
    cannot keep the server busy."""
    context = multiprocessing.get_context("spawn")
    parts = [keys[i::processes] for i in range(processes)]
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        spans = list(pool.map(_get_all, [settings] * processes, parts))
    return max(end for _, end in spans) - min(start for start, _ in spans)


def baseline_copy(settings, lines_file: Path) -> float:
    """Bare COPY of the same lines into one text column, no parsing, streamed from a file."""
    with connect(settings, "dwh_db") as conn:
        conn.execute("DROP TABLE IF EXISTS public.bench_copy")
        conn.execute("CREATE UNLOGGED TABLE public.bench_copy (line text)")
        t0 = time.perf_counter()
        with (
            conn.cursor().copy(
                "COPY public.bench_copy FROM STDIN (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')"
            ) as copy,
            lines_file.open("rb") as handle,
        ):
            while chunk := handle.read(8 << 20):
                copy.write(chunk)
        conn.commit()
        elapsed = time.perf_counter() - t0
        conn.execute("DROP TABLE public.bench_copy")
        conn.commit()
    return elapsed


#: objects of the feed's last 15 minutes (one a second), loaded by the incremental run
TAIL_OBJECTS = 900


def hold_back(
    items: Iterable[tuple[str, bytes]], n: int, held: list[tuple[str, bytes]]
) -> Iterator[tuple[str, bytes]]:
    """Yield all but the last ``n`` items, which are left in ``held``."""
    buffer: deque[tuple[str, bytes]] = deque()
    for item in items:
        buffer.append(item)
        if len(buffer) > n:
            yield buffer.popleft()
    held.extend(buffer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=float, default=float(os.environ.get("SIZE", "1")))
    parser.add_argument("--vehicles", type=int, default=100)
    parser.add_argument(
        "--out", type=Path, help="default: bench/results.json, results-size-<SIZE>.json if not 1"
    )
    args = parser.parse_args(argv)
    # the default day's results are not overwritten by a smaller run
    suffix = "" if args.size == 1 else f"-size-{args.size:g}"
    args.out = args.out or REPO / "bench" / f"results{suffix}.json"
    hours = 24 * args.size
    config = SimulationConfig(vehicles=args.vehicles, hours=hours, organizations=5, seed=2019)

    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        with running_stack(Path(tmp) / "state") as settings:
            settings = replace(settings, reports_dir=Path(tmp) / "reports")
            s3 = s3_client(settings, max_pool_connections=64)
            print(f"feed: {args.vehicles} vehicles x {hours:g} h (SIZE={args.size:g})", flush=True)
            t0 = time.perf_counter()
            stream = iter_feed(config)
            tail: list[tuple[str, bytes]] = []  # the day's last 15 minutes, for the incremental
            objects = upload_objects(
                hold_back(stream, TAIL_OBJECTS, tail),
                s3,
                settings.source_bucket,
                settings.source_prefix,
                32,
            )
            tail_events = sum(data.count(b"\n") for _, data in tail)
            events = stream.stats["lines"] - tail_events
            print(
                f"  uploaded {objects} objects, {events} lines in "
                f"{time.perf_counter() - t0:.0f} s (not timed)",
                flush=True,
            )

            print("baselines (same data, same servers):", flush=True)
            keys = [o.key for o in list_source(s3, settings.source_bucket, settings.source_prefix)]
            download_s = baseline_download(settings, keys, map_parallelism())
            print(f"  download        {download_s:8.2f} s", flush=True)
            lines_file = Path(tmp) / "lines.ndjson"
            with lines_file.open("wb") as sink:
                _get_all(settings, keys, sink)  # the same bytes again, not timed
            copy_s = baseline_copy(settings, lines_file)
            lines_file.unlink()
            print(f"  copy            {copy_s:8.2f} s", flush=True)

            print("pipeline:", flush=True)
            stages, total, peak = run_stages(settings, "bench-full")

            print("incremental (the day's last 15 minutes):", flush=True)
            upload_objects(tail, s3, settings.source_bucket, settings.source_prefix, 32)
            inc_stages, inc_total, inc_peak = run_stages(settings, "bench-incremental")

    results = {
        "size": args.size,
        "vehicles": args.vehicles,
        "hours": hours,
        "events": events,
        "objects": objects,
        "total_s": total,
        "stages": stages,
        "events_per_s": round(events / total, 1),
        "objects_per_s": round(objects / total, 1),
        "peak_rss_mb": round(peak, 1),
        "baseline_download_s": round(download_s, 2),
        "baseline_copy_s": round(copy_s, 2),
        "ratio": round(total / (download_s + copy_s), 2),
        "time_per_event_us": round(total / events * 1e6, 2),
        "incremental": {
            "objects": len(tail),
            "events": tail_events,
            "total_s": inc_total,
            "stages": inc_stages,
            "peak_rss_mb": round(inc_peak, 1),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"\n{'stage':<16}{'seconds':>9}{'events/s':>12}{'objects/s':>11}\n"
        + "\n".join(
            f"{k:<16}{v:>9.2f}{events / v if v else 0:>12.0f}{objects / v if v else 0:>11.0f}"
            for k, v in stages.items()
        )
        + f"\n{'total':<16}{total:>9.2f}{events / total:>12.0f}{objects / total:>11.0f}"
        + f"\nbaselines: download {download_s:.2f} s + copy {copy_s:.2f} s; "
        f"ratio {results['ratio']}; peak RSS {results['peak_rss_mb']} MB; "
        f"incremental 15 min: {inc_total:.2f} s\nresults: {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
