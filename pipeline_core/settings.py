"""One place that says where things are, read from the environment.

Storage is swapped per environment by configuration, not code: the embedded
stack (pip-installed PostgreSQL + SeaweedFS on 127.0.0.1) is the default, and
``AIRFLOW_CONN_FLEET_POSTGRES`` / ``AIRFLOW_CONN_FLEET_S3`` (Airflow's JSON
connection format) point the same code at docker compose, AWS or a managed
PostgreSQL. The CLI and Airflow read the same variables.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parent.parent

PG_CONN_ID = "fleet_postgres"
S3_CONN_ID = "fleet_s3"

#: The four warehouse layers, in flow order.
WAREHOUSE_DATABASES = ("raw_db", "staging_db", "semantic_db", "dwh_db")
#: Operational metadata (audit, profiling, data-quality results, manifest) lives
#: in this schema of ``dwh_db`` so that reports read one database only.
OPS_DATABASE = "dwh_db"
OPS_SCHEMA = "ops"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={raw!r} is not an integer") from exc


def _env_int_or_all(name: str, default: int) -> int | None:
    """An integer setting where ``all`` means no limit (None)."""
    if os.environ.get(name, "").strip().lower() == "all":
        return None
    return _env_int(name, default)


def map_parallelism() -> int:
    """FLEET_MAP_PARALLELISM: mapped lake task instances (extract shards, convert batches) one
    run executes at once. Read on its own: Airflow needs it when it parses the DAG files."""
    value = _env_int("FLEET_MAP_PARALLELISM", 2)
    if value < 1:
        raise ValueError(f"FLEET_MAP_PARALLELISM must be 1 or more, not {value}")
    return value


@dataclass(frozen=True)
class PostgresTarget:
    """Server address; each layer picks its database by name."""

    host: str
    port: int
    user: str
    password: str = field(default="", repr=False)
    sslmode: str | None = None

    def uri(self, database: str) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        uri = f"postgresql://{auth}@{self.host}:{self.port}/{quote(database, safe='')}"
        if self.sslmode:
            uri += f"?sslmode={self.sslmode}"
        return uri

    def conninfo(self, database: str) -> dict[str, object]:
        info: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": database,
        }
        if self.password:
            info["password"] = self.password
        if self.sslmode:
            info["sslmode"] = self.sslmode
        return info


@dataclass(frozen=True)
class S3Target:
    endpoint_url: str | None
    access_key: str | None = field(repr=False, default=None)
    secret_key: str | None = field(repr=False, default=None)
    region: str = "us-east-1"


@dataclass(frozen=True)
class StackPorts:
    """Ports of the embedded stack; all overridable so tests can run beside ``make up``."""

    postgres: int
    s3: int
    seaweed_master: int
    seaweed_volume: int
    seaweed_filer: int


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    ports: StackPorts
    postgres: PostgresTarget
    s3: S3Target
    source_bucket: str
    source_prefix: str
    lake_bucket: str
    reports_dir: Path
    max_speed_kmh: float
    #: source objects stored together in one landing bundle (a day is 86,400 tiny objects)
    landing_bundle_objects: int = 2000
    #: source objects per mapped extract shard and convert batch (one Airflow task each)
    map_objects: int = 10_000
    #: database sessions a layer runs its heaviest statements in at once (one core each)
    db_sessions: int = 2
    #: hours before the newest landed object's hour that extract lists from (None: every
    #: key); the feed names objects by date and hour, so older keys are not listed again
    #: each run (main_dag's first run of a day looks ``list_sweep_days`` back)
    list_lookback_hours: int | None = 3
    #: days before the newest landed object's hour that each day's first main_dag run lists
    #: from, for deliveries later than the lookback (None: every key, a sweep that grows
    #: with the bucket)
    list_sweep_days: int | None = 7

    def __post_init__(self) -> None:
        if self.db_sessions < 1:
            raise ValueError(f"FLEET_DB_SESSIONS must be 1 or more, not {self.db_sessions}")
        if self.list_sweep_days is not None and self.list_sweep_days < 1:
            raise ValueError(
                f"FLEET_LIST_SWEEP_DAYS must be 1 or more, or all, not {self.list_sweep_days}"
            )
        if self.list_lookback_hours is not None and self.list_lookback_hours < 0:
            raise ValueError(
                "FLEET_LIST_LOOKBACK_HOURS must be 0 or more, or all,"
                f" not {self.list_lookback_hours}"
            )

    @property
    def source_uri(self) -> str:
        return f"s3://{self.source_bucket}/{self.source_prefix}"

    @property
    def lake_uri(self) -> str:
        return f"s3://{self.lake_bucket}/"


def _conn_json(conn_id: str) -> dict | None:
    """A connection from ``AIRFLOW_CONN_<ID>`` in Airflow's JSON format."""
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not raw:
        return None
    if not raw.lstrip().startswith("{"):
        raise ValueError(
            f"AIRFLOW_CONN_{conn_id.upper()} must use Airflow's JSON connection format"
        )
    return json.loads(raw)


