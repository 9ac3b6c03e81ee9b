"""Data docs from the live catalog: complete descriptions, keys, sensitivity, lineage."""

from __future__ import annotations

import re

import pytest

from dwh_pipelines.datadocs import lineage
from dwh_pipelines.datadocs.build import build_data_docs, diagrams
from dwh_pipelines.datadocs.catalog import (
    Column,
    Relation,
    _inherit_view_descriptions,
    read_catalog,
)
from pipeline_core.settings import WAREHOUSE_DATABASES
from tests.helpers import query

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def catalog(filled):
    return read_catalog(filled)


@pytest.fixture(scope="module")
def docs(filled, tmp_path_factory):
    html_dir = tmp_path_factory.mktemp("docs-html")
    md_dir = tmp_path_factory.mktemp("docs-md")
    build_data_docs(filled, html_dir, md_dir)
    return html_dir, md_dir


def test_every_column_has_a_description(catalog):
    """Every table and column of the four databases carries a COMMENT ON (views may inherit
    the comment of the column they pass on): the dictionary has no blank description."""
    assert catalog.undocumented() == []


def test_dictionary_covers_every_column_of_the_four_databases(filled, catalog, docs):
    text = (docs[1] / "data_dictionary.md").read_text()
    for db in WAREHOUSE_DATABASES:
        expected = query(
            filled,
            db,
            """SELECT count(*) FROM information_schema.columns c
                 JOIN information_schema.tables t USING (table_catalog, table_schema, table_name)
                WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema')
                  -- a date partition is documented by its parent table
                  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class k
                                   JOIN pg_catalog.pg_namespace n ON n.oid = k.relnamespace
                                  WHERE n.nspname = c.table_schema AND k.relname = c.table_name
                                    AND k.relispartition)""",
        )[0][0]
        assert sum(len(r.columns) for r in catalog.relations if r.database == db) == expected
        assert f"## {db}" in text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == sum(len(r.columns) for r in catalog.relations)
    assert "#### `ops.task_runs` (table; owner `" in text  # the ops schema is included


def test_sensitivity_owner_and_descriptions(catalog):
    rel = catalog.relation("raw_db", "raw.vehicle_events")
    cols = {c.name: c for c in rel.columns}
    assert cols["location_lat"].sensitivity == "personal_location"
    assert cols["vehicle_id"].sensitivity == "pseudonymous_identifier"
    assert cols["event"].sensitivity == "public"
    assert cols["event_at"].description.startswith("Event time (UTC)")
    assert rel.owner and rel.description
    view = catalog.relation("dwh_db", "analytics.kpi_client_daily")
    km = next(c for c in view.columns if c.name == "km")
    assert km.description and km.description_source in (
        "comment",
        "inherited from marts.kpi_client_daily.km",
    )


def test_a_view_column_without_comment_inherits_the_one_it_passes_on():
    rel = Relation("dwh_db", "analytics", "v", "view", "postgres", "A view.")
    rel.columns = [
        Column("km", "double precision", True, None, "public"),
        Column("both", "text", True, None, "public"),
    ]
    _inherit_view_descriptions(
        [rel],
        [
            ("analytics", "v", "marts", "m", "km", "Km in the month."),
            ("analytics", "v", "marts", "a", "both", "One meaning."),
            ("analytics", "v", "marts", "b", "both", "Another meaning."),
        ],
    )
    km, both = rel.columns
    assert (km.description, km.description_source) == (
        "Km in the month.",
        "inherited from marts.m.km",
    )
    assert both.description is None  # ambiguous: two sources disagree


def test_erd_is_derived_from_foreign_keys(filled, catalog, docs):
    semantic, warehouse = diagrams(catalog)
    fks = query(
        filled,
        "semantic_db",
        """SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
            WHERE c.contype = 'f' AND n.nspname = 'prod'""",
    )[0][0]
    assert len([r for r in semantic.relationships if r.kind == "foreign key"]) == fks > 0
    md = (docs[1] / "erd.md").read_text()
    assert "```mermaid\nerDiagram" in md
    assert 'dim_organization ||--o{ dim_vehicle : "organization_key"' in md
    assert "fact_vehicle_period_distance {" in md and "uuid period_key PK, FK" in md
    # marts have no foreign keys: linked logically, one client row per mart row at most
    assert 'dim_organization ||..o| no_updates_per_client : "organization_id (logical)"' in md
    html = (docs[0] / "data_docs.html").read_text()
    assert html.count("<svg") == 2 and "star.fact_vehicle_period_distance" in html


def test_lineage_mapping_matches_the_catalog(catalog, docs):
    for node in lineage.NODES.values():
        if node.is_table:
            assert catalog.relation(node.database, node.qualified), node.id
    marts = {f"dwh_db:{r.qualified}" for r in catalog.relations if r.schema == "marts"}
    assert set(lineage.MARTS) == marts
    for mart in lineage.MARTS:
        assert lineage.upstream(mart)[0].id == "feed"  # every mart traces back to the feed
    md = (docs[1] / "lineage.md").read_text()
    assert "```mermaid\nflowchart LR" in md
    html = (docs[0] / "data_docs.html").read_text()
    assert re.search(r"[\d,]+ lines read", html)  # rows held per layer


def test_markdown_is_reproducible(filled, docs, tmp_path):
    build_data_docs(filled, tmp_path, tmp_path)
    for name in ("data_dictionary.md", "erd.md", "lineage.md"):
        assert (tmp_path / name).read_text() == (docs[1] / name).read_text(), name
