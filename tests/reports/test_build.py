"""The report pages, built from a platform filled by the whole pipeline."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dwh_pipelines.reporting import build as build_module
from dwh_pipelines.reporting.build import build_reports
from dwh_pipelines.reporting.pages import SQL_DIR, Reader
from dwh_pipelines.reporting.site import NAV
from pipeline_core.db import connect
from pipeline_core.storage import s3_client
from tests.helpers import query
from tests.reports.conftest import RUN_ID

pytestmark = pytest.mark.integration

PAGES = [link.file for link in NAV]
#: chart ids each page must draw on a filled platform
CHARTS = {
    "index.html": [],
    "distance.html": ["fig-periods", "fig-distance-hist", "fig-distance-box"],
    "clients.html": ["fig-clients"],
    "latest_path.html": ["fig-path-berlin", "fig-path-close"],
    "kpis.html": ["fig-kpi-daily", "fig-kpi-monthly"],
    "quality.html": ["fig-dq-checks", "fig-funnel", "fig-profiles", "fig-runs"],
    "data_docs.html": [],
}


@pytest.fixture(scope="module")
def site(filled, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    paths = build_reports(filled, "reports-build-1", out)
    return out, paths


def _html(site, name: str) -> str:
    return (site[0] / name).read_text(encoding="utf-8")


def test_every_page_and_asset_is_written(site):
    out, paths = site
    assert paths[0] == out / "index.html"
    assert {p.name for p in paths} == set(PAGES) | {"plotly.min.js", "report.css"}
    assert (out / "plotly.min.js").stat().st_size > 1_000_000


def test_pages_are_self_contained(site):
    for name in PAGES:
        html = _html(site, name)
        srcs = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
        assert all(not s.startswith(("http:", "https:", "//")) for s in srcs), (name, srcs)
        assert "cdn." not in html, name
        if CHARTS[name]:
            assert '<script src="plotly.min.js"' in html, name
            assert html.count("Plotly.newPlot") == len(CHARTS[name]), name


def test_every_chart_is_drawn_with_a_note(site):
    for name, charts in CHARTS.items():
        html = _html(site, name)
        for div_id in charts:
            assert f'id="{div_id}"' in html, (name, div_id)
        assert 'class="empty"' not in html, name
        if charts:
            assert html.count('class="note"') >= len(charts), name


def test_portal_shows_the_headline_figures(filled, site):
    html = _html(site, "index.html")
    avg, pairs = query(
        filled,
        "dwh_db",
        "SELECT avg_km_per_vehicle_period, vehicle_periods FROM marts.avg_distance_overall",
    )[0]
    lines = query(filled, "dwh_db", "SELECT sum(input_lines) FROM ops.lake_batches")[0][0]
    assert f"{avg:,.2f}" in html and f"over {pairs:,} vehicle-periods" in html
    assert f"{lines:,}" in html
    assert re.search(r">(PASS|WARN|FAIL)<", html)
    assert f"run {RUN_ID}" in html  # the last run that reached the dwh layer
    for link in NAV[1:]:
        assert f'href="{link.file}"' in html


def test_aggregates_computed_in_the_warehouse_agree(filled):
    """The distribution the distance page draws is the one the BI answer averages."""
    with connect(filled, "dwh_db") as conn:
        reader = Reader(conn)
        stats = reader.frame("distance_stats")
        hist = reader.frame("distance_histogram", {"width": 0.5})
        funnel = reader.frame("funnel").iloc[0]
        monthly = reader.frame("kpi_monthly", {"clients": 8, "months": 13})
        ((avg, pairs),) = conn.execute(
            "SELECT avg_km_per_vehicle_period, vehicle_periods FROM marts.avg_distance_overall"
        ).fetchall()
    overall = stats[stats["organization_id"].isna()].iloc[0]
    assert overall["pairs"] == pairs == hist["pairs"].sum()
    assert overall["mean_km"] == pytest.approx(avg)
    assert stats["pairs"].sum() == 2 * pairs  # the per-client rows add up to the total row
    assert funnel["source_lines"] == funnel["lake_rows"] + funnel["quarantined"]
    assert funnel["staging_in"] == (
        funnel["staged_rows"] + funnel["duplicates_removed"] + funnel["rejected"]
    )
    # the feed crosses into July: the second month has a month-over-month change
    assert monthly["month"].nunique() == 2
    assert monthly.loc[monthly["month"] == monthly["month"].max(), "km_mom_change"].notna().all()


def test_report_sql_reads_only_marts_star_and_ops():
    for path in SQL_DIR.glob("*.sql"):
        text = re.sub(r"--[^\n]*", "", path.read_text())
        schemas = set(re.findall(r"\b(?:FROM|JOIN)\s+([a-z_]+)\.", text, flags=re.I))
        assert schemas <= {"marts", "star", "ops"}, (path.name, schemas)


def test_build_connects_to_dwh_db_only(filled, tmp_path, monkeypatch):
    import pipeline_core.audit
    import pipeline_core.run_summary

    seen: list[str] = []
    for module in (build_module, pipeline_core.run_summary, pipeline_core.audit):
        original = module.connect

        def spy(settings, database, *args, _original=original, **kwargs):
            seen.append(database)
            return _original(settings, database, *args, **kwargs)

        monkeypatch.setattr(module, "connect", spy)
    build_reports(filled, "reports-build-spy", tmp_path, publish=False, data_docs=False)
    assert seen and set(seen) == {"dwh_db"}


def test_copied_to_the_lake_and_audited(filled, site):
    day = datetime.now(UTC).date().isoformat()
    s3 = s3_client(filled)
    listed = s3.list_objects_v2(Bucket=filled.lake_bucket, Prefix=f"reports/{day}/")
    keys = {o["Key"].rsplit("/", 1)[1] for o in listed.get("Contents", [])}
    assert set(PAGES) | {"plotly.min.js", "report.css"} <= keys
    head = s3.head_object(Bucket=filled.lake_bucket, Key=f"reports/{day}/index.html")
    assert head["ContentType"].startswith("text/html")
    status = query(
        filled,
        "dwh_db",
        "SELECT status, rows_out FROM ops.task_runs WHERE run_id = %s AND stage = 'reports.build'",
        ("reports-build-1",),
    )
    assert status == [("success", len(PAGES) + 2)]


def test_clis(filled, tmp_path, capsys):
    from dwh_pipelines.datadocs.__main__ import main as docs_main
    from dwh_pipelines.reporting.__main__ import main as reports_main

    assert reports_main(["--out-dir", str(tmp_path / "r"), "--no-publish"]) == 0
    assert (tmp_path / "r" / "index.html").exists()
    assert "index.html" in capsys.readouterr().out
    docs_args = ["--html-dir", str(tmp_path / "d"), "--markdown-dir", str(tmp_path / "md")]
    assert docs_main(docs_args) == 0
    assert {p.name for p in (tmp_path / "md").iterdir()} == {
        "data_dictionary.md",
        "erd.md",
        "lineage.md",
    }
    assert Path(tmp_path / "d" / "data_docs.html").exists()
