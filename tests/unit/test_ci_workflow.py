"""The GitHub Actions workflow runs the same commands as a developer: make test and make lint."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _runs(job: dict) -> list[str]:
    return [step["run"].strip() for step in job["steps"] if "run" in step]


def _uses(job: dict) -> list[str]:
    return [step["uses"] for step in job["steps"] if "uses" in step]


def test_triggers_on_push_and_pull_request():
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1)
    wf = _workflow()
    triggers = wf.get("on", wf.get(True))
    assert {"push", "pull_request"} <= set(triggers)


def test_test_job_runs_make_test_on_python_311_and_keeps_artifacts():
    job = _workflow()["jobs"]["test"]
    assert job["runs-on"] == "ubuntu-latest"
    assert "make test" in _runs(job)
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert str(setup["with"]["python-version"]) == "3.11"
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-art"))
    assert upload["with"]["path"].rstrip("/") == "test-artifacts"
    assert upload.get("if") == "always()", "artifacts are most useful when the tests fail"


def test_lint_job_runs_make_lint():
    job = _workflow()["jobs"]["lint"]
    assert "make lint" in _runs(job)
    assert any(u.startswith("actions/setup-python") for u in _uses(job))
