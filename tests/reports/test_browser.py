"""Every page in headless Chromium: no JavaScript error, every chart drawn, nothing fetched
from outside the site; a full-page screenshot of each in test-artifacts/screenshots/."""

from __future__ import annotations

import pytest

from dwh_pipelines.reporting.build import build_reports
from dwh_pipelines.reporting.site import NAV
from tests.reports.browser import REPO, Browser, serve
from tests.reports.test_build import CHARTS

pytestmark = pytest.mark.integration
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def site(filled, tmp_path_factory):
    out = tmp_path_factory.mktemp("browser-site")
    build_reports(filled, "reports-browser-1", out, publish=False)
    return out


@pytest.fixture(scope="module")
def browser(chromium):
    with Browser(chromium) as b:
        yield b


def test_every_page_renders_offline_without_errors(site, browser):
    problems = {}
    with serve(site) as base:
        for link in NAV:
            shot = SCREENSHOTS / link.file.replace(".html", ".png")
            r = browser.check_page(base + link.file, base, shot)
            expected = len(CHARTS[link.file])
            state = r.state
            issues = list(r.errors) + [f"off-site request {u}" for u in r.foreign_requests]
            issues += [f"failed request {u}" for u in r.failed_requests]
            if not (state["chart_divs"] == state["plots"] == state["rendered"] == expected):
                issues.append(f"charts: expected {expected} drawn, got {state}")
            if state["with_traces"] != expected:
                issues.append(f"charts without traces: {state}")
            if expected and state["plotly"] != "object":
                issues.append("plotly.js not loaded")
            if not (shot.exists() and shot.stat().st_size > 10_000):
                issues.append("no screenshot")
            if issues:
                problems[link.file] = issues
    assert problems == {}


def test_dictionary_filter_works(site, browser):
    with serve(site) as base, browser.page(base + "data_docs.html") as session:
        counts = browser.evaluate(
            "filterDictionary('location_lat'); JSON.stringify({shown: [...document"
            ".querySelectorAll('.dict-table')].filter(b => b.style.display !== 'none')"
            ".length, all: document.querySelectorAll('.dict-table').length})",
            session,
        )
    assert 0 < counts["shown"] < counts["all"]
