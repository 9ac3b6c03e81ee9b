"""The embedded stack against real servers: PostgreSQL 18 and SeaweedFS S3 on free ports.

One stack per module (a cold start costs ~5 s, a stop ~16 s because weed's filer drains its
gRPC streams for 15 s), so the tests below run in order and share it.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from botocore.exceptions import ClientError

from pipeline_core import stack
from pipeline_core.settings import WAREHOUSE_DATABASES, S3Target
from pipeline_core.stack import GRPC_OFFSET, StackError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _all_ports(settings) -> list[int]:
    p = settings.ports
    weed = [p.s3, p.seaweed_master, p.seaweed_volume, p.seaweed_filer]
    return [p.postgres, *weed, *(port + GRPC_OFFSET for port in weed)]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def embedded(private_dir_factory):
    state = private_dir_factory() / "state"
    with stack.running_stack(state) as settings:
        yield settings
    assert [port for port in _all_ports(settings) if _listening(port)] == []


def test_up_creates_databases_and_buckets(embedded) -> None:
    with psycopg.connect(stack.dsn("postgres", embedded)) as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        assert conn.execute("SHOW server_version_num").fetchone()[0].startswith("18")
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
    assert set(WAREHOUSE_DATABASES) <= names
    client = stack.s3_client(embedded)
    for bucket in (embedded.source_bucket, embedded.lake_bucket):
        client.head_bucket(Bucket=bucket)  # raises when missing
    state = Path(embedded.state_dir)
    assert (state / "postgres" / "data" / "PG_VERSION").read_text().strip() == "18"
    assert (state / "postgres" / "postgres.log").exists()
    assert (state / "seaweedfs" / "weed.log").exists()


def test_up_again_is_a_noop(embedded, capsys: pytest.CaptureFixture[str]) -> None:
    before = stack.status(embedded)
    started = time.monotonic()
    stack.up(embedded)
    assert time.monotonic() - started < 5
    after = stack.status(embedded)
    assert before["postgres"]["pid"] == after["postgres"]["pid"] is not None
    assert before["s3"]["pid"] == after["s3"]["pid"] is not None
    assert after["postgres"]["running"] and after["s3"]["running"]
    assert capsys.readouterr().out.count("already running") == 2


def test_s3_round_trip_with_pagination(embedded) -> None:
    client = stack.s3_client(embedded)
    bucket = "stack-test"
    client.create_bucket(Bucket=bucket)
    keys = [f"many/{i:05d}.txt" for i in range(1005)]
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=k.encode()), keys))

    first = client.list_objects_v2(Bucket=bucket, Prefix="many/")
    assert first["KeyCount"] == 1000 and first["IsTruncated"]
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="many/")
    listed = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
    assert listed == keys

    client.copy_object(Bucket=bucket, Key="copy.txt", CopySource={"Bucket": bucket, "Key": keys[7]})
    assert client.get_object(Bucket=bucket, Key="copy.txt")["Body"].read() == keys[7].encode()
    client.delete_object(Bucket=bucket, Key="copy.txt")
    with pytest.raises(client.exceptions.NoSuchKey):
        client.get_object(Bucket=bucket, Key="copy.txt")

    # One identity on loopback: another key pair is refused.
    other_keys = S3Target(embedded.s3.endpoint_url, "someone", "else", "us-east-1")
    other = stack.s3_client(dataclasses.replace(embedded, s3=other_keys))
    with pytest.raises(ClientError):
        other.get_object(Bucket=bucket, Key=keys[0])


def test_dsn_and_status_while_up(embedded) -> None:
    uri = stack.dsn("raw_db", embedded)
    assert uri == f"postgresql://postgres@127.0.0.1:{embedded.ports.postgres}/raw_db"
    with psycopg.connect(uri) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "raw_db"
    info = stack.status(embedded)
    assert info["postgres"]["port"] == embedded.ports.postgres
    assert info["s3"]["port"] == embedded.ports.s3


@pytest.mark.parametrize("service", ["postgres", "s3"])
def test_busy_port_names_the_port(private_dir_factory, service: str) -> None:
    settings = stack.settings_for(private_dir_factory() / "state", stack._pick_ports(None))
    port = settings.ports.postgres if service == "postgres" else settings.ports.s3
    env = "FLEET_PG_PORT" if service == "postgres" else "FLEET_S3_PORT"
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(StackError) as err:
            stack.up(settings, timeout_s=20)
    message = str(err.value)
    assert f"port {port} ({service})" in message and env in message
    info = stack.status(settings)
    assert info["postgres"]["pid"] is None and info["s3"]["pid"] is None
    assert not any(_listening(p) for p in _all_ports(settings))


def test_data_persists_across_down_up(embedded) -> None:
    with psycopg.connect(stack.dsn("dwh_db", embedded), autocommit=True) as conn:
        conn.execute("CREATE TABLE keepme (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO keepme VALUES (1, 'survives restarts')")
    client = stack.s3_client(embedded)
    client.put_object(Bucket=embedded.lake_bucket, Key="keep/me.txt", Body=b"still here")

    stack.down(embedded)
    assert [port for port in _all_ports(embedded) if _listening(port)] == []
    info = stack.status(embedded)
    assert not info["postgres"]["running"] and not info["s3"]["running"]
    with pytest.raises(StackError, match=str(embedded.ports.postgres)):
        stack.dsn("dwh_db", embedded)
    stack.down(embedded)  # harmless when nothing runs

    stack.up(embedded)
    with psycopg.connect(stack.dsn("dwh_db", embedded)) as conn:
        assert conn.execute("SELECT note FROM keepme WHERE id = 1").fetchone() == (
            "survives restarts",
        )
    body = stack.s3_client(embedded).get_object(Bucket=embedded.lake_bucket, Key="keep/me.txt")
    assert body["Body"].read() == b"still here"


def test_pipeline_sessions_work_in_utc_whatever_the_database_default(embedded) -> None:
    """A managed server may default to local time; the pipeline's day keys and partition
    bounds must not follow it."""
    from pipeline_core.db import connect

    with psycopg.connect(stack.dsn("postgres", embedded), autocommit=True) as admin:
        admin.execute("ALTER DATABASE raw_db SET timezone = 'Europe/Berlin'")
        try:
            with psycopg.connect(stack.dsn("raw_db", embedded)) as plain:
                assert plain.execute("SHOW TimeZone").fetchone()[0] == "Europe/Berlin"
            with connect(embedded, "raw_db") as conn:
                assert conn.execute("SHOW TimeZone").fetchone()[0] == "UTC"
                day = "SELECT '2019-06-01 23:30+00'::timestamptz::date::text"
                assert conn.execute(day).fetchone()[0] == "2019-06-01"
        finally:
            admin.execute("ALTER DATABASE raw_db RESET timezone")
