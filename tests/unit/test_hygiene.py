"""Style gate for CI: black and ruff (with Airflow's AIR rules) pass on the whole repository.

``make lint`` runs these plus bandit and pip-audit through pre-commit; this fast test keeps
style regressions out of ``make test`` as well. Fix failures with ``make format``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = BIN / tool
    if not exe.exists():
        pytest.fail(f"{exe} is missing: run `make install`")
    return subprocess.run(
        [str(exe), *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )


def test_black_check():
    proc = _run("black", "--check", "--quiet", ".")
    assert proc.returncode == 0, f"black would reformat (run `make format`):\n{proc.stderr}"


def test_ruff_check():
    proc = _run("ruff", "check", "--no-cache", "--output-format", "concise", ".")
    assert proc.returncode == 0, f"ruff check failed:\n{proc.stdout}{proc.stderr}"


def test_ruff_selects_the_airflow_rules():
    """The AIR rules (Airflow 3 migration, DAG hygiene) stay switched on."""
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "AIR" in config["tool"]["ruff"]["lint"]["select"]
