"""Fixtures for the report tests: a platform filled once per module, and Chromium."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.helpers import reset_platform, run_pipeline, seed_simulated

RUN_ID = "reports-run-1"
#: a small feed that crosses midnight at a month's end: two days and two months of KPIs
FEED = {
    "vehicles": 6,
    "hours": 0.25,
    "organizations": 3,
    "seed": 7,
    "start": datetime(2019, 6, 30, 23, 52, tzinfo=UTC),
}


@pytest.fixture(scope="module")
def filled(stack):
    """Every layer filled from a small simulated feed with faults (reset, once per module)."""
    reset_platform(stack)
    seed_simulated(stack, **FEED)
    run_pipeline(stack, RUN_ID)
    return stack


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium's path; installs it when missing, skips only if that fails."""
    from tests.reports.browser import ensure_chromium

    binary, why = ensure_chromium()
    if binary is None:
        print(f"browser test skipped: {why}")
        pytest.skip(f"Chromium is not available and could not be installed: {why}")
    return binary
