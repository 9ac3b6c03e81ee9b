"""Static checks of the docker compose stack (no Docker needed).

docker-compose.yaml, .env.example, docker/airflow/Dockerfile and the PostgreSQL init SQL
must agree with each other and with the env contract of ``pipeline_core.settings``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline_core.airflow_env import AIRFLOW_DB
from pipeline_core.settings import (
    PG_CONN_ID,
    S3_CONN_ID,
    WAREHOUSE_DATABASES,
    load_settings,
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "docker" / "airflow" / "Dockerfile"
CELERY_REQUIREMENTS = ROOT / "docker" / "airflow" / "requirements-celery.txt"
PG_INIT_DIR = ROOT / "docker" / "postgres" / "init"

EXPECTED_SERVICES = {
    "postgres",
    "seaweedfs",
    "redis",
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
ONE_SHOT = {"airflow-init", "seaweedfs-init"}
PG_CONN_ENV = f"AIRFLOW_CONN_{PG_CONN_ID.upper()}"
S3_CONN_ENV = f"AIRFLOW_CONN_{S3_CONN_ID.upper()}"
SHARED_SECRETS = (
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
)

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}; "$$" is a literal "$".
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
_ESCAPED_DOLLAR = "\0"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f".env.example line without '=': {line!r}"
        values[key.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose-style variable substitution (the subset the compose file uses)."""

    def substitute(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        value = env.get(name)
        unset = value is None if op in ("-", "?") else not value
        if op and unset:
            if op.endswith("?"):
                raise KeyError(f"{name}: {arg}")
            return arg
        return value or ""

    text = text.replace("$$", _ESCAPED_DOLLAR)
    return _VAR.sub(substitute, text).replace(_ESCAPED_DOLLAR, "$")


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def airflow_services(services: dict) -> dict[str, dict]:
    return {
        name: svc
        for name, svc in services.items()
        if str(svc.get("image", "")).startswith("fleet-airflow")
        or "docker/airflow/Dockerfile" in str((svc.get("build") or {}).get("dockerfile", ""))
    }


def compose_env_for_settings(services, env_example) -> dict[str, str]:
    """What a worker task sees: the worker's environment with .env.example substituted."""
    return {
        key: interpolate(value, env_example)
        for key, value in environment(services["airflow-worker"]).items()
    }


def test_compose_file_parses_and_has_every_service(compose, services):
    assert isinstance(compose, dict)
    assert EXPECTED_SERVICES <= set(services)


def test_no_minio_anywhere(services):
    for name, svc in services.items():
        assert "minio" not in str(svc.get("image", "")).lower(), name
        assert "minio" not in name.lower()


def test_images_are_pinned(services):
    for name, svc in services.items():
        image = str(svc.get("image", ""))
        assert image, f"{name} has no image"
        assert ":" in image and not image.endswith(":latest"), f"{name}: unpinned {image}"
    assert services["postgres"]["image"] == "postgres:17"
    assert services["seaweedfs"]["image"].startswith("chrislusf/seaweedfs:")


def test_every_airflow_service_uses_the_project_image_and_celery(services):
    airflow = airflow_services(services)
    expected = {n for n in EXPECTED_SERVICES if n.startswith("airflow-")} | {"seaweedfs-init"}
    assert expected <= set(airflow)
    for name, svc in airflow.items():
        assert svc["build"]["dockerfile"] == "docker/airflow/Dockerfile", name
        env = environment(svc)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False", name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
            "http://airflow-apiserver:8080/execution/"
        ), name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"), name
        assert "@redis:6379/" in env["AIRFLOW__CELERY__BROKER_URL"], name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith(f"@postgres:5432/{AIRFLOW_DB}")
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].endswith(f"@postgres:5432/{AIRFLOW_DB}")
        assert env["FLEET_REPORTS_DIR"] == "/opt/airflow/reports", name


def test_every_airflow_service_shares_the_same_secrets(services):
    airflow = airflow_services(services)
    for key in SHARED_SECRETS:
        refs = {name: environment(svc).get(key) for name, svc in airflow.items()}
        assert None not in refs.values(), f"{key} missing in {refs}"
        assert len(set(refs.values())) == 1, f"{key} differs between services: {refs}"
        (ref,) = set(refs.values())
        assert _VAR.search(ref), f"{key} must come from .env, not be written in the file"