def _extra(conn: dict) -> dict:
    extra = conn.get("extra") or {}
    return json.loads(extra) if isinstance(extra, str) else extra


def load_settings(connection_lookup: Callable[[str], dict | None] | None = None) -> Settings:
    """Resolve settings from the environment (embedded defaults when unset).

    ``connection_lookup`` lets Airflow tasks resolve connections through Airflow itself
    (metadata DB, secrets backends); the CLI reads ``AIRFLOW_CONN_*`` directly.
    """
    lookup = connection_lookup or _conn_json
    state_dir = Path(os.environ.get("FLEET_STATE_DIR", REPO_ROOT / ".local")).resolve()
    ports = StackPorts(
        postgres=_env_int("FLEET_PG_PORT", 54329),
        s3=_env_int("FLEET_S3_PORT", 8333),
        seaweed_master=_env_int("FLEET_SEAWEED_MASTER_PORT", 9333),
        seaweed_volume=_env_int("FLEET_SEAWEED_VOLUME_PORT", 8381),
        seaweed_filer=_env_int("FLEET_SEAWEED_FILER_PORT", 8888),
    )

    pg = lookup(PG_CONN_ID)
    if pg:
        postgres = PostgresTarget(
            host=pg.get("host") or "127.0.0.1",
            port=int(pg.get("port") or 5432),
            user=pg.get("login") or "postgres",
            password=pg.get("password") or "",
            sslmode=_extra(pg).get("sslmode"),
        )
    else:
        postgres = PostgresTarget(host="127.0.0.1", port=ports.postgres, user="postgres")

    s3c = lookup(S3_CONN_ID)
    if s3c:
        extra = _extra(s3c)
        s3 = S3Target(
            endpoint_url=extra.get("endpoint_url"),
            access_key=s3c.get("login") or extra.get("aws_access_key_id"),
            secret_key=s3c.get("password") or extra.get("aws_secret_access_key"),
            region=extra.get("region_name", "us-east-1"),
        )
    else:
        # The embedded SeaweedFS (loopback only) has one identity with this fixed key pair.
        s3 = S3Target(
            endpoint_url=f"http://127.0.0.1:{ports.s3}",
            access_key="embedded",
            secret_key="embedded",  # nosec B106  # embedded dev stack
        )

    return Settings(
        state_dir=state_dir,
        ports=ports,
        postgres=postgres,
        s3=s3,
        source_bucket=os.environ.get("FLEET_SOURCE_BUCKET", "fleet-source"),
        source_prefix=os.environ.get("FLEET_SOURCE_PREFIX", "data/"),
        lake_bucket=os.environ.get("FLEET_LAKE_BUCKET", "fleet-lake"),
        reports_dir=Path(os.environ.get("FLEET_REPORTS_DIR", REPO_ROOT / "reports")).resolve(),
        max_speed_kmh=float(os.environ.get("FLEET_MAX_SPEED_KMH", "150")),
        landing_bundle_objects=_env_int("FLEET_LANDING_BUNDLE_OBJECTS", 2000),
        map_objects=_env_int("FLEET_MAP_OBJECTS", 10_000),
        db_sessions=_env_int("FLEET_DB_SESSIONS", 2),
        list_lookback_hours=_env_int_or_all("FLEET_LIST_LOOKBACK_HOURS", 3),
        list_sweep_days=_env_int_or_all("FLEET_LIST_SWEEP_DAYS", 7),
    )


def embedded_connection_env(settings: Settings) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` values describing the embedded stack (for Airflow and tests)."""
    return {
        f"AIRFLOW_CONN_{PG_CONN_ID.upper()}": json.dumps(
            {
                "conn_type": "postgres",
                "host": "127.0.0.1",
                "port": settings.ports.postgres,
                "login": "postgres",
                "schema": "postgres",
            }
        ),
        f"AIRFLOW_CONN_{S3_CONN_ID.upper()}": json.dumps(
            {
                "conn_type": "aws",
                "login": "embedded",
                "password": "embedded",  # nosec B105  # embedded dev stack
                "extra": {
                    "endpoint_url": f"http://127.0.0.1:{settings.ports.s3}",
                    "region_name": "us-east-1",
                },
            }
        ),
    }
