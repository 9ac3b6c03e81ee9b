"""Put a feed into the source bucket: a folder of real-format files, or the simulator's."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline_core.logs import log_event
from pipeline_core.settings import Settings
from pipeline_core.storage import s3_client

FEED_SUFFIXES = (".json", ".txt", ".ndjson", ".jsonl")


def upload_directory(settings: Settings, directory: Path, *, max_workers: int = 16) -> int:
    """Upload every feed file under ``directory`` (any names) to the source prefix.

    Keys keep the path relative to the folder, so re-uploading the same folder gives the
    same keys and ETags and nothing is ingested twice.
    """
    directory = directory.resolve()
    if not directory.is_dir():
        raise FileNotFoundError(f"SOURCE_DIR {directory} is not a folder")
    files = sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in FEED_SUFFIXES
    )
    if not files:
        raise FileNotFoundError(
            f"no feed files ({', '.join(FEED_SUFFIXES)}) found under {directory}"
        )
    s3 = s3_client(settings, max_pool_connections=max_workers * 2)

    def put(path: Path) -> None:
        key = settings.source_prefix + path.relative_to(directory).as_posix()
        s3.put_object(Bucket=settings.source_bucket, Key=key, Body=path.read_bytes())

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        list(pool.map(put, files))
    log_event("seed.uploaded", folder=str(directory), objects=len(files), to=settings.source_uri)
    return len(files)