def test_connection_env_names_and_json_match_settings(services, env_example):
    for name, svc in airflow_services(services).items():
        env = environment(svc)
        assert PG_CONN_ENV in env and S3_CONN_ENV in env, name

    env = compose_env_for_settings(services, env_example)
    pg = json.loads(env[PG_CONN_ENV])
    s3 = json.loads(env[S3_CONN_ENV])
    assert {"host", "port", "login", "password"} <= set(pg)
    assert pg["host"] == "postgres" and int(pg["port"]) == 5432
    assert pg["login"] == env_example["POSTGRES_USER"]
    assert pg["password"] == env_example["POSTGRES_PASSWORD"]
    assert s3["extra"]["endpoint_url"] == "http://seaweedfs:8333"
    assert s3["login"] == env_example["S3_ACCESS_KEY"]
    assert s3["password"] == env_example["S3_SECRET_KEY"]


def test_settings_resolve_the_compose_stack(services, env_example, monkeypatch):
    env = compose_env_for_settings(services, env_example)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    assert (settings.postgres.host, settings.postgres.port) == ("postgres", 5432)
    assert settings.postgres.user == env_example["POSTGRES_USER"]
    assert settings.s3.endpoint_url == "http://seaweedfs:8333"
    assert settings.s3.access_key == env_example["S3_ACCESS_KEY"]
    assert settings.source_bucket == "fleet-source"
    assert settings.lake_bucket == "fleet-lake"
    assert str(settings.reports_dir) == "/opt/airflow/reports"


def test_seaweedfs_runs_s3_with_the_keys_of_the_connection(services, env_example):
    sw = services["seaweedfs"]
    command = sw["command"] if isinstance(sw["command"], list) else sw["command"].split()
    assert command[0] == "server" and "-s3" in command
    assert "-s3.port=8333" in command
    assert any("8333" in str(probe) for probe in sw["healthcheck"]["test"])
    sw_env = {k: interpolate(v, env_example) for k, v in environment(sw).items()}
    assert sw_env["AWS_ACCESS_KEY_ID"] == env_example["S3_ACCESS_KEY"]
    assert sw_env["AWS_SECRET_ACCESS_KEY"] == env_example["S3_SECRET_KEY"]
    init = services["seaweedfs-init"]
    assert init["depends_on"]["seaweedfs"]["condition"] == "service_healthy"
    assert "create_buckets.py" in " ".join(init["command"])


def _init_sql() -> str:
    files = sorted(PG_INIT_DIR.glob("*.sql"))
    assert files, f"no init SQL in {PG_INIT_DIR}"
    return "\n".join(f.read_text() for f in files)


def test_postgres_init_creates_every_database(services):
    created = set(re.findall(r"CREATE DATABASE\s+\"?([A-Za-z_][A-Za-z0-9_]*)", _init_sql()))
    assert set(WAREHOUSE_DATABASES) | {AIRFLOW_DB} <= created
    mounts = [str(v) for v in services["postgres"]["volumes"]]
    assert any(
        m.startswith("./docker/postgres/init:/docker-entrypoint-initdb.d") for m in mounts
    ), mounts


def test_postgres_credentials_and_healthcheck_come_from_env(services):
    pg = services["postgres"]
    env = environment(pg)
    assert "${POSTGRES_USER" in env["POSTGRES_USER"]
    assert "${POSTGRES_PASSWORD" in env["POSTGRES_PASSWORD"]
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert any(str(v).startswith("postgres-data:") for v in pg["volumes"])


def test_every_compose_variable_is_in_env_example(env_example):
    text = COMPOSE_FILE.read_text().replace("$$", "")
    used = {match.group(1) for match in _VAR.finditer(text)}
    missing = sorted(used - set(env_example))
    assert not missing, f"referenced in docker-compose.yaml, not in .env.example: {missing}"
    unused = sorted(set(env_example) - used)
    assert not unused, f"in .env.example, not used by docker-compose.yaml: {unused}"
    # And the example really interpolates: nothing required is left unset.
    interpolate(COMPOSE_FILE.read_text(), env_example)


def test_env_example_has_usable_placeholders_only(env_example):
    from cryptography.fernet import Fernet

    Fernet(env_example["AIRFLOW_FERNET_KEY"].encode())  # a valid key, or Airflow fails
    for key, value in env_example.items():
        if re.search(r"PASSWORD|SECRET", key):
            assert "dev-only" in value, f"{key} should be an obvious placeholder"
        assert re.fullmatch(r"[A-Za-z0-9._:/=+-]*", value), f"{key}: not URL/JSON-safe"
    assert ".env" in ROOT.joinpath(".gitignore").read_text().split()


def test_no_secret_literals_in_compose(services):
    for name, svc in services.items():
        for key, value in environment(svc).items():
            if re.search(r"PASSWORD|SECRET|FERNET|_KEY", key) and not key.endswith("_FILE"):
                assert _VAR.search(value), f"{name}: {key} is written in the file"


