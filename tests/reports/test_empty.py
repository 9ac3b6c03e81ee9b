"""On a platform that never ran, every page says so instead of drawing a broken chart."""

from __future__ import annotations

import pytest

from dwh_pipelines.reporting.build import build_reports
from dwh_pipelines.reporting.site import NAV

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def empty_site(stack, tmp_path_factory):
    from tests.helpers import reset_platform

    reset_platform(stack)
    out = tmp_path_factory.mktemp("empty-site")
    build_reports(stack, "reports-empty-1", out)
    return out


def test_every_page_says_there_is_no_data(empty_site):
    for link in NAV:
        html = (empty_site / link.file).read_text(encoding="utf-8")
        assert "plotly-graph-div" not in html, link.file
        assert "Plotly.newPlot" not in html, link.file
        if link.file not in ("index.html", "data_docs.html"):
            assert 'class="empty"' in html and "No data yet" in html, link.file
    index = (empty_site / "index.html").read_text(encoding="utf-8")
    assert "no pipeline run recorded yet" in index
    assert "no distance computed yet" in index


def test_empty_pages_render_in_the_browser(empty_site, chromium):
    from tests.reports.browser import Browser, serve

    with serve(empty_site) as base, Browser(chromium) as browser:
        for link in NAV:
            result = browser.check_page(base + link.file, base, None)
            assert result.errors == [], (link.file, result.errors)
            assert result.failed_requests == [] and result.foreign_requests == [], link.file
            assert result.state["plots"] == 0 and result.state["body_text"] > 100, link.file
