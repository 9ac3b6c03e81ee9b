"""The policy file: valid as shipped, refused when it would break a rule, and the source of
the README table and of the masked columns (via the classification registry)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dwh_pipelines.governance import DEFAULT_POLICY, PolicyError, load_policy
from dwh_pipelines.governance.__main__ import main as cli
from dwh_pipelines.governance.report import access_table
from pipeline_core import classification
from pipeline_core.classification import Sensitivity


@pytest.fixture
def raw_policy() -> dict:
    return yaml.safe_load(DEFAULT_POLICY.read_text())


def _write(tmp_path: Path, policy: dict) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def test_shipped_policy_matches_the_issue():
    p = load_policy()
    assert p.pipeline_role == "fleet_pipeline"
    assert set(p.roles) == {
        f"{tier}_data_{family}"
        for tier in ("junior", "senior")
        for family in ("analyst", "scientist", "engineer")
    }
    analysts = {"junior_data_analyst", "senior_data_analyst"}
    scientists = {"junior_data_scientist", "senior_data_scientist"}
    engineers = {"junior_data_engineer", "senior_data_engineer"}
    connect = {db: rule.connect for db, rule in p.databases.items()}
    assert connect == {
        "raw_db": engineers,
        "staging_db": scientists | engineers,
        "semantic_db": scientists | engineers,
        "dwh_db": analysts | scientists | engineers,
    }
    writers = {
        (db, s.name): s.access.write for db, r in p.databases.items() for s in r.schemas.values()
    }
    assert {k for k, w in writers.items() if w} == {
        ("raw_db", "raw"),
        ("staging_db", "dev"),
        ("semantic_db", "dev"),
    }
    assert all(w == {"senior_data_engineer"} for w in writers.values() if w)
    assert {r for r, spec in p.roles.items() if spec.masked} == {
        "junior_data_analyst",
        "junior_data_scientist",
        "junior_data_engineer",
    }
    assert p.rls.restricted == analysts and p.rls.all_rows == scientists | engineers
    gov = p.databases["dwh_db"].schemas["governance"]
    assert gov.access_for("vehicle_pseudonyms").readers == engineers
    assert gov.access_for("analyst_organizations").write == {"senior_data_engineer"}


def test_masked_columns_follow_the_classification(monkeypatch):
    p = load_policy()
    columns = ["vehicle_id", "location_lat", "location_lng", "location_at", "payload", "km"]
    assert p.masked_columns(columns) == ["location_lat", "location_lng", "location_at"]
    # registering a column is all it takes for juniors to lose it (no second list to edit)
    monkeypatch.setitem(
        classification.REGISTRY, "payload", (Sensitivity.PERSONAL_LOCATION, "raw row as JSON")
    )
    assert "payload" in p.masked_columns(columns)


@pytest.mark.parametrize(
    "mutate,message",
    [
        (
            lambda p: p["databases"]["staging_db"]["schemas"]["prod"].update(
                write=["senior_data_engineer"]
            ),
            "written by the pipeline only",
        ),
        (
            lambda p: p["databases"]["dwh_db"]["schemas"]["marts"].update(
                write=["senior_data_engineer"]
            ),
            "written by the pipeline only",
        ),
        (
            lambda p: p["databases"]["raw_db"]["schemas"]["raw"].update(
                write=["junior_data_engineer"]
            ),
            "masked role junior_data_engineer cannot write",
        ),
        (
            lambda p: p["databases"]["staging_db"]["schemas"]["dev"].update(read=["engineers"]),
            "scratch",
        ),
        (
            lambda p: p["databases"]["raw_db"]["schemas"]["raw"].update(read=["everyone"]),
            "may not connect",
        ),
        (
            lambda p: p["databases"]["raw_db"].update(connect=["everyone"]),
            "may only connect to dwh_db",
        ),
        (
            lambda p: p["databases"]["dwh_db"]["schemas"]["ops"].update(read=["nobody"]),
            "unknown role or audience",
        ),
        (lambda p: p["audiences"].update(loop=["loop2"], loop2=["loop"]), "cycle"),
        (lambda p: p.update(pipeline_role="junior_data_analyst"), "pipeline_role"),
        (
            lambda p: p["pseudonymisation"].update(column="organization_id"),
            "not classified as a pseudonymous identifier",
        ),
        (lambda p: p["roles"].update({"Bad-Name": {}}), "plain lower-case SQL name"),
        (lambda p: p["databases"].update(airflow_db={}), "not a warehouse database"),
        (lambda p: p["retention"].update(days=-3), "retention.days"),
    ],
)
def test_invalid_policies_are_refused(tmp_path, raw_policy, mutate, message):
    mutate(raw_policy)
    with pytest.raises(PolicyError, match=message):
        load_policy(_write(tmp_path, raw_policy))


def test_access_table_is_generated_from_the_policy(capsys):
    assert cli(["table"]) == 0
    table = capsys.readouterr().out
    assert table == access_table(load_policy()) + "\n"
    header, rule, *body = table.splitlines()
    assert header.startswith("| Role | Database |")
    rows = [line for line in body if line.startswith("| `")]
    # one row per (role, database it may connect to): 2 + 2*3 + 2*4
    assert len(rows) == 16
    assert "`junior_data_analyst` | `dwh_db`" in table
    assert "`junior_data_analyst` | `raw_db`" not in table


def test_governance_dag_imports_and_is_manual():
    from airflow.dag_processing.dagbag import DagBag

    path = Path(__file__).resolve().parents[2] / "dags" / "governance_dag.py"
    bag = DagBag(dag_folder=str(path))
    assert bag.import_errors == {}
    dag = bag.dags["governance_dag"]
    assert dag.schedule is None and dag.task_ids == ["governance_apply"]
    assert all(t.retries >= 1 for t in dag.tasks)