def test_dependencies_wait_for_health_and_one_shots(services):
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: depends_on needs conditions"
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on unknown {dep}"
            condition = spec["condition"]
            if dep in ONE_SHOT:
                assert condition == "service_completed_successfully", (name, dep)
            else:
                assert condition == "service_healthy", (name, dep)
                assert "healthcheck" in services[dep], f"{dep} has no healthcheck"
    for name in ONE_SHOT:
        assert services[name].get("restart") == "no", name
    for name in EXPECTED_SERVICES - ONE_SHOT:
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
    runtime = {"airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker"}
    for name in runtime | {"airflow-apiserver"}:
        deps = services[name]["depends_on"]
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
    assert services["airflow-init"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_service_commands_and_healthchecks(services):
    assert services["airflow-scheduler"]["command"] == "scheduler"
    assert services["airflow-dag-processor"]["command"] == "dag-processor"
    assert services["airflow-triggerer"]["command"] == "triggerer"
    assert services["airflow-worker"]["command"] == "celery worker"
    api = services["airflow-apiserver"]
    assert "start-api-server.sh" in " ".join(api["command"])
    assert "/api/v2/monitor/health" in " ".join(api["healthcheck"]["test"])
    assert any(str(p).endswith(":8080") for p in api["ports"])
    env = environment(api)
    assert "${AIRFLOW_ADMIN_PASSWORD" in env["AIRFLOW_ADMIN_PASSWORD"]
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].endswith(":admin")


def test_worker_can_be_scaled(services):
    worker = services["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_airflow_mounts(services):
    for name in EXPECTED_SERVICES & set(airflow_services(services)):
        mounts = [str(v) for v in services[name]["volumes"]]
        assert "./dags:/opt/airflow/dags:ro" in mounts, name
        assert "./reports:/opt/airflow/reports" in mounts, name


def _dockerfile_instructions() -> list[str]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [line.strip() for line in joined.splitlines() if line.strip()]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            name = re.sub(r"\[.*\]", "", name)
            pins[re.sub(r"[-_.]+", "-", name.strip().lower())] = version.strip()
    return pins


def test_dockerfile_installs_requirements_with_constraints():
    lines = _dockerfile_instructions()
    installs = [line for line in lines if line.startswith("RUN") and "pip install" in line]
    assert any(
        re.search(r"-r\s+\S*requirements\.txt", line)
        and re.search(r"-c\s+\S*constraints\.txt", line)
        for line in installs
    ), installs
    assert any("requirements-celery.txt" in line and "constraints.txt" in line for line in installs)
    assert any("--no-deps" in line for line in installs), "project not installed --no-deps"
    airflow = _pins(ROOT / "requirements.txt")["apache-airflow"]
    base = next(line for line in lines if line.startswith("ARG AIRFLOW_BASE_IMAGE="))
    assert base.endswith(f"apache/airflow:{airflow}-python3.11"), base
    assert "USER airflow" in lines


def test_celery_pins_agree_with_constraints():
    celery = _pins(CELERY_REQUIREMENTS)
    assert "apache-airflow-providers-celery" in celery and "redis" in celery
    constraints = _pins(ROOT / "constraints.txt")
    clashes = {
        name: (version, constraints[name])
        for name, version in celery.items()
        if name in constraints and constraints[name] != version
    }
    assert not clashes, clashes


def test_dockerfile_copies_existing_paths_the_context_sends():
    ignore = DOCKERFILE.with_name("Dockerfile.dockerignore").read_text().splitlines()
    assert "*" in ignore, "the ignore file is expected to be an allow-list"
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    for line in _dockerfile_instructions():
        if not line.startswith("COPY"):
            continue
        sources = [w for w in line.split()[1:] if not w.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
            assert any(
                source == a or source.startswith(a + "/") for a in allowed
            ), f"{source} is not sent: add it to Dockerfile.dockerignore"


def _compose_cli() -> list[str] | None:
    candidates = [["docker", "compose"], ["docker-compose"]]
    for cmd in candidates:
        if not shutil.which(cmd[0]):
            continue
        try:
            out = subprocess.run([*cmd, "version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and re.search(r"v?2\.\d+", out.stdout):
            return cmd
    return None


def test_docker_compose_config_accepts_the_file():
    """Compose v2's own validation (schema, interpolation), where the CLI is installed."""
    cli = _compose_cli()
    if cli is None:
        pytest.skip("docker compose v2 CLI not installed")
    result = subprocess.run(
        [*cli, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
